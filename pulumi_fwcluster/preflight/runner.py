"""`run_preflight`: the four phases, in order.

1. offline format checks (always, whatever `fields` says);
2. the identity gate: sts:GetCallerIdentity and the account comparison;
3. concurrent lookups: EKS cluster (+ its OIDC provider), bucket, each role;
4. trust policies, evaluated from what phase 3 read.

When a lookup cannot run (gate failed, region or account invalid, cluster issuer unknown) its first check id is
reported once as ``skip`` with the reason, and the checks that depend on it are omitted. So every lookup that
was asked for leaves at least one row.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from .. import rules
from ..byoc import issuer_host, oidc_provider_arn
from ..partitions import partition_for_region
from . import online
from .offline import check_offline, eks_regions
from .report import Finding, PreflightReport
from .spec import FIELDS, IRSA_SERVICE_ACCOUNTS, ROLE_FIELDS, PreflightSpec, path, to_spec
from .trust import evaluate_irsa, evaluate_manager

if TYPE_CHECKING:
    import boto3

T = TypeVar("T")

# Changing one of these can change the verdict of every online check.
_GLOBAL_FIELDS = frozenset({"awsAccountId", "region"})


@dataclass(frozen=True)
class PreflightOptions:
    max_workers: int = 8
    """Threads for the phase-3 lookups; 1 makes them sequential."""
    iam_attempts: int = 3
    """Tries of iam:GetRole on NoSuchEntity (IAM is eventually consistent)."""
    iam_retry_delay: float = 0.5
    """Seconds between those tries; tests set 0."""


@dataclass(frozen=True)
class _Clients:
    sts: Any
    iam: Any
    eks: Any | None
    s3: Any | None


@functools.lru_cache(maxsize=1)
def _shared_loader() -> Any:
    from botocore.loaders import create_loader

    return create_loader()


def default_session(**kwargs: Any) -> boto3.Session:
    """``boto3.Session(**kwargs)`` (the default credential chain), sharing one botocore data loader with every
    other session made here: parsing the service models is most of a client's creation time, and the loader
    caches them, so repeated preflights (the provider runs one per check) create clients in milliseconds."""
    import boto3
    import botocore.session

    core = botocore.session.get_session()
    core.register_component("data_loader", _shared_loader())
    return boto3.Session(botocore_session=core, **kwargs)


def _client_config() -> Any:
    from botocore.config import Config

    return Config(retries={"mode": "standard", "total_max_attempts": 3})


def _make_clients(session: boto3.Session, region: str | None, regional: bool) -> _Clients:
    """All clients up front, on the calling thread: sessions are not thread-safe, clients are."""
    config = _client_config()
    home = region if regional and region else (session.region_name or "us-east-1")
    return _Clients(
        sts=session.client("sts", region_name=home, config=config),
        iam=session.client("iam", region_name=home, config=config),
        eks=session.client("eks", region_name=region, config=config) if regional else None,
        s3=session.client("s3", region_name=region, config=config) if regional else None,
    )


def _selected(fields: Collection[str] | None) -> set[str]:
    if fields is None:
        return set(FIELDS)
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise ValueError(f"unknown eksCluster fields {sorted(unknown)}; expected some of {list(FIELDS)}")
    chosen = set(fields)
    if chosen & _GLOBAL_FIELDS:
        return set(FIELDS)
    if "clusterName" in chosen:  # a different cluster means a different OIDC provider to trust
        chosen |= set(IRSA_SERVICE_ACCOUNTS)
    return chosen


def run_preflight(
    eks_cluster: Any,
    session: boto3.Session | Callable[[], boto3.Session] | None = None,
    *,
    fields: Collection[str] | None = None,
    options: PreflightOptions | None = None,
) -> PreflightReport:
    """Check that the AWS side of a BYOC cluster is ready for Fireworks. Never mutates anything.

    `eks_cluster` is an EksClusterArgs-like object (snake_case attributes, or a dataclass) or a mapping with the
    camelCase eksCluster keys. `session` defaults to ``boto3.Session()`` (the default credential chain, so
    AWS_PROFILE and SSO work); it may also be a function that builds one (assuming a role, say), whose failure is
    then reported as the credentials finding. `fields` restricts the online checks to those camelCase fields (offline checks
    always run); changing awsAccountId or region re-checks everything, changing clusterName re-checks the IRSA
    roles' trust too.
    """
    opts = options or PreflightOptions()
    spec = to_spec(eks_cluster)
    selected = _selected(fields)
    report = PreflightReport(check_offline(spec))

    lookups = _planned_lookups(spec, selected)
    if not lookups:
        return report

    region_ok = spec.region is not None and report.by_check("spec.region")[0].status != "fail"
    account = spec.aws_account_id
    account_ok = account is not None and rules.aws_account_id(account) is None

    def skip_all(reason: str) -> PreflightReport:
        report.extend(Finding(check, field, "skip", f"not checked: {reason}") for check, field in lookups)
        return report

    # Phase 2: identity gate.
    try:
        if session is None:
            session = default_session()
        elif callable(session):
            session = session()
        clients = _make_clients(session, spec.region, regional=region_ok)
    except Exception as exc:  # ProfileNotFound and friends surface when the session reads its config
        from botocore.exceptions import BotoCoreError, ClientError

        if not isinstance(exc, (BotoCoreError, ClientError)):  # a refused AssumeRole is a ClientError
            raise
        report.findings.append(online.credentials_failure(exc))
        return skip_all("the AWS credentials check failed (see aws.credentials)")
    # Phases 2 and 3 overlap: the identity gate runs beside the look-ups, which need only the spec's account, so
    # a preflight costs the slowest chain of calls rather than gate + chain. When the gate fails, the look-ups'
    # results are discarded (they are read-only, so nothing is lost but their time).
    partition = partition_for_region(spec.region) or "aws"
    if spec.region in eks_regions():
        partition = eks_regions()[spec.region]
    region = spec.region or ""
    spec_account = account or ""
    roles = _roles(spec, selected, partition, spec_account) if account_ok else {}
    want_cluster = spec.cluster_name is not None and (
        "clusterName" in selected or any(c in IRSA_SERVICE_ACCOUNTS for c in roles)
    )
    pool = ThreadPoolExecutor(max_workers=max(opts.max_workers, 1), thread_name_prefix="preflight")
    identity_future = pool.submit(online.caller_identity, clients.sts)
    if opts.max_workers <= 1:
        identity_future.result()  # sequential mode: the gate first, as a plain run would

    cluster_future: Future[tuple[online.ClusterResult, Finding | None]] | None = None
    if account_ok and want_cluster and region_ok:
        assert spec.cluster_name is not None and clients.eks is not None
        cluster_name = spec.cluster_name
        eks = clients.eks

        def cluster_task() -> tuple[online.ClusterResult, Finding | None]:
            result = online.describe_cluster(eks, cluster_name, region=region, account=spec_account)
            provider: Finding | None = None
            if result.issuer is not None:
                arn = oidc_provider_arn(result.partition or partition, spec_account, result.issuer)
                provider = _guard(
                    lambda: online.check_oidc_provider(clients.iam, arn, cluster_name=cluster_name),
                    "iam.oidc_provider",
                    path("clusterName"),
                    "iam:GetOpenIDConnectProvider",
                )
            return result, provider

        cluster_future = pool.submit(cluster_task)

    bucket_future: Future[list[Finding]] | None = None
    if account_ok and spec.storage_bucket_name is not None and "storageBucketName" in selected and region_ok:
        bucket, s3 = spec.storage_bucket_name, clients.s3
        bucket_future = pool.submit(lambda: online.check_bucket(s3, bucket, account=spec_account, region=region))

    role_futures: dict[str, Future[online.RoleResult]] = {}
    for camel, (arn, note) in roles.items():
        role_futures[camel] = pool.submit(
            functools.partial(
                online.check_role,
                clients.iam,
                arn,
                field_path=path(camel),
                caller_account=spec_account,  # kept only when the gate proves the caller is in this account
                note=note,
                attempts=opts.iam_attempts,
                delay=opts.iam_retry_delay,
            )
        )

    def abandon(reason: str) -> PreflightReport:
        pool.shutdown(wait=False, cancel_futures=True)
        return skip_all(reason)

    identity = identity_future.result()
    if isinstance(identity, Finding):
        report.findings.append(identity)
        return abandon("the AWS credentials check failed (see aws.credentials)")
    report.findings.append(
        Finding("aws.credentials", "", "ok", f"credentials work: {identity.arn}"),
    )
    if not account_ok:
        return abandon("eksCluster.awsAccountId is missing or invalid")
    assert account is not None
    account_finding = online.check_account(identity, account)
    report.findings.append(account_finding)
    if account_finding.status == "fail":
        return abandon(f"the credentials are for another account ({identity.account})")
    pool.shutdown(wait=True)

    # Phase 4: assemble in a fixed order, evaluating trust policies.
    cluster: online.ClusterResult | None = None
    issuer_problem: str
    if spec.cluster_name is None:
        issuer_problem = "eksCluster.clusterName is not set, so the cluster's OIDC provider is unknown"
        if "clusterName" in selected:
            report.findings.append(
                Finding(
                    "eks.cluster.active", path("clusterName"), "skip", "not checked: eksCluster.clusterName is not set"
                )
            )
    elif not region_ok:
        issuer_problem = "eksCluster.region is invalid, so the EKS cluster could not be read"
        if want_cluster and "clusterName" in selected:
            report.findings.append(
                Finding("eks.cluster.active", path("clusterName"), "skip", "not checked: eksCluster.region is invalid")
            )
    elif cluster_future is not None:
        cluster_result = _result(cluster_future, "eks.cluster.active", path("clusterName"), "eks:DescribeCluster")
        if isinstance(cluster_result, Finding):
            cluster = online.ClusterResult([cluster_result], problem="the EKS cluster could not be read")
        else:
            cluster, provider_finding = cluster_result
            if provider_finding is not None:
                cluster.findings.append(provider_finding)
        if "clusterName" in selected:
            report.extend(cluster.findings)
        issuer_problem = cluster.problem or ""
    else:
        issuer_problem = "the EKS cluster was not looked up"

    if spec.storage_bucket_name is not None and "storageBucketName" in selected:
        if bucket_future is None:
            report.findings.append(
                Finding(
                    "s3.bucket.exists", path("storageBucketName"), "skip", "not checked: eksCluster.region is invalid"
                )
            )
        else:
            found = _result(bucket_future, "s3.bucket.exists", path("storageBucketName"), "s3:ListBucket")
            report.extend([found] if isinstance(found, Finding) else found)

    for camel, future in role_futures.items():
        role_result = _result(future, "iam.role.exists", path(camel), "iam:GetRole")
        if isinstance(role_result, Finding):
            report.findings.append(role_result)
            continue
        report.extend(role_result.findings)
        if role_result.trust_policy is None:
            continue
        if camel == "fireworksManagerRole":
            report.extend(evaluate_manager(role_result.trust_policy, field=path(camel)))
        elif cluster is not None and cluster.issuer is not None:
            provider_arn = oidc_provider_arn(cluster.partition or partition, account, cluster.issuer)
            report.extend(
                evaluate_irsa(
                    role_result.trust_policy,
                    provider_arn=provider_arn,
                    issuer_host=issuer_host(cluster.issuer),
                    service_account=IRSA_SERVICE_ACCOUNTS[camel],
                    field=path(camel),
                )
            )
        else:
            report.findings.append(
                Finding("iam.role.trust.provider", path(camel), "skip", f"trust not checked: {issuer_problem}")
            )
    return report


def _roles(spec: PreflightSpec, selected: set[str], partition: str, account: str) -> dict[str, tuple[str, str]]:
    """camelCase field -> (ARN to look up, message prefix), for the selected roles that are set."""
    out: dict[str, tuple[str, str]] = {}
    for camel in ROLE_FIELDS:
        if camel not in selected:
            continue
        arn = spec.get(camel)
        note = ""
        if arn is None:
            if camel != "fireworksManagerRole":
                continue
            arn = rules.default_manager_role(partition, account)
            note = f"fireworksManagerRole is not set, so the API uses {arn}: "
        out[camel] = (arn, note)
    return out


def _planned_lookups(spec: PreflightSpec, selected: set[str]) -> list[tuple[str, str]]:
    """(check id, field) of each online lookup the spec asks for: what gets reported as skipped when the gate
    fails."""
    out: list[tuple[str, str]] = []
    if spec.cluster_name is not None and "clusterName" in selected:
        out.append(("eks.cluster.active", path("clusterName")))
    if spec.storage_bucket_name is not None and "storageBucketName" in selected:
        out.append(("s3.bucket.exists", path("storageBucketName")))
    for camel in ROLE_FIELDS:
        if camel in selected and (spec.get(camel) is not None or camel == "fireworksManagerRole"):
            out.append(("iam.role.exists", path(camel)))
    return out


def _guard(fn: Callable[[], Finding], check: str, field: str, action: str) -> Finding:
    try:
        return fn()
    except Exception as exc:
        return online.unexpected(check, field, action, exc)


def _result(future: Future[T], check: str, field: str, action: str) -> T | Finding:
    """The lookup's result, or a skip finding when it raised something the lookup did not interpret."""
    try:
        return future.result()
    except Exception as exc:
        return online.unexpected(check, field, action, exc)
