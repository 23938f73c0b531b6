"""Offline phase, the spec adapter and the report: no AWS."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from pulumi_fwcluster.preflight import Finding, PreflightReport, run_preflight, to_spec
from pulumi_fwcluster.preflight.offline import check_offline, check_region

ROLE = "arn:aws:iam::123456789012:role/FireworksManagerRole"


@pytest.mark.parametrize(
    ("region", "status", "needle"),
    [
        ("us-east-1", "ok", "partition aws"),
        ("cn-north-1", "ok", "partition aws-cn"),
        ("us-gov-west-1", "ok", "aws-us-gov"),
        (None, "fail", "required"),
        ("", "fail", "required"),
        ("us-eats-1", "fail", "did you mean 'us-east-1'"),
        ("eu-wset-1", "fail", "did you mean 'eu-west-1'"),
        ("useast1", "fail", "did you mean 'us-east-1'"),
        ("US-EAST-1", "fail", "not an AWS region"),
        ("us-east-9", "warn", "newer than botocore"),
        ("mx-newplace-1", "warn", "newer than botocore"),
        ("zz-newplace-1", "fail", "not an AWS region"),
    ],
)
def test_region(region: str | None, status: str, needle: str) -> None:
    finding = check_region(region)
    assert (finding.field, finding.status) == ("eksCluster.region", status)
    assert needle in finding.message


def test_offline_field_rules() -> None:
    findings = check_offline(
        to_spec(
            {
                "awsAccountId": "1234",
                "region": "us-east-1",
                "storageBucketName": "arn:aws:s3:::bucket",
                "inferenceRole": "not-an-arn",
                "metricWriterRole": "arn:aws-cn:iam::123456789012:role/x",
                "workloadIdentityPoolProviderId": "gcp-reserved",
            }
        )
    )
    by_field = {f.field: f for f in findings}
    assert by_field["eksCluster.awsAccountId"].status == "fail"
    assert "ARN or URL" in by_field["eksCluster.storageBucketName"].message
    assert "not an IAM role ARN" in by_field["eksCluster.inferenceRole"].message
    assert "partition aws-cn" in by_field["eksCluster.metricWriterRole"].message
    assert "reserved prefix" in by_field["eksCluster.workloadIdentityPoolProviderId"].message


def test_role_in_another_account_fails_offline() -> None:
    spec = to_spec(
        {"awsAccountId": "123456789012", "region": "us-east-1", "inferenceRole": ROLE.replace("1234", "9999")}
    )
    finding = next(f for f in check_offline(spec) if f.field == "eksCluster.inferenceRole")
    assert finding.status == "fail" and "account 999956789012" in finding.message


def test_adapter_accepts_camel_snake_dataclass_and_objects() -> None:
    @dataclass
    class Args:
        aws_account_id: str
        region: str
        inference_role: str | None = None
        unrelated: int = 3

    class Plain:
        aws_account_id = "123456789012"
        region = "us-east-1"

    expected = {"awsAccountId": "123456789012", "region": "us-east-1"}
    assert to_spec(Args("123456789012", "us-east-1", "")).to_camel() == expected
    assert to_spec(Plain()).to_camel() == expected
    assert to_spec({"aws_account_id": "123456789012", "region": "us-east-1", "x": 1}).to_camel() == expected
    assert to_spec({"awsAccountId": 12345678901, "region": " us-east-1 "}).aws_account_id == "012345678901"


def test_offline_only_run_makes_no_call() -> None:
    report = run_preflight({"awsAccountId": "123456789012", "region": "us-east-1"}, object(), fields=())
    assert report.ok and {f.check for f in report.findings} == {"spec.region", "spec.aws_account_id"}


def test_unknown_field_in_fields_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown eksCluster fields"):
        run_preflight({"awsAccountId": "123456789012"}, object(), fields=["nope"])


def test_report_json_and_table() -> None:
    report = PreflightReport(
        [
            Finding("a.ok", "eksCluster.region", "ok", "fine"),
            Finding("b.warn", "eksCluster.clusterName", "warn", "hmm", "tag it"),
            Finding("c.fail", "eksCluster.inferenceRole", "fail", "broken", "fix it"),
            Finding("d.skip", "", "skip", "not checked"),
        ]
    )
    assert not report.ok
    assert [f.check for f in report.failures] == ["c.fail"]
    assert [f.check for f in report.warnings] == ["b.warn"]
    doc = json.loads(report.to_json())
    assert set(doc) == {"ok", "counts", "findings"}
    assert doc["counts"] == {"ok": 1, "warn": 1, "fail": 1, "skip": 1}
    assert set(doc["findings"][0]) == {"check", "field", "status", "message", "remediation"}
    table = report.render_table()
    assert table.splitlines()[0].split() == ["STATUS", "CHECK", "FIELD", "MESSAGE"]
    assert "FAIL    c.fail" in table and "(fix: fix it)" in table
    assert table.splitlines()[-1] == "preflight FAILED: 1 ok, 1 warn, 1 fail, 1 skipped"
    assert "eksCluster.inferenceRole: broken (fix: fix it)" in report.error_message()
