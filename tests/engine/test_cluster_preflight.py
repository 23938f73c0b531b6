"""The AWS preflight inside the provider, through the real provider server, against moto and the emulator."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from pulumi_fwcluster.testing.emulator import EmulatorHandle
from pulumi_fwcluster.testing.engine import UNKNOWN, Desired, Engine
from tests.engine.enginehelpers import AWS_ACCOUNT, cluster


def byoc(eks: dict[str, str], **overrides: Any) -> Desired:
    fields: dict[str, Any] = {
        "cluster_name": eks["clusterName"],
        "storage_bucket_name": eks["storageBucketName"],
        "fireworks_manager_role": eks["fireworksManagerRole"],
        "inference_role": eks["inferenceRole"],
        "metric_writer_role": eks["metricWriterRole"],
        "load_balancer_controller_role": eks["loadBalancerControllerRole"],
    }
    fields.update(overrides)
    return cluster(**fields)


def broken_role(eks: dict[str, str]) -> str:
    return eks["inferenceRole"].replace(":role/", ":role/missing-")


def test_a_correct_setup_passes_preflight_and_is_created(
    fireworks: EmulatorHandle, aws: dict[str, Any], make_engine: Callable[..., Engine]
) -> None:
    engine = make_engine(aws["env"], **{"fireworks:preflight": "enforce"})
    plan = engine.up([byoc(aws["eks"])])
    assert plan.ok, plan.render()
    assert "preflight" not in engine.stderr  # no failure and no warning was logged


def test_preview_with_a_broken_role_fails_on_that_property_before_any_fireworks_request(
    fireworks: EmulatorHandle, aws: dict[str, Any], make_engine: Callable[..., Engine]
) -> None:
    engine = make_engine(aws["env"], **{"fireworks:preflight": "enforce"})
    plan = engine.preview([byoc(aws["eks"], inference_role=broken_role(aws["eks"]))])
    assert not plan.ok
    failures = plan.step("prod").failures
    assert [p for p, _ in failures] == ["eksCluster.inferenceRole"], plan.render()
    assert "does not exist" in failures[0][1]
    assert fireworks.backend.requests == []


def test_warn_mode_logs_and_does_not_block(
    fireworks: EmulatorHandle, aws: dict[str, Any], make_engine: Callable[..., Engine]
) -> None:
    engine = make_engine(aws["env"], **{"fireworks:preflight": "warn"})
    plan = engine.preview([byoc(aws["eks"], inference_role=broken_role(aws["eks"]))])
    assert plan.ok and plan.ops() == {"prod": "create"}, plan.render()
    assert "eksCluster.inferenceRole" in engine.stderr and "does not exist" in engine.stderr


def test_off_mode_makes_no_aws_call(fireworks: EmulatorHandle, make_engine: Callable[..., Engine]) -> None:
    dead_aws = {"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y"}
    engine = make_engine(dead_aws, **{"fireworks:preflight": "off"})
    plan = engine.up([cluster()])
    assert plan.ok, plan.render()
    assert "preflight" not in engine.stderr


def test_unknown_role_arns_skip_preflight(
    fireworks: EmulatorHandle, aws: dict[str, Any], make_engine: Callable[..., Engine]
) -> None:
    engine = make_engine(aws["env"], **{"fireworks:preflight": "enforce"})
    # the bucket is wrong too, but with a value still unknown the preflight waits for `up`
    plan = engine.preview([byoc(aws["eks"], inference_role=UNKNOWN, storage_bucket_name="no-such-bucket-anywhere")])
    assert plan.ok and plan.ops() == {"prod": "create"}, plan.render()


def test_missing_credentials_in_enforce_mode_is_one_clear_failure(
    fireworks: EmulatorHandle, aws: dict[str, Any], make_engine: Callable[..., Engine]
) -> None:
    no_credentials = {**aws["env"], "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""}
    engine = make_engine(no_credentials, **{"fireworks:preflight": "enforce"})
    plan = engine.preview([byoc(aws["eks"])])
    assert not plan.ok
    failures = plan.step("prod").failures
    assert len(failures) == 1, plan.render()
    reason = failures[0][1]
    assert "credentials" in reason.lower() and "fireworks:preflight" in reason
    assert fireworks.backend.requests == []


def test_unchanged_preview_runs_no_preflight(
    fireworks: EmulatorHandle, aws: dict[str, Any], make_engine: Callable[..., Engine]
) -> None:
    engine = make_engine(aws["env"], **{"fireworks:preflight": "enforce"})
    assert engine.up([byoc(aws["eks"])]).ok
    before = len(fireworks.backend.requests)
    # AWS is now unreachable: a preflight would fail, so a clean plan proves none ran
    offline = make_engine(
        {**aws["env"], "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}, **{"fireworks:preflight": "enforce"}
    )
    offline.stack.resources = engine.stack.resources
    plan = offline.preview([byoc(aws["eks"])])
    assert plan.ok and plan.ops() == {"prod": "same"}, plan.render()
    assert len(fireworks.backend.requests) == before
    assert AWS_ACCOUNT in aws["eks"]["inferenceRole"]


def test_the_preflight_assumes_the_stacks_aws_assume_roles(
    fireworks: EmulatorHandle, aws: dict[str, Any], make_engine: Callable[..., Engine]
) -> None:
    # A role in another account: once assumed, the credentials are that account's, and the preflight says so.
    foreign = json.dumps([{"roleArn": "arn:aws:iam::111111111111:role/deployer", "sessionName": "ci"}])
    engine = make_engine(aws["env"], **{"fireworks:preflight": "enforce", "aws:assumeRoles": foreign})
    plan = engine.preview([byoc(aws["eks"])])
    assert not plan.ok
    assert [p for p, _ in plan.step("prod").failures] == ["eksCluster.awsAccountId"], plan.render()
    assert "111111111111" in plan.step("prod").failures[0][1]

    # The legacy single-role key works the same way, and a role in the cluster's own account passes.
    own = json.dumps({"roleArn": f"arn:aws:iam::{AWS_ACCOUNT}:role/deployer", "durationSeconds": 900})
    engine = make_engine(aws["env"], **{"fireworks:preflight": "enforce", "aws:assumeRole": own})
    plan = engine.preview([byoc(aws["eks"])])
    assert plan.ok, plan.render()


def test_the_preflight_uses_the_stacks_aws_profile(
    fireworks: EmulatorHandle, aws: dict[str, Any], make_engine: Callable[..., Engine]
) -> None:
    engine = make_engine(aws["env"], **{"fireworks:preflight": "enforce", "aws:profile": "no-such-profile"})
    plan = engine.preview([byoc(aws["eks"])])
    assert not plan.ok
    (failure,) = plan.step("prod").failures
    assert "no-such-profile" in failure[1] and "not found" in failure[1], plan.render()
    assert fireworks.backend.requests == []
