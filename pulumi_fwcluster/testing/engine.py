"""A stand-in for the Pulumi engine that drives a real provider server over gRPC, through either door.

The Pulumi CLI cannot be installed here, so this module plays the engine: it starts the provider server the CLI
would start and calls it in the engine's order.  Which server (``Engine(plugin=...)``):

* ``None`` (default): the dynamic-provider server ``python -u -m pulumi.dynamic`` from the SDK, the very process
  the CLI launches for ``pulumi.dynamic`` resources (NOTES.md section 3);
* :class:`NativePlugin`: a native plugin process, ``argv + [engine address]``, port read from its first stdout line;
* :class:`InProcessPlugin`: a ``pulumi.provider.experimental`` provider object on an in-process ``grpc.aio`` server.

Native plugins get the address of a :class:`FakeEngine`; what they log lands in :attr:`Engine.logs`.

Call order, as the engine's step generator and executor make the calls (pkg/resource/deploy/step_generator.go,
step.go):

* start-up: ``GetPluginInfo``; dynamic: ``Configure(variables=stack config, args=the same)``; native:
  ``CheckConfig(news=<package> config under plain keys)`` then ``Configure(variables={"<pkg>:config:<key>": str},
  args=checked config with secrets wrapped, acceptSecrets=True)`` (pkg/resource/plugin/provider_plugin.go
  ``CheckConfig``/``Configure``).  The flags of the reply are kept in :attr:`Engine.provider_flags`.
* preview, new resource: ``Check(olds={}, news)``, then ``Create(preview=True)`` only if the provider said
  ``supportsPreview`` (otherwise the engine answers for it, with no call).  Existing resource: ``Check(old inputs,
  news)``, ``Diff(id, old outputs, checked news)``, then ``Update(preview=True)`` (if ``supportsPreview``) or, for a
  replacement, ``Check(olds={}, news)`` again and ``Create(preview=True)``.  Never a Delete.
* up: the same with real Create/Update and the replacement: create-before-delete deletes the old resource at the
  end of the run, with the deletions of resources that left the program (reverse creation order); a
  delete-before-replace one (``Diff`` said ``deleteBeforeReplace`` or ``Desired.delete_before_replace``) deletes
  first.  A replacement is ``replaces`` non-empty or any ``detailedDiff`` entry of a ``*_REPLACE`` kind
  (``DiffResult.Replace``); ``changes=DIFF_UNKNOWN`` makes the engine diff old inputs against news itself.
* a resource recorded with ``initErrors`` gets an ``Update`` even when ``Diff`` reports no change, "to continue
  awaiting initialization" (step_generator.go, ``hasInitErrors``).
* refresh: ``Read(id, properties=old outputs, inputs=old inputs)``; an empty id drops the resource; an init failure
  is a warning and records the ``initErrors`` (step.go ``RefreshStep.Apply``).
* get: ``Read(id, properties=inputs={..., __provider})`` (what ``Resource.get`` sends today).
* aliases: a resource whose URN is new but one of whose ``Desired.aliases`` names a state entry takes that entry
  over (no create, no delete), as the engine does.
* destroy: ``Delete(id, old outputs)`` in reverse creation order, with the ``delete`` timeout stored in state.

Modelled engine behaviours, each from the Go source (pulumi/pulumi, 2026):

* **customTimeouts** (``Desired.custom_timeouts``): seconds or Go duration strings, converted as
  pkg/resource/deploy/source_eval.go ``generateTimeoutInSeconds`` does; Create gets the new ``create`` timeout,
  Update the new ``update`` one, Delete the ``delete`` timeout stored with the *old* state (step.go
  ``DeleteStep.Apply`` uses ``s.old.CustomTimeouts.Delete``).  0 means unset.  The engine never enforces them.
* **secrets** (:class:`Secret` anywhere in ``Desired.props`` or a config value): sent wrapped only to a provider
  that answered ``acceptSecrets``; otherwise sent plain and the reply re-marked by ``annotateSecrets``.  For every
  provider an output named like a top-level secret input becomes secret (step_executor.go).  State keeps plain
  values plus the secret property paths (``ResourceState.secret_outputs``, ``Step.secret_paths``).
* **partial failure**: a Create/Update/Read error whose status details hold ``pulumirpc.ErrorResourceInitFailed``
  (provider_plugin.go ``parseError``) fails the step but records the resource: Create with the id and outputs from
  the details and the checked inputs; Update with the new outputs and the *old* inputs (pkg/engine/update.go
  ``OnResourceStepPost``); both with ``init_errors``.  A create-before-delete replacement also leaves the old
  resource pending deletion (``CreateStep.Apply`` marks it before returning the error).
* **import** (``Desired.import_id``, the ``import_`` option): when the state has no entry with that id, ``Read(id)``
  with no properties and no inputs; no ``properties`` in the reply is "resource '<id>' does not exist", no
  ``inputs`` is "provider does not support importing resources; ...".  Since pulumi 3.174 (#19339, "eventual state
  import") the imported state then becomes the *old* state of ordinary step generation: ``Check(olds=read inputs,
  news)``, ``Diff(read outputs, checked news)`` and, on a difference, an Update (or a replacement) in the same run;
  with no difference the Same step is elided.  ``Engine(legacy_import=True)`` models the engine before 3.174
  instead: any difference fails with "inputs to import do not match the existing resource: [keys]" (a warning in
  preview).  An entry with another id is replaced by the import (``ImportReplacementStep``).  A resource whose
  program still says ``import_`` may not be *replaced*: "previously-imported resources that still specify an ID may
  not be replaced; ..." (an error in up, a warning in preview; step_generator.go).
* **targeted replace** (``up(replace=[name])``, ``pulumi up --replace <urn>``): no Diff call; the replacement blames
  ``id`` and deletes first only when the resource option says so.
* **pending deletes** from an earlier run are deleted first, before the program's first registration
  (deployment_executor.go ``retirePendingDeletes``, called before the source is iterated).
  :meth:`Engine.import_` is ``pulumi import TYPE NAME ID`` (pkg/resource/deploy/import.go ``importResources``,
  step.go ``ImportStep.Apply`` with ``planned``): no program inputs; ``Read(id)``, then ``Check(olds=read inputs,
  news=read inputs)`` whose failures are only warnings; nothing to do when the URN already holds that id, an error
  when it holds another.  (The CLI also marks imported resources protected by default; not modelled.)
* **pending operations**: the engine journals an operation when it starts and closes it when the provider
  answers, success or failure (pkg/backend/snapshot.go ``markOperationPending``/``markOperationComplete``), so a
  plugin that dies mid-call (:meth:`Engine.kill_provider`) fails its step (gRPC UNAVAILABLE) and leaves no pending
  operation, and the operation reports "Detected that <plugin> exited prematurely" (plugin.go ``Close``).  Only
  an interrupted *engine* (:meth:`Engine.interrupt`: the CLI killed mid-call) leaves the calls in flight as
  ``Stack.pending_operations`` ("creating", "updating", "deleting", "importing").  The next ``up``/``destroy``
  warns "Attempting to deploy or update resources with N pending operations from previous deployment."
  (deployment_executor.go ``printPendingOperationsWarning``); once an operation completes only pending *creates*
  remain (snapshot.go ``Snap``), and only ``refresh(clear_pending_creates=True)`` (``--clear-pending-creates``)
  drops those.
* **cancel**: :meth:`Engine.cancel` sends ``Cancel`` to the running provider (as ``SignalCancellation`` does) and
  stops scheduling new steps.

Wire format: numbers are floats; unknowns are the string :data:`UNKNOWN`; ``__provider`` (dynamic only) is the SDK's
own dill/base64 serialization, unwrapped.  By default every operation runs in a fresh server (like each ``pulumi``
command), configured once right after it starts.

Rendering (:meth:`Plan.render`) uses one line per step::

    + create          <type> <name>
    ~ update          <type> <name> [diff: ~displayName, +newKey, -droppedKey]
    +- replace        <type> <name> [diff: ~region]                 (create new, then delete old)
    -+ replace        <type> <name> [diff: ~region] (delete-before-replace)
    - delete          <type> <name>
      same            <type> <name>
    > read            <type> <name>
    = import          <type> <name>
    ~ refresh         <type> <name> [diff: ~size]                   (drift found by refresh)
    - refresh-delete  <type> <name> (deleted out of band)
      skip            <type> <name>                                 (not run: an earlier step failed)
      check           <type> <name>                                 (existing resource whose Check failed)

followed by indented lines: the provider's detailed diff (``~ nested.path`` / ``+- region (replace)``),
``warning: ...``, ``error: <prop>: <reason>`` for Check failures and ``error: <message>`` for a provider exception
(the last line of the traceback); then engine messages and a ``Resources:`` summary.  Config values are never
printed or logged by this module.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeVar

import grpc
from google.protobuf import empty_pb2  # type: ignore[import-untyped,unused-ignore]
from pulumi.dynamic import ResourceProvider
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime._serialization import _serialize
from pulumi.runtime.proto import provider_pb2, status_pb2

from .fake_engine import FakeEngine, LogEntry
from .model import (
    DEFAULT_PARALLEL,
    DEFAULT_TYPE,
    PROVIDER_KEY,
    UNKNOWN,
    ConfigureFlags,
    CustomTimeouts,
    Desired,
    EngineError,
    Op,
    PendingOperation,
    Plan,
    ResourceState,
    Stack,
    Step,
    contains_unknown,
    parse_duration,
    preview_digest,
)
from .plugins import (
    InProcessPlugin,
    InProcessServer,
    NativePlugin,
    PluginProcess,
    ProviderHandle,
    ProviderServer,
)
from .wire import (
    Secret,
    annotate_secrets,
    from_struct,
    mark_leaked_inputs,
    mark_secrets,
    plain,
    secret_paths,
    to_struct,
)

_SERIALIZE_LOCK = threading.Lock()

__all__ = [
    "DEFAULT_PARALLEL",
    "DEFAULT_TYPE",
    "PROVIDER_KEY",
    "UNKNOWN",
    "ConfigureFlags",
    "CustomTimeouts",
    "Desired",
    "Engine",
    "EngineError",
    "EngineInterrupted",
    "FakeEngine",
    "InProcessPlugin",
    "InProcessServer",
    "LogEntry",
    "NativePlugin",
    "PendingOperation",
    "Plan",
    "PluginProcess",
    "ProviderServer",
    "ResourceState",
    "Secret",
    "Stack",
    "Step",
    "contains_unknown",
    "parse_duration",
    "preview_digest",
]


_DIFF_NONE: Final[int] = provider_pb2.DiffResponse.DIFF_NONE
_DIFF_SOME: Final[int] = provider_pb2.DiffResponse.DIFF_SOME
_DIFF_KIND: Final[dict[int, str]] = {
    provider_pb2.PropertyDiff.ADD: "ADD",
    provider_pb2.PropertyDiff.ADD_REPLACE: "ADD_REPLACE",
    provider_pb2.PropertyDiff.DELETE: "DELETE",
    provider_pb2.PropertyDiff.DELETE_REPLACE: "DELETE_REPLACE",
    provider_pb2.PropertyDiff.UPDATE: "UPDATE",
    provider_pb2.PropertyDiff.UPDATE_REPLACE: "UPDATE_REPLACE",
}
_STATUS_DETAILS_KEY: Final[str] = "grpc-status-details-bin"

_PENDING_RESOLUTION: Final[str] = (
    "These resources are in an unknown state because the Pulumi CLI was interrupted while "
    "waiting for changes to these resources to complete. You should confirm whether or not the "
    "operations listed completed successfully by checking the state of the appropriate provider. "
    "For example, if you are using AWS, you can confirm using the AWS Console.\n"
    "\n"
    "Once you have confirmed the status of the interrupted operations, you can repair your stack "
    "using `pulumi refresh` which will refresh the state from the provider you are using and "
    "clear the pending operations if there are any.\n"
    "\n"
    "Note that `pulumi refresh` will need to be run interactively to clear pending CREATE operations."
)

T = TypeVar("T")
R = TypeVar("R")


class EngineInterrupted(EngineError):
    """Raised by an operation after :meth:`Engine.interrupt`: the "CLI" died; :attr:`pending` were in flight."""

    def __init__(self, message: str, pending: list[PendingOperation]) -> None:
        super().__init__(message)
        self.pending = pending


# --------------------------------------------------------------------------------------------------
# Helpers for the wire format
# --------------------------------------------------------------------------------------------------


def _normalize(value: Any) -> Any:
    """Program values as the engine holds them: plain containers, :class:`Secret` wrappers kept."""
    if isinstance(value, Secret):
        return Secret(_normalize(value.value))
    if isinstance(value, Mapping):
        return {str(k): _normalize(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_normalize(v) for v in value]
    return value


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


def _init_failure(exc: grpc.RpcError) -> provider_pb2.ErrorResourceInitFailed | None:
    """The ``ErrorResourceInitFailed`` packed in the error's ``google.rpc.Status`` trailer, as the Go engine's
    ``rpcerror.Convert(err).Details()`` finds it."""
    metadata = exc.trailing_metadata() if hasattr(exc, "trailing_metadata") else None
    for key, value in metadata or ():
        if key != _STATUS_DETAILS_KEY:
            continue
        status = status_pb2.Status.FromString(value)
        for detail in status.details:
            found = provider_pb2.ErrorResourceInitFailed()
            if detail.Unpack(found):
                return found
    return None


def _init_error_text(reasons: Sequence[str]) -> str:
    return "; ".join(reasons) or "resource init failed"


def _package(type_: str) -> str:
    return type_.split(":", 1)[0]


def _workers(parallel: bool | int, items: int) -> int:
    if isinstance(parallel, bool):
        return min(16, items) if parallel else 1
    return max(1, min(parallel, items))


class _StepFailed(Exception):
    def __init__(self, method: str, init: provider_pb2.ErrorResourceInitFailed | None = None) -> None:
        super().__init__(method)
        self.init = init


class _PartialFailure(_StepFailed):
    """A Create/Update that failed after making the resource: :attr:`state` is what the engine records."""

    def __init__(self, method: str, state: ResourceState) -> None:
        super().__init__(method)
        self.state = state


class _Interrupted(Exception):
    pass


@dataclass
class _Conn:
    stub: Any
    flags: ConfigureFlags


# --------------------------------------------------------------------------------------------------
# The engine
# --------------------------------------------------------------------------------------------------


class Engine:
    """Drives a provider server like the Pulumi engine; a context manager.

    ``config`` is the stack config, ``"namespace:key" -> string`` (a :class:`Secret` marks a secret value; the
    dynamic server gets every value in plaintext, as the engine sends them to a provider that does not accept
    secrets).  ``plugin`` chooses the server (see the module doc).  With ``process_per_operation`` (the default)
    each of preview/up/refresh/destroy/get/import_ starts a fresh server, as each ``pulumi`` command does;
    otherwise one server lives until :meth:`stop` (a server that died is restarted by the next operation). A
    provider that keeps what one command has seen starts afresh at each command's Configure in the native door; the
    dynamic server never reconfigures a provider it has cached, so there one server is one command's: call
    :meth:`restart` between commands that must not share it.
    """

    def __init__(
        self,
        *,
        cwd: Path | str | None = None,
        config: Mapping[str, str | Secret] | None = None,
        env: Mapping[str, str] | None = None,
        pythonpath: Sequence[Path | str] = (),
        stack: Stack | None = None,
        project: str = "project",
        stack_name: str = "stack",
        state_path: Path | str | None = None,
        process_per_operation: bool = True,
        timeout: float = 120.0,
        plugin: NativePlugin | InProcessPlugin | None = None,
        legacy_import: bool = False,
        engine_address: str | None = None,
    ) -> None:
        self.cwd = Path(cwd) if cwd is not None else Path.cwd()
        self._config = dict(config or {})
        self._env = dict(env or {})
        self._pythonpath = list(pythonpath)
        self.stack = stack if stack is not None else Stack(project, stack_name, state_path)
        self.process_per_operation = process_per_operation
        self.timeout = timeout
        self.plugin = plugin
        self.legacy_import = legacy_import
        self.engine_address = engine_address
        """Given, every provider this engine starts gets this engine address (else a fresh one of its own, and the
        dynamic server none): two Engines given one address and ``process_per_operation=False`` play one command
        whose resources are served by two providers, as the CLI gives every plugin of a command its one address."""
        self.server: PluginProcess | InProcessServer | None = None
        self._servers: list[PluginProcess | InProcessServer] = []
        self._fake: FakeEngine | None = None
        self._fakes: list[FakeEngine] = []
        self.calls: list[tuple[str, str]] = []
        """Every gRPC call made: ``(method, resource name)`` in order (``""`` for start-up calls and Cancel)."""
        self._calls_lock = threading.Lock()
        self.start_seconds: list[float] = []
        self.provider_flags: ConfigureFlags | None = None
        """The flags of the last ``ConfigureResponse``."""
        self.on_rpc: Callable[[str, str], None] | None = None
        """Called as ``on_rpc(method, resource name)`` on a helper thread right after each resource call is sent,
        while it is in flight (see :meth:`kill_when`)."""
        self._in_flight: dict[int, PendingOperation] = {}
        self._in_flight_lock = threading.Lock()
        self._next_token = 0
        self._interrupt = threading.Event()
        self._cancelled = threading.Event()
        self._replace_targets: frozenset[str] = frozenset()

    def __repr__(self) -> str:  # never show config values
        return f"Engine(cwd={str(self.cwd)!r}, config_keys={sorted(self._config)!r})"

    # -- process management ------------------------------------------------------------------------

    def _launch(self) -> PluginProcess | InProcessServer:
        plugin = self.plugin
        if plugin is None:
            return ProviderServer(
                self.cwd, self._env, self._pythonpath, start_timeout=self.timeout, engine_address=self.engine_address
            )
        address = self.engine_address
        if address is None:
            fake = FakeEngine().start()
            self._fake = fake
            self._fakes.append(fake)
            address = fake.address
        if isinstance(plugin, NativePlugin):
            return PluginProcess(
                plugin.argv,
                engine_address=address,
                cwd=self.cwd,
                env=self._env,
                pythonpath=self._pythonpath,
                start_timeout=self.timeout,
            )
        from pulumi.provider.experimental.provider import Provider

        provider = plugin.provider if isinstance(plugin.provider, Provider) else plugin.provider()
        return InProcessServer(
            provider,
            servicer=plugin.servicer,
            engine_address=address,
            version=plugin.version,
            start_timeout=self.timeout,
        )

    def start(self) -> PluginProcess | InProcessServer:
        """Start a server (if none runs) and configure it."""
        if self.server is not None and self.server.running:
            return self.server
        self._close_server(None)
        server = self._launch()
        try:
            server.start()
        except BaseException:
            self._close_server(None)
            raise
        self.server = server
        self._servers.append(server)
        if server.start_seconds is not None:
            self.start_seconds.append(server.start_seconds)
        self._record("GetPluginInfo", "")
        server.stub.GetPluginInfo(empty_pb2.Empty(), timeout=self.timeout)
        self._configure(server)
        return server

    def _configure(self, server: ProviderHandle) -> None:
        if isinstance(self.plugin, (NativePlugin, InProcessPlugin)):
            self._configure_native(server.stub, self.plugin.package)
        else:
            self._configure_dynamic(server.stub)

    def _configure_dynamic(self, stub: Any) -> None:
        config = {k: str(plain(v)) for k, v in self._config.items()}
        self._record("Configure", "")
        resp = stub.Configure(
            provider_pb2.ConfigureRequest(
                variables=config,
                args=to_struct(config),
                acceptSecrets=True,
                acceptResources=True,
                sends_old_inputs=True,
                sends_old_inputs_to_delete=True,
            ),
            timeout=self.timeout,
        )
        self.provider_flags = _flags(resp)

    def _configure_native(self, stub: Any, package: str) -> None:
        """``CheckConfig`` then ``Configure``, shaped as provider_plugin.go shapes them for a default provider."""
        prefix = f"{package}:"
        news = {k[len(prefix) :]: v for k, v in self._config.items() if k.startswith(prefix)}
        provider_type = f"pulumi:providers:{package}"
        urn = self.stack.urn(provider_type, "default")
        self._record("CheckConfig", "")
        try:
            checked_resp = stub.CheckConfig(
                provider_pb2.CheckRequest(
                    urn=urn, name="default", type=provider_type, olds=to_struct({}), news=to_struct(news)
                ),
                timeout=self.timeout,
            )
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.UNIMPLEMENTED:
                raise EngineError(f"CheckConfig failed: {_rpc_error(exc)}") from None
            checked: dict[str, Any] = news
        else:
            if checked_resp.failures:
                lines = [f"{f.property}: {f.reason}" for f in checked_resp.failures]
                raise EngineError(f"provider configuration for {package} is invalid:\n" + "\n".join(lines))
            checked = (
                annotate_secrets(from_struct(checked_resp.inputs), news) if checked_resp.HasField("inputs") else news
            )
        variables = {}
        for key, value in checked.items():
            if key == "version":
                continue
            text = plain(value)
            variables[f"{package}:config:{key}"] = text if isinstance(text, str) else json.dumps(text)
        self._record("Configure", "")
        resp = stub.Configure(
            provider_pb2.ConfigureRequest(
                variables=variables,
                args=to_struct(checked, keep_secrets=True),
                acceptSecrets=True,
                acceptResources=True,
                sends_old_inputs=True,
                sends_old_inputs_to_delete=True,
                urn=urn,
                name="default",
                type=provider_type,
            ),
            timeout=self.timeout,
        )
        self.provider_flags = _flags(resp)

    def _close_server(self, plan: Plan | None) -> None:
        server, self.server = self.server, None
        if server is not None:
            server.stop()
            if plan is not None and server.exited_prematurely:
                plan.messages.append(
                    f"error: Detected that {server.label} exited prematurely. This is *always* a bug in the "
                    "provider. Please report the issue to the provider author as appropriate."
                )
        fake, self._fake = self._fake, None
        if fake is not None:
            fake.stop()

    def stop(self) -> None:
        self._close_server(None)

    def restart(self) -> PluginProcess | InProcessServer:
        self.stop()
        return self.start()

    def __enter__(self) -> Engine:
        if not self.process_per_operation:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @contextlib.contextmanager
    def _operation(self, plan: Plan | None = None) -> Iterator[_Conn]:
        self._interrupt.clear()
        self._cancelled.clear()
        if self.process_per_operation:
            server = self.restart()
        elif self.server is not None and self.server.running:
            # One server kept across commands (for speed): each command still begins with Configure, as a new
            # provider process would, so what a provider keeps per command starts afresh.
            server = self.server
            self._configure(server)
        else:
            server = self.start()
        assert self.provider_flags is not None
        try:
            yield _Conn(server.stub, self.provider_flags)
        except _Interrupted:
            raise self._abandon() from None
        finally:
            if self.process_per_operation or not server.running:
                self._close_server(plan)
            self.stack.save()

    def _abandon(self) -> EngineInterrupted:
        """The "CLI" died: what was in flight stays pending in the checkpoint, with the earlier pending creates."""
        with self._in_flight_lock:
            in_flight = list(self._in_flight.values())
            self._in_flight.clear()
        kept = [op for op in self.stack.pending_operations if op.type == "creating"]
        self.stack.pending_operations = kept + in_flight
        if self.server is not None:
            self.server.kill()
        return EngineInterrupted(f"interrupted with {len(in_flight)} operation(s) in flight", in_flight)

    @property
    def stderr(self) -> str:
        """stderr of every server process started so far (the dynamic server's ``pulumi.log`` output lands here)."""
        return "".join(s.stderr for s in self._servers)

    @property
    def stdout(self) -> str:
        return "".join(s.stdout for s in self._servers)

    @property
    def logs(self) -> list[LogEntry]:
        """Every ``Log`` call native plugins made to the fake engine, in order, across servers."""
        return [entry for fake in self._fakes for entry in fake.entries]

    # -- control from another thread ----------------------------------------------------------------

    def cancel(self) -> None:
        """Send ``Cancel`` to the running provider and schedule no further steps (as Ctrl-C does)."""
        self._cancelled.set()
        server = self.server
        if server is not None and server.stub is not None:
            self._record("Cancel", "")
            server.stub.Cancel(empty_pb2.Empty(), timeout=self.timeout)

    def kill_provider(self) -> None:
        """Kill the provider server (SIGKILL a process; stop an in-process server at once)."""
        server = self.server
        if server is not None:
            server.kill()

    def interrupt(self) -> None:
        """Kill the "CLI": the running operation stops waiting, keeps its calls in flight as pending operations and
        raises :class:`EngineInterrupted`."""
        self._interrupt.set()

    def kill_when(
        self,
        method: str,
        name: str,
        *,
        ready: Callable[[], bool] | None = None,
        interrupt: bool = False,
    ) -> None:
        """Arm :attr:`on_rpc` once: when ``method`` for resource ``name`` is in flight, wait for ``ready()`` (e.g.
        "the provider has started creating"), then :meth:`kill_provider` (or :meth:`interrupt`)."""
        fired = threading.Event()

        def hook(m: str, n: str) -> None:
            if m != method or n != name or fired.is_set():
                return
            fired.set()
            deadline = time.monotonic() + self.timeout
            while ready is not None and not ready() and time.monotonic() < deadline:
                time.sleep(0.01)
            if interrupt:
                self.interrupt()
            else:
                self.kill_provider()

        self.on_rpc = hook

    # -- low-level calls ----------------------------------------------------------------------------

    def _record(self, method: str, name: str, step: Step | None = None) -> None:
        with self._calls_lock:
            self.calls.append((method, name))
        if step is not None:
            step.calls.append(method)

    def _call(
        self, conn: _Conn, method: str, request: Any, step: Step, *, pending: PendingOperation | None = None
    ) -> Any:
        if self._interrupt.is_set():
            raise _Interrupted
        self._record(method, step.name, step)
        token = self._begin(pending)
        future = getattr(conn.stub, method).future(request, timeout=self.timeout)
        hook = self.on_rpc
        if hook is not None:
            threading.Thread(target=hook, args=(method, step.name), daemon=True).start()
        try:
            while True:
                try:
                    response = future.result(timeout=0.05)
                except grpc.FutureTimeoutError:
                    if self._interrupt.is_set():
                        future.cancel()
                        raise _Interrupted from None
                    continue
                self._end(token)
                return response
        except grpc.RpcError as exc:
            self._end(token)
            step.error = _rpc_error(exc)
            raise _StepFailed(method, _init_failure(exc)) from exc

    def _begin(self, pending: PendingOperation | None) -> int | None:
        if pending is None:
            return None
        with self._in_flight_lock:
            self._next_token += 1
            self._in_flight[self._next_token] = pending
            return self._next_token

    def _end(self, token: int | None) -> None:
        if token is not None:
            with self._in_flight_lock:
                self._in_flight.pop(token, None)

    @staticmethod
    def _inputs(res: ResourceState) -> Any:
        return mark_secrets(res.inputs, res.secret_inputs)

    @staticmethod
    def _outputs(res: ResourceState) -> Any:
        return mark_secrets(res.outputs, res.secret_outputs)

    @staticmethod
    def _replied(conn: _Conn, props: Any, news: Mapping[str, Any]) -> dict[str, Any]:
        """A provider's outputs as the engine keeps them: secrets re-marked as provider_plugin.go and
        step_executor.go re-mark them."""
        outs = from_struct(props)
        if not conn.flags.accept_secrets:
            outs = annotate_secrets(outs, news)
        return mark_leaked_inputs(outs, news)

    @staticmethod
    def _show(step: Step, inputs: Any, outputs: Any) -> None:
        step.inputs, step.outputs, step.secret_paths = plain(inputs), plain(outputs), secret_paths(outputs)

    @staticmethod
    def _state(
        step: Step, id_: str, inputs: Any, outputs: Any, timeouts: Mapping[str, float], **extra: Any
    ) -> ResourceState:
        return ResourceState(
            step.urn,
            step.name,
            step.type,
            id_,
            plain(inputs),
            plain(outputs),
            secret_inputs=secret_paths(inputs),
            secret_outputs=secret_paths(outputs),
            custom_timeouts=dict(timeouts),
            **extra,
        )

    def _change_request(self, conn: _Conn, step: Step, old: ResourceState, news: Mapping[str, Any]) -> dict[str, Any]:
        """The fields Diff and Update requests share: the resource, its old outputs and inputs, and the news."""
        keep = conn.flags.accept_secrets
        return {
            "id": old.id,
            "urn": step.urn,
            "name": step.name,
            "type": step.type,
            "olds": to_struct(self._outputs(old), keep_secrets=keep),
            "news": to_struct(news, keep_secrets=keep),
            "old_inputs": to_struct(self._inputs(old), keep_secrets=keep),
        }

    def _check(
        self, conn: _Conn, step: Step, olds: Mapping[str, Any], news: Mapping[str, Any], *, strict: bool = True
    ) -> dict[str, Any]:
        """Checked inputs (secrets wrapped); failures fail the step, or with ``strict=False`` only warn."""
        keep = conn.flags.accept_secrets
        resp: provider_pb2.CheckResponse = self._call(
            conn,
            "Check",
            provider_pb2.CheckRequest(
                urn=step.urn,
                name=step.name,
                type=step.type,
                olds=to_struct(olds, keep_secrets=keep),
                news=to_struct(news, keep_secrets=keep),
            ),
            step,
        )
        failures = [(f.property, f.reason) for f in resp.failures]
        checked = from_struct(resp.inputs)
        if not keep:
            checked = annotate_secrets(checked, news)
        step.inputs = plain(checked)
        if not strict:
            step.warnings.extend(f"{prop}: {reason}" for prop, reason in failures)
            return checked
        step.failures = failures
        if failures:
            raise _StepFailed("Check")
        return checked

    def _diff(self, conn: _Conn, step: Step, old: ResourceState, news: Mapping[str, Any]) -> tuple[bool, bool, bool]:
        """Returns ``(has_changes, is_replacement, provider_said_delete_before_replace)``; fills the step's diff."""
        resp: provider_pb2.DiffResponse = self._call(
            conn, "Diff", provider_pb2.DiffRequest(**self._change_request(conn, step, old, news)), step
        )
        kinds = _key_diff(old.inputs, plain(news))
        step.replaces = list(resp.replaces)
        detailed = (
            {path: _DIFF_KIND.get(d.kind, "UPDATE") for path, d in resp.detailedDiff.items()}
            if resp.hasDetailedDiff
            else {}
        )
        if resp.changes == _DIFF_NONE:
            changed = False
        elif resp.changes == _DIFF_SOME:
            changed = True
        else:  # DIFF_UNKNOWN (provider returned changes=None): the engine diffs old inputs vs news.
            changed = bool(kinds)
        if detailed:  # the CLI shows the keys the provider's detailed diff names, not its own comparison
            kinds = {}
            for path, kind in sorted(detailed.items()):
                top, base = path.split(".")[0].split("[")[0], kind.removesuffix("_REPLACE")
                kinds[top] = "~" if top in kinds or "." in path else {"ADD": "+", "DELETE": "-"}.get(base, "~")
        if changed:
            step.diff_kinds = kinds
            step.diffs = list(kinds)
            step.detailed_diff = detailed
        replace = changed and (bool(step.replaces) or any(k.endswith("_REPLACE") for k in detailed.values()))
        return changed, replace, bool(resp.deleteBeforeReplace)

    def _create_and_add(self, conn: _Conn, step: Step, news: Mapping[str, Any], timeouts: Mapping[str, float]) -> None:
        try:
            self.stack.add(self._create(conn, step, news, timeouts))
        except _PartialFailure as partial:
            # a create that failed after the resource existed still records it, with its init errors
            self.stack.add(partial.state)
            raise

    def _create(
        self, conn: _Conn, step: Step, news: Mapping[str, Any], timeouts: Mapping[str, float], *, preview: bool = False
    ) -> ResourceState:
        request = provider_pb2.CreateRequest(
            urn=step.urn,
            name=step.name,
            type=step.type,
            properties=to_struct(news, keep_secrets=conn.flags.accept_secrets),
            timeout=timeouts.get("create", 0.0),
            preview=preview,
        )
        pending = None if preview else PendingOperation("creating", step.urn, step.name, step.type, "", plain(news))
        try:
            resp: provider_pb2.CreateResponse = self._call(conn, "Create", request, step, pending=pending)
        except _StepFailed as failed:
            if failed.init is None or preview or not failed.init.id:
                raise
            outputs = self._replied(conn, failed.init.properties, news)
            state = self._state(step, failed.init.id, news, outputs, timeouts, init_errors=list(failed.init.reasons))
            self._show(step, news, outputs)
            step.id, step.init_errors = state.id, state.init_errors
            step.error = _init_error_text(state.init_errors)
            raise _PartialFailure("Create", state) from failed
        outputs = self._replied(conn, resp.properties, news)
        self._show(step, news, outputs)
        if not resp.id and not preview:
            step.error = "provider returned an empty ID from Create"
            raise _StepFailed("Create")
        step.id = resp.id or None
        return self._state(step, resp.id, news, outputs, timeouts)

    def _update(
        self,
        conn: _Conn,
        step: Step,
        old: ResourceState,
        news: Mapping[str, Any],
        timeouts: Mapping[str, float],
        *,
        preview: bool,
    ) -> None:
        request = provider_pb2.UpdateRequest(
            **self._change_request(conn, step, old, news), timeout=timeouts.get("update", 0.0), preview=preview
        )
        pending = None if preview else PendingOperation("updating", old.urn, old.name, old.type, old.id, plain(news))
        try:
            resp: provider_pb2.UpdateResponse = self._call(conn, "Update", request, step, pending=pending)
        except _StepFailed as failed:
            if failed.init is None or preview:
                raise
            # The engine keeps the old inputs: the resource never took the new ones (pkg/engine/update.go).
            outputs = self._replied(conn, failed.init.properties, news)
            reasons = list(failed.init.reasons)
            state = self._state(
                step, old.id, self._inputs(old), outputs, timeouts, init_errors=reasons, import_id=old.import_id
            )
            self.stack.replace_entry(old, state)
            self._show(step, self._inputs(old), outputs)
            step.init_errors, step.error = reasons, _init_error_text(reasons)
            raise _PartialFailure("Update", state) from failed
        outputs = self._replied(conn, resp.properties, news)
        self._show(step, news, outputs)
        if not preview:
            self.stack.replace_entry(old, self._state(step, old.id, news, outputs, timeouts, import_id=old.import_id))

    def _delete(self, conn: _Conn, step: Step, res: ResourceState) -> None:
        keep = conn.flags.accept_secrets
        self._call(
            conn,
            "Delete",
            provider_pb2.DeleteRequest(
                id=res.id,
                urn=res.urn,
                name=res.name,
                type=res.type,
                properties=to_struct(self._outputs(res), keep_secrets=keep),
                old_inputs=to_struct(self._inputs(res), keep_secrets=keep),
                timeout=res.custom_timeouts.get("delete", 0.0),
            ),
            step,
            pending=PendingOperation("deleting", res.urn, res.name, res.type, res.id, res.inputs),
        )
        self.stack.remove(res)

    def _read_for_import(self, conn: _Conn, step: Step, import_id: str, timeouts: Mapping[str, float]) -> ResourceState:
        """``ImportStep.Apply``'s Read: only the id; the reply must carry both properties and inputs."""
        request = provider_pb2.ReadRequest(id=import_id, urn=step.urn, name=step.name, type=step.type)
        pending = PendingOperation("importing", step.urn, step.name, step.type, import_id)
        init_errors: list[str] = []
        try:
            resp: provider_pb2.ReadResponse = self._call(conn, "Read", request, step, pending=pending)
        except _StepFailed as failed:
            if failed.init is None:
                raise
            step.error = None
            init_errors = list(failed.init.reasons)
            resp = provider_pb2.ReadResponse(id=failed.init.id)
            if failed.init.HasField("properties"):
                resp.properties.CopyFrom(failed.init.properties)
            if failed.init.HasField("inputs"):
                resp.inputs.CopyFrom(failed.init.inputs)
        if not resp.HasField("properties"):
            step.error = f"resource '{import_id}' does not exist"
            raise _StepFailed("Read")
        if not resp.HasField("inputs"):
            step.error = (
                f"provider does not support importing resources; please try updating the '{_package(step.type)}' plugin"
            )
            raise _StepFailed("Read")
        inputs, outputs = from_struct(resp.inputs), from_struct(resp.properties)
        state = self._state(
            step, resp.id or import_id, inputs, outputs, timeouts, init_errors=init_errors, import_id=import_id
        )
        self._show(step, inputs, outputs)
        step.id, step.init_errors = state.id, init_errors
        return state

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
        props: dict[str, Any] = _normalize(d.props)
        if self.plugin is not None:
            if d.provider is not None:
                raise ValueError(f"{d.name}: a native resource has no __provider; leave Desired.provider None")
            return props
        if PROVIDER_KEY in d.props:
            raise ValueError("A dynamic resource must not define the __provider key")
        if d.provider is None:
            raise ValueError(f"{d.name}: a dynamic resource needs its ResourceProvider")
        props[PROVIDER_KEY] = self.serialize(d.provider)
        return props

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

    @staticmethod
    def _run(fn: Callable[[T], R], items: Sequence[T], parallel: bool | int) -> list[R]:
        workers = _workers(parallel, len(items))
        if workers > 1:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                return list(pool.map(fn, items))
        return [fn(item) for item in items]

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
        """URNs the program still claims: its own, and the alias through which the engine found its entry. An alias
        counts only when the resource's own URN has no entry: the engine looks the URN up first and records an alias
        only when it matched through it (step_generator.go getOldResource), so an entry under an alias of a resource
        found by its own URN is deleted like any other left-over."""
        wanted: set[str] = set()
        for d in desired:
            own = self.stack.urn(d.type_, d.name)
            wanted.add(own)
            if self.stack.find(own) is None:
                wanted.update(next(([u] for u in self._alias_urns(d) if self.stack.find(u) is not None), []))
        return wanted

    def _pending_warning(self, plan: Plan) -> None:
        ops = self.stack.pending_operations
        if ops:
            listed = "".join(f"  * {op.urn}, interrupted while {op.type}\n" for op in ops)
            plan.messages.append(
                "warning: Attempting to deploy or update resources "
                f"with {len(ops)} pending operations from previous deployment.\n{listed}{_PENDING_RESOLUTION}"
            )

    def _settle_pending(self) -> None:
        """After a completed operation the checkpoint keeps only the earlier pending creates."""
        self.stack.pending_operations = [op for op in self.stack.pending_operations if op.type == "creating"]

    # -- one registration ---------------------------------------------------------------------------

    def _register(
        self, conn: _Conn, d: Desired, pending: list[tuple[Step, ResourceState]], *, dry_run: bool
    ) -> list[Step]:
        """The steps of one resource registration: an import (if any), then create/same/update/replace."""
        old = self._old(d)
        step = self._new_step(d, "create" if old is None else "check")
        steps = [step]
        goal = self._goal(d)
        timeouts = d.custom_timeouts.seconds() if d.custom_timeouts is not None else {}
        imported = False
        try:
            if old is not None and old.urn != step.urn and not dry_run:
                # matched by an alias: the entry takes the new URN
                renamed = dataclasses.replace(old, urn=step.urn, name=step.name, type=step.type)
                self.stack.replace_entry(old, renamed)
                old = renamed
            if d.import_id and (old is None or (old.import_id or old.id) != d.import_id):
                step.op = "import"
                state = self._read_for_import(conn, step, d.import_id, timeouts)
                if self.legacy_import:
                    self._import_strictly(conn, step, state, goal, old, pending, dry_run=dry_run)
                    return steps
                if not dry_run:
                    self._adopt(state, replaced=old, owner=step, pending=pending)
                old, imported = state, True
                step = self._new_step(d, "check")
                steps.append(step)
            self._converge(conn, d, goal, timeouts, old, step, pending, dry_run=dry_run, elide_same=imported)
        except _StepFailed:
            pass
        if imported and step.op == "same":
            steps.pop()  # the engine elides the Same step after an import; its calls stay visible
            steps[0].calls.extend(step.calls)
        return steps

    def _adopt(
        self,
        state: ResourceState,
        *,
        replaced: ResourceState | None,
        owner: Step,
        pending: list[tuple[Step, ResourceState]],
    ) -> None:
        with self.stack._lock:
            if replaced is not None:  # an import of another id replaces the entry (ImportReplacementStep)
                replaced.pending_delete = True
                pending.append((owner, replaced))
            self.stack.add(state)

    def _import_strictly(
        self,
        conn: _Conn,
        step: Step,
        state: ResourceState,
        goal: Mapping[str, Any],
        replaced: ResourceState | None,
        pending: list[tuple[Step, ResourceState]],
        *,
        dry_run: bool,
    ) -> None:
        """The ``import_`` option before pulumi 3.174: Check and Diff inside the import step, no change allowed."""
        checked = self._check(conn, step, self._inputs(state), goal)
        changed, _, _ = self._diff(conn, step, state, checked)
        if changed:
            keys = step.diffs or sorted({re.split(r"[.\[]", p, maxsplit=1)[0] for p in step.detailed_diff})
            message = f"inputs to import do not match the existing resource: [{' '.join(keys)}]"
            if dry_run:
                step.warnings.append(message + "; importing this resource will fail")
                return
            step.error = message
            raise _StepFailed("Diff")
        if not dry_run:
            adopted = dataclasses.replace(
                state, inputs=plain(checked), secret_inputs=secret_paths(checked), custom_timeouts=state.custom_timeouts
            )
            self._adopt(adopted, replaced=replaced, owner=step, pending=pending)

    def _converge(
        self,
        conn: _Conn,
        d: Desired,
        goal: Mapping[str, Any],
        timeouts: Mapping[str, float],
        old: ResourceState | None,
        step: Step,
        pending: list[tuple[Step, ResourceState]],
        *,
        dry_run: bool,
        elide_same: bool = False,
    ) -> None:
        news = self._check(conn, step, {} if old is None else self._inputs(old), goal)
        if old is None:
            step.op = "create"
            if dry_run:
                if conn.flags.supports_preview:
                    self._create(conn, step, news, timeouts, preview=True)
                return
            self._create_and_add(conn, step, news, timeouts)
            return
        step.id = old.id
        if d.name in self._replace_targets:
            # A targeted replace asks the provider nothing: the diff "blames the id", and only the resource option
            # says whether to delete first (step_generator.go `diff`, isTargetedReplace).
            self._record("Diff(targeted)", step.name, step)
            step.replaces, changed, replace, dbr = ["id"], True, True, False
        else:
            changed, replace, dbr = self._diff(conn, step, old, news)
        if not changed and not old.init_errors:
            step.op = "same"
            if not dry_run:
                step.outputs, step.secret_paths = old.outputs, list(old.secret_outputs)
                if not elide_same:
                    same = self._state(step, old.id, news, self._outputs(old), timeouts, import_id=old.import_id)
                    self.stack.replace_entry(old, same)
            return
        if not replace:
            # also the empty update that retries a resource recorded with init errors
            step.op = "update"
            if dry_run and not conn.flags.supports_preview:
                return
            self._update(conn, step, old, news, timeouts, preview=dry_run)
            return
        step.op = "replace"
        step.delete_before_replace = dbr or d.delete_before_replace
        if d.import_id:
            # step_generator.go: a resource whose program still says `import_` may not be replaced.
            message = (
                "previously-imported resources that still specify an ID may not be replaced; please remove the "
                "`import` declaration from your program;\n" + "\n".join(step.replaces)
            )
            if dry_run:
                step.warnings.append(message)
            else:
                step.error = message
                raise _StepFailed("Diff")
        news = self._check(conn, step, {}, goal)
        if dry_run:
            if conn.flags.supports_preview:
                self._create(conn, step, news, timeouts, preview=True)
            return
        if step.delete_before_replace:
            self._delete(conn, step, old)
            self._create_and_add(conn, step, news, timeouts)
            return
        try:
            new = self._create(conn, step, news, timeouts)
        except _PartialFailure as partial:
            with self.stack._lock:
                old.pending_delete = True  # CreateStep.Apply marks the old one before returning the error
                self.stack.add(partial.state)
            raise
        with self.stack._lock:
            old.pending_delete = True
            self.stack.add(new)
        pending.append((step, old))

    # -- operations ---------------------------------------------------------------------------------

    def preview(self, desired: Sequence[Desired], *, parallel: bool | int = False, replace: Sequence[str] = ()) -> Plan:
        """Check and Diff (plus Create/Update with ``preview=True`` for a provider that supports preview, and the
        Read of an import); never a real Create/Update/Delete.  Reports every resource."""
        self._check_unique(desired)
        plan = Plan("preview")
        self._replace_targets = frozenset(replace)
        with self._operation(plan) as conn:

            def one(d: Desired) -> list[Step]:
                return self._register(conn, d, [], dry_run=True)

            plan.steps = [s for steps in self._run(one, desired, parallel) for s in steps]
            wanted = self._wanted(desired)
            for res in reversed(self.stack.live()):
                if res.urn not in wanted:
                    plan.steps.append(Step(res.urn, res.name, res.type, "delete", id=res.id))
        return plan

    def up(
        self,
        desired: Sequence[Desired],
        *,
        parallel: bool | int = False,
        raise_on_error: bool = False,
        continue_on_error: bool = False,
        replace: Sequence[str] = (),
    ) -> Plan:
        """Bring the stack to ``desired``.  ``replace`` names resources to replace whatever their diff says
        (``pulumi up --replace <urn>``).  Stops scheduling work after the first error (like the engine)
        unless ``continue_on_error``; with ``parallel`` (True: up to 16, or a number of workers, e.g.
        :data:`DEFAULT_PARALLEL`) the resources' step chains run concurrently."""
        self._check_unique(desired)
        for d in desired:
            if contains_unknown(d.props):
                raise ValueError(f"{d.name}: unknown values are only allowed in preview")
        plan = Plan("up")
        self._replace_targets = frozenset(replace)
        self._pending_warning(plan)
        pending: list[tuple[Step, ResourceState]] = []  # create-before-delete: old ones, deleted at the end
        failed = threading.Event()
        with self._operation(plan) as conn:
            # Resources left pending-delete by an earlier run go first, before the program is iterated
            # (deployment_executor.go retirePendingDeletes): no Check of this command has run yet.
            for res in [r for r in self.stack.resources if r.pending_delete]:
                step = Step(res.urn, res.name, res.type, "delete", id=res.id)
                plan.steps.append(step)
                try:
                    self._delete(conn, step, res)
                except _StepFailed:  # the deployment ends there, before any registration
                    self._settle_pending()
                    if raise_on_error:
                        plan.raise_for_errors()
                    return plan

            def one(d: Desired) -> list[Step]:
                if (failed.is_set() and not continue_on_error) or self._cancelled.is_set():
                    old = self._old(d)
                    step = self._new_step(d, "create" if old is None else "check")
                    step.op = "skip"
                    return [step]
                steps = self._register(conn, d, pending, dry_run=False)
                if not all(s.ok for s in steps):
                    failed.set()
                return steps

            plan.steps.extend(s for steps in self._run(one, desired, parallel) for s in steps)

            if (not failed.is_set() or continue_on_error) and not self._cancelled.is_set():
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
                        self._delete(conn, step, res)
                    except _StepFailed:
                        if not continue_on_error:
                            if owner is None:
                                plan.steps.append(step)
                            break
                    if owner is None:
                        plan.steps.append(step)
            self._settle_pending()
        if raise_on_error:
            plan.raise_for_errors()
        return plan

    def refresh(
        self, *, parallel: bool | int = False, raise_on_error: bool = False, clear_pending_creates: bool = False
    ) -> Plan:
        """Read every resource; drop the ones whose Read returns an empty id.  ``clear_pending_creates`` is
        ``pulumi refresh --clear-pending-creates``."""
        plan = Plan("refresh")
        if clear_pending_creates:
            self.stack.pending_operations = [op for op in self.stack.pending_operations if op.type != "creating"]
        with self._operation(plan) as conn:

            def one(res: ResourceState) -> Step:
                step = Step(res.urn, res.name, res.type, "same", id=res.id)
                init_errors: list[str] = []
                try:
                    resp: provider_pb2.ReadResponse = self._call(
                        conn,
                        "Read",
                        provider_pb2.ReadRequest(
                            id=res.id,
                            urn=res.urn,
                            name=res.name,
                            type=res.type,
                            properties=to_struct(self._outputs(res), keep_secrets=conn.flags.accept_secrets),
                            inputs=to_struct(self._inputs(res), keep_secrets=conn.flags.accept_secrets),
                        ),
                        step,
                    )
                except _StepFailed as failed:
                    if failed.init is None:
                        return step
                    # RefreshStep.Apply: an unhealthy resource is a warning, its init errors are kept
                    init_errors = list(failed.init.reasons)
                    step.error = None
                    step.warnings.append("Refreshed resource is in an unhealthy state:\n* " + "\n* ".join(init_errors))
                    resp = provider_pb2.ReadResponse(id=failed.init.id, properties=failed.init.properties)
                    if failed.init.HasField("inputs"):
                        resp.inputs.CopyFrom(failed.init.inputs)
                if not resp.id:
                    step.op = "refresh-delete"
                    self.stack.remove(res)
                    return step
                old_inputs, old_outputs = self._inputs(res), self._outputs(res)
                outputs = from_struct(resp.properties)
                inputs = from_struct(resp.inputs) if resp.HasField("inputs") else old_inputs
                if not conn.flags.accept_secrets:
                    inputs = annotate_secrets(inputs, old_inputs)
                    outputs = annotate_secrets(outputs, old_outputs)
                outputs = mark_leaked_inputs(outputs, inputs)
                kinds = _key_diff(res.outputs, plain(outputs))
                if kinds:
                    step.op = "refresh"
                    step.diff_kinds, step.diffs = kinds, list(kinds)
                self._show(step, inputs, outputs)
                step.id, step.init_errors = resp.id, init_errors
                self.stack.replace_entry(
                    res,
                    dataclasses.replace(
                        res,
                        id=resp.id,
                        inputs=plain(inputs),
                        outputs=plain(outputs),
                        secret_inputs=secret_paths(inputs),
                        secret_outputs=secret_paths(outputs),
                        init_errors=init_errors,
                    ),
                )
                return step

            plan.steps = self._run(one, list(self.stack.resources), parallel)
            self._settle_pending()
        if raise_on_error:
            plan.raise_for_errors()
        return plan

    def get(
        self,
        name: str,
        id: str,
        provider: ResourceProvider | None,
        *,
        type_: str = DEFAULT_TYPE,
        props: Mapping[str, Any] | None = None,
        raise_on_error: bool = False,
    ) -> Step:
        """``Resource.get(name, id)``: Read with the program's props (``{**props, __provider}`` for a dynamic
        resource) as both ``properties`` and ``inputs``, as today's engine sends a get.

        The stack is not changed (the engine keeps read resources as external, never deletes them).
        """
        step = Step(self.stack.urn(type_, name), name, type_, "read", id=id)
        inputs: dict[str, Any] = plain(dict(props or {}))
        if self.plugin is None:
            if provider is None:
                raise ValueError(f"{name}: a dynamic resource needs its ResourceProvider")
            inputs[PROVIDER_KEY] = self.serialize(provider)
        with self._operation() as conn:
            try:
                resp: provider_pb2.ReadResponse = self._call(
                    conn,
                    "Read",
                    provider_pb2.ReadRequest(
                        id=id,
                        urn=step.urn,
                        name=name,
                        type=type_,
                        properties=to_struct(inputs),
                        inputs=to_struct(inputs),
                    ),
                    step,
                )
                if not resp.id:
                    step.error = f"resource '{id}' does not exist"
                else:
                    step.id = resp.id
                    outputs = from_struct(resp.properties)
                    step.outputs, step.secret_paths = plain(outputs), secret_paths(outputs)
                    step.inputs = plain(from_struct(resp.inputs)) if resp.HasField("inputs") else {}
            except _StepFailed:
                pass
        if raise_on_error:
            Plan("refresh", [step]).raise_for_errors()
        return step

    def import_(self, desired: Desired, id: str | None = None, *, raise_on_error: bool = False) -> Plan:
        """``pulumi import TYPE NAME ID`` for ``desired``'s type and name (its props are not used, as the CLI has
        no program): Read the id, Check the read inputs against themselves (failures are warnings), store."""
        import_id = id or desired.import_id
        if not import_id:
            raise ValueError("import_ needs an id")
        plan = Plan("import")
        step = self._new_step(desired, "import")
        plan.steps.append(step)
        with self._operation(plan) as conn:
            old = self.stack.find(step.urn)
            if old is not None:
                if (old.import_id or old.id) == import_id:
                    step.op, step.id = "same", old.id  # "Nothing to do here, it already exists"
                else:
                    step.error = f"resource '{step.urn}' already exists"
            else:
                try:
                    state = self._read_for_import(conn, step, import_id, {})
                    warnings_before = len(step.warnings)
                    self._check(conn, step, self._inputs(state), self._inputs(state), strict=False)
                    if len(step.warnings) > warnings_before:
                        step.warnings.insert(
                            warnings_before,
                            "One or more imported inputs failed to validate. This is almost certainly a bug in the "
                            f"`{_package(step.type)}` provider. The import will still proceed, but you will need to "
                            "edit the generated code after copying it into your program.",
                        )
                    step.inputs = state.inputs  # the read inputs are stored, not the checked ones
                    # `pulumi import` never records an ImportID
                    self.stack.add(dataclasses.replace(state, import_id=""))
                except _StepFailed:
                    pass
            self._settle_pending()
        if raise_on_error:
            plan.raise_for_errors()
        return plan

    def destroy(self, *, raise_on_error: bool = False, continue_on_error: bool = False) -> Plan:
        """Delete every resource in reverse creation order; stops at the first error."""
        plan = Plan("destroy")
        self._pending_warning(plan)
        with self._operation(plan) as conn:
            for res in reversed(list(self.stack.resources)):
                step = Step(res.urn, res.name, res.type, "delete", id=res.id)
                plan.steps.append(step)
                try:
                    self._delete(conn, step, res)
                except _StepFailed:
                    if not continue_on_error:
                        break
            self._settle_pending()
        if raise_on_error:
            plan.raise_for_errors()
        return plan


def _flags(resp: provider_pb2.ConfigureResponse) -> ConfigureFlags:
    return ConfigureFlags(
        accept_secrets=resp.acceptSecrets,
        supports_preview=resp.supportsPreview,
        accept_resources=resp.acceptResources,
        accept_outputs=resp.acceptOutputs,
    )
