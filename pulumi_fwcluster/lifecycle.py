"""The lifecycle of a Fireworks cluster, once, for both doors: the dynamic provider and the native plugin.

Plain dicts in, plain results out. Nothing here knows `pulumi.dynamic` or the experimental provider types: an
adapter turns the engine's request into a call here and the result back into the engine's reply. The rules live
below this module (`spec` for fields and changes, `preflight` for AWS, `client` for HTTP, `waiter` for polling);
what lives here is the order of things and what each failure means for the stack:

- adoption: a create takes over an existing cluster only when it is provably this resource's (this very call
  sent the POST whose reply was lost, or an interrupted `up` left it still CREATING) or when the program opts in
  with `adoptExisting`; anything else is refused with the ways out;
- refresh: the recorded inputs keep what the program declared, so a value the API fills in never turns into a
  replacement, and a FAILED cluster is planned for replacement with a warning;
- the endpoint guard: only the endpoint that recorded a cluster may call it gone;
- waits outlive outages: transient errors while polling count as pending until the operation's deadline.

Every error raised says what happened, what state the cluster is in, and what the next `pulumi up` (or
`destroy`) will do.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from . import spec
from .errors import AlreadyExists, ClusterFailed, FireworksError, NotFound, WaitCancelled, WaitTimeout, is_transient
from .ledger import CommandMarks, Ledger
from .settings import SETTINGS, Settings, resolve
from .waiter import ANY_STATE, GONE, StateChange, WaitPolicy, wait_for

if TYPE_CHECKING:  # check and diff never need HTTP: requests loads on the first create, read, update or delete
    from .client import Cluster, FireworksClient
    from .preflight import PreflightReport

Severity = Literal["info", "warning", "error"]
Log = Callable[[Severity, str], None]
Op = Literal["create", "update", "delete"]

PROVISIONING = ("CREATING", "STATE_UNSPECIFIED")
PREFLIGHT_REUSE_SECONDS = 60.0
# A lost POST reply adopts the cluster it finds only if that cluster is no older than the POST: an older one existed
# before, and is someone else's. Both times are on Fireworks' clock (the POST's through the Date header, which, floored
# to the second and read after the reply, can only make the POST look earlier), so the margin covers nothing but clock
# differences between Fireworks' own servers. Kept small: any cluster created within it counts as this create's.
LOST_REPLY_MARGIN_SECONDS = 1.0
CONFIG_KEYS = tuple(s.config_key for s in SETTINGS if s.config_key)
CALL_LOG: ContextVar[Log | None] = ContextVar("fwcluster_call_log", default=None)
"""Where this call's messages go, when its door can attach them to the resource (the native plugin sets it per
request, to log against the URN); otherwise the log the lifecycle was built with."""


class LifecycleError(Exception):
    """An operation could not finish. The text says what happened, the state the cluster is in, and what the next
    `pulumi up` (or `destroy`) will do."""


class Incomplete(LifecycleError):
    """The cluster exists but the operation did not finish (FAILED, a timeout, a cancel). Raised only for a door
    that can record a partial result (the native provider's init failure), so the stack keeps the cluster."""

    def __init__(self, message: str, *, resource_id: str, outputs: dict[str, Any], inputs: dict[str, Any]) -> None:
        super().__init__(message)
        self.resource_id = resource_id
        self.outputs = outputs
        self.inputs = inputs


@dataclass(frozen=True)
class Checked:
    inputs: dict[str, Any]
    failures: list[spec.Failure]


@dataclass(frozen=True)
class Created:
    id: str
    outputs: dict[str, Any]


@dataclass(frozen=True)
class Read:
    """A refresh's result: `id` None means the cluster is gone (proven, not guessed)."""

    id: str | None
    outputs: dict[str, Any]
    inputs: dict[str, Any]


def _silent(_severity: Severity, _message: str) -> None:
    pass


def parse_id(resource_id: str) -> tuple[str, str]:
    parts = resource_id.split("/")
    if len(parts) != 4 or parts[0] != "accounts" or parts[2] != "clusters" or not parts[1] or not parts[3]:
        raise LifecycleError(f"{resource_id!r} is not a cluster name of the form accounts/<account>/clusters/<id>")
    return parts[1], parts[3]


def cluster_name(account: str, cluster_id: str) -> str:
    return f"accounts/{account}/clusters/{cluster_id}"


def strip_engine_keys(props: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in props.items() if not k.startswith("__")}


def _known_name(props: Mapping[str, Any], is_unknown: spec.IsUnknown) -> str | None:
    """The cluster name the props declare, when both parts are known strings."""
    account, cluster_id = props.get("accountId"), props.get("clusterId")
    if any(not isinstance(v, str) or not v or is_unknown(v) for v in (account, cluster_id)):
        return None
    return cluster_name(str(account), str(cluster_id))


def live_props(account: str, cluster: Cluster) -> dict[str, Any]:
    """A live cluster in the shape of the resource's inputs."""
    return {
        "accountId": account,
        "clusterId": cluster.cluster_id,
        "displayName": cluster.display_name,
        "eksCluster": cluster.eks_cluster,
        "fakeCluster": cluster.fake_cluster,
    }


def contains_unknown(value: Any, is_unknown: spec.IsUnknown) -> bool:
    if is_unknown(value):
        return True
    if isinstance(value, Mapping):
        return any(contains_unknown(v, is_unknown) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(contains_unknown(v, is_unknown) for v in value)
    return False


class ClusterLifecycle:
    """Check, diff, create, read, update and delete for one provider process; safe to share across threads.

    `log` receives what the user should see (warnings about adoption, FAILED clusters, preflight findings).
    `records_partial` says whether the door can record a cluster that exists but did not become ready (the native
    plugin can; a dynamic provider records nothing when create fails), which changes what a failed create does.
    `ledger`, when given, is the process's one ledger, shared with every other instance and never replaced: the
    dynamic server makes an instance per distinct `__provider` string (an old one stays in the state for years), all
    serving one command. Without it the instance keeps its own, and a `configure` (a new command) starts it afresh."""

    def __init__(self, log: Log = _silent, *, records_partial: bool = False, ledger: Ledger | None = None) -> None:
        self._default_log = log
        self.records_partial = records_partial
        self._config: dict[str, str] = {}
        self._settings: Settings | None = None
        self._local = threading.local()
        self._lock = threading.Lock()
        self._preflight_passed: dict[str, tuple[float, PreflightReport]] = {}
        self._said_no_credentials = False
        self._shared_ledger = ledger is not None
        self._ledger = ledger if ledger is not None else Ledger(marks=CommandMarks.of_this_process())

    def _log(self, severity: Severity, message: str) -> None:
        (CALL_LOG.get() or self._default_log)(severity, message)

    # -- settings and clients ---------------------------------------------------------------------------------

    def configure(self, config: Mapping[str, Any]) -> None:
        """Take the stack config (namespaced keys, values as strings); unknown keys are ignored."""
        kept = {k: str(config[k]) for k in CONFIG_KEYS if config.get(k) is not None}
        with self._lock:
            self._config = kept
            self._settings = None
            if not self._shared_ledger:  # configured once per command
                self._ledger = Ledger(marks=CommandMarks.of_this_process(new_command=True))

    @property
    def settings(self) -> Settings:
        with self._lock:
            if self._settings is None:
                self._settings = resolve(config=self._config, env=os.environ)
            return self._settings

    def _client(self) -> FireworksClient:
        # requests.Session is not documented as thread-safe, and both doors call from several threads.
        settings = self.settings
        cached: tuple[Settings, FireworksClient] | None = getattr(self._local, "client", None)
        if cached is None or cached[0] is not settings:
            from .client import FireworksClient

            cached = (settings, FireworksClient(settings=settings))
            self._local.client = cached
        return cached[1]

    def _endpoint(self) -> str:
        return self.settings.base_url.rstrip("/")

    def _policy(self, timeout: float) -> WaitPolicy:
        s = self.settings
        return WaitPolicy(timeout=timeout, initial=s.poll_interval, maximum=s.max_poll_interval)

    def _deadline(self, op: Op, timeout: float | None) -> tuple[float, str]:
        """The wait deadline and the name of the setting that gave it (said when it runs out)."""
        if timeout:
            return timeout, f"customTimeouts.{op}"
        return float(getattr(self.settings, f"{op}_timeout")), f"fireworks:{op}Timeout"

    # -- check and diff: offline, except for the AWS preflight ----------------------------------------------

    def check(self, olds: Mapping[str, Any], news: Mapping[str, Any], is_unknown: spec.IsUnknown) -> Checked:
        props = dict(news)
        if props.get("accountId") in (None, ""):
            account = self.settings.account_id
            if account:
                props["accountId"] = account
        inputs, failures = spec.normalize(props, is_unknown)
        if "accountId" not in inputs and not any(f.path == "accountId" for f in failures):
            failures.insert(0, spec.Failure("accountId", _MISSING_ACCOUNT))
        declared = _known_name(inputs, is_unknown)
        if declared is not None:
            # "Checked with old inputs" means the same resource under the same name; a new clusterId is a new name.
            self._ledger.checked(declared, had_olds=_known_name(olds, is_unknown) == declared)
        if not failures and self._needs_preflight(olds, inputs, is_unknown):
            failures.extend(self._blocking(self._preflight(inputs["eksCluster"])))
        return Checked(inputs, failures)

    def _needs_preflight(self, olds: Mapping[str, Any], inputs: Mapping[str, Any], is_unknown: spec.IsUnknown) -> bool:
        eks = inputs.get("eksCluster")
        if not eks or contains_unknown(eks, is_unknown) or self.settings.preflight == "off":
            return False
        old_eks = olds.get("eksCluster")
        return bool(contains_unknown(old_eks, is_unknown) or old_eks != eks)

    def _preflight(self, eks: Mapping[str, Any]) -> PreflightReport:
        # `up` checks a spec and creates it seconds later in this process (a replacement checks it twice): a pass
        # that recent is reused, so only a stale preview pays for a second round of AWS calls before submission.
        key = json.dumps(eks, sort_keys=True)
        with self._lock:
            passed = self._preflight_passed.get(key)
        if passed is not None and time.monotonic() - passed[0] < PREFLIGHT_REUSE_SECONDS:
            return passed[1]
        from .preflight import run_preflight
        from .preflight.session import session_for

        settings = self.settings
        report = run_preflight(dict(eks), lambda: session_for(settings))
        if report.ok:
            with self._lock:
                self._preflight_passed[key] = (time.monotonic(), report)
        for finding in report.warnings:
            self._log("warning", f"preflight {finding.field or 'aws'}: {finding.message}")
        return report

    def _blocking(self, report: PreflightReport) -> list[spec.Failure]:
        """The failures that stop a check or a create: none in warn mode, which only logs them."""
        if self.settings.preflight == "warn":
            for finding in report.failures:
                self._log("warning", f"preflight (warn mode, not blocking) {finding.field or 'aws'}: {finding.message}")
            return []
        return [
            spec.Failure(f.field or "eksCluster", f.message + (f" ({f.remediation})" if f.remediation else ""))
            for f in report.failures
        ]

    def diff(
        self, resource_id: str, olds: Mapping[str, Any], news: Mapping[str, Any], is_unknown: spec.IsUnknown
    ) -> spec.ChangePlan:
        """Compare the old outputs with the checked news. Beyond the fields: a FAILED cluster is replaced (the API
        says it must be deleted and re-created), and a cluster recorded through another endpoint is re-recorded by
        an update that first finds it there."""
        name = resource_id or "cluster"
        plan = spec.diff(olds, news, is_unknown)
        if olds.get("state") == "FAILED":
            plan = plan.plus(spec.Change("state", "update", True))
            status = olds.get("status") or {}
            self._log(
                "warning",
                f"{name} is FAILED ({status.get('code') or 'FAILED'}: {status.get('message') or 'no status message'}). "
                "Fireworks requires a FAILED cluster to be deleted and re-created, so this plan replaces it.",
            )
        recorded = olds.get("endpoint")
        if recorded and not same_endpoint(recorded, self._endpoint()):
            plan = plan.plus(spec.Change("endpoint", "update", False))
            self._log(
                "warning",
                f"{name} was recorded through {recorded}; fireworks:baseUrl is now {self._endpoint()}. `pulumi up` "
                "looks for the cluster there and records the new endpoint only if it finds it.",
            )
        if plan.delete_before_replace:
            replaced = _known_name(news, is_unknown)
            if replaced is not None:
                self._ledger.replaced_in_place(replaced)
        if plan.any:
            self._log("info", f"{name}: changes {plan.describe()}")
        return plan

    # -- create: adopt only what is provably ours -----------------------------------------------------------

    def create(
        self, props: Mapping[str, Any], *, timeout: float | None = None, cancel: threading.Event | None = None
    ) -> Created:
        inputs = strip_engine_keys(props)
        account, cluster_id = inputs["accountId"], inputs["clusterId"]
        name = cluster_name(account, cluster_id)
        report = None
        if inputs.get("eksCluster") and self.settings.preflight != "off":
            report = self._preflight(inputs["eksCluster"])
            failures = self._blocking(report)
            if failures:
                raise LifecycleError(
                    f"{name} was not submitted: the AWS preflight failed: "
                    + "; ".join(f"{f.path}: {f.reason}" for f in failures)
                )
        client = self._client()
        retry = (
            "Nothing was recorded in the stack; the next `pulumi up` tries again. If the request did reach Fireworks, "
            "the next `pulumi up` adopts the cluster while it is still CREATING; once it is READY, only with "
            "`adopt_existing=True`."
        )
        token = object()
        holder = self._ledger.claim(name, token)
        if holder is not None:
            raise LifecycleError(
                f"{name} is being created by another resource of this `pulumi up`: two resources declare the same "
                "clusterId, so this one was not submitted and nothing was recorded for it. Remove one of them, or give "
                "it another clusterId."
            )
        seconds, source = self._deadline("create", timeout)
        deadline = time.monotonic() + seconds
        with _explained(f"creating {name} failed", retry):
            try:
                submitted = self._submit(client, inputs, token, deadline, cancel)
            except (WaitTimeout, WaitCancelled) as exc:  # only a cluster on its way out is waited on before the POST
                why = (
                    f"the create's deadline ({seconds:g}s, {source}) ran out"
                    if isinstance(exc, WaitTimeout)
                    else ("the operation was cancelled")
                )
                raise LifecycleError(
                    f"{name} was not created: a cluster with this name was still {exc.last_state or 'DELETING'} "
                    f"(being deleted) when {why}. Nothing was recorded in the stack; the next `pulumi up` creates it "
                    "once the old one is gone."
                ) from None
            try:
                cluster = self._wait_ready(client, inputs, name, "create", timeout, cancel, seen=submitted)
            except Incomplete:
                self._ledger.recorded(name, token)  # the engine records it, with its error
                raise
        outputs = self._outputs(inputs, cluster)
        if report is not None:  # what the submission's checks found: a first refresh then shows no change
            outputs["awsFindings"] = aws_findings(report)
        self._ledger.recorded(name, token)
        return Created(name, outputs)

    def _submit(
        self,
        client: FireworksClient,
        inputs: Mapping[str, Any],
        token: object,
        deadline: float,
        cancel: threading.Event | None,
    ) -> Cluster:
        """POST the cluster; a POST that provably changed nothing (the follow-up look-up found no cluster) is sent
        again, with backoff, until the create's deadline."""
        from .client import Cluster

        account, cluster_id = inputs["accountId"], inputs["clusterId"]
        name = cluster_name(account, cluster_id)
        body = Cluster.from_json(spec.request_body(inputs))
        interval = self.settings.poll_interval
        while True:
            started = time.time()
            try:
                outcome = client.create(cluster_id, body, account_id=account)
            except AlreadyExists:
                existing = client.get(cluster_id, account_id=account)
                return self._take_over(client, inputs, existing, token, deadline, cancel, lost_reply=None)
            except FireworksError as exc:
                if not (exc.retry_safe and is_transient(exc)) or time.monotonic() + interval > deadline:
                    if exc.status is not None and exc.status < 500 and exc.status != 429:
                        self._ledger.release(name, token)  # refused outright: this create made nothing
                    raise
                self._log("info", f"{name}: {exc.message}; sending the create again")
                if cancel is None:
                    time.sleep(interval)
                elif cancel.wait(interval):
                    raise
                interval = min(interval * 2, self.settings.max_poll_interval)
                continue
            if outcome.confirmed:
                return outcome.cluster
            # The reply was lost. The time of the POST, on Fireworks' clock (the follow-up look-up's Date header);
            # with no Date header the two clocks cannot be compared, and only the CREATING rule may adopt.
            offset = client.server_clock_offset
            sent = None if offset is None else started + offset
            return self._take_over(client, inputs, outcome.cluster, token, deadline, cancel, lost_reply=sent)

    def _take_over(
        self,
        client: FireworksClient,
        inputs: Mapping[str, Any],
        existing: Cluster,
        token: object,
        deadline: float,
        cancel: threading.Event | None,
        *,
        lost_reply: float | None,
    ) -> Cluster:
        """Decide what to do with a cluster that exists under the name this create wanted."""
        account = inputs["accountId"]
        if existing.state == "DELETING":  # on its way out (a delete-before-replace, a FAILED cluster, a destroy)
            wait_for(
                lambda: client.find(existing.cluster_id, account_id=account),
                StateChange(ANY_STATE, (GONE,), self._policy(max(deadline - time.monotonic(), 0.0)), existing.name),
                cancel=cancel,
            )
            return self._submit(client, inputs, token, deadline, cancel)
        differing = spec.mismatches(inputs, live_props(account, existing))
        if differing:
            raise LifecycleError(
                f"{existing.name} already exists with a different spec ({', '.join(differing)} differ), so it was "
                "left untouched and nothing was recorded. Choose another clusterId, or delete that cluster, then "
                "run `pulumi up` again."
            )
        if self._ledger.is_replacing(existing.name):
            # This create replaces a resource that keeps its name, and the old cluster is still there: the engine
            # is creating first (`pulumi up --replace` asks the provider nothing), which for one name cannot work.
            raise LifecycleError(
                f"{existing.name} is being replaced, but the plan creates the new cluster before deleting the old one, "
                "and Fireworks cannot hold two clusters with one name: nothing was changed. A replacement that keeps "
                "the clusterId must delete first: set `delete_before_replace=True` in the resource's options (what "
                "`pulumi up --replace` needs), then run it again. (If instead two resources of this program declare this "
                "clusterId, a copied block, remove one of them.)"
            )
        if lost_reply is not None and _created_since(existing, lost_reply - LOST_REPLY_MARGIN_SECONDS):
            self._log(
                "warning", f"{existing.name}: the reply to this create was lost; continuing with the cluster it made"
            )
        elif existing.state == "CREATING":
            self._log(
                "warning",
                f"{existing.name} already exists, matches this resource and is still CREATING: an interrupted "
                "`pulumi up` submitted it, so this run adopts it and waits for it to be READY. (If another stack is "
                "creating it right now, it now has two owners: see the README on adoption.)",
            )
        elif inputs.get("adoptExisting"):
            self._log(
                "warning", f"{existing.name} already exists ({existing.state}) and matches: adopting it (adoptExisting)"
            )
        else:
            raise LifecycleError(
                f"{existing.name} already exists ({existing.state}) and was not created by this resource, so nothing "
                "was changed and nothing was recorded. If you renamed this resource, moved it to another parent or "
                "switched it between pulumi_fwcluster.Cluster and pulumi_fwcluster.native.Cluster, add "
                "`aliases=[...]` with its old name or type (or URN) so Pulumi keeps managing the same cluster. If this "
                "stack should take over the existing cluster, set `adopt_existing=True` (adoptExisting: true), and "
                "make sure no other stack manages it."
            )
        want = inputs.get("displayName") or ""
        if want != existing.display_name:
            existing = client.update(existing.cluster_id, {"displayName": want}, account_id=account)
        return existing

    def _wait_ready(
        self,
        client: FireworksClient,
        inputs: Mapping[str, Any],
        name: str,
        op: Op,
        timeout: float | None,
        cancel: threading.Event | None,
        *,
        seen: Cluster | None,
    ) -> Cluster:
        account, cluster_id = inputs["accountId"], inputs["clusterId"]
        seconds, source = self._deadline(op, timeout)
        last: list[Cluster | None] = [seen]

        def refresh() -> Cluster | None:
            found = client.find(cluster_id, account_id=account)
            last[0] = found
            return found

        change = StateChange(PROVISIONING, ("READY",), self._policy(seconds), name)
        try:
            cluster = wait_for(refresh, change, seen=seen, cancel=cancel)
        except ClusterFailed as exc:
            raise self._failed(client, inputs, name, op, exc, last[0]) from None
        except (WaitTimeout, WaitCancelled) as exc:
            why = (
                f"is still {exc.last_state} after {seconds:g}s ({source})"
                if isinstance(exc, WaitTimeout)
                else f"was still {exc.last_state} when the operation was cancelled"
            )
            if isinstance(exc, WaitTimeout) and exc.last_error is not None:
                why += f"; the last poll failed: {exc.last_error}"
            raise self._unfinished(inputs, name, op, why, last[0]) from None
        if cluster is None:
            raise LifecycleError(
                f"{name} disappeared during {op}; run `pulumi refresh`, then `pulumi up` creates it again."
            )
        return cluster

    def _failed(
        self,
        client: FireworksClient,
        inputs: Mapping[str, Any],
        name: str,
        op: Op,
        exc: ClusterFailed,
        cluster: Cluster | None,
    ) -> LifecycleError:
        what = (
            f"{name} is FAILED after {'its creation' if op == 'create' else 'the update'}: {exc.code}: {exc.message}."
        )
        if self.records_partial and cluster is not None:
            return Incomplete(
                f"{what} It is recorded in the stack as FAILED: the next `pulumi up` replaces it (deleting it first), "
                "and `pulumi destroy` deletes it.",
                resource_id=name,
                outputs=self._outputs(inputs, cluster),
                inputs=dict(inputs),
            )
        if op == "update":  # the cluster is in the stack with its old outputs; a refresh records FAILED
            return LifecycleError(
                f"{what} The stack keeps the old values. Run `pulumi refresh`: it records the FAILED state, and the "
                "next `pulumi up` replaces the cluster (a FAILED cluster must be deleted and re-created)."
            )
        cleanup = self._delete_failed(client, inputs["accountId"], inputs["clusterId"])
        return LifecycleError(
            f"{what} {cleanup} Nothing was recorded in the stack; fix the cause and run `pulumi up` to create it anew."
        )

    def _unfinished(
        self, inputs: Mapping[str, Any], name: str, op: Op, why: str, cluster: Cluster | None
    ) -> LifecycleError:
        if self.records_partial and cluster is not None:
            return Incomplete(
                f"{name} {why}. Fireworks is still working on it; it is recorded in the stack, and the next `pulumi up` "
                "resumes waiting.",
                resource_id=name,
                outputs=self._outputs(inputs, cluster),
                inputs=dict(inputs),
            )
        if op == "update":
            return LifecycleError(
                f"{name} {why}. The stack keeps the old values; the next `pulumi up` sends the change again and "
                "resumes waiting."
            )
        return LifecycleError(
            f"{name} {why}. The cluster exists and Fireworks is still working on it; nothing was recorded in the "
            "stack. The next `pulumi up` adopts it while it is still CREATING; once it is READY, the next `pulumi up` "
            "refuses it unless the resource sets `adopt_existing=True`."
        )

    def _delete_failed(self, client: FireworksClient, account: str, cluster_id: str) -> str:
        """A FAILED cluster must be deleted and re-created (the API's own words)."""
        try:
            client.delete(cluster_id, account_id=account)
        except NotFound:
            return "It is already gone."
        except FireworksError as exc:
            return f"Deleting it also failed ({exc.code}: {exc.message}); delete it by hand."
        return "Its deletion was requested."

    def _outputs(self, inputs: Mapping[str, Any], cluster: Cluster) -> dict[str, Any]:
        """Full outputs: the inputs as given, plus what only the API knows. Outputs always include the inputs, so
        diff (which sees only old outputs) can compare against them and a refresh shows drift."""
        outs = strip_engine_keys(inputs)
        outs.update(
            name=cluster.name,
            state=cluster.state,
            status={"code": cluster.status_code or "OK", "message": cluster.status_message},
            createTime=cluster.create_time,
            updateTime=cluster.update_time,
            endpoint=self._endpoint(),
        )
        return outs

    # -- read, update, delete -------------------------------------------------------------------------------

    def read(self, resource_id: str, outputs: Mapping[str, Any], inputs: Mapping[str, Any] | None = None) -> Read:
        """Refresh (old outputs and inputs in hand), or get and import (neither holds a clusterId)."""
        account, cluster_id = parse_id(resource_id)
        self._guard_endpoint(resource_id, outputs, "refresh")
        declared = next((strip_engine_keys(p) for p in (inputs, outputs) if p and p.get("clusterId")), None)
        client = self._client()
        with _explained(f"reading {resource_id} failed", "The stack is unchanged."):
            cluster = client.find(cluster_id, account_id=account)
            if cluster is None:
                self._confirm_gone(client, account, resource_id, outputs, "refresh")
                return Read(None, {}, {})
        if _another_incarnation(outputs, cluster):
            self._another_cluster_found(
                resource_id,
                outputs,
                cluster,
                "refresh",
                "The refresh drops the recorded one; the next `pulumi up` refuses to take the other over unless the "
                "resource sets `adopt_existing=True`.",
            )
            return Read(None, {}, {})
        new_inputs = spec.inputs_from_live(live_props(account, cluster), declared)
        if cluster.state == "FAILED":
            self._log(
                "warning",
                f"{resource_id} is FAILED ({cluster.status_code}: {cluster.status_message or 'no status message'}); "
                "the next `pulumi up` replaces it.",
            )
        outputs = self._outputs(new_inputs, cluster)
        if cluster.eks_cluster:
            findings = self._aws_drift(resource_id, cluster.eks_cluster)
            if findings is not None:
                outputs["awsFindings"] = findings
        return Read(resource_id, outputs, new_inputs)

    def _aws_drift(self, resource_id: str, eks: Mapping[str, Any]) -> list[dict[str, str]] | None:
        """The AWS checks on a recorded cluster, for a refresh: a role whose trust was edited by hand, an OIDC
        provider deleted, a bucket moved break a running cluster with no change to the program. Warnings only: a
        refresh never fails on a finding. None when the checks do not run (preflight off, no AWS credentials), so
        such a refresh makes no AWS call at all."""
        settings = self.settings
        if settings.preflight == "off":
            return None
        from .preflight import run_preflight
        from .preflight.session import session_for

        try:
            session = session_for(settings)
            credentials = session.get_credentials()  # resolved locally: no AWS call
        except Exception as exc:  # a missing profile, a refused AssumeRole: say so, never fail the refresh
            self._log("warning", f"{resource_id}: AWS checks skipped on refresh: {exc}")
            return None
        if credentials is None:
            with self._lock:
                said, self._said_no_credentials = self._said_no_credentials, True
            if not said:
                self._log(
                    "info", "AWS checks skipped on refresh: no AWS credentials (set AWS_PROFILE or keys to run them)"
                )
            return None
        findings = aws_findings(run_preflight(dict(eks), session))
        for finding in findings:
            self._log("warning", f"{resource_id}: AWS drift on {finding['property']}: {finding['reason']}")
        return findings

    def update(
        self,
        resource_id: str,
        olds: Mapping[str, Any],
        news: Mapping[str, Any],
        *,
        timeout: float | None = None,
        cancel: threading.Event | None = None,
    ) -> dict[str, Any]:
        account, cluster_id = parse_id(resource_id)
        inputs = strip_engine_keys(news)
        plan = spec.diff(olds, inputs)
        patch = spec.patch_body(plan, inputs)
        moved = bool(olds.get("endpoint")) and not same_endpoint(olds["endpoint"], self._endpoint())
        if (
            not patch
            and not moved
            and not any(map(spec.is_assigned_add, plan.changes))
            and olds.get("state") == "READY"
        ):
            # only this provider's own settings changed: nothing to ask Fireworks
            return {**{k: olds[k] for k in spec.OUTPUT_ONLY if k in olds}, **inputs}
        client = self._client()
        consequence = (
            "The stack keeps the old values; the next `pulumi up` tries again (if the cluster was deleted outside "
            "Pulumi, run `pulumi refresh` first)."
        )
        assigned = [c.path for c in plan.changes if spec.is_assigned_add(c)]
        with _explained(f"updating {resource_id} failed", consequence):
            # Look first: a PATCH by name would change, and record, whatever cluster holds the name now.
            found = client.find(cluster_id, account_id=account)
            found = (
                self._check_moved(resource_id, olds, inputs, found)
                if moved
                else self._check_same_cluster(resource_id, olds, found)
            )
            self._check_assigned(resource_id, inputs, found, assigned)
            patched = client.update(cluster_id, patch, account_id=account) if patch else found
            cluster = self._wait_ready(client, inputs, resource_id, "update", timeout, cancel, seen=patched)
        outputs = self._outputs(inputs, cluster)
        if "awsFindings" in olds:  # an in-place update changes nothing on the AWS side: the last refresh still holds
            outputs["awsFindings"] = olds["awsFindings"]
        return outputs

    def _check_moved(
        self, resource_id: str, olds: Mapping[str, Any], inputs: Mapping[str, Any], found: Cluster | None
    ) -> Cluster:
        """A new endpoint is recorded only where *this* cluster is: same creation time, same spec."""
        where = f"{self._endpoint()} (it was recorded through {olds['endpoint']})"
        if found is None:
            raise LifecycleError(
                f"{resource_id} is not at {where}, so nothing was changed. Set fireworks:baseUrl back to the recorded "
                "endpoint."
            )
        differing = spec.mismatches(inputs, live_props(parse_id(resource_id)[0], found))
        if _another_incarnation(olds, found) or differing:
            detail = (
                f"its spec differs ({', '.join(differing)})" if differing else f"it was created {found.create_time}"
            )
            raise LifecycleError(
                f"{resource_id} at {where} is another cluster with the same name ({detail}, not the one recorded): "
                "nothing was changed. Set fireworks:baseUrl back to the recorded endpoint."
            )
        return found

    @staticmethod
    def _check_same_cluster(resource_id: str, olds: Mapping[str, Any], found: Cluster | None) -> Cluster:
        """An update changes only the cluster the stack records: not a gap where it was, not a newer one of its name."""
        if found is None:
            raise LifecycleError(
                f"{resource_id} no longer exists, so nothing was changed. Run `pulumi refresh`: it drops the cluster "
                "from the stack, and the next `pulumi up` creates it again."
            )
        if _another_incarnation(olds, found):
            raise LifecycleError(
                f"{resource_id} is another cluster with the same name (created {found.create_time}; the stack records "
                f"one created {olds['createTime']}), so nothing was changed. The recorded cluster was deleted outside "
                "Pulumi and the name reused: run `pulumi refresh` to drop it from the stack. The next `pulumi up` then "
                "refuses to take the newer cluster over unless you set `adopt_existing=True`."
            )
        return found

    def _check_assigned(self, resource_id: str, inputs: Mapping[str, Any], found: Cluster, paths: list[str]) -> None:
        """A value Fireworks assigned, now written into the program: record it if it is the same, never change it."""
        live = live_props(parse_id(resource_id)[0], found)
        for path in paths:
            want, have = spec.get_path(inputs, path), spec.get_path(live, path)
            if want != have:
                raise LifecycleError(
                    f"{resource_id}: the program sets {path} to {want!r}, but Fireworks assigned {have!r}, and it "
                    "cannot change in place: nothing was changed. Set it to the assigned value or leave it out; "
                    "to get another value, replace the cluster deliberately."
                )

    def delete(
        self,
        resource_id: str,
        outputs: Mapping[str, Any],
        *,
        timeout: float | None = None,
        cancel: threading.Event | None = None,
    ) -> None:
        account, cluster_id = parse_id(resource_id)
        if self._ledger.recorded_by_a_create(resource_id):
            # Another resource of this command created or adopted this very name and the engine records it: this
            # record is a second pointer to that cluster (a rename without an alias, the old half of a replacement).
            # Dropping it is what `pulumi state delete` would do; refusing would leave the old half of a replacement
            # pending-delete, and the next command retires those before any Check, when no ledger can stop it.
            self._log(
                "warning",
                f"{resource_id} was not deleted: another resource of this command has just created or adopted it and "
                "holds it now. The resource being deleted is dropped from the stack (as `pulumi state delete` would "
                "do); the cluster stays with the other one. (To rename a resource, give it `aliases=[...]`.)",
            )
            return
        if self._ledger.blind_to_other_processes():
            raise LifecycleError(
                f"{resource_id} was not deleted: this command may run other provider processes (the other door, "
                "another provider instance) that mark the clusters they hold in a folder of this user's own, and "
                "none is usable ($XDG_RUNTIME_DIR/pulumi-fwcluster, pulumi-fwcluster-<uid> in the temp directory, "
                "~/.cache/pulumi-fwcluster), so nothing shows that none of them holds this cluster. Nothing was "
                "deleted and the resource stays in the stack. Point TMPDIR at a folder of your own and run the "
                "command again."
            )
        holder = self._ledger.why_not_delete(resource_id)
        if holder is not None:
            raise LifecycleError(
                f"{resource_id} was not deleted: {holder}, so deleting it here would take that resource's cluster "
                "with it. Nothing was deleted, and the resource being deleted stays in the stack. To keep the cluster "
                "with the other resource, forget this one: `pulumi state delete <its URN>`. (To rename a resource "
                "or move it to another parent, give the new one `aliases=[...]` with the old name: then one "
                "resource keeps the cluster and nothing is left to delete.)"
            )
        self._guard_endpoint(resource_id, outputs, "delete")
        client = self._client()
        seconds, source = self._deadline("delete", timeout)
        try:
            with _explained(
                f"deleting {resource_id} failed",
                "The cluster stays in the stack; the next `pulumi destroy` tries again.",
            ):
                live = client.find(cluster_id, account_id=account)
                if live is None:
                    self._confirm_gone(client, account, resource_id, outputs, "delete")
                    return  # already gone: deleting is idempotent
                if _another_incarnation(outputs, live):
                    self._another_cluster_found(resource_id, outputs, live, "delete", "Nothing was deleted.")
                    return
                try:
                    client.delete(cluster_id, account_id=account)
                except NotFound:
                    return  # gone between the look-up and the delete
                # Whatever the state (FAILED included), only "gone" ends a delete.
                wait_for(
                    lambda: client.find(cluster_id, account_id=account),
                    StateChange(ANY_STATE, (GONE,), self._policy(seconds), resource_id),
                    cancel=cancel,
                )
        except (WaitTimeout, WaitCancelled) as exc:
            why = (
                f"after {seconds:g}s ({source})" if isinstance(exc, WaitTimeout) else "when the operation was cancelled"
            )
            raise LifecycleError(
                f"{resource_id} is still {exc.last_state} {why}. Deletion was requested and the cluster stays in the "
                "stack; the next `pulumi destroy` or `pulumi up` resumes waiting."
            ) from None

    # -- the endpoint guard ---------------------------------------------------------------------------------

    def _guard_endpoint(self, resource_id: str, outputs: Mapping[str, Any], what: str) -> None:
        recorded = outputs.get("endpoint")
        if recorded and not same_endpoint(recorded, self._endpoint()):
            way_out = (
                "if the cluster really is served by the new endpoint, run `pulumi up` first: it finds the cluster "
                "there and records the new endpoint."
                if what == "refresh"
                else "for a cluster the stack is deleting (a destroy, or the old half of a replacement), only the "
                "recorded endpoint may delete it: set fireworks:baseUrl back for this run."
            )
            raise LifecycleError(
                f"{resource_id} was recorded through {recorded}, but fireworks:baseUrl is now {self._endpoint()}. "
                f"The {what} stops here rather than take another endpoint's answer for this cluster: nothing was "
                f"changed. Set fireworks:baseUrl (or FIREWORKS_BASE_URL) back to {recorded}; {way_out}"
            )

    def _refuse_unproven_legacy(self, resource_id: str, outputs: Mapping[str, Any], what: str, finding: str) -> None:
        """State from 0.1.0 recorded no endpoint: what this one answers proves nothing about the recorded cluster."""
        if outputs.get("clusterId") and not outputs.get("endpoint"):
            raise LifecycleError(
                f"{resource_id} {finding}, and this stack was recorded by an earlier version that did not record "
                f"which endpoint made the cluster, so the {what} will not call it gone: nothing was changed. If "
                "fireworks:baseUrl changed since, set it back and run `pulumi refresh` (that records the endpoint). "
                "If the cluster really was deleted, run `pulumi state delete <its URN>`."
            )

    def _another_cluster_found(
        self, resource_id: str, outputs: Mapping[str, Any], live: Cluster, what: str, consequence: str
    ) -> None:
        """The recorded cluster is gone and a newer one has its name: left alone, unless the state is too old to
        tell (then refused)."""
        self._refuse_unproven_legacy(
            resource_id,
            outputs,
            what,
            f"at {self._endpoint()} is another cluster with the same name (created {live.create_time}; the stack "
            f"records one created {outputs.get('createTime')})",
        )
        self._log(
            "warning",
            f"{resource_id}: the cluster this stack recorded (created {outputs.get('createTime')}) is gone; another "
            f"cluster now has its name (created {live.create_time}) and was left alone. {consequence}",
        )

    def _confirm_gone(
        self, client: FireworksClient, account: str, resource_id: str, outputs: Mapping[str, Any], what: str
    ) -> None:
        """A 404 means "deleted" only if the key can see the account (a key for another account may see 404s), and
        only through the endpoint that recorded the cluster: state from 0.1.0 recorded none, so there it is a
        question for the user."""
        self._refuse_unproven_legacy(resource_id, outputs, what, f"was not found at {self._endpoint()}")
        try:
            client.probe_account(account_id=account)
        except FireworksError as exc:
            configured = self.settings.account_id
            raise LifecycleError(
                f"{resource_id} was not found, but the API key cannot list account {account}'s clusters either "
                f"({exc.code}: {exc.message}; fireworks:accountId is {configured or 'not set'}), so the {what} "
                "will not call the cluster gone: nothing was changed. Use the API key of account "
                f"{account} (fireworks:apiKey or FIREWORKS_API_KEY)."
            ) from None


_MISSING_ACCOUNT = (
    "no Fireworks account id: set accountId on the resource, or `pulumi config set fireworks:accountId <id>`, "
    "or the environment variable FIREWORKS_ACCOUNT_ID"
)


def same_endpoint(a: str, b: str) -> bool:
    """Two spellings of one base URL: scheme and host case, default ports and trailing slashes aside."""
    from urllib.parse import urlsplit

    def norm(url: str) -> tuple[str, str, int | None, str]:
        parts = urlsplit(url.strip())
        default = {"https": 443, "http": 80}.get(parts.scheme.lower())
        port = parts.port if parts.port != default else None
        return parts.scheme.lower(), (parts.hostname or "").lower(), port, parts.path.rstrip("/")

    return norm(a) == norm(b)


def _another_incarnation(recorded: Mapping[str, Any], live: Cluster) -> bool:
    """The live cluster is not the one recorded: same name, another creation time."""
    created = recorded.get("createTime")
    return bool(created and live.create_time and created != live.create_time)


def aws_findings(report: PreflightReport) -> list[dict[str, str]]:
    """The `awsFindings` output: what failed or warned, as sorted `{property, reason}` pairs (stable in diffs)."""
    problems = sorted({(f.field or "eksCluster", f.message) for f in (*report.failures, *report.warnings)})
    return [{"property": prop, "reason": reason} for prop, reason in problems]


def _created_since(cluster: Cluster, earliest: float) -> bool:
    """Whether the cluster was created at or after `earliest` (epoch seconds); True when its time is unreadable."""
    try:
        created = _dt.datetime.fromisoformat(cluster.create_time.replace("Z", "+00:00"))
    except ValueError:
        return True
    return created.timestamp() >= earliest


@contextmanager
def _explained(what: str, consequence: str) -> Iterator[None]:
    """Turn an API error into one that also says what the stack holds and what the next run will do."""
    try:
        yield
    except (LifecycleError, WaitTimeout, WaitCancelled):
        raise
    except FireworksError as exc:
        raise LifecycleError(f"{what}: {exc}. {consequence}") from None
