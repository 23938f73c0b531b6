"""The Cluster resource through the real provider server, in the engine's call order, against the emulator."""

from __future__ import annotations

from collections.abc import Callable

from pulumi_fwcluster.client import FireworksClient
from pulumi_fwcluster.testing.emulator import EmulatorHandle
from pulumi_fwcluster.testing.engine import UNKNOWN, Engine
from tests.engine.enginehelpers import ACCOUNT, API_KEY, INFERENCE, cluster

NAME = f"accounts/{ACCOUNT}/clusters/prod-use1"


def test_full_lifecycle(fireworks: EmulatorHandle, make_engine: Callable[..., Engine]) -> None:
    engine = make_engine()
    log = fireworks.backend

    # preview of a new cluster whose role ARN comes from a resource not created yet
    plan = engine.preview([cluster(inference_role=UNKNOWN)])
    assert plan.ok and plan.ops() == {"prod": "create"}, plan.render()
    assert log.requests == []

    # up
    plan = engine.up([cluster()])
    assert plan.ok, plan.render()
    step = plan.step("prod")
    assert step.id == NAME
    assert step.outputs["state"] == "READY"
    assert step.outputs["status"] == {"code": "OK", "message": ""}
    assert step.outputs["createTime"] and step.outputs["updateTime"]
    for key, value in step.inputs.items():  # outputs include every input
        if not key.startswith("__"):
            assert step.outputs[key] == value
    assert mutating_since(fireworks, 0) == ["POST clusters"]

    # an unchanged preview costs nothing
    before = len(log.requests)
    plan = engine.preview([cluster()])
    assert plan.ops() == {"prod": "same"}, plan.render()
    assert len(log.requests) == before

    # displayName: one PATCH, in place
    before = len(log.requests)
    plan = engine.up([cluster(display_name="Prod (us-east-1)")])
    assert plan.ops() == {"prod": "update"} and plan.step("prod").diffs == ["displayName"], plan.render()
    assert mutating_since(fireworks, before) == ["PATCH prod-use1"]
    # one look (is it still the recorded cluster?), then the PATCH, whose reply says READY: no poll repeats it
    assert [r.method for r in log.requests[before:]] == ["GET", "PATCH"]
    assert fireworks.backend.requests[before + 1].body == {"displayName": "Prod (us-east-1)"}
    assert plan.step("prod").outputs["displayName"] == "Prod (us-east-1)"
    assert plan.step("prod").outputs["eksCluster"]["inferenceRole"] == INFERENCE  # update returns every output

    # region: replace, deleting first because the id stays
    before = len(log.requests)
    plan = engine.preview([cluster(display_name="Prod (us-east-1)", region="us-west-2")])
    assert plan.ops() == {"prod": "replace"} and plan.step("prod").delete_before_replace, plan.render()
    assert "-+ replace" in plan.render() and plan.step("prod").replaces == ["eksCluster.region"]
    assert mutating_since(fireworks, before) == []
    plan = engine.up([cluster(display_name="Prod (us-east-1)", region="us-west-2")])
    assert plan.ok, plan.render()
    assert mutating_since(fireworks, before) == ["DELETE prod-use1", "POST clusters"]
    assert plan.step("prod").outputs["eksCluster"]["region"] == "us-west-2"

    # clusterId: replace, creating the new one first
    before = len(log.requests)
    plan = engine.up([cluster(display_name="Prod (us-east-1)", region="us-west-2", cluster_id="prod-usw2")])
    assert plan.ops() == {"prod": "replace"} and not plan.step("prod").delete_before_replace, plan.render()
    assert mutating_since(fireworks, before) == ["POST clusters", "DELETE prod-use1"]
    assert fireworks.backend.cluster_names() == [f"accounts/{ACCOUNT}/clusters/prod-usw2"]

    # destroy
    plan = engine.destroy()
    assert plan.ok and plan.ops() == {"prod": "delete"}, plan.render()
    assert fireworks.backend.cluster_names() == []
    assert engine.stack.resources == []


def mutating_since(fw: EmulatorHandle, index: int) -> list[str]:
    return [f"{r.method} {r.path.rsplit('/', 1)[-1]}" for r in fw.backend.requests[index:] if r.method != "GET"]


def client_for(fw: EmulatorHandle) -> FireworksClient:
    return FireworksClient(api_key=API_KEY, account_id=ACCOUNT, base_url=fw.base_url)


def test_refresh_shows_out_of_band_drift_then_deletion(
    fireworks: EmulatorHandle, make_engine: Callable[..., Engine]
) -> None:
    engine = make_engine()
    assert engine.up([cluster()]).ok
    client_for(fireworks).update("prod-use1", {"displayName": "Renamed in the UI"})

    plan = engine.refresh()
    assert plan.ops() == {"prod": "refresh"} and "displayName" in plan.step("prod").diffs, plan.render()
    state = engine.stack.get("prod")
    assert state is not None and state.inputs["displayName"] == "Renamed in the UI"
    # the program still says "Prod", so the next preview puts it back in place
    plan = engine.preview([cluster()])
    assert plan.ops() == {"prod": "update"} and plan.step("prod").diffs == ["displayName"], plan.render()

    client_for(fireworks).delete("prod-use1")
    fireworks.backend.delete_delay = 0
    plan = engine.refresh()
    assert plan.ops() == {"prod": "refresh-delete"}, plan.render()
    assert engine.stack.resources == []


def test_get_reads_an_existing_cluster_without_managing_it(
    fireworks: EmulatorHandle, make_engine: Callable[..., Engine]
) -> None:
    engine = make_engine()
    assert engine.up([cluster()]).ok
    other = make_engine()
    step = other.get("imported", NAME, cluster().provider, type_=cluster().type_)
    assert step.ok, step.render()
    assert step.outputs["displayName"] == "Prod" and step.outputs["state"] == "READY"
    assert step.outputs["eksCluster"]["inferenceRole"] == INFERENCE
    assert other.stack.resources == []


def test_parallel_up_of_many_clusters(fireworks: EmulatorHandle, make_engine: Callable[..., Engine]) -> None:
    engine = make_engine()
    desired = [cluster(f"c{i}", cluster_id=f"c{i}", display_name=f"C{i}") for i in range(6)]
    plan = engine.up(desired, parallel=True)
    assert plan.ok and set(plan.ops().values()) == {"create"}, plan.render()
    assert len(fireworks.backend.cluster_names()) == 6
    assert engine.destroy().ok


def test_a_manager_role_the_api_fills_in_is_not_drift(
    fireworks: EmulatorHandle, make_engine: Callable[..., Engine]
) -> None:
    fireworks.backend.default_manager_role = True  # the real API fills in arn:...:role/FireworksManagerRole
    try:
        engine = make_engine()
        assert engine.up([cluster()]).ok
        live = client_for(fireworks).get("prod-use1")
        assert live.eks_cluster and live.eks_cluster["fireworksManagerRole"].endswith(":role/FireworksManagerRole")
        plan = engine.refresh()
        assert "eksCluster" not in plan.step("prod").diffs, plan.render()
        assert engine.preview([cluster()]).ops() == {"prod": "same"}
        # and a program that opts in adopts the cluster though the API filled the role in
        engine.stack.resources = []
        assert engine.up([cluster(adopt_existing=True)]).ok
        assert fireworks.backend.cluster_names() == [NAME]
    finally:
        fireworks.backend.default_manager_role = False
