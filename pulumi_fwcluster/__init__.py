"""Manage Fireworks AI bring-your-own-cloud clusters from Pulumi.

Importing this package loads neither boto3 nor the HTTP client: the provider builds them only when it runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "AlreadyExists",
    "Cluster",
    "ClusterArgs",
    "ClusterFailed",
    "EksClusterArgs",
    "FakeClusterArgs",
    "FireworksError",
    "InvalidArgument",
    "NotFound",
    "PermissionDenied",
    "RateLimited",
    "ServerError",
    "Unauthenticated",
    "Unavailable",
    "run_preflight",
]

_LAZY = {
    "Cluster": "resource",
    "ClusterArgs": "resource",
    "EksClusterArgs": "resource",
    "FakeClusterArgs": "resource",
    "run_preflight": "preflight",
    **dict.fromkeys(
        ("AlreadyExists", "ClusterFailed", "FireworksError", "InvalidArgument", "NotFound", "PermissionDenied",
         "RateLimited", "ServerError", "Unauthenticated", "Unavailable"),
        "errors",
    ),
}  # fmt: skip

if TYPE_CHECKING:
    from .errors import (
        AlreadyExists,
        ClusterFailed,
        FireworksError,
        InvalidArgument,
        NotFound,
        PermissionDenied,
        RateLimited,
        ServerError,
        Unauthenticated,
        Unavailable,
    )
    from .preflight import run_preflight
    from .resource import Cluster, ClusterArgs, EksClusterArgs, FakeClusterArgs


def __getattr__(name: str) -> Any:
    # Lazy, so `import pulumi_fwcluster` stays cheap and the provider server's start-up pays only for what it uses.
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f".{module}", __name__), name)
