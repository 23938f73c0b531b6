"""CrossGuard rules for Fireworks clusters: `cluster_policies(...)` gives the policies for a `PolicyPack`.

Needs the `[policy]` extra (pulumi-policy). Every rule:

- looks only at Fireworks clusters, of either door (`TYPES`), and only at those with an `eksCluster`: a
  `fakeCluster` is a test double with nothing to police;
- reads its setting from the pack's config (`pulumi preview --policy-pack-config`), falling back to the value given
  to `cluster_policies`; the enforcement level comes from config the standard CrossGuard way (`enforcementLevel`);
- skips, without a diagnostic, any value that is unknown during a preview: the same rule runs again at `up`;
- names the property that breaks it, never its value (see `_report`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)
from pulumi_policy.proxy import (
    UNKNOWN_ARCHIVE_VALUE,
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_ASSET_VALUE,
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_NUMBER_VALUE,
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
    UnknownValueError,
)

from .rules import parse_role_arn
from .spec import CLUSTER_TYPES

__all__ = ["POLICY_NAMES", "TYPES", "cluster_policies"]

TYPES = CLUSTER_TYPES
"""The cluster's type token through the dynamic provider and through a native provider."""

ALLOWED_REGIONS = "fireworks-allowed-regions"
ALLOWED_AWS_ACCOUNTS = "fireworks-allowed-aws-accounts"
REQUIRE_METRICS = "fireworks-require-metrics"
REQUIRE_LOAD_BALANCER = "fireworks-require-load-balancer"
BUCKET_NAME = "fireworks-bucket-name"
POLICY_NAMES = (ALLOWED_REGIONS, ALLOWED_AWS_ACCOUNTS, REQUIRE_METRICS, REQUIRE_LOAD_BALANCER, BUCKET_NAME)

ROLE_FIELDS = ("fireworksManagerRole", "metricWriterRole", "loadBalancerControllerRole", "inferenceRole")
PLACEHOLDERS = ("{account}", "{region}", "{clusterId}")

_ACCOUNT = re.compile(r"^\d{12}$")
# What the engine sends for a value that is not known yet. The analyzer's proxy raises on reading one; these catch
# props built without that proxy (a test, another analyzer host).
_UNKNOWN_SENTINELS = frozenset(
    {
        UNKNOWN_ARCHIVE_VALUE,
        UNKNOWN_ARRAY_VALUE,
        UNKNOWN_ASSET_VALUE,
        UNKNOWN_BOOLEAN_VALUE,
        UNKNOWN_NUMBER_VALUE,
        UNKNOWN_OBJECT_VALUE,
        UNKNOWN_STRING_VALUE,
    }
)


class _Unknown:
    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()
"""What `field` returns for a value that is known only at `up`."""


def field(props: Mapping[str, Any], key: str) -> Any:
    """props[key]; None when absent, null or empty; UNKNOWN when it is not known during this preview."""
    # `key in props` and `props.get(key)` read the value, and the analyzer's proxy raises UnknownValueError on an
    # unknown one. Listing the keys reads nothing.
    if key not in list(props):
        return None
    try:
        value = props[key]
    except UnknownValueError:
        return UNKNOWN
    if isinstance(value, str) and value in _UNKNOWN_SENTINELS:
        return UNKNOWN
    if value == "":  # the provider drops empty optional strings: "" is "not set"
        return None
    return value


def account_id(value: Any) -> str | None:
    """The 12-digit string AWS uses for an account id, or None when value cannot be one.

    Numbers reach a policy as floats: an id written as a number arrives as 123456789012.0, and one with a leading
    zero has lost it, which the padding puts back. (The provider's own check still refuses a number.)"""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)) and float(value).is_integer() and 0 <= value < 10**12:
        return f"{int(value):012d}"
    if isinstance(value, str) and _ACCOUNT.match(value):
        return value
    return None


def cluster_policies(
    *,
    allowed_regions: Sequence[str] | None = None,
    allowed_aws_accounts: Sequence[str] | None = None,
    require_metrics: bool = False,
    require_load_balancer: bool = False,
    bucket_name_pattern: str | None = None,
    enforcement_level: EnforcementLevel = EnforcementLevel.MANDATORY,
) -> list[ResourceValidationPolicy]:
    """The policies for the rules given; a rule given None (or False) is left out.

    The values here are each rule's defaults: the pack's config overrides them per policy, under the keys
    `allowedRegions`, `allowedAwsAccounts`, `requireMetrics`, `requireLoadBalancer` and `bucketNamePattern`."""
    policies: list[ResourceValidationPolicy] = []
    if allowed_regions is not None:
        regions = _names("allowed_regions", allowed_regions)
        policies.append(
            _policy(
                ALLOWED_REGIONS,
                "Fireworks clusters run only in the allowed AWS regions.",
                "allowedRegions",
                {"type": "array", "items": {"type": "string"}, "description": "AWS regions a cluster may run in"},
                regions,
                _check_region,
                enforcement_level,
            )
        )
    if allowed_aws_accounts is not None:
        accounts = _names("allowed_aws_accounts", allowed_aws_accounts)
        bad = [a for a in accounts if account_id(a) != a]
        if bad:
            raise ValueError(f"allowed_aws_accounts: not 12-digit AWS account ids: {', '.join(bad)}")
        policies.append(
            _policy(
                ALLOWED_AWS_ACCOUNTS,
                "Fireworks clusters, and the IAM roles they use, are in the allowed AWS accounts.",
                "allowedAwsAccounts",
                {
                    "type": "array",
                    "items": {"type": "string", "pattern": "^[0-9]{12}$"},
                    "description": "AWS accounts that eksCluster.awsAccountId and every role ARN may be in",
                },
                accounts,
                _check_accounts,
                enforcement_level,
            )
        )
    if require_metrics:
        policies.append(
            _policy(
                REQUIRE_METRICS,
                "Fireworks clusters export metrics: eksCluster.metricWriterRole is set.",
                "requireMetrics",
                {"type": "boolean", "description": "false turns the rule off"},
                True,
                _require_role("metricWriterRole", "Fireworks writes the cluster's metrics with this role"),
                enforcement_level,
            )
        )
    if require_load_balancer:
        policies.append(
            _policy(
                REQUIRE_LOAD_BALANCER,
                "Fireworks clusters can serve through the gateway: eksCluster.loadBalancerControllerRole is set.",
                "requireLoadBalancer",
                {"type": "boolean", "description": "false turns the rule off"},
                True,
                _require_role(
                    "loadBalancerControllerRole", "the gateway needs the AWS Load Balancer Controller, which runs as it"
                ),
                enforcement_level,
            )
        )
    if bucket_name_pattern is not None:
        problem = _pattern_problem(bucket_name_pattern)
        if problem:
            raise ValueError(f"bucket_name_pattern {bucket_name_pattern!r}: {problem}")
        policies.append(
            _policy(
                BUCKET_NAME,
                "Fireworks cluster buckets follow the naming pattern.",
                "bucketNamePattern",
                {
                    "type": "string",
                    "minLength": 1,
                    "description": "regular expression for the whole eksCluster.storageBucketName; "
                    "{account}, {region} and {clusterId} stand for the cluster's values",
                },
                bucket_name_pattern,
                _check_bucket,
                enforcement_level,
            )
        )
    return policies


# A rule's check: the cluster's props, its eksCluster and the rule's setting in, violation messages out.
Check = Callable[[Mapping[str, Any], Mapping[str, Any], Any], Iterator[str]]


def _policy(
    name: str,
    description: str,
    config_key: str,
    schema: dict[str, Any],
    default: Any,
    check: Check,
    enforcement_level: EnforcementLevel,
) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if args.resource_type not in TYPES:
            return
        eks = field(args.props, "eksCluster")
        if not isinstance(eks, Mapping):  # a fake cluster, or eksCluster unknown until `up`
            return
        config = args.get_config()
        setting = config.get(config_key)
        for message in check(args.props, eks, default if setting is None else setting):
            _report(report_violation, message)

    # The CLI fills each policy's config with the schema's defaults, so what the pack was built with is also what
    # `pulumi preview` shows and what the config file overrides.
    return ResourceValidationPolicy(
        name=name,
        description=description,
        validate=validate,
        enforcement_level=enforcement_level,
        config_schema=PolicyConfigSchema({config_key: {**schema, "default": default}}),
    )


def _report(report_violation: ReportViolation, message: str) -> None:
    # Messages name properties and quote only the pack's own config, never a value from the resource. The analyzer
    # receives secrets already unwrapped, so a value marked secret cannot be told apart, and a policy message is
    # printed verbatim (CI logs, PR comments) where Pulumi would have shown "[secret]". Account ids, role ARNs and
    # bucket names (which often embed the account id) are the values teams do mark secret. The reviewer finds
    # the value in the program or in `pulumi preview --diff`, which masks secrets properly.
    report_violation(message, None)


def _check_region(_props: Mapping[str, Any], eks: Mapping[str, Any], setting: Any) -> Iterator[str]:
    allowed = _config_list(setting)
    if allowed is None:
        yield "The configured allowedRegions is not a list of region names."
        return
    region = field(eks, "region")
    if region is UNKNOWN:
        return
    if region is None:
        yield f"eksCluster.region is not set; allowed regions: {_listing(allowed)}."
    elif region not in allowed:
        yield f"eksCluster.region is not an allowed region; allowed regions: {_listing(allowed)}."


def _check_accounts(_props: Mapping[str, Any], eks: Mapping[str, Any], setting: Any) -> Iterator[str]:
    given = _config_list(setting)
    if given is None:
        yield "The configured allowedAwsAccounts is not a list of account ids."
        return
    # Anything that is not an account id allows nothing: the rule fails closed.
    allowed = sorted({a for a in map(account_id, given) if a is not None})
    listing = _listing(allowed)
    account = field(eks, "awsAccountId")
    if account is None:
        yield f"eksCluster.awsAccountId is not set; allowed accounts: {listing}."
    elif account is not UNKNOWN and account_id(account) not in allowed:
        yield f"eksCluster.awsAccountId is not an allowed AWS account; allowed accounts: {listing}."
    for key in ROLE_FIELDS:
        role = field(eks, key)
        if role is None or role is UNKNOWN:
            continue  # an empty fireworksManagerRole means the default role in awsAccountId, checked above
        arn = parse_role_arn(role) if isinstance(role, str) else None
        if arn is None:
            yield f"eksCluster.{key} is not an IAM role ARN, so its account cannot be checked."
        elif arn.account not in allowed:
            yield f"eksCluster.{key} is a role in an AWS account that is not allowed; allowed accounts: {listing}."


def _require_role(key: str, why: str) -> Check:
    def check(_props: Mapping[str, Any], eks: Mapping[str, Any], setting: Any) -> Iterator[str]:
        if setting is True and field(eks, key) is None:
            yield f"eksCluster.{key} is not set: {why}."

    return check


def _check_bucket(props: Mapping[str, Any], eks: Mapping[str, Any], setting: Any) -> Iterator[str]:
    problem = _pattern_problem(setting)
    if problem:
        yield f"The configured bucketNamePattern is unusable: {problem}."
        return
    pattern: str = setting
    bucket = field(eks, "storageBucketName")
    if bucket is UNKNOWN:
        return
    account = field(eks, "awsAccountId")
    values = {
        "{account}": ("eksCluster.awsAccountId", account if account is UNKNOWN else account_id(account)),
        "{region}": ("eksCluster.region", field(eks, "region")),
        "{clusterId}": ("clusterId", field(props, "clusterId")),
    }
    expected = pattern
    for placeholder, (path, value) in values.items():
        if placeholder not in pattern:
            continue
        if value is UNKNOWN:
            return
        if not isinstance(value, str):
            yield f"The bucket name pattern uses {placeholder}, but {path} is not set to a usable value."
            return
        expected = expected.replace(placeholder, re.escape(value))
    if not isinstance(bucket, str):
        yield f"eksCluster.storageBucketName is not set; it must match {pattern!r}."
    elif re.fullmatch(expected, bucket) is None:
        yield f"eksCluster.storageBucketName does not match {pattern!r} (placeholders filled from this cluster)."


def _pattern_problem(pattern: Any) -> str | None:
    """Why pattern cannot be used, or None. Placeholders are filled first, so "{3,63}"-style quantifiers stay."""
    if not isinstance(pattern, str) or not pattern:
        return "not a non-empty string"
    probe = pattern
    for placeholder in PLACEHOLDERS:
        probe = probe.replace(placeholder, "x")
    try:
        re.compile(probe)
    except re.error as e:
        return f"not a regular expression ({e})"
    return None


def _names(what: str, value: Any) -> list[str]:
    # A bare string is a sequence too, and would allow its letters.
    if isinstance(value, str) or not all(isinstance(v, str) for v in value):
        raise TypeError(f"{what} must be a list of strings")
    return list(value)


def _config_list(value: Any) -> list[Any] | None:
    """A list from the pack's config (the CLI checks it against the schema; a test or another host may not)."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        return None
    return list(value)


def _listing(names: Sequence[str]) -> str:
    return ", ".join(names) if names else "(none)"
