"""FireworksProvider: the native door. It adapts the provider protocol (`pulumi.provider.experimental`) to the
lifecycle core and back, and adds only what a native plugin can do and a dynamic provider cannot: the schema,
preview outputs, detailed diffs, customTimeouts, secrets, a partial create recorded as an init failure, cancel, and
no cap on parallel operations.

The core's calls block (HTTP, boto3, polling for an hour), and every handler here runs on the server's one event
loop, so each call runs on a dedicated thread pool sized above the engine's default parallelism.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import os
import sys
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from pulumi.provider.experimental.property_value import PropertyValue
from pulumi.provider.experimental.provider import (
    CheckFailure,
    CheckRequest,
    CheckResponse,
    ConfigureRequest,
    ConfigureResponse,
    CreateRequest,
    CreateResponse,
    DeleteRequest,
    DiffRequest,
    DiffResponse,
    GetSchemaRequest,
    GetSchemaResponse,
    PropertyDiff,
    PropertyDiffKind,
    Provider,
    ReadRequest,
    ReadResponse,
    UpdateRequest,
    UpdateResponse,
)
from pulumi.runtime import rpc

from .. import __version__, spec
from ..errors import ConfigurationError
from ..lifecycle import CALL_LOG, ClusterLifecycle, Incomplete, LifecycleError, Severity
from ..settings import check_base_url
from .schema import PACKAGE, config_keys, package_schema
from .server import InitFailed, ProviderError

T = TypeVar("T")

# The engine runs up to GOMAXPROCS x 4 steps at once (`--parallel`); a wait holds its thread for the whole wait.
WORKERS = max(64, 4 * (os.cpu_count() or 1))

_KINDS = {
    ("add", False): PropertyDiffKind.ADD,
    ("add", True): PropertyDiffKind.ADD_REPLACE,
    ("delete", False): PropertyDiffKind.DELETE,
    ("delete", True): PropertyDiffKind.DELETE_REPLACE,
    ("update", False): PropertyDiffKind.UPDATE,
    ("update", True): PropertyDiffKind.UPDATE_REPLACE,
}


def _is_unknown(value: Any) -> bool:
    return isinstance(value, str) and value == rpc.UNKNOWN


def unwrap(props: Mapping[str, PropertyValue]) -> tuple[dict[str, Any], set[str]]:
    """Plain values, and the dotted paths that were secret."""
    secret: set[str] = set()

    def plain(value: PropertyValue, path: str) -> Any:
        if value.is_secret:
            secret.add(path)
        inner = value.value
        if isinstance(inner, Mapping):
            return {k: plain(v, f"{path}.{k}") for k, v in inner.items()}
        if isinstance(inner, tuple):
            return [plain(v, path) for v in inner]
        return inner

    return {k: plain(v, k) for k, v in props.items()}, secret


def wrap(props: Mapping[str, Any], secret: set[str]) -> dict[str, PropertyValue]:
    """PropertyValues (numbers as floats), marking each secret path."""

    def value_of(value: Any, path: str) -> PropertyValue:
        if isinstance(value, Mapping):
            pv = PropertyValue({str(k): value_of(v, f"{path}.{k}") for k, v in value.items()})
        elif isinstance(value, (list, tuple)):
            pv = PropertyValue([value_of(v, path) for v in value])
        elif isinstance(value, int) and not isinstance(value, bool):
            pv = PropertyValue(float(value))
        else:
            pv = PropertyValue(value)
        return pv.with_secret(True) if path in secret else pv

    return {k: value_of(v, k) for k, v in props.items()}


@dataclass(frozen=True)
class Secrets:
    """What is secret in one request: input paths, and the values to keep out of outputs, messages and logs."""

    paths: frozenset[str] = frozenset()
    values: tuple[str, ...] = ()
    endpoint: bool = False
    """`fireworks:baseUrl` is a secret config value, so the `endpoint` output is too."""

    def outputs(self) -> set[str]:
        """The output paths that carry a secret: the inputs themselves, the name made from a secret id, the AWS
        findings about a secret eksCluster field (they quote it), and the endpoint from a secret base URL."""
        derived = set(self.paths)
        if self.paths & {"accountId", "clusterId"}:
            derived.add("name")
        if any(p.split(".")[0] == "eksCluster" for p in self.paths):
            derived.add("awsFindings")
        if self.endpoint:
            derived.add("endpoint")
        return derived

    def scrub(self, text: str) -> str:
        for value in self.values:
            text = text.replace(value, "[secret]")
        return text


def _strings_at(props: Mapping[str, Any], paths: set[str]) -> list[str]:
    """The secret strings at `paths`, with the parts of an ARN that messages quote on their own (a role's name and
    path: the preflight says `role 'inference-prod' does not exist`; its account)."""
    found: list[str] = []
    for path in paths:
        value = spec.get_path(props, path)
        values = [value] if isinstance(value, str) else list(value.values()) if isinstance(value, Mapping) else []
        for v in values:
            if isinstance(v, str) and v:
                found.append(v)
                if v.startswith("arn:") and "/" in v:
                    parts = v.split(":", 5)
                    resource = parts[-1]  # role/path/name
                    found += [resource, resource.split("/", 1)[-1], resource.rsplit("/", 1)[-1]]
                    if len(parts) == 6 and parts[4]:
                        found.append(parts[4])  # its account: "role is in account …"
    return [v for v in found if len(v) >= 3]


class FireworksProvider(Provider):
    """The `fireworks` package: one resource, `fireworks:index:Cluster`."""

    def __init__(self) -> None:
        self._core = ClusterLifecycle(_stderr_log, records_partial=True)
        self._pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="fireworks")
        self._cancel = threading.Event()
        self._secret_config: dict[str, str] = {}

    def _secrets(self, *sources: tuple[Mapping[str, Any], set[str]]) -> Secrets:
        paths = {p for _, found in sources for p in found}
        values = [v for props, found in sources for v in _strings_at(props, found)]
        values += [v for v in self._secret_config.values() if v]
        return Secrets(
            frozenset(paths), tuple(sorted(set(values), key=len, reverse=True)), "baseUrl" in self._secret_config
        )

    async def _run(self, urn: str, secrets: Secrets, fn: Callable[[], T]) -> T:
        """Run a blocking core call on the pool, with its messages logged against `urn` through the engine, and no
        secret value in them or in its errors."""
        context = contextvars.copy_context()
        log = _engine_log(urn)

        def call() -> T:
            CALL_LOG.set(lambda severity, message: log(severity, secrets.scrub(message)))
            return fn()

        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, context.run, call)
        except Incomplete as exc:
            raise _init_failed(exc, secrets) from None
        except (LifecycleError, ConfigurationError) as exc:  # already says what happened and what to do next
            raise ProviderError(secrets.scrub(str(exc))) from None

    # -- the package and its configuration ------------------------------------------------------------------

    async def get_schema(self, request: GetSchemaRequest) -> GetSchemaResponse:
        return GetSchemaResponse(schema=json.dumps(package_schema(__version__)))

    async def check_config(self, request: CheckRequest) -> CheckResponse:
        news, _ = unwrap(request.new_inputs)
        known = config_keys()
        failures = []
        for key, value in news.items():
            setting = known.get(key)
            if setting is None or value is None or _is_unknown(value) or not setting.config_key:
                continue  # the engine's own keys (`version`), and values not known yet
            text = value if isinstance(value, str) else json.dumps(value)
            try:
                parsed = setting.parse(text)
                if setting.attr == "base_url":
                    check_base_url(parsed)
            except ValueError as exc:
                failures.append(CheckFailure(key, str(exc)))
            except ConfigurationError as exc:
                failures.append(CheckFailure(key, exc.message))
        return CheckResponse(inputs=request.new_inputs, failures=failures)

    async def diff_config(self, request: DiffRequest) -> DiffResponse:
        # No setting replaces a cluster: a new base URL is the endpoint guard's business, and a stack moving from the
        # dynamic door to this one (an alias across the two type tokens) must keep its clusters. The engine asks this
        # when a resource's provider changes, and replaces every resource of a provider that says "replace".
        return DiffResponse(changes=None)

    async def configure(self, request: ConfigureRequest) -> ConfigureResponse:
        prefix = f"{PACKAGE}:config:"
        config = {f"{PACKAGE}:{k[len(prefix) :]}": v for k, v in request.variables.items() if k.startswith(prefix)}
        args, secret = unwrap(request.args)
        self._secret_config = {k: str(args[k]) for k in secret if "." not in k and args.get(k) is not None}
        self._core.configure(config)
        return ConfigureResponse(accept_secrets=True, supports_preview=True, accept_resources=True)

    # -- check and diff -------------------------------------------------------------------------------------

    async def check(self, request: CheckRequest) -> CheckResponse:
        olds, _ = unwrap(request.old_inputs)
        news, secret = unwrap(request.new_inputs)
        if not news.get("accountId") and "accountId" in self._secret_config:
            secret.add("accountId")  # filled in from a secret `fireworks:accountId`
        secrets = self._secrets((news, secret))
        checked = await self._run(request.urn, secrets, lambda: self._core.check(olds, news, _is_unknown))
        return CheckResponse(
            inputs=wrap(checked.inputs, secret),
            failures=[CheckFailure(f.path, secrets.scrub(f.reason)) for f in checked.failures],
        )

    async def diff(self, request: DiffRequest) -> DiffResponse:
        olds, old_secret = unwrap(request.old_state)
        news, secret = unwrap(request.new_inputs)
        secrets = self._secrets((olds, old_secret), (news, secret))
        plan = await self._run(
            request.urn, secrets, lambda: self._core.diff(request.resource_id, olds, news, _is_unknown)
        )
        return DiffResponse(
            changes=plan.any,
            replaces=list(plan.replaces),
            delete_before_replace=plan.delete_before_replace,
            diffs=list(dict.fromkeys(path.split(".", 1)[0] for path in plan.changed)),
            detailed_diff={
                c.path: PropertyDiff(_KINDS[(c.kind, c.replace)], input_diff=c.path.split(".")[0] in spec.TOP_LEVEL)
                for c in plan.changes
            },
        )

    # -- create, read, update, delete -----------------------------------------------------------------------

    async def create(self, request: CreateRequest) -> CreateResponse:
        inputs, secret = unwrap(request.properties)
        secrets = self._secrets((inputs, secret))
        if request.preview:  # what only the API knows stays unknown; no request is made
            preview = {**inputs, **dict.fromkeys(spec.OUTPUT_ONLY, rpc.UNKNOWN)}
            return CreateResponse(resource_id="", properties=wrap(preview, secrets.outputs()))
        created = await self._run(
            request.urn,
            secrets,
            lambda: self._core.create(inputs, timeout=request.timeout or None, cancel=self._cancel),
        )
        return CreateResponse(resource_id=created.id, properties=wrap(created.outputs, secrets.outputs()))

    async def read(self, request: ReadRequest) -> ReadResponse:
        properties, secret_outputs = unwrap(request.properties)
        inputs, secret_inputs = unwrap(request.inputs)
        secrets = self._secrets((properties, secret_outputs), (inputs, secret_inputs))
        result = await self._run(
            request.urn, secrets, lambda: self._core.read(request.resource_id, properties, inputs or properties)
        )
        if result.id is None:
            return ReadResponse(resource_id="")
        return ReadResponse(
            resource_id=result.id,
            properties=wrap(result.outputs, secrets.outputs()),
            inputs=wrap(result.inputs, set(secrets.paths)),
        )

    async def update(self, request: UpdateRequest) -> UpdateResponse:
        olds, old_secret = unwrap(request.olds)
        news, secret = unwrap(request.news)
        secrets = self._secrets((olds, old_secret), (news, secret))
        if request.preview:
            kept = {k: olds[k] for k in spec.OUTPUT_ONLY if k in olds}
            return UpdateResponse(properties=wrap({**kept, **news}, secrets.outputs()))
        outputs = await self._run(
            request.urn,
            secrets,
            lambda: self._core.update(
                request.resource_id, olds, news, timeout=request.timeout or None, cancel=self._cancel
            ),
        )
        return UpdateResponse(properties=wrap(outputs, secrets.outputs()))

    async def delete(self, request: DeleteRequest) -> None:
        outputs, secret = unwrap(request.properties)
        await self._run(
            request.urn,
            self._secrets((outputs, secret)),
            lambda: self._core.delete(
                request.resource_id, outputs, timeout=request.timeout or None, cancel=self._cancel
            ),
        )

    async def cancel(self) -> None:
        # Every wait in flight wakes and fails with what the next `up` (or `destroy`) will do.
        self._cancel.set()


def _init_failed(exc: Incomplete, secrets: Secrets) -> InitFailed:
    return InitFailed(
        exc.resource_id,
        wrap(exc.outputs, secrets.outputs()),
        [secrets.scrub(str(exc))],
        wrap(exc.inputs, set(secrets.paths)),
    )


def _engine_log(urn: str) -> Callable[[Severity, str], None]:
    """Log to the engine against `urn`, so the CLI shows the message under the resource."""

    def log(severity: Severity, message: str) -> None:
        from pulumi.runtime.proto import engine_pb2
        from pulumi.runtime.settings import get_engine

        engine = get_engine()
        if engine is None:
            _stderr_log(severity, message)
            return
        level = {"info": engine_pb2.INFO, "warning": engine_pb2.WARNING, "error": engine_pb2.ERROR}[severity]
        engine.Log(engine_pb2.LogRequest(severity=level, message=message, urn=urn, streamId=0))

    return log


def _stderr_log(severity: Severity, message: str) -> None:
    print(f"{severity}: {message}", file=sys.stderr, flush=True)
