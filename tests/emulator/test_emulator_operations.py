"""The six operations, pagination, state transitions and the FAILED hook, over real HTTP."""

from __future__ import annotations

import re

import pytest

from pulumi_fwcluster.testing.emulator import Backend, EmulatorHandle
from tests.emulator.emuhelpers import ACCOUNT, EKS, Api, FakeClock, error_of

RFC3339_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


def test_create_returns_the_cluster_in_creating(api: Api) -> None:
    eks = {**EKS, "clusterName": "eks-1", "storageBucketName": "bucket-1"}
    r = api.create("my-cluster", {"displayName": "My Cluster", "eksCluster": eks})
    assert r.status_code == 200
    body = r.json()
    assert body["name"] == f"accounts/{ACCOUNT}/clusters/my-cluster"
    assert body["displayName"] == "My Cluster"
    assert body["eksCluster"] == eks
    assert "fakeCluster" not in body
    assert body["state"] == "CREATING"
    assert body["status"] == {"code": "OK", "message": ""}
    assert RFC3339_Z.match(body["createTime"]) and body["createTime"] == body["updateTime"]


def test_get_returns_what_create_returned(api: Api) -> None:
    created = api.create("c1", {"fakeCluster": {"projectId": "p", "location": "l", "clusterName": "n"}}).json()
    r = api.get("c1")
    assert r.status_code == 200
    assert r.json() == created


def test_state_goes_creating_ready_deleting_gone(api: Api, clock: FakeClock) -> None:
    api.create("c1")
    clock.advance(9.9)
    assert api.get("c1").json()["state"] == "CREATING"
    clock.advance(0.1)
    ready = api.get("c1").json()
    assert ready["state"] == "READY"
    assert ready["updateTime"] > ready["createTime"]
    r = api.delete("c1")
    assert r.status_code == 200 and r.json() == {}
    assert api.get("c1").json()["state"] == "DELETING"
    assert api.delete("c1").status_code == 200  # deleting a DELETING cluster is fine
    clock.advance(5.0)
    assert error_of(api.get("c1"))[:2] == (404, 5)
    assert error_of(api.delete("c1"))[:2] == (404, 5)
    assert api.create("c1").status_code == 200  # the id is free again


def test_delete_during_creating(api: Api, clock: FakeClock) -> None:
    api.create("c1")
    api.delete("c1")
    clock.advance(100)
    assert api.get("c1").status_code == 404


def test_real_clock_with_small_delays(emulator: EmulatorHandle, backend: Backend) -> None:
    import time

    backend.clock = time.monotonic
    backend.provision_delay = 0.05
    backend.delete_delay = 0.05
    api = Api(emulator.base_url)
    api.create("c1")
    time.sleep(0.08)
    assert api.get("c1").json()["state"] == "READY"
    api.delete("c1")
    time.sleep(0.08)
    assert api.get("c1").status_code == 404


def test_delays_are_settable_at_runtime(api: Api, backend: Backend) -> None:
    api.create("c1")
    assert api.get("c1").json()["state"] == "CREATING"
    backend.provision_delay = 0
    assert api.get("c1").json()["state"] == "READY"


def test_fail_provisioning_next(api: Api, backend: Backend, clock: FakeClock) -> None:
    backend.fail_provisioning(None, "node group quota exceeded")
    api.create("c1")
    api.create("c2")
    clock.advance(10)
    failed = api.get("c1").json()
    assert failed["state"] == "FAILED"
    assert failed["status"] == {"code": "FAILED_PRECONDITION", "message": "node group quota exceeded"}
    assert api.get("c2").json()["state"] == "READY"
    assert error_of(api.connection_info("c1"))[:2] == (400, 9)
    api.delete("c1")
    assert api.get("c1").json()["state"] == "DELETING"


def test_fail_provisioning_named(api: Api, backend: Backend, clock: FakeClock) -> None:
    api.create("c1")
    backend.fail_provisioning("c1", "boom", code="INTERNAL")  # already CREATING
    backend.fail_provisioning("c3", "later")  # created afterwards
    api.create("c2")
    api.create("c3")
    clock.advance(10)
    assert api.get("c1").json()["status"] == {"code": "INTERNAL", "message": "boom"}
    assert api.get("c2").json()["state"] == "READY"
    assert api.get("c3").json()["state"] == "FAILED"


def test_update_display_name_bumps_update_time(api: Api, clock: FakeClock) -> None:
    created = api.create("c1", {"displayName": "old", "eksCluster": EKS}).json()
    clock.advance(1)
    r = api.patch("c1", {"displayName": "new"})
    assert r.status_code == 200
    body = r.json()
    assert body["displayName"] == "new"
    assert body["updateTime"] > created["updateTime"]
    assert body["createTime"] == created["createTime"]
    assert body["eksCluster"] == EKS
    assert api.get("c1").json()["displayName"] == "new"


def test_update_accepts_identical_spec_and_read_only_fields(api: Api) -> None:
    created = api.create("c1", {"displayName": "a", "eksCluster": {**EKS, "clusterName": ""}}).json()
    assert created["eksCluster"] == EKS  # empty strings are dropped, as proto3 JSON would
    r = api.patch("c1", {**created, "displayName": "b"})
    assert r.status_code == 200, r.text
    assert r.json()["displayName"] == "b"


@pytest.mark.parametrize(
    "body",
    [
        {"eksCluster": {**EKS, "region": "eu-west-1"}},
        {"eksCluster": {**EKS, "clusterName": "other"}},
        {"fakeCluster": {"projectId": "p"}},
    ],
)
def test_update_of_spec_is_immutable(api: Api, body: dict[str, object]) -> None:
    api.create("c1")
    status, code, message = error_of(api.patch("c1", body))
    assert (status, code) == (400, 9)
    assert "immutable" in message


def test_update_errors(api: Api, clock: FakeClock) -> None:
    assert error_of(api.patch("missing", {"displayName": "x"}))[:2] == (404, 5)
    api.create("c1")
    assert error_of(api.patch("c1", {"displayName": "x" * 64}))[:2] == (400, 3)
    assert error_of(api.patch("c1", {"bogus": 1}))[:2] == (400, 3)
    api.delete("c1")
    assert error_of(api.patch("c1", {"displayName": "x"}))[:2] == (400, 9)


def test_connection_info(api: Api, clock: FakeClock) -> None:
    api.create("c1")
    status, code, message = error_of(api.connection_info("c1"))
    assert (status, code) == (400, 9) and "CREATING" in message
    clock.advance(10)
    r = api.connection_info("c1")
    assert r.status_code == 200
    info = r.json()
    assert set(info) == {"endpoint", "caData"}
    assert info["endpoint"].startswith("https://") and "us-east-1" in info["endpoint"]
    assert error_of(api.connection_info("missing"))[:2] == (404, 5)


def test_list_paginates_in_name_order(api: Api) -> None:
    ids = [f"c{i:02d}" for i in range(7)]
    for cluster_id in reversed(ids):
        assert api.create(cluster_id).status_code == 200
    api.create("other", account="someone-else")
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        params = {"pageSize": 3, **({"pageToken": token} if token else {})}
        body = api.list(**params).json()
        pages += 1
        assert body["totalSize"] == 7
        seen += [c["name"].rsplit("/", 1)[1] for c in body["clusters"]]
        token = body.get("nextPageToken")
        if not token:
            assert "nextPageToken" not in body
            break
    assert pages == 3
    assert seen == ids


def test_list_defaults_and_coercion(api: Api, backend: Backend) -> None:
    for i in range(55):
        api.create(f"c{i:02d}")
    default = api.list().json()
    assert len(default["clusters"]) == 50 and "nextPageToken" in default
    assert len(api.list(pageSize=1000).json()["clusters"]) == 55  # coerced to 200
    assert len(api.list(pageSize=0).json()["clusters"]) == 50


def test_list_empty_and_bad_parameters(api: Api) -> None:
    assert api.list().json() == {"clusters": [], "totalSize": 0}
    assert error_of(api.list(pageSize=-1))[:2] == (400, 3)
    assert error_of(api.list(pageSize="ten"))[:2] == (400, 3)
    assert error_of(api.list(pageToken="garbage"))[:2] == (400, 3)


def test_page_token_is_bound_to_the_account(api: Api) -> None:
    for i in range(3):
        api.create(f"c{i}")
        api.create(f"c{i}", account="other")
    token = api.list(pageSize=1).json()["nextPageToken"]
    r = api.request("GET", api.url(account="other"), params={"pageToken": token})
    assert error_of(r)[:2] == (400, 3)


def test_read_mask_limits_top_level_fields(api: Api) -> None:
    api.create("c1", {"displayName": "d", "eksCluster": EKS})
    assert api.get("c1", readMask="name,state").json() == {
        "name": f"accounts/{ACCOUNT}/clusters/c1",
        "state": "CREATING",
    }
    assert set(api.list(readMask="name").json()["clusters"][0]) == {"name"}
    assert "eksCluster" in api.get("c1", readMask="*").json()


def test_unknown_path_and_method(api: Api) -> None:
    r = api.request("GET", f"{api.base_url}/v1/nothing")
    assert error_of(r)[:2] == (404, 5)
    r = api.request("PUT", api.url("/c1"))
    assert error_of(r)[:2] == (501, 12)


def test_default_manager_role_option(emulator: EmulatorHandle, backend: Backend) -> None:
    backend.default_manager_role = True
    body = Api(emulator.base_url).create("c1").json()
    assert body["eksCluster"]["fireworksManagerRole"] == "arn:aws:iam::123456789012:role/FireworksManagerRole"


def test_reset_forgets_everything(api: Api, backend: Backend) -> None:
    api.create("c1")
    backend.fail_next(5)
    backend.reset()
    assert backend.requests == []
    assert backend.faults.pending == []
    assert api.list().json()["totalSize"] == 0
