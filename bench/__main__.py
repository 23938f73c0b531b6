"""`make bench`: run every benchmark, print the table and write it to bench/RESULTS.md.

python -m bench                 # everything (about 2.5 minutes on 2 cores)
python -m bench --out -         # print only
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

from pulumi_fwcluster.native.provider import WORKERS
from pulumi_fwcluster.settings import Settings
from pulumi_fwcluster.testing.emulator import server as emulator_server

from . import report, scenarios
from .lab import lab
from .report import Row

HERE = Path(__file__).resolve().parent
DOORS_N = 16
DOORS_DELAY = 4.0
"""T of section 7: the default poll schedule (0.5 s, x1.5) polls at 4.06 s, so the wall time measures concurrency
and not where the polls fall (see the note); 2 s would put the first poll after T at 2.38 s, 1.19 T."""

EXPLAIN: dict[str, str] = {
    "1-aws": """**AWS calls on create and replace (section 1).** One `pulumi up` runs the preflight in `check` and
again in `create`, seconds apart in the same provider process; a pass of the same `eksCluster` within the last
minute is reused (`PREFLIGHT_REUSE_SECONDS` in `provider.py`), so a create costs one preflight ({p} AWS calls)
and not {double}. A figure above {p} means that reuse no longer works.""",
    "2": """**Ready detection (section 2).** The wait starts from the POST's own reply (CREATING), sleeps, then polls
at 0.5, 1.25, 2.38, 4.06, 6.59, 10.39 s... (x1.5, capped at `fireworks:maxPollInterval` = 10 s). At T = 10 s
that overshoots by 0.4 s; at T = 2 s by up to 0.4 s, which is the cost of backing off (a fixed 0.5 s interval
would poll 20 times at T = 10 s, and real provisioning takes minutes). An update whose PATCH reply is already
READY polls not at all.""",
    "3-cold": """**Cold preview (section 3).** The first Check in a fresh server unpickles `__provider`, which imports
`pulumi_fwcluster.provider` and its rules (`spec`, `rules`, `settings`: dataclasses and compiled regexes, about
25 ms); `requests` and `boto3` are not loaded by check or diff. At {n} resources cold minus warm is
{ours_gap:+.0f} ms for us and {noop_gap:+.0f} ms for the no-op. The no-op imports nothing, so with 1-10 resources
the ratio is large only because its baseline is a few milliseconds: the absolute cost is a one-off ~25 ms per
`pulumi preview`, next to the CLI's own start-up of seconds. Warm, Check + Diff cost the same as the no-op.""",
    "3-warm": """**Warm preview (section 3).** Check + Diff validate every field and compare field by field in pure
Python under the server's GIL; a miss here means that per-resource work grew.""",
    "5-import": """**Import time (section 5).** `import pulumi_fwcluster` is lazy. `Cluster` and the provider need
`pulumi.dynamic` (dill and the SDK's runtime), which every dynamic resource pays, so they are compared with that:
our own modules add about 20 ms on top (the field table, the settings table, compiled validators), timed in one
process. Neither `requests` nor `boto3` is loaded until a call needs HTTP or AWS.""",
    "6": """**Preflight concurrency (section 6).** The identity gate runs beside the look-ups (their results are
discarded if it fails), and the look-ups run concurrently. What remains is a chain the AWS API imposes: the
cluster's OIDC provider ARN is derived from the issuer that `eks:DescribeCluster` returns, so
`iam:GetOpenIDConnectProvider` can only follow it (`ListOpenIDConnectProviders` would not help: it returns ARNs
only, and the audience check still needs the Get). Two dependent round trips plus building the boto3 clients give
about 2-2.4x the slowest single call; ≤ 1.5 would need dropping the OIDC-provider check, which catches a real
misconfiguration (IRSA without a provider). The table gives the speed-up over the sequential run.""",
    "7": """**Parallel creates through both doors (section 7).** One `up` registers {n} clusters with
`parallel={n}`, so the engine sends all {n} Check + Create at once; each cluster takes T = {t:g} s to provision in
the emulator. {runs}, server start excluded; "peak CREATING" is the most clusters provisioning at one
moment in the emulator (from each cluster's createTime). The dynamic door is the `python -m pulumi.dynamic` server:
Create blocks one of its 4 worker threads for the whole wait, so the {n} go in {waves} waves of 4 ({dyn:.2f} T, peak
{peak_dyn} CREATING). The
native door is `pulumi-resource-fireworks` started as the CLI starts it (engine address as the last argument, port
read from its stdout): its handlers run on one `grpc.aio` event loop and hand every blocking core call to a pool of
{workers} threads, so all {n} POSTs leave within milliseconds and the clusters provision at once ({nat:.2f} T, peak
{peak_nat} CREATING).
What the native door spends above T is not concurrency: the default poll schedule first polls at or after T at
{floor:.2f} s ({floor_t:.2f} T), and a fresh plugin process loads `pulumi_fwcluster.client` and `requests` (about 0.1 s) on
its first Create, before the POSTs. That schedule alone decides whether ≤ 1.3 T is reachable at a given T, for
either door and even for one cluster: at T = 2 s the first poll after T is at {f2:.2f} s ({f2_t:.2f} T before any
other cost), and for a T just past a poll, {past:g} s say, one cluster takes {fpast:.2f} s = {fpast_t:.2f} T. For
real provisioning times (minutes) polls come at most {cap:g} s apart (`fireworks:maxPollInterval`), {worst:.2f} T
at worst from T = 60 s. The emulator listens with a backlog of
{backlog}: with the standard library's 5, {n} connects at once overflow the accept queue and the dropped ones
retry after TCP's 1 s timeout, an `http.server` stall that neither the provider nor the real API has.""",
    "4": """**Parallel creates (section 4).** The `python -m pulumi.dynamic` server runs 4 worker threads and Create
blocks one for the whole provisioning time (dynamic providers cannot be async), so N creates take ⌈N/4⌉ waves of
T: 8 clusters take 2x one cluster, measured as two waves of POSTs. Beyond that bound the provider adds no
serialisation: one `requests.Session` per worker thread (`threading.local`), the provider lock guards only
settings and the preflight cache, and boto3 clients are built per preflight. While 4 creates wait, every other
RPC of the stack (even a Check) queues behind them: that is the SDK's limit, not ours.""",
}


def _progress(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def run(fast: bool = False) -> tuple[list[Row], dict[str, object]]:
    """Every benchmark; `fast` shrinks the delays and sizes (for trying the code, not for figures)."""
    rows: list[Row] = []
    facts: dict[str, object] = {}
    with lab() as env:
        _progress("1/7 requests per operation")
        counts = scenarios.request_counts(env)
        rows += report.request_rows(counts)
        facts["counts"] = counts

        _progress("2/7 ready detection (T = 2 s, then 10 s)")
        ready = [scenarios.ready_detection(env, t, f"ready{i}") for i, t in enumerate((0.5, 1.0) if fast else (2, 10))]
        rows += report.ready_rows(ready)

        _progress("3/7 preview at scale (1, 10, 100 unchanged) against a no-op provider")
        previews = scenarios.preview_at_scale(
            env, (1, 10) if fast else (1, 10, 100), reps=1 if fast else 3, warm_runs=1 if fast else 5
        )
        rows += report.preview_rows(previews)
        facts["previews"] = previews

        _progress("4/7 parallel creates (1, 4, 8 clusters)")
        parallel = scenarios.parallel_creates(env, 0.5 if fast else 2.0)
        rows += report.parallel_rows(parallel)

        _progress("5/7 footprint (provider size, import times)")
        imports = scenarios.import_times(reps=1 if fast else 7)
        rows += report.footprint_rows(scenarios.provider_size(), imports, previews)

        _progress("6/7 preflight, sequential vs concurrent, +100 ms per AWS call")
        preflight = scenarios.preflight_timing(env, 0.1, reps=1 if fast else 3)
        rows += report.preflight_rows(preflight)

        delay = 0.5 if fast else DOORS_DELAY
        _progress(f"7/7 {DOORS_N} parallel creates, dynamic door vs native door (T = {delay:g} s)")
        doors = scenarios.doors_parallel_creates(env, delay, n=DOORS_N, reps=1 if fast else 3)
        rows += report.doors_rows(doors)
        facts["doors"] = doors
    return rows, facts


def explanations(rows: list[Row], facts: dict[str, object]) -> list[str]:
    missed = {r.section for r in rows if r.verdict == "MISS"}
    out: list[str] = []
    counts = facts.get("counts")
    if isinstance(counts, scenarios.RequestCounts):
        p = counts.preflight_calls
        out.append(EXPLAIN["1-aws"].format(p=p, double=2 * p))
    out.append(EXPLAIN["2"])
    cold = [r for r in rows if r.section == "3" and "fresh server" in r.figure]
    warm = [r for r in rows if r.section == "3" and "server warm" in r.figure]
    previews = facts.get("previews")
    if any(r.verdict == "MISS" for r in cold) and isinstance(previews, list) and previews:
        big = max(previews, key=lambda p: p.n)
        gaps = {"ours_gap": 1000 * (big.ours_cold - big.ours_warm), "noop_gap": 1000 * (big.noop_cold - big.noop_warm)}
        out.append(EXPLAIN["3-cold"].format(n=big.n, **gaps))
    if any(r.verdict == "MISS" for r in warm):
        out.append(EXPLAIN["3-warm"])
    out.append(EXPLAIN["4"])
    out.append(EXPLAIN["5-import"])
    if "6" in missed:
        out.append(EXPLAIN["6"])
    doors = facts.get("doors")
    if isinstance(doors, scenarios.DoorsResult) and {"dynamic", "native"} <= doors.runs.keys():
        f2 = scenarios.first_ready_poll(2.0)
        past = round(f2 + 0.05, 1)  # a T just after the poll at f2: its next poll is a whole interval later
        cap = Settings().max_poll_interval
        reps = len(doors.runs["native"])
        out.append(
            EXPLAIN["7"].format(
                n=doors.n,
                t=doors.delay,
                runs="One run" if reps == 1 else f"Medians of {reps} runs",
                waves=math.ceil(doors.n / report.DYNAMIC_WORKERS),
                dyn=doors.ratio("dynamic"),
                nat=doors.ratio("native"),
                peak_dyn=report.peaks_text(doors.peaks("dynamic")),
                peak_nat=report.peaks_text(doors.peaks("native")),
                workers=WORKERS,
                floor=doors.poll_floor,
                floor_t=doors.poll_floor / doors.delay,
                f2=f2,
                f2_t=f2 / 2,
                past=past,
                fpast=scenarios.first_ready_poll(past),
                fpast_t=scenarios.first_ready_poll(past) / past,
                cap=cap,
                worst=1 + cap / 60,
                backlog=emulator_server._Server.request_queue_size,
            )
        )
    return out


def markdown(rows: list[Row], facts: dict[str, object], seconds: float) -> str:
    parts = [
        "# Benchmarks",
        "",
        "Generated by `make bench` (`python -m bench`); do not edit by hand. Everything runs through the real "
        "`python -m pulumi.dynamic` server (the engine harness), and section 7 also through the native plugin "
        "`pulumi-resource-fireworks` started as the CLI starts it, against the Fireworks emulator and an "
        "in-process moto whose calls are counted at the server. Section 1 runs each command in a fresh server "
        "with `fireworks:preflight=enforce`; sections 2-4 and 7 use `preflight=off` to isolate the Fireworks side. "
        "Poll settings are the provider's defaults (what users get). Timings are medians where repeated; they are "
        "measurements, not tests.",
        "",
        "## Machine",
        "",
        report.machine_table(),
        "",
        "## Results",
        "",
        report.table(rows),
        "",
        f"Total bench time: {seconds:.0f} s.",
        "",
        "## Notes",
        "",
    ]
    for text in explanations(rows, facts):
        parts += [" ".join(text.split("\n")), ""]
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--out", default=str(HERE / "RESULTS.md"), help="where to write the markdown ('-': nowhere)")
    parser.add_argument("--fast", action="store_true", help="short delays and sizes, to try the code quickly")
    args = parser.parse_args(argv)
    began = time.monotonic()
    rows, facts = run(fast=args.fast)
    seconds = time.monotonic() - began
    text = markdown(rows, facts, seconds)
    print(report.machine_table())
    print()
    print(report.table(rows))
    print(f"\nTotal bench time: {seconds:.0f} s.")
    if args.out != "-":
        Path(args.out).write_text(text)
        print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
