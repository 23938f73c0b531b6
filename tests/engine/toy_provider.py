"""A trivial dynamic provider used only to test pulumi_fwcluster.testing.engine.

Its "cloud" is a JSON file (``store``): ``{"objects": {id: props}, "config": {...}, "calls": [...]}``.
Inputs: ``value`` (updatable), ``region`` (changing it forces a replacement), ``size`` (must be >= 0),
``exclusive`` (truthy: Diff asks for delete-before-replace), ``fail`` ("create"/"update": raise).
Importable without side effects, so ``__provider`` pickles it by reference.
"""

from __future__ import annotations

import fcntl
import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

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
from pulumi.output import contains_unknowns

INPUT_KEYS = ("value", "region", "size", "exclusive", "fail", "nested")


@contextmanager
def locked_store(path: str) -> Iterator[dict[str, Any]]:
    with open(path + ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            data: dict[str, Any] = {"objects": {}, "config": {}, "calls": []}
            if os.path.exists(path):
                with open(path) as fh:
                    data = json.load(fh)
            yield data
            tmp = path + ".tmp"
            with open(tmp, "w") as fh:
                json.dump(data, fh, indent=1, sort_keys=True)
            os.replace(tmp, path)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


class ToyProvider(ResourceProvider):
    serialize_as_secret_always = False

    def __init__(self, store: str) -> None:
        super().__init__()
        self.store = store

    def _log(self, call: str) -> None:
        with locked_store(self.store) as data:
            data["calls"].append(call)

    def configure(self, req: ConfigureRequest) -> None:
        token = req.config.get("toy:token")
        with locked_store(self.store) as data:
            data["config"] = {
                "greeting": req.config.get("toy:greeting"),
                "has_token": token is not None,
                "token_len": len(token) if isinstance(token, str) else None,
            }
            data["calls"].append("configure")
        pulumi.log.info("toy: configured")

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        self._log("check" if olds else "check-new")
        inputs = {k: v for k, v in news.items() if k in INPUT_KEYS}
        failures: list[CheckFailure] = []
        if contains_unknowns(news):
            unknown = sorted(k for k, v in news.items() if contains_unknowns(v))
            inputs["sawUnknowns"] = unknown
        size = news.get("size")
        if isinstance(size, (int, float)) and size < 0:
            failures.append(CheckFailure("size", "must be >= 0"))
        return CheckResult(inputs, failures)

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        self._log("diff")
        changed = [k for k in INPUT_KEYS if olds.get(k) != news.get(k)]
        replaces = ["region"] if "region" in changed else []
        return DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=bool(news.get("exclusive")))

    def create(self, props: dict[str, Any]) -> CreateResult:
        self._log("create")
        if props.get("fail") == "create":
            raise Exception("create failed on purpose")
        id_ = uuid.uuid4().hex[:12]
        obj = {k: v for k, v in props.items() if k in INPUT_KEYS}
        obj["version"] = 1
        with locked_store(self.store) as data:
            data["objects"][id_] = obj
        pulumi.log.info(f"toy: created {id_}")
        return CreateResult(id_, {**obj, "objectId": id_})

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        self._log("update")
        if news.get("fail") == "update":
            raise Exception("update failed on purpose")
        with locked_store(self.store) as data:
            obj = {k: v for k, v in news.items() if k in INPUT_KEYS}
            obj["version"] = int(data["objects"][id_]["version"]) + 1
            data["objects"][id_] = obj
        return UpdateResult({**obj, "objectId": id_})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        self._log("read")
        with locked_store(self.store) as data:
            obj = data["objects"].get(id_)
        if obj is None:
            return ReadResult(None, {})
        inputs = {k: v for k, v in obj.items() if k in INPUT_KEYS}
        return ReadResult(id_, {**obj, "objectId": id_}, inputs)

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        self._log("delete")
        with locked_store(self.store) as data:
            data["objects"].pop(id_, None)
