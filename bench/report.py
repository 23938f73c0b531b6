"""Figures against targets, as one markdown table, plus the machine's details."""

from __future__ import annotations

import datetime as _dt
import math
import os
import platform
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from typing import Literal

from .lab import Door
from .scenarios import (
    DoorsResult,
    ImportTiming,
    OpCount,
    ParallelResult,
    PreflightTiming,
    PreviewTiming,
    ReadyResult,
    RequestCounts,
)

Verdict = Literal["PASS", "MISS", "info"]


@dataclass
class Row:
    section: str
    figure: str
    measured: str
    target: str
    verdict: Verdict


def verdict(ok: bool) -> Verdict:
    return "PASS" if ok else "MISS"


# ---------------------------------------------------------------------------------------------------- rows


def request_rows(rc: RequestCounts) -> list[Row]:
    rows = []
    for o in rc.ops:
        rows.append(_op_row(o, rc.preflight_calls))
    return rows


def _op_row(o: OpCount, p: int) -> Row:
    muts = ", ".join(o.mutating) or "none"
    measured = f"{len(o.mutating)} mutating ({muts}), {o.polls} GET; AWS {o.aws}"
    preflights = f"{o.min_aws // p} preflight" if o.min_aws else "0"
    if o.op == "preview, unchanged":
        target = "0 requests, 0 AWS"
        ok = o.total == 0 and o.aws == 0
    else:
        target = f"{o.min_mutating} mutating; AWS {o.min_aws} ({preflights})"
        ok = len(o.mutating) <= o.min_mutating and o.aws <= o.min_aws
    return Row("1", f"{o.op} [{' '.join(o.grpc)}]", measured, target, verdict(ok))


def ready_rows(results: list[ReadyResult]) -> list[Row]:
    rows = []
    for r in results:
        ok_ratio = r.ratio <= 1.15
        ok_rate = r.polls_per_second <= 1.0
        decisive = r.delay >= 10
        rows.append(
            Row(
                "2",
                f"create wall / T at T = {r.delay:g} s",
                f"{r.wall:.2f} s / {r.delay:g} s = **{r.ratio:.3f}**",
                "≤ 1.15 at T = 10 s" if decisive else "(info)",
                verdict(ok_ratio) if decisive else "info",
            )
        )
        rows.append(
            Row(
                "2",
                f"polls at T = {r.delay:g} s",
                f"{r.polls} GET in {r.wall:.2f} s = **{r.polls_per_second:.2f}/s**",
                "≤ 1 /s at T = 10 s" if decisive else "(info)",
                verdict(ok_rate) if decisive else "info",
            )
        )
    if results:
        rows.append(
            Row(
                "2",
                "server start + Configure (paid once per command, not per resource)",
                f"{results[0].server_start:.2f} s",
                "(info)",
                "info",
            )
        )
    return rows


def preview_rows(results: list[PreviewTiming]) -> list[Row]:
    rows = []
    for p in results:
        rows.append(
            Row(
                "3",
                f"preview of {p.n} unchanged, first in a fresh server (a `pulumi preview`)",
                f"{p.ours_cold * 1000:.0f} ms vs no-op {p.noop_cold * 1000:.0f} ms = **{p.cold_ratio:.2f}x**",
                "≤ 1.5x",
                verdict(p.cold_ratio <= 1.5),
            )
        )
        rows.append(
            Row(
                "3",
                f"preview of {p.n} unchanged, server warm (Check + Diff only)",
                f"{p.ours_warm * 1000:.0f} ms vs no-op {p.noop_warm * 1000:.0f} ms = **{p.warm_ratio:.2f}x**",
                "≤ 1.5x",
                verdict(p.warm_ratio <= 1.5),
            )
        )
    reqs = sum(p.requests for p in results)
    rows.append(Row("3", "Fireworks + AWS requests made by all those previews", str(reqs), "0", verdict(reqs == 0)))
    return rows


def parallel_rows(pr: ParallelResult) -> list[Row]:
    one = pr.run(1)
    rows = []
    for r in pr.runs:
        if r.n == 1:
            rows.append(Row("4", f"up of 1 cluster, T = {pr.delay:g} s", f"{one.wall:.2f} s", "(baseline)", "info"))
            continue
        bound = math.ceil(r.n / pr.server_workers)
        ratio = r.wall / one.wall
        rows.append(
            Row(
                "4",
                f"up of {r.n} clusters in one stack / up of 1",
                f"{r.wall:.2f} s = **{ratio:.2f}x**; POSTs in {r.waves(pr.delay)} wave(s)",
                f"≈ {bound}x (⌈{r.n}/{pr.server_workers} worker threads⌉), ≤ {bound * 1.15:.2f}x",
                verdict(ratio <= bound * 1.15 and r.waves(pr.delay) == bound),
            )
        )
    return rows


def footprint_rows(size: int, imports: list[ImportTiming], previews: list[PreviewTiming]) -> list[Row]:
    rows = [Row("5", "`__provider` size", f"{size} B", "< 1 KB", verdict(size < 1024))]
    by = {i.statement: i for i in imports}
    base = by.get("import pulumi")
    for stmt in ("import pulumi_fwcluster", "from pulumi_fwcluster import Cluster", "import pulumi_fwcluster.provider"):
        t = by.get(stmt)
        if t is None or base is None:
            continue
        loads = [m for m, on in (("requests", t.loads_requests), ("boto3", t.loads_boto3)) if on]
        # The package root is compared with `import pulumi`; Cluster and the provider need `pulumi.dynamic` (dill
        # and the gRPC server's imports), which every dynamic resource pays, so they are compared with that.
        ref = base if stmt == "import pulumi_fwcluster" else by.get("import pulumi.dynamic", base)
        # Over pulumi.dynamic, the ratio is (baseline + what our import adds, timed in one process) / baseline.
        seconds = t.seconds if ref is base else ref.seconds + t.added
        ratio = seconds / ref.seconds
        # The issue sets no ratio for these, only that boto3 and requests load when needed; the package root, which
        # loads nothing, must stay cheaper than `import pulumi`.
        if ref is base:
            target, ok = "≤ 1.0x; loads neither requests nor boto3", ratio <= 1.0 and not loads
        else:
            target, ok = "loads neither requests nor boto3 (ratio reported)", not loads
        rows.append(
            Row(
                "5",
                f"import time: `{stmt}` vs `{ref.statement}` ({ref.seconds * 1000:.0f} ms)",
                f"{seconds * 1000:.0f} ms{'' if ref is base else f' (+{t.added * 1000:.0f} ms)'} = **{ratio:.2f}x**; "
                f"loads {', '.join(loads) or 'neither'}",
                target,
                verdict(ok),
            )
        )
    big = max(previews, key=lambda p: p.n, default=None)
    if big is not None:
        rows.append(
            Row(
                "5",
                f"peak RSS of the provider server, preview of {big.n}",
                f"{big.ours_peak_kib / 1024:.1f} MiB (no-op provider: {big.noop_peak_kib / 1024:.1f} MiB)",
                "(info)",
                "info",
            )
        )
    return rows


def preflight_rows(pt: PreflightTiming) -> list[Row]:
    return [
        Row(
            "6",
            f"preflight, {pt.calls} AWS calls each +{pt.latency * 1000:.0f} ms: sequential",
            f"{pt.sequential * 1000:.0f} ms",
            "(info)",
            "info",
        ),
        Row(
            "6",
            "preflight concurrent / slowest single call",
            f"{pt.concurrent * 1000:.0f} ms / {pt.slowest_call * 1000:.0f} ms = **{pt.ratio:.2f}** "
            f"(slowest call alone; {pt.slowest_concurrent * 1000:.0f} ms under contention; "
            f"speed-up vs sequential {pt.speedup:.1f}x)",
            "≤ 1.5",
            verdict(pt.ratio <= 1.5),
        ),
    ]


NATIVE_TARGET = 1.3
"""The issue's target for the native door: N concurrent creates of T seconds each finish within 1.3 T."""
DYNAMIC_WORKERS = 4
"""Worker threads of the `python -m pulumi.dynamic` server (the SDK's, not ours)."""


def peaks_text(values: list[int]) -> str:
    low, high = min(values), max(values)
    return f"{low}" if low == high else f"{low}-{high}"


def _walls(dr: DoorsResult, door: Door) -> str:
    runs = dr.runs[door]
    if len(runs) == 1:
        return ""
    walls = sorted(r.wall for r in runs)
    return f" (median of {len(runs)}: {walls[0]:.2f}-{walls[-1]:.2f} s)"


def doors_rows(dr: DoorsResult) -> list[Row]:
    """Section 7: the same N parallel creates through the dynamic server and through the native plugin."""
    rows = []
    setup = f"{dr.n} creates in one `up` (parallel={dr.parallel}), T = {dr.delay:g} s"
    if "dynamic" in dr.runs:
        waves = math.ceil(dr.n / DYNAMIC_WORKERS)
        created = dr.created("dynamic")
        rows.append(
            Row(
                "7",
                f"{setup}: dynamic door (`python -m pulumi.dynamic`, {DYNAMIC_WORKERS} worker threads)",
                f"{dr.wall('dynamic'):.2f} s = **{dr.ratio('dynamic'):.2f} T**{_walls(dr, 'dynamic')}; "
                f"peak {peaks_text(dr.peaks('dynamic'))} CREATING at once; {created}/{dr.n} created",
                f"≈ {waves} T (⌈{dr.n}/{DYNAMIC_WORKERS}⌉ waves; the limit the native door lifts) (info)",
                "info",
            )
        )
    if "native" in dr.runs:
        ratio, created = dr.ratio("native"), dr.created("native")
        floor = dr.poll_floor
        rows.append(
            Row(
                "7",
                f"{setup}: native door (`pulumi-resource-fireworks` process, as the CLI starts it)",
                f"{dr.wall('native'):.2f} s = **{ratio:.2f} T**{_walls(dr, 'native')}; "
                f"peak {peaks_text(dr.peaks('native'))} CREATING at once; {created}/{dr.n} created; "
                f"poll schedule alone: {floor:.2f} s = {floor / dr.delay:.2f} T",
                f"≤ {NATIVE_TARGET:g} T, all {dr.n} created",
                verdict(ratio <= NATIVE_TARGET and created == dr.n),
            )
        )
    if "dynamic" in dr.runs and "native" in dr.runs:
        rows.append(
            Row(
                "7",
                f"{dr.n} parallel creates: dynamic door / native door",
                f"**{dr.wall('dynamic') / dr.wall('native'):.2f}x**",
                "(info)",
                "info",
            )
        )
    return rows


# ---------------------------------------------------------------------------------------------------- output


def table(rows: list[Row]) -> str:
    lines = ["| # | figure | measured | target | verdict |", "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r.section} | {r.figure} | {r.measured} | {r.target} | {r.verdict} |")
    return "\n".join(lines)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def _commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() or "unknown"


def machine() -> list[tuple[str, str]]:
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return [
        ("date (UTC)", _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M")),
        ("CPU", _cpu_model()),
        ("cores", f"{os.cpu_count()} ({affinity} usable)"),
        ("OS", platform.platform()),
        ("Python", f"{platform.python_implementation()} {sys.version.split()[0]}"),
        ("pulumi SDK", _version("pulumi")),
        ("boto3 / moto", f"{_version('boto3')} / {_version('moto')}"),
        ("pulumi-fwcluster", f"{_version('pulumi-fwcluster')} (commit {_commit()})"),
    ]


def machine_table() -> str:
    lines = ["| | |", "|---|---|"]
    lines.extend(f"| {k} | {v} |" for k, v in machine())
    return "\n".join(lines)
