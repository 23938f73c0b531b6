"""State and rules of the emulated Fireworks clusters API. No HTTP here: `server.py` does that.

The backend keeps clusters per account, computes their state lazily from `clock` (no background threads),
applies the validation rules of the real service, decides which scripted fault a request meets, and keeps a
log of the requests it served. Every public method is thread-safe.

Choices where the real API's behaviour is unknown (see NOTES.md section 1):
- PATCH accepts `eksCluster` / `fakeCluster` only when they equal the current value (after dropping empty
  strings, as proto3 JSON would); any other value is 400 FAILED_PRECONDITION "... is immutable".
- Read-only output fields (`name`, `state`, `status`, `createTime`, `updateTime`) in a create or update
  body are ignored; any other unknown field, at any depth, is 400 INVALID_ARGUMENT.
- Empty-string fields inside `eksCluster` / `fakeCluster` are dropped (proto3 JSON omits defaults).
- `fireworksManagerRole` is echoed only as sent, unless `default_manager_role=True`, which fills in the
  documented default `arn:aws:iam::<awsAccountId>:role/FireworksManagerRole`.
- `workloadIdentityPoolProviderId` is echoed only as sent, unless `assign_pool_provider=True`, which assigns one
  (`fw-<hash>`) when it is left empty.
- A key limited to other accounts gets 403 PERMISSION_DENIED, unless `hide_foreign_accounts=True`: then 404
  NOT_FOUND, as services that hide what a caller may not see do.
- While a cluster is being deleted it reports DELETING, unless `deleting_state` says otherwise: a state name, or
  "previous" for the state it had before the DELETE (whether the real API moves a FAILED cluster to DELETING is
  unknown).
- getConnectionInfo of a cluster that is not READY is 400 FAILED_PRECONDITION.
- PATCH of a DELETING cluster is 400 FAILED_PRECONDITION; PATCH of a CREATING or FAILED one is allowed.
- Delays are read when the state is computed, so lowering `provision_delay` speeds up clusters already
  being created.
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import hashlib
import json
import re
import threading
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, Literal

# gRPC code name -> (number, HTTP status), per grpc-gateway's mapping.
GRPC_CODES: dict[str, tuple[int, int]] = {
    "OK": (0, 200),
    "CANCELLED": (1, 499),
    "UNKNOWN": (2, 500),
    "INVALID_ARGUMENT": (3, 400),
    "DEADLINE_EXCEEDED": (4, 504),
    "NOT_FOUND": (5, 404),
    "ALREADY_EXISTS": (6, 409),
    "PERMISSION_DENIED": (7, 403),
    "RESOURCE_EXHAUSTED": (8, 429),
    "FAILED_PRECONDITION": (9, 400),
    "ABORTED": (10, 409),
    "OUT_OF_RANGE": (11, 400),
    "UNIMPLEMENTED": (12, 501),
    "INTERNAL": (13, 500),
    "UNAVAILABLE": (14, 503),
    "DATA_LOSS": (15, 500),
    "UNAUTHENTICATED": (16, 401),
}

# HTTP status -> gRPC code name, for faults given as an HTTP status.
_STATUS_TO_CODE: dict[int, str] = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}

FaultKind = Literal["error", "rate_limit", "drop", "slow", "garbage"]

_RESOURCE_ID = re.compile(r"^[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_AWS_ACCOUNT = re.compile(r"^[0-9]{12}$")

_CLUSTER_FIELDS = frozenset({"displayName", "eksCluster", "fakeCluster"})
_READ_ONLY_FIELDS = frozenset({"name", "state", "status", "createTime", "updateTime"})
_EKS_FIELDS = frozenset(
    {
        "awsAccountId",
        "fireworksManagerRole",
        "region",
        "clusterName",
        "storageBucketName",
        "metricWriterRole",
        "loadBalancerControllerRole",
        "workloadIdentityPoolProviderId",
        "inferenceRole",
    }
)
_FAKE_FIELDS = frozenset({"projectId", "location", "clusterName"})
_CREATE_FIELDS = frozenset({"cluster", "clusterId"})

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
DISPLAY_NAME_LIMIT = 64  # "must be fewer than 64 characters"

_FAKE_CA = base64.b64encode(
    b"-----BEGIN CERTIFICATE-----\nRkFLRS1FTVVMQVRPUi1DQQ==\n-----END CERTIFICATE-----\n"
).decode()


class ApiError(Exception):
    """An error response: a gRPC code name and a message. The HTTP status follows from the code."""

    def __init__(self, code: str, message: str) -> None:
        if code not in GRPC_CODES:
            raise ValueError(f"unknown gRPC code {code!r}")
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    @property
    def http_status(self) -> int:
        return GRPC_CODES[self.code][1]

    def body(self) -> dict[str, Any]:
        return error_body(self.code, self.message)


def error_body(code: str, message: str) -> dict[str, Any]:
    """The grpc-gateway error body: `{"code": <int>, "message": ..., "details": []}`."""
    return {"code": GRPC_CODES[code][0], "message": message, "details": []}


# --------------------------------------------------------------------------------------------- faults


@dataclass
class Fault:
    """A scripted misbehaviour for the next `times` requests that match `method` and `path`.

    kind:
    - "error": answer `status` (a gRPC-style error body) before handling; the request is NOT applied.
    - "rate_limit": answer 429 RESOURCE_EXHAUSTED with a `Retry-After: retry_after` header (none if
      `retry_after` is None); the request is NOT applied.
    - "drop": handle the request (it IS applied), then close the connection without any response.
    - "garbage": handle the request (it IS applied), then answer 200 with a body that is not JSON (a proxy's
      error page, say).
    - "slow": wait `seconds` before handling, then answer normally.

    `method` None matches any method; `path` is a regular expression searched in the request path (without
    the query string), None matches any path. Each request consumes at most one fault: the first matching
    one, in the order they were added.
    """

    kind: FaultKind
    times: int = 1
    method: str | None = None
    path: str | None = None
    status: int = 503
    retry_after: str | None = "1"
    seconds: float = 0.0
    message: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("error", "rate_limit", "drop", "slow", "garbage"):
            raise ValueError(f"unknown fault kind {self.kind!r}")
        if self.times < 1:
            raise ValueError("times must be at least 1")
        if self.method is not None:
            self.method = self.method.upper()

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method != method.upper():
            return False
        return self.path is None or re.search(self.path, path) is not None

    def error(self) -> tuple[int, dict[str, Any]]:
        """The status and body this fault answers with (kinds "error" and "rate_limit")."""
        if self.kind == "rate_limit":
            return 429, error_body("RESOURCE_EXHAUSTED", self.message or "rate limit exceeded (emulated)")
        code = _STATUS_TO_CODE.get(self.status, "UNKNOWN")
        body = error_body(code, self.message or f"{code.lower().replace('_', ' ')} (emulated fault)")
        return self.status, body


class FaultQueue:
    """The scripted faults, in order. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def pending(self) -> list[Fault]:
        """A snapshot of the faults not yet used up."""
        with self._lock:
            return list(self._faults)

    def take(self, method: str, path: str) -> Fault | None:
        """The first fault matching this request, with one use consumed; None if no fault matches."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.times -= 1
                    if fault.times == 0:
                        self._faults.remove(fault)
                    return fault
        return None


# ----------------------------------------------------------------------------------------- request log


@dataclass(frozen=True)
class RequestRecord:
    """One request as served. The API key is never kept: only whether an Authorization header came."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    auth_present: bool
    status: int
    response_body: Any
    dropped: bool = False
    fault: str | None = None
    user_agent: str = ""


# ------------------------------------------------------------------------------------------ clusters


@dataclass
class _Cluster:
    account: str
    cluster_id: str
    display_name: str
    kind: str  # "eksCluster" or "fakeCluster"
    spec: dict[str, str]
    created_at: float
    updated_at: float
    state: str = "CREATING"
    state_since: float = 0.0
    status_code: str = "OK"
    status_message: str = ""
    failure: tuple[str, str] | None = None  # (code, message) to end provisioning with
    gone: bool = False
    state_before_delete: str = ""

    @property
    def name(self) -> str:
        return f"accounts/{self.account}/clusters/{self.cluster_id}"


@dataclass
class _Failure:
    code: str
    message: str


class Backend:
    """The emulated service. See the module docstring for the choices made where the real API is unknown."""

    def __init__(
        self,
        provision_delay: float = 0.5,
        delete_delay: float = 0.2,
        api_keys: Mapping[str, Collection[str] | None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        *,
        default_manager_role: bool = False,
        assign_pool_provider: bool = False,
        hide_foreign_accounts: bool = False,
        deleting_state: str | None = None,
    ) -> None:
        self.provision_delay = provision_delay
        self.delete_delay = delete_delay
        self.api_keys: dict[str, Collection[str] | None] = dict(
            api_keys if api_keys is not None else {"test-key": None}
        )
        self.clock = clock
        self.default_manager_role = default_manager_role
        self.assign_pool_provider = assign_pool_provider
        self.hide_foreign_accounts = hide_foreign_accounts
        self.deleting_state = deleting_state
        self.clock_skew = 0.0
        self.faults = FaultQueue()
        self._lock = threading.RLock()
        self._clusters: dict[str, _Cluster] = {}  # by name
        self._pending_failures: dict[str | None, _Failure] = {}
        self._requests: list[RequestRecord] = []
        self._epoch_wall = time.time()
        self._epoch_clock = clock()

    # ----------------------------------------------------------------------- test hooks and helpers

    def reset(self) -> None:
        """Forget every cluster, fault, pending failure and logged request."""
        with self._lock:
            self._clusters.clear()
            self._pending_failures.clear()
            self._requests.clear()
        self.faults.clear()

    def fail_next(self, n: int = 1, status: int = 503, *, method: str | None = None, path: str | None = None) -> Fault:
        """The next `n` matching requests get `status` (5xx by default) and are NOT applied."""
        return self.faults.add(Fault("error", times=n, status=status, method=method, path=path))

    def rate_limit_next(
        self, n: int = 1, retry_after: str | None = "1", *, method: str | None = None, path: str | None = None
    ) -> Fault:
        """The next `n` matching requests get 429 with `Retry-After: retry_after` and are NOT applied."""
        return self.faults.add(Fault("rate_limit", times=n, retry_after=retry_after, method=method, path=path))

    def drop_response_next(self, n: int = 1, *, method: str | None = "POST", path: str | None = None) -> Fault:
        """The next `n` matching requests ARE applied, then the connection closes with no response."""
        return self.faults.add(Fault("drop", times=n, method=method, path=path))

    def garbage_next(self, n: int = 1, *, method: str | None = None, path: str | None = None) -> Fault:
        """The next `n` matching requests ARE applied, then answered 200 with a body that is not JSON."""
        return self.faults.add(Fault("garbage", times=n, method=method, path=path))

    def slow_next(
        self, n: int = 1, seconds: float = 1.0, *, method: str | None = None, path: str | None = None
    ) -> Fault:
        """The next `n` matching requests wait `seconds` before being handled normally."""
        return self.faults.add(Fault("slow", times=n, seconds=seconds, method=method, path=path))

    def fail_provisioning(self, cluster_id: str | None, message: str, code: str = "FAILED_PRECONDITION") -> None:
        """Make provisioning end FAILED (status `code`, `message`) instead of READY.

        With a `cluster_id`: that cluster if it is being created now (in any account), else the next one
        created with that id. With None: the next cluster created.
        """
        if code not in GRPC_CODES:
            raise ValueError(f"unknown gRPC code {code!r}")
        with self._lock:
            if cluster_id is not None:
                for c in self._clusters.values():
                    self._advance(c)
                    if c.cluster_id == cluster_id and c.state == "CREATING" and not c.gone:
                        c.failure = (code, message)
                        return
            self._pending_failures[cluster_id] = _Failure(code, message)

    def fail_cluster(self, account: str, cluster_id: str, message: str, code: str = "INTERNAL") -> None:
        """Move a live cluster to FAILED now, whatever its state (a serving cluster that broke)."""
        if code not in GRPC_CODES:
            raise ValueError(f"unknown gRPC code {code!r}")
        with self._lock:
            c = self._require(account, cluster_id)
            now = self.clock()
            c.state, c.state_since, c.updated_at = "FAILED", now, now
            c.status_code, c.status_message = code, message

    def edit_cluster(self, account: str, cluster_id: str, spec: Mapping[str, str | None]) -> None:
        """Change fields of a live cluster's eksCluster/fakeCluster out of band (what no PATCH may do: Fireworks
        support, say). A None value removes the field."""
        with self._lock:
            c = self._require(account, cluster_id)
            for key, value in spec.items():
                if value is None:
                    c.spec.pop(key, None)
                else:
                    c.spec[key] = value
            c.updated_at = max(self.clock(), c.updated_at)

    @property
    def requests(self) -> list[RequestRecord]:
        """A snapshot of the request log, oldest first."""
        with self._lock:
            return list(self._requests)

    def record(self, record: RequestRecord) -> None:
        with self._lock:
            self._requests.append(record)

    def cluster_names(self) -> list[str]:
        """Names of the clusters that exist now (any state), sorted."""
        with self._lock:
            return sorted(c.name for c in self._live_clusters())

    # ------------------------------------------------------------------------------------------ auth

    def authorize(self, api_key: str | None, account: str) -> None:
        """401 UNAUTHENTICATED for a missing or unknown key, 403 PERMISSION_DENIED for a foreign account."""
        with self._lock:
            if not api_key or api_key not in self.api_keys:
                raise ApiError("UNAUTHENTICATED", "invalid or missing API key")
            allowed = self.api_keys[api_key]
        if allowed is not None and account not in allowed:
            if self.hide_foreign_accounts:
                raise ApiError("NOT_FOUND", f"account {account!r} not found")
            raise ApiError("PERMISSION_DENIED", f"the API key may not access account {account!r}")
        _check_resource_id("account_id", account)

    # ------------------------------------------------------------------------------------ operations

    def create_cluster(self, account: str, body: Any) -> dict[str, Any]:
        _check_resource_id("account_id", account)
        if not isinstance(body, dict):
            raise ApiError("INVALID_ARGUMENT", "request body must be a JSON object")
        _reject_unknown(body, _CREATE_FIELDS, "")
        cluster_id = body.get("clusterId")
        if cluster_id is None or cluster_id == "":
            raise ApiError("INVALID_ARGUMENT", "clusterId is required")
        if not isinstance(cluster_id, str):
            raise ApiError("INVALID_ARGUMENT", "clusterId must be a string")
        _check_resource_id("clusterId", cluster_id)
        cluster = body.get("cluster")
        if cluster is None:
            raise ApiError("INVALID_ARGUMENT", "cluster is required")
        fields = _parse_cluster(cluster, "cluster.")
        display_name = fields.get("displayName", "")
        kinds = [k for k in ("eksCluster", "fakeCluster") if k in fields]
        if not kinds:
            raise ApiError("INVALID_ARGUMENT", "one of cluster.eksCluster or cluster.fakeCluster is required")
        if len(kinds) > 1:
            raise ApiError("INVALID_ARGUMENT", "cluster.eksCluster and cluster.fakeCluster are mutually exclusive")
        kind = kinds[0]
        spec: dict[str, str] = fields[kind]
        name = f"accounts/{account}/clusters/{cluster_id}"
        if kind == "eksCluster" and self.default_manager_role and "fireworksManagerRole" not in spec:
            spec["fireworksManagerRole"] = f"arn:aws:iam::{spec['awsAccountId']}:role/FireworksManagerRole"
        if kind == "eksCluster" and self.assign_pool_provider and "workloadIdentityPoolProviderId" not in spec:
            spec["workloadIdentityPoolProviderId"] = "fw-" + hashlib.sha256(name.encode()).hexdigest()[:12]
        with self._lock:
            existing = self._get_live(name)
            if existing is not None:
                raise ApiError("ALREADY_EXISTS", f"cluster {name!r} already exists")
            now = self.clock()
            c = _Cluster(
                account=account,
                cluster_id=cluster_id,
                display_name=display_name,
                kind=kind,
                spec=spec,
                created_at=now,
                updated_at=now,
                state_since=now,
            )
            pending = self._pending_failures.pop(cluster_id, None) or self._pending_failures.pop(None, None)
            if pending is not None:
                c.failure = (pending.code, pending.message)
            self._clusters[name] = c
            self._advance(c)
            return self._render(c)

    def get_cluster(self, account: str, cluster_id: str) -> dict[str, Any]:
        with self._lock:
            return self._render(self._require(account, cluster_id))

    def list_clusters(
        self, account: str, page_size: int | None = None, page_token: str | None = None
    ) -> dict[str, Any]:
        _check_resource_id("account_id", account)
        if page_size is None or page_size == 0:
            page_size = DEFAULT_PAGE_SIZE
        if page_size < 0:
            raise ApiError("INVALID_ARGUMENT", "pageSize must not be negative")
        page_size = min(page_size, MAX_PAGE_SIZE)
        after = _decode_page_token(page_token, account) if page_token else None
        with self._lock:
            clusters = sorted((c for c in self._live_clusters() if c.account == account), key=lambda c: c.name)
            remaining = [c for c in clusters if after is None or c.name > after]
            page = remaining[:page_size]
            result: dict[str, Any] = {
                "clusters": [self._render(c) for c in page],
                "totalSize": len(clusters),
            }
            if len(remaining) > page_size:
                result["nextPageToken"] = _encode_page_token(page[-1].name, account)
            return result

    def update_cluster(self, account: str, cluster_id: str, body: Any) -> dict[str, Any]:
        _check_resource_id("account_id", account)
        fields = _parse_cluster(body, "")
        with self._lock:
            c = self._require(account, cluster_id)
            if c.state == "DELETING":
                raise ApiError("FAILED_PRECONDITION", f"cluster {c.name!r} is being deleted")
            for kind in ("eksCluster", "fakeCluster"):
                if kind in fields and (kind != c.kind or fields[kind] != c.spec):
                    raise ApiError("FAILED_PRECONDITION", f"{kind} is immutable: it cannot be changed")
            if "displayName" in fields:
                c.display_name = fields["displayName"]
            c.updated_at = max(self.clock(), c.updated_at)
            return self._render(c)

    def delete_cluster(self, account: str, cluster_id: str) -> dict[str, Any]:
        with self._lock:
            c = self._require(account, cluster_id)
            if c.state != "DELETING":
                now = self.clock()
                c.state_before_delete = c.state
                c.state, c.state_since, c.updated_at = "DELETING", now, now
                c.failure = None
            return {}

    def get_connection_info(self, account: str, cluster_id: str) -> dict[str, Any]:
        with self._lock:
            c = self._require(account, cluster_id)
            if c.state != "READY":
                raise ApiError("FAILED_PRECONDITION", f"cluster {c.name!r} is {c.state}; connection info needs READY")
            digest = hashlib.sha256(c.name.encode()).hexdigest()[:32].upper()
            if c.kind == "eksCluster":
                endpoint = f"https://{digest}.gr7.{c.spec['region']}.eks.amazonaws.com"
            else:
                endpoint = f"https://{digest.lower()}.fake-cluster.invalid"
            return {"endpoint": endpoint, "caData": _FAKE_CA}

    # ------------------------------------------------------------------------------------- internals

    def _require(self, account: str, cluster_id: str) -> _Cluster:
        _check_resource_id("account_id", account)
        name = f"accounts/{account}/clusters/{cluster_id}"
        c = self._get_live(name)
        if c is None:
            raise ApiError("NOT_FOUND", f"cluster {name!r} not found")
        return c

    def _get_live(self, name: str) -> _Cluster | None:
        c = self._clusters.get(name)
        if c is None:
            return None
        self._advance(c)
        if c.gone:
            del self._clusters[name]
            return None
        return c

    def _live_clusters(self) -> list[_Cluster]:
        return [c for c in list(self._clusters.values()) if self._get_live(c.name) is not None]

    def _advance(self, c: _Cluster) -> None:
        """Apply the transitions that are due by now."""
        now = self.clock()
        if c.state == "CREATING" and now - c.state_since >= self.provision_delay:
            at = c.state_since + self.provision_delay
            if c.failure is not None:
                c.state, (c.status_code, c.status_message) = "FAILED", c.failure
                c.failure = None
            else:
                c.state = "READY"
            c.state_since = at
            c.updated_at = max(c.updated_at, at)
        elif c.state == "DELETING" and now - c.state_since >= self.delete_delay:
            c.gone = True

    def _render(self, c: _Cluster) -> dict[str, Any]:
        state = c.state
        if state == "DELETING" and self.deleting_state is not None:
            state = c.state_before_delete if self.deleting_state == "previous" else self.deleting_state
        return {
            "name": c.name,
            "displayName": c.display_name,
            c.kind: dict(c.spec),
            "state": state,
            "status": {"code": c.status_code, "message": c.status_message},
            "createTime": self._timestamp(c.created_at),
            "updateTime": self._timestamp(c.updated_at),
        }

    def wall_time(self) -> float:
        """Now on the service's own clock (epoch seconds): what its timestamps and Date headers use. Shift
        `clock_skew` to play a service whose clock is off from the client's."""
        return self._epoch_wall + (self.clock() - self._epoch_clock) + self.clock_skew

    def _timestamp(self, at: float) -> str:
        wall = self._epoch_wall + (at - self._epoch_clock) + self.clock_skew
        moment = _dt.datetime.fromtimestamp(wall, tz=_dt.timezone.utc)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# ------------------------------------------------------------------------------------ validation


def _check_resource_id(what: str, value: str) -> None:
    if not _RESOURCE_ID.match(value):
        raise ApiError(
            "INVALID_ARGUMENT",
            f"invalid {what} {value!r}: must be 1-63 characters of a-z, 0-9 and '-', "
            "start with a letter and not end with '-'",
        )


def _reject_unknown(obj: dict[str, Any], allowed: frozenset[str], prefix: str) -> None:
    for key in obj:
        if key not in allowed:
            raise ApiError("INVALID_ARGUMENT", f'unknown field "{prefix}{key}"')


def _string_fields(obj: Any, allowed: frozenset[str], prefix: str) -> dict[str, str]:
    """A nested message of string fields: unknown fields and non-strings rejected, nulls and '' dropped."""
    if not isinstance(obj, dict):
        raise ApiError("INVALID_ARGUMENT", f"{prefix.rstrip('.')} must be a JSON object")
    _reject_unknown(obj, allowed, prefix)
    out: dict[str, str] = {}
    for key, value in obj.items():
        if value is None:
            continue
        if not isinstance(value, str):
            raise ApiError("INVALID_ARGUMENT", f"{prefix}{key} must be a string")
        if value:
            out[key] = value
    return out


def _parse_cluster(obj: Any, prefix: str) -> dict[str, Any]:
    """The writable fields present in a Cluster JSON object, validated. Read-only fields are ignored."""
    if not isinstance(obj, dict):
        raise ApiError("INVALID_ARGUMENT", f"{prefix.rstrip('.') or 'request body'} must be a JSON object")
    _reject_unknown(obj, _CLUSTER_FIELDS | _READ_ONLY_FIELDS, prefix)
    fields: dict[str, Any] = {}
    display_name = obj.get("displayName")
    if display_name is not None:
        if not isinstance(display_name, str):
            raise ApiError("INVALID_ARGUMENT", f"{prefix}displayName must be a string")
        if len(display_name) >= DISPLAY_NAME_LIMIT:
            raise ApiError(
                "INVALID_ARGUMENT",
                f"{prefix}displayName must be fewer than {DISPLAY_NAME_LIMIT} characters (got {len(display_name)})",
            )
        fields["displayName"] = display_name
    if obj.get("eksCluster") is not None:
        eks = _string_fields(obj["eksCluster"], _EKS_FIELDS, f"{prefix}eksCluster.")
        for required in ("awsAccountId", "region"):
            if required not in eks:
                raise ApiError("INVALID_ARGUMENT", f"{prefix}eksCluster.{required} is required")
        if not _AWS_ACCOUNT.match(eks["awsAccountId"]):
            raise ApiError(
                "INVALID_ARGUMENT",
                f"invalid {prefix}eksCluster.awsAccountId {eks['awsAccountId']!r}: must be 12 digits",
            )
        fields["eksCluster"] = eks
    if obj.get("fakeCluster") is not None:
        fields["fakeCluster"] = _string_fields(obj["fakeCluster"], _FAKE_FIELDS, f"{prefix}fakeCluster.")
    return fields


def _encode_page_token(after: str, account: str) -> str:
    raw = json.dumps({"a": account, "after": after}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode_page_token(token: str, account: str) -> str:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, binascii.Error):
        data = None
    if not isinstance(data, dict) or data.get("a") != account or not isinstance(data.get("after"), str):
        raise ApiError("INVALID_ARGUMENT", "invalid pageToken")
    after: str = data["after"]
    return after


__all__ = [
    "DEFAULT_PAGE_SIZE",
    "GRPC_CODES",
    "MAX_PAGE_SIZE",
    "ApiError",
    "Backend",
    "Fault",
    "FaultKind",
    "FaultQueue",
    "RequestRecord",
    "error_body",
]
