"""`make demo` keeps working: the README's first command, on embedded defaults, with no credentials."""

from __future__ import annotations

import os
import subprocess
import sys


def test_demo_runs_every_step_without_credentials() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "FIREWORKS_", "FWCLUSTER_"))}
    result = subprocess.run(
        [sys.executable, "-m", "pulumi_fwcluster.demo", "--harness", "--provision-delay", "0.3"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    for line in (
        "+ create ",
        "~ update          pulumi-python:dynamic/fireworks:Cluster byoc [diff: ~displayName]",
        "error: eksCluster.inferenceRole:",
        "-+ replace        pulumi-python:dynamic/fireworks:Cluster byoc [diff: ~eksCluster] (delete-before-replace)",
        "+- replace        pulumi-python:dynamic/fireworks:Cluster byoc [diff: ~clusterId]",
        "~ refresh ",
        # the PR comment for the delete-first replacement
        "<!-- fwcluster-plan-summary -->",
        "| 🔴 | `byoc` | `demo-use1` | **replace, deleting first** | `eksCluster.storageBucketName` |",
        # the native door: import, a detailed diff, a customTimeout that runs out and is resumed
        "= import          fireworks:index:Cluster byoc",
        "    ~ eksCluster.storageBucketName (replace)",
        "(customTimeouts.create)",
        "~ update          fireworks:index:Cluster byoc",
        "- delete ",
        "Demo finished",
    ):
        assert line in out, line
    assert "fw-demo-key" not in out + result.stderr
