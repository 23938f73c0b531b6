"""The poller: target states, gone, FAILED, timeouts and backoff, on a fake clock."""

from __future__ import annotations

import pytest

from pulumi_fwcluster.client import Cluster
from pulumi_fwcluster.errors import ClusterFailed, FireworksError, WaitTimeout
from pulumi_fwcluster.waiter import GONE, StateChange, WaitPolicy, wait_for


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def states(*seq: str | None) -> tuple[list[str | None], object]:
    remaining = list(seq)

    def refresh() -> Cluster | None:
        state = remaining.pop(0) if len(remaining) > 1 else remaining[0]
        if state is None:
            return None
        return Cluster(name="accounts/a/clusters/c", state=state, status={"code": "INTERNAL", "message": "boom"})

    return remaining, refresh


def test_waits_until_target_with_backoff_to_a_cap() -> None:
    clock = Clock()
    _, refresh = states(*["CREATING"] * 6, "READY")
    cluster = wait_for(
        refresh,  # type: ignore[arg-type]
        StateChange(("CREATING",), ("READY",), WaitPolicy(timeout=100, initial=1, maximum=3, factor=2)),
        sleep=clock.sleep,
        clock=clock,
    )
    assert cluster is not None and cluster.state == "READY"
    assert clock.sleeps == [1, 2, 3, 3, 3, 3]


def test_gone_is_a_target() -> None:
    clock = Clock()
    _, refresh = states("DELETING", None)
    change = StateChange(("DELETING",), (GONE,), WaitPolicy(timeout=10, initial=0.5))
    assert wait_for(refresh, change, sleep=clock.sleep, clock=clock) is None  # type: ignore[arg-type]


def test_failed_fails_fast_with_status() -> None:
    clock = Clock()
    _, refresh = states("CREATING", "FAILED")
    with pytest.raises(ClusterFailed) as info:
        wait_for(refresh, StateChange(("CREATING",), ("READY",), WaitPolicy(10)), sleep=clock.sleep, clock=clock)  # type: ignore[arg-type]
    assert info.value.code == "INTERNAL" and "boom" in info.value.message
    assert len(clock.sleeps) == 1


def test_timeout_names_the_last_state_and_never_oversleeps() -> None:
    clock = Clock()
    _, refresh = states("CREATING")
    with pytest.raises(WaitTimeout) as info:
        wait_for(refresh, StateChange(("CREATING",), ("READY",), WaitPolicy(5, 2, 2)), sleep=clock.sleep, clock=clock)  # type: ignore[arg-type]
    assert info.value.last_state == "CREATING" and "CREATING" in str(info.value)
    assert clock.now == 5


def test_unexpected_state_is_an_error() -> None:
    clock = Clock()
    _, refresh = states("DELETING")
    with pytest.raises(FireworksError, match="DELETING"):
        wait_for(refresh, StateChange(("CREATING",), ("READY",), WaitPolicy(5)), sleep=clock.sleep, clock=clock)  # type: ignore[arg-type]


def test_a_reply_in_hand_counts_as_the_first_poll() -> None:
    clock = Clock()
    calls: list[str] = []

    def refresh() -> Cluster:
        calls.append("GET")
        return Cluster(name="accounts/a/clusters/c", state="READY")

    creating = Cluster(name="accounts/a/clusters/c", state="CREATING")
    change = StateChange(("CREATING",), ("READY",), WaitPolicy(timeout=10, initial=1))
    assert wait_for(refresh, change, seen=creating, sleep=clock.sleep, clock=clock) is not None
    assert calls == ["GET"] and clock.sleeps == [1]  # slept first, then one poll
    ready = Cluster(name="accounts/a/clusters/c", state="READY")
    assert wait_for(refresh, change, seen=ready, sleep=clock.sleep, clock=clock) is ready
    assert calls == ["GET"]  # already READY: no request at all
