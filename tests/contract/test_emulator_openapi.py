"""Every request sent and every response the emulator gives in a scripted session matches the OpenAPI document.

Skipped when `../shared/reference/fireworks-clusters-openapi.yaml` (from the repository root) is absent.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from pulumi_fwcluster.testing.emulator import Backend, serve
from tests.contract.openapi import ContractError, require_spec, validate_request, validate_response

KEY = "contract-key"
EKS = {
    "awsAccountId": "123456789012",
    "region": "us-west-2",
    "clusterName": "eks-main",
    "storageBucketName": "fw-bucket",
    "fireworksManagerRole": "arn:aws:iam::123456789012:role/FireworksManagerRole",
    "metricWriterRole": "arn:aws:iam::123456789012:role/metrics",
    "loadBalancerControllerRole": "arn:aws:iam::123456789012:role/lbc",
    "workloadIdentityPoolProviderId": "my-provider",
    "inferenceRole": "arn:aws:iam::123456789012:role/inference",
}


class CheckedSession:
    """Sends requests to the emulator and validates each request and response against the document."""

    def __init__(self, base_url: str, backend: Backend) -> None:
        self.base_url = base_url
        self.backend = backend
        self.session = requests.Session()
        self.documented = 0
        self.errors = 0

    def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        key: str | None = KEY,
    ) -> requests.Response:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        if key:
            validate_request(method, path, params, body, headers)
        r = self.session.request(method, self.base_url + path, params=params, json=body, headers=headers, timeout=10)
        assert r.headers["Content-Type"] == "application/json"
        if validate_response(method, path, r.status_code, r.json()):
            self.documented += 1
        else:
            self.errors += 1
        return r


@pytest.fixture
def checked() -> Iterator[CheckedSession]:
    require_spec()
    backend = Backend(provision_delay=3600.0, delete_delay=60.0, api_keys={KEY: {"acme"}})
    with serve(backend) as handle:
        session = CheckedSession(handle.base_url, backend)
        yield session
        session.session.close()


def test_scripted_session_matches_the_document(checked: CheckedSession) -> None:
    backend = checked.backend
    base = "/v1/accounts/acme/clusters"

    created = checked.call(
        "POST", base, body={"clusterId": "main", "cluster": {"displayName": "Main", "eksCluster": EKS}}
    )
    assert created.status_code == 200 and created.json()["state"] == "CREATING"
    checked.call("POST", base, body={"clusterId": "fake", "cluster": {"fakeCluster": {"projectId": "p"}}})
    for i in range(3):
        checked.call("POST", base, body={"clusterId": f"extra-{i}", "cluster": {"eksCluster": EKS}})

    checked.call("GET", f"{base}/main")
    checked.call("GET", f"{base}/main", params={"readMask": "name,state"})
    not_ready = checked.call("GET", f"{base}/main:getConnectionInfo")
    assert not_ready.status_code == 400

    backend.fail_provisioning("fake", "no capacity")
    backend.provision_delay = 0.0
    assert checked.call("GET", f"{base}/main").json()["state"] == "READY"
    info = checked.call("GET", f"{base}/main:getConnectionInfo", params={"readMask": "*"})
    assert info.status_code == 200 and set(info.json()) == {"endpoint", "caData"}

    token = None
    pages = 0
    while True:
        params: dict[str, Any] = {"pageSize": 2}
        if token:
            params["pageToken"] = token
        page = checked.call("GET", base, params=params).json()
        pages += 1
        token = page.get("nextPageToken")
        if token is None:
            break
    assert pages == 3

    patched = checked.call("PATCH", f"{base}/main", body={"displayName": "Renamed", "eksCluster": EKS})
    assert patched.status_code == 200 and patched.json()["displayName"] == "Renamed"
    assert checked.call("PATCH", f"{base}/main", body={"eksCluster": {**EKS, "region": "eu-west-1"}}).status_code == 400

    deleted = checked.call("DELETE", f"{base}/extra-0")
    assert deleted.status_code == 200 and deleted.json() == {}
    assert checked.call("GET", f"{base}/extra-0").json()["state"] == "DELETING"

    # Error responses: undocumented by the spec, checked against the grpc-gateway error shape.
    assert checked.call("GET", f"{base}/missing").status_code == 404
    assert checked.call("POST", base, body={"clusterId": "main", "cluster": {"eksCluster": EKS}}).status_code == 409
    assert checked.call("POST", base, body={"clusterId": "Bad", "cluster": {"eksCluster": EKS}}).status_code == 400
    assert checked.call("GET", base, key="wrong").status_code == 401
    assert checked.call("GET", "/v1/accounts/globex/clusters").status_code == 403
    backend.fail_next(1)
    assert checked.call("GET", base).status_code == 503
    backend.rate_limit_next(1)
    assert checked.call("GET", base).status_code == 429

    # A FAILED cluster still renders as a valid Cluster.
    failed = checked.call("GET", f"{base}/fake").json()
    assert failed["state"] == "FAILED" and failed["status"]["code"] == "FAILED_PRECONDITION"

    assert checked.documented >= 15
    assert checked.errors == 9


def test_helper_rejects_what_the_document_forbids() -> None:
    require_spec()
    base = "/v1/accounts/acme/clusters"
    with pytest.raises(ContractError):
        validate_request("POST", base, body={"cluster": {}})  # clusterId required
    with pytest.raises(ContractError):
        validate_request("POST", base, body={"clusterId": "x", "cluster": {"eksCluster": {"region": "r"}}})
    with pytest.raises(ContractError):
        validate_request("POST", base, body={"clusterId": "x", "cluster": {"state": "READY"}})  # read-only
    with pytest.raises(ContractError):
        validate_request("GET", base, {"pageSize": "ten"})
    with pytest.raises(ContractError):
        validate_request("GET", base, {"colour": "red"})
    with pytest.raises(ContractError):
        validate_request("GET", base, headers={})
    with pytest.raises(ContractError):
        validate_request("PUT", f"{base}/x")
    with pytest.raises(ContractError):
        validate_response("GET", f"{base}/x", 200, {"name": "n", "state": "RUNNING"})
    with pytest.raises(ContractError):
        validate_response("GET", f"{base}/x", 200, {"name": "n", "unexpected": 1})
    with pytest.raises(ContractError):
        validate_response("GET", f"{base}/x", 200, {"createTime": "yesterday"})
    with pytest.raises(ContractError):
        validate_response("GET", f"{base}/x:getConnectionInfo", 200, {"name": "n"})  # not a Cluster
    with pytest.raises(ContractError):
        validate_response("GET", f"{base}/x", 404, {"error": "nope"})
    assert validate_response("GET", f"{base}/x:getConnectionInfo", 200, {"endpoint": "e", "caData": "c"})
    assert not validate_response("GET", f"{base}/x", 404, {"code": 5, "message": "m", "details": []})
    assert validate_response("GET", base, 200, {"clusters": [], "totalSize": 0})
