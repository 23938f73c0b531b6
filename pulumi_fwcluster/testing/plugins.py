"""Provider servers the harness can drive: a plugin process started as the CLI starts one, or an in-process server.

* :class:`PluginProcess`: ``argv + [engine address]`` as a subprocess; the first stdout line is the port, the rest
  of stdout and all of stderr are captured (the CLI does the same, sdk/go/common/resource/plugin/plugin.go).
* :class:`ProviderServer`: the dynamic-provider server ``python -u -m pulumi.dynamic`` (it takes no engine address).
* :class:`InProcessServer`: a ``pulumi.provider.experimental`` provider object on a ``grpc.aio`` server in this
  process.  ``grpc.aio`` binds process-wide state to the first event loop that uses it, so every in-process server
  runs on one long-lived loop in a daemon thread (:func:`shared_loop`); a loop per server hangs the second
  server's shutdown.

What :class:`~pulumi_fwcluster.testing.engine.Engine` starts is chosen with a spec: ``None`` (the dynamic server),
:class:`NativePlugin` or :class:`InProcessPlugin`.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol

import grpc
from pulumi.runtime.proto import provider_pb2_grpc

from .model import EngineError

if TYPE_CHECKING:
    from pulumi.provider.experimental.provider import Provider

__all__ = [
    "InProcessPlugin",
    "InProcessServer",
    "NativePlugin",
    "PluginProcess",
    "ProviderHandle",
    "ProviderServer",
    "shared_loop",
]


@dataclass(frozen=True)
class NativePlugin:
    """A native provider plugin started as the CLI starts it: ``argv`` plus the engine address as last argument.

    ``argv`` is e.g. ``[".venv/bin/pulumi-resource-fireworks"]`` or ``[sys.executable, "-m", "some.module"]``
    (a relative executable path resolves against the engine's ``cwd``).  ``package`` is the Pulumi package the
    plugin serves: it selects the stack config the engine sends (``<package>:<key>``) and names the provider."""

    argv: Sequence[str]
    package: str = "fireworks"


@dataclass(frozen=True)
class InProcessPlugin:
    """A ``pulumi.provider.experimental`` provider served in this process.

    ``provider`` is an instance (shared by every server the engine starts, so its memory survives a "restart") or a
    zero-argument factory (a fresh provider per server, like a fresh process).  ``servicer`` replaces the SDK's
    ``ProviderServicer`` (same constructor), e.g. :class:`pulumi_fwcluster.native.server.NativeServicer`."""

    provider: Provider | Callable[[], Provider]
    package: str = "fireworks"
    servicer: type[Any] | None = None
    version: str = "0.0.0"


class ProviderHandle(Protocol):
    """What the engine needs from a running provider server."""

    stub: Any
    port: int | None
    start_seconds: float | None
    label: str

    @property
    def running(self) -> bool: ...

    @property
    def exited_prematurely(self) -> bool: ...

    @property
    def stdout(self) -> str: ...

    @property
    def stderr(self) -> str: ...

    def start(self) -> ProviderHandle: ...

    def stop(self) -> None: ...

    def kill(self) -> None: ...


# --------------------------------------------------------------------------------------------------
# Subprocesses
# --------------------------------------------------------------------------------------------------


def _drain(stream: IO[bytes], sink: list[str], lock: threading.Lock) -> None:
    for raw in iter(stream.readline, b""):
        with lock:
            sink.append(raw.decode("utf-8", "replace"))
    stream.close()


class PluginProcess:
    """A provider plugin subprocess with a gRPC stub; a context manager.

    stdout's first line is the port; everything after it and all of stderr is captured and exposed as
    :attr:`stdout` / :attr:`stderr`.  ``env`` overrides the inherited environment (an empty value unsets a
    variable); ``pythonpath`` entries go in front of ``PYTHONPATH``.
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        engine_address: str | None = None,
        cwd: Path | str | None = None,
        env: Mapping[str, str] | None = None,
        pythonpath: Sequence[Path | str] = (),
        start_timeout: float = 30.0,
    ) -> None:
        self.argv = [str(a) for a in argv]
        self.engine_address = engine_address
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
        self._premature = False
        self._killed = False
        modular = "-m" in self.argv[:-1]
        self.label = self.argv[self.argv.index("-m") + 1] if modular else Path(self.argv[0]).name

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
        # `_killed` first: while kill() waits for the process, poll() from another thread answers None
        return self._proc is not None and not self._killed and self._proc.poll() is None

    @property
    def exited_prematurely(self) -> bool:
        """The process died on its own (or was killed) before :meth:`stop` shut it down."""
        return self._premature or self._killed or (self._proc is not None and self._proc.poll() is not None)

    def _command(self) -> list[str]:
        return [*self.argv, self.engine_address] if self.engine_address else list(self.argv)

    def start(self) -> PluginProcess:
        if self.running:
            return self
        began = time.monotonic()
        self._premature = self._killed = False
        proc = subprocess.Popen(
            self._command(),
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
            raise EngineError(f"{self.label} did not print its port; stderr:\n{self.stderr}")
        self.port = int(first[0].strip())
        out_thread = threading.Thread(target=_drain, args=(proc.stdout, self._out, self._lock), daemon=True)
        out_thread.start()
        self._threads = [err_thread, out_thread]
        self._channel = grpc.insecure_channel(f"127.0.0.1:{self.port}")
        grpc.channel_ready_future(self._channel).result(timeout=self.start_timeout)
        self.stub = provider_pb2_grpc.ResourceProviderStub(self._channel)
        self.start_seconds = time.monotonic() - began
        return self

    def kill(self) -> None:
        """SIGKILL the process, as a crash would end it; calls in flight fail with UNAVAILABLE."""
        if self._proc is not None and self._proc.poll() is None:
            self._killed = True
            self._proc.kill()
            self._proc.wait()

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
            else:
                self._premature = True
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

    def __enter__(self) -> PluginProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class ProviderServer(PluginProcess):
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
        engine_address: str | None = None,
    ) -> None:
        super().__init__(
            [sys.executable, "-u", "-m", "pulumi.dynamic"],
            engine_address=engine_address,
            cwd=cwd,
            env=env,
            pythonpath=pythonpath,
            start_timeout=start_timeout,
        )
        self.label = "pulumi.dynamic server"

    def start(self) -> ProviderServer:
        super().start()
        return self

    def __enter__(self) -> ProviderServer:
        return self.start()


# --------------------------------------------------------------------------------------------------
# In process
# --------------------------------------------------------------------------------------------------

_LOOP: asyncio.AbstractEventLoop | None = None
_LOOP_LOCK = threading.Lock()


def shared_loop() -> asyncio.AbstractEventLoop:
    """The one event loop (in a daemon thread) that every in-process ``grpc.aio`` server of this process uses."""
    global _LOOP
    with _LOOP_LOCK:
        if _LOOP is None:
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="grpc-aio-loop", daemon=True).start()
            _LOOP = loop
        return _LOOP


class InProcessServer:
    """A ``pulumi.provider.experimental`` provider on a ``grpc.aio`` server on :func:`shared_loop`.

    The server is set up by :func:`pulumi_fwcluster.native.server.start_server`, the same code the plugin's
    ``serve`` runs, with ``servicer`` (default: the SDK's ``ProviderServicer``)."""

    def __init__(
        self,
        provider: Provider,
        *,
        servicer: type[Any] | None = None,
        engine_address: str = "",
        version: str = "0.0.0",
        start_timeout: float = 30.0,
    ) -> None:
        self.provider = provider
        self.servicer = servicer
        self.engine_address = engine_address
        self.version = version
        self.start_timeout = start_timeout
        self._server: Any = None
        self._channel: Any = None
        self.stub: Any = None
        self.port: int | None = None
        self.start_seconds: float | None = None
        self._killed = False
        self.label = f"{type(provider).__name__} (in process)"
        self._proc: subprocess.Popen[bytes] | None = None  # no process of its own (callers probe `_proc`)

    @property
    def running(self) -> bool:
        return self._server is not None and not self._killed

    @property
    def exited_prematurely(self) -> bool:
        return self._killed

    @property
    def stdout(self) -> str:
        return ""

    @property
    def stderr(self) -> str:
        return ""

    def _run(self, coro: Any, timeout: float | None = None) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, shared_loop()).result(timeout)

    def start(self) -> InProcessServer:
        if self.running:
            return self
        from pulumi.provider.experimental.server import ProviderServicer

        from pulumi_fwcluster.native.server import start_server

        began = time.monotonic()
        self._killed = False
        self._server, self.port = self._run(
            start_server(
                self.provider,
                engine_address=self.engine_address,
                version=self.version,
                servicer=self.servicer or ProviderServicer,
            ),
            self.start_timeout,
        )
        self._channel = grpc.insecure_channel(f"127.0.0.1:{self.port}")
        grpc.channel_ready_future(self._channel).result(timeout=self.start_timeout)
        self.stub = provider_pb2_grpc.ResourceProviderStub(self._channel)
        self.start_seconds = time.monotonic() - began
        return self

    def kill(self) -> None:
        """Stop at once: calls in flight are cancelled, as if the plugin had died."""
        if self._server is not None and not self._killed:
            self._killed = True
            self._run(self._server.stop(None), self.start_timeout)

    def stop(self) -> None:
        if self._channel is not None:
            self._channel.close()
            self._channel = None
        self.stub = None
        server, self._server = self._server, None
        if server is not None and not self._killed:
            self._run(server.stop(1.0), self.start_timeout)

    def __enter__(self) -> InProcessServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
