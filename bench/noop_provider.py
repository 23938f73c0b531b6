"""A dynamic provider that does nothing: the baseline for the preview-at-scale ratio.

Defined in an importable module without side effects, so ``__provider`` pickles it by reference, exactly like
``ClusterProvider``.
"""

from __future__ import annotations

from typing import Any

from pulumi.dynamic import CheckResult, CreateResult, DiffResult, ResourceProvider

NOOP_TYPE = "pulumi-python:dynamic/bench:Noop"


class NoopProvider(ResourceProvider):
    """Check echoes its inputs, Diff reports no change, Create returns the inputs under a fixed-form id."""

    serialize_as_secret_always = False

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        return CheckResult(news, [])

    def diff(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> DiffResult:
        return DiffResult(changes=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        outs = {k: v for k, v in props.items() if not k.startswith("__")}
        return CreateResult(f"noop-{outs.get('clusterId', 'x')}", outs)
