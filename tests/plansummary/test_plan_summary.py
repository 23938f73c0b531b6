"""`fwcluster plan-summary`: the digest of `pulumi preview --json` in, a downtime-aware summary out.

The fixtures are digests written by hand from the format in pulumi/pulumi (`pkg/display/json.go`): `mixed.json` is an
everyday preview, `engine-diff.json` holds dynamic-provider diffs the engine computed, `replacement-steps.json` was
"run" with --show-replacement-steps --show-sames and holds the rarer ops, `preflight-failure.json` is a preview that
stopped at a cluster's check failure, `no-clusters.json` has none, and `truncated.json` is `mixed.json` cut short.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from markdown_it import MarkdownIt

from pulumi_fwcluster.cli import main
from pulumi_fwcluster.plansummary import (
    MARKER,
    SECRET,
    UNKNOWN,
    UNKNOWN_SENTINEL,
    ClusterPlan,
    DigestError,
    PlanSummary,
    load_summary,
    parse_digest,
    render_json,
    render_markdown,
    summarize,
)
from pulumi_fwcluster.spec import CLUSTER_TYPES, DYNAMIC_TYPE, NATIVE_TYPE

FIXTURES = Path(__file__).parent / "fixtures"
UNKNOWN_TEXT = "unknown until `pulumi up` (output of another resource)"


def fixture(name: str) -> PlanSummary:
    return load_summary((FIXTURES / name).read_bytes())


def by_name(summary: PlanSummary) -> dict[str, ClusterPlan]:
    return {c.name: c for c in summary.clusters}


def table_rows(markdown: str) -> dict[str, list[str]]:
    """The cluster table as rendered by a CommonMark + GFM-table parser: logical name -> cell texts."""
    tokens = MarkdownIt("commonmark").enable("table").parse(markdown)
    rows: list[list[str]] = []
    in_body = False
    for token in tokens:
        if token.type == "tbody_open":
            in_body = True
        elif token.type == "tbody_close":
            in_body = False
        elif in_body and token.type == "tr_open":
            rows.append([])
        elif in_body and token.type == "inline":
            rows[-1].append(token.content)
    return {row[1].strip("`"): row for row in rows}


# -- building small digests by hand ---------------------------------------------------------------------------------

EKS = {
    "awsAccountId": "123456789012",
    "region": "us-east-1",
    "clusterName": "fw-prod",
    "storageBucketName": "fw-prod-models",
    "fireworksManagerRole": "arn:aws:iam::123456789012:role/fw-manager",
    "inferenceRole": "arn:aws:iam::123456789012:role/fw-inference",
}


def urn(name: str, type_: str = DYNAMIC_TYPE) -> str:
    return f"urn:pulumi:dev::fw::{type_}::{name}"


def cluster_state(
    name: str, cluster_id: Any, *, type_: str = DYNAMIC_TYPE, outputs: bool = True, **fields: Any
) -> dict[str, Any]:
    inputs = {"__provider": "[secret]", "accountId": "acme", "clusterId": cluster_id, "eksCluster": EKS, **fields}
    state: dict[str, Any] = {"urn": urn(name, type_), "custom": True, "type": type_, "inputs": inputs}
    if outputs:
        state["id"] = f"accounts/acme/clusters/{cluster_id}"
        state["outputs"] = {**inputs, "name": state["id"], "state": "READY"}
    return state


def step(op: str, name: str, old: Any = None, new: Any = None, **fields: Any) -> dict[str, Any]:
    type_ = (old or new or {}).get("type", DYNAMIC_TYPE)
    result: dict[str, Any] = {"op": op, "urn": urn(name, type_), "detailedDiff": None, **fields}
    if old:
        result["oldState"] = old
    if new:
        result["newState"] = new
    return result


def summary_of(*steps: dict[str, Any], diagnostics: tuple[dict[str, Any], ...] = ()) -> PlanSummary:
    return summarize({"steps": list(steps), "diagnostics": list(diagnostics)})


# -- what the summary says about each cluster -----------------------------------------------------------------------


def test_mixed_preview_one_row_per_cluster_with_its_op() -> None:
    clusters = by_name(fixture("mixed.json"))
    assert {name: c.op for name, c in clusters.items()} == {
        "prod": "replace",
        "staging": "replace",
        "dev": "update",
        "eu": "create",
        "legacy": "delete",
    }  # the IAM roles in the same digest are not clusters
    assert {c.type for c in clusters.values()} == CLUSTER_TYPES
    assert clusters["staging"].type == NATIVE_TYPE
    assert {name: c.cluster_id for name, c in clusters.items()} == {
        "prod": "prod-use1",
        "staging": "stg-use1-v2",
        "dev": "dev-use1",
        "eu": "eu-west1",
        "legacy": "legacy",
    }


def test_downtime_exactly_for_a_replace_that_keeps_the_id_and_for_a_delete() -> None:
    summary = fixture("mixed.json")
    assert [c.name for c in summary.down] == ["prod", "legacy"]
    clusters = by_name(summary)
    assert clusters["prod"].replacement == "delete-first"
    assert clusters["staging"].replacement == "create-first"
    assert not clusters["staging"].downtime
    assert "no downtime" in (clusters["staging"].explanation or "")


def test_dynamic_replace_reasons_only_fields_come_from_the_inputs() -> None:
    prod = by_name(fixture("mixed.json"))["prod"]
    assert prod.replace_reasons == ("eksCluster.inferenceRole",)
    [change] = prod.changes
    assert change.path == "eksCluster.inferenceRole"
    assert change.forces_replacement
    assert change.old == "arn:aws:iam::123456789012:role/fw-inference"
    assert change.new == UNKNOWN  # a role created in the same `up`


def test_dynamic_update_without_any_diff_is_compared_leaf_by_leaf_ignoring_dunder_keys() -> None:
    dev = by_name(fixture("mixed.json"))["dev"]
    assert [(c.path, c.kind, c.old, c.new) for c in dev.changes] == [("displayName", "update", "Dev", "Dev (shared)")]
    assert not dev.replace_reasons


def test_native_detailed_diff_kinds_and_replace_kind() -> None:
    staging = by_name(fixture("mixed.json"))["staging"]
    assert [(c.path, c.kind, c.forces_replacement) for c in staging.changes] == [("clusterId", "update", True)]
    assert staging.old_name and staging.old_name.full() == "accounts/acme/clusters/stg-use1"
    assert staging.new_name and staging.new_name.full() == "accounts/acme/clusters/stg-use1-v2"
    assert [(d.severity, d.message) for d in staging.diagnostics] == [
        ("warning", "eksCluster.metricWriterRole is not set: Fireworks will not export this cluster's metrics")
    ]


def test_engine_computed_diff_gives_leaf_paths_and_top_level_replace_reasons_cover_them() -> None:
    clusters = by_name(fixture("engine-diff.json"))
    prod = clusters["prod"]
    assert prod.replace_reasons == ("eksCluster",)
    assert [(c.path, c.forces_replacement) for c in prod.changes] == [
        ("eksCluster.region", True),
        ("eksCluster.storageBucketName", True),
    ]
    assert prod.changes[1].old == SECRET and prod.changes[1].new == SECRET
    assert prod.downtime

    batch = clusters["batch"]  # id and spec change together: the new id wins, nothing goes down
    assert (batch.downtime, batch.replacement) == (False, "create-first")


def test_replace_to_an_unknown_id_is_possible_downtime_and_says_why() -> None:
    canary = by_name(fixture("engine-diff.json"))["canary"]
    assert canary.downtime and canary.replacement == "delete-first"
    assert canary.cluster_id == UNKNOWN
    assert "unknown until `pulumi up`" in (canary.explanation or "")


def test_replacement_steps_are_folded_and_their_order_decides() -> None:
    clusters = by_name(fixture("replacement-steps.json"))
    assert clusters["prod"].steps == ("delete-replaced", "replace", "create-replacement")
    assert (clusters["prod"].op, clusters["prod"].replacement, clusters["prod"].downtime) == (
        "replace",
        "delete-first",
        True,
    )
    # create-first: its delete-replaced step comes at the very end of the digest
    assert clusters["staging"].steps == ("create-replacement", "replace", "delete-replaced")
    assert (clusters["staging"].replacement, clusters["staging"].downtime) == ("create-first", False)
    # The id changes, but deleteBeforeReplace put delete-replaced first: down all the same.
    assert (clusters["override"].replacement, clusters["override"].downtime) == ("delete-first", True)
    assert "aws:iam" not in json.dumps([c.urn for c in clusters.values()])


def test_other_ops_verbatim_and_discard_is_a_delete_that_deletes_nothing() -> None:
    clusters = by_name(fixture("replacement-steps.json"))
    assert {n: clusters[n].op for n in ("steady", "lookup", "imported", "refreshed", "old-lookup")} == {
        "steady": "same",
        "lookup": "read",
        "imported": "import",
        "refreshed": "refresh",
        "old-lookup": "delete",
    }
    assert clusters["lookup"].cluster_id == "shared"  # a read cluster has only outputs
    assert not clusters["old-lookup"].downtime
    assert "keeps running" in (clusters["old-lookup"].explanation or "")
    assert [c.path for c in clusters["refreshed"].changes] == ["displayName"]
    assert [c.name for c in fixture("replacement-steps.json").down] == ["prod", "override"]


def test_a_failed_check_gives_a_row_without_a_plan_and_its_errors() -> None:
    summary = fixture("preflight-failure.json")
    clusters = by_name(summary)
    prod = clusters["prod"]
    assert prod.op is None and prod.steps == () and not prod.downtime
    assert prod.type == DYNAMIC_TYPE
    error, warning = prod.diagnostics
    assert error.severity == "error"
    assert error.message.startswith("eksCluster.inferenceRole: trusts another cluster's OIDC provider")
    assert "{<nil>}" not in error.message and not error.message.startswith("error:")
    assert (warning.severity, warning.message) == ("warning", "eksCluster.metricWriterRole is not set")
    # info messages are left out; the stack's own error is counted, program stderr (info#err) is not
    assert [d.severity for d in clusters["staging"].diagnostics] == ["warning"]
    assert summary.other_errors == 1
    assert [d.message for d in summary.other_preflight] == [
        "preflight (warn mode, not blocking) eksCluster.loadBalancerControllerRole: "
        "role arn:aws:iam::123456789012:role/fw-lbc does not exist"
    ]


@pytest.mark.parametrize(
    ("old_extra", "new_extra", "downtime"),
    [
        ({"retainOnDelete": True}, None, False),
        ({}, None, True),
    ],
    ids=["retain-on-delete", "plain"],
)
def test_delete_is_downtime_unless_pulumi_only_forgets(
    old_extra: dict[str, Any], new_extra: None, downtime: bool
) -> None:
    old = {**cluster_state("gone", "gone-1"), **old_extra}
    [plan] = summary_of(step("delete", "gone", old, new_extra)).clusters
    assert (plan.op, plan.downtime) == ("delete", downtime)


def test_taking_over_a_read_cluster_deletes_nothing() -> None:
    old = {**cluster_state("shared", "shared"), "external": True}
    new = cluster_state("shared", "shared", outputs=False, displayName="Shared")
    [plan] = summary_of(step("replace", "shared", old, new)).clusters
    assert (plan.op, plan.downtime) == ("replace", False)


def test_lone_replacement_halves_still_make_a_replace() -> None:
    old = cluster_state("prod", "prod-1")
    new = cluster_state("prod", "prod-1", outputs=False, eksCluster={**EKS, "region": "us-east-2"})
    [plan] = summary_of(step("create-replacement", "prod", old, new, replaceReasons=["eksCluster.region"])).clusters
    assert (plan.op, plan.downtime) == ("replace", True)


def test_with_refresh_the_programs_step_counts_not_the_refresh_before_it() -> None:
    old = cluster_state("prod", "prod-1")
    drifted = {**old, "outputs": {**old["outputs"], "displayName": "Renamed in the UI"}}
    new = cluster_state("prod", "prod-1", outputs=False, eksCluster={**EKS, "region": "us-east-2"})
    # The CLI rewrites a refresh that found drift into an `update` step with a detailed diff.
    refreshed = step(
        "update", "prod", old, drifted, detailedDiff={"displayName": {"kind": "update", "inputDiff": False}}
    )
    [plan] = summary_of(refreshed, step("replace", "prod", drifted, new, replaceReasons=["eksCluster.region"])).clusters
    assert (plan.op, plan.steps, plan.downtime) == ("replace", ("update", "replace"), True)
    assert [c.path for c in plan.changes] == ["eksCluster.region"]

    [plan] = summary_of(step("refresh", "prod", old, old), step("same", "prod", old, old)).clusters
    assert (plan.op, plan.changes) == ("same", ())


def test_native_cluster_without_account_in_inputs_keeps_the_old_account() -> None:
    old = cluster_state("n", "n-1", type_=NATIVE_TYPE)
    new = cluster_state("n", "n-1", type_=NATIVE_TYPE, outputs=False, eksCluster={**EKS, "region": "us-east-2"})
    del new["inputs"]["accountId"]  # the native provider's own config supplies it
    [plan] = summary_of(step("replace", "n", old, new, replaceReasons=["eksCluster"])).clusters
    assert plan.downtime and plan.new_name and plan.new_name.full() == "accounts/acme/clusters/n-1"


def test_every_way_the_engine_writes_a_hidden_value() -> None:
    sig = "4dabf18193072939515e22adb298388d"
    values: dict[str, Any] = {
        "displayName": UNKNOWN_SENTINEL,
        "secretText": "[secret]",
        "secretObject": {sig: "1b47061264138c4ac30d75fd1eb44270", "plaintext": '"hunter2"'},
        "unknownOutput": {sig: "d0e6a833031e9bbcd3f4e8bde6ca49a4", "dependencies": []},
        "secretOutput": {sig: "d0e6a833031e9bbcd3f4e8bde6ca49a4", "value": "hunter2", "secret": True},
        "knownOutput": {sig: "d0e6a833031e9bbcd3f4e8bde6ca49a4", "value": "plain"},
        "asset": {sig: "c44067f5952c0a294b673a41bacd8c17", "text": "hunter2"},
        "nested": [{"role": UNKNOWN_SENTINEL}],
    }
    old = cluster_state("c", "c-1", nested=[{"role": "arn:aws:iam::123456789012:role/a"}])
    new = cluster_state("c", "c-1", outputs=False, **values)
    summary = summary_of(step("update", "c", old, new))
    changes = {c.path: c.new for c in summary.clusters[0].changes}
    assert changes == {
        "displayName": UNKNOWN,
        "secretText": SECRET,
        "secretObject": SECRET,
        "unknownOutput": UNKNOWN,
        "secretOutput": SECRET,
        "knownOutput": "plain",
        "asset": changes["asset"],
        "nested[0].role": UNKNOWN,
    }
    assert str(changes["asset"]) == "[asset]"
    for text in (render_markdown(summary), render_json(summary)):
        assert "hunter2" not in text and UNKNOWN_SENTINEL not in text
        assert "__provider" not in text


# -- Markdown -------------------------------------------------------------------------------------------------------


def test_markdown_starts_with_the_marker_and_a_heading() -> None:
    lines = render_markdown(fixture("mixed.json")).splitlines()
    assert lines[0] == MARKER
    assert lines[1] == "### Fireworks clusters on `fw/dev`"


def test_markdown_table_marks_downtime_on_exactly_the_right_rows() -> None:
    for name in ("mixed.json", "engine-diff.json", "replacement-steps.json"):
        summary = fixture(name)
        rows = table_rows(render_markdown(summary))
        assert list(rows) == [c.name for c in summary.clusters]
        assert {n for n, cells in rows.items() if "🔴" in cells[0]} == {c.name for c in summary.down}


def test_markdown_headline_and_details_say_downtime_plainly() -> None:
    text = render_markdown(fixture("mixed.json"))
    assert "🔴 **Downtime: `prod` and `legacy` go down during `pulumi up`.**" in text
    assert "#### 🔴 `prod`: replace, deleting first" in text
    assert "**Downtime.** The replacement keeps the name `accounts/acme/clusters/prod-use1`" in text
    assert "#### 🔴 `legacy`: delete" in text
    assert "so the new cluster is created first" in text  # staging says it has no downtime
    assert "#### `dev`" not in text and "#### `eu`" not in text  # nothing to say beyond the table


def test_markdown_names_the_replace_field_unknowns_and_secrets() -> None:
    text = render_markdown(fixture("mixed.json"))
    rows = table_rows(text)
    assert rows["prod"][3] == "**replace, deleting first**"
    assert rows["prod"][5] == "`eksCluster.inferenceRole`"
    assert f"- `eksCluster.inferenceRole`: `arn:aws:iam::123456789012:role/fw-inference` → *{UNKNOWN_TEXT}*" in text
    engine = render_markdown(fixture("engine-diff.json"))
    assert "- `eksCluster.storageBucketName`: `[secret]` → `[secret]` *(forces replacement)*" in engine
    assert "`canary-1` → *unknown until `up`*" in table_rows(engine)["canary"][2]


def test_markdown_for_a_failed_preview_and_loose_preflight_messages() -> None:
    text = render_markdown(fixture("preflight-failure.json"))
    assert "❌ **The preview failed** (errors: 1 on clusters, 1 elsewhere)" in text
    assert "✅" not in text  # a cluster without a plan may still go down
    assert table_rows(text)["prod"][3] == "not planned (errors)"
    assert "- ❌ **error**: eksCluster.inferenceRole: trusts another cluster's OIDC provider" in text
    assert "#### Preflight messages not attached to a cluster" in text


def test_markdown_without_clusters_says_so() -> None:
    text = render_markdown(fixture("no-clusters.json"))
    assert "No Fireworks clusters in this preview" in text
    assert "|" not in text and "🔴" not in text


def test_markdown_cannot_be_broken_by_text_from_the_digest() -> None:
    old = cluster_state("a|b", "a-1\n`2`")
    new = cluster_state("a|b", "a-1\n`2`", outputs=False, displayName="x | y")
    diagnostic = {"urn": urn("a|b"), "severity": "warning", "message": "warning: <!-- hidden --> *bold* [x](y)\n"}
    text = render_markdown(summary_of(step("update", "a|b", old, new), diagnostics=(diagnostic,)))
    rows = table_rows(text)
    assert list(rows) == ["a|b"] and len(rows["a|b"]) == 6
    html = MarkdownIt("commonmark").enable("table").render(text)
    assert "<!-- hidden -->" not in html and "<em>bold</em>" not in html and "<a href" not in html
    assert "&lt;!-- hidden --&gt;" in html


# -- JSON -----------------------------------------------------------------------------------------------------------


def test_json_has_the_documented_keys_in_order() -> None:
    doc = json.loads(render_json(fixture("mixed.json")))
    assert list(doc) == ["version", "stack", "downtime", "clusters", "otherErrors", "otherPreflight"]
    assert list(doc["clusters"][0]) == [
        "name",
        "urn",
        "type",
        "op",
        "steps",
        "clusterId",
        "oldName",
        "newName",
        "downtime",
        "replacement",
        "explanation",
        "changes",
        "replaceReasons",
        "diagnostics",
    ]
    assert list(doc["clusters"][0]["changes"][0]) == ["path", "kind", "forcesReplacement", "old", "new"]


def test_json_carries_the_same_facts() -> None:
    doc = json.loads(render_json(fixture("engine-diff.json")))
    assert doc["downtime"] is True
    assert [(c["name"], c["op"], c["downtime"], c["replacement"]) for c in doc["clusters"]] == [
        ("prod", "replace", True, "delete-first"),
        ("canary", "replace", True, "delete-first"),
        ("batch", "replace", False, "create-first"),
    ]
    prod, canary, _ = doc["clusters"]
    assert prod["changes"][1] == {
        "path": "eksCluster.storageBucketName",
        "kind": "update",
        "forcesReplacement": True,
        "old": "[secret]",
        "new": "[secret]",
    }
    assert canary["clusterId"] == "[unknown]" and canary["newName"] == "accounts/acme/clusters/[unknown]"
    failed = json.loads(render_json(fixture("preflight-failure.json")))
    assert [(c["name"], c["op"]) for c in failed["clusters"]] == [("staging", "update"), ("prod", None)]
    assert failed["otherErrors"] == 1


def test_json_is_stable() -> None:
    first = render_json(fixture("replacement-steps.json"))
    assert first == render_json(fixture("replacement-steps.json"))
    assert json.loads(render_json(fixture("no-clusters.json")))["clusters"] == []


# -- input that is not a digest -------------------------------------------------------------------------------------

NOT_DIGESTS = {
    "empty": b"",
    "blank": b"  \n\t",
    "not-json": b"Previewing update (dev)\n",
    "list": b"[]",
    "string": b'"steps"',
    "no-digest-key": b'{"foo": 1}',
    "empty-object": b"{}",
    "steps-not-a-list": b'{"steps": {"op": "create"}}',
    "step-not-an-object": b'{"steps": [1]}',
    "step-without-urn": b'{"steps": [{"op": "create"}]}',
    "state-without-type": b'{"steps": [{"op": "create", "urn": "u", "newState": {"inputs": {}}}]}',
    "inputs-not-an-object": b'{"steps": [{"op": "create", "urn": "u", "newState": {"type": "t", "inputs": []}}]}',
    "bad-detailed-diff": b'{"steps": [{"op": "update", "urn": "u", "detailedDiff": {"a": "update"}}]}',
    "reasons-not-strings": b'{"steps": [{"op": "update", "urn": "u", "replaceReasons": [1]}]}',
    "diagnostics-not-a-list": b'{"diagnostics": "error"}',
    "diagnostic-message-not-text": b'{"diagnostics": [{"message": 3}]}',
    "change-summary-not-an-object": b'{"changeSummary": [1]}',
    "stack-export": b'{"version": 3, "deployment": {}}',
    "engine-events": b'{"sequence": 0, "timestamp": 1, "preludeEvent": {}}\n{"sequence": 1, "timestamp": 2}\n',
    "not-utf8": b"\xff\xfe{",
}


@pytest.mark.parametrize("data", NOT_DIGESTS.values(), ids=NOT_DIGESTS.keys())
def test_not_a_digest_raises_digest_error(data: bytes) -> None:
    with pytest.raises(DigestError):
        load_summary(data)


def test_truncated_file_is_named_as_such() -> None:
    with pytest.raises(DigestError, match="truncated"):
        parse_digest((FIXTURES / "truncated.json").read_bytes())


def test_digest_messages_point_at_the_problem() -> None:
    with pytest.raises(DigestError, match=r"steps\[0\]\.urn must be a string"):
        load_summary(NOT_DIGESTS["step-without-urn"])
    with pytest.raises(DigestError, match="engine events"):
        load_summary(NOT_DIGESTS["engine-events"])
    with pytest.raises(DigestError, match="stack export"):
        load_summary(NOT_DIGESTS["stack-export"])
    with pytest.raises(DigestError, match="got an array"):
        load_summary(NOT_DIGESTS["list"])


def test_a_minimal_digest_is_accepted() -> None:
    assert parse_digest(b'\xef\xbb\xbf{"duration": 1}') == {"duration": 1}  # with a UTF-8 BOM
    assert load_summary('{"steps": [], "diagnostics": null}').clusters == ()


# -- the command ----------------------------------------------------------------------------------------------------


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_cli_markdown_from_a_file(runner: CliRunner) -> None:
    result = runner.invoke(main, ["plan-summary", str(FIXTURES / "mixed.json")])
    assert result.exit_code == 0, result.output
    assert result.stdout == render_markdown(fixture("mixed.json"))
    assert result.stderr == ""


@pytest.mark.parametrize("args", [["plan-summary", "-"], ["plan-summary"]], ids=["dash", "default"])
def test_cli_reads_stdin(runner: CliRunner, args: list[str]) -> None:
    result = runner.invoke(main, [*args, "--format", "json"], input=(FIXTURES / "engine-diff.json").read_bytes())
    assert result.exit_code == 0, result.output
    assert result.stdout == render_json(fixture("engine-diff.json"))


@pytest.mark.parametrize(
    ("name", "code"),
    [("mixed.json", 3), ("replacement-steps.json", 3), ("preflight-failure.json", 0), ("no-clusters.json", 0)],
)
def test_cli_fail_on_downtime(runner: CliRunner, name: str, code: int) -> None:
    result = runner.invoke(main, ["plan-summary", "--fail-on-downtime", str(FIXTURES / name)])
    assert result.exit_code == code, result.output
    assert result.stdout.startswith(MARKER)  # the summary is written either way
    if code == 3:
        assert "downtime for" in result.stderr


def test_cli_downtime_without_the_flag_exits_0(runner: CliRunner) -> None:
    result = runner.invoke(main, ["plan-summary", str(FIXTURES / "mixed.json")])
    assert result.exit_code == 0 and "🔴" in result.stdout


@pytest.mark.parametrize("data", NOT_DIGESTS.values(), ids=NOT_DIGESTS.keys())
def test_cli_not_a_digest_exits_2_with_one_line(runner: CliRunner, data: bytes) -> None:
    result = runner.invoke(main, ["plan-summary", "-"], input=data)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("Error: stdin is not the output of `pulumi preview --json`: ")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.mark.parametrize("path", ["truncated.json", "missing.json", "."], ids=["truncated", "missing", "directory"])
def test_cli_bad_files_exit_2_with_one_line(runner: CliRunner, path: str) -> None:
    target = str(FIXTURES / path)
    result = runner.invoke(main, ["plan-summary", target])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("Error: ") and target in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_console_script_runs_on_a_fixture() -> None:
    script = Path(sys.executable).parent / "fwcluster"
    assert script.exists(), f"{script}: the console script is missing; install the package with `pip install -e .`"
    proc = subprocess.run(
        [str(script), "plan-summary", "--fail-on-downtime", str(FIXTURES / "mixed.json")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 3, proc.stderr
    assert proc.stdout.splitlines()[0] == MARKER
    assert {n for n, cells in table_rows(proc.stdout).items() if "🔴" in cells[0]} == {"prod", "legacy"}
    assert proc.stderr.strip() == "fwcluster plan-summary: downtime for prod, legacy (--fail-on-downtime)"
