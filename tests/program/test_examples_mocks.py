"""Each example program builds its whole resource graph under set_mocks, and its Fireworks Cluster is created by
the real provider (unpickled from `__provider` by the mocks) against the emulator until READY."""

from __future__ import annotations

import re
import runpy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pulumi
import pytest

from pulumi_fwcluster.testing.emulator import EmulatorHandle
from tests.program.proghelpers import ACCOUNT, CLUSTER_TYPE, Mocks, MotoMirror, run_program, use_mocks

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def project_of(example: str) -> str:
    match = re.search(r"^name:\s*(\S+)", (EXAMPLES / example / "Pulumi.yaml").read_text(), re.MULTILINE)
    assert match, f"{example}/Pulumi.yaml has no name"
    return match[1]


@pytest.fixture
def exports(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """What the program passes to pulumi.export; the stack config is emptied afterwards."""
    out: dict[str, Any] = {}
    monkeypatch.setattr(pulumi, "export", lambda name, value: out.__setitem__(name, value))
    yield out
    pulumi.runtime.set_all_config({})


def run_example(example: str, config: dict[str, str], mocks: Mocks) -> None:
    project = project_of(example)
    use_mocks(mocks, project=project, stack="dev")
    pulumi.runtime.set_all_config({f"{project}:{k}": v for k, v in config.items()})
    runpy.run_path(str(EXAMPLES / example / "__main__.py"), run_name="__main__")


def test_eks_byoc_passes_preflight_in_moto_and_becomes_ready(
    emulator: EmulatorHandle, moto_session: boto3.Session, exports: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every AWS resource is mirrored into moto as registered, and the provider's preflight is enforced: the
    Cluster is only created if our own checks accept what the example built."""
    monkeypatch.setenv("FWCLUSTER_PREFLIGHT", "enforce")
    mocks = Mocks(serve_cluster=True, mirror=MotoMirror(moto_session))

    def program() -> pulumi.Output[Any]:
        run_example("eks-byoc", {"clusterName": "byoc-test", "clusterId": "byoc-test"}, mocks)

        def check(values: list[Any]) -> None:
            name, state = values
            assert name == "accounts/acme/clusters/byoc-test"
            assert state == "READY"
            (cluster,) = mocks.of_type(CLUSTER_TYPE)
            eks = cluster.inputs["eksCluster"]
            assert eks["clusterName"] == "byoc-test"
            assert eks["inferenceRole"] == f"arn:aws:iam::{ACCOUNT}:role/FireworksInferenceRole-byoc-test"
            assert mocks.provider_calls == ["check", "create"]
            assert emulator.backend.cluster_names() == ["accounts/acme/clusters/byoc-test"]
            subnets = mocks.of_type("aws:ec2/subnet:Subnet")
            assert sorted(s.inputs["availabilityZone"] for s in subnets) == ["us-east-1a", "us-east-1b"]
            (node_group,) = mocks.of_type("aws:eks/nodeGroup:NodeGroup")
            assert node_group.inputs["clusterName"] == "byoc-test"

        return pulumi.Output.all(exports["name"], exports["state"]).apply(check)

    run_program(program)


def test_existing_eks_is_looked_up_and_becomes_ready(emulator: EmulatorHandle, exports: dict[str, Any]) -> None:
    mocks = Mocks(serve_cluster=True)

    def program() -> pulumi.Output[Any]:
        run_example(
            "existing-eks",
            {"eksClusterName": "legacy", "clusterId": "legacy", "managerRoleArn": f"arn:aws:iam::{ACCOUNT}:role/Mgr"},
            mocks,
        )

        def check(values: list[Any]) -> None:
            name, state = values
            assert (name, state) == ("accounts/acme/clusters/legacy", "READY")
            assert ("aws:eks/getCluster:getCluster", {"name": "legacy"}) in mocks.calls
            (cluster,) = mocks.of_type(CLUSTER_TYPE)
            eks = cluster.inputs["eksCluster"]
            assert eks["fireworksManagerRole"] == f"arn:aws:iam::{ACCOUNT}:role/Mgr"
            assert (eks["awsAccountId"], eks["region"], eks["clusterName"]) == (ACCOUNT, "us-east-1", "legacy")
            roles = {r.inputs["name"] for r in mocks.of_type("aws:iam/role:Role")}
            assert roles == {
                "FireworksInferenceRole-legacy",
                "FireworksMetricWriterRole-legacy",
                "FireworksEKSLoadBalancerControllerRole-legacy",
            }

        return pulumi.Output.all(exports["name"], exports["state"]).apply(check)

    run_program(program)


def test_eks_byoc_is_refused_by_preflight_when_the_oidc_provider_is_missing(
    emulator: EmulatorHandle, moto_session: boto3.Session, exports: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The control for the test above: the same program, with the OIDC provider left out of moto."""
    monkeypatch.setenv("FWCLUSTER_PREFLIGHT", "enforce")
    skip = frozenset({"aws:iam/openIdConnectProvider:OpenIdConnectProvider"})
    mocks = Mocks(serve_cluster=True, mirror=MotoMirror(moto_session, skip=skip))

    def program() -> pulumi.Output[Any]:
        run_example("eks-byoc", {"clusterName": "byoc-bad", "clusterId": "byoc-bad"}, mocks)
        return pulumi.Output.all(exports["name"], exports["state"])

    with pytest.raises(Exception, match="has no IAM OIDC provider"):
        run_program(program)
    assert emulator.backend.cluster_names() == []
