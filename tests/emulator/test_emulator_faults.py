"""Scripted faults, the request log, the CLI entry point and clean shutdown."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import requests

from pulumi_fwcluster.testing.emulator import Backend, EmulatorHandle, Fault, serve
from tests.emulator.emuhelpers import API_KEY, EKS, Api, error_of


def test_fail_next_then_success(api: Api, backend: Backend) -> None:
    backend.fail_next(2)
    for _ in range(2):
        status, code, _ = error_of(api.create("c1"))
        assert (status, code) == (503, 14)
    assert backend.cluster_names() == []  # not applied
    assert api.create("c1").status_code == 200


def test_fail_next_500_filtered_by_method(api: Api, backend: Backend) -> None:
    backend.fail_next(1, status=500, method="GET")
    assert api.create("c1").status_code == 200  # POST does not match
    assert error_of(api.get("c1"))[:2] == (500, 13)
    assert api.get("c1").status_code == 200


def test_fault_filtered_by_path(api: Api, backend: Backend) -> None:
    api.create("c1")
    backend.fail_next(1, path=r":getConnectionInfo$")
    assert api.get("c1").status_code == 200
    assert api.connection_info("c1").status_code == 503


def test_rate_limit_has_retry_after(api: Api, backend: Backend) -> None:
    backend.rate_limit_next(1, retry_after="2")
    r = api.list()
    assert error_of(r)[:2] == (429, 8)
    assert r.headers["Retry-After"] == "2"
    assert api.list().status_code == 200


def test_rate_limit_without_retry_after(api: Api, backend: Backend) -> None:
    backend.rate_limit_next(retry_after=None)
    r = api.list()
    assert r.status_code == 429 and "Retry-After" not in r.headers


def test_dropped_response_still_applies(api: Api, backend: Backend) -> None:
    backend.drop_response_next()
    with pytest.raises(requests.ConnectionError):
        api.create("c1")
    assert api.get("c1").status_code == 200  # the create happened
    assert error_of(api.create("c1"))[:2] == (409, 6)
    dropped = [r for r in backend.requests if r.dropped]
    assert len(dropped) == 1 and dropped[0].method == "POST" and dropped[0].status == 200


def test_dropped_response_on_fresh_connection(emulator: EmulatorHandle, backend: Backend) -> None:
    backend.drop_response_next(method="DELETE")
    api = Api(emulator.base_url)
    api.create("c1")
    with pytest.raises(requests.ConnectionError):
        api.delete("c1")
    assert api.get("c1").json()["state"] == "DELETING"


def test_slow_response(api: Api, backend: Backend) -> None:
    backend.slow_next(1, seconds=0.3)
    start = time.monotonic()
    assert api.list().status_code == 200
    assert time.monotonic() - start >= 0.3
    with pytest.raises(requests.Timeout):
        backend.slow_next(1, seconds=0.5)
        api.session.get(api.url(), headers=api.headers(), timeout=0.1)


def test_faults_are_consumed_in_order(api: Api, backend: Backend) -> None:
    backend.faults.add(Fault("error", times=1, status=504))
    backend.faults.add(Fault("rate_limit"))
    assert api.list().status_code == 504
    assert api.list().status_code == 429
    assert api.list().status_code == 200
    assert backend.faults.pending == []


def test_fault_validation() -> None:
    with pytest.raises(ValueError):
        Fault("explode")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Fault("error", times=0)


def test_request_log(api: Api, backend: Backend) -> None:
    api.create("c1", {"displayName": "d", "eksCluster": EKS})
    api.list(pageSize=5)
    Api(api.base_url, key=None).get("c1")
    log = backend.requests
    assert [(r.method, r.path, r.status) for r in log] == [
        ("POST", "/v1/accounts/acme/clusters", 200),
        ("GET", "/v1/accounts/acme/clusters", 200),
        ("GET", "/v1/accounts/acme/clusters/c1", 401),
    ]
    assert log[0].body == {"clusterId": "c1", "cluster": {"displayName": "d", "eksCluster": EKS}}
    assert log[0].response_body["name"] == "accounts/acme/clusters/c1"
    assert log[1].query == {"pageSize": "5"} and log[1].body is None
    assert [r.auth_present for r in log] == [True, True, False]
    assert log[2].response_body["code"] == 16
    assert API_KEY not in repr(log)
    assert API_KEY not in json.dumps([vars(r) for r in log], default=str)


def test_serve_without_backend_and_clean_shutdown() -> None:
    with serve() as handle:
        assert handle.base_url == f"http://127.0.0.1:{handle.port}"
        session = requests.Session()
        r = session.get(f"{handle.base_url}/v1/accounts/a/clusters", headers={"Authorization": "Bearer test-key"})
        assert r.status_code == 200
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{handle.base_url}/v1/accounts/a/clusters", timeout=2)


def test_module_entry_point() -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "pulumi_fwcluster.testing.emulator", "--port", "0", "--api-key", "k1=acme"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("FIREWORKS_BASE_URL=http://127.0.0.1:")
        base_url = line.split("=", 1)[1]
        ok = requests.get(f"{base_url}/v1/accounts/acme/clusters", headers={"Authorization": "Bearer k1"}, timeout=5)
        assert ok.status_code == 200
        denied = requests.get(
            f"{base_url}/v1/accounts/globex/clusters", headers={"Authorization": "Bearer k1"}, timeout=5
        )
        assert denied.status_code == 403
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
    assert proc.stderr is not None
    assert proc.stderr.read() == ""  # quiet: no per-request log lines
