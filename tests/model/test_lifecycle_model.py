"""A model-based test of the cluster lifecycle (issue 9, "A model-based test of the lifecycle").

A hypothesis state machine plays up to two stacks (each its own engine, state and door) against the emulator through
random programs, renames with and without aliases, refreshes, destroys, out-of-band edits, deletions and FAILED
transitions, and injected faults (lost replies, 429 and 5xx bursts, a provider killed mid-create or mid-delete, the
engine killed, a create that times out, provisioning that ends FAILED). After every step it checks:

1. a cluster a stack records is live (the same incarnation: name and createTime), unless the model knows why it is
   gone: deleted out of band, its delete interrupted by a kill, or deleted by a co-owner the model let in;
2. a live cluster is recorded by some stack, or is "in limbo": left behind by a create the model interrupted or let
   time out. Such a cluster is adopted by the next fault-free `up` if the provider sees it CREATING, and refused
   ("already exists") otherwise; it leaves limbo once recorded or gone. An operation deletes only clusters its own
   stack records, and a record never changes incarnation without a Create (a refresh or an update that re-points a
   record at another cluster of the same name adopts it silently);
3. a cluster recorded by two stacks is one the model let in: a stack with `adopt_existing=True` adopted it while the
   other recorded it, or (rule (b), a limit of the design) a create adopted it because it was still CREATING while
   the other stack recorded it half-made;
4. after a refresh, the unchanged program of a converged stack plans exactly what the refresh found in the emulator
   (a FAILED cluster or a changed eksCluster field: replace; a changed display name: update; a cluster gone:
   create; otherwise same), and only where the model changed that cluster since;
5. a fault-free `up` (or one whose faults the retries absorb) ends as the model predicts from the README's rules, and
   when it succeeds the next preview plans no change; a fault-free `destroy` leaves nothing of its stack's.

`make test` runs a bounded, seeded run (about 30 s); `FWCLUSTER_SOAK=1` (`make soak`) a long one, with
FWCLUSTER_SOAK_EXAMPLES, FWCLUSTER_SOAK_STEPS and FWCLUSTER_SOAK_SEED to size and seed it, and
FWCLUSTER_SOAK_SHRINK=0 to report a failure as found instead of shrinking it first, and FWCLUSTER_MODEL_TRACE=1
to see every stack's records after each step of a failing example.
"""

from __future__ import annotations

import datetime as _dt
import os
import random
import shutil
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import pytest
from hypothesis import HealthCheck, Phase, note, seed, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from pulumi_fwcluster.client import FireworksClient
from pulumi_fwcluster.native.provider import FireworksProvider
from pulumi_fwcluster.native.server import NativeServicer
from pulumi_fwcluster.testing.emulator import EmulatorHandle
from pulumi_fwcluster.testing.engine import Engine, EngineInterrupted, InProcessPlugin, NativePlugin, Plan, Stack
from tests.engine.enginehelpers import API_KEY
from tests.model.lifecyclemodel import (
    ACCOUNT,
    CLUSTER_IDS,
    DISPLAYS,
    FOREIGN_ROLE,
    NAMES,
    OOB_DISPLAY,
    REGIONS,
    Door,
    Inc,
    Prediction,
    Program,
    Rec,
    decision_state,
    declared_eks,
    desired,
    inc_of,
    live_clusters,
    matches,
    predict_up,
    records,
)

SOAK = os.environ.get("FWCLUSTER_SOAK") == "1"
BOUNDED_SEED = 90210
SEED = int(os.environ.get("FWCLUSTER_SOAK_SEED") or random.randrange(2**32)) if SOAK else BOUNDED_SEED
EXAMPLES = int(os.environ.get("FWCLUSTER_SOAK_EXAMPLES") or 25) if SOAK else 4
STEPS = int(os.environ.get("FWCLUSTER_SOAK_STEPS") or 30) if SOAK else 14
# Shrinking replays hundreds of sequences at a second or more each: worth it in a soak, never in `make test`.
SHRINK = SOAK and os.environ.get("FWCLUSTER_SOAK_SHRINK", "1") != "0"
# Note every stack's records after each step, so a failure report shows how they got there.
TRACE = os.environ.get("FWCLUSTER_MODEL_TRACE") == "1"

BASE_PROVISION = 0.2
# A create whose POST reply is lost keeps a matching cluster made this soon before the POST (README: the lifecycle's
# one-second margin, plus up to a second of the Date header's rounding, plus latency): another stack's create that
# close before is taken as its own, a limit like rule (b)'s.
LOST_REPLY_WINDOW = 2.5
# A create the model interrupts provisions this slowly, so the cluster it leaves is still CREATING when the next
# `up` looks at it (after a provider restart), and "adopted while CREATING" is exercised, not just "refused".
SLOW_PROVISION = 1.0
DELETE_DELAY = 0.1
RETRIES = 4  # fireworks:maxRetries: a burst of at most this many is absorbed by one request's retries
TIMEOUTS = "20s"  # no wait in this model should come near it; a hang fails the step instead of the run

STACKS = ("a", "b")
IN_PROCESS = InProcessPlugin(FireworksProvider, servicer=NativeServicer)
# A killed in-process server leaves its worker threads running, still sending requests; a crash stops a process. So
# an operation that kills the native door's provider runs it as the plugin process the CLI would start.
PLUGIN_PROCESS = NativePlugin([str(Path(sys.executable).parent / "pulumi-resource-fireworks")])
OutOfBand = Literal["display", "edit", "delete", "fail", "wait", "state-delete"]
OUT_OF_BAND: tuple[OutOfBand, ...] = ("display", "edit", "edit", "delete", "fail", "fail", "wait", "state-delete")
Action = Literal["up", "second-stack", "refresh", "destroy", "out-of-band"]
ACTIONS: tuple[Action, ...] = (
    *("up",) * 4,
    *("second-stack",) * 2,
    *("refresh",) * 2,
    "destroy",
    *("out-of-band",) * 2,
)
Change = Literal["same", "display", "region", "cluster_id", "adopt", "rename", "rename_alias", "copy_other", "drop"]
CHANGES: tuple[Change, ...] = (
    "same",
    "display",
    "display",
    "region",
    "cluster_id",
    "adopt",
    "rename",
    "rename_alias",
    "copy_other",
    "drop",
)
FaultKind = Literal[
    "none",
    "drop",
    "429",
    "5xx",
    "kill-create",
    "kill-create-early",
    "interrupt-create",
    "kill-delete",
    "interrupt-delete",
    "timeout",
    "fail-provisioning",
]
KILLS: frozenset[str] = frozenset(
    {"kill-create", "kill-create-early", "interrupt-create", "kill-delete", "interrupt-delete"}
)
LIMBO_FAULTS: frozenset[str] = frozenset({"kill-create", "kill-create-early", "interrupt-create", "timeout"})
ONLY_FRESH: frozenset[str] = frozenset({"kill-create", "interrupt-create", "timeout", "fail-provisioning"})


@dataclass(frozen=True)
class Fault:
    kind: FaultKind = "none"
    method: str | None = None
    n: int = 1
    status: int = 503

    @property
    def absorbed(self) -> bool:
        """A burst one request's retries absorb (a POST is retried only after a 429, and a burst on any method may
        meet a POST first)."""
        if self.kind == "429":
            return self.n <= RETRIES
        if self.kind == "5xx":
            return self.n <= RETRIES and self.method not in ("POST", None)
        return False

    def __repr__(self) -> str:
        if self.kind in ("429", "5xx"):
            return f"Fault({self.kind} x{self.n} on {self.method or 'any'}{'' if self.kind == '429' else f' ({self.status})'})"
        return f"Fault({self.kind})"


NONE = Fault()


def _bursts(methods: tuple[str | None, ...]) -> st.SearchStrategy[Fault]:
    return st.one_of(
        st.builds(Fault, st.just("429"), st.sampled_from(methods), st.integers(1, RETRIES + 2)),
        st.builds(
            Fault,
            st.just("5xx"),
            st.sampled_from(methods),
            st.integers(1, RETRIES + 2),
            st.sampled_from((500, 502, 503, 504)),
        ),
    )


SPECIAL_FAULTS = st.sampled_from(
    [
        Fault("drop"),
        Fault("kill-create"),
        Fault("kill-create-early"),
        Fault("interrupt-create"),
        Fault("kill-delete"),
        Fault("interrupt-delete"),
        Fault("timeout"),
        Fault("fail-provisioning"),
    ]
)
UP_FAULTS = st.one_of(
    st.just(NONE), st.just(NONE), _bursts(("GET", "POST", "PATCH", "DELETE", None)), SPECIAL_FAULTS, SPECIAL_FAULTS
)
REFRESH_FAULTS = st.one_of(st.just(NONE), st.just(NONE), _bursts(("GET",)))
DESTROY_FAULTS = st.one_of(
    st.just(NONE),
    st.just(NONE),
    _bursts(("GET", "DELETE")),
    st.sampled_from([Fault("kill-delete"), Fault("interrupt-delete")]),
)


@dataclass
class StackModel:
    key: str
    door: Door
    engine: Engine
    program: Program | None = None
    """What its last `up` declared (None: no `up` yet, or an empty program)."""
    converged: int | None = None
    """The step at which its last `up` of `program` converged; None when it did not (or a destroy followed)."""
    wrote: dict[str, int] = field(default_factory=dict)
    """When its `up` last made its cluster's display name, eksCluster, and READY state ("display", "eks", "failed")
    what the program says: a refresh may find one changed only if someone changed it after that."""


@dataclass
class OpResult:
    plan: Plan | None
    """None when the engine was interrupted."""
    killed: bool
    calls: list[tuple[str, str]]
    mark: int
    """The emulator's request count when the operation began."""


@dataclass
class Stats:
    examples: int = 0
    steps: int = 0
    ops: dict[str, int] = field(default_factory=dict)
    seen: dict[str, int] = field(default_factory=dict)
    """What the run reached (kills that landed, limbo met CREATING or READY, drift a refresh found...)."""
    started: float = field(default_factory=time.monotonic)

    def saw(self, what: str) -> None:
        self.seen[what] = self.seen.get(what, 0) + 1


class LifecycleMachine(RuleBasedStateMachine):
    fw: ClassVar[EmulatorHandle]
    base: ClassVar[Path]
    stats: ClassVar[Stats]

    def __init__(self) -> None:
        super().__init__()
        self.backend = self.fw.backend
        self.stats.examples += 1
        self.dir = self.base / f"run-{self.stats.examples}"
        self.dir.mkdir(parents=True)
        self.stacks: dict[str, StackModel] = {}
        self.step = 0
        self.limbo: set[Inc] = set()
        self.up_began = 0.0  # the current `up`, on the emulator's clock
        self.vanished_ok: set[Inc] = set()
        self.shared_ok: set[Inc] = set()
        self.touched: dict[Inc, dict[str, int]] = {}
        """When the model (or a co-owner's `up`: "any") last changed a cluster's "display", "eks" or "failed"."""
        self.client = FireworksClient(api_key=API_KEY, account_id=ACCOUNT, base_url=self.fw.base_url, max_retries=0)

    # -- set-up and tear-down ----------------------------------------------------------------------------------

    @initialize(
        door_a=st.sampled_from(("dynamic", "native")),
        door_b=st.sampled_from(("dynamic", "native")),
        api_fills=st.booleans(),
    )
    def start(self, door_a: Door, door_b: Door, api_fills: bool) -> None:
        """Each run starts from an empty emulator and two stacks with no state, each through its own door;
        `api_fills` has the API fill in fields the program never sets (the default manager role, a pool provider
        id), which must never show as a change."""
        b = self.backend
        b.reset()
        b.provision_delay, b.delete_delay = BASE_PROVISION, DELETE_DELAY
        b.default_manager_role = b.assign_pool_provider = api_fills
        b.hide_foreign_accounts, b.deleting_state = False, None
        for key, door in zip(STACKS, (door_a, door_b), strict=True):
            self.stacks[key] = StackModel(key, door, self._engine(key, door))

    def _engine(self, key: str, door: Door, stack: Stack | None = None, **config: str) -> Engine:
        """An engine that starts a provider per command, as the CLI does: the provider remembers what one command
        did (which names it created), and a server kept across commands would carry that into the next one. The
        native door runs in process (a fifth of the start-up cost); see `run_op` for kills."""
        cfg = {
            "fireworks:apiKey": API_KEY,
            "fireworks:accountId": ACCOUNT,
            "fireworks:baseUrl": self.fw.base_url,
            "fireworks:preflight": "off",
            "fireworks:pollInterval": "0.05s",
            "fireworks:maxPollInterval": "0.2s",
            "fireworks:retryMaxWait": "0.05s",
            "fireworks:maxRetries": str(RETRIES),
            "fireworks:createTimeout": TIMEOUTS,
            "fireworks:updateTimeout": TIMEOUTS,
            "fireworks:deleteTimeout": TIMEOUTS,
            **config,
        }
        env = dict.fromkeys(
            ("FIREWORKS_API_KEY", "FIREWORKS_ACCOUNT_ID", "FIREWORKS_BASE_URL", "FWCLUSTER_PREFLIGHT"), ""
        )
        return Engine(
            cwd=self.dir,
            config=cfg,
            env=env,
            stack=stack,
            stack_name=key,
            state_path=self.dir / f"state-{key}.json" if stack is None else None,
            process_per_operation=True,
            timeout=60.0,
            plugin=None if door == "dynamic" else IN_PROCESS,
        )

    def teardown(self) -> None:
        for sm in self.stacks.values():
            sm.engine.on_rpc = None
            sm.engine.stop()
        self.client.close()
        self.backend.faults.clear()
        self.backend.provision_delay = BASE_PROVISION
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- ground truth --------------------------------------------------------------------------------------------

    def live(self) -> dict[str, dict[str, Any]]:
        return live_clusters(self.backend)

    def all_records(self) -> dict[str, list[Rec]]:
        return {k: records(k, sm.engine) for k, sm in self.stacks.items()}

    def settle(self) -> None:
        """Wait until no cluster is DELETING (each is gone within the delete delay): the checks see where the
        operation left things, not a cluster on its way out."""
        deadline = time.monotonic() + 5
        while any(c["state"] == "DELETING" for c in self.live().values()):
            if time.monotonic() > deadline:
                raise AssertionError(f"a cluster stays DELETING: {self.live()}")
            time.sleep(0.02)

    def begin(self, what: str) -> None:
        self.step += 1
        self.stats.steps += 1
        self.stats.ops[what] = self.stats.ops.get(what, 0) + 1
        if not any(c["state"] == "CREATING" for c in self.live().values()):
            self.backend.provision_delay = BASE_PROVISION

    def fail(self, message: str, plan: Plan | None = None, sm: StackModel | None = None) -> None:
        lines = [f"step {self.step}: {message}"]
        if plan is not None:
            lines.append(plan.render())
        if sm is not None:
            lines.append(f"stack {sm.key} ({sm.door}) records: {records(sm.key, sm.engine)}")
            lines.append("provider stderr (tail):\n" + sm.engine.stderr[-3000:])
            lines.append("provider logs (tail): " + repr([e.message for e in sm.engine.logs][-10:]))
        lines.append(f"live: {self.live()}")
        lines.append(f"limbo={self.limbo} vanished_ok={self.vanished_ok} shared_ok={self.shared_ok}")
        raise AssertionError("\n".join(lines))

    # -- running an operation with a fault -----------------------------------------------------------------------

    def run_op(
        self, sm: StackModel, op: Callable[[Engine], Plan], fault: Fault, *, cluster_id: str | None = None
    ) -> OpResult:
        b = self.backend
        engine = sm.engine
        mark, calls_mark = len(b.requests), len(engine.calls)
        armed = threading.Event()
        killed = threading.Event()
        done = threading.Event()
        temp: Engine | None = None
        if fault.kind in LIMBO_FAULTS:
            b.provision_delay = SLOW_PROVISION
        if fault.kind == "drop":
            b.drop_response_next(method="POST")
        elif fault.kind == "429":
            b.rate_limit_next(fault.n, retry_after="1", method=fault.method)
        elif fault.kind == "5xx":
            b.fail_next(fault.n, status=fault.status, method=fault.method)
        elif fault.kind == "fail-provisioning":
            b.fail_provisioning(cluster_id, "node group quota exceeded", code="RESOURCE_EXHAUSTED")
        elif fault.kind == "timeout":
            temp = self._engine(sm.key, sm.door, stack=engine.stack, **{"fireworks:createTimeout": "0.3s"})
            engine = temp
            calls_mark = 0
        elif fault.kind in KILLS:
            method = "Create" if "create" in fault.kind else "Delete"
            verb = "POST" if method == "Create" else "DELETE"

            def landed() -> bool:
                return fault.kind == "kill-create-early" or any(r.method == verb for r in b.requests[mark:])

            target = engine
            if sm.door == "native":
                engine.plugin = PLUGIN_PROCESS

            def hook(m: str, _name: str) -> None:
                if m != method or armed.is_set():
                    return
                armed.set()
                while not done.is_set():
                    if landed():
                        killed.set()
                        if fault.kind.startswith("interrupt"):
                            target.interrupt()
                        else:
                            target.kill_provider()
                        return
                    time.sleep(0.002)

            engine.on_rpc = hook
        try:
            plan: Plan | None = op(engine)
        except EngineInterrupted:
            plan = None
        finally:
            done.set()
            engine.on_rpc = None
            if sm.door == "native":
                sm.engine.plugin = IN_PROCESS
            b.faults.clear()
            calls = list(engine.calls[calls_mark:])
            if temp is not None:
                temp.stop()
        if killed.is_set():
            self.stats.saw(f"{fault.kind} landed")
            time.sleep(0.05)  # a request the dying provider had sent still lands
        return OpResult(plan, killed.is_set(), calls, mark)

    # -- bookkeeping after every operation -------------------------------------------------------------------------

    def after_op(
        self,
        sm: StackModel,
        before_live: Mapping[str, Mapping[str, Any]],
        before: Mapping[str, list[Rec]],
        result: OpResult,
        fault: Fault,
        *,
        create_target: str | None = None,
        opted_in: bool = False,
    ) -> None:
        """What the operation changed, against what the model lets it change (invariants 1, 2 and 3's inputs)."""
        self.settle()
        live = self.live()
        after = self.all_records()
        before_incs = {inc_of(c) for c in before_live.values()}
        after_incs = {inc_of(c) for c in live.values()}
        mine_before = {r.inc for r in before[sm.key]}
        recorded_after = {r.inc for recs in after.values() for r in recs}
        created = {name for m, name in result.calls if m == "Create"}
        killed_delete = result.killed and fault.kind in ("kill-delete", "interrupt-delete")

        declared = {sm.program.name} if sm.program is not None else set()
        for inc in sorted(before_incs - after_incs):
            failed_adoption = (
                (opted_in or self.in_lost_reply_window(fault, before_live.get(inc[0])))
                and inc[0] == create_target
                and before_live[inc[0]]["state"] == "FAILED"
            )  # adopt_existing (or a lost reply) met a FAILED cluster: it must be deleted and re-created (README)
            if inc not in mine_before and not failed_adoption:
                self.fail(f"stack {sm.key} deleted {inc}, which it did not record", result.plan, sm)
            # Records of this stack the program no longer declares (left over from a refused delete, awaiting
            # `pulumi state delete`) may outlive a cluster the stack itself replaced; a declared one may not.
            leftovers_only = inc in mine_before and all(r.name not in declared for r in after[sm.key] if r.inc == inc)
            if inc in self.shared_ok or failed_adoption or (killed_delete and inc in mine_before) or leftovers_only:
                self.vanished_ok.add(inc)

        # A create the model interrupted, or that timed out, may leave its cluster behind, unrecorded: limbo.
        interrupted = (result.killed and fault.kind in LIMBO_FAULTS) or fault.kind == "timeout"
        for inc in sorted(after_incs - before_incs - recorded_after):
            if interrupted and inc[0] == create_target:
                self.limbo.add(inc)
                self.stats.saw("limbo left")
        self.limbo = {inc for inc in self.limbo if inc in after_incs and inc not in recorded_after}

        # A record changes incarnation only through a Create of its resource.
        was = {r.name: r.inc for r in before[sm.key] if not r.pending_delete}
        for r in after[sm.key]:
            if not r.pending_delete and r.name in was and was[r.name] != r.inc and r.name not in created:
                self.fail(
                    f"stack {sm.key}'s {r.name} now records {r.inc} instead of {was[r.name]} with no Create: "
                    "a cluster of the same name was taken over silently",
                    result.plan,
                    sm,
                )

        owners = self._owners(after)
        before_owners = self._owners(before)
        for inc, keys in owners.items():
            if len(keys) < 2:
                continue
            if inc in after_incs:
                self.touch(inc, "any")  # a co-owner's `up` may have changed it
            if len(before_owners.get(inc, set())) < 2 and sm.key in keys and opted_in:
                mine = next(r for r in after[sm.key] if r.inc == inc)
                if mine.name in created and mine.inputs.get("adoptExisting"):
                    self.shared_ok.add(inc)
                    self.stats.saw("co-owned by opt-in")
        # Leave to the next co-ownership of the same cluster to earn its own way in.
        self.shared_ok = {inc for inc in self.shared_ok if len(owners.get(inc, set())) > 1}

    def in_lost_reply_window(self, fault: Fault, target: Mapping[str, Any] | None) -> bool:
        """The `up` lost a POST reply (or may have), and the cluster it meets was made just before it."""
        if target is None or fault.kind not in ("5xx", "drop") or fault.method not in (None, "POST"):
            return False
        created = _dt.datetime.fromisoformat(str(target["createTime"]).replace("Z", "+00:00")).timestamp()
        return self.up_began - created < LOST_REPLY_WINDOW

    @staticmethod
    def _owners(recs: Mapping[str, list[Rec]]) -> dict[Inc, set[str]]:
        owners: dict[Inc, set[str]] = {}
        for key, rs in recs.items():
            for r in rs:
                owners.setdefault(r.inc, set()).add(key)
        return owners

    # -- the invariants --------------------------------------------------------------------------------------------

    @invariant()
    def no_cluster_lost_orphaned_or_co_owned(self) -> None:
        if not self.stacks:
            return
        self.settle()
        live = self.live()
        live_incs = {inc_of(c) for c in live.values()}
        recs = self.all_records()
        # 1. what a stack records is there, unless the model knows why it is not
        for key, rs in recs.items():
            for r in rs:
                if r.inc not in live_incs and r.inc not in self.vanished_ok:
                    now = live.get(r.id)
                    what = "is gone" if now is None else f"was replaced by {inc_of(now)}"
                    self.fail(f"stack {key} records {r.name} = {r.inc}, which {what} and no refresh said so")
        owners = self._owners(recs)
        # 2. no orphans: every live cluster is recorded, or in limbo
        for inc in sorted(live_incs):
            if inc not in owners and inc not in self.limbo:
                self.fail(f"{inc} exists, but no stack records it and it is not in limbo")
        # 3. no co-ownership the model did not let in
        for inc, keys in owners.items():
            if len(keys) > 1 and inc in live_incs and inc not in self.shared_ok:
                self.fail(f"{inc} is recorded by stacks {sorted(keys)}, and none of them opted in")

    # -- programs and `up` -------------------------------------------------------------------------------------------

    def next_program(self, sm: StackModel, change: Change, adopt: bool, new_name: str) -> Program | None:
        other = self.stacks["b" if sm.key == "a" else "a"].program
        prog = sm.program or Program()
        if change == "drop":
            return None
        if change == "display":
            return prog.with_(display=DISPLAYS[1 - DISPLAYS.index(prog.display)])
        if change == "region":
            return prog.with_(region=REGIONS[1 - REGIONS.index(prog.region)])
        if change == "cluster_id":
            return prog.with_(cluster_id=CLUSTER_IDS[1 - CLUSTER_IDS.index(prog.cluster_id)])
        if change == "adopt":
            return prog.with_(adopt=not prog.adopt)
        if change in ("rename", "rename_alias"):
            name = new_name if new_name != prog.name else NAMES[(NAMES.index(new_name) + 1) % len(NAMES)]
            return prog.with_(name=name, aliases=(prog.name,) if change == "rename_alias" else ())
        if change == "copy_other" and other is not None:  # a second stack declaring the other one's cluster
            return prog.with_(cluster_id=other.cluster_id, region=other.region, display=other.display, adopt=adopt)
        return prog

    @rule(data=st.data())
    def act(self, data: st.DataObject) -> None:
        """One step, of a kind drawn with fixed weights. (One rule, not one per kind: hypothesis switches whole rules
        off for an example, and a short run would then often go without `up` at all.)"""
        action = data.draw(st.sampled_from(ACTIONS), label="action")
        stack = data.draw(st.sampled_from(STACKS), label="stack")
        if action == "up":
            change = data.draw(st.sampled_from(CHANGES), label="change")
            adopt, new_name = data.draw(st.booleans(), label="adopt"), data.draw(st.sampled_from(NAMES), label="name")
            self._up(stack, change, adopt, new_name, data.draw(UP_FAULTS, label="fault"))
        elif action == "second-stack":  # the other stack's cluster (same id and spec), with or without the opt-in
            adopt = data.draw(st.booleans(), label="adopt")
            self._up(stack, "copy_other", adopt, NAMES[0], data.draw(UP_FAULTS, label="fault"))
        elif action == "refresh":
            self.refresh(stack, data.draw(REFRESH_FAULTS, label="fault"))
        elif action == "destroy":
            self.destroy(stack, data.draw(DESTROY_FAULTS, label="fault"))
        else:
            what = data.draw(st.sampled_from(OUT_OF_BAND), label="what")
            pick = data.draw(st.integers(0, 7), label="pick")
            key = data.draw(st.sampled_from(("inferenceRole", "clusterName")), label="field")
            self.out_of_band(what, stack, pick, key)
        if TRACE:
            for key, recs in self.all_records().items():
                note(
                    f"  {key} records: "
                    + "; ".join(
                        f"{r.name}={r.inc} {r.state}"
                        + " pending-delete" * r.pending_delete
                        + " init-errors" * r.init_errors
                        + f" adopt={r.inputs.get('adoptExisting')}"
                        for r in recs
                    )
                )

    def _up(self, stack: str, change: Change, adopt: bool, new_name: str, fault: Fault) -> None:
        self.begin("up" if change != "copy_other" else "up-second-stack")
        sm = self.stacks[stack]
        prog = self.next_program(sm, change, adopt, new_name)
        before_live, before = self.live(), self.all_records()
        pred = predict_up(prog, before[stack], before_live)
        if fault.kind in ONLY_FRESH and not (pred.outcome == "ok" and pred.fresh):
            fault = NONE  # these only make sense (or leave limbo) where the POST makes a new cluster
        note(f"step {self.step}: up {stack} ({sm.door}) {prog} with {fault}; predicted {pred.outcome} {pred.reason}")
        self.up_began = self.backend.wall_time()
        old = next(
            (
                r
                for r in before[stack]
                if prog is not None and not r.pending_delete and r.name in (prog.name, *prog.aliases)
            ),
            None,
        )
        result = self.run_op(
            sm,
            lambda e: e.up([desired(prog, sm.door)] if prog is not None else []),
            fault,
            cluster_id=prog.cluster_id if prog is not None else None,
        )
        sm.program, sm.converged = prog, None
        self.after_op(
            sm,
            before_live,
            before,
            result,
            fault,
            create_target=pred.create,
            opted_in=prog is not None and prog.adopt,
        )
        others = {r.inc for key, recs in before.items() if key != stack for r in recs}
        self.check_up(sm, prog, pred, fault, result, before_live, before[stack], old, others)

    def check_up(
        self,
        sm: StackModel,
        prog: Program | None,
        pred: Prediction,
        fault: Fault,
        result: OpResult,
        before_live: Mapping[str, Mapping[str, Any]],
        before: list[Rec],
        old: Rec | None,
        others_before: set[Inc],
    ) -> None:
        """`others_before`: what the other stacks recorded before the `up`."""
        plan = result.plan
        if result.killed and (plan is None or not plan.ok):
            return  # what a kill leaves behind is the invariants' business (a kill after the reply fails nothing)
        target = before_live.get(pred.create) if pred.create else None
        if target is not None and self.in_lost_reply_window(fault, target):
            if plan is not None and plan.ok:
                if inc_of(target) in others_before:
                    self.shared_ok.add(inc_of(target))
                    self.stats.saw("co-owned in the lost-reply window")
                self.converges(sm, prog, result, old)
            return
        if fault.kind == "fail-provisioning":
            pred = Prediction("fail", "is FAILED after its creation", create=pred.create)
        elif fault.kind == "timeout":
            pred = Prediction("fail", "is still CREATING after 0.3s", create=pred.create)
        elif fault.kind == "5xx" and fault.method == "POST":
            # Not applied; the provider cannot know that and looks: with no cluster there it may fail ("a retry is
            # safe") or send the create again; with one there it must follow the rules a 409 follows.
            if pred.fresh and plan is not None and not plan.ok:
                pred = Prediction("fail", "a retry is safe", create=pred.create)
        elif fault.kind in ("429", "5xx") and not fault.absorbed:
            if plan is not None and plan.ok:
                self.converges(sm, prog, result, old)
            return
        if pred.outcome == "decide":
            assert prog is not None
            state = decision_state(self.backend.requests[result.mark :], prog.cluster_id)
            if state not in pred.after_decision:
                self.fail(f"the create of {prog.target} met a CREATING cluster, then saw it {state}", plan, sm)
            pred = pred.after_decision[str(state)]
            self.stats.saw(f"create met a cluster it saw {state}")
            inc = inc_of(self.live()[prog.target]) if prog.target in self.live() else None
            if state == "CREATING" and inc in others_before and plan is not None and plan.ok:
                # Rule (b) cannot tell an interrupted `up` of this stack from another stack's create still running
                # (or recorded half-done by the native door): both then hold it. A limit the README must state.
                self.shared_ok.add(inc)
                self.stats.saw("co-owned by rule (b)")
        if plan is None:
            self.fail("the engine was interrupted, though nothing interrupted it", plan, sm)
            return
        self.stats.saw(f"up checked: {pred.outcome} {pred.reason}".rstrip())
        if pred.outcome == "either":
            if plan.ok:
                self.converges(sm, prog, result, old)
            return
        if pred.outcome == "ok":
            if not plan.ok:
                self.fail(f"a fault-free `up` ({fault}) of {prog} failed", plan, sm)
            self.converges(sm, prog, result, old)
            return
        errors = " | ".join(s.error or "" for s in plan.errors)
        if plan.ok or pred.reason not in errors:
            self.fail(f"the `up` ({fault}) of {prog} must fail with {pred.reason!r}", plan, sm)
        if pred.refused and pred.create is not None:
            # "nothing is changed or recorded": the cluster the create met, and this stack's records
            was, now = before_live.get(pred.create), self.live().get(pred.create)
            if was is not None and (
                now is None or inc_of(now) != inc_of(was) or now["displayName"] != was["displayName"]
            ):
                self.fail(f"a refused create changed {pred.create}: {was} -> {now}", plan, sm)
            # (a delete-first replacement may have dropped the old record before its create was refused, and an
            # alias renames the old record even when its replacement fails: compare clusters, not names)
            if {r.inc for r in records(sm.key, sm.engine)} - {r.inc for r in before}:
                self.fail("a refused create recorded something", plan, sm)

    def converges(self, sm: StackModel, prog: Program | None, result: OpResult, old: Rec | None) -> None:
        """Invariant 5: the `up` succeeded, so the stack now holds exactly the program and the next preview plans
        no change. Where the `up` created or patched the cluster, it is as the program says and READY."""
        recs = records(sm.key, sm.engine)
        preview = sm.engine.preview([desired(prog, sm.door)] if prog is not None else [])
        if not preview.ok or any(s.op != "same" for s in preview.steps):
            self.fail(f"after a successful `up` of {prog}, the preview plans a change", preview, sm)
        if prog is None:
            if recs:
                self.fail("a successful `up` of an empty program left records", result.plan, sm)
            sm.converged = self.step
            return
        rec = recs[0] if len(recs) == 1 else None
        if (
            rec is None
            or rec.name != prog.name
            or rec.id != prog.target
            or rec.pending_delete
            or rec.init_errors
            or rec.inputs.get("displayName") != prog.display
            or declared_eks(rec.inputs) != prog.eks()
            or bool(rec.inputs.get("adoptExisting")) != prog.adopt
        ):
            self.fail(f"after a successful `up` of {prog}, the stack records {recs}", result.plan, sm)
            return
        touched_live = any(m == "Create" for m, _ in result.calls) or (
            any(m == "Update" for m, _ in result.calls)
            and (old is None or old.outputs.get("displayName") != prog.display or old.state != "READY")
        )
        live = self.live().get(prog.target)
        if touched_live:
            if live is None or inc_of(live) != rec.inc or live["state"] != "READY" or rec.state != "READY":
                self.fail(f"after a successful `up` of {prog}, {prog.target} is {live}", result.plan, sm)
            elif live["displayName"] != prog.display:
                self.fail(f"after a successful `up` of {prog}, {prog.target} is named {live['displayName']!r}")
            elif any(m == "Create" for m, _ in result.calls) and not matches(prog, live):
                self.fail(f"after a successful create of {prog}, {prog.target} has {live.get('eksCluster')}")
            written = (
                ("display", "eks", "failed") if any(m == "Create" for m, _ in result.calls) else ("display", "failed")
            )
            sm.wrote.update(dict.fromkeys(written, self.step))
        sm.converged = self.step

    # -- refresh, destroy -----------------------------------------------------------------------------------------

    def refresh(self, stack: str, fault: Fault) -> None:
        self.begin("refresh")
        sm = self.stacks[stack]
        before_live, before = self.live(), self.all_records()
        note(f"step {self.step}: refresh {stack} ({sm.door}) with {fault}")
        result = self.run_op(sm, lambda e: e.refresh(), fault)
        self.after_op(sm, before_live, before, result, fault)
        plan = result.plan
        exact = fault.kind == "none" or fault.absorbed
        if not exact or plan is None:
            return
        if not plan.ok:
            self.fail(f"a fault-free refresh ({fault}) failed", plan, sm)
        live = self.live()
        live_incs = {inc_of(c) for c in live.values()}
        for r in records(stack, sm.engine):
            now = live.get(r.id)
            if now is None or r.state != now["state"] or r.outputs.get("displayName") != now["displayName"]:
                self.fail(f"after a refresh, {r.name} records {r.state} {r.outputs.get('displayName')!r}: {now}")
        # A record whose cluster is gone is dropped, also when another cluster has taken its name since.
        gone = {r.name for r in before[stack] if r.inc not in live_incs}
        if {s.name for s in plan.steps if s.op == "refresh-delete"} != gone:
            self.fail(f"the refresh must drop exactly {sorted(gone)}", plan, sm)
        if sm.converged is not None:
            self.plans_only_what_refresh_found(sm, live)

    def plans_only_what_refresh_found(self, sm: StackModel, live: Mapping[str, Mapping[str, Any]]) -> None:
        """Invariant 4."""
        prog = sm.program
        preview = sm.engine.preview([desired(prog, sm.door)] if prog is not None else [])
        if prog is None:
            if preview.steps:
                self.fail("an empty program plans changes after a refresh", preview, sm)
            return
        rec = next((r for r in records(sm.key, sm.engine) if r.name == prog.name), None)
        now = live.get(prog.target)
        if rec is None:
            expected, why, kind = "create", "the refresh found the cluster gone", ""
        elif now is None:
            self.fail(f"the refresh kept {rec.name}, but {prog.target} is gone", preview, sm)
            return
        elif now["state"] == "FAILED":
            expected, why, kind = "replace", "FAILED", "failed"
        elif declared_eks(now) != prog.eks():
            expected, why, kind = "replace", f"eksCluster changed out of band: {declared_eks(now)}", "eks"
        elif now["displayName"] != prog.display:
            expected, why, kind = "update", f"display name changed out of band: {now['displayName']!r}", "display"
        else:
            expected, why, kind = "same", "", ""
        self.stats.saw(f"refresh then {expected}")
        step = preview.step(prog.name) if prog.name in preview.ops() else None
        if step is None or step.op != expected or not preview.ok or len(preview.steps) != 1:
            self.fail(f"after a refresh, the unchanged program must plan {expected} ({why})", preview, sm)
            return
        if expected == "replace" and not step.delete_before_replace:
            self.fail("a replacement of a cluster that keeps its id must delete first", preview, sm)
        # A dropped record was a known loss (invariant 1 held before the refresh); any other finding must come
        # from a change made to that very cluster after this stack's `up` last set that part of it.
        changes = self.touched.get(rec.inc, {}) if rec is not None else {}
        if kind and max(changes.get(kind, -1), changes.get("any", -1)) <= sm.wrote.get(kind, 0):
            self.fail(f"the refresh found a change ({why}) that nobody made", preview, sm)

    def destroy(self, stack: str, fault: Fault) -> None:
        self.begin("destroy")
        sm = self.stacks[stack]
        before_live, before = self.live(), self.all_records()
        note(f"step {self.step}: destroy {stack} ({sm.door}) with {fault}")
        result = self.run_op(sm, lambda e: e.destroy(), fault)
        sm.converged = None
        self.after_op(sm, before_live, before, result, fault)
        plan = result.plan
        if result.killed and (plan is None or not plan.ok):
            return
        if not (fault.kind == "none" or fault.absorbed or fault.kind in KILLS) or plan is None:
            return
        left = records(stack, sm.engine)
        live_incs = {inc_of(c) for c in self.live().values()}
        still = [r.inc for r in before[stack] if r.inc in live_incs]
        if not plan.ok or left or still:
            self.fail(f"a fault-free destroy ({fault}) left records {left} and clusters {still}", plan, sm)

    def state_delete(self, stack: str) -> None:
        """`pulumi state delete <urn>` of a record the program no longer declares whose cluster another record of the
        stack holds: the way out the provider names when it refuses to delete a cluster another resource of the
        program holds (a rename without an alias that adopted the same cluster). Only that record goes."""
        sm = self.stacks[stack]
        declared = {sm.program.name} if sm.program is not None else set()
        recs = records(stack, sm.engine)
        held = {r.inc for r in recs if r.name in declared}
        extra = next((r for r in recs if r.name not in declared and r.inc in held), None)
        note(f"step {self.step}: state delete in {stack}: {extra.name if extra else 'nothing to delete'}")
        if extra is None:
            return
        entry = next(r for r in sm.engine.stack.resources if r.name == extra.name)
        sm.engine.stack.remove(entry)
        sm.engine.stack.save()
        sm.converged = None

    # -- out of band -------------------------------------------------------------------------------------------------

    def out_of_band(self, what: OutOfBand, stack: str, pick: int, key: str) -> None:
        """Someone else acts on a live cluster (chosen by `pick`): renames it in the UI, edits a declared eksCluster
        field (Fireworks support, say), deletes it, or it breaks (FAILED); or time passes until provisioning ends,
        so limbo is met READY too, not only CREATING; or the user edits a stack's state. (Whatever is live: that
        depends on timing, and hypothesis needs the same draws for the same choices, so no preconditions.)"""
        self.begin(f"oob-{what}")
        if what == "state-delete":
            self.state_delete(stack)
            return
        live = self.live()
        if what == "wait":
            note(f"step {self.step}: provisioning finishes")
            deadline = time.monotonic() + SLOW_PROVISION + 1
            while any(c["state"] == "CREATING" for c in self.live().values()) and time.monotonic() < deadline:
                time.sleep(0.05)
            return
        if not live:
            note(f"step {self.step}: out of band {what}: no cluster to act on")
            return
        c = live[sorted(live)[pick % len(live)]]
        cluster_id, inc = c["name"].rsplit("/", 1)[-1], inc_of(c)
        note(f"step {self.step}: out of band {what} of {inc}" + (f" ({key})" if what == "edit" else ""))
        if what == "display":
            self.client.update(cluster_id, {"displayName": OOB_DISPLAY})
        elif what == "edit":
            value = FOREIGN_ROLE if key == "inferenceRole" else "someone-elses-eks"
            self.backend.edit_cluster(ACCOUNT, cluster_id, {key: value})
        elif what == "fail":
            self.backend.fail_cluster(ACCOUNT, cluster_id, "node group deleted")
        else:
            self.client.delete(cluster_id)
            self.vanished_ok.add(inc)
            self.limbo.discard(inc)
            self.settle()
        self.touch(inc, {"display": "display", "edit": "eks", "fail": "failed"}.get(what, "any"))

    def touch(self, inc: Inc, kind: str) -> None:
        self.touched.setdefault(inc, {})[kind] = self.step


@pytest.mark.timeout(0 if SOAK else 120)
def test_the_lifecycle_model(fireworks: EmulatorHandle, tmp_path: Path) -> None:
    stats = Stats()

    class Lifecycle(LifecycleMachine):
        fw = fireworks
        base = tmp_path

    Lifecycle.stats = stats
    config = settings(
        max_examples=EXAMPLES,
        stateful_step_count=STEPS,
        deadline=None,
        database=None,
        derandomize=False,
        phases=(Phase.explicit, Phase.generate, Phase.shrink) if SHRINK else (Phase.explicit, Phase.generate),
        suppress_health_check=list(HealthCheck),
        print_blob=SOAK,
    )
    print(f"lifecycle model: {'soak' if SOAK else 'bounded'} run, seed={SEED}, max_examples={EXAMPLES}, steps={STEPS}")
    # No example database, and hypothesis's other caches (the constants it collects) in a tmp dir, not the checkout.
    set_hypothesis_home_dir(tmp_path / "hypothesis")
    try:
        run_state_machine_as_test(seed(SEED)(Lifecycle), settings=config)
    finally:
        set_hypothesis_home_dir(None)
        took = time.monotonic() - stats.started
        print(f"lifecycle model: {stats.examples} examples, {stats.steps} steps in {took:.1f}s: {stats.ops}")
        print(f"lifecycle model reached: {dict(sorted(stats.seen.items()))}")
