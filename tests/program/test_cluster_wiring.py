"""A pulumi_aws Output (a mocked role's ARN) wired into a Fireworks Cluster reaches the real provider resolved."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws

from pulumi_fwcluster import Cluster, ClusterArgs, EksClusterArgs
from pulumi_fwcluster.testing.emulator import EmulatorHandle
from tests.program.proghelpers import ACCOUNT, CLUSTER_TYPE, Mocks, run_program, use_mocks


def test_role_arn_output_flows_into_the_cluster(emulator: EmulatorHandle) -> None:
    mocks = Mocks(serve_cluster=True)
    use_mocks(mocks)

    def program() -> pulumi.Output[Any]:
        role = aws.iam.Role(
            "inference",
            name="my-inference",
            assume_role_policy=json.dumps({"Version": "2012-10-17", "Statement": []}),
        )
        cluster = Cluster(
            "wired",
            ClusterArgs(
                cluster_id="wired",
                display_name="Wired",
                eks_cluster=EksClusterArgs(
                    aws_account_id=ACCOUNT, region="us-east-1", cluster_name="prod", inference_role=role.arn
                ),
            ),
        )

        def check(values: list[Any]) -> None:
            name, state, display_name, eks, status, create_time, account_id, cluster_id = values
            arn = f"arn:aws:iam::{ACCOUNT}:role/my-inference"
            (registered,) = mocks.of_type(CLUSTER_TYPE)
            assert registered.inputs["eksCluster"]["inferenceRole"] == arn  # resolved before the provider saw it
            assert mocks.provider_calls == ["check", "create"]
            assert (name, state) == ("accounts/acme/clusters/wired", "READY")
            # every snake_case attribute resolves from the provider's camelCase outputs
            assert (display_name, account_id, cluster_id) == ("Wired", "acme", "wired")
            assert eks["inferenceRole"] == arn and eks["awsAccountId"] == ACCOUNT  # nested keys stay camelCase
            assert status == {"code": "OK", "message": ""} and create_time
            live = emulator.backend.get_cluster("acme", "wired")
            assert live["eksCluster"]["inferenceRole"] == arn
            assert live["state"] == "READY"

        return pulumi.Output.all(
            cluster.name,
            cluster.state,
            cluster.display_name,
            cluster.eks_cluster,
            cluster.status,
            cluster.create_time,
            cluster.account_id,
            cluster.cluster_id,
        ).apply(check)

    run_program(program)
