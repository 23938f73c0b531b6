"""Wait for a cluster to reach a target state, or to be gone: one poller for create, adopt, update and delete.

Modelled on terraform-provider-aws's StateChangeConf: pending and target states, a deadline, and a poll interval
that backs off from a short first wait to a cap. A wait can last an hour, longer than any HTTP retry budget, so a
transient error (no reply, 429, 5xx) while polling counts as "still pending": only the operation's own deadline
ends the wait, and the timeout then reports the last error seen.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import ClusterFailed, FireworksError, WaitCancelled, WaitTimeout, is_transient

if TYPE_CHECKING:  # the client (and requests) loads only where HTTP is needed
    from .client import Cluster

GONE = "GONE"  # the pseudo-state of a cluster that no longer exists
ANY_STATE: Collection[str] = frozenset({"*"})
"""As `pending`: every state but the targets is pending (a delete waits for GONE from whatever state)."""


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

    def is_pending(self, state: str) -> bool:
        return self.pending is ANY_STATE or state in self.pending


def _napper(cancel: threading.Event | None) -> Callable[[float], None]:
    if cancel is None:
        return time.sleep
    event = cancel

    def nap(seconds: float) -> None:
        event.wait(seconds)  # a cancel wakes the wait at once

    return nap


def status_of(cluster: Cluster | None) -> str:
    return GONE if cluster is None else cluster.state


def wait_for(
    refresh: Callable[[], Cluster | None],
    change: StateChange,
    *,
    seen: Cluster | None = None,
    cancel: threading.Event | None = None,
    sleep: Callable[[float], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Cluster | None:
    """Poll `refresh` (None means the cluster is gone) until its state is a target.

    `seen` is a state already in hand, such as the reply to the POST or PATCH that started the change: it counts
    as the first poll, so no request repeats what the reply just said. Raises ClusterFailed on FAILED unless FAILED
    is pending (with the cluster's status code and message), WaitTimeout at the deadline (naming the last state
    and the last transient error), WaitCancelled when `cancel` is set, and FireworksError on a state that is
    neither pending nor target, or on an error that retrying cannot fix."""
    deadline = clock() + change.policy.timeout
    interval = change.policy.initial
    nap = sleep if sleep is not None else _napper(cancel)
    state = "UNKNOWN"
    last_error: FireworksError | None = None
    while True:
        if cancel is not None and cancel.is_set():
            raise WaitCancelled(f"stopped waiting for {change.what}: the operation was cancelled", last_state=state)
        try:
            cluster, seen = (seen, None) if seen is not None else (refresh(), None)
        except FireworksError as exc:
            if not is_transient(exc):
                raise
            last_error = exc
        else:
            last_error = None
            state = status_of(cluster)
            if state in change.target:
                return cluster
            if state == "FAILED" and cluster is not None and not change.is_pending(state):
                raise ClusterFailed(cluster.status_message or "no status message", code=cluster.status_code or "FAILED")
            if not change.is_pending(state):
                raise FireworksError(
                    f"{change.what} is {state}, expected one of {', '.join(sorted(change.target))}",
                    code="FAILED_PRECONDITION",
                )
        remaining = deadline - clock()
        if remaining <= 0:
            tail = f"; the last poll failed: {last_error}" if last_error is not None else ""
            raise WaitTimeout(
                f"{change.what} still {state} after {change.policy.timeout:g}s "
                f"(waiting for {', '.join(sorted(change.target))}){tail}",
                last_state=state,
                last_error=last_error,
            )
        nap(min(interval, remaining))
        interval = min(interval * change.policy.factor, change.policy.maximum)
