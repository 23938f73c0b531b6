"""Turn whatever the caller has (EksClusterArgs dataclass, camelCase mapping) into one normalised spec."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..byoc import IRSA_SERVICE_ACCOUNTS
from ..spec import group_fields, snake_case

__all__ = ["FIELDS", "IRSA_SERVICE_ACCOUNTS", "ROLE_FIELDS", "PreflightSpec", "path", "to_spec"]

# camelCase eksCluster field -> snake_case attribute, in the field table's order.
FIELDS: dict[str, str] = {f.key: snake_case(f.key) for f in group_fields("eksCluster")}
SNAKE_TO_CAMEL = {v: k for k, v in FIELDS.items()}

ROLE_FIELDS = ("fireworksManagerRole", "loadBalancerControllerRole", "metricWriterRole", "inferenceRole")


def path(camel: str) -> str:
    """The field path used in findings, e.g. ``eksCluster.inferenceRole``."""
    return f"eksCluster.{camel}"


@dataclass(frozen=True)
class PreflightSpec:
    """The eksCluster object, with empty strings normalised to None."""

    aws_account_id: str | None = None
    region: str | None = None
    cluster_name: str | None = None
    storage_bucket_name: str | None = None
    fireworks_manager_role: str | None = None
    metric_writer_role: str | None = None
    load_balancer_controller_role: str | None = None
    inference_role: str | None = None
    workload_identity_pool_provider_id: str | None = None

    def get(self, camel: str) -> str | None:
        value: str | None = getattr(self, FIELDS[camel])
        return value

    def to_camel(self) -> dict[str, str]:
        return {camel: v for camel in FIELDS if (v := self.get(camel)) is not None}


def to_spec(value: Any) -> PreflightSpec:
    """Accept a PreflightSpec, a dataclass with snake_case attributes (EksClusterArgs), a mapping with camelCase
    (or snake_case) keys, or any object with the snake_case attributes. Unknown keys are ignored."""
    if isinstance(value, PreflightSpec):
        return value
    raw: Mapping[str, Any]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        raw = dataclasses.asdict(value)
    elif isinstance(value, Mapping):
        raw = value
    else:
        raw = {snake: getattr(value, snake, None) for snake in FIELDS.values()}
    kwargs: dict[str, str | None] = {}
    for key, v in raw.items():
        snake = FIELDS.get(key, key if key in SNAKE_TO_CAMEL else None)
        if snake is None:
            continue
        if snake == "aws_account_id" and isinstance(v, int) and not isinstance(v, bool):
            v = f"{v:012d}"  # YAML reads 012345678901 as a number; account ids are 12 digits
        elif v is not None and not isinstance(v, str):
            v = str(v)
        kwargs[snake] = v.strip() or None if isinstance(v, str) else None
    return PreflightSpec(**kwargs)
