"""Fixtures for the preflight tests: one moto server per session (per xdist worker), emptied before each test,
and the fake AWS environment set with monkeypatch so nothing leaks between tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from pulumi_fwcluster.preflight import default_session
from pulumi_fwcluster.testing.aws import AWS_ENV_CONFLICTS, aws_env, moto_server, reset, seed_byoc
from tests.preflight.pfhelpers import SPEC


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def aws(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """An empty moto, with the environment pointing boto3 at it. Returns the endpoint URL."""
    reset(moto_endpoint)
    for name in AWS_ENV_CONFLICTS:
        monkeypatch.delenv(name, raising=False)
    for name, value in aws_env(moto_endpoint).items():
        monkeypatch.setenv(name, value)
    return moto_endpoint


@pytest.fixture
def session(aws: str) -> boto3.Session:
    return default_session()


@pytest.fixture
def byoc(aws: str) -> dict[str, str]:
    """A fully correct BYOC setup in moto; the camelCase eksCluster object."""
    return seed_byoc(aws)


@pytest.fixture
def spec(aws: str) -> dict[str, str]:
    """What `byoc` returns, without seeding: for tests whose checks never reach the lookups."""
    return dict(SPEC)


@pytest.fixture
def iam(session: boto3.Session) -> Any:
    return session.client("iam")
