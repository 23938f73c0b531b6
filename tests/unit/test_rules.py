"""The offline rules in pulumi_fwcluster.rules: each returns None for a valid value or the reason it is not."""

from __future__ import annotations

import pytest

from pulumi_fwcluster import rules

ACCOUNT = "123456789012"


@pytest.mark.parametrize("value", ["a", "acme", "my-cluster-1", "a" * 63])
def test_resource_id_valid(value: str) -> None:
    assert rules.resource_id(value) is None


@pytest.mark.parametrize("value", ["", "1abc", "-abc", "abc-", "Abc", "a_b", "a" * 64])
def test_resource_id_invalid(value: str) -> None:
    reason = rules.resource_id(value)
    assert reason is not None and "1-63 characters" in reason


def test_display_name() -> None:
    assert rules.display_name("x" * 63) is None
    assert rules.display_name("x" * 64) == "must be fewer than 64 characters (got 64)"


@pytest.mark.parametrize(
    ("value", "ok"),
    [(ACCOUNT, True), ("12345678901", False), ("1234567890123", False), ("12345678901a", False), ("", False)],
)
def test_aws_account_id(value: str, ok: bool) -> None:
    assert (rules.aws_account_id(value) is None) is ok


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("us-east-1", True),
        ("ap-southeast-7", True),
        ("us-gov-west-1", True),
        ("eusc-de-east-1", True),
        ("cn-northwest-1", True),
        ("us-isob-east-1", True),
        ("us-east", False),
        ("US-EAST-1", False),
        ("useast1", False),
        ("", False),
    ],
)
def test_region_names_follow_botocores_partitions(value: str, ok: bool) -> None:
    assert (rules.region(value) is None) is ok


@pytest.mark.parametrize("value", ["my-bucket", "a.b.c", "abc", "a" * 63, "fireworks-byoc-123456789012"])
def test_bucket_name_valid(value: str) -> None:
    assert rules.bucket_name(value) is None


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ("arn:aws:s3:::bucket", "ARN or URL"),
        ("s3://bucket", "ARN or URL"),
        ("ab", "3-63 characters"),
        ("a" * 64, "3-63 characters"),
        ("My-Bucket", "3-63 characters"),
        ("-bucket", "3-63 characters"),
        ("a..b", "two adjacent periods"),
        ("192.168.1.1", "IP address"),
        ("xn--bucket", "prefix 'xn--'"),
        ("sthree-bucket", "prefix 'sthree-'"),
        ("bucket-s3alias", "suffix '-s3alias'"),
        ("bucket--ol-s3", "suffix '--ol-s3'"),
    ],
)
def test_bucket_name_invalid(value: str, needle: str) -> None:
    reason = rules.bucket_name(value)
    assert reason is not None and needle in reason


@pytest.mark.parametrize(
    "value",
    [
        f"arn:aws:iam::{ACCOUNT}:role/FireworksManagerRole",
        f"arn:aws:iam::{ACCOUNT}:role/fireworks/inference",
        f"arn:aws:iam::{ACCOUNT}:role/a/b/c/role+=,.@-_",
        f"arn:aws-cn:iam::{ACCOUNT}:role/x",
        f"arn:aws-us-gov:iam::{ACCOUNT}:role/x",
    ],
)
def test_role_arn_valid(value: str) -> None:
    assert rules.role_arn(value, ACCOUNT) is None


@pytest.mark.parametrize(
    "value",
    [
        "FireworksManagerRole",
        f"arn:aws:iam::{ACCOUNT}:user/someone",
        f"arn:aws:iam::{ACCOUNT}:role/",
        "arn:aws:iam::1234:role/x",
        f"arn:aws:sts::{ACCOUNT}:assumed-role/x/y",
        f"arn:aws:iam::{ACCOUNT}:role/{'x' * 65}",
    ],
)
def test_role_arn_invalid(value: str) -> None:
    reason = rules.role_arn(value, None)
    assert reason is not None and "not an IAM role ARN" in reason


def test_role_arn_account() -> None:
    arn = "arn:aws:iam::999999999999:role/x"
    assert rules.role_arn(arn, ACCOUNT) == f"role is in account 999999999999, but eksCluster.awsAccountId is {ACCOUNT}"
    assert rules.role_arn(arn, None) is None
    assert rules.role_arn(arn, "not-an-account") is None  # the account's own rule reports that


def test_parse_role_arn_round_trips() -> None:
    arn = f"arn:aws:iam::{ACCOUNT}:role/fireworks/inference"
    parsed = rules.parse_role_arn(arn)
    assert parsed == rules.RoleArn("aws", ACCOUNT, "/fireworks/", "inference")
    assert str(parsed) == arn
    assert rules.parse_role_arn(f"arn:aws:iam::{ACCOUNT}:role/x") == rules.RoleArn("aws", ACCOUNT, "/", "x")
    assert rules.parse_role_arn("nope") is None


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("byoc", True),
        ("my-provider-1", True),
        ("a" * 32, True),
        ("abc", False),
        ("a" * 33, False),
        ("Upper", False),
        ("a_b1", False),
        ("gcp-mine", False),
    ],
)
def test_workload_identity_pool_provider_id(value: str, ok: bool) -> None:
    assert (rules.workload_identity_pool_provider_id(value) is None) is ok


def test_gcp_prefix_reason() -> None:
    assert rules.workload_identity_pool_provider_id("gcp-mine") == "'gcp-mine' uses the reserved prefix 'gcp-'"


def test_default_manager_role() -> None:
    assert rules.default_manager_role("aws", ACCOUNT) == f"arn:aws:iam::{ACCOUNT}:role/FireworksManagerRole"
    assert rules.default_manager_role("aws-cn", ACCOUNT).startswith("arn:aws-cn:")
    assert rules.role_arn(rules.default_manager_role("aws", ACCOUNT), ACCOUNT) is None
