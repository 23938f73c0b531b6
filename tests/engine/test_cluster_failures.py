"""What a user sees when something goes wrong after submission, and that the next `pulumi up` recovers."""

from __future__ import annotations

import time
from collections.abc import Callable

from pulumi_fwcluster.client import Cluster, FireworksClient
from pulumi_fwcluster.testing.emulator import EmulatorHandle
from pulumi_fwcluster.testing.engine import Engine
from tests.engine.enginehelpers import ACCOUNT, API_KEY, AWS_ACCOUNT, cluster, slow_until_posts

NAME = f"accounts/{ACCOUNT}/clusters/prod-use1"


def posts(fw: EmulatorHandle) -> int:
    return sum(1 for r in fw.backend.requests if r.method == "POST")


def test_lost_create_reply_is_adopted_in_the_same_up(
    fireworks: EmulatorHandle, make_engine: Callable[..., Engine]
) -> None:
    engine = make_engine()
    fireworks.backend.drop_response_next(method="POST")
    plan = engine.up([cluster()])
    assert plan.ok, plan.render()
    assert fireworks.backend.cluster_names() == [NAME]
    assert posts(fireworks) == 1
    assert "the reply to this create was lost" in engine.stderr
    assert engine.stack.get("prod") is not None


def test_lost_reply_and_outage_then_up_again_gives_one_cluster(
    fireworks: EmulatorHandle, make_engine: Callable[..., Engine]
) -> None:
    fireworks.backend.provision_delay = 3.0  # provisioning takes minutes: the re-run finds it still CREATING
    engine = make_engine(**{"fireworks:maxRetries": "1"})
    fireworks.backend.drop_response_next(method="POST")
    fireworks.backend.fail_next(2, status=503, method="GET")  # the follow-up look-up fails too
    plan = engine.up([cluster()])
    assert not plan.ok
    message = plan.step("prod").error_message
    assert "Nothing was recorded" in message and "adopts the cluster while it is still CREATING" in message
    assert engine.stack.resources == []  # a failed create records nothing
    assert fireworks.backend.cluster_names() == [NAME]  # ...but the cluster was made

    plan = engine.up([cluster()])
    assert plan.ok, plan.render()
    assert "interrupted `pulumi up` submitted it" in engine.stderr
    assert fireworks.backend.cluster_names() == [NAME]
    state = engine.stack.get("prod")
    assert state is not None and state.id == NAME and state.outputs["state"] == "READY"
    assert engine.preview([cluster()]).ops() == {"prod": "same"}


def test_409_on_a_foreign_cluster_with_another_spec_is_left_alone(
    fireworks: EmulatorHandle, make_engine: Callable[..., Engine]
) -> None:
    client = FireworksClient(api_key=API_KEY, account_id=ACCOUNT, base_url=fireworks.base_url)
    client.create(
        "prod-use1", Cluster(display_name="Theirs", eks_cluster={"awsAccountId": AWS_ACCOUNT, "region": "eu-west-1"})
    )
    engine = make_engine()
    plan = engine.up([cluster()])
    step = plan.step("prod")
    assert not plan.ok and step.error is not None
    message = step.error_message
    assert "already exists with a different spec" in message
    assert "eksCluster.region" in message and "eksCluster.clusterName" in message
    assert [r.method for r in fireworks.backend.requests if r.method in ("DELETE", "PATCH")] == []
    assert client.get("prod-use1").display_name == "Theirs"
    assert engine.stack.resources == []


def test_an_existing_matching_cluster_is_adopted_only_when_the_program_opts_in(
    fireworks: EmulatorHandle, make_engine: Callable[..., Engine]
) -> None:
    client = FireworksClient(api_key=API_KEY, account_id=ACCOUNT, base_url=fireworks.base_url)
    desired = cluster()
    client.create("prod-use1", Cluster(display_name="Old name", eks_cluster=dict(desired.props["eksCluster"])))
    time.sleep(0.3)  # READY: made by hand, not by an interrupted run of this stack
    engine = make_engine()
    refused = engine.up([desired])
    assert not refused.ok and "already exists (READY)" in refused.step("prod").error_message
    assert engine.stack.resources == [] and client.get("prod-use1").display_name == "Old name"

    plan = engine.up([cluster(adopt_existing=True)])
    assert plan.ok, plan.render()
    assert "adopting it (adoptExisting)" in engine.stderr
    assert client.get("prod-use1").display_name == "Prod"  # brought in line with the program
    assert fireworks.backend.cluster_names() == [NAME]


def test_provisioning_failure_reports_status_and_cleans_up(
    fireworks: EmulatorHandle, make_engine: Callable[..., Engine]
) -> None:
    fireworks.backend.fail_provisioning(
        "prod-use1", "node group quota exceeded in us-east-1", code="RESOURCE_EXHAUSTED"
    )
    engine = make_engine()
    plan = engine.up([cluster()])
    step = plan.step("prod")
    assert not plan.ok
    message = step.error_message
    assert "FAILED" in message and "RESOURCE_EXHAUSTED" in message and "node group quota exceeded" in message
    assert "deletion was requested" in message and "pulumi up" in message
    fireworks.backend.delete_delay = 0
    assert fireworks.backend.cluster_names() == []
    assert engine.stack.resources == []


def test_create_timeout_then_up_again_resumes(fireworks: EmulatorHandle, make_engine: Callable[..., Engine]) -> None:
    with slow_until_posts(fireworks.backend, posts=2):
        plan = make_engine(**{"fireworks:createTimeout": "0.3s"}).up([cluster()])
        assert not plan.ok
        message = plan.step("prod").error_message
        assert "still CREATING" in message and "fireworks:createTimeout" in message
        assert "adopts it while it is still CREATING" in message and "adopt_existing=True" in message

        engine = make_engine()
        plan = engine.up([cluster()])
        assert plan.ok, plan.render()
    assert posts(fireworks) == 2  # the second is answered 409 and the cluster adopted
    assert fireworks.backend.cluster_names() == [NAME]
    state = engine.stack.get("prod")
    assert state is not None and state.outputs["state"] == "READY"


def test_rate_limit_and_unavailable_bursts_are_absorbed(
    fireworks: EmulatorHandle, make_engine: Callable[..., Engine]
) -> None:
    fireworks.backend.rate_limit_next(2, retry_after="1", method="POST")
    fireworks.backend.fail_next(2, status=503, method="GET")
    engine = make_engine()
    plan = engine.up([cluster()])
    assert plan.ok, plan.render()
    assert [r.status for r in fireworks.backend.requests if r.method == "POST"] == [429, 429, 200]
    assert fireworks.backend.cluster_names() == [NAME]


def test_bad_api_key_error_never_shows_the_key(fireworks: EmulatorHandle, make_engine: Callable[..., Engine]) -> None:
    bad = "fw-wrong-key-DO-NOT-PRINT"
    engine = make_engine(**{"fireworks:apiKey": bad})
    plan = engine.up([cluster()])
    assert not plan.ok
    text = plan.render() + (plan.step("prod").error or "") + engine.stderr + engine.stdout
    assert "UNAUTHENTICATED" in text
    assert bad not in text and API_KEY not in text
    assert engine.stack.resources == []


def test_delete_of_a_cluster_already_gone_succeeds(
    fireworks: EmulatorHandle, make_engine: Callable[..., Engine]
) -> None:
    engine = make_engine()
    assert engine.up([cluster()]).ok
    fireworks.backend.reset()
    plan = engine.destroy()
    assert plan.ok, plan.render()
    assert engine.stack.resources == []


def test_failed_delete_keeps_the_cluster_in_the_stack_and_destroy_retries(
    fireworks: EmulatorHandle, make_engine: Callable[..., Engine]
) -> None:
    engine = make_engine(**{"fireworks:maxRetries": "1"})
    assert engine.up([cluster()]).ok
    fireworks.backend.fail_next(2, status=500, method="DELETE")
    plan = engine.destroy()
    assert not plan.ok
    message = plan.step("prod").error_message
    assert "deleting" in message and "stays in the stack" in message and "pulumi destroy" in message
    assert engine.stack.get("prod") is not None and fireworks.backend.cluster_names() == [NAME]
    assert engine.destroy().ok
    assert engine.stack.resources == [] and fireworks.backend.cluster_names() == []


def test_update_of_a_cluster_deleted_out_of_band_says_to_refresh(
    fireworks: EmulatorHandle, make_engine: Callable[..., Engine]
) -> None:
    engine = make_engine()
    assert engine.up([cluster()]).ok
    fireworks.backend.reset()
    plan = engine.up([cluster(display_name="New")])
    assert not plan.ok
    message = plan.step("prod").error_message
    assert "no longer exists, so nothing was changed" in message and "pulumi refresh" in message
    assert [r.method for r in fireworks.backend.requests] == ["GET"]  # looked, found nothing, sent nothing
    state = engine.stack.get("prod")
    assert state is not None and state.outputs["displayName"] == "Prod"  # the old values stay
