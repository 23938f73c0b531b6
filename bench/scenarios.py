"""The measurements. Each function returns plain data; `bench.report` turns it into rows with targets."""

from __future__ import annotations

import datetime as _dt
import itertools
import json
import math
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pulumi_fwcluster.preflight import PreflightOptions, default_session, run_preflight
from pulumi_fwcluster.provider import ClusterProvider
from pulumi_fwcluster.settings import Settings
from pulumi_fwcluster.testing.engine import Desired, Engine, Plan, Stack
from pulumi_fwcluster.waiter import WaitPolicy

from .lab import ACCOUNT, REPO, Door, Lab, is_poll, mutating
from .noop_provider import NOOP_TYPE, NoopProvider

DOORS: tuple[Door, ...] = ("dynamic", "native")


def _destroy_as_its_own_command(engine: Engine) -> None:
    """`pulumi destroy` after an `up` in a fresh server, as the CLI runs it: a provider process serves one command
    and refuses to delete a cluster that the same process has just created for a resource."""
    engine.restart()
    engine.destroy().raise_for_errors()


# ------------------------------------------------------------------------------------------------------------
# 1. Requests per operation
# ------------------------------------------------------------------------------------------------------------


@dataclass
class OpCount:
    op: str
    grpc: list[str]
    mutating: list[str]
    polls: int
    aws: int
    min_mutating: int
    min_aws: int
    """AWS calls of the preflights this operation needs at least (one full preflight = `preflight_calls`)."""

    @property
    def total(self) -> int:
        return len(self.mutating) + self.polls


@dataclass
class RequestCounts:
    preflight_calls: int
    """AWS calls of one `run_preflight` of the seeded spec, in this process."""
    ops: list[OpCount]


def _measure(
    lab: Lab,
    engine: Engine,
    op: str,
    run: Callable[[], Plan],
    expect: str,
    min_mutating: int,
    min_preflights: int,
    preflight_calls: int,
) -> OpCount:
    fw0, aws0, calls0 = len(lab.backend.requests), len(lab.aws), len(engine.calls)
    plan = run().raise_for_errors()
    ops = set(plan.ops().values())
    if ops != {expect}:
        raise RuntimeError(f"{op}: expected {expect}, got {plan.render()}")
    records = lab.requests_since(fw0)
    grpc = [m for m, _ in engine.calls[calls0:] if m not in ("GetPluginInfo", "Configure")]
    return OpCount(
        op=op,
        grpc=grpc,
        mutating=mutating(records),
        polls=sum(1 for r in records if is_poll(r)),
        aws=len(lab.aws.since(aws0)),
        min_mutating=min_mutating,
        min_aws=min_preflights * preflight_calls,
    )


def request_counts(lab: Lab, *, per_operation: bool = True) -> RequestCounts:
    """One cluster through its life, each command in a fresh server (as each `pulumi` command) unless
    `per_operation` is False, preflight enforced against the seeded moto, default poll settings."""
    before = len(lab.aws)
    assert run_preflight(dict(lab.eks)).ok
    p = len(lab.aws) - before

    engine = lab.engine(preflight="enforce", per_operation=per_operation)
    v1 = lab.cluster("prod", "bench-1", "Bench")
    v2 = lab.cluster("prod", "bench-1", "Bench (renamed)")
    v3 = lab.cluster("prod", "bench-2", "Bench (renamed)")
    out = [
        _measure(lab, engine, "preview, new cluster", lambda: engine.preview([v1]), "create", 0, 1, p),
        _measure(lab, engine, "up (create)", lambda: engine.up([v1]), "create", 1, 1, p),
        _measure(lab, engine, "preview, unchanged", lambda: engine.preview([v1]), "same", 0, 0, p),
        _measure(lab, engine, "up, displayName change", lambda: engine.up([v2]), "update", 1, 0, p),
        _measure(lab, engine, "up, clusterId change (replace)", lambda: engine.up([v3]), "replace", 2, 1, p),
        # A refresh re-runs the AWS checks on the recorded eksCluster (drift), so it pays one preflight.
        _measure(lab, engine, "refresh", lambda: engine.refresh(), "same", 0, 1, p),
        _measure(lab, engine, "destroy", lambda: engine.destroy(), "delete", 1, 0, p),
    ]
    engine.stop()
    return RequestCounts(p, out)


# ------------------------------------------------------------------------------------------------------------
# 2. Ready detection
# ------------------------------------------------------------------------------------------------------------


@dataclass
class ReadyResult:
    delay: float
    wall: float
    """Check + Create through the running server (the server start is excluded: see `server_start`)."""
    polls: int
    server_start: float

    @property
    def ratio(self) -> float:
        return self.wall / self.delay

    @property
    def polls_per_second(self) -> float:
        return self.polls / self.wall


def ready_detection(lab: Lab, delay: float, name: str = "ready") -> ReadyResult:
    """`up` of one cluster whose provisioning takes `delay` seconds, with the provider's default polling."""
    backend = lab.backend
    saved = backend.provision_delay, backend.delete_delay
    backend.provision_delay = delay
    try:
        with lab.engine(preflight="off", per_operation=False) as engine:
            fw0 = len(backend.requests)
            began = time.perf_counter()
            engine.up([lab.cluster(name)]).raise_for_errors()
            wall = time.perf_counter() - began
            polls = sum(1 for r in lab.requests_since(fw0) if is_poll(r))
            backend.delete_delay = 0.0
            _destroy_as_its_own_command(engine)
            start = engine.start_seconds[0] if engine.start_seconds else math.nan
    finally:
        backend.provision_delay, backend.delete_delay = saved
    return ReadyResult(delay, wall, polls, start)


# ------------------------------------------------------------------------------------------------------------
# 3. Preview at scale (and 5. the server's peak memory during it)
# ------------------------------------------------------------------------------------------------------------


@dataclass
class PreviewTiming:
    n: int
    ours_cold: float
    noop_cold: float
    ours_warm: float
    noop_warm: float
    ours_peak_kib: int
    noop_peak_kib: int
    requests: int
    """Fireworks + AWS requests made by all of our previews (must be 0)."""

    @property
    def cold_ratio(self) -> float:
        return self.ours_cold / self.noop_cold

    @property
    def warm_ratio(self) -> float:
        return self.ours_warm / self.noop_warm


def _peak_rss_kib(engine: Engine) -> int:
    """VmHWM (peak resident set) of the engine's running server process, in KiB."""
    server = engine.server
    proc = server._proc if server is not None else None
    if proc is None:
        return -1
    try:
        with open(f"/proc/{proc.pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return -1


def _stack_of(resources: Stack, desired: Sequence[Desired]) -> Stack:
    """A stack holding only the resources of `desired` (a parallel `up` records them in completion order)."""
    urns = {resources.urn(d.type_, d.name) for d in desired}
    stack = Stack()
    stack.resources = [r for r in resources.live() if r.urn in urns]
    return stack


def _timed_previews(lab: Lab, stack: Stack, desired: Sequence[Desired], warm_runs: int = 5) -> tuple[float, float, int]:
    """(cold, warm, peak KiB): the first preview in a freshly started server, then the median of `warm_runs`
    more in the same server."""
    with lab.engine(preflight="enforce", per_operation=False, stack=stack) as engine:
        timings = []
        for _ in range(1 + warm_runs):
            began = time.perf_counter()
            plan = engine.preview(desired, parallel=True).raise_for_errors()
            timings.append(time.perf_counter() - began)
            if set(plan.ops().values()) != {"same"}:
                raise RuntimeError(f"expected an unchanged preview, got:\n{plan.render()}")
        return timings[0], statistics.median(timings[1:]), _peak_rss_kib(engine)


def preview_at_scale(
    lab: Lab, sizes: Sequence[int] = (1, 10, 100), reps: int = 3, warm_runs: int = 5
) -> list[PreviewTiming]:
    """Check + Diff of N unchanged resources, ours against `NoopProvider`, interleaved, median of `reps`."""
    largest = max(sizes)
    ours = [lab.cluster(f"c{i:03d}") for i in range(largest)]
    noop = [lab.cluster(f"c{i:03d}", provider=NoopProvider(), type_=NOOP_TYPE) for i in range(largest)]

    backend = lab.backend
    saved = backend.provision_delay, backend.delete_delay
    backend.provision_delay = 0.0
    try:
        with lab.engine(preflight="off", per_operation=False) as setup:  # both providers in one server
            setup.up(ours + noop, parallel=True).raise_for_errors()
    finally:
        backend.provision_delay = saved[0]
    state = setup.stack

    out = []
    for n in sizes:
        samples: dict[str, list[tuple[float, float, int]]] = {"ours": [], "noop": []}
        fw0, aws0 = len(backend.requests), len(lab.aws)
        for _ in range(reps):
            samples["ours"].append(_timed_previews(lab, _stack_of(state, ours[:n]), ours[:n], warm_runs))
            samples["noop"].append(_timed_previews(lab, _stack_of(state, noop[:n]), noop[:n], warm_runs))
        requests = len(backend.requests) - fw0 + len(lab.aws) - aws0
        o, z = samples["ours"], samples["noop"]
        out.append(
            PreviewTiming(
                n=n,
                ours_cold=statistics.median(s[0] for s in o),
                noop_cold=statistics.median(s[0] for s in z),
                ours_warm=statistics.median(s[1] for s in o),
                noop_warm=statistics.median(s[1] for s in z),
                ours_peak_kib=max(s[2] for s in o),
                noop_peak_kib=max(s[2] for s in z),
                requests=requests,
            )
        )
    backend.delete_delay = 0.0
    try:
        with lab.engine(preflight="off", per_operation=False, stack=state) as teardown:
            teardown.destroy().raise_for_errors()
    finally:
        backend.delete_delay = saved[1]
    return out


# ------------------------------------------------------------------------------------------------------------
# 4. Parallel creates
# ------------------------------------------------------------------------------------------------------------


@dataclass
class ParallelRun:
    n: int
    wall: float
    post_offsets: list[float]
    """When each cluster's POST arrived, relative to the first (from the emulator's createTime)."""

    def waves(self, delay: float) -> int:
        """Groups of POSTs separated by more than half the provisioning delay."""
        offsets = sorted(self.post_offsets)
        return 1 + sum(1 for a, b in itertools.pairwise(offsets) if b - a > delay / 2)


@dataclass
class ParallelResult:
    delay: float
    runs: list[ParallelRun] = field(default_factory=list)
    server_workers: int = 4

    def run(self, n: int) -> ParallelRun:
        return next(r for r in self.runs if r.n == n)


def _parse_time(stamp: str) -> float:
    return _dt.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=_dt.timezone.utc).timestamp()


def parallel_creates(lab: Lab, delay: float = 2.0, sizes: Sequence[int] = (1, 4, 8)) -> ParallelResult:
    """`up` of N clusters in one stack (the engine sends all N at once; the server has 4 worker threads)."""
    backend = lab.backend
    saved = backend.provision_delay, backend.delete_delay
    result = ParallelResult(delay)
    try:
        for n in sizes:
            backend.provision_delay, backend.delete_delay = delay, saved[1]
            desired = [lab.cluster(f"p{n}-{i}") for i in range(n)]
            with lab.engine(preflight="off", per_operation=False) as engine:
                began = time.perf_counter()
                plan = engine.up(desired, parallel=True).raise_for_errors()
                wall = time.perf_counter() - began
                created = [_parse_time(str((s.outputs or {})["createTime"])) for s in plan.steps]
                first = min(created)
                result.runs.append(ParallelRun(n, wall, [c - first for c in created]))
                backend.delete_delay = 0.0
                _destroy_as_its_own_command(engine)
    finally:
        backend.provision_delay, backend.delete_delay = saved
    return result


# ------------------------------------------------------------------------------------------------------------
# 5. Footprint
# ------------------------------------------------------------------------------------------------------------


@dataclass
class ImportTiming:
    statement: str
    seconds: float
    """The whole statement, in a fresh interpreter."""
    added: float
    """For a statement over `import pulumi.dynamic`: what it adds once that is loaded, timed in the same process
    (far steadier than the difference of two whole-interpreter timings)."""
    loads_requests: bool
    loads_boto3: bool


_IMPORT_PROBE = """
import json, sys, time
began = time.perf_counter()
exec({preload!r})
loaded = time.perf_counter()
exec({stmt!r})
done = time.perf_counter()
print(json.dumps({{"s": done - began, "added": done - loaded, "requests": "requests" in sys.modules,
                  "boto3": "boto3" in sys.modules}}))
"""

IMPORTS = (
    "import pulumi",
    "import pulumi.dynamic",  # what any dynamic resource costs: the fair baseline for Cluster and the provider
    "import pulumi_fwcluster",
    "from pulumi_fwcluster import Cluster",
    "import pulumi_fwcluster.provider",
)
_PRELOAD = {
    "from pulumi_fwcluster import Cluster": "import pulumi.dynamic",
    "import pulumi_fwcluster.provider": "import pulumi.dynamic",
}


def import_times(reps: int = 5, statements: Sequence[str] = IMPORTS) -> list[ImportTiming]:
    """Each statement in a fresh interpreter, interleaved, fastest of `reps` (bytecode caches warm): import work is
    deterministic, so the minimum is the figure least disturbed by whatever else the machine does."""
    samples: dict[str, list[dict[str, Any]]] = {s: [] for s in statements}
    for _ in range(reps + 1):  # the first round only warms the bytecode and page caches
        for stmt in statements:
            probe = _IMPORT_PROBE.format(preload=_PRELOAD.get(stmt, "pass"), stmt=stmt)
            out = subprocess.run(
                [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True
            ).stdout
            samples[stmt].append(json.loads(out.strip().splitlines()[-1]))
    return [
        ImportTiming(
            stmt,
            min(float(x["s"]) for x in runs[1:]),
            min(float(x["added"]) for x in runs[1:]),
            bool(runs[-1]["requests"]),
            bool(runs[-1]["boto3"]),
        )
        for stmt, runs in samples.items()
    ]


def provider_size() -> int:
    return len(Engine.serialize(ClusterProvider()).encode())


# ------------------------------------------------------------------------------------------------------------
# 6. Preflight: sequential against concurrent
# ------------------------------------------------------------------------------------------------------------


@dataclass
class PreflightTiming:
    latency: float
    sequential: float
    concurrent: float
    slowest_call: float
    """The slowest single call of the sequential run, i.e. measured alone (no contention)."""
    slowest_concurrent: float
    """The slowest single call of the concurrent run (slowed down by contention with the others)."""
    calls: int

    @property
    def ratio(self) -> float:
        return self.concurrent / self.slowest_call

    @property
    def speedup(self) -> float:
        return self.sequential / self.concurrent


class _CallTimer:
    """botocore hooks: sleep `latency` before each request is sent and time each call end to end."""

    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.durations: list[float] = []
        self._lock = threading.Lock()

    def before_call(self, context: dict[str, Any], **_: Any) -> None:
        context["bench_began"] = time.perf_counter()

    def before_send(self, **_: Any) -> None:
        time.sleep(self.latency)

    def after_call(self, context: dict[str, Any], **_: Any) -> None:
        began = context.get("bench_began")
        if began is not None:
            with self._lock:
                self.durations.append(time.perf_counter() - began)


def preflight_timing(lab: Lab, latency: float = 0.1, reps: int = 3) -> PreflightTiming:
    """`run_preflight` of the seeded spec with `latency` added to every AWS call (a botocore before-send hook),
    with one worker (sequential) and with the default options (concurrent); medians of `reps`."""
    assert run_preflight(dict(lab.eks)).ok  # warm: service models loaded and cached
    seq: list[float] = []
    conc: list[float] = []
    slowest: dict[str, list[float]] = {"seq": [], "conc": []}
    calls = 0
    for _ in range(reps):
        for label, options in (("seq", PreflightOptions(max_workers=1)), ("conc", None)):
            timer = _CallTimer(latency)
            session = default_session()
            session.events.register("before-call", timer.before_call)
            session.events.register("before-send", timer.before_send)
            session.events.register("after-call", timer.after_call)
            began = time.perf_counter()
            report = run_preflight(dict(lab.eks), session, options=options)
            elapsed = time.perf_counter() - began
            if not report.ok:
                raise RuntimeError(report.error_message())
            (seq if label == "seq" else conc).append(elapsed)
            slowest[label].append(max(timer.durations))
            calls = len(timer.durations)
    return PreflightTiming(
        latency,
        statistics.median(seq),
        statistics.median(conc),
        statistics.median(slowest["seq"]),
        statistics.median(slowest["conc"]),
        calls,
    )


# ------------------------------------------------------------------------------------------------------------
# 7. Sixteen parallel creates through both doors
# ------------------------------------------------------------------------------------------------------------


@dataclass
class DoorRun:
    wall: float
    """The `up` alone: Check + Create of every cluster through the running server (its start is excluded)."""
    created: int
    """Clusters of this run READY in the emulator after the `up`."""
    peak_creating: int
    """Most clusters CREATING in the emulator at one moment: each is CREATING from its POST (its createTime, the
    emulator's clock) until the provisioning delay has passed (the emulator's rule)."""


def first_ready_poll(delay: float) -> float:
    """When the provider's default poll schedule (`fireworks:pollInterval`, x`WaitPolicy.factor`, capped at
    `fireworks:maxPollInterval`) first polls at or after `delay` seconds from the POST's reply: the earliest a
    create of that delay can end, through either door."""
    settings, factor = Settings(), WaitPolicy(timeout=math.inf).factor
    at, interval = 0.0, settings.poll_interval
    while at < delay:
        at += interval
        interval = min(interval * factor, settings.max_poll_interval)
    return at


@dataclass
class DoorsResult:
    delay: float
    n: int
    parallel: int
    runs: dict[Door, list[DoorRun]] = field(default_factory=dict)

    @property
    def poll_floor(self) -> float:
        """`first_ready_poll(delay)`: the part of the wall time that is the poll schedule's, not concurrency's."""
        return first_ready_poll(self.delay)

    def wall(self, door: Door) -> float:
        return statistics.median(r.wall for r in self.runs[door])

    def ratio(self, door: Door) -> float:
        return self.wall(door) / self.delay

    def peaks(self, door: Door) -> list[int]:
        return [r.peak_creating for r in self.runs[door]]

    def created(self, door: Door) -> int:
        return min(r.created for r in self.runs[door])


def peak_overlap(starts: Sequence[float], duration: float) -> int:
    """Most of the intervals ``[start, start + duration)`` that hold at one moment."""
    events = sorted([(s, 1) for s in starts] + [(s + duration, -1) for s in starts])  # an end sorts before a start
    peak = current = 0
    for _, step in events:
        current += step
        peak = max(peak, current)
    return peak


def _door_run(lab: Lab, door: Door, names: Sequence[str], delay: float, parallel: int) -> DoorRun:
    backend = lab.backend
    desired = [lab.cluster(name, door=door) for name in names]
    with lab.engine(preflight="off", per_operation=False, door=door) as engine:
        began = time.perf_counter()
        engine.up(desired, parallel=parallel).raise_for_errors()
        wall = time.perf_counter() - began
        clusters = [backend.get_cluster(ACCOUNT, name) for name in names]
        backend.delete_delay = 0.0
        _destroy_as_its_own_command(engine)
    created = sum(1 for c in clusters if c["state"] == "READY")
    starts = [_parse_time(str(c["createTime"])) for c in clusters]
    return DoorRun(wall, created, peak_overlap(starts, delay))


def doors_parallel_creates(
    lab: Lab, delay: float = 4.0, n: int = 16, reps: int = 3, doors: Sequence[Door] = DOORS
) -> DoorsResult:
    """`up` of `n` clusters in one stack with ``parallel=n`` through each door, interleaved, `reps` times: the
    dynamic server (4 worker threads) and the native plugin process (`bench.lab.PLUGIN`)."""
    backend = lab.backend
    saved = backend.provision_delay, backend.delete_delay
    result = DoorsResult(delay, n, n)
    try:
        for rep in range(reps):
            for door in doors:
                backend.provision_delay, backend.delete_delay = delay, saved[1]
                names = [f"{door[0]}{rep}-{i}" for i in range(n)]
                result.runs.setdefault(door, []).append(_door_run(lab, door, names, delay, n))
    finally:
        backend.provision_delay, backend.delete_delay = saved
    return result
