"""examples/policy-pack run the way `pulumi preview --policy-pack` runs it, and driven over the Analyzer protocol.

The CLI starts `python -u -m pulumi.policy <engine address> .` in the pack's directory, reads the port from its
stdout, then calls GetAnalyzerInfo, Configure (the pack config, every policy's level and properties resolved) and
Analyze once per resource. The engine address is parsed and never used by pulumi.policy or pulumi_policy (and
pulumi.log falls back to stderr without an engine), so an address nobody listens on stands in for it.
"""

from __future__ import annotations

import os
import selectors
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import empty_pb2, json_format, struct_pb2  # type: ignore[import-untyped,unused-ignore]
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc
from pulumi_policy.deserialize import SPECIAL_SECRET_SIG, SPECIAL_SIG_KEY
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from pulumi_fwcluster.policy import POLICY_NAMES
from tests.policy.test_rules import ACCOUNT, CLUSTER, DYNAMIC, NATIVE, OTHER_ACCOUNT, cluster, role

PACK = Path(__file__).resolve().parents[2] / "examples" / "policy-pack"
UNUSED_ENGINE = "127.0.0.1:1"


@pytest.fixture
def pack() -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    # What the CLI puts in the pack's environment (PulumiPolicy analyzer options), so Analyze configures the runtime.
    env = {
        **os.environ,
        "PULUMI_PROJECT": "proj",
        "PULUMI_STACK": "dev",
        "PULUMI_DRY_RUN": "true",
        "PULUMI_CONFIG": "{}",
    }
    proc = subprocess.Popen(
        [sys.executable, "-u", "-m", "pulumi.policy", UNUSED_ENGINE, "."],
        cwd=PACK,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        port = _read_port(proc)
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            grpc.channel_ready_future(channel).result(timeout=10)
            yield analyzer_pb2_grpc.AnalyzerStub(channel)
    finally:
        proc.kill()
        proc.wait(timeout=5)
        assert proc.stderr is not None
        stderr = proc.stderr.read()
        proc.stderr.close()
        assert proc.stdout is not None
        proc.stdout.close()
    assert stderr == ""  # nothing logged: no engine was needed


def _read_port(proc: subprocess.Popen[str]) -> int:
    assert proc.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        if not selector.select(timeout=20):
            pytest.fail("the policy pack printed no port within 20 s")
    line = proc.stdout.readline().strip()
    if not line.isdigit():
        assert proc.stderr is not None
        proc.kill()
        pytest.fail(f"the policy pack did not start: stdout {line!r}, stderr:\n{proc.stderr.read()}")
    return int(line)


def _struct(props: Mapping[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(props)
    return struct


def analyze(
    stub: analyzer_pb2_grpc.AnalyzerStub, props: Mapping[str, Any], resource_type: str = DYNAMIC
) -> list[analyzer_pb2.AnalyzeDiagnostic]:
    urn = f"urn:pulumi:dev::proj::{resource_type}::prod"
    request = analyzer_pb2.AnalyzeRequest(type=resource_type, name="prod", urn=urn, properties=_struct(props))
    return list(stub.Analyze(request, timeout=10).diagnostics)


def by_policy(diagnostics: list[analyzer_pb2.AnalyzeDiagnostic]) -> dict[str, int]:
    return {d.policyName: d.enforcementLevel for d in diagnostics}


def test_the_example_pack_over_the_analyzer_protocol(pack: analyzer_pb2_grpc.AnalyzerStub) -> None:
    MANDATORY, ADVISORY, DISABLED = analyzer_pb2.MANDATORY, analyzer_pb2.ADVISORY, analyzer_pb2.DISABLED

    info = pack.GetAnalyzerInfo(empty_pb2.Empty(), timeout=10)
    assert info.name == "fireworks-clusters"
    assert info.supportsConfig
    assert sorted(p.name for p in info.policies) == sorted(POLICY_NAMES)
    assert {p.enforcementLevel for p in info.policies} == {MANDATORY}
    assert {p.policy_type for p in info.policies} == {analyzer_pb2.POLICY_TYPE_RESOURCE}
    schemas = {p.name: json_format.MessageToDict(p.configSchema.properties) for p in info.policies}
    assert schemas["fireworks-allowed-regions"]["allowedRegions"]["default"] == ["us-east-1", "us-west-2"]
    assert schemas["fireworks-allowed-aws-accounts"]["allowedAwsAccounts"]["default"] == [ACCOUNT]
    assert schemas["fireworks-require-metrics"]["requireMetrics"]["default"] is True

    # A compliant cluster through the native door, and things no rule looks at: no diagnostics at all.
    assert analyze(pack, CLUSTER, NATIVE) == []
    assert analyze(pack, {"bucket": "models", "region": "eu-west-1"}, "aws:s3/bucket:Bucket") == []
    fake = {"clusterId": "t", "fakeCluster": {"projectId": "p", "location": "l", "clusterName": "c"}}
    assert analyze(pack, fake) == []

    # Unknown values during a preview: skipped, not even the "can't run policy during preview" advisory.
    unknowns = cluster(region=UNKNOWN_STRING_VALUE, inferenceRole=UNKNOWN_STRING_VALUE)
    assert analyze(pack, unknowns) == []
    assert analyze(pack, {**CLUSTER, "eksCluster": UNKNOWN_STRING_VALUE}) == []

    # A violating cluster through the dynamic door; the engine sends secrets wrapped, the pack sees plaintext.
    secret_role = role("secret-inference-role", OTHER_ACCOUNT)
    bad = cluster(
        region="eu-west-1",
        inferenceRole={SPECIAL_SIG_KEY: SPECIAL_SECRET_SIG, "value": secret_role},
        metricWriterRole=None,
        loadBalancerControllerRole=None,
        storageBucketName="models",
    )
    diagnostics = analyze(pack, bad)
    assert by_policy(diagnostics) == dict.fromkeys(POLICY_NAMES, MANDATORY)
    messages = {d.policyName: d.message for d in diagnostics}
    assert messages["fireworks-allowed-aws-accounts"] == (
        "Fireworks clusters, and the IAM roles they use, are in the allowed AWS accounts.\n"
        f"eksCluster.inferenceRole is a role in an AWS account that is not allowed; allowed accounts: {ACCOUNT}."
    )
    assert all(secret_role not in m and OTHER_ACCOUNT not in m for m in messages.values())
    assert {d.policyPackName for d in diagnostics} == {"fireworks-clusters"}

    # The pack config as the CLI sends it: every policy with its resolved level and properties (schema defaults,
    # then the config file). Here the file moved one region rule to advisory with another list, and switched the
    # load balancer rule off by its level.
    config: dict[str, analyzer_pb2.PolicyConfig] = {}
    for policy in info.policies:
        properties = {k: v["default"] for k, v in schemas[policy.name].items()}
        config[policy.name] = analyzer_pb2.PolicyConfig(
            enforcementLevel=policy.enforcementLevel, properties=_struct(properties)
        )
    config["fireworks-allowed-regions"] = analyzer_pb2.PolicyConfig(
        enforcementLevel=ADVISORY, properties=_struct({"allowedRegions": ["eu-west-1"]})
    )
    config["fireworks-require-load-balancer"].enforcementLevel = DISABLED
    pack.Configure(analyzer_pb2.ConfigureAnalyzerRequest(policyConfig=config), timeout=10)

    assert by_policy(analyze(pack, CLUSTER)) == {"fireworks-allowed-regions": ADVISORY}
    in_eu = cluster(
        region="eu-west-1", storageBucketName=f"fireworks-{ACCOUNT}-eu-west-1", loadBalancerControllerRole=None
    )
    assert analyze(pack, in_eu) == []
    assert by_policy(analyze(pack, cluster(region="eu-west-1"))) == {"fireworks-bucket-name": MANDATORY}
