"""check and diff as tables: every invalid input names its property, every change is classified by the table."""

from __future__ import annotations

from typing import Any

import pytest
from pulumi.output import Unknown

from pulumi_fwcluster import spec
from pulumi_fwcluster.provider import ClusterProvider
from pulumi_fwcluster.testing.emulator import EmulatorHandle
from tests.fwconst import ACCOUNT, API_KEY, AWS_ACCOUNT

ROLE = f"arn:aws:iam::{AWS_ACCOUNT}:role/fireworks/inference-prod"


def unknown() -> Any:
    """A value not known yet during preview, as the SDK hands it to check and diff."""
    return Unknown()  # type: ignore[no-untyped-call]


def valid() -> dict[str, Any]:
    return {
        "clusterId": "prod-use1",
        "displayName": "Prod",
        "eksCluster": {
            "awsAccountId": AWS_ACCOUNT,
            "region": "us-east-1",
            "clusterName": "prod",
            "storageBucketName": "fw-prod-models",
            "fireworksManagerRole": f"arn:aws:iam::{AWS_ACCOUNT}:role/FireworksManagerRole",
            "inferenceRole": ROLE,
            "workloadIdentityPoolProviderId": "acme-prod",
        },
    }


def with_eks(**changes: Any) -> dict[str, Any]:
    props = valid()
    props["eksCluster"].update(changes)
    return props


INVALID: list[tuple[str, dict[str, Any], str, str]] = [
    ("clusterId uppercase", dict(valid(), clusterId="Prod"), "clusterId", "resource id"),
    ("clusterId starts with digit", dict(valid(), clusterId="1prod"), "clusterId", "starting with a letter"),
    ("clusterId ends with dash", dict(valid(), clusterId="prod-"), "clusterId", "not ending"),
    ("clusterId too long", dict(valid(), clusterId="a" * 64), "clusterId", "1-63"),
    ("clusterId missing", {k: v for k, v in valid().items() if k != "clusterId"}, "clusterId", "required"),
    ("displayName 64 chars", dict(valid(), displayName="x" * 64), "displayName", "fewer than 64"),
    ("neither group", {"clusterId": "prod"}, "eksCluster", "one of eksCluster or fakeCluster"),
    ("both groups", dict(valid(), fakeCluster={"projectId": "p"}), "fakeCluster", "not both"),
    ("account missing", with_eks(awsAccountId=None), "eksCluster.awsAccountId", "required"),
    ("account short", with_eks(awsAccountId="12345"), "eksCluster.awsAccountId", "12 digits"),
    ("region missing", with_eks(region=""), "eksCluster.region", "required"),
    ("region malformed", with_eks(region="US East"), "eksCluster.region", "region"),
    ("role not an ARN", with_eks(inferenceRole="inference"), "eksCluster.inferenceRole", "not an IAM role ARN"),
    (
        "role is a user",
        with_eks(metricWriterRole=f"arn:aws:iam::{AWS_ACCOUNT}:user/bob"),
        "eksCluster.metricWriterRole",
        "not an IAM role ARN",
    ),
    (
        "role other account",
        with_eks(loadBalancerControllerRole="arn:aws:iam::999999999999:role/lb"),
        "eksCluster.loadBalancerControllerRole",
        "account 999999999999",
    ),
    (
        "bucket ARN",
        with_eks(storageBucketName="arn:aws:s3:::bucket"),
        "eksCluster.storageBucketName",
        "bare bucket name",
    ),
    ("bucket uppercase", with_eks(storageBucketName="Models"), "eksCluster.storageBucketName", "not a valid S3 bucket"),
    ("bucket ip", with_eks(storageBucketName="192.168.1.1"), "eksCluster.storageBucketName", "IP address"),
    ("bucket double dot", with_eks(storageBucketName="a..b"), "eksCluster.storageBucketName", "adjacent"),
    (
        "wipp reserved",
        with_eks(workloadIdentityPoolProviderId="gcp-prod"),
        "eksCluster.workloadIdentityPoolProviderId",
        "reserved",
    ),
    ("wipp short", with_eks(workloadIdentityPoolProviderId="abc"), "eksCluster.workloadIdentityPoolProviderId", "4-32"),
    ("unknown top key", dict(valid(), region="us-east-1"), "region", "unknown property"),
    ("unknown nested key", with_eks(roleArn="x"), "eksCluster.roleArn", "unknown property"),
    ("wrong type scalar", dict(valid(), displayName=42.0), "displayName", "must be a string"),
    ("wrong type group", dict(valid(), eksCluster="prod"), "eksCluster", "must be an object"),
    ("wrong nested type", with_eks(region=["us-east-1"]), "eksCluster.region", "must be a string"),
    ("bad accountId", dict(valid(), accountId="Acme Corp"), "accountId", "resource id"),
]


@pytest.fixture
def provider(fireworks: EmulatorHandle, monkeypatch: pytest.MonkeyPatch) -> ClusterProvider:
    monkeypatch.setenv("FIREWORKS_API_KEY", API_KEY)
    monkeypatch.setenv("FIREWORKS_ACCOUNT_ID", ACCOUNT)
    monkeypatch.setenv("FIREWORKS_BASE_URL", fireworks.base_url)
    monkeypatch.setenv("FWCLUSTER_PREFLIGHT", "off")
    return ClusterProvider()


@pytest.mark.parametrize(("case", "props", "path", "reason"), INVALID, ids=[c[0] for c in INVALID])
def test_every_invalid_input_names_its_property_without_any_request(
    provider: ClusterProvider, fireworks: EmulatorHandle, case: str, props: dict[str, Any], path: str, reason: str
) -> None:
    result = provider.check({}, props)
    failures = {(f.property, f.reason) for f in result.failures}
    assert any(p == path and reason in r for p, r in failures), failures
    assert fireworks.backend.requests == []


def test_valid_input_passes_and_is_normalised(provider: ClusterProvider, fireworks: EmulatorHandle) -> None:
    props = with_eks(metricWriterRole="", loadBalancerControllerRole=None)
    props["__provider"] = "serialized"
    result = provider.check({}, props)
    assert result.failures == []
    assert result.inputs["accountId"] == ACCOUNT  # filled from settings, so state is explicit
    assert "metricWriterRole" not in result.inputs["eksCluster"]
    assert "loadBalancerControllerRole" not in result.inputs["eksCluster"]
    assert "__provider" not in result.inputs
    assert fireworks.backend.requests == []


def test_missing_account_everywhere_is_a_failure(fireworks: EmulatorHandle, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FIREWORKS_ACCOUNT_ID", raising=False)
    monkeypatch.setenv("FWCLUSTER_PREFLIGHT", "off")
    result = ClusterProvider().check({}, valid())
    assert [(f.property, "fireworks:accountId" in f.reason) for f in result.failures] == [("accountId", True)]


def test_unknowns_are_kept_and_never_validated(provider: ClusterProvider) -> None:
    props = with_eks(inferenceRole=unknown(), storageBucketName=unknown())
    props["clusterId"] = unknown()
    result = provider.check({}, props)
    assert result.failures == []
    assert isinstance(result.inputs["eksCluster"]["inferenceRole"], Unknown)
    assert isinstance(result.inputs["clusterId"], Unknown)
    whole = provider.check({}, dict(valid(), eksCluster=unknown()))
    assert whole.failures == [] and isinstance(whole.inputs["eksCluster"], Unknown)


def outputs(props: dict[str, Any]) -> dict[str, Any]:
    inputs, _ = spec.normalize(dict(props, accountId=ACCOUNT))
    return dict(inputs, name=f"accounts/{ACCOUNT}/clusters/{inputs['clusterId']}", state="READY")


DIFFS: list[tuple[str, dict[str, Any], tuple[str, ...] | None, tuple[str, ...], bool]] = [
    ("unchanged", valid(), (), (), False),
    ("displayName", dict(valid(), displayName="New"), ("displayName",), (), False),
    ("displayName removed", {k: v for k, v in valid().items() if k != "displayName"}, ("displayName",), (), False),
    ("region", with_eks(region="us-west-2"), ("eksCluster.region",), ("eksCluster.region",), True),
    ("role", with_eks(inferenceRole=ROLE + "2"), ("eksCluster.inferenceRole",), ("eksCluster.inferenceRole",), True),
    ("role added", with_eks(metricWriterRole=ROLE), ("eksCluster.metricWriterRole",), ("eksCluster.metricWriterRole",),
     True),
    ("manager role spelled out as the default", with_eks(fireworksManagerRole=None), (), (), False),
    ("adoptExisting alone", dict(valid(), adoptExisting=True), ("adoptExisting",), (), False),
    ("clusterId", dict(valid(), clusterId="prod-use2"), ("clusterId",), ("clusterId",), False),
    ("accountId", dict(valid(), accountId="other"), ("accountId",), ("accountId",), False),
    ("unknown role", with_eks(inferenceRole=unknown()), ("eksCluster.inferenceRole",), ("eksCluster.inferenceRole",),
     True),
    ("unknown group", dict(valid(), eksCluster=unknown()), ("eksCluster",), ("eksCluster",), True),
    ("unknown clusterId", dict(valid(), clusterId=unknown()), ("clusterId",), ("clusterId",), True),
    ("to fake", dict({k: v for k, v in valid().items() if k != "eksCluster"}, fakeCluster={"projectId": "p"}),
     None, ("eksCluster", "fakeCluster"), True),
]  # fmt: skip


@pytest.mark.parametrize(("case", "news", "changed", "replaces", "dbr"), DIFFS, ids=[d[0] for d in DIFFS])
def test_diff_is_classified_by_the_table(
    provider: ClusterProvider,
    case: str,
    news: dict[str, Any],
    changed: tuple[str, ...] | None,
    replaces: tuple[str, ...],
    dbr: bool,
) -> None:
    olds = outputs(valid())
    olds["__provider"] = "old-provider"
    news = dict(news)
    news.setdefault("accountId", ACCOUNT)
    news["__provider"] = "new-provider"  # a different __provider alone is no change
    changes = spec.diff(olds, news, lambda v: isinstance(v, Unknown))
    if changed is not None:
        assert changes.changed == changed
    assert changes.replaces == replaces
    result = provider.diff(olds["name"], olds, news)
    if changed == ():
        assert result.changes is False
    else:
        assert result.changes is True
        assert result.replaces == list(replaces)
        assert result.delete_before_replace is dbr
