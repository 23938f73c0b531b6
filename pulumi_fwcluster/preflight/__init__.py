"""AWS preflight checks for a Fireworks BYOC cluster: read-only boto3 lookups that tell, before Fireworks is
asked to use a cluster, whether the EKS cluster, bucket, roles and trust policies are set up the way Fireworks'
Terraform module sets them up.

    from pulumi_fwcluster.preflight import run_preflight
    report = run_preflight({"awsAccountId": "123456789012", "region": "us-east-1", ...})
    if not report.ok:
        raise SystemExit(report.error_message())

IAM permissions needed: eks:DescribeCluster, s3:ListBucket, iam:GetRole, iam:GetOpenIDConnectProvider
(sts:GetCallerIdentity needs none). A denied call is reported as ``skip``, never ``fail``.
"""

from __future__ import annotations

from .report import STATUSES, Finding, PreflightReport, Status
from .runner import PreflightOptions, default_session, run_preflight
from .spec import FIELDS, IRSA_SERVICE_ACCOUNTS, PreflightSpec, to_spec

REQUIRED_ACTIONS = ("eks:DescribeCluster", "s3:ListBucket", "iam:GetRole", "iam:GetOpenIDConnectProvider")

__all__ = [
    "FIELDS",
    "IRSA_SERVICE_ACCOUNTS",
    "REQUIRED_ACTIONS",
    "STATUSES",
    "Finding",
    "PreflightOptions",
    "PreflightReport",
    "PreflightSpec",
    "Status",
    "default_session",
    "run_preflight",
    "to_spec",
]
