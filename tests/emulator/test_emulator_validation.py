"""Validation (400 INVALID_ARGUMENT), conflicts, auth (401/403) and malformed requests."""

from __future__ import annotations

from typing import Any

import pytest

from pulumi_fwcluster.testing.emulator import Backend, EmulatorHandle
from tests.emulator.emuhelpers import EKS, Api, error_of

FAKE = {"projectId": "p", "location": "l", "clusterName": "n"}


@pytest.mark.parametrize(
    ("cluster_id", "fragment"),
    [
        ("", "clusterId is required"),
        ("1abc", "invalid clusterId"),
        ("-abc", "invalid clusterId"),
        ("abc-", "invalid clusterId"),
        ("Abc", "invalid clusterId"),
        ("a_b", "invalid clusterId"),
        ("a" * 64, "invalid clusterId"),
    ],
)
def test_bad_cluster_id(api: Api, cluster_id: str, fragment: str) -> None:
    status, code, message = error_of(api.create(cluster_id))
    assert (status, code) == (400, 3)
    assert fragment in message


def test_longest_cluster_id_is_fine(api: Api) -> None:
    assert api.create("a" * 63).status_code == 200


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"clusterId": "c1"}, "cluster is required"),
        ({"cluster": {"eksCluster": EKS}}, "clusterId is required"),
        ({"clusterId": 5, "cluster": {"eksCluster": EKS}}, "clusterId must be a string"),
        ({"clusterId": "c1", "cluster": {"displayName": "x" * 64, "eksCluster": EKS}}, "fewer than 64"),
        ({"clusterId": "c1", "cluster": {"displayName": 7, "eksCluster": EKS}}, "displayName must be a string"),
        ({"clusterId": "c1", "cluster": {"displayName": "d"}}, "one of cluster.eksCluster or"),
        ({"clusterId": "c1", "cluster": {"eksCluster": EKS, "fakeCluster": FAKE}}, "mutually exclusive"),
        ({"clusterId": "c1", "cluster": {"eksCluster": {"region": "us-east-1"}}}, "awsAccountId is required"),
        ({"clusterId": "c1", "cluster": {"eksCluster": {"awsAccountId": "123456789012"}}}, "region is required"),
        ({"clusterId": "c1", "cluster": {"eksCluster": {**EKS, "awsAccountId": "12345"}}}, "12 digits"),
        ({"clusterId": "c1", "cluster": {"eksCluster": {**EKS, "awsAccountId": "12345678901a"}}}, "12 digits"),
        ({"clusterId": "c1", "cluster": {"eksCluster": {**EKS, "region": 3}}}, "region must be a string"),
        ({"clusterId": "c1", "cluster": {"eksCluster": "x"}}, "must be a JSON object"),
        ({"clusterId": "c1", "cluster": {"eksCluster": EKS}, "extra": 1}, 'unknown field "extra"'),
        ({"clusterId": "c1", "cluster": {"eksCluster": EKS, "color": "red"}}, 'unknown field "cluster.color"'),
        (
            {"clusterId": "c1", "cluster": {"eksCluster": {**EKS, "vpcId": "v"}}},
            'unknown field "cluster.eksCluster.vpcId"',
        ),
        (
            {"clusterId": "c1", "cluster": {"fakeCluster": {**FAKE, "zone": "z"}}},
            'unknown field "cluster.fakeCluster.zone"',
        ),
        ([1, 2], "must be a JSON object"),
    ],
)
def test_invalid_create_body(api: Api, body: Any, fragment: str) -> None:
    r = api.request("POST", api.url(), json=body)
    status, code, message = error_of(r)
    assert (status, code) == (400, 3), message
    assert fragment in message


def test_read_only_fields_in_create_body_are_ignored(api: Api) -> None:
    cluster = {
        "name": "accounts/x/clusters/y",
        "state": "READY",
        "status": {"code": "OK", "message": "fine"},
        "createTime": "2000-01-01T00:00:00Z",
        "updateTime": "2000-01-01T00:00:00Z",
        "displayName": "d",
        "eksCluster": EKS,
    }
    body = api.create("c1", cluster).json()
    assert body["name"].endswith("/clusters/c1")
    assert body["state"] == "CREATING"
    assert body["createTime"] != "2000-01-01T00:00:00Z"


def test_display_name_of_63_characters_is_fine(api: Api) -> None:
    assert api.create("c1", {"displayName": "x" * 63, "eksCluster": EKS}).status_code == 200


def test_nulls_mean_absent(api: Api) -> None:
    body = api.create("c1", {"displayName": None, "fakeCluster": FAKE, "eksCluster": None}).json()
    assert body["fakeCluster"] == FAKE and "eksCluster" not in body


def test_malformed_account_id(api: Api) -> None:
    for account in ("Acme", "1acme", "acme-", "a_b"):
        r = api.request("GET", api.url(account=account))
        status, code, message = error_of(r)
        assert (status, code) == (400, 3)
        assert "account_id" in message


def test_invalid_json(api: Api) -> None:
    r = api.session.post(
        api.url(), data=b"{not json", headers={**api.headers(), "Content-Type": "application/json"}, timeout=5
    )
    status, code, message = error_of(r)
    assert (status, code) == (400, 3) and "not valid JSON" in message


def test_duplicate_is_409(api: Api) -> None:
    assert api.create("c1").status_code == 200
    status, code, message = error_of(api.create("c1"))
    assert (status, code) == (409, 6) and "already exists" in message
    api.delete("c1")
    assert error_of(api.create("c1"))[:2] == (409, 6)  # still DELETING


def test_missing_is_404(api: Api) -> None:
    for r in (api.get("nope"), api.delete("nope"), api.connection_info("nope"), api.patch("nope", {})):
        assert error_of(r)[:2] == (404, 5)


def test_same_id_in_two_accounts(api: Api) -> None:
    assert api.create("c1").status_code == 200
    assert api.create("c1", account="other").status_code == 200


@pytest.mark.parametrize("key", [None, "wrong-key", ""])
def test_unauthenticated(emulator: EmulatorHandle, key: str | None) -> None:
    api = Api(emulator.base_url, key=key)
    for r in (api.list(), api.create("c1"), api.get("c1"), api.delete("c1")):
        status, code, _ = error_of(r)
        assert (status, code) == (401, 16)
    assert emulator.backend.cluster_names() == []


def test_non_bearer_scheme_is_unauthenticated(api: Api) -> None:
    r = api.session.get(api.url(), headers={"Authorization": "Basic test-key"}, timeout=5)
    assert error_of(r)[:2] == (401, 16)


def test_permission_denied_for_other_accounts(emulator: EmulatorHandle, backend: Backend) -> None:
    backend.api_keys = {"scoped": {"acme"}, "admin": None}
    scoped = Api(emulator.base_url, key="scoped")
    assert scoped.create("c1").status_code == 200
    status, code, message = error_of(scoped.create("c1", account="globex"))
    assert (status, code) == (403, 7) and "globex" in message
    assert error_of(scoped.request("GET", scoped.url(account="globex")))[:2] == (403, 7)
    assert Api(emulator.base_url, key="admin").create("c1", account="globex").status_code == 200


def test_auth_is_checked_before_validation(emulator: EmulatorHandle) -> None:
    api = Api(emulator.base_url, key=None)
    assert error_of(api.create("BAD ID"))[:2] == (401, 16)
