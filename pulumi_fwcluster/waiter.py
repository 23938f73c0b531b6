"""Wait for a cluster to reach a target state, or to be gone: one poller for create, adopt, update and delete.

Modelled on terraform-provider-aws's StateChangeConf: pending and target states, a deadline, and a poll interval
that backs off from a short first wait to a cap.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import ClusterFailed, FireworksError, WaitTimeout

if TYPE_CHECKING:  # the client (and requests) loads only where HTTP is needed
    from .client import Cluster

GONE = "GONE"  # the pseudo-state of a cluster that no longer exists


@dataclass(frozen=True)
class WaitPolicy:
    timeout: float
    initial: float = 0.5
    maximum: float = 10.0
    factor: float = 1.5


@dataclass(frozen=True)
class StateChange:
    pending: Collection[str]
    target: Collection[str]
    policy: WaitPolicy
    what: str = "cluster"


def status_of(cluster: Cluster | None) -> str:
    return GONE if cluster is None else cluster.state


def wait_for(
    refresh: Callable[[], Cluster | None],
    change: StateChange,
    *,
    seen: Cluster | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Cluster | None:
    """Poll `refresh` (None means the cluster is gone) until its state is a target.

    `seen` is a state already in hand, such as the reply to the POST or PATCH that started the change: it counts
    as the first poll, so no request repeats what the reply just said. Raises ClusterFailed on FAILED (with the
    cluster's status code and message), WaitTimeout at the deadline (naming the last state seen), and
    FireworksError on a state that is neither pending nor target."""
    deadline = clock() + change.policy.timeout
    interval = change.policy.initial
    while True:
        cluster, seen = (seen, None) if seen is not None else (refresh(), None)
        state = status_of(cluster)
        if state in change.target:
            return cluster
        if state == "FAILED" and cluster is not None:
            raise ClusterFailed(
                f"{change.what} {cluster.name} is FAILED: {cluster.status_message or 'no status message'}",
                code=cluster.status_code or "FAILED",
            )
        if state not in change.pending:
            raise FireworksError(
                f"{change.what} is {state}, expected one of {', '.join(sorted(change.target))}",
                code="FAILED_PRECONDITION",
            )
        remaining = deadline - clock()
        if remaining <= 0:
            raise WaitTimeout(
                f"{change.what} still {state} after {change.policy.timeout:g}s "
                f"(waiting for {', '.join(sorted(change.target))})",
                last_state=state,
            )
        sleep(min(interval, remaining))
        interval = min(interval * change.policy.factor, change.policy.maximum)
