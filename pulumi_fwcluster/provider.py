"""ClusterProvider: the dynamic door. It adapts `pulumi.dynamic`'s calls to the lifecycle core and back.

This module is imported by reference when `__provider` is unpickled, so it must import without side effects and
the instance must carry no state worth pickling: settings and clients are built inside the provider process.
"""

from __future__ import annotations

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
from pulumi.output import Unknown

from .ledger import process_ledger
from .lifecycle import CONFIG_KEYS, ClusterLifecycle, Severity
from .settings import Settings


def _is_unknown(value: Any) -> bool:
    return isinstance(value, Unknown)


def _log(severity: Severity, message: str) -> None:
    # The dynamic server has no resource URN to attach a message to; pulumi.log lands on the CLI's output.
    if severity == "warning":
        pulumi.log.warn(message)
    elif severity == "error":
        pulumi.log.error(message)
    else:
        pulumi.log.info(message)


class ClusterProvider(ResourceProvider):
    """CRUD for `fireworks:Cluster`. Pickled by reference: no state survives pickling."""

    serialize_as_secret_always = False

    def __init__(self) -> None:
        self._core = ClusterLifecycle(_log, records_partial=False, ledger=process_ledger())

    def __getstate__(self) -> dict[str, Any]:
        return {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__()  # type: ignore[misc]

    @property
    def settings(self) -> Settings:
        return self._core.settings

    def configure(self, req: ConfigureRequest) -> None:
        self._core.configure({key: value for key in CONFIG_KEYS if (value := req.config.get(key)) is not None})

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        checked = self._core.check(olds, news, _is_unknown)
        return CheckResult(checked.inputs, [CheckFailure(f.path, f.reason) for f in checked.failures])

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        plan = self._core.diff(_id, olds, news, _is_unknown)
        if not plan.any:
            return DiffResult(changes=False)
        # The engine copies `replaces` verbatim into the preview's JSON, so exact paths say which field forces it.
        return DiffResult(changes=True, replaces=list(plan.replaces), delete_before_replace=plan.delete_before_replace)

    def create(self, props: dict[str, Any]) -> CreateResult:
        created = self._core.create(props)
        return CreateResult(created.id, created.outputs)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        result = self._core.read(id_, props)
        if result.id is None:
            return ReadResult(None, {})
        return ReadResult(result.id, result.outputs, result.inputs)

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(self._core.update(id_, olds, news))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        self._core.delete(id_, props)
