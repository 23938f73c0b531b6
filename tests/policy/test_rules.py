"""pulumi_fwcluster.policy: each rule's `validate`, called the way the analyzer calls it, without a PolicyPack."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import pytest
from google.protobuf import json_format, struct_pb2  # type: ignore[import-untyped,unused-ignore]
from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError, unknown_checking_proxy

from pulumi_fwcluster.policy import POLICY_NAMES, TYPES, UNKNOWN, account_id, cluster_policies, field

DYNAMIC = "pulumi-python:dynamic/fireworks:Cluster"
NATIVE = "fireworks:index:Cluster"
ACCOUNT = "123456789012"
OTHER_ACCOUNT = "999988887777"
REGION = "us-east-1"


def role(name: str, account: str = ACCOUNT) -> str:
    return f"arn:aws:iam::{account}:role/fireworks/{name}"


# Every rule on, with values that CLUSTER satisfies.
RULES: dict[str, Any] = {
    "allowed_regions": [REGION, "us-west-2"],
    "allowed_aws_accounts": [ACCOUNT],
    "require_metrics": True,
    "require_load_balancer": True,
    "bucket_name_pattern": r"fireworks-{account}-{region}(-[a-z0-9-]+)?",
}

CLUSTER: dict[str, Any] = {
    "accountId": "acme",
    "clusterId": "prod-use1",
    "displayName": "Prod us-east-1",
    "eksCluster": {
        "awsAccountId": ACCOUNT,
        "region": REGION,
        "clusterName": "prod",
        "storageBucketName": f"fireworks-{ACCOUNT}-{REGION}-models",
        "fireworksManagerRole": role("FireworksManagerRole"),
        "metricWriterRole": role("metrics"),
        "loadBalancerControllerRole": role("lbc"),
        "inferenceRole": role("inference"),
    },
}


def cluster(**eks: Any) -> dict[str, Any]:
    """CLUSTER with some eksCluster fields replaced; a value of None removes the field."""
    props = copy.deepcopy(CLUSTER)
    for key, value in eks.items():
        if value is None:
            props["eksCluster"].pop(key, None)
        else:
            props["eksCluster"][key] = value
    return props


def analyzer_props(props: Mapping[str, Any]) -> Mapping[str, Any]:
    """props as `Analyze` hands them to a policy (pulumi_policy/policy.py): the request's Struct turned into a
    dict, deserialized, and wrapped in the proxy that raises UnknownValueError on reading an unknown value."""
    struct = struct_pb2.Struct()
    struct.update(props)
    result: Mapping[str, Any] = unknown_checking_proxy(deserialize_properties(json_format.MessageToDict(struct)))
    return result


def args(
    props: Mapping[str, Any], resource_type: str = DYNAMIC, config: Mapping[str, Any] | None = None
) -> ResourceValidationArgs:
    opts = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])
    urn = f"urn:pulumi:dev::proj::{resource_type}::prod"
    return ResourceValidationArgs(resource_type, props, urn, "prod", opts, None, config)


def policies(**rules: Any) -> dict[str, ResourceValidationPolicy]:
    return {p.name: p for p in cluster_policies(**rules)}


def violations(policy: ResourceValidationPolicy, validation_args: ResourceValidationArgs) -> list[str]:
    found: list[str] = []

    def report(message: str, urn: str | None = None) -> None:
        assert urn is None  # a resource policy reports against the resource being validated
        found.append(message)

    assert policy.validate(validation_args, report) is None  # synchronous: nothing for the analyzer to await
    return found


def all_violations(props: Mapping[str, Any], resource_type: str = DYNAMIC, **rules: Any) -> dict[str, list[str]]:
    """Each rule's messages for props (every rule of RULES unless rules are given); rules with none left out."""
    out: dict[str, list[str]] = {}
    for name, policy in policies(**(rules or RULES)).items():
        found = violations(policy, args(props, resource_type))
        if found:
            out[name] = found
    return out


# -- which policies exist ---------------------------------------------------------------------------------------


def test_every_rule_is_a_named_policy_with_the_given_level() -> None:
    made = cluster_policies(**RULES, enforcement_level=EnforcementLevel.ADVISORY)
    assert [p.name for p in made] == list(POLICY_NAMES)
    assert all(p.name.startswith("fireworks-") for p in made)
    assert all(isinstance(p, ResourceValidationPolicy) for p in made)
    assert {p.enforcement_level for p in made} == {EnforcementLevel.ADVISORY}
    assert {p.enforcement_level for p in cluster_policies(**RULES)} == {EnforcementLevel.MANDATORY}


def test_rules_given_none_or_false_are_absent() -> None:
    assert cluster_policies() == []
    assert cluster_policies(require_metrics=False, require_load_balancer=False) == []
    assert list(policies(allowed_regions=[REGION])) == ["fireworks-allowed-regions"]
    assert list(policies(require_load_balancer=True, bucket_name_pattern="x")) == [
        "fireworks-require-load-balancer",
        "fireworks-bucket-name",
    ]


def test_config_schema_defaults_are_the_values_given() -> None:
    defaults = {}
    for policy in cluster_policies(**RULES):
        assert policy.config_schema is not None
        [(key, schema)] = policy.config_schema.properties.items()
        assert "enforcementLevel" not in policy.config_schema.properties  # the CLI adds it itself
        defaults[key] = schema["default"]
    assert defaults == {
        "allowedRegions": RULES["allowed_regions"],
        "allowedAwsAccounts": RULES["allowed_aws_accounts"],
        "requireMetrics": True,
        "requireLoadBalancer": True,
        "bucketNamePattern": RULES["bucket_name_pattern"],
    }


@pytest.mark.parametrize(
    ("rules", "error"),
    [
        ({"allowed_regions": "us-east-1"}, TypeError),  # would otherwise allow its letters
        ({"allowed_aws_accounts": ["12345"]}, ValueError),
        ({"allowed_aws_accounts": [123456789012]}, TypeError),
        ({"bucket_name_pattern": "fireworks-(unclosed"}, ValueError),
        ({"bucket_name_pattern": ""}, ValueError),
    ],
)
def test_bad_arguments_fail_when_the_pack_is_built(rules: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        cluster_policies(**rules)


# -- what a rule looks at ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("resource_type", sorted(TYPES))
def test_a_compliant_cluster_passes_every_rule(resource_type: str) -> None:
    assert all_violations(analyzer_props(CLUSTER), resource_type) == {}


@pytest.mark.parametrize("resource_type", sorted(TYPES))
def test_a_violating_cluster_breaks_every_rule_through_either_door(resource_type: str) -> None:
    bad = cluster(
        region="eu-west-1",
        awsAccountId=OTHER_ACCOUNT,
        metricWriterRole=None,
        loadBalancerControllerRole="",
        storageBucketName="models",
    )
    assert sorted(all_violations(analyzer_props(bad), resource_type)) == sorted(POLICY_NAMES)


@pytest.mark.parametrize(
    "resource_type",
    ["aws:s3/bucket:Bucket", "pulumi-python:dynamic:Resource", "pulumi-python:dynamic/other:Cluster", "fireworks:x"],
)
def test_other_types_are_ignored(resource_type: str) -> None:
    bad = cluster(region="eu-west-1", awsAccountId=OTHER_ACCOUNT, metricWriterRole=None, storageBucketName="b")
    assert all_violations(analyzer_props(bad), resource_type) == {}


def test_a_fake_cluster_is_ignored() -> None:
    fake = {"clusterId": "test", "fakeCluster": {"projectId": "p", "location": "eu-west-9", "clusterName": "c"}}
    assert all_violations(analyzer_props(fake)) == {}
    assert all_violations(analyzer_props(fake), NATIVE) == {}


def test_nested_read_only_mappings() -> None:
    """Nested objects are mappings that are not dicts (a mapping proxy here, the analyzer's own proxy above)."""
    good = {**CLUSTER, "eksCluster": MappingProxyType(dict(CLUSTER["eksCluster"]))}
    assert all_violations(MappingProxyType(good)) == {}
    bad_eks = {**CLUSTER["eksCluster"], "inferenceRole": role("inference", OTHER_ACCOUNT)}
    bad = {**CLUSTER, "eksCluster": MappingProxyType(bad_eks)}
    assert list(all_violations(MappingProxyType(bad))) == ["fireworks-allowed-aws-accounts"]


# -- values unknown during a preview ----------------------------------------------------------------------------


def test_the_analyzer_proxy_raises_on_naive_reads() -> None:
    """The trap the rules avoid, reproduced: `in` and `.get` read the value, and reading an unknown one raises."""
    props = analyzer_props(cluster(region=UNKNOWN_STRING_VALUE))
    eks = props["eksCluster"]
    with pytest.raises(UnknownValueError):
        _ = "region" in eks
    with pytest.raises(UnknownValueError):
        eks.get("region")
    assert "region" in list(eks)
    assert field(eks, "region") is UNKNOWN
    assert field(eks, "clusterName") == "prod"
    assert field(eks, "workloadIdentityPoolProviderId") is None


@pytest.mark.parametrize(
    "key",
    [
        "region",
        "awsAccountId",
        "storageBucketName",
        "fireworksManagerRole",
        "metricWriterRole",
        "loadBalancerControllerRole",
        "inferenceRole",
    ],
)
@pytest.mark.parametrize("resource_type", sorted(TYPES))
def test_an_unknown_field_is_skipped_without_error(key: str, resource_type: str) -> None:
    assert all_violations(analyzer_props(cluster(**{key: UNKNOWN_STRING_VALUE})), resource_type) == {}


def test_unknowns_skip_only_their_own_check() -> None:
    props = analyzer_props(cluster(region=UNKNOWN_STRING_VALUE, awsAccountId=OTHER_ACCOUNT, metricWriterRole=None))
    # The region is unknown, so neither the region rule nor the bucket pattern (which uses {region}) can judge.
    assert sorted(all_violations(props)) == ["fireworks-allowed-aws-accounts", "fireworks-require-metrics"]


def test_an_unknown_eks_cluster_or_cluster_id_is_skipped() -> None:
    assert all_violations(analyzer_props({**CLUSTER, "eksCluster": UNKNOWN_STRING_VALUE})) == {}
    unknown_id = analyzer_props({**cluster(storageBucketName="anything"), "clusterId": UNKNOWN_STRING_VALUE})
    assert all_violations(unknown_id, bucket_name_pattern="fw-{clusterId}") == {}
    # ... but a pattern without {clusterId} does not need it.
    assert list(all_violations(unknown_id, bucket_name_pattern="fw-{region}")) == ["fireworks-bucket-name"]


def test_sentinels_are_unknown_even_without_the_analyzer_proxy() -> None:
    props = {**CLUSTER, "eksCluster": MappingProxyType({**CLUSTER["eksCluster"], "region": UNKNOWN_STRING_VALUE})}
    assert all_violations(props) == {}


# -- each rule ----------------------------------------------------------------------------------------------------


def messages(props: Mapping[str, Any], name: str, config: Mapping[str, Any] | None = None) -> list[str]:
    return violations(policies(**RULES)[name], args(analyzer_props(props), config=config))


def test_allowed_regions() -> None:
    assert messages(cluster(region="us-west-2"), "fireworks-allowed-regions") == []
    assert messages(cluster(region="eu-west-1"), "fireworks-allowed-regions") == [
        "eksCluster.region is not an allowed region; allowed regions: us-east-1, us-west-2."
    ]
    assert messages(cluster(region=None), "fireworks-allowed-regions") == [
        "eksCluster.region is not set; allowed regions: us-east-1, us-west-2."
    ]


def test_allowed_accounts_cover_the_account_and_every_role() -> None:
    name = "fireworks-allowed-aws-accounts"
    assert messages(cluster(awsAccountId=OTHER_ACCOUNT), name) == [
        f"eksCluster.awsAccountId is not an allowed AWS account; allowed accounts: {ACCOUNT}."
    ]
    for key in ("fireworksManagerRole", "metricWriterRole", "loadBalancerControllerRole", "inferenceRole"):
        assert messages(cluster(**{key: role("x", OTHER_ACCOUNT)}), name) == [
            f"eksCluster.{key} is a role in an AWS account that is not allowed; allowed accounts: {ACCOUNT}."
        ]
    assert messages(cluster(inferenceRole="inference"), name) == [
        "eksCluster.inferenceRole is not an IAM role ARN, so its account cannot be checked."
    ]
    # An unset role (the manager role then defaults to one in awsAccountId) has no account to check.
    assert messages(cluster(fireworksManagerRole="", metricWriterRole=None), name) == []
    gov = cluster(inferenceRole=f"arn:aws-us-gov:iam::{ACCOUNT}:role/inference")
    assert messages(gov, name) == []


def test_account_ids_given_as_numbers_arrive_as_floats() -> None:
    props = analyzer_props(cluster(awsAccountId=123456789012))
    assert props["eksCluster"]["awsAccountId"] == 123456789012.0
    assert isinstance(props["eksCluster"]["awsAccountId"], float)
    # Read as the account it denotes: allowed, and usable in the bucket pattern.
    assert all_violations(props) == {}
    assert list(all_violations(analyzer_props(cluster(awsAccountId=999988887777)))) == [
        "fireworks-allowed-aws-accounts",
        "fireworks-bucket-name",
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (ACCOUNT, ACCOUNT),
        (123456789012.0, ACCOUNT),
        (12345678901.0, "012345678901"),  # the leading zero a number cannot keep
        (1234.5, None),
        (1e12, None),
        (-1.0, None),
        (True, None),
        ("12345678901", None),
        (" 123456789012", None),
    ],
)
def test_account_id(value: Any, expected: str | None) -> None:
    assert account_id(value) == expected


def test_required_roles() -> None:
    assert messages(cluster(metricWriterRole=None), "fireworks-require-metrics") == [
        "eksCluster.metricWriterRole is not set: Fireworks writes the cluster's metrics with this role."
    ]
    # The provider drops empty optional strings, so "" is "not set" here too.
    assert messages(cluster(loadBalancerControllerRole=""), "fireworks-require-load-balancer") == [
        "eksCluster.loadBalancerControllerRole is not set: "
        "the gateway needs the AWS Load Balancer Controller, which runs as it."
    ]
    assert messages(CLUSTER, "fireworks-require-metrics") == []


def test_bucket_name_pattern() -> None:
    name = "fireworks-bucket-name"
    pattern = RULES["bucket_name_pattern"]
    assert messages(cluster(storageBucketName=f"fireworks-{ACCOUNT}-{REGION}"), name) == []
    for bucket in (f"fireworks-{ACCOUNT}-us-west-2-models", f"x-fireworks-{ACCOUNT}-{REGION}", "fireworks"):
        assert messages(cluster(storageBucketName=bucket), name) == [
            f"eksCluster.storageBucketName does not match {pattern!r} (placeholders filled from this cluster)."
        ]
    assert messages(cluster(storageBucketName=None), name) == [
        f"eksCluster.storageBucketName is not set; it must match {pattern!r}."
    ]
    assert messages(cluster(awsAccountId=None), name) == [
        "The bucket name pattern uses {account}, but eksCluster.awsAccountId is not set to a usable value."
    ]


def test_bucket_placeholders_are_escaped_and_quantifiers_kept() -> None:
    check = policies(bucket_name_pattern=r"{clusterId}\.[a-z]{3,5}")["fireworks-bucket-name"]

    def bucket_violations(cluster_id: str, bucket: str) -> list[str]:
        props = {**cluster(storageBucketName=bucket), "clusterId": cluster_id}
        return violations(check, args(analyzer_props(props)))

    assert bucket_violations("prod", "prod.abcd") == []
    assert bucket_violations("prod", "prod.ab") != []  # {3,5} survived as a quantifier
    assert bucket_violations("a.b", "a.b.abc") == []
    assert bucket_violations("a.b", "axb.abc") != []  # the '.' in the value matches only itself


# -- config from the pack --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "config", "props", "before", "after"),
    [
        ("fireworks-allowed-regions", {"allowedRegions": ["eu-west-1"]}, cluster(region="eu-west-1"), 1, 0),
        ("fireworks-allowed-regions", {"allowedRegions": ["eu-west-1"]}, CLUSTER, 0, 1),
        ("fireworks-allowed-aws-accounts", {"allowedAwsAccounts": [OTHER_ACCOUNT]}, CLUSTER, 0, 5),
        # Numbers in config arrive as floats too.
        ("fireworks-allowed-aws-accounts", {"allowedAwsAccounts": [999988887777.0]}, CLUSTER, 0, 5),
        ("fireworks-require-metrics", {"requireMetrics": False}, cluster(metricWriterRole=None), 1, 0),
        (
            "fireworks-require-load-balancer",
            {"requireLoadBalancer": False},
            cluster(loadBalancerControllerRole=""),
            1,
            0,
        ),
        ("fireworks-bucket-name", {"bucketNamePattern": "[a-z]+"}, cluster(storageBucketName="models"), 1, 0),
        ("fireworks-bucket-name", {"bucketNamePattern": "fw-{clusterId}"}, CLUSTER, 0, 1),
    ],
)
def test_config_overrides_the_default(
    name: str, config: dict[str, Any], props: dict[str, Any], before: int, after: int
) -> None:
    assert len(messages(props, name)) == before
    assert len(messages(props, name, config)) == after
    assert len(messages(props, name, {"unrelated": 1})) == before


@pytest.mark.parametrize(
    ("name", "config", "message"),
    [
        (
            "fireworks-bucket-name",
            {"bucketNamePattern": "(unclosed"},
            "The configured bucketNamePattern is unusable: not a regular expression",
        ),
        ("fireworks-allowed-regions", {"allowedRegions": "us-east-1"}, "The configured allowedRegions is not a list"),
        ("fireworks-allowed-aws-accounts", {"allowedAwsAccounts": 1.0}, "The configured allowedAwsAccounts is not"),
    ],
)
def test_broken_config_is_a_violation_not_a_crash(name: str, config: dict[str, Any], message: str) -> None:
    [found] = messages(CLUSTER, name, config)
    assert found.startswith(message)


# -- what a message may say -------------------------------------------------------------------------------------


def test_messages_name_properties_never_their_values() -> None:
    """Secrets reach a policy as plaintext, so no value from the resource may appear in a message."""
    secrets = {
        "region": "ap-secret-7",
        "awsAccountId": "555566667777",
        "storageBucketName": "bucket-secret-name",
        "fireworksManagerRole": role("manager-secret", "444455556666"),
        "inferenceRole": "inference-secret-name",
        "metricWriterRole": None,
        "loadBalancerControllerRole": None,
    }
    found = all_violations(analyzer_props({**cluster(**secrets), "clusterId": "id-secret"}))
    assert sorted(found) == sorted(POLICY_NAMES)
    text = "\n".join(m for ms in found.values() for m in ms)
    for value in [*(v for v in secrets.values() if v), "id-secret", "secret"]:
        assert value not in text
    for path in ("eksCluster.region", "eksCluster.awsAccountId", "eksCluster.inferenceRole", "storageBucketName"):
        assert path in text
