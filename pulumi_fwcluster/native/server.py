"""Serve a ``pulumi.provider.experimental`` provider as a native plugin, with what the SDK's server lacks.

:func:`serve` is ``pulumi.provider.experimental.server.main`` with three differences:

* the servicer is :class:`NativeServicer`, which adds two things the provider protocol has and the SDK's
  ``ProviderServicer`` (3.272) cannot express:

  - **partial failure**: a ``create``/``update``/``read`` that raises :class:`InitFailed` answers with a gRPC
    error whose ``grpc-status-details-bin`` holds ``pulumirpc.ErrorResourceInitFailed``; the engine then records
    the resource (id, outputs) with its ``initErrors`` instead of losing it (pkg/resource/plugin/provider_plugin.go
    ``parseError``; pkg/resource/deploy/step.go ``CreateStep.Apply``/``UpdateStep.Apply``);
  - **plain errors**: a :class:`ProviderError` reaches the user as its message alone; the SDK's servicer appends a
    traceback to every error, which buries a message written to say what happened and what to do next;
  - **"does not exist" on import**: a ``read`` answering an empty ``resource_id`` becomes a bare ``ReadResponse``.
    The SDK always sends a (possibly empty) ``properties`` struct, and the engine's import treats any present
    struct as an existing resource (pkg/resource/deploy/step.go ``ImportStep.Apply`` tests ``read.Outputs == nil``),
    so importing a missing id would "succeed" with empty state;

* ``pulumi.log`` in the provider reaches the engine's ``Log`` service (the SDK only wires that up for
  components), as it does for every other provider;
* the gRPC options are set here, ``grpc.server_max_unrequested_time_in_server`` included, so queued requests of a
  large ``--parallel`` are not cancelled.

Everything else (request and response conversion, the traceback-style error messages) is the SDK's own code.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Mapping, Sequence
from typing import Any, Final, TypeVar

import grpc
import grpc.aio
from pulumi.provider.experimental.property_value import PropertyValue
from pulumi.provider.experimental.provider import Provider
from pulumi.provider.experimental.server import ProviderServicer
from pulumi.runtime import settings
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc, status_pb2

__all__ = [
    "SERVER_OPTIONS",
    "InitFailed",
    "NativeServicer",
    "ProviderError",
    "from_property_value",
    "serve",
    "start_server",
    "to_property_value",
]

SERVER_OPTIONS: Final[list[tuple[str, int]]] = [
    ("grpc.max_receive_message_length", 400 * 1024 * 1024),
    # grpc-core cancels requests still queued after this long (default 30 s): a big `--parallel` queues many.
    ("grpc.server_max_unrequested_time_in_server", 30 * 60),
]

_STATUS_DETAILS_KEY: Final[str] = "grpc-status-details-bin"


class ProviderError(Exception):
    """An error whose message is the whole story for the user: sent as it is, without the traceback the SDK's
    servicer appends to every other exception."""


class InitFailed(Exception):
    """Raised by a provider's ``create``/``update`` (or ``read``) when the resource exists but is not healthy.

    ``properties`` are the resource's outputs and ``inputs`` its inputs (the engine reads ``inputs`` only from a
    ``read``), as ``PropertyValue`` maps or plain Python values; ``reasons`` are the messages the user sees."""

    def __init__(
        self,
        resource_id: str,
        properties: Mapping[str, Any],
        reasons: Sequence[str],
        inputs: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__("; ".join(reasons) or "resource init failed")
        self.resource_id = resource_id
        self.properties = dict(properties)
        self.reasons = list(reasons)
        self.inputs = dict(inputs) if inputs is not None else None


def to_property_value(value: Any) -> PropertyValue:
    """Plain Python (dicts, lists, str, numbers, bool, None, or ``PropertyValue`` anywhere) as a ``PropertyValue``;
    ints become floats, as the protocol requires."""
    if isinstance(value, PropertyValue):
        return value
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return PropertyValue(value)
    if isinstance(value, (int, float)):
        return PropertyValue(float(value))
    if isinstance(value, Mapping):
        return PropertyValue({str(k): to_property_value(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return PropertyValue([to_property_value(v) for v in value])
    raise TypeError(f"cannot send a {type(value).__name__} as a property value")


def from_property_value(value: PropertyValue) -> Any:
    """A ``PropertyValue`` as plain Python (dicts, lists, ...); secrecy is dropped, unknowns stay the UNKNOWN string."""
    inner = value.value
    if isinstance(inner, Mapping):
        return {k: from_property_value(v) for k, v in inner.items()}
    if isinstance(inner, tuple):
        return [from_property_value(v) for v in inner]
    return inner


def _marshal(props: Mapping[str, Any]) -> Any:
    return PropertyValue.marshal_map({k: to_property_value(v) for k, v in props.items()})


E = TypeVar("E", bound=BaseException)


def _original(exc: BaseException, kind: type[E]) -> E | None:
    """The ``kind`` exception behind ``exc``: the SDK re-raises provider errors as a plain ``Exception`` with a
    traceback text, raised inside its ``except``, so the original is on the ``__context__`` chain."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _init_failed_status(failed: InitFailed) -> Any:
    detail = provider_pb2.ErrorResourceInitFailed(
        id=failed.resource_id,
        properties=_marshal(failed.properties),
        reasons=failed.reasons,
        inputs=_marshal(failed.inputs) if failed.inputs is not None else None,
    )
    code = grpc.StatusCode.UNKNOWN
    rich = status_pb2.Status(code=code.value[0], message=str(failed))
    rich.details.add().Pack(detail)
    status = grpc.Status()
    status.code = code
    status.details = str(failed)
    status.trailing_metadata = ((_STATUS_DETAILS_KEY, rich.SerializeToString()),)
    return status


class NativeServicer(ProviderServicer):
    """The SDK's ``ProviderServicer`` plus :class:`InitFailed` and an importable "does not exist" (see module doc)."""

    async def _guarded(self, method: Any, request: Any, context: Any) -> Any:
        try:
            return await method(request, context)
        except Exception as exc:
            failed = _original(exc, InitFailed)
            if failed is not None:
                await context.abort_with_status(_init_failed_status(failed))
            plain = _original(exc, ProviderError)
            if plain is not None:
                await context.abort(grpc.StatusCode.UNKNOWN, str(plain))
            raise  # both aborts raise; anything else keeps the SDK's traceback, for a bug report

    async def CheckConfig(self, request: Any, context: Any) -> Any:
        return await self._guarded(super().CheckConfig, request, context)

    async def Configure(self, request: Any, context: Any) -> Any:
        return await self._guarded(super().Configure, request, context)

    async def Check(self, request: Any, context: Any) -> Any:
        return await self._guarded(super().Check, request, context)

    async def Diff(self, request: Any, context: Any) -> Any:
        return await self._guarded(super().Diff, request, context)

    async def Delete(self, request: Any, context: Any) -> Any:
        return await self._guarded(super().Delete, request, context)

    async def Create(self, request: Any, context: Any) -> Any:
        return await self._guarded(super().Create, request, context)

    async def Update(self, request: Any, context: Any) -> Any:
        return await self._guarded(super().Update, request, context)

    async def Read(self, request: Any, context: Any) -> Any:
        response = await self._guarded(super().Read, request, context)
        if not response.id:
            return provider_pb2.ReadResponse()
        return response


async def start_server(
    provider: Provider,
    *,
    engine_address: str = "",
    version: str = "0.0.0",
    args: Sequence[str] = (),
    servicer: type[Any] = NativeServicer,
    host: str = "127.0.0.1",
) -> tuple[Any, int]:
    """Start ``provider`` on a ``grpc.aio`` server on ``host:0`` in the running loop; returns ``(server, port)``.

    Handler tasks inherit this task's context, which is where the SDK keeps its settings: pointing them at the
    engine here makes ``pulumi.log`` reach it without touching the rest of the process."""
    if engine_address:
        settings.configure(settings.Settings(project=None, stack=None, engine=engine_address))
    server = grpc.aio.server(options=SERVER_OPTIONS)
    provider_pb2_grpc.add_ResourceProviderServicer_to_server(
        servicer(list(args), version, provider, engine_address), server
    )
    port = server.add_insecure_port(f"{host}:0")
    await server.start()
    return server, port


def _engine_address(args: Sequence[str]) -> str:
    """The engine address among the CLI's plugin arguments (``[--logtostderr] [-v=N] [--tracing X] <engine>``)."""
    parser = argparse.ArgumentParser(description="Pulumi provider plugin (gRPC server)", add_help=False)
    parser.add_argument("engine", nargs="?", default="")
    parser.add_argument("--logflow", action="store_true")
    parser.add_argument("--logtostderr", action="store_true")
    parser.add_argument("--tracing", default="")
    parser.add_argument("-v", default="")
    known, _ = parser.parse_known_args(list(args))
    return str(known.engine)


def serve(args: Sequence[str], version: str, provider: Provider) -> None:
    """Run ``provider`` as a plugin until the engine stops it: print the port on stdout as the CLI expects.

    ``args`` are the plugin's arguments (``sys.argv[1:]``), the engine address last."""
    engine_address = _engine_address(args)

    async def run() -> None:
        server, port = await start_server(provider, engine_address=engine_address, version=version, args=args)
        sys.stdout.buffer.write(f"{port}\n".encode())
        sys.stdout.buffer.flush()
        await server.wait_for_termination()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())
