"""The same lifecycle scenarios through both doors, the dynamic provider and the native one, so they cannot drift
apart: one core, two thin adapters, the same requests to Fireworks and the same answers to the engine."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pulumi_fwcluster.client import FireworksClient
from pulumi_fwcluster.testing.emulator import Backend, EmulatorHandle, serve
from pulumi_fwcluster.testing.engine import UNKNOWN, Engine, Stack
from tests.engine.enginehelpers import ACCOUNT, API_KEY, DOORS, Door, cluster

NAME = f"accounts/{ACCOUNT}/clusters/prod-use1"

pytestmark = pytest.mark.parametrize("door", DOORS)


def mutating(fw: EmulatorHandle, since: int = 0) -> list[str]:
    return [f"{r.method} {r.path.rsplit('/', 1)[-1]}" for r in fw.backend.requests[since:] if r.method != "GET"]


def client_for(fw: EmulatorHandle) -> FireworksClient:
    return FireworksClient(api_key=API_KEY, account_id=ACCOUNT, base_url=fw.base_url)


def test_the_whole_lifecycle(fireworks: EmulatorHandle, make_engine: Callable[..., Engine], door: Door) -> None:
    engine = make_engine(door=door)
    log = fireworks.backend

    plan = engine.preview([cluster(door=door, inference_role=UNKNOWN)])
    assert plan.ok and plan.ops() == {"prod": "create"}, plan.render()
    assert log.requests == []

    plan = engine.up([cluster(door=door)])
    assert plan.ok, plan.render()
    outputs = plan.step("prod").outputs
    assert plan.step("prod").id == NAME and outputs["state"] == "READY" and outputs["endpoint"] == fireworks.base_url
    assert mutating(fireworks) == ["POST clusters"]

    before = len(log.requests)
    assert engine.preview([cluster(door=door)]).ops() == {"prod": "same"}
    assert log.requests[before:] == []

    before = len(log.requests)
    plan = engine.up([cluster(door=door, display_name="Prod (us-east-1)")])
    assert plan.ok and plan.ops() == {"prod": "update"}, plan.render()
    assert [r.method for r in log.requests[before:]] == ["GET", "PATCH"]  # it looks (the same cluster?), then patches
    assert log.requests[before + 1].body == {"displayName": "Prod (us-east-1)"}

    before = len(log.requests)
    plan = engine.up([cluster(door=door, display_name="Prod (us-east-1)", region="us-west-2")])
    step = plan.step("prod")
    assert plan.ok and step.op == "replace" and step.delete_before_replace, plan.render()
    assert step.replaces == ["eksCluster.region"]
    assert mutating(fireworks, before) == ["DELETE prod-use1", "POST clusters"]

    before = len(log.requests)
    plan = engine.up([cluster(door=door, display_name="Prod (us-east-1)", region="us-west-2", cluster_id="prod-usw2")])
    assert plan.ok and not plan.step("prod").delete_before_replace, plan.render()
    assert mutating(fireworks, before) == ["POST clusters", "DELETE prod-use1"]

    client_for(fireworks).update("prod-usw2", {"displayName": "Renamed in the UI"})
    plan = engine.refresh()
    assert plan.ops() == {"prod": "refresh"}, plan.render()
    assert engine.stack.get("prod").inputs["displayName"] == "Renamed in the UI"
    plan = engine.preview(
        [cluster(door=door, display_name="Prod (us-east-1)", region="us-west-2", cluster_id="prod-usw2")]
    )
    assert plan.ops() == {"prod": "update"}, plan.render()

    plan = engine.destroy()
    assert plan.ok and plan.ops() == {"prod": "delete"}, plan.render()
    assert fireworks.backend.cluster_names() == [] and engine.stack.resources == []


def test_a_second_stack_is_refused_until_it_opts_in(
    fireworks: EmulatorHandle, make_engine: Callable[..., Engine], door: Door
) -> None:
    assert make_engine(door=door).up([cluster(door=door)]).ok
    second = make_engine(door=door)
    refused = second.up([cluster(door=door)])
    assert not refused.ok and "already exists (READY)" in refused.step("prod").error_message
    assert second.stack.resources == []
    assert second.up([cluster(door=door, adopt_existing=True)]).ok
    assert second.stack.get("prod").id == NAME


def test_a_lost_create_reply_is_finished_in_the_same_up(
    fireworks: EmulatorHandle, make_engine: Callable[..., Engine], door: Door
) -> None:
    fireworks.backend.drop_response_next(method="POST")
    engine = make_engine(door=door)
    assert engine.up([cluster(door=door)]).ok
    assert fireworks.backend.cluster_names() == [NAME]
    assert [r.method for r in fireworks.backend.requests].count("POST") == 1


def test_failed_after_ready_is_replaced_after_a_refresh(
    fireworks: EmulatorHandle, make_engine: Callable[..., Engine], door: Door
) -> None:
    engine = make_engine(door=door)
    assert engine.up([cluster(door=door)]).ok
    fireworks.backend.fail_cluster(ACCOUNT, "prod-use1", "node group deleted")
    assert engine.refresh().ok
    step = engine.preview([cluster(door=door)]).step("prod")
    assert step.op == "replace" and step.delete_before_replace and step.replaces == ["state"]
    assert engine.up([cluster(door=door)]).ok
    assert engine.stack.get("prod").outputs["state"] == "READY"


def test_another_endpoint_never_calls_the_cluster_gone(
    fireworks: EmulatorHandle, make_engine: Callable[..., Engine], door: Door
) -> None:
    engine = make_engine(door=door)
    assert engine.up([cluster(door=door)]).ok
    with serve(Backend(api_keys={API_KEY: None})) as elsewhere:
        wrong = make_engine(door=door, **{"fireworks:baseUrl": elsewhere.base_url})
        wrong.stack = Stack(path=engine.stack.path)
        plan = wrong.refresh()
        assert not plan.ok and elsewhere.base_url in plan.step("prod").error_message
    assert Stack(path=engine.stack.path).get("prod").id == NAME


def test_check_failures_name_the_same_paths_without_a_request(
    fireworks: EmulatorHandle, make_engine: Callable[..., Engine], door: Door
) -> None:
    bad = cluster(door=door, cluster_id="Prod", region="US East", inference_role="inference", display_name="x" * 64)
    plan = make_engine(door=door).preview([bad])
    assert sorted(p for p, _ in plan.step("prod").failures) == [
        "clusterId",
        "displayName",
        "eksCluster.inferenceRole",
        "eksCluster.region",
    ]
    assert fireworks.backend.requests == []


def test_a_new_cluster_id_whose_create_reply_is_lost_still_replaces(
    fireworks: EmulatorHandle, make_engine: Callable[..., Engine], door: Door
) -> None:
    # Found by the lifecycle model: the Check of the new id once looked like a replacement that keeps its name.
    engine = make_engine(door=door)
    assert engine.up([cluster(door=door)]).ok
    fireworks.backend.drop_response_next(method="POST")
    plan = engine.up([cluster(door=door, cluster_id="prod-use1-b")])
    assert plan.ok and not plan.step("prod").delete_before_replace, plan.render()
    assert fireworks.backend.cluster_names() == [f"accounts/{ACCOUNT}/clusters/prod-use1-b"]
