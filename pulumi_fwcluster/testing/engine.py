"""A stand-in for the Pulumi engine that drives the real dynamic-provider server over gRPC.

The Pulumi CLI cannot be installed here, but the process it launches for dynamic providers is
``python -u -m pulumi.dynamic`` from the SDK.  This module starts that very server and calls it in the
order the engine does (see NOTES.md section 3):

* preview, new resource: ``Check(olds={}, news)``.
* preview, existing resource: ``Check(old inputs, news)``, ``Diff(id, old outputs, checked news)`` and,
  when the diff asks for a replacement, ``Check(olds={}, news)`` again (the engine re-checks the
  replacement during step generation, in preview too).  Never Create/Update/Delete.
* up: the same steps, then ``Create`` / ``Update(id, old outputs, checked news)`` / replace.  A
  create-before-delete replacement deletes the old resource at the end of the run, with the deletions of
  resources that left the program (reverse creation order), as the engine does.  A delete-before-replace
  one (``Diff`` said ``deleteBeforeReplace`` or ``Desired.delete_before_replace``) deletes first.
* refresh: ``Read(id, properties=old outputs, inputs=old inputs)``; an empty id drops the resource.
* get: ``Read(id, properties=inputs={..., __provider})`` (what ``Resource.get`` sends today).
* aliases: a resource whose URN is new but one of whose ``Desired.aliases`` names a state entry takes that entry
  over (no create, no delete), as the engine does.
* destroy: ``Delete(id, old outputs)`` in reverse creation order.

Wire format as the engine sends it to a provider that answers ``acceptSecrets=False``: ``__provider`` is the
SDK's own dill/base64 serialization, unwrapped; numbers are floats; unknowns are the string
:data:`UNKNOWN`.  By default every operation runs in a fresh server process (like each ``pulumi``
command), which is configured once with the stack config right after it starts.

Rendering (:meth:`Plan.render`) uses one line per step::

    + create          <type> <name>
    ~ update          <type> <name> [diff: ~displayName, +newKey, -droppedKey]
    +- replace        <type> <name> [diff: ~region]                 (create new, then delete old)
    -+ replace        <type> <name> [diff: ~region] (delete-before-replace)
    - delete          <type> <name>
      same            <type> <name>
    > read            <type> <name>
    ~ refresh         <type> <name> [diff: ~size]                   (drift found by refresh)
    - refresh-delete  <type> <name> (deleted out of band)
      skip            <type> <name>                                 (not run: an earlier step failed)
      check           <type> <name>                                 (existing resource whose Check failed)

followed by indented ``error: <prop>: <reason>`` lines for Check failures and ``error: <message>`` for a
provider exception (the last line of the traceback), then a ``Resources:`` summary.  Config values are
never printed or logged by this module.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Final, Literal

import grpc
from google.protobuf import empty_pb2, json_format, struct_pb2  # type: ignore[import-untyped,unused-ignore]
from pulumi.dynamic import ResourceProvider
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime import rpc
from pulumi.runtime._serialization import _serialize
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

_SERIALIZE_LOCK = threading.Lock()


def _change_request(step: Step, old: ResourceState, news: dict[str, Any]) -> dict[str, Any]:
    """The fields Diff and Update requests share: the resource, its old outputs and inputs, and the news."""
    return {
        "id": old.id,
        "urn": step.urn,
        "name": step.name,
        "type": step.type,
        "olds": _to_struct(old.outputs),
        "news": _to_struct(news),
        "old_inputs": _to_struct(old.inputs),
    }


__all__ = [
    "DEFAULT_TYPE",
    "PROVIDER_KEY",
    "UNKNOWN",
    "Desired",
    "Engine",
    "EngineError",
    "Plan",
    "ProviderServer",
    "ResourceState",
    "Stack",
    "Step",
    "contains_unknown",
]

UNKNOWN: Final[str] = rpc.UNKNOWN
"""Put this anywhere in ``Desired.props`` (nested too) for a value that is not known during preview."""

PROVIDER_KEY: Final[str] = "__provider"
DEFAULT_TYPE: Final[str] = "pulumi-python:dynamic:Resource"

Op = Literal["create", "update", "replace", "same", "delete", "read", "check", "refresh", "refresh-delete", "skip"]

_DIFF_NONE: Final[int] = provider_pb2.DiffResponse.DIFF_NONE
_DIFF_SOME: Final[int] = provider_pb2.DiffResponse.DIFF_SOME


class EngineError(RuntimeError):
    """Raised by :meth:`Plan.raise_for_errors` (or ``raise_on_error=True``) when a step failed."""


def contains_unknown(value: Any) -> bool:
    """True when ``value`` is or contains the :data:`UNKNOWN` sentinel."""
    if isinstance(value, str):
        return value == UNKNOWN
    if isinstance(value, Mapping):
        return any(contains_unknown(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(contains_unknown(v) for v in value)
    return False


# --------------------------------------------------------------------------------------------------
# Program model and state
# --------------------------------------------------------------------------------------------------


@dataclass
class Desired:
    """One resource the "program" registers: what ``MyResource(name, props, opts)`` would send."""

    name: str
    provider: ResourceProvider
    props: dict[str, Any]
    type_: str = DEFAULT_TYPE
    delete_before_replace: bool = False
    aliases: Sequence[str] = ()
    """Earlier names of this resource (``aliases=[Alias(name=...)]``), or earlier full URNs."""


@dataclass
class ResourceState:
    """One resource in the stack's state (a checkpoint entry)."""

    urn: str
    name: str
    type: str
    id: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    pending_delete: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "urn": self.urn,
            "name": self.name,
            "type": self.type,
            "id": self.id,
            "inputs": self.inputs,
            "outputs": self.outputs,
            "pending_delete": self.pending_delete,
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
        )


class Stack:
    """The state between operations, in creation order; optionally persisted to a JSON file."""

    def __init__(self, project: str = "project", stack: str = "stack", path: Path | str | None = None) -> None:
        self.project = project
        self.stack = stack
        self.path = Path(path) if path is not None else None
        self.resources: list[ResourceState] = []
        self._lock = threading.RLock()
        if self.path is not None and self.path.exists():
            data = json.loads(self.path.read_text())
            self.resources = [ResourceState.from_json(r) for r in data.get("resources", [])]

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
}


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
}
_FUTURE: Final[dict[str, str]] = {
    "create": "to create",
    "update": "to update",
    "replace": "to replace",
    "delete": "to delete",
    "read": "to read",
    "refresh": "to refresh",
    "refresh-delete": "to delete",
}


@dataclass
class Plan:
    """The result of one operation: its steps in a deterministic order."""

    kind: Literal["preview", "up", "refresh", "destroy"]
    steps: list[Step] = field(default_factory=list)

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
        """``name -> op`` for every step."""
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
        lines.append("Resources:")
        words = _FUTURE if self.kind == "preview" else _PAST
        counts = self.counts()
        for op in ("create", "update", "replace", "delete", "read", "refresh", "refresh-delete"):
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


# --------------------------------------------------------------------------------------------------
# The server process
# --------------------------------------------------------------------------------------------------


def _drain(stream: IO[bytes], sink: list[str], lock: threading.Lock) -> None:
    for raw in iter(stream.readline, b""):
        with lock:
            sink.append(raw.decode("utf-8", "replace"))
    stream.close()


class ProviderServer:
    """``python -u -m pulumi.dynamic`` as a subprocess, with a gRPC stub; a context manager.

    stdout's first line is the port; everything after it and all of stderr (where ``pulumi.log``
    lines of the provider go) is captured and exposed as :attr:`stdout` / :attr:`stderr`.
    """

    def __init__(
        self,
        cwd: Path | str | None = None,
        env: Mapping[str, str] | None = None,
        pythonpath: Sequence[Path | str] = (),
        start_timeout: float = 30.0,
    ) -> None:
        self.cwd = Path(cwd) if cwd is not None else Path.cwd()
        self._env_overrides = dict(env or {})
        self._pythonpath = [str(p) for p in pythonpath]
        self.start_timeout = start_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._channel: Any = None
        self.stub: Any = None
        self.port: int | None = None
        self._out: list[str] = []
        self._err: list[str] = []
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self.start_seconds: float | None = None

    def _environ(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self._env_overrides)
        for key, value in self._env_overrides.items():
            if value == "":  # an empty override unsets the variable, as the CLI's absent one would be
                del env[key]
        parts = [*self._pythonpath]
        if env.get("PYTHONPATH"):
            parts.append(env["PYTHONPATH"])
        if parts:
            env["PYTHONPATH"] = os.pathsep.join(parts)
        env["PYTHONUNBUFFERED"] = "1"
        return env

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> ProviderServer:
        if self.running:
            return self
        began = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-u", "-m", "pulumi.dynamic"],
            cwd=self.cwd,
            env=self._environ(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert proc.stdout is not None and proc.stderr is not None
        self._proc = proc
        err_thread = threading.Thread(target=_drain, args=(proc.stderr, self._err, self._lock), daemon=True)
        err_thread.start()
        first: list[bytes] = []
        reader = threading.Thread(target=lambda: first.append(proc.stdout.readline()), daemon=True)  # type: ignore[union-attr]
        reader.start()
        reader.join(self.start_timeout)
        if not first or not first[0].strip().isdigit():
            self.stop()
            raise EngineError(f"pulumi.dynamic server did not print its port; stderr:\n{self.stderr}")
        self.port = int(first[0].strip())
        out_thread = threading.Thread(target=_drain, args=(proc.stdout, self._out, self._lock), daemon=True)
        out_thread.start()
        self._threads = [err_thread, out_thread]
        self._channel = grpc.insecure_channel(f"127.0.0.1:{self.port}")
        grpc.channel_ready_future(self._channel).result(timeout=self.start_timeout)
        self.stub = provider_pb2_grpc.ResourceProviderStub(self._channel)
        self.start_seconds = time.monotonic() - began
        return self

    def stop(self) -> None:
        if self._channel is not None:
            self._channel.close()
            self._channel = None
        self.stub = None
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            for t in self._threads:
                t.join(timeout=5)
        self._threads = []

    @property
    def stderr(self) -> str:
        with self._lock:
            return "".join(self._err)

    @property
    def stdout(self) -> str:
        with self._lock:
            return "".join(self._out)

    def __enter__(self) -> ProviderServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --------------------------------------------------------------------------------------------------
# Helpers for the wire format
# --------------------------------------------------------------------------------------------------


def _to_struct(props: Mapping[str, Any]) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(_plain(props))
    return s


def _plain(value: Any) -> Any:
    """Python values as the engine would marshal them (numbers become floats in the Struct)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _from_struct(s: struct_pb2.Struct) -> dict[str, Any]:
    result: dict[str, Any] = json_format.MessageToDict(s)
    return result


def _key_diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, str]:
    """Top-level changed keys, as the CLI shows them: ``+`` added, ``-`` removed, ``~`` changed."""
    kinds: dict[str, str] = {}
    for k in sorted(set(old) | set(new)):
        if k not in old:
            kinds[k] = "+"
        elif k not in new:
            kinds[k] = "-"
        elif contains_unknown(new[k]) or old[k] != new[k]:
            kinds[k] = "~"
    return kinds


def _rpc_error(exc: grpc.RpcError) -> str:
    details = exc.details() if hasattr(exc, "details") else None
    code = exc.code() if hasattr(exc, "code") else None
    text = details or str(exc)
    if code is not None and code not in (grpc.StatusCode.UNKNOWN,):
        text = f"{code.name}: {text}"
    return str(text)


class _StepFailed(Exception):
    pass


# --------------------------------------------------------------------------------------------------
# The engine
# --------------------------------------------------------------------------------------------------


class Engine:
    """Drives the dynamic-provider server like the Pulumi engine; a context manager.

    ``config`` is the stack config, ``"namespace:key" -> string`` (secrets in plaintext, as the engine
    sends them to a provider that does not accept secrets).  With ``process_per_operation`` (the
    default) each of preview/up/refresh/destroy/get starts a fresh server, as each ``pulumi`` command
    does; otherwise one server lives for the engine's lifetime.
    """

    def __init__(
        self,
        *,
        cwd: Path | str | None = None,
        config: Mapping[str, str] | None = None,
        env: Mapping[str, str] | None = None,
        pythonpath: Sequence[Path | str] = (),
        stack: Stack | None = None,
        project: str = "project",
        stack_name: str = "stack",
        state_path: Path | str | None = None,
        process_per_operation: bool = True,
        timeout: float = 120.0,
    ) -> None:
        self.cwd = Path(cwd) if cwd is not None else Path.cwd()
        self._config = dict(config or {})
        self._env = dict(env or {})
        self._pythonpath = list(pythonpath)
        self.stack = stack if stack is not None else Stack(project, stack_name, state_path)
        self.process_per_operation = process_per_operation
        self.timeout = timeout
        self.server: ProviderServer | None = None
        self._servers: list[ProviderServer] = []
        self.calls: list[tuple[str, str]] = []
        """Every gRPC call made: ``(method, resource name)`` in order (``""`` for Configure)."""
        self._calls_lock = threading.Lock()
        self.start_seconds: list[float] = []

    def __repr__(self) -> str:  # never show config values
        return f"Engine(cwd={str(self.cwd)!r}, config_keys={sorted(self._config)!r})"

    # -- process management ------------------------------------------------------------------------

    def start(self) -> ProviderServer:
        """Start a server (if none runs) and Configure it."""
        if self.server is not None and self.server.running:
            return self.server
        server = ProviderServer(self.cwd, self._env, self._pythonpath, start_timeout=self.timeout).start()
        self.server = server
        self._servers.append(server)
        if server.start_seconds is not None:
            self.start_seconds.append(server.start_seconds)
        self._record("GetPluginInfo", "")
        server.stub.GetPluginInfo(empty_pb2.Empty(), timeout=self.timeout)
        self._record("Configure", "")
        server.stub.Configure(
            provider_pb2.ConfigureRequest(
                variables=self._config,
                args=_to_struct(self._config),
                acceptSecrets=True,
                acceptResources=True,
                sends_old_inputs=True,
                sends_old_inputs_to_delete=True,
            ),
            timeout=self.timeout,
        )
        return server

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def restart(self) -> ProviderServer:
        self.stop()
        return self.start()

    def __enter__(self) -> Engine:
        if not self.process_per_operation:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @contextlib.contextmanager
    def _operation(self) -> Iterator[Any]:
        server = self.restart() if self.process_per_operation else self.start()
        try:
            yield server.stub
        finally:
            if self.process_per_operation:
                self.stop()
            self.stack.save()

    @property
    def stderr(self) -> str:
        """stderr of every server process started so far (``pulumi.log`` output lands here)."""
        return "".join(s.stderr for s in self._servers)

    @property
    def stdout(self) -> str:
        return "".join(s.stdout for s in self._servers)

    # -- low-level calls ----------------------------------------------------------------------------

    def _record(self, method: str, name: str, step: Step | None = None) -> None:
        with self._calls_lock:
            self.calls.append((method, name))
        if step is not None:
            step.calls.append(method)

    def _call(self, stub: Any, method: str, request: Any, step: Step) -> Any:
        self._record(method, step.name, step)
        try:
            return getattr(stub, method)(request, timeout=self.timeout)
        except grpc.RpcError as exc:
            step.error = _rpc_error(exc)
            raise _StepFailed(method) from exc

    def _check(self, stub: Any, step: Step, olds: Mapping[str, Any], news: Mapping[str, Any]) -> dict[str, Any]:
        resp: provider_pb2.CheckResponse = self._call(
            stub,
            "Check",
            provider_pb2.CheckRequest(
                urn=step.urn, name=step.name, type=step.type, olds=_to_struct(olds), news=_to_struct(news)
            ),
            step,
        )
        step.failures = [(f.property, f.reason) for f in resp.failures]
        inputs = _from_struct(resp.inputs)
        step.inputs = inputs
        if step.failures:
            raise _StepFailed("Check")
        return inputs

    def _diff(self, stub: Any, step: Step, old: ResourceState, news: dict[str, Any]) -> tuple[bool, bool]:
        """Returns ``(has_changes, provider_said_delete_before_replace)``; fills diffs/replaces."""
        resp: provider_pb2.DiffResponse = self._call(
            stub,
            "Diff",
            provider_pb2.DiffRequest(**_change_request(step, old, news)),
            step,
        )
        kinds = _key_diff(old.inputs, news)
        step.replaces = list(resp.replaces)
        if resp.changes == _DIFF_NONE:
            changed = False
        elif resp.changes == _DIFF_SOME:
            changed = True
        else:  # DIFF_UNKNOWN (provider returned changes=None): the engine diffs old inputs vs news.
            changed = bool(kinds)
        if changed:
            step.diff_kinds = kinds
            step.diffs = list(kinds)
        return changed, bool(resp.deleteBeforeReplace)

    def _create(self, stub: Any, step: Step, inputs: dict[str, Any]) -> ResourceState:
        resp: provider_pb2.CreateResponse = self._call(
            stub,
            "Create",
            provider_pb2.CreateRequest(
                urn=step.urn, name=step.name, type=step.type, properties=_to_struct(inputs), timeout=0
            ),
            step,
        )
        if not resp.id:
            step.error = "provider returned an empty ID from Create"
            raise _StepFailed("Create")
        outputs = _from_struct(resp.properties)
        step.id, step.outputs, step.inputs = resp.id, outputs, inputs
        return ResourceState(step.urn, step.name, step.type, resp.id, inputs, outputs)

    def _delete(self, stub: Any, step: Step, res: ResourceState) -> None:
        self._call(
            stub,
            "Delete",
            provider_pb2.DeleteRequest(
                id=res.id,
                urn=res.urn,
                name=res.name,
                type=res.type,
                properties=_to_struct(res.outputs),
                old_inputs=_to_struct(res.inputs),
            ),
            step,
        )
        self.stack.remove(res)

    # -- program model ------------------------------------------------------------------------------

    @staticmethod
    def serialize(provider: ResourceProvider) -> str:
        """``__provider`` exactly as ``pulumi.dynamic.Resource.__init__`` computes it (unwrapped).

        Serialised under a lock: the SDK swaps `pickle.Pickler` process-wide while it works, and two threads doing
        that at once can leave the swap stacked for good (a RecursionError some thousand calls later)."""
        with _SERIALIZE_LOCK:
            value, _contains_secrets = _serialize(True, serialize_provider, provider)
        return str(value)

    def _goal(self, d: Desired) -> dict[str, Any]:
        if PROVIDER_KEY in d.props:
            raise ValueError("A dynamic resource must not define the __provider key")
        props = _plain(d.props)
        props[PROVIDER_KEY] = self.serialize(d.provider)
        return dict(props)

    def _new_step(self, d: Desired, op: Op) -> Step:
        return Step(urn=self.stack.urn(d.type_, d.name), name=d.name, type=d.type_, op=op)

    @staticmethod
    def _check_unique(desired: Sequence[Desired]) -> None:
        seen: set[tuple[str, str]] = set()
        for d in desired:
            key = (d.type_, d.name)
            if key in seen:
                raise ValueError(f"duplicate resource {d.type_}::{d.name}")
            seen.add(key)

    def _run(self, fn: Any, items: Sequence[Any], parallel: bool) -> list[Step]:
        if parallel and len(items) > 1:
            with ThreadPoolExecutor(max_workers=min(16, len(items))) as pool:
                return list(pool.map(fn, items))
        steps: list[Step] = []
        for item in items:
            step = fn(item)
            steps.append(step)
        return steps

    def _alias_urns(self, d: Desired) -> list[str]:
        return [a if a.startswith("urn:") else self.stack.urn(d.type_, a) for a in d.aliases]

    def _old(self, d: Desired) -> ResourceState | None:
        """The state entry of ``d``: by its URN, else by one of its aliases (as the engine matches them)."""
        old = self.stack.find(self.stack.urn(d.type_, d.name))
        if old is not None:
            return old
        for urn in self._alias_urns(d):
            old = self.stack.find(urn)
            if old is not None:
                return old
        return None

    def _wanted(self, desired: Sequence[Desired]) -> set[str]:
        """URNs the program still claims, its aliases included: the engine deletes none of them."""
        return {u for d in desired for u in (self.stack.urn(d.type_, d.name), *self._alias_urns(d))}

    # -- operations ---------------------------------------------------------------------------------

    def preview(self, desired: Sequence[Desired], *, parallel: bool = False) -> Plan:
        """Check (and Diff for existing resources); never Create/Update/Delete. Reports every resource."""
        self._check_unique(desired)
        plan = Plan("preview")
        with self._operation() as stub:

            def one(d: Desired) -> Step:
                old = self._old(d)
                step = self._new_step(d, "create" if old is None else "check")
                goal = self._goal(d)
                try:
                    news = self._check(stub, step, {} if old is None else old.inputs, goal)
                    if old is None:
                        return step
                    step.id = old.id
                    changed, dbr = self._diff(stub, step, old, news)
                    if not changed:
                        step.op = "same"
                    elif step.replaces:
                        step.op = "replace"
                        step.delete_before_replace = dbr or d.delete_before_replace
                        self._check(stub, step, {}, goal)
                    else:
                        step.op = "update"
                except _StepFailed:
                    pass
                return step

            plan.steps = self._run(one, desired, parallel)
            wanted = self._wanted(desired)
            for res in reversed(self.stack.live()):
                if res.urn not in wanted:
                    plan.steps.append(Step(res.urn, res.name, res.type, "delete", id=res.id))
        return plan

    def up(
        self,
        desired: Sequence[Desired],
        *,
        parallel: bool = False,
        raise_on_error: bool = False,
        continue_on_error: bool = False,
    ) -> Plan:
        """Bring the stack to ``desired``.  Stops scheduling work after the first error (like the engine)
        unless ``continue_on_error``; with ``parallel`` the resources' step chains run concurrently."""
        self._check_unique(desired)
        for d in desired:
            if contains_unknown(d.props):
                raise ValueError(f"{d.name}: unknown values are only allowed in preview")
        plan = Plan("up")
        pending: list[tuple[Step, ResourceState]] = []  # create-before-delete: old ones, deleted at the end
        failed = threading.Event()
        with self._operation() as stub:
            # Resources left pending-delete by an earlier run are deleted first.
            for res in [r for r in self.stack.resources if r.pending_delete]:
                step = Step(res.urn, res.name, res.type, "delete", id=res.id)
                with contextlib.suppress(_StepFailed):
                    self._delete(stub, step, res)
                plan.steps.append(step)
                if not step.ok:
                    failed.set()

            def one(d: Desired) -> Step:
                old = self._old(d)
                step = self._new_step(d, "create" if old is None else "check")
                if failed.is_set() and not continue_on_error:
                    step.op = "skip"
                    return step
                try:
                    self._up_one(stub, d, old, step, pending)
                except _StepFailed:
                    failed.set()
                return step

            plan.steps.extend(self._run(one, desired, parallel))

            if not failed.is_set() or continue_on_error:
                # Deletion phase: replaced olds and resources that left the program, reverse creation order.
                wanted = self._wanted(desired)
                order = {id(r): i for i, r in enumerate(self.stack.resources)}
                doomed: list[tuple[Step | None, ResourceState]] = [
                    (None, r) for r in self.stack.live() if r.urn not in wanted
                ]
                doomed += [(s, r) for s, r in pending]
                doomed.sort(key=lambda sr: order.get(id(sr[1]), -1), reverse=True)
                for owner, res in doomed:
                    step = owner if owner is not None else Step(res.urn, res.name, res.type, "delete", id=res.id)
                    try:
                        self._delete(stub, step, res)
                    except _StepFailed:
                        if not continue_on_error:
                            if owner is None:
                                plan.steps.append(step)
                            break
                    if owner is None:
                        plan.steps.append(step)
        if raise_on_error:
            plan.raise_for_errors()
        return plan

    def _up_one(
        self,
        stub: Any,
        d: Desired,
        old: ResourceState | None,
        step: Step,
        pending: list[tuple[Step, ResourceState]],
    ) -> None:
        goal = self._goal(d)
        if old is not None and old.urn != step.urn:  # matched by an alias: the entry takes the new URN
            renamed = ResourceState(step.urn, step.name, step.type, old.id, old.inputs, old.outputs)
            self.stack.replace_entry(old, renamed)
            old = renamed
        news = self._check(stub, step, {} if old is None else old.inputs, goal)
        if old is None:
            self.stack.add(self._create(stub, step, news))
            return
        step.id = old.id
        changed, dbr = self._diff(stub, step, old, news)
        if not changed:
            step.op = "same"
            step.outputs = old.outputs
            self.stack.replace_entry(old, ResourceState(old.urn, old.name, old.type, old.id, news, old.outputs))
            return
        if not step.replaces:
            step.op = "update"
            resp: provider_pb2.UpdateResponse = self._call(
                stub,
                "Update",
                provider_pb2.UpdateRequest(**_change_request(step, old, news)),
                step,
            )
            outputs = _from_struct(resp.properties)
            step.outputs, step.inputs = outputs, news
            self.stack.replace_entry(old, ResourceState(old.urn, old.name, old.type, old.id, news, outputs))
            return
        step.op = "replace"
        step.delete_before_replace = dbr or d.delete_before_replace
        news = self._check(stub, step, {}, goal)
        if step.delete_before_replace:
            self._delete(stub, step, old)
            self.stack.add(self._create(stub, step, news))
        else:
            new = self._create(stub, step, news)
            with self.stack._lock:
                old.pending_delete = True
                self.stack.add(new)
            pending.append((step, old))

    def refresh(self, *, parallel: bool = False, raise_on_error: bool = False) -> Plan:
        """Read every resource; drop the ones whose Read returns an empty id."""
        plan = Plan("refresh")
        with self._operation() as stub:

            def one(res: ResourceState) -> Step:
                step = Step(res.urn, res.name, res.type, "same", id=res.id)
                try:
                    resp: provider_pb2.ReadResponse = self._call(
                        stub,
                        "Read",
                        provider_pb2.ReadRequest(
                            id=res.id,
                            urn=res.urn,
                            name=res.name,
                            type=res.type,
                            properties=_to_struct(res.outputs),
                            inputs=_to_struct(res.inputs),
                        ),
                        step,
                    )
                except _StepFailed:
                    return step
                if not resp.id:
                    step.op = "refresh-delete"
                    self.stack.remove(res)
                    return step
                outputs = _from_struct(resp.properties)
                inputs = _from_struct(resp.inputs) if resp.HasField("inputs") else res.inputs
                kinds = _key_diff(res.outputs, outputs)
                if kinds:
                    step.op = "refresh"
                    step.diff_kinds, step.diffs = kinds, list(kinds)
                step.id, step.outputs, step.inputs = resp.id, outputs, inputs
                self.stack.replace_entry(
                    res, ResourceState(res.urn, res.name, res.type, resp.id, inputs, outputs, res.pending_delete)
                )
                return step

            plan.steps = self._run(one, list(self.stack.resources), parallel)
        if raise_on_error:
            plan.raise_for_errors()
        return plan

    def get(
        self,
        name: str,
        id: str,
        provider: ResourceProvider,
        *,
        type_: str = DEFAULT_TYPE,
        props: Mapping[str, Any] | None = None,
        raise_on_error: bool = False,
    ) -> Step:
        """``Resource.get(name, id)``: Read with the program's props (``{**props, __provider}``) as both
        ``properties`` and ``inputs``, as today's engine sends a get.

        The stack is not changed (the engine keeps read resources as external, never deletes them).
        """
        step = Step(self.stack.urn(type_, name), name, type_, "read", id=id)
        inputs = dict(_plain(dict(props or {})))
        inputs[PROVIDER_KEY] = self.serialize(provider)
        with self._operation() as stub:
            try:
                resp: provider_pb2.ReadResponse = self._call(
                    stub,
                    "Read",
                    provider_pb2.ReadRequest(
                        id=id,
                        urn=step.urn,
                        name=name,
                        type=type_,
                        properties=_to_struct(inputs),
                        inputs=_to_struct(inputs),
                    ),
                    step,
                )
                if not resp.id:
                    step.error = f"resource '{id}' does not exist"
                else:
                    step.id = resp.id
                    step.outputs = _from_struct(resp.properties)
                    step.inputs = _from_struct(resp.inputs) if resp.HasField("inputs") else {}
            except _StepFailed:
                pass
        if raise_on_error:
            Plan("refresh", [step]).raise_for_errors()
        return step

    def destroy(self, *, raise_on_error: bool = False, continue_on_error: bool = False) -> Plan:
        """Delete every resource in reverse creation order; stops at the first error."""
        plan = Plan("destroy")
        with self._operation() as stub:
            for res in reversed(list(self.stack.resources)):
                step = Step(res.urn, res.name, res.type, "delete", id=res.id)
                plan.steps.append(step)
                try:
                    self._delete(stub, step, res)
                except _StepFailed:
                    if not continue_on_error:
                        break
        if raise_on_error:
            plan.raise_for_errors()
        return plan
