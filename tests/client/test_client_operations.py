"""FireworksClient against the emulator: every operation and every injected fault."""

from __future__ import annotations

import logging
import time

import pytest

from pulumi_fwcluster import __version__
from pulumi_fwcluster.client import Cluster, FireworksClient
from pulumi_fwcluster.errors import (
    AlreadyExists,
    ConfigurationError,
    FireworksError,
    InvalidArgument,
    InvalidResponse,
    NotFound,
    PermissionDenied,
    RateLimited,
    Unauthenticated,
    Unavailable,
)
from pulumi_fwcluster.testing.emulator import EmulatorHandle
from pulumi_fwcluster.waiter import GONE, StateChange, WaitPolicy, wait_for
from tests.fwconst import ACCOUNT, API_KEY, AWS_ACCOUNT

EKS = {"awsAccountId": AWS_ACCOUNT, "region": "us-east-1", "clusterName": "prod"}


def make_client(fw: EmulatorHandle, key: str = API_KEY, **kw: object) -> FireworksClient:
    return FireworksClient(
        api_key=key,
        account_id=ACCOUNT,
        base_url=fw.base_url,
        retry_max_wait=0.05,
        **kw,  # type: ignore[arg-type]
    )


def eks_cluster(display: str = "Prod") -> Cluster:
    return Cluster(display_name=display, eks_cluster=dict(EKS))


def methods(fw: EmulatorHandle) -> list[str]:
    return [f"{r.method} {r.path}" for r in fw.backend.requests]


def test_create_get_list_update_delete(fireworks: EmulatorHandle) -> None:
    client = make_client(fireworks)
    created = client.create("prod", eks_cluster())
    assert created.confirmed
    assert created.cluster.name == f"accounts/{ACCOUNT}/clusters/prod"
    assert created.cluster.state == "CREATING"
    assert created.cluster.eks_cluster == EKS
    assert created.cluster.create_time

    got = client.get("prod")
    assert got.display_name == "Prod"

    updated = client.update("prod", {"displayName": "Renamed"})
    assert updated.display_name == "Renamed"
    assert fireworks.backend.requests[-1].body == {"displayName": "Renamed"}  # only the fields given

    ready = wait_for(lambda: client.find("prod"), StateChange(("CREATING",), ("READY",), WaitPolicy(5, 0.05)))
    assert ready is not None and ready.state == "READY"
    info = client.get_connection_info("prod")
    assert set(info) == {"endpoint", "caData"}

    client.delete("prod")
    assert client.get("prod").state == "DELETING"
    assert wait_for(lambda: client.find("prod"), StateChange(("DELETING",), (GONE,), WaitPolicy(5, 0.05))) is None
    assert client.find("prod") is None


def test_list_follows_every_page(fireworks: EmulatorHandle) -> None:
    client = make_client(fireworks)
    for i in range(5):
        client.create(f"c{i}", eks_cluster(f"C{i}"))
    names = [c.cluster_id for c in client.list(page_size=2)]
    assert names == [f"c{i}" for i in range(5)]
    pages = [r for r in fireworks.backend.requests if r.method == "GET"]
    assert len(pages) == 3
    assert "pageToken" not in pages[0].query and "pageToken" in pages[1].query


def test_unknown_fields_are_kept() -> None:
    data = {"name": "accounts/a/clusters/c", "state": "READY", "newField": {"x": 1}}
    cluster = Cluster.from_json(data)
    assert cluster.extra == {"newField": {"x": 1}}
    assert cluster.to_json() == data


def test_user_agent_and_auth_header(fireworks: EmulatorHandle) -> None:
    make_client(fireworks).find("nope")
    record = fireworks.backend.requests[0]
    assert record.auth_present
    assert record.user_agent == f"pulumi-fwcluster/{__version__}"


@pytest.mark.parametrize(
    ("action", "error", "code"),
    [
        (lambda c: c.create("Bad_Id", eks_cluster()), InvalidArgument, "INVALID_ARGUMENT"),
        (lambda c: c.get("missing"), NotFound, "NOT_FOUND"),
        (lambda c: c.update("missing", {"displayName": "x"}), NotFound, "NOT_FOUND"),
        (lambda c: c.delete("missing"), NotFound, "NOT_FOUND"),
    ],
)
def test_client_errors_are_typed_and_not_retried(fireworks: EmulatorHandle, action, error, code) -> None:  # type: ignore[no-untyped-def]
    client = make_client(fireworks)
    with pytest.raises(error) as info:
        action(client)
    assert info.value.code == code
    assert info.value.message  # the server's own message
    assert info.value.path and info.value.path.startswith(f"/v1/accounts/{ACCOUNT}/clusters")
    assert len(fireworks.backend.requests) == 1


def test_duplicate_create_is_already_exists(fireworks: EmulatorHandle) -> None:
    client = make_client(fireworks)
    client.create("prod", eks_cluster())
    with pytest.raises(AlreadyExists) as info:
        client.create("prod", eks_cluster())
    assert info.value.status == 409


def test_bad_key_is_unauthenticated_and_never_shown(
    fireworks: EmulatorHandle, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = make_client(fireworks, key="wrong-key-SECRET-VALUE")
    with pytest.raises(Unauthenticated) as info:
        client.get("prod")
    assert info.value.status == 401
    assert len(fireworks.backend.requests) == 1
    for text in (str(info.value), repr(info.value), repr(client), caplog.text):
        assert "wrong-key-SECRET-VALUE" not in text


def test_account_the_key_may_not_use_is_permission_denied(fireworks: EmulatorHandle) -> None:
    client = make_client(fireworks, key="narrow-key")
    with pytest.raises(PermissionDenied) as info:
        client.list().__next__()
    assert info.value.status == 403
    assert "narrow-key" not in str(info.value)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_retried(fireworks: EmulatorHandle, status: int) -> None:
    client = make_client(fireworks)
    client.create("prod", eks_cluster())
    fireworks.backend.fail_next(2, status=status, method="GET")
    assert client.get("prod").name.endswith("/prod")
    assert [r.status for r in fireworks.backend.requests[1:]] == [status, status, 200]


def test_rate_limit_is_retried_honouring_retry_after(fireworks: EmulatorHandle) -> None:
    client = make_client(fireworks)
    fireworks.backend.rate_limit_next(2, retry_after="30", method="POST")
    created = client.create("prod", eks_cluster())  # 429 means "not applied": a POST may repeat it
    assert created.confirmed
    assert [r.status for r in fireworks.backend.requests] == [429, 429, 200]
    assert fireworks.backend.cluster_names() == [f"accounts/{ACCOUNT}/clusters/prod"]


def test_retries_give_up_with_the_right_type(fireworks: EmulatorHandle) -> None:
    client = make_client(fireworks, max_retries=1)
    fireworks.backend.rate_limit_next(5, method="GET")
    with pytest.raises(RateLimited) as info:
        client.get("prod")
    assert info.value.status == 429
    assert len(fireworks.backend.requests) == 2


def test_create_with_lost_reply_finds_the_cluster(fireworks: EmulatorHandle) -> None:
    client = make_client(fireworks)
    fireworks.backend.drop_response_next(method="POST")
    outcome = client.create("prod", eks_cluster())
    assert not outcome.confirmed
    assert outcome.cluster.name == f"accounts/{ACCOUNT}/clusters/prod"
    assert fireworks.backend.cluster_names() == [f"accounts/{ACCOUNT}/clusters/prod"]
    assert methods(fireworks) == [f"POST /v1/accounts/{ACCOUNT}/clusters", f"GET /v1/accounts/{ACCOUNT}/clusters/prod"]


def test_create_with_5xx_not_applied_says_retry_is_safe(fireworks: EmulatorHandle) -> None:
    client = make_client(fireworks)
    fireworks.backend.fail_next(1, status=503, method="POST")
    with pytest.raises(Unavailable) as info:
        client.create("prod", eks_cluster())
    assert "no cluster 'prod' exists" in str(info.value)
    assert fireworks.backend.cluster_names() == []
    assert [r.method for r in fireworks.backend.requests] == ["POST", "GET"]  # POST was not repeated


def test_slow_reply_times_out_without_repeating_the_post(fireworks: EmulatorHandle) -> None:
    client = make_client(fireworks, timeout=(1.0, 0.3))
    fireworks.backend.slow_next(1, seconds=0.6, method="POST")
    with pytest.raises(Unavailable, match="ReadTimeout") as info:
        client.create("prod", eks_cluster())
    assert "retry is safe" in str(info.value)
    time.sleep(1.0)  # let the slow POST land
    assert [r.method for r in fireworks.backend.requests if r.method == "POST"] == ["POST"]  # sent once
    assert fireworks.backend.cluster_names() == [f"accounts/{ACCOUNT}/clusters/prod"]


def test_unreachable_service_is_unavailable() -> None:
    client = FireworksClient(api_key=API_KEY, account_id=ACCOUNT, base_url="http://127.0.0.1:9", max_retries=0)
    with pytest.raises(Unavailable) as info:
        client.get("prod")
    assert API_KEY not in str(info.value)


def test_missing_settings_name_both_ways_to_set_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FIREWORKS_API_KEY", raising=False)
    monkeypatch.delenv("FIREWORKS_ACCOUNT_ID", raising=False)
    with pytest.raises(ConfigurationError, match="FIREWORKS_API_KEY") as info:
        FireworksClient(account_id=ACCOUNT)
    assert "api_key" in str(info.value)
    with pytest.raises(ConfigurationError, match="FIREWORKS_ACCOUNT_ID"):
        FireworksClient(api_key=API_KEY)


def test_errors_share_one_base() -> None:
    assert all(issubclass(e, FireworksError) for e in (InvalidArgument, NotFound, Unavailable, RateLimited))


def test_a_success_status_with_a_body_that_is_not_json_is_a_typed_error(fireworks: EmulatorHandle) -> None:
    client = make_client(fireworks)
    client.create("prod", eks_cluster())
    fireworks.backend.garbage_next(method="GET")
    with pytest.raises(InvalidResponse) as caught:
        client.get("prod")
    err = caught.value
    assert err.status == 200 and err.method == "GET" and err.path == f"/v1/accounts/{ACCOUNT}/clusters/prod"
    assert "not JSON" in str(err) and "text/html" in str(err)


def test_a_create_whose_reply_is_not_json_looks_the_cluster_up(fireworks: EmulatorHandle) -> None:
    client = make_client(fireworks)
    fireworks.backend.garbage_next(method="POST")  # applied, but the reply is a proxy's page
    outcome = client.create("prod", eks_cluster())
    assert not outcome.confirmed and outcome.cluster.name == f"accounts/{ACCOUNT}/clusters/prod"
    assert [r.method for r in fireworks.backend.requests] == ["POST", "GET"]
