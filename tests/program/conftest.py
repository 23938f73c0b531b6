"""Fixtures for the program tests: an emulator and a moto server of their own (session scope, per xdist worker),
and the environment the real provider reads when the mocks call it."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest

from pulumi_fwcluster.preflight import default_session
from pulumi_fwcluster.testing.aws import AWS_ENV_CONFLICTS, aws_env, moto_server, reset
from pulumi_fwcluster.testing.emulator import Backend, EmulatorHandle, serve

PROGRAM_API_KEY = "fw-program-test-key"
PROGRAM_ACCOUNT = "acme"


@pytest.fixture(scope="session")
def program_emulator() -> Iterator[EmulatorHandle]:
    with serve(Backend(provision_delay=0.1, delete_delay=0.05, api_keys={PROGRAM_API_KEY: None})) as handle:
        yield handle


@pytest.fixture
def emulator(program_emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch) -> EmulatorHandle:
    """The emptied emulator, with the environment the provider (unpickled by the mocks) reads; preflight off."""
    program_emulator.backend.reset()
    for name, value in {
        "FIREWORKS_API_KEY": PROGRAM_API_KEY,
        "FIREWORKS_ACCOUNT_ID": PROGRAM_ACCOUNT,
        "FIREWORKS_BASE_URL": program_emulator.base_url,
        "FWCLUSTER_PREFLIGHT": "off",
        "FWCLUSTER_POLL_INTERVAL": "0.02s",
        "FWCLUSTER_MAX_POLL_INTERVAL": "0.05s",
        "FWCLUSTER_RETRY_MAX_WAIT": "0.05s",
    }.items():
        monkeypatch.setenv(name, value)
    return program_emulator


@pytest.fixture(scope="session")
def program_moto() -> Iterator[str]:
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def moto_session(program_moto: str, monkeypatch: pytest.MonkeyPatch) -> boto3.Session:
    """An empty moto and a boto3 session pointing at it (via the environment, which preflight also reads)."""
    reset(program_moto)
    for name in AWS_ENV_CONFLICTS:
        monkeypatch.delenv(name, raising=False)
    for name, value in aws_env(program_moto).items():
        monkeypatch.setenv(name, value)
    return default_session()
