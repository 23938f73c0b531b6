"""Ordinary operations that must never lose, co-own or silently replace a serving cluster, played through the real
provider server in the engine's order against the emulator (issue: "Never lose a cluster")."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from pulumi_fwcluster.client import Cluster, FireworksClient
from pulumi_fwcluster.testing.emulator import Backend, EmulatorHandle, serve
from pulumi_fwcluster.testing.engine import Engine, EngineInterrupted, Stack
from tests.engine.enginehelpers import (
    ACCOUNT,
    API_KEY,
    AWS_ACCOUNT,
    DOORS,
    INFERENCE,
    Door,
    cluster,
    slow_until_posts,
)

NAME = f"accounts/{ACCOUNT}/clusters/prod-use1"


def client_for(fw: EmulatorHandle, key: str = API_KEY) -> FireworksClient:
    return FireworksClient(api_key=key, account_id=ACCOUNT, base_url=fw.base_url)


def mutating(fw: EmulatorHandle, since: int = 0) -> list[str]:
    return [f"{r.method} {r.path.rsplit('/', 1)[-1]}" for r in fw.backend.requests[since:] if r.method != "GET"]


# -- 1. adoption only where it is provably ours ---------------------------------------------------------------


def test_rename_without_alias_is_refused_and_touches_nothing(
    fireworks: EmulatorHandle, make_engine: Callable[..., Engine]
) -> None:
    engine = make_engine()
    assert engine.up([cluster("prod")]).ok
    before = len(fireworks.backend.requests)

    plan = engine.up([cluster("prod-renamed")])  # same program, new logical name: a new URN
    step = plan.step("prod-renamed")
    assert not plan.ok and step.op == "create"
    message = step.error_message
    assert "already exists" in message and "aliases=[...]" in message and "adopt_existing=True" in message
    assert "nothing was changed" in message
    # the engine stops at the failed create, so the old URN is not deleted: same cluster, same state
    assert mutating(fireworks, before) == ["POST clusters"]
    assert fireworks.backend.cluster_names() == [NAME]
    assert client_for(fireworks).get("prod-use1").state == "READY"
    assert [r.name for r in engine.stack.resources] == ["prod"] and engine.stack.get("prod").id == NAME


def test_rename_with_an_alias_neither_creates_nor_deletes(
    fireworks: EmulatorHandle, make_engine: Callable[..., Engine]
) -> None:
    engine = make_engine()
    assert engine.up([cluster("prod")]).ok
    before = len(fireworks.backend.requests)
    renamed = cluster("prod-renamed")
    renamed.aliases = ["prod"]

    preview = engine.preview([renamed])
    assert preview.ops() == {"prod-renamed": "same"}, preview.render()
    plan = engine.up([renamed])
    assert plan.ok and plan.ops() == {"prod-renamed": "same"}, plan.render()
    assert fireworks.backend.requests[before:] == []  # not even a GET
    assert [r.name for r in engine.stack.resources] == ["prod-renamed"]
    assert fireworks.backend.cluster_names() == [NAME]
    assert engine.destroy().ok and fireworks.backend.cluster_names() == []


def test_a_second_stack_is_refused_and_an_opt_in_takes_over(
    fireworks: EmulatorHandle, make_engine: Callable[..., Engine]
) -> None:
    first = make_engine()
    assert first.up([cluster()]).ok
    second = make_engine()  # another stack (its own state), same program

    refused = second.up([cluster()])
    assert not refused.ok and "already exists (READY)" in refused.step("prod").error_message
    assert second.stack.resources == [] and fireworks.backend.cluster_names() == [NAME]

    # The opt-in: this stack takes the cluster over; destroying it then deletes the cluster.
    taken = second.up([cluster(adopt_existing=True)])
    assert taken.ok, taken.render()
    assert "adopting it (adoptExisting)" in second.stderr
    state = second.stack.get("prod")
    assert state.id == NAME and state.inputs["adoptExisting"] is True and state.outputs["state"] == "READY"
    assert second.destroy().ok
    assert fireworks.backend.cluster_names() == []


@pytest.mark.parametrize("door", DOORS)
def test_an_interrupted_up_whose_cluster_is_still_creating_is_adopted(
    fireworks: EmulatorHandle, make_engine: Callable[..., Engine], door: Door
) -> None:
    engine = make_engine(door=door)
    with slow_until_posts(fireworks.backend, posts=2):
        # The CLI dies while the create waits: the POST went out, the engine records only a pending create.
        engine.kill_when("Create", "prod", ready=lambda: bool(fireworks.backend.cluster_names()), interrupt=True)
        with pytest.raises(EngineInterrupted):
            engine.up([cluster(door=door)])
        assert engine.stack.resources == [] and fireworks.backend.cluster_names() == [NAME]
        plan = engine.up([cluster(door=door)])
    assert plan.ok, plan.render()
    assert "interrupted `pulumi up` submitted it" in engine.stderr + repr(engine.logs)
    assert engine.stack.get("prod").outputs["state"] == "READY"
    assert fireworks.backend.cluster_names() == [NAME]


def test_changing_only_adopt_existing_is_an_in_place_update_with_no_request(
    fireworks: EmulatorHandle, make_engine: Callable[..., Engine]
) -> None:
    engine = make_engine()
    assert engine.up([cluster()]).ok
    before = len(fireworks.backend.requests)
    preview = engine.preview([cluster(adopt_existing=True)])
    assert preview.ops() == {"prod": "update"} and preview.step("prod").replaces == [], preview.render()
    plan = engine.up([cluster(adopt_existing=True)])
    assert plan.ok and plan.ops() == {"prod": "update"}, plan.render()
    assert fireworks.backend.requests[before:] == []
    assert plan.step("prod").outputs["adoptExisting"] is True and plan.step("prod").outputs["state"] == "READY"
    assert engine.preview([cluster()]).ops() == {"prod": "update"}  # and back again, still in place


# -- 2. refresh never turns into a replacement ----------------------------------------------------------------


def test_refresh_of_fields_the_api_fills_in_then_an_unchanged_program_plans_nothing(
    fireworks: EmulatorHandle, make_engine: Callable[..., Engine]
) -> None:
    fireworks.backend.default_manager_role = True
    fireworks.backend.assign_pool_provider = True
    engine = make_engine()
    assert engine.up([cluster()]).ok
    live = client_for(fireworks).get("prod-use1").eks_cluster or {}
    assert live["workloadIdentityPoolProviderId"].startswith("fw-") and live["fireworksManagerRole"]

    refreshed = engine.refresh()
    assert refreshed.ok, refreshed.render()
    assert "workloadIdentityPoolProviderId" not in engine.stack.get("prod").inputs["eksCluster"]
    before = len(fireworks.backend.requests)
    plan = engine.preview([cluster()])
    assert plan.ops() == {"prod": "same"}, plan.render()
    assert fireworks.backend.requests[before:] == []
    assert engine.up([cluster()]).ops() == {"prod": "same"}


def test_a_declared_field_changed_out_of_band_is_drift_and_up_puts_it_back(
    fireworks: EmulatorHandle, make_engine: Callable[..., Engine]
) -> None:
    engine = make_engine()
    assert engine.up([cluster()]).ok
    other = f"arn:aws:iam::{AWS_ACCOUNT}:role/someone-else"
    fireworks.backend.edit_cluster(ACCOUNT, "prod-use1", {"inferenceRole": other})

    refreshed = engine.refresh()
    assert refreshed.ops() == {"prod": "refresh"} and "eksCluster" in refreshed.step("prod").diffs
    assert engine.stack.get("prod").inputs["eksCluster"]["inferenceRole"] == other
    plan = engine.preview([cluster()])
    step = plan.step("prod")
    assert step.op == "replace" and step.replaces == ["eksCluster.inferenceRole"] and step.delete_before_replace
    assert engine.up([cluster()]).ok
    assert (client_for(fireworks).get("prod-use1").eks_cluster or {})["inferenceRole"] == INFERENCE


def test_removing_a_field_the_program_set_is_still_a_change(
    fireworks: EmulatorHandle, make_engine: Callable[..., Engine]
) -> None:
    fireworks.backend.assign_pool_provider = True
    engine = make_engine()
    metrics = f"arn:aws:iam::{AWS_ACCOUNT}:role/metrics"
    assert engine.up([cluster(metric_writer_role=metrics, workload_identity_pool_provider_id="acme-prod")]).ok
    assert engine.refresh().ok
    plan = engine.preview([cluster(workload_identity_pool_provider_id="acme-prod")])
    assert plan.step("prod").replaces == ["eksCluster.metricWriterRole"], plan.render()
    # A value Fireworks would otherwise assign, dropped from the program, is left to Fireworks: what it holds will do.
    plan = engine.preview([cluster(metric_writer_role=metrics)])
    assert plan.ops() == {"prod": "same"}, plan.render()


def test_state_from_an_earlier_version_previews_unchanged_and_refreshes_cleanly(
    fireworks: EmulatorHandle, make_engine: Callable[..., Engine]
) -> None:
    engine = make_engine()
    assert engine.up([cluster()]).ok
    # What 0.1.0 recorded: no endpoint output, no adoptExisting.
    old = engine.stack.get("prod")
    old.outputs.pop("endpoint")
    engine.stack.save()
    upgraded = make_engine()
    upgraded.stack = Stack(path=engine.stack.path)
    before = len(fireworks.backend.requests)
    assert upgraded.preview([cluster()]).ops() == {"prod": "same"}
    assert fireworks.backend.requests[before:] == []
    assert upgraded.refresh().ok
    assert upgraded.stack.get("prod").outputs["endpoint"] == fireworks.base_url
    assert upgraded.preview([cluster()]).ops() == {"prod": "same"}


# -- 3. FAILED is visible, and it can be destroyed ------------------------------------------------------------


def test_a_cluster_failed_after_ready_is_replaced_after_refresh(
    fireworks: EmulatorHandle, make_engine: Callable[..., Engine]
) -> None:
    engine = make_engine()
    assert engine.up([cluster()]).ok
    fireworks.backend.fail_cluster(ACCOUNT, "prod-use1", "node group deleted", code="FAILED_PRECONDITION")
    assert engine.preview([cluster()]).ops() == {"prod": "same"}  # nothing recorded it yet

    refreshed = engine.refresh()
    assert refreshed.ops() == {"prod": "refresh"} and engine.stack.get("prod").outputs["state"] == "FAILED"
    plan = engine.preview([cluster()])
    step = plan.step("prod")
    assert step.op == "replace" and step.delete_before_replace and step.replaces == ["state"], plan.render()
    assert "is FAILED (FAILED_PRECONDITION: node group deleted)" in engine.stderr
    assert "requires a FAILED cluster to be deleted and re-created" in engine.stderr
    before = len(fireworks.backend.requests)
    assert engine.up([cluster()]).ok
    assert mutating(fireworks, before) == ["DELETE prod-use1", "POST clusters"]
    assert engine.stack.get("prod").outputs["state"] == "READY"


def test_destroy_waits_through_failed_and_unspecified_until_the_cluster_is_gone(
    fireworks: EmulatorHandle, make_engine: Callable[..., Engine]
) -> None:
    fireworks.backend.delete_delay = 0.5
    for shown in ("previous", "STATE_UNSPECIFIED"):
        fireworks.backend.deleting_state = shown  # what a deleting cluster reports
        engine = make_engine()
        assert engine.up([cluster()]).ok
        fireworks.backend.fail_cluster(ACCOUNT, "prod-use1", "broken")
        plan = engine.destroy()
        assert plan.ok, plan.render()
        assert engine.stack.resources == [] and fireworks.backend.cluster_names() == []


def test_a_failed_create_names_the_cluster_once(fireworks: EmulatorHandle, make_engine: Callable[..., Engine]) -> None:
    fireworks.backend.fail_provisioning("prod-use1", "quota exceeded", code="RESOURCE_EXHAUSTED")
    plan = make_engine().up([cluster()])
    message = plan.step("prod").error_message
    assert message.count("prod-use1") == 1, message
    assert message.index("quota exceeded") < message.index("pulumi up")  # the cause, then what to do


# -- 4. only the endpoint that made a cluster may call it gone ------------------------------------------------


def test_refresh_and_destroy_through_another_endpoint_refuse_and_change_nothing(
    fireworks: EmulatorHandle, make_engine: Callable[..., Engine]
) -> None:
    engine = make_engine()
    assert engine.up([cluster()]).ok
    with serve(Backend(api_keys={API_KEY: None})) as elsewhere:
        wrong = make_engine(**{"fireworks:baseUrl": elsewhere.base_url})
        wrong.stack = Stack(path=engine.stack.path)
        for plan in (wrong.refresh(), wrong.destroy()):
            assert not plan.ok
            message = plan.step("prod").error_message
            assert fireworks.base_url in message and elsewhere.base_url in message and "nothing was changed" in message
        assert elsewhere.backend.requests == []
        # `up` does not re-record an endpoint where the cluster is not
        preview = wrong.preview([cluster()])
        assert preview.ops() == {"prod": "update"}, preview.render()
        up = wrong.up([cluster()])
        assert not up.ok and "is not at" in up.step("prod").error_message
    assert Stack(path=engine.stack.path).get("prod").outputs["endpoint"] == fireworks.base_url
    assert fireworks.backend.cluster_names() == [NAME]
    assert engine.refresh().ok and engine.destroy().ok


def test_up_re_records_an_endpoint_where_the_cluster_really_is(
    fireworks: EmulatorHandle, make_engine: Callable[..., Engine]
) -> None:
    engine = make_engine()
    assert engine.up([cluster()]).ok
    with serve(fireworks.backend) as moved:  # the same service, reached through another URL
        there = make_engine(**{"fireworks:baseUrl": moved.base_url})
        there.stack = Stack(path=engine.stack.path)
        before = len(fireworks.backend.requests)
        plan = there.up([cluster()])
        assert plan.ok and plan.ops() == {"prod": "update"}, plan.render()
        assert [r.method for r in fireworks.backend.requests[before:]] == ["GET"]  # found it; no PATCH, no POST
        assert there.stack.get("prod").outputs["endpoint"] == moved.base_url
        assert there.refresh().ok and there.preview([cluster()]).ops() == {"prod": "same"}


def test_up_never_re_records_an_endpoint_onto_another_cluster_with_the_same_name(
    fireworks: EmulatorHandle, make_engine: Callable[..., Engine]
) -> None:
    engine = make_engine()
    assert engine.up([cluster()]).ok
    eks = dict(cluster().props["eksCluster"])
    with serve(Backend(api_keys={API_KEY: None}, provision_delay=0)) as staging:  # another environment's service
        FireworksClient(api_key=API_KEY, account_id=ACCOUNT, base_url=staging.base_url).create(
            "prod-use1", Cluster(display_name="Prod", eks_cluster=eks)
        )
        there = make_engine(**{"fireworks:baseUrl": staging.base_url})
        there.stack = Stack(path=engine.stack.path)
        plan = there.up([cluster()])
        message = plan.step("prod").error_message
        assert not plan.ok and "is another cluster with the same name" in message and "nothing was changed" in message
        assert there.stack.get("prod").outputs["endpoint"] == fireworks.base_url
        assert there.destroy().ok is False  # the guard still refuses: the staging cluster is untouched
        assert staging.backend.cluster_names() == [NAME]
    assert fireworks.backend.cluster_names() == [NAME]


def test_a_key_that_cannot_see_the_account_never_calls_the_cluster_gone(
    fireworks: EmulatorHandle, make_engine: Callable[..., Engine]
) -> None:
    engine = make_engine()
    assert engine.up([cluster()]).ok
    fireworks.backend.hide_foreign_accounts = True  # a foreign account answers 404, like the missing cluster would
    other = make_engine(**{"fireworks:apiKey": "narrow-key", "fireworks:accountId": "someone-else"})
    other.stack = Stack(path=engine.stack.path)
    for plan in (other.refresh(), other.destroy()):
        assert not plan.ok
        message = plan.step("prod").error_message
        assert "cannot list account acme" in message and "someone-else" in message and "nothing was changed" in message
        assert "narrow-key" not in message
    assert Stack(path=engine.stack.path).get("prod").id == NAME
    assert fireworks.backend.cluster_names() == [NAME]


def test_a_cluster_really_deleted_out_of_band_is_dropped_by_refresh(
    fireworks: EmulatorHandle, make_engine: Callable[..., Engine]
) -> None:
    engine = make_engine()
    assert engine.up([cluster()]).ok
    fireworks.backend.delete_delay = 0
    client_for(fireworks).delete("prod-use1")
    plan = engine.refresh()
    assert plan.ok and plan.ops() == {"prod": "refresh-delete"}, plan.render()
    assert [r.query for r in fireworks.backend.requests if r.method == "GET"][-1] == {"pageSize": "1"}


# -- 5. transient outages don't abort long waits --------------------------------------------------------------


def test_an_outage_longer_than_the_retry_budget_does_not_end_the_wait(
    fireworks: EmulatorHandle, make_engine: Callable[..., Engine]
) -> None:
    fireworks.backend.provision_delay = 1.5
    fireworks.backend.fail_next(8, status=503, method="GET")  # far beyond maxRetries=1
    engine = make_engine(**{"fireworks:maxRetries": "1"})
    plan = engine.up([cluster()])
    assert plan.ok, plan.render()
    assert engine.stack.get("prod").outputs["state"] == "READY"
    assert [r.status for r in fireworks.backend.requests if r.method == "GET"].count(503) == 8


def test_a_wait_that_times_out_during_an_outage_reports_the_last_error(
    fireworks: EmulatorHandle, make_engine: Callable[..., Engine]
) -> None:
    fireworks.backend.provision_delay = 5.0
    fireworks.backend.fail_next(1000, status=502, method="GET")
    started = time.monotonic()
    plan = make_engine(**{"fireworks:maxRetries": "0", "fireworks:createTimeout": "1s"}).up([cluster()])
    assert time.monotonic() - started < 20
    message = plan.step("prod").error_message
    assert "after 1s (fireworks:createTimeout)" in message and "the last poll failed" in message and "502" in message
    fireworks.backend.faults.clear()
