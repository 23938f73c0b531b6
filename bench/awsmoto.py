"""An in-process moto server whose every AWS call is counted (and optionally slowed down).

The provider runs in a subprocess, so its boto3 calls are counted where they arrive: a WSGI middleware around
moto's own application, served by werkzeug in a thread of this process (like
``pulumi_fwcluster.testing.aws.moto_server``, so ``seed_byoc`` can still give each cluster its own issuer).
"""

from __future__ import annotations

import io
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


@dataclass(frozen=True)
class AwsCall:
    """One AWS API call as moto received it."""

    service: str
    action: str
    method: str
    path: str

    def __str__(self) -> str:
        return f"{self.service}:{self.action}"


def _service(environ: dict[str, Any]) -> str:
    """The signing service from SigV4's credential scope: ``Credential=<key>/<date>/<region>/<service>/...``."""
    auth = str(environ.get("HTTP_AUTHORIZATION", ""))
    marker = "Credential="
    if marker in auth:
        scope = auth.split(marker, 1)[1].split(",", 1)[0].split("/")
        if len(scope) >= 4:
            return scope[3]
    return "?"


_REST_ACTIONS = {
    ("eks", "GET"): "DescribeCluster",
    ("s3", "HEAD"): "HeadBucket",
}


class CountingApp:
    """WSGI middleware: records each AWS call (``/moto-api/`` excluded) and sleeps ``latency`` before it."""

    def __init__(self, app: WsgiApp, latency: float = 0.0) -> None:
        self.app = app
        self.latency = latency
        self._lock = threading.Lock()
        self._calls: list[AwsCall] = []

    @property
    def calls(self) -> list[AwsCall]:
        with self._lock:
            return list(self._calls)

    def __len__(self) -> int:
        with self._lock:
            return len(self._calls)

    def since(self, index: int) -> list[AwsCall]:
        with self._lock:
            return self._calls[index:]

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = str(environ.get("PATH_INFO", ""))
        if not path.startswith("/moto-api"):
            method = str(environ.get("REQUEST_METHOD", "GET"))
            service = _service(environ)
            action = ""
            target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
            if target:
                action = target.rsplit(".", 1)[-1]
            elif method == "POST" and "form-urlencoded" in str(environ.get("CONTENT_TYPE", "")):
                length = int(environ.get("CONTENT_LENGTH") or 0)
                body = environ["wsgi.input"].read(length) if length else b""
                environ["wsgi.input"] = io.BytesIO(body)
                action = parse_qs(body.decode("utf-8", "replace")).get("Action", [""])[0]
            if not action:
                action = _REST_ACTIONS.get((service, method), f"{method} {path}")
            with self._lock:
                self._calls.append(AwsCall(service, action, method, path))
            if self.latency > 0:
                time.sleep(self.latency)
        return self.app(environ, start_response)


@contextmanager
def counting_moto(latency: float = 0.0) -> Iterator[tuple[str, CountingApp]]:
    """Serve moto on 127.0.0.1 (a free port) in this process; yields ``(endpoint, counter)``."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    counter = CountingApp(DomainDispatcherApplication(create_backend_app), latency)
    server = make_server("127.0.0.1", 0, counter, threaded=True, request_handler=MotoRequestHandler)
    thread = threading.Thread(target=server.serve_forever, name="bench-moto", daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    try:
        yield f"http://{host!s}:{port}", counter
    finally:
        server.shutdown()
        thread.join(timeout=5)
