"""The engine harness's native door: a ``pulumi.provider.experimental`` toy as a plugin process and in process.

Scenarios where the process boundary matters run through both doors; the rest run in process (fast).
"""

from __future__ import annotations

import json
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pulumi_fwcluster.native.server import NativeServicer
from pulumi_fwcluster.testing.engine import (
    DEFAULT_PARALLEL,
    UNKNOWN,
    ConfigureFlags,
    CustomTimeouts,
    Desired,
    Engine,
    EngineInterrupted,
    InProcessPlugin,
    LogEntry,
    NativePlugin,
    Secret,
    parse_duration,
)
from pulumi_fwcluster.testing.wire import mark_secrets, plain, secret_paths
from tests.engine.toy_native import TYPE, ToyNative
from tests.engine.toy_provider import ToyProvider, locked_store

ROOT = Path(__file__).resolve().parents[2]
SECRET = "t0p-s3cr3t-t0ken-value"
DOORS = ["process", "in-process"]


def read_store(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def requests(store: Path, call: str) -> list[dict[str, Any]]:
    return [r for r in read_store(store).get("requests", []) if r["call"] == call]


def store_calls(store: Path) -> list[str]:
    if not store.exists():
        return []
    calls: list[str] = read_store(store)["calls"]
    return calls


def started(store: Path, call: str) -> Callable[[], bool]:
    return lambda: call in store_calls(store)


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition never became true")
        time.sleep(0.01)


def seed(store: Path, **obj: Any) -> str:
    """An object made outside Pulumi, as the cloud would hold it."""
    id_ = f"ext-{uuid.uuid4().hex[:8]}"
    with locked_store(str(store)) as data:
        data["objects"][id_] = {"version": 1, "state": "READY", "endpoint": f"https://{id_}.toy.example", **obj}
    return id_


def thing(name: str = "a", import_id: str | None = None, **props: Any) -> Desired:
    base: dict[str, Any] = {"value": "v1", "region": "us-east-1", "size": 1}
    base.update(props)
    return Desired(name, None, base, type_=TYPE, import_id=import_id)


def native_engine(door: str, tmp_path: Path, store: Path, **kwargs: Any) -> Engine:
    plugin: NativePlugin | InProcessPlugin
    if door == "process":
        plugin = NativePlugin([sys.executable, "-m", "tests.engine.toy_native"], package="toy")
    else:
        plugin = InProcessPlugin(ToyNative, package="toy", servicer=NativeServicer)
    kwargs.setdefault("plugin", plugin)
    kwargs.setdefault("state_path", tmp_path / "state.json")
    kwargs.setdefault("process_per_operation", False)
    return Engine(
        cwd=tmp_path,
        pythonpath=[ROOT],
        config={"toy:store": str(store), "toy:greeting": "hello", "toy:token": Secret(SECRET)},
        **kwargs,
    )


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "store.json"


@pytest.fixture(params=DOORS)
def engine(request: pytest.FixtureRequest, tmp_path: Path, store: Path) -> Iterator[Engine]:
    with native_engine(request.param, tmp_path, store) as eng:
        yield eng


@pytest.fixture
def local(tmp_path: Path, store: Path) -> Iterator[Engine]:
    with native_engine("in-process", tmp_path, store) as eng:
        yield eng


# --------------------------------------------------------------------------------------------------
# Through both doors
# --------------------------------------------------------------------------------------------------


def test_configure_shapes_and_logs(engine: Engine, store: Path) -> None:
    plan = engine.preview([thing()])
    assert engine.calls[:3] == [("GetPluginInfo", ""), ("CheckConfig", ""), ("Configure", "")]
    assert engine.provider_flags == ConfigureFlags(True, True, True, True)
    config = read_store(store)["config"]
    assert config["variables"] == ["toy:config:greeting", "toy:config:store", "toy:config:token"]
    assert config["args"] == ["greeting", "store", "token"]
    assert config["greeting"] == "hello" and config["accept_secrets"] is True
    assert config["token_is_secret"] is True and config["token_len"] == len(SECRET)
    assert LogEntry("info", "toy: configured") in engine.logs
    seen = plan.render() + engine.stderr + engine.stdout + repr(engine) + repr(engine.logs)
    assert SECRET not in seen


def test_preview_create_returns_unknowns(engine: Engine, store: Path) -> None:
    step = engine.preview([thing(value=UNKNOWN)]).step("a")
    assert step.op == "create" and step.ok and step.calls == ["Check", "Create"]
    assert step.outputs["value"] == UNKNOWN and step.outputs["endpoint"] == UNKNOWN
    assert step.outputs["region"] == "us-east-1" and step.outputs["size"] == 1.0
    assert [(r["preview"], r["timeout"]) for r in requests(store, "create")] == [(True, 0.0)]
    assert read_store(store)["objects"] == {} and engine.stack.resources == []


def test_lifecycle_detailed_diff_and_both_replacements(engine: Engine, store: Path) -> None:
    step = engine.up([thing()], raise_on_error=True).step("a")
    assert step.op == "create" and step.calls == ["Check", "Create"] and step.outputs["state"] == "READY"
    first = step.id
    assert LogEntry("info", f"toy: created {first}") in engine.logs
    assert engine.preview([thing()]).step("a").calls == ["Check", "Diff"]

    # an update is previewed with Update(preview=True), and the detailed diff names nested paths
    step = engine.preview([thing(value="v2", nested={"k": 1})]).step("a")
    assert step.op == "update" and step.calls == ["Check", "Diff", "Update"]
    assert step.detailed_diff == {"value": "UPDATE", "nested": "ADD"}
    assert step.outputs["version"] == UNKNOWN and requests(store, "update")[-1]["preview"] is True
    step = engine.up([thing(value="v2", nested={"k": 1})], raise_on_error=True).step("a")
    assert step.op == "update" and step.outputs["version"] == 2.0 and engine.stack.get("a").id == first
    step = engine.preview([thing(value="v2", nested={"k": 2})]).step("a")
    assert step.detailed_diff == {"nested.k": "UPDATE"} and step.diffs == ["nested"]

    # a *_REPLACE kind alone makes a replacement: create the new one, then delete the old
    wanted: dict[str, Any] = {"value": "v2", "nested": {"k": 1}, "region": "eu-west-1"}
    preview = engine.preview([thing(**wanted)]).step("a")
    assert preview.op == "replace" and preview.calls == ["Check", "Diff", "Check", "Create"]
    plan = engine.up([thing(**wanted)], raise_on_error=True)
    step = plan.step("a")
    assert step.op == "replace" and step.replaces == [] and not step.delete_before_replace
    assert step.detailed_diff == {"region": "UPDATE_REPLACE"}
    assert step.calls == ["Check", "Diff", "Check", "Create", "Delete"]
    assert "    ~ region (replace)" in plan.render()
    second = engine.stack.get("a").id
    assert second != first and list(read_store(store)["objects"]) == [second]

    # `replaces` alone makes one too; deleteBeforeReplace deletes first
    step = engine.up([thing(**wanted, zone="b", exclusive=True)], raise_on_error=True).step("a")
    assert step.op == "replace" and step.replaces == ["zone"] and step.delete_before_replace
    assert step.detailed_diff == {"zone": "ADD", "exclusive": "ADD"}
    assert step.calls == ["Check", "Diff", "Check", "Delete", "Create"]
    third = engine.stack.get("a").id
    assert list(read_store(store)["objects"]) == [third]

    # refresh finds drift
    with locked_store(str(store)) as data:
        data["objects"][third]["value"] = "changed-outside"
    step = engine.refresh(raise_on_error=True).step("a")
    assert step.op == "refresh" and step.diffs == ["value"]
    assert engine.stack.get("a").inputs["value"] == "changed-outside"

    assert engine.destroy(raise_on_error=True).ops() == {"a": "delete"}
    assert read_store(store)["objects"] == {} and engine.stack.resources == []


def test_secrets_round_trip(engine: Engine, store: Path, tmp_path: Path) -> None:
    password = "hunter2-but-longer"
    plan = engine.up([thing(password=Secret(password))], raise_on_error=True)
    step = plan.step("a")
    assert step.secret_paths == ["password", "passwordHash"]
    assert step.outputs["password"] == password  # plain in the step; the paths say what is secret
    assert requests(store, "create")[-1]["secret_inputs"] == ["password"]
    state = engine.stack.get("a")
    assert state.secret_inputs == ["password"] and state.secret_outputs == ["password", "passwordHash"]
    saved = json.loads((tmp_path / "state.json").read_text())["resources"][0]
    assert saved["secret_outputs"] == ["password", "passwordHash"]

    # later calls send the stored secrets wrapped again
    step = engine.up([thing(value="v2", password=Secret(password))], raise_on_error=True).step("a")
    assert step.op == "update" and step.secret_paths == ["password", "passwordHash"]
    assert requests(store, "diff")[-1]["secret_olds"] == ["password", "passwordHash"]
    update = requests(store, "update")[-1]
    assert update["secret_olds"] == ["password", "passwordHash"] and update["secret_inputs"] == ["password"]
    assert engine.refresh(raise_on_error=True).step("a").secret_paths == ["password", "passwordHash"]
    engine.destroy(raise_on_error=True)
    assert requests(store, "delete")[-1]["secret_olds"] == ["password", "passwordHash"]
    assert password not in plan.render()


# --------------------------------------------------------------------------------------------------
# In process
# --------------------------------------------------------------------------------------------------


def test_import_command(local: Engine, store: Path) -> None:
    existing = seed(store, value="v1", region="us-east-1", size=1)
    step = local.import_(thing(), existing, raise_on_error=True).step("a")
    assert step.op == "import" and step.calls == ["Read", "Check"] and step.id == existing
    assert requests(store, "read")[-1] == {"call": "read", "with_properties": False, "with_inputs": False}
    state = local.stack.get("a")
    assert state.inputs == {"value": "v1", "region": "us-east-1", "size": 1.0} and state.import_id == ""
    assert local.import_(thing(), existing).step("a").op == "same"  # nothing to do the second time
    other = seed(store, value="v1", region="us-east-1", size=1)
    error = local.import_(thing(), other).step("a").error
    assert error == f"resource '{local.stack.get('a').urn}' already exists"
    assert local.up([thing()], raise_on_error=True).ops() == {"a": "same"}


def test_import_option_matching_and_mismatched(local: Engine, store: Path) -> None:
    matching = seed(store, value="v1", region="us-east-1", size=1)
    plan = local.up([thing(import_id=matching)], raise_on_error=True)
    assert [(s.name, s.op) for s in plan.steps] == [("a", "import")]  # the Same step is elided
    assert plan.steps[0].calls == ["Read", "Check", "Diff"]
    assert local.stack.get("a").import_id == matching and len(read_store(store)["objects"]) == 1
    assert local.up([thing(import_id=matching)], raise_on_error=True).ops() == {"a": "same"}

    # another id for a resource in state imports that one and deletes the old (ImportReplacementStep)
    twin = seed(store, value="v1", region="us-east-1", size=1)
    step = local.up([thing(import_id=twin)], raise_on_error=True).step("a")
    assert step.op == "import" and step.calls == ["Read", "Check", "Diff", "Delete"]
    assert local.stack.get("a").id == twin and list(read_store(store)["objects"]) == [twin]
    matching = twin

    # since pulumi 3.174 a difference is an update in the same run ...
    different = seed(store, value="v0", region="us-east-1", size=1)
    plan = local.up([thing(import_id=matching), thing("b", import_id=different)], raise_on_error=True)
    assert [(s.name, s.op) for s in plan.steps] == [("a", "same"), ("b", "import"), ("b", "update")]
    assert plan.step("b").calls == ["Check", "Diff", "Update"]
    assert read_store(store)["objects"][different]["value"] == "v1"

    # ... but never a replacement while the program still says `import_`: a warning in preview, an error in up
    elsewhere = seed(store, value="v1", region="eu-west-1", size=1)
    preview = local.preview([thing(import_id=matching), thing("b"), thing("c", import_id=elsewhere)])
    assert any("may not be replaced" in w for w in preview.step("c").warnings)
    plan = local.up([thing(import_id=matching), thing("b"), thing("c", import_id=elsewhere)])
    assert "previously-imported resources that still specify an ID may not be replaced" in (plan.step("c").error or "")
    assert elsewhere in read_store(store)["objects"]


def test_legacy_import_option_refuses_a_mismatch(tmp_path: Path, store: Path) -> None:
    existing = seed(store, value="v0", region="us-east-1", size=1)
    with native_engine("in-process", tmp_path, store, legacy_import=True) as eng:
        step = eng.preview([thing(import_id=existing)]).step("a")
        assert step.ok and step.warnings == [
            "inputs to import do not match the existing resource: [value]; importing this resource will fail"
        ]
        step = eng.up([thing(import_id=existing)]).step("a")
        assert step.error == "inputs to import do not match the existing resource: [value]"
        assert eng.stack.resources == [] and read_store(store)["objects"][existing]["value"] == "v0"
        assert eng.up([thing(value="v0", import_id=existing)], raise_on_error=True).ops() == {"a": "import"}
        assert eng.stack.get("a").inputs["value"] == "v0"


def test_import_of_a_missing_id(local: Engine, store: Path, tmp_path: Path) -> None:
    assert local.import_(thing(), "nope").step("a").error == "resource 'nope' does not exist"
    step = local.up([thing(import_id="nope")]).step("a")
    assert step.op == "import" and step.error == "resource 'nope' does not exist"
    assert local.stack.resources == []

    # Why NativeServicer answers a bare ReadResponse: the SDK's servicer always sends `properties`, and the
    # engine takes any properties as an existing resource.
    sdk = InProcessPlugin(ToyNative, package="toy")
    with native_engine("in-process", tmp_path, store, plugin=sdk, state_path=None) as eng:
        step = eng.import_(thing(), "nope").step("a")
        assert step.ok and eng.stack.get("a").outputs == {}


def test_custom_timeouts_reach_the_provider(local: Engine, store: Path) -> None:
    assert parse_duration("1h30m") == 5400.0 and parse_duration("300ms") == 0.3 and parse_duration(2) == 2.0
    with pytest.raises(ValueError):
        parse_duration("5 minutes")

    first = thing()
    first.custom_timeouts = CustomTimeouts(create="2m", update=30, delete="1h")
    local.up([first], raise_on_error=True)
    assert requests(store, "create")[-1]["timeout"] == 120.0
    assert local.stack.get("a").custom_timeouts == {"create": 120.0, "update": 30.0, "delete": 3600.0}
    changed = thing(value="v2")
    changed.custom_timeouts = first.custom_timeouts
    local.up([changed], raise_on_error=True)
    assert requests(store, "update")[-1]["timeout"] == 30.0

    # a replacement creates with the new timeouts and deletes the old resource with the ones stored with it
    moved = thing(value="v2", region="eu-west-1")
    moved.custom_timeouts = CustomTimeouts(create="90s", delete="5m")
    local.up([moved], raise_on_error=True)
    assert requests(store, "create")[-1]["timeout"] == 90.0
    assert requests(store, "delete")[-1]["timeout"] == 3600.0
    local.destroy(raise_on_error=True)
    assert requests(store, "delete")[-1]["timeout"] == 300.0

    # the provider enforces them: a create slower than its timeout is recorded as an init failure
    slow = thing("s", slow=30)
    slow.custom_timeouts = CustomTimeouts(create=0.2)
    began = time.monotonic()
    step = local.up([slow]).step("s")
    assert time.monotonic() - began < 5
    assert step.error == "timed out after 0.2s waiting for the thing to become ready"
    assert local.stack.get("s").init_errors == [step.error]


def test_init_failure_is_recorded_then_healed(local: Engine, store: Path) -> None:
    plan = local.up([thing(fail="init-create"), thing("b")])
    step = plan.step("a")
    assert not step.ok and step.error == "the thing failed to start" and step.calls == ["Check", "Create"]
    assert plan.step("b").op == "skip"
    state = local.stack.get("a")
    assert state.id == step.id and state.init_errors == ["the thing failed to start"]
    assert state.outputs["state"] == "FAILED" and state.inputs["fail"] == "init-create"

    # the next up updates it although Diff reports no change
    plan = local.up([thing(fail="init-create"), thing("b")], raise_on_error=True)
    step = plan.step("a")
    assert step.op == "update" and step.calls == ["Check", "Diff", "Update"] and step.diffs == []
    assert local.stack.get("a").init_errors == [] and local.stack.get("a").outputs["state"] == "READY"
    assert local.up([thing(fail="init-create"), thing("b")], raise_on_error=True).ops() == {"a": "same", "b": "same"}

    # a failed update records the new outputs but keeps the old inputs
    step = local.up([thing(value="v9", fail="init-update"), thing("b")]).step("a")
    assert step.error == "the thing failed to restart"
    state = local.stack.get("a")
    assert state.inputs["value"] == "v1" and state.outputs["value"] == "v9"
    assert state.init_errors == ["the thing failed to restart"]
    local.destroy(raise_on_error=True)
    assert read_store(store)["objects"] == {}


def test_cancel_stops_waiting(local: Engine, store: Path) -> None:
    plans: list[Any] = []
    runner = threading.Thread(target=lambda: plans.append(local.up([thing(slow=30), thing("b")])))
    runner.start()
    wait_for(started(store, "create"))
    began = time.monotonic()
    local.cancel()
    runner.join(10)
    assert time.monotonic() - began < 3 and plans
    plan = plans[0]
    assert plan.step("a").error == "cancelled while waiting for the thing to become ready"
    assert plan.step("b").op == "skip"
    assert ("Cancel", "") in local.calls
    assert local.stack.get("a").init_errors == [plan.step("a").error]


def test_interrupted_engine_leaves_a_pending_create(local: Engine, store: Path, tmp_path: Path) -> None:
    local.kill_when("Create", "a", ready=started(store, "create"), interrupt=True)
    with pytest.raises(EngineInterrupted) as info:
        local.up([thing(slow=30)])
    assert [(op.type, op.name) for op in info.value.pending] == [("creating", "a")]
    saved = json.loads((tmp_path / "state.json").read_text())
    assert [op["type"] for op in saved["pending_operations"]] == ["creating"] and saved["resources"] == []

    plan = local.up([thing()], raise_on_error=True)
    urn = local.stack.get("a").urn
    assert plan.messages[0].startswith(
        "warning: Attempting to deploy or update resources with 1 pending operations from previous deployment.\n"
        f"  * {urn}, interrupted while creating\n"
    )
    assert len(local.stack.pending_operations) == 1  # only refresh clears a pending create
    local.refresh(clear_pending_creates=True, raise_on_error=True)
    assert local.stack.pending_operations == []
    assert local.up([thing()], raise_on_error=True).messages == []


def test_parallel_workers(tmp_path: Path, store: Path) -> None:
    assert DEFAULT_PARALLEL >= 4
    toy = ToyNative()
    with native_engine("in-process", tmp_path, store, plugin=InProcessPlugin(toy, package="toy")) as eng:
        names = [f"r{i}" for i in range(8)]
        plan = eng.up([thing(n, slow=0.5) for n in names], parallel=8, raise_on_error=True)
        assert [s.name for s in plan.steps] == names and toy.peak == 8
        eng.destroy(raise_on_error=True)
        toy.peak = 0
        eng.up([thing(n, slow=0.1) for n in names], parallel=2, raise_on_error=True)
        assert toy.peak == 2


# --------------------------------------------------------------------------------------------------
# The process boundary
# --------------------------------------------------------------------------------------------------


def test_killed_plugin_mid_create(tmp_path: Path, store: Path) -> None:
    with native_engine("process", tmp_path, store) as eng:
        eng.kill_when("Create", "a", ready=lambda: store.exists() and bool(read_store(store)["objects"]))
        plan = eng.up([thing(slow=30), thing("b")])
        step = plan.step("a")
        assert not step.ok and step.error is not None and step.error.startswith("UNAVAILABLE")
        assert plan.step("b").op == "skip"
        assert any("tests.engine.toy_native exited prematurely" in m for m in plan.messages)
        # the engine closed the operation with the failure: nothing recorded, nothing pending ...
        assert eng.stack.resources == [] and eng.stack.pending_operations == []
        # ... while the cloud holds what the plugin had started
        assert len(read_store(store)["objects"]) == 1
        eng.up([thing(), thing("b")], raise_on_error=True)  # a fresh plugin
        assert len(read_store(store)["objects"]) == 3 and len(eng.start_seconds) == 2


def test_a_plugin_process_per_operation(tmp_path: Path, store: Path) -> None:
    eng = native_engine("process", tmp_path, store, process_per_operation=True)
    eng.up([thing()], raise_on_error=True)
    eng.destroy(raise_on_error=True)
    assert len(eng.start_seconds) == 2 and eng.server is None  # each command its own plugin, stopped after
    assert [e.message for e in eng.logs].count("toy: configured") == 2
    assert store_calls(store).count("configure") == 2


def test_dynamic_door_gets_secrets_in_plaintext(tmp_path: Path, store: Path) -> None:
    with Engine(cwd=tmp_path, pythonpath=[ROOT], config={"toy:token": Secret(SECRET)}) as eng:
        d = Desired("a", ToyProvider(str(store)), {"value": Secret("quiet"), "size": 1}, type_="x:index:T")
        step = eng.up([d], raise_on_error=True).step("a")
        assert eng.provider_flags is not None and not eng.provider_flags.accept_secrets
        assert read_store(store)["config"]["token_len"] == len(SECRET)
        obj = read_store(store)["objects"][step.id]
        assert obj["value"] == "quiet"  # sent in plaintext ...
        assert step.secret_paths == ["value"]  # ... and re-marked by the engine


def test_secret_paths_round_trip() -> None:
    value = {"a": Secret(1), "b": {"c": [0, Secret("x")], "odd.key": Secret({"d": 2})}, "e": "plain"}
    paths = secret_paths(value)
    assert paths == ["a", "b.c[1]", 'b["odd.key"]']
    assert mark_secrets(plain(value), paths) == value
    assert repr(Secret("hunter2")) == "Secret(***)"
