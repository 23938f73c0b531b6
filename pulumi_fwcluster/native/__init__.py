"""The native door: pulumi-fwcluster as a Pulumi provider plugin (``pulumi-resource-fireworks``).

Kept free of imports so that ``import pulumi_fwcluster.native.<module>`` loads only what that module needs.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .cluster import Cluster
    from .provider import FireworksProvider

__all__ = ["Cluster", "FireworksProvider"]
_LAZY = {"Cluster": "cluster", "FireworksProvider": "provider"}


def __getattr__(name: str) -> Any:
    # Lazy: a program imports only Cluster (pulumi), the plugin only its provider (and grpc).
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f".{module}", __name__), name)
