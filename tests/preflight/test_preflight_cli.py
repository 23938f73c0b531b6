"""`fwcluster preflight` through click's CliRunner, against moto."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from pulumi_fwcluster.cli import main


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def flags(spec: dict[str, str]) -> list[str]:
    names = {
        "awsAccountId": "--account",
        "region": "--region",
        "clusterName": "--cluster-name",
        "storageBucketName": "--bucket",
        "fireworksManagerRole": "--manager-role",
        "metricWriterRole": "--metric-writer-role",
        "loadBalancerControllerRole": "--load-balancer-controller-role",
        "inferenceRole": "--inference-role",
    }
    return [arg for key, value in spec.items() for arg in (names[key], value)]


def test_table_for_a_correct_setup(runner: CliRunner, byoc: dict[str, str]) -> None:
    result = runner.invoke(main, ["preflight", *flags(byoc)], terminal_width=200)
    assert result.exit_code == 0, result.output
    for check in ("eks.cluster.active", "s3.bucket.region", "iam.role.trust.sub", "iam.oidc_provider"):
        assert check in result.output
    assert "preflight passed" in result.output


def test_failure_exits_1_and_shows_the_row(runner: CliRunner, byoc: dict[str, str]) -> None:
    spec = {**byoc, "storageBucketName": "no-such-bucket-4711"}
    result = runner.invoke(main, ["preflight", *flags(spec), "--problems-only"], terminal_width=200)
    assert result.exit_code == 1, result.output
    assert "s3.bucket.exists" in result.output and "does not exist" in result.output
    assert "eks.cluster.active" not in result.output  # passed, hidden by --problems-only


@pytest.mark.parametrize("wrap", [False, True], ids=["bare", "cluster-body"])
@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_spec_file_and_json_output(
    runner: CliRunner, byoc: dict[str, str], tmp_path: Path, suffix: str, wrap: bool
) -> None:
    doc = {"displayName": "x", "eksCluster": byoc} if wrap else byoc
    path = tmp_path / f"spec{suffix}"
    path.write_text(json.dumps(doc) if suffix == ".json" else yaml.safe_dump(doc))
    result = runner.invoke(main, ["preflight", "--file", str(path), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert set(report) == {"ok", "counts", "findings"}
    assert report["ok"] is True and report["counts"]["fail"] == 0
    assert set(report["counts"]) == {"ok", "warn", "fail", "skip"}
    for finding in report["findings"]:
        assert set(finding) == {"check", "field", "status", "message", "remediation"}


def test_flags_override_the_file(runner: CliRunner, byoc: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(byoc))
    result = runner.invoke(main, ["preflight", "-f", str(path), "--cluster-name", "other", "--json"])
    assert result.exit_code == 1
    failing = [f for f in json.loads(result.output)["findings"] if f["status"] == "fail"]
    assert [f["check"] for f in failing] == ["eks.cluster.active"]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        ([], "give the eksCluster spec"),
        (["--file", "/no/such/file.yaml"], "cannot read"),
        (["--nope"], "No such option"),
    ],
)
def test_usage_errors_exit_2(runner: CliRunner, aws: str, args: list[str], needle: str) -> None:
    result = runner.invoke(main, ["preflight", *args])
    assert result.exit_code == 2
    assert needle in result.output


def test_bad_file_contents_exit_2(runner: CliRunner, aws: str, tmp_path: Path) -> None:
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("awsAccountId: '123456789012'\nregoin: us-east-1\n")
    result = runner.invoke(main, ["preflight", "-f", str(unknown)])
    assert result.exit_code == 2 and "regoin" in result.output
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    assert runner.invoke(main, ["preflight", "-f", str(broken)]).exit_code == 2


def test_unknown_profile_is_a_usage_error(runner: CliRunner, spec: dict[str, str]) -> None:
    result = runner.invoke(main, ["preflight", *flags(spec), "--profile", "no-such-profile"])
    assert result.exit_code == 2 and "no-such-profile" in result.output


def test_no_credentials_exit_1_with_one_finding(
    runner: CliRunner, spec: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    result = runner.invoke(main, ["preflight", *flags(spec), "--json"])
    assert result.exit_code == 1
    failing = [f for f in json.loads(result.output)["findings"] if f["status"] == "fail"]
    assert [f["check"] for f in failing] == ["aws.credentials"]
