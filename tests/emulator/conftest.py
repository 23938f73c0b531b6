"""Fixtures for the emulator tests: a fake clock, a backend, a running server and a small `requests` helper."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pulumi_fwcluster.testing.emulator import Backend, EmulatorHandle, serve
from tests.emulator.emuhelpers import Api, FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def backend(clock: FakeClock) -> Backend:
    return Backend(provision_delay=10.0, delete_delay=5.0, clock=clock)


@pytest.fixture
def emulator(backend: Backend) -> Iterator[EmulatorHandle]:
    with serve(backend) as handle:
        yield handle


@pytest.fixture
def api(emulator: EmulatorHandle) -> Iterator[Api]:
    client = Api(emulator.base_url)
    yield client
    client.session.close()
