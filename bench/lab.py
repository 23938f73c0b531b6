"""The bench's fixtures: the Fireworks emulator, a counting moto seeded with a BYOC setup, and engines.

Everything the provider reads comes from the stack config and the environment given here, never from the
user's: FIREWORKS_* and FWCLUSTER_* are blanked and boto3 points at the local moto with fake keys.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pulumi.dynamic import ResourceProvider

from pulumi_fwcluster.provider import ClusterProvider
from pulumi_fwcluster.resource import ClusterArgs, cluster_props
from pulumi_fwcluster.spec import DYNAMIC_TYPE, NATIVE_TYPE
from pulumi_fwcluster.testing.aws import AWS_ENV_CONFLICTS, aws_env, seed_byoc
from pulumi_fwcluster.testing.emulator import Backend, EmulatorHandle, RequestRecord, serve
from pulumi_fwcluster.testing.engine import Desired, Engine, NativePlugin, Stack

from .awsmoto import CountingApp, counting_moto

API_KEY = "fw-bench-0123456789abcdef-SECRET"
ACCOUNT = "bench"
TYPE = DYNAMIC_TYPE
REPO = Path(__file__).resolve().parent.parent
PLUGIN = Path(sys.executable).parent / "pulumi-resource-fireworks"
"""The native door's console script, in the virtualenv's `bin` beside this interpreter (where the CLI finds it)."""
Door = Literal["dynamic", "native"]
BLANKED = tuple(
    f"{prefix}{name}"
    for prefix, names in (
        ("FIREWORKS_", ("API_KEY", "ACCOUNT_ID", "BASE_URL")),
        ("FWCLUSTER_", ("PREFLIGHT", "POLL_INTERVAL", "MAX_POLL_INTERVAL", "CREATE_TIMEOUT", "DELETE_TIMEOUT")),
    )
    for name in names
)


def is_poll(record: RequestRecord) -> bool:
    return record.method == "GET"


def mutating(records: list[RequestRecord]) -> list[str]:
    """``["POST clusters", "DELETE c1", ...]`` for the non-GET requests."""
    return [f"{r.method} {r.path.rsplit('/', 1)[-1]}" for r in records if not is_poll(r)]


_CACHE_LOCK = threading.Lock()
_SERIALIZED: dict[int, tuple[ResourceProvider, str]] = {}


class BenchEngine(Engine):
    """The harness, with `__provider` computed once per provider object: a real program serializes each provider
    once, when the resource is constructed, so this is the faithful cost model for timing many operations."""

    @staticmethod
    def serialize(provider: ResourceProvider) -> str:
        with _CACHE_LOCK:
            hit = _SERIALIZED.get(id(provider))
            if hit is None or hit[0] is not provider:
                hit = (provider, Engine.serialize(provider))
                _SERIALIZED[id(provider)] = hit
            return hit[1]


@dataclass
class Lab:
    tmp: Path
    fireworks: EmulatorHandle
    aws_endpoint: str
    aws: CountingApp
    eks: dict[str, str]
    """The seeded, fully correct camelCase eksCluster object."""

    @property
    def backend(self) -> Backend:
        return self.fireworks.backend

    def requests_since(self, index: int) -> list[RequestRecord]:
        return self.backend.requests[index:]

    def config(self, preflight: str = "enforce", **extra: str) -> dict[str, str]:
        """Stack config as a user has it: no poll-interval overrides, so the provider's defaults apply."""
        return {
            "fireworks:apiKey": API_KEY,
            "fireworks:accountId": ACCOUNT,
            "fireworks:baseUrl": self.fireworks.base_url,
            "fireworks:preflight": preflight,
            **extra,
        }

    def engine(
        self,
        *,
        preflight: str = "enforce",
        per_operation: bool = True,
        stack: Stack | None = None,
        config: Mapping[str, str] | None = None,
        door: Door = "dynamic",
    ) -> Engine:
        """An engine for `door`: the `python -m pulumi.dynamic` server, or the native plugin process started as the
        CLI starts it (`PLUGIN` plus the engine's address). Both read the same stack config."""
        env = {**dict.fromkeys(BLANKED, ""), **aws_env(self.aws_endpoint)}
        return BenchEngine(
            cwd=self.tmp,
            config={**self.config(preflight), **(config or {})},
            env=env,
            pythonpath=[REPO],
            stack=stack,
            process_per_operation=per_operation,
            plugin=NativePlugin([str(PLUGIN)]) if door == "native" else None,
        )

    def cluster(
        self,
        name: str,
        cluster_id: str | None = None,
        display_name: str = "Bench",
        provider: ResourceProvider | None = None,
        type_: str = TYPE,
        door: Door = "dynamic",
    ) -> Desired:
        """What ``Cluster(name, ClusterArgs(...))`` registers, with the seeded eksCluster object; with
        ``door="native"``, what ``pulumi_fwcluster.native.Cluster`` registers (same args, no `__provider`)."""
        props: dict[str, Any] = cluster_props(
            ClusterArgs(cluster_id=cluster_id or name, display_name=display_name, eks_cluster=dict(self.eks))
        )
        if door == "native":
            return Desired(name, None, props, NATIVE_TYPE)
        return Desired(name, provider if provider is not None else ClusterProvider(), props, type_)


@contextmanager
def lab(*, provision_delay: float = 0.2, delete_delay: float = 0.2) -> Iterator[Lab]:
    """Start the emulator and moto, seed moto with one BYOC setup and point this process's boto3 at it
    (restoring the environment afterwards)."""
    saved = dict(os.environ)
    try:
        for name in (*AWS_ENV_CONFLICTS, *BLANKED):
            os.environ.pop(name, None)
        backend = Backend(provision_delay=provision_delay, delete_delay=delete_delay, api_keys={API_KEY: None})
        with (
            tempfile.TemporaryDirectory(prefix="fwbench-") as tmp,
            serve(backend) as fireworks,
            counting_moto() as (endpoint, counter),
        ):
            os.environ.update(aws_env(endpoint))
            eks = seed_byoc(endpoint, cluster_name="bench")
            yield Lab(Path(tmp), fireworks, endpoint, counter, eks)
    finally:
        os.environ.clear()
        os.environ.update(saved)
