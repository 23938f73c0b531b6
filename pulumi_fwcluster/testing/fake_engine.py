"""A tiny stand-in for the engine's own gRPC service (``pulumirpc.Engine``), so a native plugin logs somewhere real.

The CLI starts every plugin with the address of this service as its last argument.  A provider built on
``pulumi.provider.experimental`` calls nothing on it at start-up (``server.main`` only parses the address and
hands it to ``ProviderServicer``); ``pulumi.log`` sends ``Log`` once the plugin has pointed the SDK's settings at
the address, which :func:`pulumi_fwcluster.native.server.serve` does.  ``GetRootResource``/``SetRootResource`` are
answered for completeness (language hosts use them, providers do not).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Final

import grpc
from google.protobuf import empty_pb2  # type: ignore[import-untyped,unused-ignore]
from pulumi.runtime.proto import engine_pb2, engine_pb2_grpc

__all__ = ["FakeEngine", "LogEntry"]

_SEVERITY: Final[dict[int, str]] = {
    engine_pb2.DEBUG: "debug",
    engine_pb2.INFO: "info",
    engine_pb2.WARNING: "warning",
    engine_pb2.ERROR: "error",
}


@dataclass(frozen=True)
class LogEntry:
    """One ``Log`` call: ``severity`` is "debug", "info", "warning" or "error"; ``urn`` is "" when unattached."""

    severity: str
    message: str
    urn: str = ""
    stream_id: int = 0
    ephemeral: bool = False


class _Servicer(engine_pb2_grpc.EngineServicer):
    def __init__(self, owner: FakeEngine) -> None:
        self._owner = owner
        self._root = ""

    def Log(self, request: engine_pb2.LogRequest, context: Any) -> empty_pb2.Empty:
        entry = LogEntry(
            severity=_SEVERITY.get(request.severity, str(request.severity)),
            message=request.message,
            urn=request.urn,
            stream_id=request.streamId,
            ephemeral=request.ephemeral,
        )
        self._owner._add(entry)
        return empty_pb2.Empty()

    def GetRootResource(
        self, request: engine_pb2.GetRootResourceRequest, context: Any
    ) -> engine_pb2.GetRootResourceResponse:
        return engine_pb2.GetRootResourceResponse(urn=self._root)

    def SetRootResource(
        self, request: engine_pb2.SetRootResourceRequest, context: Any
    ) -> engine_pb2.SetRootResourceResponse:
        self._root = request.urn
        return engine_pb2.SetRootResourceResponse()

    def RequirePulumiVersion(
        self, request: engine_pb2.RequirePulumiVersionRequest, context: Any
    ) -> engine_pb2.RequirePulumiVersionResponse:
        return engine_pb2.RequirePulumiVersionResponse()


class FakeEngine:
    """The ``pulumirpc.Engine`` service on 127.0.0.1; a context manager.  :attr:`entries` holds every log entry."""

    def __init__(self) -> None:
        self._server: Any = None
        self._entries: list[LogEntry] = []
        self._lock = threading.Lock()
        self.port: int | None = None

    @property
    def address(self) -> str:
        if self.port is None:
            raise RuntimeError("the fake engine is not running")
        return f"127.0.0.1:{self.port}"

    def start(self) -> FakeEngine:
        if self._server is None:
            server = grpc.server(ThreadPoolExecutor(max_workers=4, thread_name_prefix="fake-engine"))
            engine_pb2_grpc.add_EngineServicer_to_server(_Servicer(self), server)
            self.port = server.add_insecure_port("127.0.0.1:0")
            server.start()
            self._server = server
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.stop(grace=None).wait(5)

    def _add(self, entry: LogEntry) -> None:
        with self._lock:
            self._entries.append(entry)

    @property
    def entries(self) -> list[LogEntry]:
        with self._lock:
            return list(self._entries)

    def __enter__(self) -> FakeEngine:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
