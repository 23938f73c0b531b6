"""Shared fixtures: one Fireworks emulator per test session (reset before each test that uses it)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pulumi_fwcluster.testing.emulator import Backend, EmulatorHandle, serve
from tests.fwconst import API_KEY


@pytest.fixture(scope="session")
def fireworks_server() -> Iterator[EmulatorHandle]:
    backend = Backend(provision_delay=0.2, delete_delay=0.1, api_keys={API_KEY: None, "narrow-key": {"someone-else"}})
    with serve(backend) as handle:
        yield handle


@pytest.fixture
def fireworks(fireworks_server: EmulatorHandle) -> EmulatorHandle:
    """The emulator, emptied, with its default delays."""
    backend = fireworks_server.backend
    backend.reset()
    backend.provision_delay = 0.2
    backend.delete_delay = 0.1
    backend.default_manager_role = False
    backend.assign_pool_provider = False
    backend.hide_foreign_accounts = False
    backend.deleting_state = None
    backend.clock_skew = 0.0
    return fireworks_server
