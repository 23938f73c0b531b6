"""The harness's program model, state and results.

What a program registers (:class:`Desired`), what the checkpoint holds (:class:`Stack`, :class:`ResourceState`,
:class:`PendingOperation`) and what an operation reports (:class:`Plan`, :class:`Step`).  The engine that produces
them is :mod:`pulumi_fwcluster.testing.engine`, which re-exports every name here.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

from pulumi.dynamic import ResourceProvider
from pulumi.runtime import rpc

from .wire import Secret

__all__ = [
    "DEFAULT_PARALLEL",
    "DEFAULT_TYPE",
    "PROVIDER_KEY",
    "UNKNOWN",
    "ConfigureFlags",
    "CustomTimeouts",
    "Desired",
    "EngineError",
    "Op",
    "PendingOperation",
    "Plan",
    "ResourceState",
    "Stack",
    "Step",
    "contains_unknown",
    "parse_duration",
    "preview_digest",
]


class EngineError(RuntimeError):
    """Raised by :meth:`Plan.raise_for_errors` (or ``raise_on_error=True``) when a step failed, and when a provider
    server cannot be started or configured."""


UNKNOWN: Final[str] = rpc.UNKNOWN
"""Put this anywhere in ``Desired.props`` (nested too) for a value that is not known during preview."""

PROVIDER_KEY: Final[str] = "__provider"
DEFAULT_TYPE: Final[str] = "pulumi-python:dynamic:Resource"

DEFAULT_PARALLEL: Final[int] = (os.cpu_count() or 1) * 4
"""The engine's default ``--parallel``: GOMAXPROCS (the CPU count) times four."""

Op = Literal[
    "create", "update", "replace", "same", "delete", "read", "check", "refresh", "refresh-delete", "skip", "import"
]


def contains_unknown(value: Any) -> bool:
    """True when ``value`` is or contains the :data:`UNKNOWN` sentinel."""
    if isinstance(value, Secret):
        return contains_unknown(value.value)
    if isinstance(value, str):
        return value == UNKNOWN
    if isinstance(value, Mapping):
        return any(contains_unknown(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(contains_unknown(v) for v in value)
    return False


_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_UNIT_SECONDS: Final[dict[str, float]] = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}


def parse_duration(value: float | str) -> float:
    """Seconds from a number of seconds or a Go duration string ("30m", "1h30m", "1.5s", "0"), as the engine
    parses ``customTimeouts`` (``time.ParseDuration``)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    text = str(value).strip()
    if text == "0":
        return 0.0
    total, pos = 0.0, 0
    for match in _DURATION_PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    if not text or pos != len(text):
        raise ValueError(f"unable to parse customTimeout Value {text}")
    return total


# --------------------------------------------------------------------------------------------------
# Program model and state
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CustomTimeouts:
    """The ``custom_timeouts`` resource option: seconds, or Go duration strings as the SDKs send them ("30m")."""

    create: float | str | None = None
    update: float | str | None = None
    delete: float | str | None = None

    def seconds(self) -> dict[str, float]:
        """``{"create"|"update"|"delete": seconds}`` for the timeouts that are set."""
        given = {"create": self.create, "update": self.update, "delete": self.delete}
        return {k: parse_duration(v) for k, v in given.items() if v is not None}


@dataclass
class Desired:
    """One resource the "program" registers: what ``MyResource(name, props, opts)`` would send.

    ``provider`` is the dynamic provider (``None`` for a native resource, which has its own ``type_`` token such
    as ``fireworks:index:Cluster``).  Wrap a value in :class:`Secret` to mark it secret."""

    name: str
    provider: ResourceProvider | None
    props: dict[str, Any]
    type_: str = DEFAULT_TYPE
    delete_before_replace: bool = False
    aliases: Sequence[str] = ()
    """Earlier names of this resource (``aliases=[Alias(name=...)]``), or earlier full URNs."""
    custom_timeouts: CustomTimeouts | None = None
    import_id: str | None = None
    """The ``import_=`` resource option: the provider id of an existing resource to adopt."""


@dataclass
class PendingOperation:
    """An operation the engine began and never saw end (a checkpoint's ``pending_operations`` entry)."""

    type: str
    """"creating", "updating", "deleting", "reading" or "importing"."""
    urn: str
    name: str
    resource_type: str
    id: str = ""
    inputs: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "resource": {
                "urn": self.urn,
                "name": self.name,
                "type": self.resource_type,
                "id": self.id,
                "inputs": self.inputs,
            },
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PendingOperation:
        res = data["resource"]
        return cls(
            str(data["type"]), str(res["urn"]), str(res["name"]), str(res["type"]), str(res["id"]), res["inputs"]
        )


@dataclass
class ResourceState:
    """One resource in the stack's state (a checkpoint entry).  Values are plain; the ``secret_*`` lists name the
    property paths that are secret (see :mod:`pulumi_fwcluster.testing.wire`)."""

    urn: str
    name: str
    type: str
    id: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    pending_delete: bool = False
    secret_inputs: list[str] = field(default_factory=list)
    secret_outputs: list[str] = field(default_factory=list)
    custom_timeouts: dict[str, float] = field(default_factory=dict)
    init_errors: list[str] = field(default_factory=list)
    import_id: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "urn": self.urn,
            "name": self.name,
            "type": self.type,
            "id": self.id,
            "inputs": self.inputs,
            "outputs": self.outputs,
            "pending_delete": self.pending_delete,
            "secret_inputs": self.secret_inputs,
            "secret_outputs": self.secret_outputs,
            "custom_timeouts": self.custom_timeouts,
            "init_errors": self.init_errors,
            "import_id": self.import_id,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ResourceState:
        return cls(
            urn=str(data["urn"]),
            name=str(data["name"]),
            type=str(data["type"]),
            id=str(data["id"]),
            inputs=dict(data["inputs"]),
            outputs=dict(data["outputs"]),
            pending_delete=bool(data.get("pending_delete", False)),
            secret_inputs=list(data.get("secret_inputs", [])),
            secret_outputs=list(data.get("secret_outputs", [])),
            custom_timeouts={str(k): float(v) for k, v in data.get("custom_timeouts", {}).items()},
            init_errors=list(data.get("init_errors", [])),
            import_id=str(data.get("import_id", "")),
        )


class Stack:
    """The state between operations, in creation order; optionally persisted to a JSON file."""

    def __init__(self, project: str = "project", stack: str = "stack", path: Path | str | None = None) -> None:
        self.project = project
        self.stack = stack
        self.path = Path(path) if path is not None else None
        self.resources: list[ResourceState] = []
        self.pending_operations: list[PendingOperation] = []
        self._lock = threading.RLock()
        if self.path is not None and self.path.exists():
            data = json.loads(self.path.read_text())
            self.resources = [ResourceState.from_json(r) for r in data.get("resources", [])]
            self.pending_operations = [PendingOperation.from_json(o) for o in data.get("pending_operations", [])]

    def urn(self, type_: str, name: str) -> str:
        return f"urn:pulumi:{self.stack}::{self.project}::{type_}::{name}"

    def live(self) -> list[ResourceState]:
        """Resources that are not pending deletion, in creation order."""
        with self._lock:
            return [r for r in self.resources if not r.pending_delete]

    def find(self, urn: str) -> ResourceState | None:
        with self._lock:
            for r in self.resources:
                if r.urn == urn and not r.pending_delete:
                    return r
        return None

    def get(self, name: str) -> ResourceState:
        """The live resource called ``name`` (any type); KeyError when absent or ambiguous."""
        found = [r for r in self.live() if r.name == name]
        if len(found) != 1:
            raise KeyError(f"{len(found)} live resources named {name!r}")
        return found[0]

    def __contains__(self, name: object) -> bool:
        return any(r.name == name for r in self.live())

    def add(self, res: ResourceState) -> None:
        with self._lock:
            self.resources.append(res)

    def remove(self, res: ResourceState) -> None:
        with self._lock:
            self.resources = [r for r in self.resources if r is not res]

    def replace_entry(self, old: ResourceState, new: ResourceState) -> None:
        with self._lock:
            self.resources = [new if r is old else r for r in self.resources]

    def to_json(self) -> dict[str, Any]:
        with self._lock:
            return {
                "project": self.project,
                "stack": self.stack,
                "resources": [r.to_json() for r in self.resources],
                "pending_operations": [o.to_json() for o in self.pending_operations],
            }

    def save(self) -> None:
        if self.path is not None:
            tmp = self.path.with_suffix(self.path.suffix + ".tmp")
            tmp.write_text(json.dumps(self.to_json(), indent=2, sort_keys=True))
            tmp.replace(self.path)


# --------------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------------

_SYMBOLS: Final[dict[str, str]] = {
    "create": "+",
    "update": "~",
    "replace": "+-",
    "same": " ",
    "delete": "-",
    "read": ">",
    "check": " ",
    "refresh": "~",
    "refresh-delete": "-",
    "skip": " ",
    "import": "=",
}
_DETAIL_SYMBOLS: Final[dict[str, str]] = {"ADD": "+", "DELETE": "-", "UPDATE": "~"}


@dataclass
class Step:
    """What happened (or would happen) to one resource."""

    urn: str
    name: str
    type: str
    op: Op
    diffs: list[str] = field(default_factory=list)
    """Changed top-level keys (old inputs vs checked news; old vs new outputs for refresh), sorted."""
    diff_kinds: dict[str, str] = field(default_factory=dict)
    """``key -> "+" | "-" | "~"`` (added, removed, changed) for each key in :attr:`diffs`."""
    replaces: list[str] = field(default_factory=list)
    delete_before_replace: bool = False
    failures: list[tuple[str, str]] = field(default_factory=list)
    error: str | None = None
    """The provider's error as the user would see it (the server sends the full traceback)."""
    id: str | None = None
    inputs: dict[str, Any] = field(default_factory=dict)
    """Checked inputs (the Check reply), or the inputs stored after the step; empty when there were none."""
    outputs: dict[str, Any] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    """gRPC methods called for this step, in order, e.g. ``["Check", "Diff", "Update"]``."""
    detailed_diff: dict[str, str] = field(default_factory=dict)
    """The provider's ``detailedDiff``: ``path -> "UPDATE" | "UPDATE_REPLACE" | "ADD" | ...`` (empty without one)."""
    secret_paths: list[str] = field(default_factory=list)
    """Property paths of :attr:`outputs` that are secret."""
    init_errors: list[str] = field(default_factory=list)
    """Reasons of a partial failure (``ErrorResourceInitFailed``) recorded with the resource."""
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None and not self.failures

    @property
    def error_message(self) -> str:
        """The last non-empty line of :attr:`error` (for a traceback: the exception line); "" without an error."""
        if self.error is None:
            return ""
        lines = [ln for ln in self.error.strip().splitlines() if ln.strip()]
        return lines[-1].strip() if lines else self.error

    def render(self) -> str:
        sym = _SYMBOLS[self.op]
        if self.op == "replace" and self.delete_before_replace:
            sym = "-+"
        line = f"{f'{sym} {self.op}':<18}{self.type} {self.name}"
        if self.diffs:
            line += " [diff: " + ", ".join(f"{self.diff_kinds.get(k, '~')}{k}" for k in self.diffs) + "]"
        if self.op == "replace" and self.delete_before_replace:
            line += " (delete-before-replace)"
        if self.op == "refresh-delete":
            line += " (deleted out of band)"
        out = [line.rstrip()]
        for path, kind in sorted(self.detailed_diff.items()):
            base = kind.removesuffix("_REPLACE")
            out.append(f"    {_DETAIL_SYMBOLS.get(base, '~')} {path}" + (" (replace)" if kind != base else ""))
        for warning in self.warnings:
            out.append("    warning: " + warning.replace("\n", "\n    "))
        out.extend(f"    error: {prop}: {reason}" for prop, reason in self.failures)
        if self.error is not None:
            out.append(f"    error: {self.error_message}")
        return "\n".join(out)


_PAST: Final[dict[str, str]] = {
    "create": "created",
    "update": "updated",
    "replace": "replaced",
    "delete": "deleted",
    "read": "read",
    "refresh": "refreshed",
    "refresh-delete": "deleted",
    "import": "imported",
}
_FUTURE: Final[dict[str, str]] = {
    "create": "to create",
    "update": "to update",
    "replace": "to replace",
    "delete": "to delete",
    "read": "to read",
    "refresh": "to refresh",
    "refresh-delete": "to delete",
    "import": "to import",
}


@dataclass
class Plan:
    """The result of one operation: its steps in a deterministic order."""

    kind: Literal["preview", "up", "refresh", "destroy", "import"]
    steps: list[Step] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    """Engine diagnostics not tied to a step, e.g. ``"warning: Attempting to deploy ... pending operations"``."""

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.steps)

    @property
    def errors(self) -> list[Step]:
        return [s for s in self.steps if not s.ok]

    def step(self, name: str) -> Step:
        """The (last) step for resource ``name``."""
        for s in reversed(self.steps):
            if s.name == name:
                return s
        raise KeyError(name)

    def ops(self) -> dict[str, str]:
        """``name -> op`` for every step (the last one of a resource with several)."""
        return {s.name: s.op for s in self.steps}

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for s in self.steps:
            if s.ok:
                out[s.op] = out.get(s.op, 0) + 1
        return out

    def raise_for_errors(self) -> Plan:
        bad = self.errors
        if bad:
            lines = [f"{self.kind} failed:"] + [s.render() for s in bad]
            raise EngineError("\n".join(lines))
        return self

    def render(self) -> str:
        verb = "Previewing update" if self.kind == "preview" else f"{self.kind.capitalize()}"
        lines = [f"{verb}:"]
        lines.extend(s.render() for s in self.steps)
        lines.extend(self.messages)
        lines.append("Resources:")
        words = _FUTURE if self.kind == "preview" else _PAST
        counts = self.counts()
        for op in ("create", "update", "replace", "delete", "read", "import", "refresh", "refresh-delete"):
            if counts.get(op):
                lines.append(f"    {_SYMBOLS[op].strip() or ' '} {counts[op]} {words[op]}")
        unchanged = counts.get("same", 0)
        if unchanged:
            lines.append(f"    {unchanged} unchanged")
        failed = len(self.errors)
        if failed:
            lines.append(f"    {failed} failed")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.render()


@dataclass(frozen=True)
class ConfigureFlags:
    """The provider's ``ConfigureResponse``: what the engine may send it and whether it previews."""

    accept_secrets: bool
    supports_preview: bool
    accept_resources: bool
    accept_outputs: bool


def _masked(values: Mapping[str, Any], secrets: Sequence[str]) -> dict[str, Any]:
    """``values`` with each secret path replaced by "[secret]", as the digest prints them."""
    out: dict[str, Any] = {k: v for k, v in values.items() if not k.startswith("__")}
    for path in secrets:
        container: Any = out
        *parents, last = path.split(".")
        for part in parents:
            container = container.get(part) if isinstance(container, dict) else None
        if isinstance(container, dict) and last in container:
            container[last] = "[secret]"
    return out


def preview_digest(plan: Plan, stack: Stack) -> dict[str, Any]:
    """What ``pulumi preview --json`` would print for ``plan`` (a preview of ``stack``): the digest's ``steps``,
    ``diagnostics`` and ``changeSummary`` (pkg/display/json.go ``PreviewDigest``). Secrets print as "[secret]",
    unknowns as :data:`UNKNOWN`; ``detailedDiff`` is null when the provider sent none, as from a dynamic provider."""
    steps: list[dict[str, Any]] = []
    diagnostics: list[dict[str, Any]] = []
    summary: dict[str, int] = {}
    for step in plan.steps:
        for prop, reason in step.failures:
            message = f"{step.type} resource '{step.name}': property {prop} value {{<nil>}} has a problem: {reason}"
            diagnostics.append({"urn": step.urn, "message": f"error: {message}\n", "severity": "error"})
        if step.error is not None:
            diagnostics.append({"urn": step.urn, "message": f"error: {step.error_message}\n", "severity": "error"})
        diagnostics.extend(
            {"urn": step.urn, "message": f"warning: {w}\n", "severity": "warning"} for w in step.warnings
        )
        if step.op in ("check", "skip") or not step.ok:
            continue
        old = stack.find(step.urn)
        entry: dict[str, Any] = {"op": step.op, "urn": step.urn, "provider": ""}
        if old is not None:
            entry["oldState"] = {
                "urn": old.urn,
                "type": old.type,
                "id": old.id,
                "inputs": _masked(old.inputs, old.secret_inputs),
                "outputs": _masked(old.outputs, old.secret_outputs),
            }
        if step.op != "delete":
            entry["newState"] = {
                "urn": step.urn,
                "type": step.type,
                "id": step.id or "",
                "inputs": _masked(step.inputs, step.secret_paths),
                "outputs": _masked(step.outputs, step.secret_paths),
            }
        if step.op in ("update", "replace"):
            entry["replaceReasons"] = list(step.replaces)
            if step.detailed_diff:  # a dynamic provider's Diff names no keys: the digest then has no diffReasons
                entry["diffReasons"] = list(step.diffs)
            entry["detailedDiff"] = (
                {
                    path: {"kind": kind.lower().replace("_", "-"), "inputDiff": True}
                    for path, kind in step.detailed_diff.items()
                }
                if step.detailed_diff
                else None
            )
        steps.append(entry)
        summary[step.op] = summary.get(step.op, 0) + 1
    return {"steps": steps, "diagnostics": diagnostics, "changeSummary": summary}
