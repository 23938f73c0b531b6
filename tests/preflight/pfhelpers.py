"""Helpers for the preflight tests."""

from __future__ import annotations

from typing import Any

from pulumi_fwcluster.preflight import Finding, PreflightOptions, PreflightReport, run_preflight

FAST = PreflightOptions(iam_retry_delay=0)

# What seed_byoc returns by default (test_correct_setup_passes_every_check keeps it honest).
SPEC = {
    "awsAccountId": "123456789012",
    "region": "us-east-1",
    "clusterName": "fireworks-byoc",
    "storageBucketName": "fireworks-byoc-fireworks-123456789012",
    "fireworksManagerRole": "arn:aws:iam::123456789012:role/FireworksManagerRole",
    "loadBalancerControllerRole": "arn:aws:iam::123456789012:role/fireworks-byoc-lb-controller",
    "metricWriterRole": "arn:aws:iam::123456789012:role/fireworks-byoc-metric-writer",
    "inferenceRole": "arn:aws:iam::123456789012:role/fireworks-byoc-inference",
}


def preflight(spec: Any, session: Any, **kwargs: Any) -> PreflightReport:
    kwargs.setdefault("options", FAST)
    return run_preflight(spec, session, **kwargs)


def one(report: PreflightReport, check: str, field: str | None = None) -> Finding:
    """The single finding with this check id (and field), with the whole report in the failure message."""
    found = [f for f in report.findings if f.check == check and (field is None or f.field == field)]
    assert len(found) == 1, f"expected one {check} on {field}, got {found}\n{report.render_table()}"
    return found[0]


def problems(report: PreflightReport) -> list[Finding]:
    return [f for f in report.findings if f.status != "ok"]
