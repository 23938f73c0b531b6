"""Tests of the engine harness against a toy provider, through the real ``python -m pulumi.dynamic``."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pulumi_fwcluster.testing.engine import UNKNOWN, Desired, Engine, EngineError, ProviderServer, Stack
from tests.engine.toy_provider import ToyProvider

# The provider server imports ToyProvider by reference, as `tests.engine.toy_provider`: it needs the project root.
ROOT = Path(__file__).resolve().parents[2]

TYPE = "pulumi-python:dynamic/toy:Thing"
SECRET = "s3cr3t-t0ken-value"


def read_store(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def write_store(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data))


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "store.json"


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    with Engine(
        cwd=tmp_path,
        pythonpath=[ROOT],
        config={"toy:greeting": "hello", "toy:token": SECRET},
        state_path=tmp_path / "state.json",
        process_per_operation=False,
    ) as eng:
        yield eng


def thing(store: Path, name: str = "a", **props: Any) -> Desired:
    base: dict[str, Any] = {"value": "v1", "region": "us-east-1", "size": 1}
    base.update(props)
    return Desired(name, ToyProvider(str(store)), base, type_=TYPE)


def calls_for(eng: Engine, name: str) -> list[str]:
    return [m for m, n in eng.calls if n == name]


def test_server_start_and_stderr(tmp_path: Path) -> None:
    began = time.monotonic()
    with ProviderServer(cwd=tmp_path) as server:
        assert server.port and server.stub is not None
        assert server.start_seconds is not None and server.start_seconds < 10
    assert not server.running
    assert time.monotonic() - began < 10


def test_preview_new_with_unknown(engine: Engine, store: Path) -> None:
    plan = engine.preview([thing(store, value=UNKNOWN, nested={"deep": UNKNOWN, "known": 1})])
    step = plan.step("a")
    assert step.op == "create" and step.ok
    assert step.inputs is not None
    assert step.inputs["sawUnknowns"] == ["nested", "value"]
    assert step.inputs["value"] == UNKNOWN
    assert step.inputs["nested"] == {"deep": UNKNOWN, "known": 1.0}
    assert calls_for(engine, "a") == ["Check"]
    assert read_store(store)["calls"] == ["configure", "check-new"]
    assert read_store(store)["objects"] == {}
    assert "+ create" in plan.render() and "1 to create" in plan.render()
    assert engine.stack.resources == []


def test_preview_check_failure(engine: Engine, store: Path) -> None:
    plan = engine.preview([thing(store, size=-1)])
    step = plan.step("a")
    assert step.failures == [("size", "must be >= 0")]
    assert not plan.ok
    assert "error: size: must be >= 0" in plan.render()
    with pytest.raises(EngineError):
        plan.raise_for_errors()


def test_lifecycle(engine: Engine, store: Path, tmp_path: Path) -> None:
    # create
    plan = engine.up([thing(store)], raise_on_error=True)
    step = plan.step("a")
    assert step.op == "create" and step.id
    assert step.calls == ["Check", "Create"]
    first_id = step.id
    assert step.outputs is not None and step.outputs["version"] == 1.0
    assert step.outputs["objectId"] == first_id
    assert "__provider" in step.outputs
    state = json.loads((tmp_path / "state.json").read_text())
    assert state["resources"][0]["urn"] == f"urn:pulumi:stack::project::{TYPE}::a"

    # unchanged
    plan = engine.preview([thing(store)])
    assert plan.step("a").op == "same"
    assert plan.step("a").calls == ["Check", "Diff"]
    assert engine.up([thing(store)]).step("a").op == "same"

    # update
    plan = engine.preview([thing(store, value="v2")])
    assert plan.step("a").op == "update" and plan.step("a").diffs == ["value"]
    assert "[diff: ~value]" in plan.render()
    plan = engine.up([thing(store, value="v2")], raise_on_error=True)
    step = plan.step("a")
    assert step.op == "update" and step.calls == ["Check", "Diff", "Update"]
    assert step.outputs is not None and step.outputs["version"] == 2.0 and step.outputs["value"] == "v2"
    assert engine.stack.get("a").id == first_id

    # replace, create-before-delete
    plan = engine.up([thing(store, value="v2", region="eu-west-1")], raise_on_error=True)
    step = plan.step("a")
    assert step.op == "replace" and step.replaces == ["region"] and not step.delete_before_replace
    assert step.calls == ["Check", "Diff", "Check", "Create", "Delete"]
    assert "+- replace" in plan.render()
    second_id = engine.stack.get("a").id
    assert second_id != first_id
    assert list(read_store(store)["objects"]) == [second_id]
    assert len(engine.stack.resources) == 1

    # replace, delete-before-replace (the Diff asked for it)
    plan = engine.up([thing(store, value="v2", region="ap-south-1", exclusive=True)], raise_on_error=True)
    step = plan.step("a")
    assert step.op == "replace" and step.delete_before_replace
    assert step.calls == ["Check", "Diff", "Check", "Delete", "Create"]
    assert "-+ replace" in plan.render() and "(delete-before-replace)" in plan.render()
    third_id = engine.stack.get("a").id

    # replace, delete-before-replace (the program asked for it)
    d = thing(store, value="v2", region="us-west-2", exclusive=False)
    d.delete_before_replace = True
    step = engine.up([d], raise_on_error=True).step("a")
    assert step.op == "replace" and step.delete_before_replace
    assert step.calls == ["Check", "Diff", "Check", "Delete", "Create"]
    fourth_id = engine.stack.get("a").id
    assert list(read_store(store)["objects"]) == [fourth_id] and third_id != fourth_id

    # refresh after an out-of-band change
    data = read_store(store)
    data["objects"][fourth_id]["value"] = "changed-outside"
    write_store(store, data)
    plan = engine.refresh(raise_on_error=True)
    step = plan.step("a")
    assert step.op == "refresh" and step.diffs == ["value"]
    assert engine.stack.get("a").outputs["value"] == "changed-outside"
    assert engine.stack.get("a").inputs["value"] == "changed-outside"  # ReadResult.inputs
    assert "__provider" in engine.stack.get("a").inputs
    assert engine.refresh().step("a").op == "same"

    # get (Resource.get): Read with inputs only
    got = engine.get("copy", fourth_id, ToyProvider(str(store)), type_=TYPE)
    assert got.ok and got.outputs is not None and got.outputs["value"] == "changed-outside"
    assert engine.stack.get("a").id == fourth_id and "copy" not in engine.stack

    # destroy
    plan = engine.destroy(raise_on_error=True)
    assert plan.ops() == {"a": "delete"}
    assert engine.stack.resources == [] and read_store(store)["objects"] == {}


def test_out_of_band_delete_and_removed_resource(engine: Engine, store: Path) -> None:
    engine.up([thing(store, "a"), thing(store, "b"), thing(store, "c")], raise_on_error=True)
    b_id = engine.stack.get("b").id
    data = read_store(store)
    del data["objects"][b_id]
    write_store(store, data)
    plan = engine.refresh()
    assert plan.ops() == {"a": "same", "b": "refresh-delete", "c": "same"}
    assert "b" not in engine.stack
    plan = engine.up([thing(store, "a")], raise_on_error=True)
    assert plan.ops() == {"a": "same", "c": "delete"}
    assert [r.name for r in engine.stack.resources] == ["a"]


def test_rename_with_and_without_alias(engine: Engine, store: Path) -> None:
    engine.up([thing(store, "old")], raise_on_error=True)
    first = engine.stack.get("old").id

    # with an alias the renamed resource takes over the state entry: no create, no delete
    renamed = thing(store, "new")
    renamed.aliases = ["old"]
    assert engine.preview([renamed]).ops() == {"new": "same"}
    plan = engine.up([renamed], raise_on_error=True)
    assert plan.ops() == {"new": "same"} and calls_for(engine, "new")[-2:] == ["Check", "Diff"]
    state = engine.stack.get("new")
    assert state.id == first and state.urn == f"urn:pulumi:stack::project::{TYPE}::new" and "old" not in engine.stack
    assert list(read_store(store)["objects"]) == [first]

    # without one the engine sees a new resource and a removed one: create the new, then delete the old
    plan = engine.up([thing(store, "newer")], raise_on_error=True)
    assert [(s.name, s.op) for s in plan.steps] == [("newer", "create"), ("new", "delete")]
    second = engine.stack.get("newer").id
    assert second != first and list(read_store(store)["objects"]) == [second]
    assert [r.name for r in engine.stack.resources] == ["newer"]


def test_errors(engine: Engine, store: Path) -> None:
    plan = engine.up([thing(store, fail="create")])
    step = plan.step("a")
    assert step.error is not None and "create failed on purpose" in step.error
    assert step.error_message == "Exception: create failed on purpose"
    assert engine.stack.resources == []  # a failed Create records nothing
    with pytest.raises(EngineError, match="create failed on purpose"):
        plan.raise_for_errors()

    engine.up([thing(store)], raise_on_error=True)
    before = engine.stack.get("a")
    plan = engine.up([thing(store, value="v9", fail="update")])
    assert plan.step("a").op == "update" and not plan.ok
    assert engine.stack.get("a").outputs == before.outputs  # a failed Update keeps the old state
    with pytest.raises(ValueError):
        engine.up([thing(store, value=UNKNOWN)])


def test_configure_and_secret_hygiene(engine: Engine, store: Path) -> None:
    engine.up([thing(store)], raise_on_error=True)
    config = read_store(store)["config"]
    assert config == {"greeting": "hello", "has_token": True, "token_len": len(SECRET)}
    assert "info: toy: configured" in engine.stderr
    assert "info: toy: created" in engine.stderr
    assert SECRET not in engine.stderr and SECRET not in engine.stdout and SECRET not in repr(engine)
    assert SECRET not in engine.up([thing(store, value="x")]).render()


def test_parallel_and_process_per_operation(tmp_path: Path, store: Path) -> None:
    eng = Engine(cwd=tmp_path, pythonpath=[ROOT], config={"toy:greeting": "hi"})
    names = [f"r{i}" for i in range(8)]
    plan = eng.up([thing(store, n) for n in names], parallel=True, raise_on_error=True)
    assert [s.name for s in plan.steps] == names
    assert len(read_store(store)["objects"]) == 8
    plan = eng.up([thing(store, n, value="v2") for n in names], parallel=True, raise_on_error=True)
    assert set(plan.ops().values()) == {"update"}
    eng.destroy(raise_on_error=True)
    assert read_store(store)["objects"] == {}
    # A fresh server per command: configure ran once per process.
    assert read_store(store)["calls"].count("configure") == 3
    assert len(eng.start_seconds) == 3


def test_state_file_roundtrip(tmp_path: Path, store: Path) -> None:
    path = tmp_path / "s.json"
    Engine(cwd=tmp_path, pythonpath=[ROOT], state_path=path).up([thing(store)], raise_on_error=True)
    again = Engine(cwd=tmp_path, pythonpath=[ROOT], stack=Stack(path=path))
    assert again.preview([thing(store)]).step("a").op == "same"
    again.destroy(raise_on_error=True)
    assert json.loads(path.read_text())["resources"] == []
