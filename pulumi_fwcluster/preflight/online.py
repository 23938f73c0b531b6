"""Phases 2 and 3: the AWS calls. Every function here only reads; none mutates anything.

Each lookup turns AWS errors into findings: missing → ``fail``, access denied → ``skip`` naming the IAM action the
caller lacks, anything unexpected → ``skip`` with the error. Functions take clients, never a Session, so they can
run on worker threads (botocore clients are thread-safe, sessions are not).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from .. import rules
from ..byoc import MANAGED_TAG_KEY, STS_AUDIENCE
from .report import Finding
from .spec import path

ACCESS_DENIED = frozenset(
    {"AccessDenied", "AccessDeniedException", "403", "Forbidden", "UnauthorizedOperation", "UnauthorizedAccess"}
)
NOT_FOUND_BUCKET = frozenset({"404", "NoSuchBucket", "NotFound"})

CREDENTIALS_HELP = (
    "provide AWS credentials for the cluster's account: set AWS_PROFILE (and run `aws sso login --profile "
    "<name>` for an SSO profile), or export AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN); "
    "or set the stack config `fireworks:preflight` to `warn` or `off` to skip these checks"
)


def error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def error_message(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        msg = str(response.get("Error", {}).get("Message", "") or "")
        if msg:
            return f"{error_code(exc)}: {msg}"
    return str(exc) or type(exc).__name__


def is_client_error(exc: BaseException) -> bool:
    from botocore.exceptions import ClientError

    return isinstance(exc, ClientError)


def unexpected(check: str, field_path: str, action: str, exc: BaseException) -> Finding:
    """A lookup ended in an error we can't interpret: not a verdict on the setup, so skip."""
    return Finding(check, field_path, "skip", f"could not check ({action}): {error_message(exc)}")


def denied(check: str, field_path: str, action: str, what: str) -> Finding:
    return Finding(
        check,
        field_path,
        "skip",
        f"not checked: the caller may not call {action} on {what}",
        f"grant {action} to the identity running the preflight",
    )


# ---------------------------------------------------------------------------------------------------- identity


@dataclass(frozen=True)
class Identity:
    account: str
    arn: str


def credentials_failure(exc: BaseException) -> Finding:
    """The one finding for 'no usable credentials', whatever shape the error took."""
    from botocore import exceptions as bx

    name = type(exc).__name__
    if isinstance(exc, bx.NoCredentialsError):
        what = "no AWS credentials were found"
    elif isinstance(exc, bx.ProfileNotFound):
        what = f"AWS profile not found: {exc}"
    elif name in ("TokenRetrievalError", "SSOTokenLoadError", "UnauthorizedSSOTokenError", "SSOError"):
        what = f"the AWS SSO session is missing or expired ({exc}); run `aws sso login`"
    elif is_client_error(exc):
        code = error_code(exc)
        what = (
            "the AWS credentials have expired"
            if code.startswith(("Expired", "RequestExpired"))
            else "AWS rejected the credentials"
        )
        what = f"{what} ({error_message(exc)})"
    elif isinstance(exc, bx.EndpointConnectionError | bx.ConnectTimeoutError):
        what = f"could not reach AWS STS to check the credentials ({exc})"
    else:
        what = f"could not use the AWS credentials ({name}: {exc})"
    return Finding("aws.credentials", "", "fail", what, CREDENTIALS_HELP)


def caller_identity(sts: Any) -> Identity | Finding:
    """sts:GetCallerIdentity (needs no permission). Returns the identity, or the credentials finding."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        resp = sts.get_caller_identity()
    except (BotoCoreError, ClientError) as exc:
        return credentials_failure(exc)
    return Identity(account=str(resp["Account"]), arn=str(resp["Arn"]))


def check_account(identity: Identity, account: str | None) -> Finding:
    field_path = path("awsAccountId")
    if account != identity.account:
        return Finding(
            "aws.account",
            field_path,
            "fail",
            f"the AWS credentials are for account {identity.account} ({identity.arn}), "
            f"but eksCluster.awsAccountId is {account}",
            "use credentials for the cluster's account (AWS_PROFILE), or correct eksCluster.awsAccountId",
        )
    return Finding("aws.account", field_path, "ok", f"credentials are for account {account} ({identity.arn})")


# ---------------------------------------------------------------------------------------------------- EKS


@dataclass
class ClusterResult:
    findings: list[Finding] = field(default_factory=list)
    issuer: str | None = None
    partition: str | None = None
    problem: str | None = None
    """Why the issuer is unknown, when it is."""


def describe_cluster(eks: Any, name: str, *, region: str, account: str) -> ClusterResult:
    from botocore.exceptions import BotoCoreError, ClientError

    field_path = path("clusterName")
    try:
        cluster = eks.describe_cluster(name=name)["cluster"]
    except (BotoCoreError, ClientError) as exc:
        code = error_code(exc)
        if code == "ResourceNotFoundException":
            finding = Finding(
                "eks.cluster.active",
                field_path,
                "fail",
                f"no EKS cluster named {name!r} in {region} (account {account})",
                "check eksCluster.clusterName and eksCluster.region, or create the cluster first",
            )
        elif code in ACCESS_DENIED:
            finding = denied("eks.cluster.active", field_path, "eks:DescribeCluster", f"cluster {name!r}")
        else:
            finding = unexpected("eks.cluster.active", field_path, "eks:DescribeCluster", exc)
        return ClusterResult([finding], problem=f"EKS cluster {name!r} could not be read")

    result = ClusterResult()
    status = str(cluster.get("status", "UNKNOWN"))
    if status == "ACTIVE":
        result.findings.append(Finding("eks.cluster.active", field_path, "ok", f"cluster {name!r} is ACTIVE"))
    else:
        result.findings.append(
            Finding(
                "eks.cluster.active",
                field_path,
                "fail",
                f"cluster {name!r} is {status}; it must be ACTIVE",
                "wait until the cluster is ACTIVE" if status in ("CREATING", "UPDATING") else "",
            )
        )
    tags = cluster.get("tags") or {}
    if str(tags.get(MANAGED_TAG_KEY, "")).lower() == "true":
        result.findings.append(Finding("eks.cluster.tag", field_path, "ok", f"tagged {MANAGED_TAG_KEY}=true"))
    else:
        result.findings.append(
            Finding(
                "eks.cluster.tag",
                field_path,
                "warn",
                f"cluster {name!r} is not tagged {MANAGED_TAG_KEY}=true: the Fireworks manager role's policy only "
                "allows eks:* on resources with that tag",
                f"tag the cluster {MANAGED_TAG_KEY}=true",
            )
        )
    result.issuer = ((cluster.get("identity") or {}).get("oidc") or {}).get("issuer") or None
    arn = str(cluster.get("arn", ""))
    result.partition = arn.split(":")[1] if arn.count(":") >= 5 else None
    if result.issuer is None:
        result.problem = f"EKS cluster {name!r} has no OIDC issuer"
    return result


def check_oidc_provider(iam: Any, provider_arn: str, *, cluster_name: str) -> Finding:
    from botocore.exceptions import BotoCoreError, ClientError

    field_path = path("clusterName")
    try:
        provider = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=provider_arn)
    except (BotoCoreError, ClientError) as exc:
        code = error_code(exc)
        if code == "NoSuchEntity":
            return Finding(
                "iam.oidc_provider",
                field_path,
                "fail",
                f"cluster {cluster_name!r} has no IAM OIDC provider ({provider_arn} does not exist), so no IRSA "
                "role can be assumed",
                f"create it: eksctl utils associate-iam-oidc-provider --cluster {cluster_name} --approve",
            )
        if code in ACCESS_DENIED:
            return denied("iam.oidc_provider", field_path, "iam:GetOpenIDConnectProvider", provider_arn)
        return unexpected("iam.oidc_provider", field_path, "iam:GetOpenIDConnectProvider", exc)
    client_ids = [str(c) for c in provider.get("ClientIDList") or []]
    if STS_AUDIENCE not in client_ids:
        return Finding(
            "iam.oidc_provider",
            field_path,
            "fail",
            f"OIDC provider {provider_arn} does not list sts.amazonaws.com as a client id (has {client_ids})",
            "add the client id sts.amazonaws.com to the provider",
        )
    return Finding("iam.oidc_provider", field_path, "ok", f"OIDC provider {provider_arn} exists")


# ---------------------------------------------------------------------------------------------------- S3


def check_bucket(s3: Any, bucket: str, *, account: str, region: str) -> list[Finding]:
    from botocore.exceptions import BotoCoreError, ClientError

    field_path = path("storageBucketName")
    bucket_region: str | None = None
    try:
        resp = s3.head_bucket(Bucket=bucket, ExpectedBucketOwner=account)
        bucket_region = resp.get("BucketRegion") or (
            resp.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("x-amz-bucket-region")
        )
    except (BotoCoreError, ClientError) as exc:
        code = error_code(exc)
        headers = (getattr(exc, "response", None) or {}).get("ResponseMetadata", {}).get("HTTPHeaders", {})
        if code in NOT_FOUND_BUCKET:
            return [
                Finding(
                    "s3.bucket.exists",
                    field_path,
                    "fail",
                    f"bucket {bucket!r} does not exist",
                    f"create it in {region}, or correct eksCluster.storageBucketName",
                )
            ]
        if code in ACCESS_DENIED:
            return [
                Finding(
                    "s3.bucket.exists",
                    field_path,
                    "skip",
                    f"not checked: the caller may not call s3:ListBucket on {bucket!r}, or the bucket is owned by "
                    f"another account than {account}",
                    "grant s3:ListBucket on the bucket; the bucket must belong to the cluster's account",
                )
            ]
        if code in ("301", "PermanentRedirect") and headers.get("x-amz-bucket-region"):
            bucket_region = str(headers["x-amz-bucket-region"])
        else:
            return [unexpected("s3.bucket.exists", field_path, "s3:ListBucket", exc)]
    findings = [Finding("s3.bucket.exists", field_path, "ok", f"bucket {bucket!r} exists in account {account}")]
    if bucket_region is None:
        findings.append(Finding("s3.bucket.region", field_path, "skip", "S3 did not report the bucket's region"))
    elif bucket_region != region:
        findings.append(
            Finding(
                "s3.bucket.region",
                field_path,
                "fail",
                f"bucket {bucket!r} is in {bucket_region}, but the cluster is in {region}",
                f"use a bucket in {region} (Fireworks' module creates it in the cluster's region)",
            )
        )
    else:
        findings.append(Finding("s3.bucket.region", field_path, "ok", f"bucket is in {region}"))
    return findings


# ---------------------------------------------------------------------------------------------------- IAM roles


@dataclass
class RoleResult:
    findings: list[Finding] = field(default_factory=list)
    trust_policy: Any = None
    """The decoded AssumeRolePolicyDocument when the role was found at the given ARN."""


def check_role(
    iam: Any,
    arn: str,
    *,
    field_path: str,
    caller_account: str,
    note: str = "",
    attempts: int = 3,
    delay: float = 0.5,
) -> RoleResult:
    """iam:GetRole by the ARN's last segment (GetRole does not take an ARN), then compare the canonical ARN.

    `note` prefixes messages (e.g. "fireworksManagerRole is not set, so the API uses ..."). NoSuchEntity is
    retried `attempts` times, `delay` seconds apart, because IAM is eventually consistent."""
    from botocore.exceptions import BotoCoreError, ClientError

    parsed = rules.parse_role_arn(arn)
    if parsed is None:
        return RoleResult([Finding("iam.role.exists", field_path, "skip", f"not checked: {arn!r} is not a role ARN")])
    if parsed.account != caller_account:
        return RoleResult(
            [
                Finding(
                    "iam.role.exists",
                    field_path,
                    "skip",
                    f"{note}not checked: {arn} is in account {parsed.account}, and a role in another account than "
                    f"the caller's ({caller_account}) cannot be inspected",
                )
            ]
        )
    for attempt in range(max(attempts, 1)):
        try:
            role = iam.get_role(RoleName=parsed.name)["Role"]
            break
        except (BotoCoreError, ClientError) as exc:
            code = error_code(exc)
            if code == "NoSuchEntity":
                if attempt + 1 < max(attempts, 1):
                    if delay > 0:
                        time.sleep(delay)
                    continue
                return RoleResult(
                    [
                        Finding(
                            "iam.role.exists",
                            field_path,
                            "fail",
                            f"{note}role {parsed.name!r} does not exist in account {parsed.account}",
                            "create the role (Fireworks' Terraform module does), or correct the ARN",
                        )
                    ]
                )
            if code in ACCESS_DENIED:
                return RoleResult([denied("iam.role.exists", field_path, "iam:GetRole", f"role {parsed.name!r}")])
            return RoleResult([unexpected("iam.role.exists", field_path, "iam:GetRole", exc)])
    canonical = str(role["Arn"])
    exists = Finding("iam.role.exists", field_path, "ok", f"{note}role {parsed.name!r} exists")
    if canonical != arn:
        found = rules.parse_role_arn(canonical)
        why = f" (path {found.path!r}, not {parsed.path!r})" if found and found.path != parsed.path else ""
        return RoleResult(
            [
                exists,
                Finding(
                    "iam.role.arn",
                    field_path,
                    "fail",
                    f"no role at {arn}: the role named {parsed.name!r} is {canonical}{why}",
                    f"use {canonical}",
                ),
            ]
        )
    return RoleResult(
        [exists, Finding("iam.role.arn", field_path, "ok", f"ARN is {canonical}")],
        trust_policy=role.get("AssumeRolePolicyDocument"),
    )
