"""The bench code in a tiny configuration, so `make bench` cannot rot. Behaviour only (request counts, the
report's shape), never wall time."""

from __future__ import annotations

from bench import report, scenarios
from bench.__main__ import markdown
from bench.lab import lab


def test_bench_smoke() -> None:
    with lab(provision_delay=0.0, delete_delay=0.0) as env:
        counts = scenarios.request_counts(env)  # each command in a fresh server, as the CLI runs them
        previews = scenarios.preview_at_scale(env, (2,), reps=1, warm_runs=1)
        # Section 7 in miniature: 2 creates through each door (the native one as the `pulumi-resource-fireworks`
        # process), to prove the scenario runs; its figures need 16 and a real T.
        doors = scenarios.doors_parallel_creates(env, 0.5, n=2, reps=1)

    p = counts.preflight_calls
    assert p >= 2  # at least the identity gate and one lookup
    by_op = {o.op: o for o in counts.ops}
    assert [(o.op, o.mutating) for o in counts.ops] == [
        ("preview, new cluster", []),
        ("up (create)", ["POST clusters"]),
        ("preview, unchanged", []),
        ("up, displayName change", ["PATCH bench-1"]),
        ("up, clusterId change (replace)", ["POST clusters", "DELETE bench-1"]),
        ("refresh", []),
        ("destroy", ["DELETE bench-2"]),
    ]
    # An unchanged preview costs nothing, anywhere; a new one runs exactly one preflight and no HTTP.
    assert by_op["preview, unchanged"].total == 0 and by_op["preview, unchanged"].aws == 0
    assert by_op["preview, new cluster"].total == 0 and by_op["preview, new cluster"].aws == p
    for op in ("up, displayName change", "destroy"):
        assert by_op[op].aws == 0, op
    assert by_op["refresh"].aws == p  # the drift checks: one preflight of the recorded eksCluster
    # Never more than one preflight per command: Create reuses Check's pass of the same spec, and in this
    # one-process run the preview's pass a moment earlier is reused too.
    for op in ("up (create)", "up, clusterId change (replace)"):
        assert by_op[op].aws in (0, p), op
    assert by_op["refresh"].polls == 1

    assert [(t.n, t.requests) for t in previews] == [(2, 0)]
    assert scenarios.provider_size() < 1024

    assert [(door, doors.created(door)) for door in doors.runs] == [("dynamic", 2), ("native", 2)]
    assert doors.peaks("native") == [2]  # both provisioning at once: nothing in the native door serialises them

    rows = report.request_rows(counts) + report.preview_rows(previews) + report.doors_rows(doors)
    assert all(r.verdict in ("PASS", "MISS", "info") for r in rows)
    assert [r.section for r in rows].count("7") == 3
    text = markdown(rows, {"counts": counts, "doors": doors}, 1.0)
    assert "| 1 | preview, unchanged [Check Diff] |" in text and "## Machine" in text
    assert "**Parallel creates through both doors (section 7).**" in text
