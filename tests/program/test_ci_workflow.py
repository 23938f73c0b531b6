"""examples/ci/github-actions.yml: valid against the GitHub workflow schema, and its shell steps parse."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")

WORKFLOW = Path(__file__).resolve().parents[2] / "examples" / "ci" / "github-actions.yml"


def _check_jsonschema() -> str | None:
    here = Path(sys.executable).parent / "check-jsonschema"
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


def test_workflow_runs_preflight_and_preview_on_pull_requests() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    assert "pull_request" in workflow[True]  # YAML 1.1 reads the key `on` as True
    assert workflow["permissions"]["pull-requests"] == "write"
    steps = workflow["jobs"]["preview"]["steps"]
    scripts = "\n".join(s.get("run", "") for s in steps)
    assert "fwcluster preflight --json" in scripts
    assert "pulumi preview --diff" in scripts
    assert any(s.get("uses", "").startswith("actions/github-script") for s in steps)
    if shutil.which("bash") is None:
        pytest.skip("no bash to parse the run steps")
    for step in steps:
        if "run" in step:
            check = subprocess.run(["bash", "-n"], input=step["run"], capture_output=True, text=True, timeout=10)
            assert check.returncode == 0, f"{step.get('name')}: {check.stderr}"
