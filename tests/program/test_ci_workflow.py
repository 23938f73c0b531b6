"""examples/ci: the workflow's shape and its secrets, and its helper scripts run for real.

The workflow is checked against the GitHub workflow schema and for what keeps production safe: the pull-request job
never sees the Fireworks key, the main-branch job is the only one that does. The downtime gate (plan-check.sh), the
comment upsert (upsert-comment.js) and the preflight rendering (preflight.jq) run here against fixture digests, a fake
GitHub API and a real preflight report.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from pulumi_fwcluster.plansummary import MARKER
from pulumi_fwcluster.preflight.report import Finding, PreflightReport

ROOT = Path(__file__).resolve().parents[2]
CI = ROOT / "examples" / "ci"
WORKFLOW = CI / "github-actions.yml"
PLAN_CHECK = CI / "plan-check.sh"
UPSERT = CI / "upsert-comment.js"
PREFLIGHT_JQ = CI / "preflight.jq"
FIXTURES = ROOT / "tests" / "plansummary" / "fixtures"
LABEL = "fireworks-downtime-ok"
VENV_BIN = Path(sys.executable).parent


def _workflow() -> dict[Any, Any]:
    loaded = yaml.safe_load(WORKFLOW.read_text())
    assert isinstance(loaded, dict)
    return loaded


def _triggers(workflow: dict[Any, Any]) -> dict[str, Any]:
    on = workflow.get("on", workflow.get(True))  # YAML 1.1 reads the key `on` as True
    assert isinstance(on, dict)
    return on


def _job(name: str) -> dict[str, Any]:
    job = _workflow()["jobs"][name]
    assert isinstance(job, dict)
    return job


def _steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    steps = job["steps"]
    assert isinstance(steps, list)
    return steps


def _text(value: object) -> str:
    """Everything a job says (env at any level, with:, run:, if:), as one string to search."""
    return json.dumps(value, sort_keys=True)


def _secrets(value: object) -> set[str]:
    return set(re.findall(r"\bsecrets\.([A-Za-z_][A-Za-z0-9_]*)", _text(value)))


def _step_running(job: dict[str, Any], needle: str) -> dict[str, Any]:
    found = [s for s in _steps(job) if needle in s.get("run", "")]
    assert len(found) == 1, f"expected one step running {needle!r}, found {len(found)}"
    return found[0]


def _uses(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in _steps(job) if str(s.get("uses", "")).startswith(action + "@")]


# The workflow file


def _check_jsonschema() -> str | None:
    here = VENV_BIN / "check-jsonschema"
    return str(here) if here.exists() else shutil.which("check-jsonschema")


def test_workflow_matches_the_github_workflow_schema() -> None:
    tool = _check_jsonschema()
    if tool is None:
        pytest.skip("check-jsonschema is not installed (it is in the dev extra); actionlint is not available here")
    result = subprocess.run(
        [tool, "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_two_jobs_one_per_trigger() -> None:
    workflow = _workflow()
    assert set(workflow["jobs"]) == {"preview", "up"}
    on = _triggers(workflow)
    # pull_request_target would run with secrets on a fork's code; workflow_dispatch would reach `up` from any ref.
    assert set(on) == {"pull_request", "push"}
    assert {"opened", "synchronize", "reopened", "labeled", "unlabeled"} <= set(on["pull_request"]["types"])
    assert on["push"]["branches"] == ["main"]
    assert "paths" not in on["pull_request"], "a required check skipped by a paths filter blocks the PR forever"
    assert _job("preview")["if"] == "github.event_name == 'pull_request'"
    assert "github.event_name == 'push'" in _job("up")["if"]
    assert "refs/heads/main" in _job("up")["if"]


def test_permissions_are_minimal() -> None:
    workflow = _workflow()
    assert workflow["permissions"] == {}, "jobs ask for their own permissions; the default is none"
    preview, up = _job("preview"), _job("up")
    assert preview["permissions"] == {"contents": "read", "pull-requests": "write", "id-token": "write"}
    assert up["permissions"] == {"contents": "read", "id-token": "write"}
    # id-token: write is there for OIDC only; each job really uses it.
    for job in (preview, up):
        assert _uses(job, "aws-actions/configure-aws-credentials")


def test_the_pull_request_job_never_sees_the_fireworks_key() -> None:
    workflow = _workflow()
    preview = _job("preview")
    # Workflow-level env reaches every job, so it counts as part of the pull-request job.
    reachable = {"workflow_env": workflow.get("env", {}), "job": preview}
    assert "FIREWORKS_API_KEY" not in _text(reachable)
    assert "fireworks:apiKey" not in _text(reachable)
    assert _secrets(reachable) == {"PULUMI_ACCESS_TOKEN"}
    # Other ways to reach secrets: all of them at once, an environment's, or a called workflow's.
    assert not re.search(r"toJSON\(\s*secrets\s*\)|secrets\[", _text(reachable))
    assert "environment" not in preview
    assert "secrets" not in preview
    # Nor may a run step or a script read it from somewhere the YAML does not show.
    for script in (PLAN_CHECK, UPSERT, PREFLIGHT_JQ):
        assert "FIREWORKS_API_KEY" not in script.read_text()


def test_the_main_job_is_the_only_one_with_the_key_and_it_runs_pulumi_up() -> None:
    workflow = _workflow()
    with_key = [name for name, job in workflow["jobs"].items() if "FIREWORKS_API_KEY" in _text(job)]
    assert with_key == ["up"]
    up = _job("up")
    assert up["environment"] == "production", "the key is a secret of an environment restricted to main"
    assert _secrets(up) == {"FIREWORKS_API_KEY", "PULUMI_ACCESS_TOKEN"}
    [deploy] = _uses(up, "pulumi/actions")
    assert deploy["with"]["command"] == "up"
    assert deploy["with"]["stack-name"] == "${{ vars.PULUMI_STACK }}"
    assert deploy["with"]["policyPacks"].endswith("/examples/policy-pack")
    # The key is given to the one step that needs it, not to the job.
    assert deploy["env"]["FIREWORKS_API_KEY"] == "${{ secrets.FIREWORKS_API_KEY }}"
    assert "FIREWORKS_API_KEY" not in _text(up.get("env", {}))
    # An `up` cut short leaves pending operations: queue, never cancel.
    assert up["concurrency"]["cancel-in-progress"] is False


def test_the_pull_request_job_previews_to_a_digest_with_the_policy_pack() -> None:
    preview = _job("preview")
    step = _step_running(preview, "pulumi preview --diff --json")
    run = step["run"]
    assert "pulumi preview --diff --json --show-replacement-steps" in run
    # Absolute, because pulumi resolves a relative pack path from the program's directory (infra/), not the root.
    assert '--policy-pack "$GITHUB_WORKSPACE/examples/policy-pack"' in run
    assert ">digest.json" in run
    assert "--refresh" not in run, "a refresh reads the cluster from Fireworks, which needs the key"
    # The CLI comes from pulumi/actions in install-only mode: it has no input for --json.
    [install] = _uses(preview, "pulumi/actions")
    assert "command" not in install.get("with", {})
    # `pulumi preview` does not install the pack's requirements; a step before it must.
    steps = _steps(preview)
    installs = [i for i, s in enumerate(steps) if "examples/policy-pack/requirements.txt" in s.get("run", "")]
    preview_at = steps.index(step)
    assert installs and installs[0] < preview_at


def test_the_pull_request_job_gates_on_downtime_and_comments_once() -> None:
    preview = _job("preview")
    text = _text(preview)
    assert LABEL in text
    assert "fwcluster preflight --json" in text
    gate = _step_running(preview, "plan-check.sh")
    assert "digest.json" in gate["run"]
    assert gate["env"]["DOWNTIME_OK"] == f"${{{{ contains(github.event.pull_request.labels.*.name, '{LABEL}') }}}}"
    plan_check = PLAN_CHECK.read_text()
    assert "fwcluster plan-summary --fail-on-downtime" in plan_check
    assert f"DOWNTIME_LABEL:-{LABEL}" in plan_check
    assert "GITHUB_STEP_SUMMARY" in plan_check

    [comment] = _uses(preview, "actions/github-script")
    assert "examples/ci/upsert-comment.js" in comment["with"]["script"]
    assert "infra/plan-summary.md" in comment["with"]["script"]
    assert "!cancelled()" in comment["if"], "the comment must be posted even when the gate failed"
    # The marker the scripts look for is the one fwcluster plan-summary writes.
    assert MARKER == "<!-- fwcluster-plan-summary -->"
    assert f'MARKER = "{MARKER}"' in UPSERT.read_text()
    assert f'MARKER="{MARKER}"' in plan_check


def test_run_steps_parse_and_take_values_only_through_env() -> None:
    if shutil.which("bash") is None:
        pytest.skip("no bash to parse the run steps")
    for name, job in _workflow()["jobs"].items():
        for step in _steps(job):
            if "run" not in step:
                continue
            # `${{ }}` inside a script is pasted in before bash parses it: a branch name or label could inject code.
            assert "${{" not in step["run"], f"{name}/{step.get('name')}: pass values through env instead"
            check = subprocess.run(["bash", "-n"], input=step["run"], capture_output=True, text=True, timeout=10)
            assert check.returncode == 0, f"{name}/{step.get('name')}: {check.stderr}"
    check = subprocess.run(["bash", "-n", str(PLAN_CHECK)], capture_output=True, text=True, timeout=10)
    assert check.returncode == 0, check.stderr


# plan-check.sh, run for real


def _plan_check(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    if not (VENV_BIN / "fwcluster").exists():
        pytest.skip("fwcluster is not installed next to this interpreter")
    summary = tmp_path / "step-summary.md"
    summary.write_text("earlier step\n")
    env = {
        **os.environ,
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "GITHUB_STEP_SUMMARY": str(summary),
    }
    env.pop("DOWNTIME_LABEL", None)
    result = subprocess.run(
        ["bash", str(PLAN_CHECK), *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    return result, summary


@pytest.mark.parametrize(
    ("fixture", "downtime_ok", "code"),
    [
        ("mixed.json", "false", 3),
        ("mixed.json", "true", 0),
        ("no-clusters.json", "false", 0),
        ("no-clusters.json", "true", 0),
    ],
)
def test_plan_check_exit_code(tmp_path: Path, fixture: str, downtime_ok: str, code: int) -> None:
    result, summary = _plan_check(tmp_path, str(FIXTURES / fixture), downtime_ok)
    assert result.returncode == code, result.stdout + result.stderr
    body = (tmp_path / "plan-summary.md").read_text()  # the default OUT, in the working directory
    assert body.splitlines()[0] == MARKER
    # Appended, not overwritten: other steps write to the same summary.
    assert summary.read_text() == "earlier step\n" + body


def test_plan_check_downtime_without_the_label_fails_and_says_how_to_accept(tmp_path: Path) -> None:
    result, _ = _plan_check(tmp_path, str(FIXTURES / "mixed.json"), "false", "out.md")
    assert result.returncode == 3
    body = (tmp_path / "out.md").read_text()
    assert "Downtime" in body
    assert f"add the label\n> `{LABEL}`" in body
    assert "::error title=Fireworks downtime::" in result.stdout
    assert "downtime for prod, legacy" in result.stderr  # plan-summary's own message reaches the log


def test_plan_check_downtime_with_the_label_passes_and_says_so(tmp_path: Path) -> None:
    result, _ = _plan_check(tmp_path, str(FIXTURES / "mixed.json"), "true", "out.md")
    assert result.returncode == 0
    body = (tmp_path / "out.md").read_text()
    assert f"Downtime accepted: this pull request carries the label `{LABEL}`" in body
    assert "This check fails" not in body


def test_plan_check_without_downtime_adds_no_note(tmp_path: Path) -> None:
    result, _ = _plan_check(tmp_path, str(FIXTURES / "no-clusters.json"), "false", "out.md")
    assert result.returncode == 0
    body = (tmp_path / "out.md").read_text()
    assert LABEL not in body
    assert "::error" not in result.stdout


@pytest.mark.parametrize("fixture", ["truncated.json", "missing.json"])
def test_plan_check_without_a_digest_still_overwrites_the_comment(tmp_path: Path, fixture: str) -> None:
    result, summary = _plan_check(tmp_path, str(FIXTURES / fixture), "true", "out.md")
    assert result.returncode == 2, "the label accepts downtime, not a broken preview"
    body = (tmp_path / "out.md").read_text()
    assert body.splitlines()[0] == MARKER
    assert "No plan summary" in body
    assert MARKER in summary.read_text()


@pytest.mark.parametrize(
    "args", [("digest.json",), ("digest.json", "yes"), ("digest.json", "True"), ("a", "b", "c", "d")]
)
def test_plan_check_refuses_a_bad_call(tmp_path: Path, args: tuple[str, ...]) -> None:
    result, summary = _plan_check(tmp_path, *args)
    assert result.returncode == 2
    assert summary.read_text() == "earlier step\n"


# upsert-comment.js, against a fake GitHub API

_FAKE_GITHUB = r"""
const fs = require("fs");
const [upsertPath, statePath, ...files] = process.argv.slice(2);
const state = JSON.parse(fs.readFileSync(statePath, "utf8"));
const listComments = () => {};
const github = {
  paginate: async (fn, params) => {
    if (fn !== listComments || params.issue_number !== 7) throw new Error("unexpected paginate call");
    return state.comments.map((c) => ({ ...c }));
  },
  rest: {
    issues: {
      listComments,
      updateComment: async ({ comment_id, body }) => {
        state.comments.find((c) => c.id === comment_id).body = body;
      },
      createComment: async ({ issue_number, body }) => {
        const id = 100 + state.comments.length;
        state.comments.push({ id, issue_number, body, user: { login: "github-actions[bot]", type: "Bot" } });
        return { data: { id } };
      },
    },
  },
};
const context = { repo: { owner: "acme", repo: "infra" }, issue: { number: 7 } };
const core = { info: () => {} };
require(upsertPath)({ github, context, core }, files).then((result) => {
  state.result = result;
  fs.writeFileSync(statePath, JSON.stringify(state));
});
"""


def _upsert(tmp_path: Path, comments: list[dict[str, Any]], *files: Path) -> dict[str, Any]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    harness = tmp_path / "harness.js"
    harness.write_text(_FAKE_GITHUB)
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"comments": comments}))
    result = subprocess.run(
        [node, str(harness), str(UPSERT), str(state), *map(str, files)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    loaded = json.loads(state.read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_upsert_creates_one_comment_then_edits_it(tmp_path: Path) -> None:
    summary = tmp_path / "plan-summary.md"
    summary.write_text(f"{MARKER}\n### first push\n")
    human = {"id": 1, "body": f"{MARKER} quoted by a person", "user": {"login": "alice", "type": "User"}}
    state = _upsert(tmp_path, [human], summary, tmp_path / "not-written.md")
    assert state["result"]["action"] == "created"
    first = state["result"]["id"]

    summary.write_text(f"{MARKER}\n### second push\n")
    extra = tmp_path / "preflight.md"
    extra.write_text("#### AWS preflight\n")
    state = _upsert(tmp_path, state["comments"], summary, extra)
    assert state["result"] == {"action": "updated", "id": first}
    bodies = {c["id"]: c["body"] for c in state["comments"]}
    assert len(bodies) == 2, "one bot comment, however many pushes"
    assert bodies[first] == f"{MARKER}\n### second push\n\n#### AWS preflight"
    assert bodies[1] == human["body"], "a person's comment is never edited"


def test_upsert_keeps_the_marker_and_github_s_size_limit(tmp_path: Path) -> None:
    big = tmp_path / "preview-failure.md"
    big.write_text("x" * 100_000)
    state = _upsert(tmp_path, [], big)
    body = state["comments"][0]["body"]
    assert body.startswith(MARKER + "\n")
    assert len(body) <= 65_536
    assert "cut at 65000 characters" in body


# preflight.jq, on a real report


def test_preflight_markdown_lists_only_the_checks_that_did_not_pass(tmp_path: Path) -> None:
    jq = shutil.which("jq")
    if jq is None:
        pytest.skip("jq is not installed")
    report = PreflightReport(
        [
            Finding("eks.cluster.active", "eksCluster.clusterName", "ok", "cluster prod is ACTIVE"),
            Finding(
                "iam.role.trust.provider",
                "eksCluster.inferenceRole",
                "fail",
                "trusts another cluster's OIDC provider",
                "point the trust policy at this cluster's provider",
            ),
            Finding("aws.credentials", "", "skip", "no AWS credentials"),
        ]
    )
    path = tmp_path / "preflight.json"
    path.write_text(report.to_json())
    result = subprocess.run(
        [jq, "-r", "--arg", "spec", "spec.json", "-f", str(PREFLIGHT_JQ), str(path)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "❌ **Failed** on `spec.json` (1 ok, 0 warn, 1 fail, 1 skip)" in out
    assert (
        "- **fail** `eksCluster.inferenceRole`: trusts another cluster's OIDC provider"
        " *Fix:* point the trust policy at this cluster's provider"
    ) in out
    assert "- **skip** `aws.credentials`: no AWS credentials" in out
    assert "ACTIVE" not in out
