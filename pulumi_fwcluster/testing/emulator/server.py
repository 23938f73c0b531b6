"""HTTP in and out for the emulated Fireworks clusters API: routing, JSON, headers. Rules live in `backend`.

Standard library only (`http.server.ThreadingHTTPServer`), so the emulator needs no extra dependency.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from .backend import ApiError, Backend, RequestRecord, error_body

_COLLECTION = re.compile(r"^/v1/accounts/(?P<account>[^/]+)/clusters$")
_RESOURCE = re.compile(r"^/v1/accounts/(?P<account>[^/]+)/clusters/(?P<cluster>[^/:]+)$")
_CONNECTION = re.compile(r"^/v1/accounts/(?P<account>[^/]+)/clusters/(?P<cluster>[^/:]+):getConnectionInfo$")


@dataclass(frozen=True)
class EmulatorHandle:
    """A running emulator: where it listens and the backend behind it."""

    base_url: str
    backend: Backend
    host: str
    port: int


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default backlog of 5 drops connections when a provider opens 16 at once; each then waits a
    # second for the kernel's retry, which is the emulator's doing, not the provider's.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], backend: Backend) -> None:
        super().__init__(address, _Handler)
        self.backend = backend
        self.open_sockets: set[socket.socket] = set()
        self.sockets_lock = threading.Lock()

    def close_open_sockets(self) -> None:
        with self.sockets_lock:
            sockets = list(self.open_sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fireworks-emulator"
    sys_version = ""
    timeout = 60.0  # idle keep-alive connections
    disable_nagle_algorithm = True  # headers and body go in two writes: avoid the 40 ms delayed-ACK stall
    server: _Server

    def setup(self) -> None:
        super().setup()
        with self.server.sockets_lock:
            self.server.open_sockets.add(self.connection)

    def finish(self) -> None:
        with self.server.sockets_lock:
            self.server.open_sockets.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: no per-request lines on stderr."""

    def date_time_string(self, timestamp: float | None = None) -> str:
        # The Date header on the service's clock, as its timestamps are: a skewed service is skewed in both.
        return super().date_time_string(self.server.backend.wall_time() if timestamp is None else timestamp)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def _serve(self, method: str) -> None:
        backend = self.server.backend
        url = urlsplit(self.path)
        path = url.path
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        raw = self._read_body()
        body_text = raw.decode("utf-8", errors="replace") if raw else ""
        body_json: Any = None
        body_error: str | None = None
        if body_text.strip():
            try:
                body_json = json.loads(body_text)
            except ValueError as exc:
                body_error = f"request body is not valid JSON: {exc}"
        authorization = self.headers.get("Authorization")
        api_key = _bearer(authorization)

        fault = backend.faults.take(method, path)
        headers: dict[str, str] = {}
        if fault is not None and fault.kind == "slow":
            time.sleep(fault.seconds)
        if fault is not None and fault.kind in ("error", "rate_limit"):
            status, response = fault.error()
            if fault.kind == "rate_limit" and fault.retry_after is not None:
                headers["Retry-After"] = fault.retry_after
        else:
            try:
                status, response = (
                    200,
                    _dispatch(backend, method, path, query, api_key, body_json, body_error),
                )
            except ApiError as err:
                status, response = err.http_status, err.body()
        dropped = fault is not None and fault.kind == "drop"
        backend.record(
            RequestRecord(
                method=method,
                path=path,
                query=query,
                body=body_json if body_error is None else body_text,
                auth_present=authorization is not None,
                user_agent=self.headers.get("User-Agent", ""),
                status=status,
                response_body=response,
                dropped=dropped,
                fault=fault.kind if fault is not None else None,
            )
        )
        if dropped:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        if fault is not None and fault.kind == "garbage":
            self._send_raw(200, b"<html><body>502 Bad Gateway</body></html>", "text/html", headers)
            return
        self._send(status, response, headers)

    def _read_body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        try:
            n = int(length)
        except ValueError:
            return b""
        return self.rfile.read(n) if n > 0 else b""

    def _send(self, status: int, body: Any, headers: dict[str, str]) -> None:
        self._send_raw(status, json.dumps(body).encode(), "application/json", headers)

    def _send_raw(self, status: int, data: bytes, content_type: str, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)


def _bearer(authorization: str | None) -> str | None:
    if authorization is None:
        return None
    scheme, _, key = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return key.strip() or None


def _dispatch(
    backend: Backend,
    method: str,
    path: str,
    query: dict[str, str],
    api_key: str | None,
    body: Any,
    body_error: str | None,
) -> dict[str, Any]:
    for pattern in (_CONNECTION, _RESOURCE, _COLLECTION):
        m = pattern.match(path)
        if m is not None:
            break
    else:
        raise ApiError("NOT_FOUND", f"no such path {path!r}")
    groups = {k: unquote(v) for k, v in m.groupdict().items()}
    account = groups["account"]
    allowed = {_COLLECTION: ("GET", "POST"), _RESOURCE: ("GET", "PATCH", "DELETE"), _CONNECTION: ("GET",)}
    if method not in allowed[pattern]:
        raise ApiError("UNIMPLEMENTED", f"method {method} is not allowed on {path!r}")
    backend.authorize(api_key, account)
    if body_error is not None:
        raise ApiError("INVALID_ARGUMENT", body_error)
    if pattern is _COLLECTION:
        if method == "POST":
            return backend.create_cluster(account, body)
        _check_list_query(query)
        page_size = _int_param(query, "pageSize")
        listing = backend.list_clusters(account, page_size, query.get("pageToken") or None)
        mask = _read_mask(query)
        if mask is not None:
            listing["clusters"] = [_apply_mask(c, mask) for c in listing["clusters"]]
        return listing
    cluster = groups["cluster"]
    if pattern is _CONNECTION:
        return _apply_mask(backend.get_connection_info(account, cluster), _read_mask(query))
    if method == "GET":
        return _apply_mask(backend.get_cluster(account, cluster), _read_mask(query))
    if method == "PATCH":
        if body is None:
            raise ApiError("INVALID_ARGUMENT", "request body is required")
        return backend.update_cluster(account, cluster, body)
    return backend.delete_cluster(account, cluster)


def _int_param(query: dict[str, str], name: str) -> int | None:
    value = query.get(name)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise ApiError("INVALID_ARGUMENT", f"{name} must be an integer, got {value!r}") from None


def _check_list_query(query: dict[str, str]) -> None:
    if query.get("filter"):
        raise ApiError("UNIMPLEMENTED", "the emulator does not support filter")
    order_by = " ".join(query.get("orderBy", "").split())
    if order_by not in ("", "name", "name asc"):
        raise ApiError("UNIMPLEMENTED", f"the emulator only orders by name, not {order_by!r}")


def _read_mask(query: dict[str, str]) -> list[str] | None:
    """Top-level field names of `readMask`; None for all fields."""
    mask = query.get("readMask", "").strip()
    if mask in ("", "*"):
        return None
    return [part.strip() for part in mask.split(",") if part.strip()]


def _apply_mask(obj: dict[str, Any], mask: list[str] | None) -> dict[str, Any]:
    if mask is None:
        return obj
    top = {part.split(".", 1)[0] for part in mask}
    return {k: v for k, v in obj.items() if k in top}


@contextlib.contextmanager
def serve(backend: Backend | None = None, port: int = 0, host: str = "127.0.0.1") -> Iterator[EmulatorHandle]:
    """Run the emulator on `host:port` (0 picks a free port) in daemon threads until the block exits."""
    backend = backend if backend is not None else Backend()
    server = _Server((host, port), backend)
    bound_port = int(server.server_address[1])
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fireworks-emulator", daemon=True
    )
    thread.start()
    try:
        yield EmulatorHandle(base_url=f"http://{host}:{bound_port}", backend=backend, host=host, port=bound_port)
    finally:
        server.shutdown()
        server.close_open_sockets()
        server.server_close()
        thread.join(timeout=5)


__all__ = ["EmulatorHandle", "error_body", "serve"]
