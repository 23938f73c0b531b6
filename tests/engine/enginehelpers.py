"""Helpers for the engine tests: what the program registers for a Cluster."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

from pulumi_fwcluster.provider import ClusterProvider
from pulumi_fwcluster.resource import ClusterArgs, EksClusterArgs, cluster_props
from pulumi_fwcluster.spec import DYNAMIC_TYPE, NATIVE_TYPE
from pulumi_fwcluster.testing.emulator import Backend
from pulumi_fwcluster.testing.engine import Desired
from tests.fwconst import ACCOUNT, API_KEY, AWS_ACCOUNT

__all__ = [
    "ACCOUNT",
    "API_KEY",
    "AWS_ACCOUNT",
    "DOORS",
    "INFERENCE",
    "TYPE",
    "Door",
    "cluster",
    "slow_until_posts",
]

Door = Literal["dynamic", "native", "plugin"]
DOORS: tuple[Door, ...] = ("dynamic", "native")
"""The two doors a lifecycle test runs through: the dynamic provider server, and the native provider (served in
process, for speed; `plugin` starts `pulumi-resource-fireworks` as the CLI does)."""

TYPE = DYNAMIC_TYPE
INFERENCE = f"arn:aws:iam::{AWS_ACCOUNT}:role/fireworks-inference-prod"


def cluster(name: str = "prod", *, door: Door = "dynamic", **overrides: Any) -> Desired:
    """What `Cluster(name, ClusterArgs(...))` registers; `overrides` replace ClusterArgs or EksClusterArgs fields."""
    eks_fields = {f for f in EksClusterArgs.__dataclass_fields__}
    eks = {
        "aws_account_id": AWS_ACCOUNT,
        "region": "us-east-1",
        "cluster_name": "prod",
        "inference_role": INFERENCE,
        **{k: v for k, v in overrides.items() if k in eks_fields},
    }
    args = {
        "cluster_id": "prod-use1",
        "display_name": "Prod",
        **{k: v for k, v in overrides.items() if k not in eks_fields},
    }
    props = cluster_props(ClusterArgs(eks_cluster=EksClusterArgs(**eks), **args))
    if door == "dynamic":
        return Desired(name, ClusterProvider(), props, TYPE)
    return Desired(name, None, props, NATIVE_TYPE)


@contextmanager
def slow_until_posts(
    backend: Backend, posts: int, delay: Literal["provision_delay", "delete_delay"] = "provision_delay"
) -> Iterator[None]:
    """Clusters stay CREATING (or DELETING, with `delay="delete_delay"`), as they do for minutes in real life, until
    the emulator has answered `posts` POSTs and a GET after the last of them (the create's look-up that decides what
    to do), then finish at once: "the next `up` finds it still CREATING", without racing a short emulated delay."""
    setattr(backend, delay, 3600.0)
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.02):
            methods = [r.method for r in backend.requests]
            seen = [i for i, m in enumerate(methods) if m == "POST"]
            if len(seen) >= posts and "GET" in methods[seen[posts - 1] + 1 :]:
                setattr(backend, delay, 0.0)
                return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join()
