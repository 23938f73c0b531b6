"""ClusterProvider: the dynamic provider the Pulumi engine calls. It only orchestrates.

The rules live in `spec`, AWS checks in `preflight`, HTTP in `client` and polling in `waiter`. This module is
imported by reference when `__provider` is unpickled, so it must import without side effects and the instance
must carry no state worth pickling: settings and clients are built inside the provider process, one client per
engine worker thread.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pulumi
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    ConfigureRequest,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
    UpdateResult,
)
from pulumi.output import Unknown, contains_unknowns

from . import rules, spec
from .errors import AlreadyExists, ClusterFailed, FireworksError, NotFound, WaitTimeout
from .settings import SETTINGS, Settings, resolve
from .waiter import GONE, StateChange, WaitPolicy, wait_for

if TYPE_CHECKING:  # check and diff never need HTTP: requests loads on the first create, read, update or delete
    from .client import Cluster, FireworksClient

PROVISIONING = ("CREATING", "STATE_UNSPECIFIED")
PREFLIGHT_REUSE_SECONDS = 60.0
# What the next run does after a wait timed out: a create recorded nothing, an update kept the old outputs.
_RESUME = {
    "create": "the next `pulumi up` adopts it and resumes waiting.",
    "update": "the stack keeps the old values, and the next `pulumi up` sends the change again and resumes waiting.",
}


def _is_unknown(value: Any) -> bool:
    return isinstance(value, Unknown)


class ProviderError(Exception):
    """An operation could not finish. The text says what happened, the state the cluster is in, and what the next
    `pulumi up` (or `destroy`) will do."""


def parse_id(resource_id: str) -> tuple[str, str]:
    parts = resource_id.split("/")
    if len(parts) != 4 or parts[0] != "accounts" or parts[2] != "clusters":
        raise ProviderError(f"{resource_id!r} is not a cluster name of the form accounts/<account>/clusters/<id>")
    return parts[1], parts[3]


def desired_cluster(props: Mapping[str, Any]) -> Cluster:
    from .client import Cluster

    return Cluster(
        display_name=props.get("displayName") or "",
        eks_cluster=dict(props["eksCluster"]) if props.get("eksCluster") else None,
        fake_cluster=dict(props["fakeCluster"]) if props.get("fakeCluster") else None,
    )


def outputs_for(inputs: Mapping[str, Any], cluster: Cluster) -> dict[str, Any]:
    """Full outputs: the inputs as given, plus what only the API knows. Outputs always include the inputs, so
    diff can compare against them and a refresh shows drift."""
    outs = {k: v for k, v in inputs.items() if not k.startswith("__")}
    outs.update(
        name=cluster.name,
        state=cluster.state,
        status={"code": cluster.status_code or "OK", "message": cluster.status_message},
        createTime=cluster.create_time,
        updateTime=cluster.update_time,
    )
    return outs


def inputs_from_live(account: str, cluster: Cluster, old: Mapping[str, Any]) -> dict[str, Any]:
    """The inputs that would describe the live cluster, so drift shows up in the next preview.

    A value the API fills in by default (the manager role) stays absent when the old inputs left it out."""
    live: dict[str, Any] = {"accountId": account, "clusterId": cluster.cluster_id}
    if cluster.display_name:
        live["displayName"] = cluster.display_name
    for group, value in (("eksCluster", cluster.eks_cluster), ("fakeCluster", cluster.fake_cluster)):
        if value:
            live[group] = {k: v for k, v in value.items() if v}
    eks: dict[str, Any] = live.get("eksCluster") or {}
    old_eks = old.get("eksCluster") or {}
    manager = eks.get("fireworksManagerRole")
    if manager and "fireworksManagerRole" not in old_eks and manager == _default_manager_role(eks):
        del eks["fireworksManagerRole"]
    normalized, _ = spec.normalize(live)
    return normalized


def mismatches(desired: Mapping[str, Any], live: Cluster) -> list[str]:
    """Fields on which an existing cluster differs from the desired spec (display name excluded)."""
    want = spec.spec_of({k: desired.get(k) for k in spec.GROUPS})
    have = spec.spec_of({"eksCluster": live.eks_cluster or None, "fakeCluster": live.fake_cluster or None})
    return sorted(p for p in set(want) | set(have) if want.get(p) != have.get(p) and not _api_default(p, desired, have))


def _api_default(path: str, desired: Mapping[str, Any], have: Mapping[str, Any]) -> bool:
    """The API fills fireworksManagerRole in when it is left empty; that is not a mismatch."""
    if path != "eksCluster.fireworksManagerRole" or spec.get_path(desired, path):
        return False
    return have.get(path) == _default_manager_role(desired.get("eksCluster") or {})


def _default_manager_role(eks: Mapping[str, Any]) -> str:
    """The manager role ARN the API uses when eksCluster.fireworksManagerRole is empty."""
    from .preflight.offline import partition_for_region

    partition = partition_for_region(eks.get("region")) or "aws"
    return rules.default_manager_role(partition, str(eks.get("awsAccountId") or ""))


class ClusterProvider(ResourceProvider):
    """CRUD for `fireworks:Cluster`. Pickled by reference: no state survives pickling."""

    serialize_as_secret_always = False

    def __init__(self) -> None:
        self._config: dict[str, str] = {}
        self._settings: Settings | None = None
        self._local = threading.local()
        self._lock = threading.Lock()
        self._preflight_passed: dict[str, float] = {}

    def __getstate__(self) -> dict[str, Any]:
        return {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__()  # type: ignore[misc]

    # -- settings and clients ---------------------------------------------------------------------------------

    def configure(self, req: ConfigureRequest) -> None:
        config: dict[str, str] = {}
        for s in SETTINGS:
            if s.config_key:
                value = req.config.get(s.config_key)
                if value is not None:
                    config[s.config_key] = str(value)
        with self._lock:
            self._config = config
            self._settings = None

    @property
    def settings(self) -> Settings:
        with self._lock:
            if self._settings is None:
                self._settings = resolve(config=self._config, env=os.environ)
            return self._settings

    def _client(self) -> FireworksClient:
        # requests.Session is not documented as thread-safe, and the server runs 4 worker threads.
        client: FireworksClient | None = getattr(self._local, "client", None)
        if client is None:
            from .client import FireworksClient

            client = FireworksClient(settings=self.settings)
            self._local.client = client
        return client

    def _policy(self, timeout: float) -> WaitPolicy:
        s = self.settings
        return WaitPolicy(timeout=timeout, initial=s.poll_interval, maximum=s.max_poll_interval)

    # -- check and diff: offline, except for the AWS preflight --------------------------------------------------

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        props = dict(news)
        if props.get("accountId") in (None, ""):
            account = self.settings.account_id
            if account:
                props["accountId"] = account
        inputs, failures = spec.normalize(props, _is_unknown)
        if "accountId" not in inputs and not any(f.path == "accountId" for f in failures):
            failures.insert(0, spec.Failure("accountId", _missing_account_reason()))
        out = [CheckFailure(f.path, f.reason) for f in failures]
        if not out and self._needs_preflight(olds, inputs):
            out.extend(self._preflight_failures(inputs["eksCluster"]))
        return CheckResult(inputs, out)

    def _needs_preflight(self, olds: Mapping[str, Any], inputs: Mapping[str, Any]) -> bool:
        eks = inputs.get("eksCluster")
        if not eks or contains_unknowns(eks) or self.settings.preflight == "off":
            return False
        old_eks = olds.get("eksCluster")
        return bool(contains_unknowns(old_eks) or old_eks != eks)

    def _preflight_failures(self, eks: Mapping[str, Any]) -> list[CheckFailure]:
        # `up` checks a spec and creates it seconds later in this process (a replacement checks it twice): a pass
        # that recent is reused, so only a stale preview pays for a second round of AWS calls before submission.
        key = json.dumps(eks, sort_keys=True)
        with self._lock:
            passed_at = self._preflight_passed.get(key)
        if passed_at is not None and time.monotonic() - passed_at < PREFLIGHT_REUSE_SECONDS:
            return []
        from .preflight import run_preflight

        report = run_preflight(dict(eks))
        if report.ok:
            with self._lock:
                self._preflight_passed[key] = time.monotonic()
        mode = self.settings.preflight
        for finding in report.warnings:
            pulumi.log.warn(f"preflight {finding.field or 'aws'}: {finding.message}")
        if mode == "warn":
            for finding in report.failures:
                pulumi.log.warn(f"preflight (warn mode, not blocking) {finding.field or 'aws'}: {finding.message}")
            return []
        return [
            CheckFailure(f.field or "eksCluster", f"{f.message}" + (f" ({f.remediation})" if f.remediation else ""))
            for f in report.failures
        ]

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changes = spec.diff(olds, news, _is_unknown)
        if not changes.any:
            return DiffResult(changes=False)
        detail = ", ".join(f"{p} (replace)" if p.split(".")[0] in changes.replaces else p for p in changes.changed)
        pulumi.log.info(f"{_id or 'cluster'}: changes {detail}")
        return DiffResult(
            changes=True,
            replaces=list(changes.replaces),
            delete_before_replace=changes.delete_before_replace,
        )

    # -- create: idempotent, because a failed create records nothing ------------------------------------------

    def create(self, props: dict[str, Any]) -> CreateResult:
        inputs = {k: v for k, v in props.items() if not k.startswith("__")}
        account, cluster_id = inputs["accountId"], inputs["clusterId"]
        name = f"accounts/{account}/clusters/{cluster_id}"
        if inputs.get("eksCluster") and self.settings.preflight != "off":
            failures = self._preflight_failures(inputs["eksCluster"])
            if failures:
                raise ProviderError(
                    f"{name} was not submitted: the AWS preflight failed: "
                    + "; ".join(f"{f.property}: {f.reason}" for f in failures)
                )
        client = self._client()
        with _explained(f"creating {name} failed", "Nothing was recorded in the stack; the next `pulumi up` tries "
                        "again, and adopts the cluster if this attempt made it."):  # fmt: skip
            submitted = self._submit(client, inputs, account, cluster_id)
            cluster = self._wait_ready(
                client, account, cluster_id, name, self.settings.create_timeout, "create", seen=submitted
            )
        return CreateResult(name, outputs_for(inputs, cluster))

    def _submit(self, client: FireworksClient, inputs: Mapping[str, Any], account: str, cluster_id: str) -> Cluster:
        try:
            outcome = client.create(cluster_id, desired_cluster(inputs), account_id=account)
        except AlreadyExists:
            existing = client.get(cluster_id, account_id=account)
            return self._adopt(client, inputs, existing, account, reason="it already exists")
        if outcome.confirmed:
            return outcome.cluster
        return self._adopt(client, inputs, outcome.cluster, account, reason="the create reply was lost")

    def _adopt(
        self, client: FireworksClient, inputs: Mapping[str, Any], existing: Cluster, account: str, *, reason: str
    ) -> Cluster:
        differing = mismatches(inputs, existing)
        if differing:
            raise ProviderError(
                f"{existing.name} already exists with a different spec ({', '.join(differing)} differ), so it was "
                "left untouched and nothing was recorded. Choose another clusterId, or delete that cluster, then "
                "run `pulumi up` again."
            )
        if existing.state == "DELETING":
            wait_for(
                lambda: client.find(existing.cluster_id, account_id=account),
                StateChange(("DELETING",), (GONE,), self._policy(self.settings.delete_timeout), existing.name),
            )
            outcome = client.create(existing.cluster_id, desired_cluster(inputs), account_id=account)
            return outcome.cluster
        pulumi.log.info(f"{existing.name}: adopting the existing cluster ({reason}); its spec matches")
        want = inputs.get("displayName") or ""
        if want != existing.display_name:
            existing = client.update(existing.cluster_id, {"displayName": want}, account_id=account)
        return existing

    def _wait_ready(
        self,
        client: FireworksClient,
        account: str,
        cluster_id: str,
        name: str,
        timeout: float,
        op: str,
        *,
        seen: Cluster | None = None,
    ) -> Cluster:
        change = StateChange(PROVISIONING, ("READY",), self._policy(timeout), name)
        try:
            cluster = wait_for(lambda: client.find(cluster_id, account_id=account), change, seen=seen)
        except ClusterFailed as exc:
            if op == "update":  # the cluster is in the stack: replacing it is the user's call
                raise ProviderError(
                    f"{name} is FAILED after the update: {exc.code}: {exc.message}. A FAILED cluster must be deleted "
                    "and re-created: run `pulumi up --replace <this resource's URN>`."
                ) from None
            cleanup = self._delete_failed(client, account, cluster_id)
            raise ProviderError(
                f"{name} reached FAILED during {op}: {exc.code}: {exc.message}. {cleanup} Nothing was recorded in "
                "the stack; fix the cause and run `pulumi up` again to create it anew."
            ) from None
        except WaitTimeout as exc:
            raise ProviderError(
                f"{name} is still {exc.last_state} after {timeout:g}s (fireworks:{op}Timeout). The cluster exists "
                f"and Fireworks is still working on it; {_RESUME[op]}"
            ) from None
        if cluster is None:
            raise ProviderError(f"{name} disappeared during {op}; the next `pulumi up` will create it again.")
        return cluster

    def _delete_failed(self, client: FireworksClient, account: str, cluster_id: str) -> str:
        """A FAILED cluster must be deleted and re-created (the API's own words)."""
        try:
            client.delete(cluster_id, account_id=account)
        except NotFound:
            return "The failed cluster is already gone."
        except FireworksError as exc:
            return f"Deleting the failed cluster also failed ({exc.code}: {exc.message}); delete it by hand."
        return "The failed cluster was deleted."

    # -- read, update, delete ---------------------------------------------------------------------------------

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        account, cluster_id = parse_id(id_)
        with _explained(f"reading {id_} failed", "The stack is unchanged."):
            cluster = self._client().find(cluster_id, account_id=account)
        if cluster is None:
            return ReadResult(None, {})
        old = {k: v for k, v in props.items() if not k.startswith("__")}
        inputs = inputs_from_live(account, cluster, old)
        return ReadResult(id_, outputs_for(inputs, cluster), inputs)

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        account, cluster_id = parse_id(id_)
        inputs = {k: v for k, v in news.items() if not k.startswith("__")}
        changes = spec.diff(olds, inputs)
        client = self._client()
        patch = {path: spec.get_path(inputs, path) or "" for path in spec.updatable(changes)}
        with _explained(f"updating {id_} failed", "The stack keeps the old values; the next `pulumi up` tries again "
                        "(if the cluster was deleted outside Pulumi, run `pulumi refresh` first)."):  # fmt: skip
            patched = client.update(cluster_id, patch, account_id=account) if patch else None
            cluster = self._wait_ready(
                client, account, cluster_id, id_, self.settings.update_timeout, "update", seen=patched
            )
        return UpdateResult(outputs_for(inputs, cluster))

    def delete(self, id_: str, _props: dict[str, Any]) -> None:
        account, cluster_id = parse_id(id_)
        client = self._client()
        timeout = self.settings.delete_timeout
        try:
            with _explained(f"deleting {id_} failed", "The cluster stays in the stack; the next `pulumi destroy` "
                            "tries again."):  # fmt: skip
                try:
                    client.delete(cluster_id, account_id=account)
                except NotFound:
                    return  # already gone: deleting is idempotent
                wait_for(
                    lambda: client.find(cluster_id, account_id=account),
                    StateChange(("DELETING", "READY", "CREATING"), (GONE,), self._policy(timeout), id_),
                )
        except WaitTimeout as exc:
            raise ProviderError(
                f"{id_} is still {exc.last_state} after {timeout:g}s (fireworks:deleteTimeout). Deletion was "
                "requested and the cluster stays in the stack; the next `pulumi destroy` or `pulumi up` resumes waiting."
            ) from None


@contextmanager
def _explained(what: str, consequence: str) -> Iterator[None]:
    """Turn an API error into one that also says what the stack holds and what the next run will do."""
    try:
        yield
    except (ProviderError, WaitTimeout):
        raise
    except FireworksError as exc:
        raise ProviderError(f"{what}: {exc}. {consequence}") from None


def _missing_account_reason() -> str:
    return (
        "no Fireworks account id: set accountId on the resource, or `pulumi config set fireworks:accountId <id>`, "
        "or the environment variable FIREWORKS_ACCOUNT_ID"
    )
