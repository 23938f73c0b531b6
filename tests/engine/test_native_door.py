"""What only the native door can do, through the provider protocol in the engine's order: the schema, config,
detailed diffs, preview outputs, customTimeouts, import, partial failures, secrets, cancel, parallelism, a killed
plugin, and the plugin started as the CLI starts it."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from pulumi_fwcluster import __version__
from pulumi_fwcluster.client import Cluster, FireworksClient
from pulumi_fwcluster.native.schema import package_schema
from pulumi_fwcluster.testing.emulator import EmulatorHandle
from pulumi_fwcluster.testing.engine import UNKNOWN, CustomTimeouts, Engine, EngineError, NativePlugin, Secret, Stack
from tests.engine.enginehelpers import ACCOUNT, API_KEY, INFERENCE, cluster

NAME = f"accounts/{ACCOUNT}/clusters/prod-use1"
METASCHEMA = Path(__file__).resolve().parents[3] / "shared" / "reference" / "pulumi-package-metaschema.json"


def client_for(fw: EmulatorHandle) -> FireworksClient:
    return FireworksClient(api_key=API_KEY, account_id=ACCOUNT, base_url=fw.base_url)


@pytest.fixture
def native(make_engine: Callable[..., Engine]) -> Callable[..., Engine]:
    return lambda **config: make_engine(door="native", **config)


# -- the package ----------------------------------------------------------------------------------------------


def test_the_schema_is_a_valid_pulumi_package_with_the_tables_fields() -> None:
    if not METASCHEMA.exists():
        pytest.skip(f"Pulumi's package metaschema is not at {METASCHEMA} (it lives beside the project, in ../shared)")
    # The metaschema writes named groups the Go/ECMA way; Python's re spells them (?P<name>...).
    metaschema = json.loads(METASCHEMA.read_text().replace("(?<", "(?P<"))
    schema = package_schema(__version__)
    jsonschema.validators.validator_for(metaschema)(metaschema).validate(schema)
    resource = schema["resources"]["fireworks:index:Cluster"]
    assert resource["requiredInputs"] == ["clusterId"]
    assert resource["inputProperties"]["clusterId"]["replaceOnChanges"] is True
    assert "replaceOnChanges" not in resource["inputProperties"]["displayName"]
    assert resource["inputProperties"]["adoptExisting"]["type"] == "boolean"
    eks = schema["types"]["fireworks:index:EksCluster"]
    assert eks["required"] == ["awsAccountId", "region"]
    assert eks["properties"]["inferenceRole"]["willReplaceOnChanges"] is True
    # SDKs make replaceOnChanges a resource option that replaces on any diff of the path: only where the provider
    # always replaces, never on the whole group or on a value Fireworks assigns (written down, it changes in place).
    assert eks["properties"]["inferenceRole"]["replaceOnChanges"] is True
    assert "replaceOnChanges" not in eks["properties"]["workloadIdentityPoolProviderId"]
    assert "replaceOnChanges" not in resource["inputProperties"]["eksCluster"]
    assert schema["config"]["variables"]["apiKey"]["secret"] is True
    assert schema["provider"]["inputProperties"]["baseUrl"]["defaultInfo"] == {"environment": ["FIREWORKS_BASE_URL"]}


def test_get_schema_over_the_wire_is_the_same_document(native: Callable[..., Engine]) -> None:
    from pulumi.runtime.proto import provider_pb2

    engine = native()
    server = engine.start()
    reply = server.stub.GetSchema(provider_pb2.GetSchemaRequest(version=0))
    assert json.loads(reply.schema) == package_schema(__version__)
    assert engine.provider_flags is not None
    assert engine.provider_flags.accept_secrets and engine.provider_flags.supports_preview
    engine.stop()


def test_bad_config_is_refused_in_check_config(fireworks: EmulatorHandle, native: Callable[..., Engine]) -> None:
    engine = native(**{"fireworks:createTimeout": "soon", "fireworks:baseUrl": "http://api.example.com"})
    with pytest.raises(EngineError) as refused:
        engine.preview([cluster(door="native")])
    text = str(refused.value)
    assert "createTimeout: 'soon' is not a duration" in text
    assert "baseUrl: base URL 'http://api.example.com' is refused: use https://" in text
    assert fireworks.backend.requests == []


def test_settings_fall_back_to_the_environment_in_the_plugin_process(
    fireworks: EmulatorHandle, make_engine: Callable[..., Engine]
) -> None:
    from_env = {"FIREWORKS_API_KEY": API_KEY, "FIREWORKS_ACCOUNT_ID": ACCOUNT, "FIREWORKS_BASE_URL": fireworks.base_url}
    unset = dict.fromkeys(("fireworks:apiKey", "fireworks:accountId", "fireworks:baseUrl"))
    engine = make_engine(from_env, door="plugin", **unset)
    plan = engine.up([cluster(door="native")])
    assert plan.ok, plan.render()
    assert engine.stack.get("prod").id == NAME
    assert API_KEY not in engine.stdout + engine.stderr + json.dumps(engine.stack.to_json())
    assert engine.destroy().ok


# -- plans ----------------------------------------------------------------------------------------------------


def test_diff_names_nested_paths_and_their_kind(fireworks: EmulatorHandle, native: Callable[..., Engine]) -> None:
    engine = native()
    assert engine.up([cluster(door="native")]).ok
    step = engine.preview([cluster(door="native", display_name="New", inference_role=INFERENCE + "-2")]).step("prod")
    assert step.op == "replace" and step.delete_before_replace
    assert step.detailed_diff == {"displayName": "UPDATE", "eksCluster.inferenceRole": "UPDATE_REPLACE"}
    assert step.replaces == ["eksCluster.inferenceRole"]
    step = engine.preview([cluster(door="native", display_name="New")]).step("prod")
    assert step.op == "update" and step.detailed_diff == {"displayName": "UPDATE"}
    step = engine.preview([cluster(door="native", metric_writer_role=INFERENCE + "-m")]).step("prod")
    assert step.detailed_diff == {"eksCluster.metricWriterRole": "ADD_REPLACE"}


def test_preview_returns_unknown_outputs_and_sends_nothing(
    fireworks: EmulatorHandle, native: Callable[..., Engine]
) -> None:
    engine = native()
    plan = engine.preview([cluster(door="native", inference_role=UNKNOWN)])
    step = plan.step("prod")
    assert step.calls == ["Check", "Create"]
    assert step.outputs["name"] == UNKNOWN and step.outputs["state"] == UNKNOWN
    assert step.outputs["eksCluster"]["inferenceRole"] == UNKNOWN and step.outputs["displayName"] == "Prod"
    assert engine.up([cluster(door="native")]).ok
    before = len(fireworks.backend.requests)
    step = engine.preview([cluster(door="native", display_name="New")]).step("prod")
    assert step.calls == ["Check", "Diff", "Update"] and step.outputs["displayName"] == "New"
    assert step.outputs["state"] == "READY"  # an update keeps what the API said
    assert fireworks.backend.requests[before:] == []


# -- customTimeouts and partial failures ----------------------------------------------------------------------


def test_a_create_timeout_records_the_cluster_and_the_next_up_resumes(
    fireworks: EmulatorHandle, native: Callable[..., Engine]
) -> None:
    fireworks.backend.provision_delay = 2.0
    engine = native(**{"fireworks:createTimeout": "1h"})
    slow = cluster(door="native")
    slow.custom_timeouts = CustomTimeouts(create="1s")
    plan = engine.up([slow])
    step = plan.step("prod")
    assert not plan.ok
    assert "customTimeouts.create" in step.error_message and "resumes waiting" in step.error_message
    state = engine.stack.get("prod")  # the engine recorded it: an init failure, not a lost cluster
    assert state.id == NAME and state.outputs["state"] == "CREATING" and state.init_errors

    plan = engine.up([cluster(door="native")])
    assert plan.ok and plan.ops() == {"prod": "update"}, plan.render()
    assert engine.stack.get("prod").outputs["state"] == "READY" and not engine.stack.get("prod").init_errors
    assert [r.method for r in fireworks.backend.requests].count("POST") == 1


def test_a_failed_create_is_recorded_then_replaced_or_destroyed(
    fireworks: EmulatorHandle, native: Callable[..., Engine]
) -> None:
    fireworks.backend.fail_provisioning("prod-use1", "quota exceeded", code="RESOURCE_EXHAUSTED")
    engine = native()
    plan = engine.up([cluster(door="native")])
    assert not plan.ok and "RESOURCE_EXHAUSTED: quota exceeded" in plan.step("prod").error_message
    state = engine.stack.get("prod")
    assert state.outputs["state"] == "FAILED" and fireworks.backend.cluster_names() == [NAME]

    plan = engine.up([cluster(door="native")])
    assert plan.ok and plan.step("prod").op == "replace", plan.render()
    assert engine.stack.get("prod").outputs["state"] == "READY"
    assert engine.destroy().ok and fireworks.backend.cluster_names() == []


def test_a_delete_timeout_names_custom_timeouts_and_keeps_the_cluster(
    fireworks: EmulatorHandle, native: Callable[..., Engine]
) -> None:
    engine = native()
    doomed = cluster(door="native")
    doomed.custom_timeouts = CustomTimeouts(delete="1s")
    assert engine.up([doomed]).ok
    fireworks.backend.delete_delay = 3.0
    plan = engine.destroy()
    assert not plan.ok and "customTimeouts.delete" in plan.step("prod").error_message
    assert engine.stack.get("prod").id == NAME
    time.sleep(2.5)
    assert engine.destroy().ok


# -- import ---------------------------------------------------------------------------------------------------


def test_import_of_an_existing_cluster_finds_no_changes(
    fireworks: EmulatorHandle, native: Callable[..., Engine]
) -> None:
    fireworks.backend.default_manager_role = True
    desired = cluster(door="native")
    client_for(fireworks).create(
        "prod-use1", Cluster(display_name="Prod", eks_cluster=dict(desired.props["eksCluster"]))
    )
    engine = native()
    plan = engine.import_(desired, NAME)
    assert plan.ok and plan.step("prod").op == "import", plan.render()
    assert engine.stack.get("prod").inputs["eksCluster"] == desired.props["eksCluster"]
    assert engine.preview([desired]).ops() == {"prod": "same"}

    other = native()
    adopted = cluster(door="native")
    adopted.import_id = NAME  # the `import_=` resource option
    plan = other.up([adopted])
    assert plan.ok and plan.ops() == {"prod": "import"}, plan.render()
    assert [r.method for r in fireworks.backend.requests if r.method != "GET"] == ["POST"]


def test_import_of_a_missing_cluster_says_it_does_not_exist(native: Callable[..., Engine]) -> None:
    plan = native().import_(cluster(door="native"), f"accounts/{ACCOUNT}/clusters/nothing-here")
    assert not plan.ok and "does not exist" in plan.step("prod").error_message


# -- secrets --------------------------------------------------------------------------------------------------


def test_secret_inputs_stay_secret_and_the_key_appears_nowhere(
    fireworks: EmulatorHandle, native: Callable[..., Engine]
) -> None:
    engine = native(**{"fireworks:apiKey": Secret(API_KEY)})
    desired = cluster(door="native")
    desired.props["displayName"] = Secret("Prod (secret name)")
    plan = engine.up([desired])
    assert plan.ok, plan.render()
    assert "displayName" in plan.step("prod").secret_paths
    assert "displayName" in engine.stack.get("prod").secret_outputs
    everything = json.dumps(engine.stack.to_json()) + engine.stderr + engine.stdout + repr(engine.logs) + plan.render()
    assert API_KEY not in everything


# -- concurrency, cancel and a killed plugin ------------------------------------------------------------------


def test_sixteen_creates_run_at_once(fireworks: EmulatorHandle, native: Callable[..., Engine]) -> None:
    fireworks.backend.provision_delay = 1.0
    peak = [0]
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            creating = sum(1 for n in fireworks.backend.cluster_names() if client_state(fireworks, n) == "CREATING")
            peak[0] = max(peak[0], creating)
            stop.wait(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    clusters = [cluster(f"c{i}", door="native", cluster_id=f"c{i}") for i in range(16)]
    plan = native().up(clusters, parallel=16)
    stop.set()
    watcher.join()
    assert plan.ok, plan.render()
    assert peak[0] == 16  # all sixteen provisioning at the same time: no worker cap in the provider


def client_state(fw: EmulatorHandle, name: str) -> str:
    found = client_for(fw).find(name.rsplit("/", 1)[-1])
    return found.state if found is not None else "GONE"


def test_cancel_stops_a_long_wait_promptly(fireworks: EmulatorHandle, native: Callable[..., Engine]) -> None:
    fireworks.backend.provision_delay = 60.0
    engine = native()
    result: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: result.update(plan=engine.up([cluster(door="native")])))
    worker.start()
    while not fireworks.backend.cluster_names():
        time.sleep(0.05)
    started = time.monotonic()
    engine.cancel()
    worker.join(timeout=10)
    assert not worker.is_alive() and time.monotonic() - started < 5
    plan = result["plan"]
    assert not plan.ok and "cancelled" in plan.step("prod").error_message
    assert engine.stack.get("prod").outputs["state"] == "CREATING"  # recorded: the next up resumes


def test_a_plugin_killed_mid_create_loses_nothing(
    fireworks: EmulatorHandle, make_engine: Callable[..., Engine]
) -> None:
    fireworks.backend.provision_delay = 3.0
    engine = make_engine(door="plugin")
    engine.kill_when("Create", "prod", ready=lambda: bool(fireworks.backend.cluster_names()))
    plan = engine.up([cluster(door="native")])
    assert not plan.ok and engine.stack.resources == []
    assert fireworks.backend.cluster_names() == [NAME]  # submitted before the plugin died
    plan = engine.up([cluster(door="native")])
    assert plan.ok, plan.render()  # still CREATING: the interrupted create is adopted
    assert engine.stack.get("prod").outputs["state"] == "READY"
    assert [r.method for r in fireworks.backend.requests].count("POST") == 2


def test_a_plugin_directory_runs_as_the_cli_runs_it(
    fireworks: EmulatorHandle, make_engine: Callable[..., Engine], tmp_path: Path
) -> None:
    from pulumi_fwcluster.native.plugin import write_plugin_dir

    plugin = write_plugin_dir(tmp_path / "fireworks-plugin")
    venv = Path(sys.prefix)
    assert f"virtualenv: {venv.resolve()}" in (plugin / "PulumiPlugin.yaml").read_text()
    engine = make_engine(door="native")
    # What the Python language host does with a PulumiPlugin.yaml directory: <virtualenv>/bin/python <dir> <engine>.
    engine.plugin = NativePlugin([str(venv / "bin" / "python"), str(plugin)])
    assert engine.up([cluster(door="native")]).ok
    assert engine.destroy().ok and fireworks.backend.cluster_names() == []


def test_moving_a_cluster_from_the_dynamic_door_to_the_native_one(
    fireworks: EmulatorHandle, make_engine: Callable[..., Engine]
) -> None:
    dynamic = make_engine()
    assert dynamic.up([cluster()]).ok
    # 1. `pulumi state delete <dynamic URN>`: Pulumi forgets the resource; the cluster keeps running.
    dynamic.stack.remove(dynamic.stack.get("prod"))
    dynamic.stack.save()
    # 2. the program imports `Cluster` from pulumi_fwcluster.native; `pulumi import` (or `import_=`) takes it over.
    native = make_engine(door="native")
    native.stack = Stack(path=dynamic.stack.path)
    assert native.import_(cluster(door="native"), NAME).ok
    before = len(fireworks.backend.requests)
    assert native.preview([cluster(door="native")]).ops() == {"prod": "same"}
    assert native.up([cluster(door="native")]).ops() == {"prod": "same"}
    assert [r.method for r in fireworks.backend.requests[before:]] == []
    assert [r.method for r in fireworks.backend.requests if r.method != "GET"] == ["POST"]  # never deleted


def test_moving_a_cluster_to_the_native_door_with_an_alias(
    fireworks: EmulatorHandle, make_engine: Callable[..., Engine]
) -> None:
    dynamic = make_engine()
    assert dynamic.up([cluster()]).ok
    old_urn = dynamic.stack.get("prod").urn
    # One `up`: the native Cluster says it used to be the dynamic one. The engine asks the new provider's DiffConfig
    # whether the provider change forces a replacement (ours reports no change), then diffs the resource with it.
    moved = cluster(door="native")
    moved.aliases = [old_urn]
    native = make_engine(door="native")
    native.stack = Stack(path=dynamic.stack.path)
    before = len(fireworks.backend.requests)
    plan = native.up([moved])
    assert plan.ok and plan.ops() == {"prod": "same"}, plan.render()
    assert fireworks.backend.requests[before:] == []
    assert [r.type for r in native.stack.resources] == ["fireworks:index:Cluster"]
    assert native.refresh().ok and native.preview([cluster(door="native")]).ops() == {"prod": "same"}
