"""A toy native provider (``pulumi.provider.experimental``) used only to test the engine harness's native door.

Run as a plugin: ``python -m tests.engine.toy_native <engine-address>`` (project root on ``PYTHONPATH``), or
serve :class:`ToyNative` in process.  Package ``toy``, resource type ``toy:index:Thing``.

Its "cloud" is the JSON file named by the ``toy:store`` config key (shared with the dynamic toy's format):
``{"objects": {id: {...}}, "config": {...}, "calls": [...], "requests": [...]}``; ``requests`` records what each
call received (timeouts, preview, which properties arrived secret).

Inputs: ``value`` (updatable), ``region`` (a change is ``UPDATE_REPLACE`` in the detailed diff), ``zone`` (a change
is listed in ``replaces``), ``size`` (must be >= 0), ``exclusive`` (truthy: delete-before-replace), ``nested``
(an object; the detailed diff names ``nested.<key>``), ``password`` (always a secret output, with a secret
``passwordHash``), ``slow`` (seconds the create waits for "ready", within the request's timeout and until
Cancel), ``fail`` ("create"/"update": raise; "init-create"/"init-update": :class:`InitFailed`).
Outputs: the inputs plus ``objectId``, ``version``, ``state`` and ``endpoint`` (unknown in preview).
"""

from __future__ import annotations

import asyncio
import hashlib
import sys
import uuid
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import pulumi
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
    PropertyDiff,
    PropertyDiffKind,
    Provider,
    ReadRequest,
    ReadResponse,
    UpdateRequest,
    UpdateResponse,
)
from pulumi.runtime import rpc

from pulumi_fwcluster.native.server import InitFailed, from_property_value, serve, to_property_value
from tests.engine.toy_provider import locked_store

TYPE = "toy:index:Thing"
INPUT_KEYS = ("value", "region", "zone", "size", "exclusive", "fail", "nested", "password", "slow")
UNKNOWN = rpc.UNKNOWN

Props = dict[str, PropertyValue]
T = TypeVar("T")

_REPLACING = {
    PropertyDiffKind.ADD: PropertyDiffKind.ADD_REPLACE,
    PropertyDiffKind.DELETE: PropertyDiffKind.DELETE_REPLACE,
    PropertyDiffKind.UPDATE: PropertyDiffKind.UPDATE_REPLACE,
}


def _plain(props: Mapping[str, PropertyValue]) -> dict[str, Any]:
    return {k: from_property_value(v) for k, v in props.items()}


def _secret_keys(props: Mapping[str, PropertyValue]) -> list[str]:
    return sorted(k for k, v in props.items() if v.contains_secret())


def _kind(old: Mapping[str, Any], new: Mapping[str, Any], key: str) -> PropertyDiffKind | None:
    if key not in old and key in new:
        return PropertyDiffKind.ADD
    if key in old and key not in new:
        return PropertyDiffKind.DELETE
    if old.get(key) != new.get(key):
        return PropertyDiffKind.UPDATE
    return None


class ToyNative(Provider):
    def __init__(self) -> None:
        self.store: str | None = None
        self._cancel: asyncio.Event | None = None
        self.in_flight = 0
        self.peak = 0
        """The most creates that were waiting at once (for the parallelism test)."""

    # -- plumbing --------------------------------------------------------------------------------

    def _cancelled(self) -> asyncio.Event:
        if self._cancel is None:
            self._cancel = asyncio.Event()
        return self._cancel

    async def _data(self, change: Callable[[dict[str, Any]], T]) -> T:
        """Run ``change`` on the locked store, off the event loop."""
        if self.store is None:
            raise RuntimeError("toy: not configured")
        store = self.store

        def locked() -> T:
            with locked_store(store) as data:
                data.setdefault("requests", [])
                return change(data)

        return await asyncio.to_thread(locked)

    async def _log(self, call: str, **details: Any) -> None:
        def add(data: dict[str, Any]) -> None:
            data["calls"].append(call)
            data["requests"].append({"call": call, **details})

        await self._data(add)

    @staticmethod
    def _outputs(props: Props, **extra: Any) -> Props:
        out = {k: v for k, v in props.items() if k in INPUT_KEYS}
        password = out.get("password")
        if password is not None:  # the schema says secret, whatever the program did
            out["password"] = password.with_secret(True)
            digest = hashlib.sha256(str(from_property_value(password)).encode()).hexdigest()[:12]
            out["passwordHash"] = PropertyValue(digest, is_secret=True)
        out.update({k: to_property_value(v) for k, v in extra.items()})
        return out

    async def _wait_ready(self, slow: float, timeout: float) -> str | None:
        """Why the thing did not become ready within ``slow`` seconds, or None when it did."""
        limit = min(slow, timeout) if timeout else slow
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.wait_for(self._cancelled().wait(), timeout=limit)
            return "cancelled while waiting for the thing to become ready"
        except asyncio.TimeoutError:
            if timeout and timeout < slow:
                return f"timed out after {timeout:g}s waiting for the thing to become ready"
            return None
        finally:
            self.in_flight -= 1

    # -- configuration ---------------------------------------------------------------------------

    async def check_config(self, request: CheckRequest) -> CheckResponse:
        failures = [] if "store" in request.new_inputs else [CheckFailure("store", "required")]
        return CheckResponse(inputs=request.new_inputs, failures=failures)

    async def configure(self, request: ConfigureRequest) -> ConfigureResponse:
        self.store = str(from_property_value(request.args["store"]))
        self._cancel = None
        token = request.args.get("token")

        def record(data: dict[str, Any]) -> None:
            data["config"] = {
                "greeting": from_property_value(request.args["greeting"]) if "greeting" in request.args else None,
                "has_token": token is not None,
                "token_is_secret": token is not None and token.is_secret,
                "token_len": len(str(token.value)) if token is not None else None,
                "variables": sorted(request.variables),
                "args": sorted(request.args),
                "accept_secrets": request.accept_secrets,
            }
            data["calls"].append("configure")

        await self._data(record)
        await asyncio.to_thread(pulumi.log.info, "toy: configured")
        return ConfigureResponse(accept_secrets=True, supports_preview=True, accept_resources=True, accept_outputs=True)

    async def cancel(self) -> None:
        self._cancelled().set()

    # -- resources -------------------------------------------------------------------------------

    async def check(self, request: CheckRequest) -> CheckResponse:
        await self._log("check" if request.old_inputs else "check-new")
        news = {k: v for k, v in request.new_inputs.items() if k in INPUT_KEYS}
        size = from_property_value(news["size"]) if "size" in news else None
        failures = [CheckFailure("size", "must be >= 0")] if isinstance(size, float) and size < 0 else []
        return CheckResponse(inputs=news, failures=failures)

    async def diff(self, request: DiffRequest) -> DiffResponse:
        await self._log("diff", secret_olds=_secret_keys(request.old_state))
        olds, news = _plain(request.old_state), _plain(request.new_inputs)
        detailed: dict[str, PropertyDiff] = {}
        for key in INPUT_KEYS:
            old_value, new_value = olds.get(key), news.get(key)
            if key == "nested" and isinstance(old_value, dict) and isinstance(new_value, dict):
                for sub in sorted(set(old_value) | set(new_value)):
                    kind = _kind(old_value, new_value, sub)
                    if kind is not None:
                        detailed[f"nested.{sub}"] = PropertyDiff(kind, True)
                continue
            kind = _kind(olds, news, key)
            if kind is not None:
                detailed[key] = PropertyDiff(_REPLACING[kind] if key == "region" else kind, True)
        return DiffResponse(
            changes=bool(detailed),
            replaces=["zone"] if "zone" in detailed else [],
            delete_before_replace=bool(news.get("exclusive")),
            detailed_diff=detailed,
        )

    async def create(self, request: CreateRequest) -> CreateResponse:
        props = request.properties
        await self._log("create", timeout=request.timeout, preview=request.preview, secret_inputs=_secret_keys(props))
        if request.preview:
            unknowns = {"objectId": UNKNOWN, "version": UNKNOWN, "state": UNKNOWN, "endpoint": UNKNOWN}
            return CreateResponse(resource_id="", properties=self._outputs(props, **unknowns))
        plain = _plain({k: v for k, v in props.items() if k in INPUT_KEYS})
        if plain.get("fail") == "create":
            raise Exception("create failed on purpose")
        id_ = uuid.uuid4().hex[:12]
        obj = {**plain, "version": 1, "state": "CREATING", "endpoint": f"https://{id_}.toy.example"}

        def put(data: dict[str, Any]) -> None:
            data["objects"][id_] = obj

        await self._data(put)
        computed: dict[str, Any] = {"objectId": id_, "version": 1, "endpoint": obj["endpoint"]}
        if plain.get("fail") == "init-create":
            raise InitFailed(id_, self._outputs(props, state="FAILED", **computed), ["the thing failed to start"])
        reason = await self._wait_ready(float(plain.get("slow") or 0), request.timeout)
        if reason is not None:
            raise InitFailed(id_, self._outputs(props, state="CREATING", **computed), [reason])

        def ready(data: dict[str, Any]) -> None:
            data["objects"][id_]["state"] = "READY"

        await self._data(ready)
        await asyncio.to_thread(pulumi.log.info, f"toy: created {id_}")
        return CreateResponse(resource_id=id_, properties=self._outputs(props, state="READY", **computed))

    async def update(self, request: UpdateRequest) -> UpdateResponse:
        news, id_ = request.news, request.resource_id
        await self._log(
            "update",
            timeout=request.timeout,
            preview=request.preview,
            secret_olds=_secret_keys(request.olds),
            secret_inputs=_secret_keys(news),
        )
        olds = _plain(request.olds)
        if request.preview:
            keep = {"objectId": id_, "version": UNKNOWN, "state": UNKNOWN, "endpoint": olds.get("endpoint")}
            return UpdateResponse(properties=self._outputs(news, **keep))
        plain = _plain({k: v for k, v in news.items() if k in INPUT_KEYS})
        if plain.get("fail") == "update":
            raise Exception("update failed on purpose")
        state = "FAILED" if plain.get("fail") == "init-update" else "READY"

        def change(data: dict[str, Any]) -> dict[str, Any]:
            old = data["objects"][id_]
            obj = {**plain, "version": int(old["version"]) + 1, "state": state, "endpoint": old["endpoint"]}
            data["objects"][id_] = obj
            return obj

        obj = await self._data(change)
        outputs = self._outputs(news, objectId=id_, version=obj["version"], state=state, endpoint=obj["endpoint"])
        if state == "FAILED":
            raise InitFailed(id_, outputs, ["the thing failed to restart"])
        return UpdateResponse(properties=outputs)

    async def read(self, request: ReadRequest) -> ReadResponse:
        await self._log("read", with_properties=bool(request.properties), with_inputs=bool(request.inputs))
        id_ = request.resource_id

        def get(data: dict[str, Any]) -> dict[str, Any] | None:
            found: dict[str, Any] | None = data["objects"].get(id_)
            return found

        obj = await self._data(get)
        if obj is None:  # gone; what a provider writes naturally with the SDK's types
            return ReadResponse(resource_id="", properties={}, inputs={})
        inputs = {k: to_property_value(obj[k]) for k in INPUT_KEYS if k in obj}
        extra = {k: obj[k] for k in ("version", "state", "endpoint")}
        outputs = self._outputs(inputs, objectId=id_, **extra)
        if "password" in inputs:
            inputs["password"] = inputs["password"].with_secret(True)
        return ReadResponse(resource_id=id_, properties=outputs, inputs=inputs)

    async def delete(self, request: DeleteRequest) -> None:
        await self._log("delete", timeout=request.timeout, secret_olds=_secret_keys(request.properties))

        def drop(data: dict[str, Any]) -> None:
            data["objects"].pop(request.resource_id, None)

        await self._data(drop)


def main() -> None:
    serve(sys.argv[1:], "0.0.1", ToyNative())


if __name__ == "__main__":
    main()
