"""The model behind the lifecycle state machine: programs, what the emulator and the stacks hold, and what a
fault-free `up` must do, computed independently of the product's own code.

Clusters are told apart by incarnation, (name, createTime): a cluster deleted and made again under the same name is
another cluster, and a stack that recorded the first one does not own the second.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from pulumi_fwcluster.testing.emulator import Backend, RequestRecord
from pulumi_fwcluster.testing.engine import Desired, Engine
from tests.engine.enginehelpers import ACCOUNT, AWS_ACCOUNT, INFERENCE, cluster

__all__ = [
    "ACCOUNT",
    "CLUSTER_IDS",
    "DISPLAYS",
    "FOREIGN_ROLE",
    "NAMES",
    "OOB_DISPLAY",
    "REGIONS",
    "Door",
    "Inc",
    "Prediction",
    "Program",
    "Rec",
    "decision_state",
    "declared_eks",
    "desired",
    "inc_of",
    "live_clusters",
    "matches",
    "predict_up",
    "records",
]

Door = Literal["dynamic", "native"]

CLUSTER_IDS = ("c-one", "c-two")
REGIONS = ("us-east-1", "us-west-2")
DISPLAYS = ("Prod", "Prod (renamed)")
NAMES = ("prod", "prod-moved", "prod-again")
OOB_DISPLAY = "Changed out of band"
FOREIGN_ROLE = f"arn:aws:iam::{AWS_ACCOUNT}:role/someone-else"

Inc = tuple[str, str]
"""One incarnation of a cluster: (full name, createTime)."""


def full_name(cluster_id: str) -> str:
    return f"accounts/{ACCOUNT}/clusters/{cluster_id}"


@dataclass(frozen=True)
class Program:
    """What a stack's program declares: one Cluster, or nothing (`None` in the machine)."""

    name: str = "prod"
    aliases: tuple[str, ...] = ()
    cluster_id: str = CLUSTER_IDS[0]
    region: str = REGIONS[0]
    display: str = DISPLAYS[0]
    adopt: bool = False

    @property
    def target(self) -> str:
        return full_name(self.cluster_id)

    def eks(self) -> dict[str, str]:
        return {"awsAccountId": AWS_ACCOUNT, "region": self.region, "clusterName": "prod", "inferenceRole": INFERENCE}

    def with_(self, **changes: Any) -> Program:
        return replace(self, **changes)


def desired(prog: Program, door: Door) -> Desired:
    d = cluster(
        prog.name,
        door=door,
        cluster_id=prog.cluster_id,
        region=prog.region,
        display_name=prog.display,
        adopt_existing=True if prog.adopt else None,
    )
    d.aliases = list(prog.aliases)
    return d


@dataclass(frozen=True)
class Rec:
    """One resource a stack records."""

    stack: str
    name: str
    id: str
    create_time: str
    state: str
    pending_delete: bool
    init_errors: bool
    inputs: Mapping[str, Any]
    outputs: Mapping[str, Any]

    @property
    def inc(self) -> Inc:
        return (self.id, self.create_time)


def records(key: str, engine: Engine) -> list[Rec]:
    return [
        Rec(
            key,
            r.name,
            r.id,
            str(r.outputs.get("createTime", "")),
            str(r.outputs.get("state", "")),
            r.pending_delete,
            bool(r.init_errors),
            dict(r.inputs),
            dict(r.outputs),
        )
        for r in engine.stack.resources
    ]


def live_clusters(backend: Backend) -> dict[str, dict[str, Any]]:
    """What the emulator holds now, by full name (read from the backend: no HTTP, so no scripted fault is used)."""
    page = backend.list_clusters(ACCOUNT, page_size=200)
    return {c["name"]: c for c in page["clusters"]}


def inc_of(live: Mapping[str, Any]) -> Inc:
    return (str(live["name"]), str(live["createTime"]))


def declared_eks(live: Mapping[str, Any]) -> dict[str, str]:
    """The live eksCluster fields a program declares (the API may fill in others)."""
    eks = live.get("eksCluster") or {}
    return {k: eks[k] for k in ("awsAccountId", "region", "clusterName", "inferenceRole") if k in eks}


def matches(prog: Program, live: Mapping[str, Any]) -> bool:
    """Whether an existing cluster has the program's spec (what adoption compares: not the display name)."""
    return declared_eks(live) == prog.eks()


Outcome = Literal["ok", "fail", "decide", "either"]


@dataclass
class Prediction:
    """What a fault-free `up` must end with.

    `decide`: the create meets a cluster that was CREATING when the `up` began; whether it is still CREATING when the
    provider looks at it is a matter of timing, so the outcome follows from the state the provider was shown (read
    from the emulator's request log): CREATING adopts, anything else follows the rule for that state. `either`: the
    rules allow success or failure; only the invariants judge it."""

    outcome: Outcome
    reason: str = ""
    """A fragment the failing step's error must contain."""
    create: str | None = None
    """The full name a Create will be for, if any."""
    fresh: bool = False
    """That Create will find no cluster: its POST makes one."""
    refused: bool = False
    """A refusal: nothing may be changed or recorded."""
    prog: Program | None = None
    after_decision: dict[str, Prediction] = field(default_factory=dict)


def _predict_create(prog: Program, existing: Mapping[str, Any] | None) -> Prediction:
    target = prog.target
    if existing is None:
        return Prediction("ok", create=target, fresh=True, prog=prog)
    if not matches(prog, existing):
        return Prediction("fail", "already exists", create=target, refused=True, prog=prog)
    by_state = {
        "READY": Prediction("ok", create=target, prog=prog)
        if prog.adopt
        else Prediction("fail", "already exists", create=target, refused=True, prog=prog),
        # adopt_existing meets a FAILED cluster: a FAILED cluster must be deleted and re-created (README)
        "FAILED": Prediction("fail", "FAILED", create=target, prog=prog)
        if prog.adopt
        else Prediction("fail", "already exists", create=target, refused=True, prog=prog),
        "CREATING": Prediction("ok", create=target, prog=prog),
    }
    if existing["state"] == "CREATING":
        return Prediction("decide", create=target, prog=prog, after_decision=by_state)
    return by_state[existing["state"]]


def _then(first: Prediction, then: Callable[[Prediction], Prediction]) -> Prediction:
    """`then` applied to what the registration ends with (each branch of an undecided one)."""
    if first.outcome == "decide":
        first.after_decision = {state: then(p) for state, p in first.after_decision.items()}
        return first
    return then(first)


def predict_up(prog: Program | None, recs: Sequence[Rec], live: Mapping[str, Mapping[str, Any]]) -> Prediction:
    """The outcome of a fault-free `up` of `prog` over a stack holding `recs`, with the emulator holding `live`.

    The engine's order: earlier pending deletes first (retirePendingDeletes, before the program runs), then the
    resource's registration (create, update or replacement), then the deletion phase (what left the program,
    replaced old halves). The README's rules and issue 9's principles:
    a delete removes only the incarnation its record names (another cluster that took the name is left alone); a
    delete never removes the cluster the program declares (a rename without an alias that adopted it); an update
    never re-points a record at another incarnation."""
    now = dict(live)

    def holds(r: Rec) -> bool:
        c = now.get(r.id)
        return c is not None and inc_of(c) == r.inc

    for r in recs:
        if r.pending_delete and holds(r):
            now.pop(r.id)  # retired before anything else: the earlier plan's delete, finished
    if prog is None:
        return Prediction("ok", prog=prog)
    current = [r for r in recs if not r.pending_delete]
    old = next((r for r in current if r.name == prog.name), None)
    if old is None:
        old = next((r for r in current if r.name in prog.aliases), None)
    # Everything else goes in the deletion phase: an entry under an alias counts as the resource's only while the
    # resource has none of its own (the engine looks its own URN up first), and after the registration it has.
    leftovers = [r for r in recs if r is not old and not r.pending_delete]

    def deletion_phase(p: Prediction) -> Prediction:
        clashing = [r for r in leftovers if r.id == prog.target]
        if p.outcome != "ok" or not clashing:
            return p
        if any(holds(r) for r in clashing):
            if p.create is not None:  # this `up` created or adopted it: the old record is dropped, the cluster kept
                return p
            return Prediction("fail", "", prog=prog)  # only declared by the program: the delete is refused
        # Only records of clusters gone since: dropping them without a delete, or refusing, both lose nothing.
        return Prediction("either", prog=prog)

    if old is None:
        return _then(_predict_create(prog, now.get(prog.target)), deletion_phase)
    outs = old.outputs
    if outs.get("clusterId") != prog.cluster_id:  # create first, then delete the old one
        return _then(_predict_create(prog, now.get(prog.target)), deletion_phase)
    if (outs.get("eksCluster") or {}) != prog.eks() or outs.get("state") == "FAILED":  # delete first
        if holds(old):
            now.pop(old.id)
        return _then(_predict_create(prog, now.get(prog.target)), deletion_phase)
    display_changed = (outs.get("displayName") or "") != prog.display
    adopt_changed = bool(outs.get("adoptExisting")) != prog.adopt
    if not (display_changed or adopt_changed or old.init_errors) or (not display_changed and old.state == "READY"):
        return deletion_phase(Prediction("ok", prog=prog))  # no change, or one Fireworks never hears of
    holder = now.get(old.id)
    if holder is not None and not holds(old):
        return Prediction("fail", "", prog=prog)  # another cluster of that name: the update refuses
    if holder is None or holder["state"] == "FAILED":
        return Prediction("fail", "", prog=prog)  # gone, or FAILED
    return deletion_phase(Prediction("ok", prog=prog))


def decision_state(requests: Sequence[RequestRecord], cluster_id: str) -> str | None:
    """The state the provider was shown when its POST did not make the cluster (a 409, or a failure it cannot tell
    from a lost reply): the reply to its first GET of that cluster after the POST."""
    path = f"/clusters/{cluster_id}"
    seen_conflict = False
    for r in requests:
        if r.method == "POST" and isinstance(r.body, dict) and r.body.get("clusterId") == cluster_id:
            seen_conflict = r.status != 200
        elif seen_conflict and r.method == "GET" and r.path.endswith(path) and r.status == 200:
            body = r.response_body
            return str(body.get("state")) if isinstance(body, dict) else None
    return None
