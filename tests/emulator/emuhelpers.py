"""Helpers shared by the emulator tests: a fake clock, a small `requests` wrapper, error-body parsing."""

from __future__ import annotations

import threading
from typing import Any

import requests

API_KEY = "test-key"
ACCOUNT = "acme"
EKS = {"awsAccountId": "123456789012", "region": "us-east-1"}


class FakeClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


class Api:
    """Plain HTTP calls to the emulator; every method returns the `requests.Response`."""

    def __init__(self, base_url: str, key: str | None = API_KEY, account: str = ACCOUNT) -> None:
        self.base_url = base_url
        self.key = key
        self.account = account
        self.session = requests.Session()

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"} if self.key is not None else {}

    def url(self, suffix: str = "", account: str | None = None) -> str:
        return f"{self.base_url}/v1/accounts/{account or self.account}/clusters{suffix}"

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        return self.session.request(method, url, headers=self.headers(), timeout=10, **kwargs)

    def create(
        self, cluster_id: str, cluster: dict[str, Any] | None = None, account: str | None = None
    ) -> requests.Response:
        body = {"clusterId": cluster_id, "cluster": cluster if cluster is not None else {"eksCluster": EKS}}
        return self.request("POST", self.url(account=account), json=body)

    def get(self, cluster_id: str, **params: Any) -> requests.Response:
        return self.request("GET", self.url(f"/{cluster_id}"), params=params)

    def list(self, **params: Any) -> requests.Response:
        return self.request("GET", self.url(), params=params)

    def patch(self, cluster_id: str, body: Any) -> requests.Response:
        return self.request("PATCH", self.url(f"/{cluster_id}"), json=body)

    def delete(self, cluster_id: str) -> requests.Response:
        return self.request("DELETE", self.url(f"/{cluster_id}"))

    def connection_info(self, cluster_id: str) -> requests.Response:
        return self.request("GET", self.url(f"/{cluster_id}:getConnectionInfo"))


def error_of(response: requests.Response) -> tuple[int, int, str]:
    """(HTTP status, gRPC code number, message) of an error response, checking the body's shape."""
    body = response.json()
    assert set(body) == {"code", "message", "details"}, body
    assert body["details"] == []
    return response.status_code, body["code"], body["message"]
