"""Fixtures for driving `python -m pulumi.dynamic` with our provider against the emulator."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pulumi_fwcluster.native.provider import FireworksProvider
from pulumi_fwcluster.native.server import NativeServicer
from pulumi_fwcluster.testing.emulator import EmulatorHandle
from pulumi_fwcluster.testing.engine import Engine, InProcessPlugin, NativePlugin
from tests.engine.enginehelpers import ACCOUNT, API_KEY, AWS_ACCOUNT, Door


@pytest.fixture
def make_engine(fireworks: EmulatorHandle, tmp_path: Path) -> Iterator[Callable[..., Engine]]:
    engines: list[Engine] = []

    def make(
        aws_env: dict[str, str] | None = None,
        *,
        door: Door = "dynamic",
        engine_address: str | None = None,
        process_per_operation: bool = True,
        **config: Any,
    ) -> Engine:
        """An engine for one stack. `config` overrides the stack config (None drops a key); `aws_env` adds to the
        provider process's environment, in which FIREWORKS_* are unset unless given there. `engine_address` and
        `process_per_operation` as for :class:`Engine`."""
        cfg = {
            "fireworks:apiKey": API_KEY,
            "fireworks:accountId": ACCOUNT,
            "fireworks:baseUrl": fireworks.base_url,
            "fireworks:preflight": "off",
            "fireworks:pollInterval": "0.05s",
            "fireworks:maxPollInterval": "0.2s",
            "fireworks:retryMaxWait": "0.05s",
            **config,
        }
        cfg = {k: v for k, v in cfg.items() if v is not None}
        env = {
            k: "" for k in ("FIREWORKS_API_KEY", "FIREWORKS_ACCOUNT_ID", "FIREWORKS_BASE_URL", "FWCLUSTER_PREFLIGHT")
        }
        env.update(aws_env or {})
        plugin: NativePlugin | InProcessPlugin | None = None
        if door == "native":  # a fresh provider per server, as a fresh plugin process would be
            plugin = InProcessPlugin(FireworksProvider, servicer=NativeServicer)
        elif door == "plugin":
            plugin = NativePlugin([str(Path(sys.executable).parent / "pulumi-resource-fireworks")])
        engine = Engine(
            cwd=tmp_path,
            config=cfg,
            env=env,
            state_path=tmp_path / f"state-{len(engines)}.json",
            plugin=plugin,
            engine_address=engine_address,
            process_per_operation=process_per_operation,
        )
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.stop()


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    from pulumi_fwcluster.testing.aws import moto_server

    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def aws(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """moto, emptied and seeded with a correct BYOC setup; returns the env for the provider process and the spec."""
    from pulumi_fwcluster.testing.aws import AWS_ENV_CONFLICTS, aws_env, reset, seed_byoc

    reset(moto_endpoint)
    env = {**aws_env(moto_endpoint), **dict.fromkeys(AWS_ENV_CONFLICTS, "")}
    for key, value in env.items():
        if value:
            monkeypatch.setenv(key, value)
        else:
            monkeypatch.delenv(key, raising=False)
    eks = seed_byoc(moto_endpoint, account=AWS_ACCOUNT, cluster_name="prod")
    return {"env": env, "eks": eks}
