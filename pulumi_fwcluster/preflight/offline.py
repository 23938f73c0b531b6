"""Phase 1: checks that need no AWS call. Field format rules come from `pulumi_fwcluster.rules`; this module
adds what botocore's bundled endpoint data knows about regions and partitions."""

from __future__ import annotations

import difflib
import functools
import re
from typing import Any

from .. import rules
from ..partitions import partition_for_region
from .report import Finding
from .spec import ROLE_FIELDS, PreflightSpec, path

_NUMBER_SUFFIX = re.compile(r"-\d+$")


@functools.lru_cache(maxsize=1)
def _resolver() -> Any:
    # Built straight from botocore's bundled data rather than from a Session: a Session reads the profile, and
    # a bad AWS_PROFILE would make even this offline check raise ProfileNotFound.
    from botocore.loaders import create_loader
    from botocore.regions import EndpointResolver

    return EndpointResolver(create_loader().load_data("endpoints"))


@functools.lru_cache(maxsize=1)
def eks_regions() -> dict[str, str]:
    """Every region botocore knows EKS in, mapped to its partition."""
    resolver = _resolver()
    out: dict[str, str] = {}
    for partition in resolver.get_available_partitions():
        for region in resolver.get_available_endpoints("eks", partition):
            out[region] = partition
    return out


def check_region(region: str | None) -> Finding:
    field = path("region")
    if not region:
        return Finding(
            "spec.region",
            field,
            "fail",
            "eksCluster.region is required",
            "set the AWS region of the EKS cluster, e.g. us-east-1",
        )
    known = eks_regions()
    if region in known:
        return Finding("spec.region", field, "ok", f"{region} is an EKS region in partition {known[region]}")
    suggestion = difflib.get_close_matches(region, list(known), n=1, cutoff=0.6)
    hint = f"did you mean {suggestion[0]!r}?" if suggestion else "use a region such as us-east-1"
    if rules.region(region) is not None or partition_for_region(region) is None:
        return Finding("spec.region", field, "fail", f"{region!r} is not an AWS region; {hint}", hint)
    # Well-formed. A misspelt geography ("us-eats-1") fails; a known or unheard-of geography with an unknown
    # number ("us-east-7", "xx-newplace-1") may just be newer than this botocore: warn.
    geography = _NUMBER_SUFFIX.sub("", region)
    geographies = {_NUMBER_SUFFIX.sub("", r) for r in known}
    if geography not in geographies:
        close = difflib.get_close_matches(geography, list(geographies), n=1, cutoff=0.75)
        if close:
            guess = difflib.get_close_matches(region, [r for r in known if r.startswith(close[0] + "-")], n=1)
            better = guess[0] if guess else close[0]
            return Finding(
                "spec.region",
                field,
                "fail",
                f"{region!r} is not an AWS region; did you mean {better!r}?",
                f"set eksCluster.region to {better!r}",
            )
    return Finding(
        "spec.region",
        field,
        "warn",
        f"{region!r} is not a region this botocore knows EKS in; it may be newer than botocore "
        f"({hint.removesuffix('?')})",
        "upgrade botocore, or correct the region",
    )


def check_offline(spec: PreflightSpec) -> list[Finding]:
    """Format checks on every field. Fields that are unset and optional produce no finding."""
    findings = [check_region(spec.region)]
    account = spec.aws_account_id
    if not account:
        findings.append(
            Finding("spec.aws_account_id", path("awsAccountId"), "fail", "eksCluster.awsAccountId is required")
        )
    elif (reason := rules.aws_account_id(account)) is not None:
        findings.append(Finding("spec.aws_account_id", path("awsAccountId"), "fail", reason))
    else:
        findings.append(Finding("spec.aws_account_id", path("awsAccountId"), "ok", f"account {account}"))
    valid_account = account if account and rules.aws_account_id(account) is None else None

    if spec.storage_bucket_name is not None:
        reason = rules.bucket_name(spec.storage_bucket_name)
        findings.append(
            Finding(
                "spec.bucket_name",
                path("storageBucketName"),
                "fail" if reason else "ok",
                reason or f"{spec.storage_bucket_name} is a valid bucket name",
            )
        )

    partition = partition_for_region(spec.region)
    for camel in ROLE_FIELDS:
        value = spec.get(camel)
        if value is None:
            continue
        reason = rules.role_arn(value, valid_account)
        if reason is None and partition is not None:
            arn = rules.parse_role_arn(value)
            if arn is not None and arn.partition != partition:
                reason = f"role is in partition {arn.partition}, but region {spec.region} is in {partition}"
        findings.append(
            Finding("spec.role_arn", path(camel), "fail" if reason else "ok", reason or f"{value} is well-formed")
        )

    wipp = spec.workload_identity_pool_provider_id
    if wipp is not None:
        reason = rules.workload_identity_pool_provider_id(wipp)
        findings.append(
            Finding(
                "spec.workload_identity_pool_provider_id",
                path("workloadIdentityPoolProviderId"),
                "fail" if reason else "ok",
                reason or f"{wipp} is well-formed (its existence in Fireworks' GCP project cannot be checked)",
            )
        )
    return findings
