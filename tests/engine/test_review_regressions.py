"""Regression tests for the adversarial review's findings (F1-F15, harness notes H1-H2), played through the real
provider servers in the engine's order against the emulator. Each test names its finding and asserts what the
product must do: no lost, co-owned or silently replaced cluster, the right message and way out, no secret in
outputs, messages or logs."""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pulumi_fwcluster.client import Cluster, FireworksClient
from pulumi_fwcluster.spec import NATIVE_TYPE
from pulumi_fwcluster.testing.emulator import Backend, EmulatorHandle, serve
from pulumi_fwcluster.testing.engine import UNKNOWN, CustomTimeouts, Desired, Engine, FakeEngine, Secret, Stack
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
from tests.engine.test_cluster_preflight import broken_role, byoc

NAME = f"accounts/{ACCOUNT}/clusters/prod-use1"


def client_for(fw: EmulatorHandle) -> FireworksClient:
    return FireworksClient(api_key=API_KEY, account_id=ACCOUNT, base_url=fw.base_url)


def mutating(fw: EmulatorHandle, since: int = 0) -> list[str]:
    return [f"{r.method} {r.path.rsplit('/', 1)[-1]}" for r in fw.backend.requests[since:] if r.method != "GET"]


def said(engine: Engine) -> str:
    """Everything the provider told the user: the dynamic server's stderr and the native plugin's engine logs."""
    return engine.stderr + "\n".join(entry.message for entry in engine.logs)


def state_delete(engine: Engine, name: str) -> None:
    """`pulumi state delete <URN>`: forget a resource without touching the cluster."""
    engine.stack.remove(engine.stack.get(name))
    engine.stack.save()


def seed(fw: EmulatorHandle, desired: Desired) -> None:
    """A cluster made outside this stack, with the program's spec."""
    client_for(fw).create("prod-use1", Cluster(display_name="Prod", eks_cluster=dict(desired.props["eksCluster"])))


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def native_byoc(eks: dict[str, str], **overrides: Any) -> Desired:
    desired = byoc(eks, **overrides)
    desired.provider, desired.type_ = None, NATIVE_TYPE
    return desired


# -- F1: a rename after an adoption ----------------------------------------------------------------------------


@pytest.mark.parametrize("door", DOORS)
def test_rename_without_alias_while_adopt_existing_is_set_never_deletes_the_cluster(
    fireworks: EmulatorHandle, make_engine: Callable[..., Engine], door: Door
) -> None:
    """F1: the new URN adopts (adopt_existing); the old URN's delete must then leave the cluster. It drops the old
    record, as `pulumi state delete` would (a refusal would leave a pending delete that a later run retires)."""
    engine = make_engine(door=door)
    assert engine.up([cluster("prod", door=door, adopt_existing=True)]).ok
    created = client_for(fireworks).get("prod-use1").create_time
    before = len(fireworks.backend.requests)

    renamed = [cluster("prod-renamed", door=door, adopt_existing=True)]  # the alias forgotten
    plan = engine.up(renamed)
    assert plan.ok and plan.ops() == {"prod-renamed": "create", "prod": "delete"}, plan.render()
    assert "was not deleted: another resource of this command has just created or adopted it" in said(engine)
    assert mutating(fireworks, before) == ["POST clusters"]  # the create met the cluster (409); no DELETE
    assert fireworks.backend.cluster_names() == [NAME]
    assert client_for(fireworks).get("prod-use1").create_time == created
    assert [r.name for r in engine.stack.resources] == ["prod-renamed"]

    before = len(fireworks.backend.requests)
    again = engine.up(renamed)
    assert again.ok and again.ops() == {"prod-renamed": "same"}, again.render()
    assert mutating(fireworks, before) == []


# -- F2 / H1: `pulumi up --replace` ----------------------------------------------------------------------------


@pytest.mark.parametrize("door", DOORS)
def test_targeted_replace_that_creates_first_is_refused_with_delete_before_replace_as_the_way_out(
    fireworks: EmulatorHandle, make_engine: Callable[..., Engine], door: Door
) -> None:
    """F2 (and H1, the harness's `up(replace=...)`): --replace creates first; it must not adopt-then-delete, and the
    refusal must not point at adopt_existing."""
    engine = make_engine(door=door)
    assert engine.up([cluster(door=door)]).ok
    created = client_for(fireworks).get("prod-use1").create_time
    before = len(fireworks.backend.requests)

    for adopt in (False, True):  # before the fix: refused pointing at adopt_existing; with it, adopted then deleted
        plan = engine.up([cluster(door=door, adopt_existing=adopt)], replace=["prod"])
        step = plan.step("prod")
        assert not plan.ok and step.op == "replace" and not step.delete_before_replace, plan.render()
        assert "delete_before_replace=True" in step.error_message and "nothing was changed" in step.error_message
        assert "adopt_existing=True" not in step.error_message
    assert mutating(fireworks, before) == ["POST clusters", "POST clusters"]  # each met the cluster (409)
    assert fireworks.backend.cluster_names() == [NAME]
    assert client_for(fireworks).get("prod-use1").create_time == created
    assert [(r.id, r.pending_delete) for r in engine.stack.resources] == [(NAME, False)]

    # The way out works: deleting first replaces the cluster (a new one, same name), and the stack records it.
    first = cluster(door=door, adopt_existing=True)
    first.delete_before_replace = True
    before = len(fireworks.backend.requests)
    done = engine.up([first], replace=["prod"])
    assert done.ok and done.step("prod").delete_before_replace, done.render()
    assert mutating(fireworks, before) == ["DELETE prod-use1", "POST clusters"]
    live = client_for(fireworks).get("prod-use1")
    assert live.state == "READY" and live.create_time != created
    assert [(r.id, r.outputs["createTime"]) for r in engine.stack.resources] == [(NAME, live.create_time)]


# -- F3: one clusterId declared twice in one program -----------------------------------------------------------


@pytest.mark.parametrize("door", DOORS)
def test_two_resources_declaring_one_cluster_id_never_both_record_it(
    fireworks: EmulatorHandle, make_engine: Callable[..., Engine], door: Door
) -> None:
    """F3: parallel creates of one clusterId: one is refused, so removing the copy later deletes nothing."""
    engine = make_engine(door=door)
    plan = engine.up([cluster("prod", door=door), cluster("prod-copy", door=door)], parallel=True)
    refused = [s for s in plan.steps if not s.ok]
    assert len(refused) == 1, plan.render()
    assert "is being created by another resource of this `pulumi up`" in refused[0].error_message
    assert mutating(fireworks) == ["POST clusters"]  # the copy was never submitted
    kept = [r.name for r in engine.stack.resources]
    assert len(kept) == 1 and engine.stack.get(kept[0]).id == NAME and refused[0].name not in kept

    before = len(fireworks.backend.requests)
    fixed = engine.up([cluster(kept[0], door=door)])  # "oops, remove the copy"
    assert fixed.ok and fixed.ops() == {kept[0]: "same"}, fixed.render()
    assert mutating(fireworks, before) == [] and fireworks.backend.cluster_names() == [NAME]


# -- F4: a create that timed out, then a rename ----------------------------------------------------------------


def test_rename_after_a_create_timeout_never_deletes_the_cluster_rule_b_adopted(
    fireworks: EmulatorHandle, make_engine: Callable[..., Engine]
) -> None:
    """F4: native create timeout (recorded CREATING), rename without alias: rule (b) adopts; the old record's delete
    leaves the cluster with the new one."""
    engine = make_engine(door="native")
    slow = cluster("prod", door="native")
    slow.custom_timeouts = CustomTimeouts(create="1s")
    with slow_until_posts(fireworks.backend, posts=2):
        first = engine.up([slow])
        assert not first.ok and engine.stack.get("prod").outputs["state"] == "CREATING", first.render()
        before = len(fireworks.backend.requests)
        plan = engine.up([cluster("prod-renamed", door="native")])  # no alias, no adopt_existing
    assert plan.ok and plan.ops() == {"prod-renamed": "create", "prod": "delete"}, plan.render()
    assert mutating(fireworks, before) == ["POST clusters"]
    assert fireworks.backend.cluster_names() == [NAME] and client_for(fireworks).get("prod-use1").state == "READY"
    assert [r.name for r in engine.stack.resources] == ["prod-renamed"]

    again = engine.up([cluster("prod-renamed", door="native")])
    assert again.ok and again.ops() == {"prod-renamed": "same"}, again.render()
    assert engine.destroy().ok and fireworks.backend.cluster_names() == []


# -- F5: `up` through another environment's endpoint -----------------------------------------------------------


@pytest.mark.parametrize("door", DOORS)
def test_up_through_another_endpoint_never_re_records_a_different_cluster_with_the_same_name(
    fireworks: EmulatorHandle, make_engine: Callable[..., Engine], door: Door
) -> None:
    """F5: a staging cluster with the same name and another spec is not ours: refused, and destroy never reaches it."""
    engine = make_engine(door=door)
    assert engine.up([cluster(door=door)]).ok
    with serve(Backend(api_keys={API_KEY: None}, provision_delay=0)) as staging:
        other = {"awsAccountId": "210987654321", "region": "eu-west-1", "clusterName": "staging"}
        FireworksClient(api_key=API_KEY, account_id=ACCOUNT, base_url=staging.base_url).create(
            "prod-use1", Cluster(display_name="Staging", eks_cluster=other)
        )
        wrong = make_engine(door=door, **{"fireworks:baseUrl": staging.base_url})
        wrong.stack = Stack(path=engine.stack.path)
        before = len(staging.backend.requests)

        plan = wrong.up([cluster(door=door)])
        message = plan.step("prod").error_message
        assert not plan.ok and "is another cluster with the same name" in message, plan.render()
        assert "its spec differs" in message and "nothing was changed" in message
        assert "Set fireworks:baseUrl back" in message
        assert Stack(path=engine.stack.path).get("prod").outputs["endpoint"] == fireworks.base_url
        assert not wrong.destroy().ok  # the guard still stands
        assert mutating(staging, before) == [] and staging.backend.cluster_names() == [NAME]
    assert fireworks.backend.cluster_names() == [NAME]
    assert Stack(path=engine.stack.path).get("prod").id == NAME


# -- F6: the name reused by another stack ----------------------------------------------------------------------


@pytest.mark.parametrize("door", DOORS)
def test_a_stale_stack_never_deletes_a_newer_cluster_that_reuses_the_name(
    fireworks: EmulatorHandle, make_engine: Callable[..., Engine], door: Door, tmp_path: Path
) -> None:
    """F6: A's cluster was deleted by hand, B made its own with the same id: A's refresh and destroy leave it alone."""
    stale = make_engine(door=door)
    assert stale.up([cluster(door=door)]).ok
    recorded = stale.stack.get("prod").outputs["createTime"]
    fireworks.backend.delete_delay = 0.0
    client_for(fireworks).delete("prod-use1")  # by hand; A is not refreshed
    assert fireworks.backend.cluster_names() == []
    assert make_engine(door=door).up([cluster(door=door)]).ok  # stack B
    newer = client_for(fireworks).get("prod-use1").create_time
    assert newer != recorded

    assert stale.stack.path is not None
    copy = make_engine(door=door)  # A's state, refreshed (a copy, so the destroy below still has the record)
    copy.stack = Stack(path=shutil.copy(stale.stack.path, tmp_path / "copy.json"))
    refreshed = copy.refresh()
    assert refreshed.ok and refreshed.ops() == {"prod": "refresh-delete"}, refreshed.render()
    assert "another cluster now has its name" in said(copy)

    before = len(fireworks.backend.requests)
    destroyed = stale.destroy()
    assert destroyed.ok, destroyed.render()
    assert "was left alone" in said(stale)
    assert mutating(fireworks, before) == []
    assert fireworks.backend.cluster_names() == [NAME] and client_for(fireworks).get("prod-use1").create_time == newer


# -- F7: two stacks whose `up`s overlap while CREATING (documented limitation) ---------------------------------


@pytest.mark.parametrize("door", DOORS)
def test_two_stacks_whose_ups_overlap_while_creating_both_record_the_cluster_and_the_warning_says_so(
    fireworks: EmulatorHandle, make_engine: Callable[..., Engine], door: Door
) -> None:
    """F7, not fixed (README "Rule (b) cannot tell ..."): documents today's behaviour, so a change to it shows here."""
    first, second = make_engine(door=door), make_engine(door=door)
    adopting = "matches this resource and is still CREATING"
    fireworks.backend.provision_delay = 3600.0
    plans: dict[str, Any] = {}
    runner = threading.Thread(target=lambda: plans.setdefault("first", first.up([cluster(door=door)])))
    runner.start()
    try:
        wait_until(lambda: fireworks.backend.cluster_names() == [NAME], "the first stack's POST")

        def finish_when_adopted() -> None:  # provisioning ends only after the second stack chose to adopt
            wait_until(lambda: adopting in said(second), "the second stack's adoption")
            fireworks.backend.provision_delay = 0.0

        finisher = threading.Thread(target=finish_when_adopted, daemon=True)
        finisher.start()
        plans["second"] = second.up([cluster(door=door)])
        finisher.join()
    finally:
        fireworks.backend.provision_delay = 0.0
        runner.join()
    assert plans["first"].ok and plans["second"].ok, plans["first"].render() + plans["second"].render()
    assert first.stack.get("prod").id == NAME and second.stack.get("prod").id == NAME  # two owners
    assert "If another stack is creating it right now, it now has two owners" in said(second)
    assert mutating(fireworks) == ["POST clusters", "POST clusters"]
    assert fireworks.backend.cluster_names() == [NAME]


# -- F8: import of a cluster with a value Fireworks assigned ---------------------------------------------------


def test_import_of_a_cluster_with_an_assigned_pool_provider_plans_no_replacement_with_the_same_program(
    fireworks: EmulatorHandle, make_engine: Callable[..., Engine]
) -> None:
    """F8: `pulumi import` then the very program: no change; writing the assigned value down is checked, not replaced."""
    fireworks.backend.assign_pool_provider = True
    program = cluster(door="native")
    seed(fireworks, program)
    assigned = (client_for(fireworks).get("prod-use1").eks_cluster or {})["workloadIdentityPoolProviderId"]
    engine = make_engine(door="native")
    assert engine.import_(program, NAME).ok
    assert "workloadIdentityPoolProviderId" not in engine.stack.get("prod").inputs["eksCluster"]
    preview = engine.preview([program])
    assert preview.ops() == {"prod": "same"}, preview.render()
    assert engine.up([program]).ops() == {"prod": "same"}

    option = cluster(door="native")  # the import_= resource option, in a fresh stack
    option.import_id = NAME
    fresh = make_engine(door="native")
    before = len(fireworks.backend.requests)
    imported = fresh.up([option])
    assert imported.ok and mutating(fireworks, before) == [], imported.render()

    # Writing a value down where Fireworks assigned one is an update that checks it, never a replacement.
    before = len(fireworks.backend.requests)
    wrong = cluster(door="native", workload_identity_pool_provider_id="acme-other")
    assert engine.preview([wrong]).step("prod").replaces == []
    refused = engine.up([wrong])
    message = refused.step("prod").error_message
    assert not refused.ok and f"Fireworks assigned {assigned!r}" in message and "nothing was changed" in message
    written = cluster(door="native", workload_identity_pool_provider_id=assigned)
    plan = engine.preview([written])
    assert plan.ops() == {"prod": "update"} and plan.step("prod").replaces == [], plan.render()
    assert engine.up([written]).ok and engine.preview([written]).ops() == {"prod": "same"}
    assert mutating(fireworks, before) == [] and fireworks.backend.cluster_names() == [NAME]


# -- F9: state from 0.1.0 (no endpoint) ------------------------------------------------------------------------


def test_state_without_an_endpoint_never_calls_a_cluster_gone_at_another_endpoint(
    fireworks: EmulatorHandle, make_engine: Callable[..., Engine]
) -> None:
    """F9 (dynamic door: 0.1.0 had no other): refresh and destroy through another endpoint refuse the 404."""
    engine = make_engine()
    assert engine.up([cluster()]).ok
    engine.stack.get("prod").outputs.pop("endpoint")  # what 0.1.0 recorded
    engine.stack.save()
    with serve(Backend(api_keys={API_KEY: None})) as elsewhere:  # the same key is valid there; the cluster is not
        wrong = make_engine(**{"fireworks:baseUrl": elsewhere.base_url})
        wrong.stack = Stack(path=engine.stack.path)
        for plan in (wrong.refresh(), wrong.destroy()):
            message = plan.step("prod").error_message
            assert not plan.ok and "was recorded by an earlier version" in message, plan.render()
            assert "nothing was changed" in message and "set it back and run `pulumi refresh`" in message
            assert "pulumi state delete" in message
        assert elsewhere.backend.cluster_names() == []
    assert Stack(path=engine.stack.path).get("prod").id == NAME and fireworks.backend.cluster_names() == [NAME]

    # The way out: a refresh at the right endpoint records it, and from then on the endpoint guard applies.
    right = make_engine()
    right.stack = Stack(path=engine.stack.path)
    assert right.refresh().ok and right.stack.get("prod").outputs["endpoint"] == fireworks.base_url


# -- F10: secrets through the native door ----------------------------------------------------------------------


def test_a_secret_role_and_a_secret_base_url_stay_secret_in_every_output(
    fireworks: EmulatorHandle, aws: dict[str, Any], make_engine: Callable[..., Engine]
) -> None:
    """F10 (outputs): awsFindings quoting a secret role, and the endpoint from a secret baseUrl, are secret."""
    role = broken_role(aws["eks"])
    engine = make_engine(
        aws["env"],
        door="native",
        **{"fireworks:preflight": "warn", "fireworks:baseUrl": Secret(fireworks.base_url)},
    )
    desired = native_byoc(aws["eks"])
    desired.props["eksCluster"]["inferenceRole"] = Secret(role)
    plan = engine.up([desired])
    assert plan.ok, plan.render()
    state = engine.stack.get("prod")
    assert {"awsFindings", "endpoint", "eksCluster.inferenceRole"} <= set(state.secret_outputs)
    assert state.outputs["awsFindings"]  # the finding is there, and secret
    plain = {k: v for k, v in state.outputs.items() if k not in state.secret_outputs and k != "eksCluster"}
    assert role.rsplit("/", 1)[-1] not in json.dumps(plain) and fireworks.base_url not in json.dumps(plain)
    assert role not in json.dumps([entry.message for entry in engine.logs])


@pytest.mark.parametrize("mode", ["warn", "enforce"])
def test_a_secret_role_arn_never_reaches_logs_or_check_failures(
    fireworks: EmulatorHandle, aws: dict[str, Any], make_engine: Callable[..., Engine], mode: str
) -> None:
    """F10 (messages): a secret role ARN, or its role name, appears in no log line and no check failure."""
    role = broken_role(aws["eks"])
    secret_name = role.rsplit("/", 1)[-1]
    engine = make_engine(aws["env"], door="native", **{"fireworks:preflight": mode})
    desired = native_byoc(aws["eks"])
    desired.props["eksCluster"]["inferenceRole"] = Secret(role)
    plan = engine.up([desired])
    if mode == "warn":
        assert plan.ok and engine.refresh().ok, plan.render()
    else:
        assert not plan.ok and plan.step("prod").failures, plan.render()
    told = said(engine) + json.dumps(plan.step("prod").failures) + (plan.step("prod").error or "")
    assert "inferenceRole" in told  # the finding is reported ...
    assert secret_name not in told  # ... without the secret


def test_the_account_of_a_secret_role_arn_in_another_account_is_not_quoted_either(
    fireworks: EmulatorHandle, make_engine: Callable[..., Engine]
) -> None:
    """Third review: "role is in account 999988887777, but ..." quoted a part of the secret ARN."""
    engine = make_engine(door="native")
    desired = cluster(door="native")
    desired.props["eksCluster"]["inferenceRole"] = Secret("arn:aws:iam::999988887777:role/inference")
    plan = engine.preview([desired])
    told = said(engine) + json.dumps(plan.step("prod").failures) + plan.render()
    assert "eksCluster.inferenceRole" in told and "999988887777" not in told


# -- F11: the endpoint guard and the old half of a create-first replacement -------------------------------------


@pytest.mark.parametrize("door", DOORS)
def test_old_half_of_a_replacement_at_another_endpoint_gives_the_way_out_that_finishes_it(
    fireworks: EmulatorHandle, make_engine: Callable[..., Engine], door: Door
) -> None:
    """F11: the old cluster's delete is refused with "set baseUrl back for this run", which then finishes it;
    spellings differing only in case and trailing slash are one endpoint. (`localhost` is another host name: the
    guard does not resolve names, so it stays a different endpoint.)"""
    engine = make_engine(door=door)
    assert engine.up([cluster(door=door)]).ok
    moved = make_engine(door=door, **{"fireworks:baseUrl": fireworks.base_url.replace("127.0.0.1", "localhost")})
    moved.stack = Stack(path=engine.stack.path)
    renamed_id = [cluster(door=door, cluster_id="prod-use1b")]  # create first, delete the old one last

    plan = moved.up(renamed_id)
    failed = plan.errors
    assert not plan.ok and len(failed) == 1 and failed[0].op in ("replace", "delete"), plan.render()
    message = failed[0].error_message
    assert "old half of a replacement" in message and "set fireworks:baseUrl back for this run" in message
    assert "run `pulumi up` first" not in message  # `up` can never re-record a cluster that is being deleted
    assert fireworks.backend.cluster_names() == [NAME, NAME + "b"]

    engine.stack = Stack(path=engine.stack.path)  # the recorded endpoint, as the message says
    done = engine.up(renamed_id)
    assert done.ok, done.render()
    assert fireworks.backend.cluster_names() == [NAME + "b"]
    assert [(r.id, r.outputs["endpoint"]) for r in engine.stack.resources] == [(NAME + "b", fireworks.base_url)]

    respelled = make_engine(door=door, **{"fireworks:baseUrl": fireworks.base_url.replace("http", "HTTP") + "/"})
    respelled.stack = Stack(path=engine.stack.path)
    assert respelled.preview(renamed_id).ops() == {"prod": "same"}
    assert respelled.destroy().ok and fireworks.backend.cluster_names() == []


# -- F12: a FAILED create, fixed and run again while the cluster is still being deleted ------------------------


def test_a_failed_create_says_deletion_was_requested_and_the_fixed_up_waits_for_it_to_go(
    fireworks: EmulatorHandle, make_engine: Callable[..., Engine]
) -> None:
    """F12 (dynamic door, which records nothing of a FAILED create): honest message, then `up` waits out DELETING."""
    fireworks.backend.fail_provisioning("prod-use1", "inference role cannot be assumed")
    engine = make_engine()
    with slow_until_posts(fireworks.backend, posts=2, delay="delete_delay"):
        first = engine.up([cluster(inference_role=f"arn:aws:iam::{AWS_ACCOUNT}:role/typo")])
        message = first.step("prod").error_message
        assert not first.ok and "Its deletion was requested" in message, first.render()
        assert "It was deleted" not in message and "Nothing was recorded" in message
        assert client_for(fireworks).get("prod-use1").state == "DELETING"

        fixed = engine.up([cluster()])  # "fix the cause and run `pulumi up`": meets the cluster still DELETING
    assert fixed.ok, fixed.render()
    assert mutating(fireworks) == ["POST clusters", "DELETE prod-use1", "POST clusters", "POST clusters"]
    live = client_for(fireworks).get("prod-use1")
    assert live.state == "READY" and (live.eks_cluster or {})["inferenceRole"] == INFERENCE
    assert engine.stack.get("prod").outputs["createTime"] == live.create_time


# -- F13: a lost POST reply, Fireworks' clock behind ours ------------------------------------------------------


@pytest.mark.parametrize("door", DOORS)
def test_a_lost_create_reply_adopts_its_own_cluster_when_fireworks_clock_is_ten_minutes_behind(
    fireworks: EmulatorHandle, make_engine: Callable[..., Engine], door: Door
) -> None:
    """F13: the lost reply is judged on Fireworks' clock (Date header), so this create's own cluster is kept."""
    fireworks.backend.clock_skew = -600.0  # its timestamps and its Date header alike
    fireworks.backend.provision_delay = 0.0  # READY by the follow-up look-up
    fireworks.backend.drop_response_next(method="POST")
    engine = make_engine(door=door)
    plan = engine.up([cluster(door=door)])
    assert plan.ok, plan.render()
    assert "the reply to this create was lost; continuing with the cluster it made" in said(engine)
    assert mutating(fireworks) == ["POST clusters"] and fireworks.backend.cluster_names() == [NAME]
    assert engine.stack.get("prod").outputs["createTime"] == client_for(fireworks).get("prod-use1").create_time


# -- F14: a create that meets a DELETING cluster honours its deadline and Cancel --------------------------------


def _deleting(fw: EmulatorHandle, desired: Desired) -> None:
    fw.backend.provision_delay = 0.0
    seed(fw, desired)
    fw.backend.delete_delay = 3600.0
    client_for(fw).delete("prod-use1")


def _waits_out_deleting(door: Door, make_engine: Callable[..., Engine]) -> tuple[Engine, Desired]:
    if door == "native":
        desired = cluster(door=door)
        desired.custom_timeouts = CustomTimeouts(create="1s")
        return make_engine(door=door), desired
    return make_engine(**{"fireworks:createTimeout": "1s"}), cluster()


@pytest.mark.parametrize("door", DOORS)
def test_a_create_meeting_a_deleting_cluster_stops_at_its_deadline_and_on_cancel(
    fireworks: EmulatorHandle, make_engine: Callable[..., Engine], door: Door
) -> None:
    """F14: customTimeouts.create (native) / fireworks:createTimeout and Cancel end the wait for DELETING."""
    engine, desired = _waits_out_deleting(door, make_engine)
    _deleting(fireworks, desired)
    started = time.monotonic()
    plan = engine.up([desired])
    assert not plan.ok and time.monotonic() - started < 8, plan.render()
    assert engine.stack.resources == [] and client_for(fireworks).get("prod-use1").state == "DELETING"

    if door == "native":
        desired.custom_timeouts = None  # no deadline to speak of: only Cancel ends this one
        before = len(fireworks.backend.requests)

        def cancel_once_waiting() -> None:  # Ctrl-C once the create has met the DELETING cluster
            wait_until(lambda: "POST" in [r.method for r in fireworks.backend.requests[before:]], "the POST")
            engine.cancel()

        canceller = threading.Thread(target=cancel_once_waiting)
        canceller.start()
        started = time.monotonic()
        cancelled = engine.up([desired])
        canceller.join()
        assert not cancelled.ok and time.monotonic() - started < 8, cancelled.render()
        assert engine.stack.resources == []

    fireworks.backend.delete_delay = 0.0  # gone now: the next `up` creates it anew
    again = engine.up([desired])
    assert again.ok and client_for(fireworks).get("prod-use1").state == "READY", again.render()
    assert mutating(fireworks).count("DELETE prod-use1") == 1  # only the seed's: the provider never deleted


@pytest.mark.parametrize("door", DOORS)
def test_a_create_that_times_out_waiting_for_a_deleting_cluster_says_what_happened_and_what_next(
    fireworks: EmulatorHandle, make_engine: Callable[..., Engine], door: Door
) -> None:
    """F14 (message): the error names the DELETING cluster, the deadline's setting and what the next `up` does."""
    engine, desired = _waits_out_deleting(door, make_engine)
    _deleting(fireworks, desired)
    plan = engine.up([desired])
    assert not plan.ok
    message = plan.step("prod").error_message
    setting = "customTimeouts.create" if door == "native" else "fireworks:createTimeout"
    assert "DELETING" in message and setting in message and "pulumi up" in message, plan.step("prod").error
    assert "Unexpected" not in (plan.step("prod").error or "")


# -- F15: a 503 on the POST that provably created nothing ------------------------------------------------------


@pytest.mark.parametrize("door", DOORS)
def test_a_create_whose_post_met_one_503_and_created_nothing_is_sent_again(
    fireworks: EmulatorHandle, make_engine: Callable[..., Engine], door: Door
) -> None:
    """F15: the follow-up look-up proves the POST was not applied, so it is re-sent and `up` succeeds."""
    fireworks.backend.fail_next(1, 503, method="POST")
    engine = make_engine(door=door)
    plan = engine.up([cluster(door=door)])
    assert plan.ok, plan.render()
    assert [(r.method, r.status) for r in fireworks.backend.requests if r.method == "POST"] == [
        ("POST", 503),
        ("POST", 200),
    ]
    assert "sending the create again" in said(engine)
    assert fireworks.backend.cluster_names() == [NAME] and engine.stack.get("prod").outputs["state"] == "READY"


# -- H2: an `import_` whose program would replace the cluster --------------------------------------------------


def test_an_import_option_whose_program_differs_in_a_replacing_field_changes_nothing(
    fireworks: EmulatorHandle, make_engine: Callable[..., Engine]
) -> None:
    """H2: the engine refuses to replace a resource that still says `import_`; the cluster is never touched."""
    seed(fireworks, cluster(door="native"))
    wanted = cluster(door="native", region="us-west-2")
    wanted.import_id = NAME
    engine = make_engine(door="native")
    before = len(fireworks.backend.requests)
    plan = engine.up([wanted])
    assert not plan.ok, plan.render()
    refusal = "previously-imported resources that still specify an ID may not be replaced"
    assert refusal in (plan.step("prod").error or "")
    assert mutating(fireworks, before) == []
    live = client_for(fireworks).get("prod-use1")
    assert live.state == "READY" and (live.eks_cluster or {})["region"] == "us-east-1"


# -- M1 (found by the lifecycle model): a 5xx on the POST that meets another stack's recent cluster -------------


@pytest.mark.parametrize("state", ["READY", "FAILED"])
@pytest.mark.parametrize("door", DOORS)
def test_a_create_whose_post_fails_never_takes_another_stacks_cluster_made_a_minute_before(
    fireworks: EmulatorHandle, make_engine: Callable[..., Engine], door: Door, state: str
) -> None:
    """A 503 on the POST is an unknown outcome, and the look-up after it finds a matching cluster. Another stack made
    it a minute earlier, before this POST: it is not this create's (0.2.0 before the fix allowed five minutes of
    clock difference, so this create took it over; the native door recorded it, and the dynamic door deleted it
    when it was FAILED)."""
    fireworks.backend.provision_delay = 0.0
    owner = make_engine(door=door)
    assert owner.up([cluster(door=door)]).ok
    if state == "FAILED":
        fireworks.backend.fail_cluster(ACCOUNT, "prod-use1", "node group deleted")
    ticks = fireworks.backend.clock
    fireworks.backend.clock = lambda: ticks() + 60.0  # a minute passes on Fireworks' clock (and in its Date header)
    made = client_for(fireworks).get("prod-use1").create_time
    second = make_engine(door=door)
    fireworks.backend.fail_next(1, 503, method="POST")

    refused = second.up([cluster(door=door)])
    assert not refused.ok
    assert f"already exists ({state})" in refused.step("prod").error_message
    assert second.stack.resources == []
    assert mutating(fireworks)[-1:] == ["POST clusters"]  # the owner's create, then this refused one: no DELETE
    live = client_for(fireworks).get("prod-use1")
    assert live.state == state and live.create_time == made
    assert owner.stack.get("prod").id == NAME


# -- R1 (second review): an assigned value dropped from the program again -----------------------------------------


@pytest.mark.parametrize("door", DOORS)
def test_dropping_an_assigned_value_written_down_before_is_no_change(
    fireworks: EmulatorHandle, make_engine: Callable[..., Engine], door: Door
) -> None:
    """Write the value Fireworks assigned into the program, then revert that commit: the live cluster satisfies the
    program that leaves it out, so nothing changes (it replaced the cluster, deleting it first, before the fix)."""
    fireworks.backend.assign_pool_provider = True
    engine = make_engine(door=door)
    assert engine.up([cluster(door=door)]).ok
    assigned = (client_for(fireworks).get("prod-use1").eks_cluster or {})["workloadIdentityPoolProviderId"]
    assert engine.up([cluster(door=door, workload_identity_pool_provider_id=assigned)]).ok
    before = len(fireworks.backend.requests)

    reverted = engine.preview([cluster(door=door)])
    assert reverted.ops() == {"prod": "same"}, reverted.render()
    assert engine.up([cluster(door=door)]).ops() == {"prod": "same"}
    assert mutating(fireworks, before) == []


def test_state_0_1_0_refreshed_with_an_assigned_value_previews_unchanged_after_the_upgrade(
    fireworks: EmulatorHandle, make_engine: Callable[..., Engine]
) -> None:
    """0.1.0's refresh copied every live field into the inputs: the assigned value sits in inputs and outputs, with
    no endpoint. After the upgrade, a refresh and the unchanged program plan nothing."""
    fireworks.backend.assign_pool_provider = True
    engine = make_engine()
    assert engine.up([cluster()]).ok
    assigned = (client_for(fireworks).get("prod-use1").eks_cluster or {})["workloadIdentityPoolProviderId"]
    old = engine.stack.get("prod")
    for key in ("endpoint", "awsFindings"):
        old.outputs.pop(key, None)
    old.inputs["eksCluster"]["workloadIdentityPoolProviderId"] = assigned
    old.outputs["eksCluster"]["workloadIdentityPoolProviderId"] = assigned
    engine.stack.save()

    upgraded = make_engine()
    upgraded.stack = Stack(path=engine.stack.path)
    assert upgraded.refresh().ok
    preview = upgraded.preview([cluster()])
    assert preview.ops() == {"prod": "same"}, preview.render()


# -- R2 (second review): an in-place update of a name another cluster has taken ----------------------------------


@pytest.mark.parametrize("door", DOORS)
def test_an_update_never_patches_or_records_a_newer_cluster_that_took_the_name(
    fireworks: EmulatorHandle, make_engine: Callable[..., Engine], door: Door
) -> None:
    """The recorded cluster is deleted out of band and someone creates the same id: a displayName change then
    PATCHed that newer cluster and recorded it as the stack's, and a destroy deleted it (before the fix)."""
    fireworks.backend.provision_delay = 0.0
    engine = make_engine(door=door)
    assert engine.up([cluster(door=door)]).ok
    recorded = engine.stack.get("prod").outputs["createTime"]
    client = client_for(fireworks)
    client.delete("prod-use1")
    wait_until(lambda: client.find("prod-use1") is None, "the out-of-band delete")
    seed(fireworks, cluster(door=door))  # someone else's, same id and spec
    theirs = client.get("prod-use1").create_time
    assert theirs != recorded
    before = len(fireworks.backend.requests)

    refused = engine.up([cluster(door=door, display_name="Prod renamed")])
    message = refused.step("prod").error_message
    assert not refused.ok and "another cluster with the same name" in message and "pulumi refresh" in message
    assert mutating(fireworks, before) == []
    assert engine.stack.get("prod").outputs["createTime"] == recorded

    assert engine.refresh().ok and engine.stack.resources == []  # the refresh drops the one that is gone
    live = client.get("prod-use1")
    assert live.create_time == theirs and live.display_name == "Prod"


# -- R3 (second review): one command, two doors ---------------------------------------------------------------


@pytest.mark.parametrize("how", ["adopt_existing", "import_"])
def test_moving_to_the_native_door_without_an_alias_never_deletes_the_cluster_it_moved_to(
    fireworks: EmulatorHandle, make_engine: Callable[..., Engine], how: str
) -> None:
    """The program switches from pulumi_fwcluster.Cluster to pulumi_fwcluster.native.Cluster with no alias and takes
    the cluster over (adopt_existing=True, or import_=). In that one `pulumi up` the plugin registers the native
    resource while the dynamic server, another process, deletes the dynamic one that left the program: the same
    cluster (before the fix). Both processes get the command's one engine address, and so share its marks."""
    fireworks.backend.provision_delay = 0.0
    made = make_engine()
    assert made.up([cluster()]).ok
    with FakeEngine() as command:
        native = make_engine(door="plugin", engine_address=command.address, process_per_operation=False)
        dynamic = make_engine(engine_address=command.address)
        dynamic.stack = made.stack  # one stack: its dynamic resource, about to leave the program
        program = cluster(door="native", adopt_existing=how == "adopt_existing")
        if how == "import_":
            program.import_id = NAME
        before = len(fireworks.backend.requests)

        assert native.up([program]).ok  # registrations first (native) ...
        deleted = dynamic.up([])  # ... then the deletes of what left the program (dynamic)
        message = deleted.step("prod").error_message
        assert not deleted.ok and "another provider of this command declares it" in message
        assert "pulumi state delete" in message
        assert not [m for m in mutating(fireworks, before) if m.startswith("DELETE")]
        assert fireworks.backend.cluster_names() == [NAME]
        assert native.stack.get("prod").id == dynamic.stack.get("prod").id == NAME
        native.stop()

    # After the command, the stale marks of its ended processes hold nothing: `pulumi state delete` of the dynamic
    # entry is the way out, and a later destroy of the native stack deletes the cluster as usual.
    assert native.destroy().ok and fireworks.backend.cluster_names() == []


# -- R4 (second review): state pickled by another interpreter ---------------------------------------------------


def test_a_rename_after_adoption_is_refused_even_when_the_state_holds_another_provider_pickle(
    fireworks: EmulatorHandle, make_engine: Callable[..., Engine]
) -> None:
    """The dynamic server keeps a provider instance per distinct `__provider` string: the old resource's Delete is
    served by the instance its state names (written by another Python or SDK, e.g. another pickle protocol), the
    new resource's Check and Create by the program's. One ledger per process, so that Delete still sees them."""
    import base64
    import pickle

    import dill

    from pulumi_fwcluster.provider import ClusterProvider

    fireworks.backend.provision_delay = 0.0
    engine = make_engine()
    assert engine.up([cluster("prod", adopt_existing=True)]).ok
    old = engine.stack.get("prod")
    other = base64.b64encode(dill.dumps(ClusterProvider(), protocol=pickle.HIGHEST_PROTOCOL - 2)).decode()
    assert other != old.outputs["__provider"]
    old.outputs["__provider"] = old.inputs["__provider"] = other
    engine.stack.save()

    plan = engine.up([cluster("prod-renamed", adopt_existing=True)])  # the alias forgotten, as in F1
    assert plan.ok and "another resource of this command has just created or adopted it" in said(engine)
    assert fireworks.backend.cluster_names() == [NAME]
    assert [r.name for r in engine.stack.resources] == ["prod-renamed"]


# -- R5 (second review): no folder to share marks in -------------------------------------------------------------


@pytest.mark.parametrize("where", ["someone-elses-temp-folder", "no-usable-folder"])
def test_moving_doors_without_an_alias_is_refused_when_the_usual_marks_folder_is_not_usable(
    fireworks: EmulatorHandle, make_engine: Callable[..., Engine], tmp_path: Path, where: str
) -> None:
    """Another local user made /tmp/pulumi-fwcluster-<uid> first (the marks then go to ~/.cache), or no folder at
    all can be used (the delete is refused: nothing shows that no other process holds the cluster)."""
    import os

    temp = tmp_path / "tmp"
    temp.mkdir()
    taken = temp / f"pulumi-fwcluster-{os.getuid()}"
    taken.symlink_to(tmp_path)  # not a folder of this user's own making
    env = {"TMPDIR": str(temp), "XDG_RUNTIME_DIR": ""}
    if where == "no-usable-folder":
        home = tmp_path / "home"
        home.write_text("")  # ~/.cache cannot be made either
        env["HOME"] = str(home)
    else:
        env["HOME"] = str(tmp_path / "home")
    fireworks.backend.provision_delay = 0.0
    made = make_engine(env)
    assert made.up([cluster()]).ok
    with FakeEngine() as command:
        native = make_engine(env, door="plugin", engine_address=command.address, process_per_operation=False)
        dynamic = make_engine(env, engine_address=command.address)
        dynamic.stack = made.stack
        assert native.up([cluster(door="native", adopt_existing=True)]).ok
        deleted = dynamic.up([])
        native.stop()
    message = deleted.step("prod").error_message
    assert not deleted.ok and fireworks.backend.cluster_names() == [NAME]
    if where == "no-usable-folder":
        assert "Point TMPDIR at a folder of your own" in message
    else:
        assert "another provider of this command declares it" in message
        assert (tmp_path / "home" / ".cache" / "pulumi-fwcluster").is_dir()


# -- R6 (second review): state from 0.1.0 at another endpoint with a cluster of the same name -------------------


@pytest.mark.parametrize("op", ["refresh", "destroy"])
def test_state_without_an_endpoint_never_drops_a_cluster_for_a_namesake_at_another_endpoint(
    fireworks: EmulatorHandle, make_engine: Callable[..., Engine], op: str
) -> None:
    """F9's sibling: not a 404 but another cluster with the same name (staging) answers at the new endpoint. Without
    a recorded endpoint that proves nothing about the recorded cluster: refused, nothing dropped."""
    engine = make_engine()
    desired = cluster()
    assert engine.up([desired]).ok
    engine.stack.get("prod").outputs.pop("endpoint")  # as 0.1.0 recorded it
    engine.stack.save()
    with serve(Backend(api_keys={API_KEY: None})) as staging:
        staging.backend.provision_delay = 0.0
        staging.backend.clock = lambda: time.monotonic() + 5.0  # another creation time
        FireworksClient(api_key=API_KEY, account_id=ACCOUNT, base_url=staging.base_url).create(
            "prod-use1", Cluster(display_name="Prod", eks_cluster=dict(desired.props["eksCluster"]))
        )
        wrong = make_engine(**{"fireworks:baseUrl": staging.base_url})
        wrong.stack = engine.stack
        plan = wrong.refresh() if op == "refresh" else wrong.destroy()
        assert staging.backend.cluster_names() == [NAME]  # staging's namesake untouched
    message = plan.step("prod").error_message
    assert not plan.ok and "another cluster with the same name" in message and "earlier version" in message
    assert [r.id for r in engine.stack.resources] == [NAME] and fireworks.backend.cluster_names() == [NAME]


# -- R7 (third review): what a preview says about values not known yet -------------------------------------------


@pytest.mark.parametrize("unknown", ["aws_account_id", "region"])
@pytest.mark.parametrize("door", DOORS)
def test_an_unknown_account_or_region_names_only_itself_as_the_replace_reason(
    fireworks: EmulatorHandle, make_engine: Callable[..., Engine], door: Door, unknown: str
) -> None:
    """The default manager role is computed from the account and region: while one is unknown, so is the default,
    which is no change of its own (the preview named `eksCluster.fireworksManagerRole: unset -> unset`)."""
    engine = make_engine(door=door)
    assert engine.up([cluster(door=door)]).ok
    step = engine.preview([cluster(door=door, **{unknown: UNKNOWN})]).step("prod")
    path = "eksCluster.awsAccountId" if unknown == "aws_account_id" else "eksCluster.region"
    assert step.op == "replace" and step.replaces == [path]
    if door == "native":
        assert set(step.detailed_diff) == {path}


def test_an_unknown_value_for_a_field_that_was_unset_is_an_add_as_a_known_one_is(
    fireworks: EmulatorHandle, make_engine: Callable[..., Engine]
) -> None:
    engine = make_engine(door="native")
    assert engine.up([cluster(door="native")]).ok
    role = f"arn:aws:iam::{AWS_ACCOUNT}:role/metrics"
    known = engine.preview([cluster(door="native", metric_writer_role=role)]).step("prod")
    unknown = engine.preview([cluster(door="native", metric_writer_role=UNKNOWN)]).step("prod")
    assert unknown.detailed_diff == known.detailed_diff
    assert set(known.detailed_diff.values()) == {"ADD_REPLACE"}


# -- R8 (final review): a refused old half of a replacement is retired first by the next command -------------------


@pytest.mark.parametrize("door", DOORS)
def test_the_old_half_of_a_replacement_whose_cluster_another_resource_adopted_never_deletes_it_later(
    fireworks: EmulatorHandle, make_engine: Callable[..., Engine], door: Door
) -> None:
    """`a` moves to another clusterId (create first) while `b` adopts a's old one. Refusing the old half's delete
    left it pending-delete, and the next `up` retires pending deletes before any Check: it deleted b's cluster.
    Now the old half's record is dropped and the cluster stays with b."""
    fireworks.backend.provision_delay = 0.0
    engine = make_engine(door=door)
    assert engine.up([cluster("a", door=door)]).ok
    program = [
        cluster("a", door=door, cluster_id="prod-use2"),
        cluster("b", door=door, adopt_existing=True),  # prod-use1, a's old cluster
    ]
    first = engine.up(program)
    assert first.ok, first.render()
    assert not [r for r in engine.stack.resources if r.pending_delete]
    second = engine.up(program)
    assert second.ok and second.ops() == {"a": "same", "b": "same"}, second.render()
    assert not [m for m in mutating(fireworks) if m.startswith("DELETE")]
    assert sorted(fireworks.backend.cluster_names()) == [NAME, f"accounts/{ACCOUNT}/clusters/prod-use2"]
    assert engine.stack.get("b").id == NAME
