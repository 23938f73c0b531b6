"""A local emulator of the Fireworks clusters API, for tests and demos.

`backend.Backend` holds the state, rules, scripted faults and request log; `server.serve` puts it behind HTTP
on 127.0.0.1. Run it standalone with `python -m pulumi_fwcluster.testing.emulator --port 0`.
"""

from .backend import GRPC_CODES, ApiError, Backend, Fault, FaultKind, FaultQueue, RequestRecord, error_body
from .server import EmulatorHandle, serve

__all__ = [
    "GRPC_CODES",
    "ApiError",
    "Backend",
    "EmulatorHandle",
    "Fault",
    "FaultKind",
    "FaultQueue",
    "RequestRecord",
    "error_body",
    "serve",
]
