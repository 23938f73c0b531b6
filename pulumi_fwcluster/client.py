"""FireworksClient: the clusters API over HTTP and JSON. Knows nothing about Pulumi.

Retries live in urllib3's `Retry`, mounted on the session's adapter. POST is never retried after the request
may have been applied; instead `create` looks the cluster up and tells the caller what it found.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import logging
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from . import __version__
from .errors import FireworksError, InvalidResponse, NotFound, Unavailable, error_for_status
from .settings import Secret, Settings, resolve

log = logging.getLogger(__name__)

USER_AGENT = f"pulumi-fwcluster/{__version__}"
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 60.0

# gRPC code numbers, for error bodies that carry `code` as an int (grpc-gateway does).
GRPC_CODE_NAMES = (
    "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
    "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
    "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
)  # fmt: skip

_CLUSTER_FIELDS = {
    "name": "name",
    "displayName": "display_name",
    "eksCluster": "eks_cluster",
    "fakeCluster": "fake_cluster",
    "state": "state",
    "status": "status",
    "createTime": "create_time",
    "updateTime": "update_time",
}

READ_ONLY = frozenset({"name", "state", "status", "createTime", "updateTime"})


@dataclass
class Cluster:
    """A cluster as the API returns it. Fields the API adds later are kept in `extra` and rendered back."""

    name: str = ""
    display_name: str = ""
    eks_cluster: dict[str, Any] | None = None
    fake_cluster: dict[str, Any] | None = None
    state: str = "STATE_UNSPECIFIED"
    status: dict[str, Any] | None = None
    create_time: str = ""
    update_time: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Cluster:
        known = {attr: data[key] for key, attr in _CLUSTER_FIELDS.items() if data.get(key) is not None}
        extra = {k: v for k, v in data.items() if k not in _CLUSTER_FIELDS}
        return cls(**known, extra=extra)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.extra)
        for key, attr in _CLUSTER_FIELDS.items():
            value = getattr(self, attr)
            if value not in (None, ""):
                out[key] = value
        return out

    def to_request(self) -> dict[str, Any]:
        """The writable fields only: what a create body may carry."""
        return {k: v for k, v in self.to_json().items() if k not in READ_ONLY}

    @property
    def cluster_id(self) -> str:
        return self.name.rsplit("/", 1)[-1]

    @property
    def status_code(self) -> str:
        return str((self.status or {}).get("code", ""))

    @property
    def status_message(self) -> str:
        return str((self.status or {}).get("message", ""))


@dataclass(frozen=True)
class CreateOutcome:
    """What a create ended with. `confirmed` is False when the POST's reply was lost and the cluster was
    found by a follow-up GET: it exists, but this call may not be the one that made it."""

    cluster: Cluster
    confirmed: bool


class _Retry(Retry):
    """urllib3 Retry that caps Retry-After, reads `retry-after-ms`, and lets POST retry only a 429.

    A 429 means the request was refused before it was applied, so repeating a POST is safe; a 5xx or a dropped
    connection after sending may mean it was applied, so those are left to `create`'s look-up."""

    retry_after_cap: float = 60.0

    def new(self, **kw: Any) -> _Retry:
        new = super().new(**kw)
        assert isinstance(new, _Retry)
        new.retry_after_cap = self.retry_after_cap
        return new

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        if method.upper() == "POST":
            return status_code == 429 and bool(self.total)
        return super().is_retry(method, status_code, has_retry_after)

    def get_retry_after(self, response: Any) -> float | None:
        ms = response.headers.get("retry-after-ms")
        if ms:
            try:
                return min(float(ms) / 1000.0, self.retry_after_cap)
            except ValueError:
                pass
        value = response.headers.get("Retry-After")
        if value is None:
            return None
        seconds = _parse_retry_after(value)
        return None if seconds is None else min(seconds, self.retry_after_cap)


def _parse_retry_after(value: str) -> float | None:
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def build_retry(max_retries: int, max_wait: float) -> Retry:
    retry = _Retry(
        total=max_retries,
        connect=max_retries,
        read=max_retries,
        status=max_retries,
        other=0,
        backoff_factor=0.5,
        backoff_max=min(8.0, max_wait),
        backoff_jitter=0.5,
        status_forcelist=(429, 500, 502, 503, 504),
        allowed_methods=frozenset({"GET", "PATCH", "DELETE", "HEAD"}),
        respect_retry_after_header=True,
        raise_on_status=False,
    )
    retry.retry_after_cap = max_wait
    return retry


class FireworksClient:
    """A client for one Fireworks account's clusters.

    Each argument left as None is taken from the environment (FIREWORKS_API_KEY, FIREWORKS_ACCOUNT_ID,
    FIREWORKS_BASE_URL) and then from the default. One client holds one `requests.Session`; give each thread its
    own client.
    """

    def __init__(
        self,
        api_key: str | None = None,
        account_id: str | None = None,
        base_url: str | None = None,
        *,
        max_retries: int | None = None,
        retry_max_wait: float | None = None,
        timeout: tuple[float, float] = (CONNECT_TIMEOUT, READ_TIMEOUT),
        settings: Settings | None = None,
    ) -> None:
        if settings is None:
            settings = resolve(
                explicit={
                    "api_key": api_key,
                    "account_id": account_id,
                    "base_url": base_url,
                    "max_retries": max_retries,
                    "retry_max_wait": retry_max_wait,
                },
                env=os.environ,
            )
        self._key: Secret = settings.require_api_key()
        self.account_id = settings.require_account_id()
        self.base_url = settings.base_url.rstrip("/")
        self.timeout = timeout
        self._session = requests.Session()
        self._session.headers.update(
            {
                "Authorization": f"Bearer {self._key.reveal()}",
                "User-Agent": USER_AGENT,
                "Accept": "application/json",
            }
        )
        adapter = HTTPAdapter(max_retries=build_retry(settings.max_retries, settings.retry_max_wait))
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)
        self.server_clock_offset: float | None = None

    def __repr__(self) -> str:
        return f"FireworksClient(account_id={self.account_id!r}, base_url={self.base_url!r})"

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> FireworksClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- paths -----------------------------------------------------------------------------------------------

    def _clusters_path(self, account_id: str | None) -> str:
        return f"/v1/accounts/{account_id or self.account_id}/clusters"

    def _cluster_path(self, cluster_id: str, account_id: str | None) -> str:
        return f"{self._clusters_path(account_id)}/{cluster_id}"

    # -- operations ------------------------------------------------------------------------------------------

    def create(self, cluster_id: str, cluster: Cluster, *, account_id: str | None = None) -> CreateOutcome:
        """POST the cluster. If the reply is lost (connection dropped, timeout, 5xx), GET it: when it exists
        the outcome is unconfirmed; when it does not, the original error is raised."""
        body = {"cluster": cluster.to_request(), "clusterId": cluster_id}
        try:
            return CreateOutcome(Cluster.from_json(self._call("POST", self._clusters_path(account_id), body)), True)
        except FireworksError as exc:
            if not _outcome_unknown(exc):
                raise
            try:
                found = self.get(cluster_id, account_id=account_id)
            except NotFound:
                not_applied = type(exc)(
                    f"{exc.message}; no cluster {cluster_id!r} exists after it, so a retry is safe "
                    "(a create that lands late fails the retry with ALREADY_EXISTS)",
                    status=exc.status,
                    code=exc.code,
                    method=exc.method,
                    path=exc.path,
                )
                not_applied.retry_safe = True
                raise not_applied from None
            log.info("create of %s: the reply was lost, but the cluster exists", found.name)
            return CreateOutcome(found, False)

    def get(self, cluster_id: str, *, account_id: str | None = None) -> Cluster:
        return Cluster.from_json(self._call("GET", self._cluster_path(cluster_id, account_id)))

    def find(self, cluster_id: str, *, account_id: str | None = None) -> Cluster | None:
        """`get`, with "not found" as None."""
        try:
            return self.get(cluster_id, account_id=account_id)
        except NotFound:
            return None

    def list(
        self, *, account_id: str | None = None, page_size: int = 200, filter: str | None = None
    ) -> Iterator[Cluster]:
        """Every cluster, following `nextPageToken` until the last page."""
        params: dict[str, Any] = {"pageSize": page_size}
        if filter:
            params["filter"] = filter
        while True:
            page = self._call("GET", self._clusters_path(account_id), params=params)
            for item in page.get("clusters") or []:
                yield Cluster.from_json(item)
            token = page.get("nextPageToken")
            if not token:
                return
            params["pageToken"] = token

    def probe_account(self, *, account_id: str | None = None) -> None:
        """Prove the key can see the account's clusters (one page of one): raises the API's error otherwise. A
        cluster's 404 means "deleted" only when its account is visible; a key for another account may see 404s."""
        self._call("GET", self._clusters_path(account_id), params={"pageSize": 1})

    def update(self, cluster_id: str, fields: Mapping[str, Any], *, account_id: str | None = None) -> Cluster:
        """PATCH only the given camelCase fields (the API publishes no updateMask)."""
        return Cluster.from_json(self._call("PATCH", self._cluster_path(cluster_id, account_id), dict(fields)))

    def delete(self, cluster_id: str, *, account_id: str | None = None) -> None:
        self._call("DELETE", self._cluster_path(cluster_id, account_id))

    def get_connection_info(self, cluster_id: str, *, account_id: str | None = None) -> dict[str, Any]:
        return self._call("GET", f"{self._cluster_path(cluster_id, account_id)}:getConnectionInfo")

    # -- transport -------------------------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        try:
            resp = self._session.request(method, self.base_url + path, json=body, params=params, timeout=self.timeout)
        except requests.RequestException as exc:
            # The exception's own text can carry the URL but never headers; still, describe it ourselves.
            raise Unavailable(
                f"no reply from {self.base_url} ({type(exc).__name__})", method=method, path=path
            ) from None
        self._note_server_clock(resp)
        if resp.ok:
            return _json_object(resp, method, path)
        raise self._error(resp, method, path)

    def _note_server_clock(self, resp: requests.Response) -> None:
        # Fireworks' timestamps (createTime) are on its clock, not ours: the Date header says how far apart they are.
        date = resp.headers.get("Date")
        if not date:
            return
        with contextlib.suppress(TypeError, ValueError):
            self.server_clock_offset = email.utils.parsedate_to_datetime(date).timestamp() - time.time()

    def server_time(self) -> float:
        """Now, on Fireworks' clock as the last reply's Date header gave it (epoch seconds, to the second)."""
        return time.time() + (self.server_clock_offset or 0.0)

    def _error(self, resp: requests.Response, method: str, path: str) -> FireworksError:
        code, message = parse_error_body(resp.status_code, resp.text)
        message = message.replace(self._key.reveal(), "****") if self._key.reveal() else message
        return error_for_status(resp.status_code)(message, status=resp.status_code, code=code, method=method, path=path)


def _json_object(resp: requests.Response, method: str, path: str) -> dict[str, Any]:
    if not resp.content:
        return {}
    try:
        data = resp.json()
    except ValueError:
        kind = resp.headers.get("Content-Type") or "no content type"
        raise InvalidResponse(
            f"the reply is not JSON ({kind}, {len(resp.content)} bytes)",
            status=resp.status_code,
            method=method,
            path=path,
        ) from None
    if not isinstance(data, dict):
        raise InvalidResponse(
            f"the reply is JSON but not an object ({type(data).__name__})",
            status=resp.status_code,
            method=method,
            path=path,
        )
    return data


def _outcome_unknown(exc: FireworksError) -> bool:
    """The request may have been applied: no reply, a timeout, or a server-side failure."""
    return isinstance(exc, InvalidResponse) or exc.status is None or exc.status >= 500


def parse_error_body(status: int, text: str) -> tuple[str | None, str]:
    """(gRPC code name, message) from a grpc-gateway error body, tolerating other shapes and plain text."""
    try:
        data = json.loads(text) if text else None
    except ValueError:
        data = None
    if isinstance(data, dict):
        nested = data.get("error")
        inner: dict[str, Any] = nested if isinstance(nested, dict) else data
        message = inner.get("message") or (nested if isinstance(nested, str) else None)
        code = inner.get("code", inner.get("status"))
        if isinstance(code, int) and 0 <= code < len(GRPC_CODE_NAMES):
            code = GRPC_CODE_NAMES[code]
        elif not isinstance(code, str):
            code = None
        if message:
            return code, str(message)
    raw = text.strip()[:500]
    return None, raw or f"HTTP {status} with an empty body"
