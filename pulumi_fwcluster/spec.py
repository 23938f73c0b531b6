"""The cluster's fields in one table, and the rules it drives: normalisation, offline validation and diff.

Every input property is a row: its wire path, whether a change updates in place or replaces, whether it is
required, and the offline rule its value must pass. Nothing here does I/O or knows about Pulumi's engine, so the
provider's `check` and `diff` stay small and every rule is testable on its own. Values still unknown during a
preview are represented by any object for which `is_unknown` is true; they are kept, never validated or compared.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from . import rules

OnChange = Literal["update", "replace"]
# A rule gets the value and the object holding it (so a role can be checked against awsAccountId).
Rule = Callable[[str, Mapping[str, Any]], "str | None"]

GROUPS = ("eksCluster", "fakeCluster")  # exactly one must be given
OUTPUT_ONLY = ("name", "state", "status", "createTime", "updateTime")


@dataclass(frozen=True)
class Field:
    path: str
    on_change: OnChange
    required: bool = False
    rule: Rule | None = None

    @property
    def top(self) -> str:
        return self.path.split(".", 1)[0]

    @property
    def key(self) -> str:
        return self.path.rsplit(".", 1)[-1]


def _plain(rule: Callable[[str], str | None]) -> Rule:
    return lambda value, _siblings: rule(value)


def _role(value: str, siblings: Mapping[str, Any]) -> str | None:
    account = siblings.get("awsAccountId")
    return rules.role_arn(value, account if isinstance(account, str) else None)


FIELDS: tuple[Field, ...] = (
    # Not required here: the provider fills it in from stack config or env, and names those when all are empty.
    Field("accountId", "replace", False, _plain(rules.resource_id)),
    Field("clusterId", "replace", True, _plain(rules.resource_id)),
    Field("displayName", "update", False, _plain(rules.display_name)),
    Field("eksCluster.awsAccountId", "replace", True, _plain(rules.aws_account_id)),
    Field("eksCluster.region", "replace", True, _plain(rules.region)),
    Field("eksCluster.clusterName", "replace"),
    Field("eksCluster.storageBucketName", "replace", False, _plain(rules.bucket_name)),
    Field("eksCluster.fireworksManagerRole", "replace", False, _role),
    Field("eksCluster.metricWriterRole", "replace", False, _role),
    Field("eksCluster.loadBalancerControllerRole", "replace", False, _role),
    Field("eksCluster.inferenceRole", "replace", False, _role),
    Field(
        "eksCluster.workloadIdentityPoolProviderId", "replace", False, _plain(rules.workload_identity_pool_provider_id)
    ),
    Field("fakeCluster.projectId", "replace"),
    Field("fakeCluster.location", "replace"),
    Field("fakeCluster.clusterName", "replace"),
)
BY_PATH = {f.path: f for f in FIELDS}
TOP_LEVEL = tuple(dict.fromkeys(f.top for f in FIELDS))
GROUP_KEYS = {g: tuple(f.key for f in FIELDS if f.top == g) for g in GROUPS}


@dataclass(frozen=True)
class Failure:
    path: str
    reason: str


IsUnknown = Callable[[Any], bool]


def _never_unknown(_value: Any) -> bool:
    return False


def normalize(props: Mapping[str, Any], is_unknown: IsUnknown = _never_unknown) -> tuple[dict[str, Any], list[Failure]]:
    """Checked inputs: known keys only, empty optional strings dropped, types and rules enforced.

    Returns the normalised inputs and every failure found, each with its property path."""
    failures: list[Failure] = []
    out: dict[str, Any] = {}
    for key, value in props.items():
        if key.startswith("__"):
            continue
        if key not in TOP_LEVEL and key not in OUTPUT_ONLY:
            failures.append(Failure(key, f"unknown property; expected one of {', '.join(TOP_LEVEL)}"))
            continue
        if key in OUTPUT_ONLY:
            continue  # outputs echoed back (a refresh's inputs never hold them; tolerate them anyway)
        if key in GROUPS:
            group = _normalize_group(key, value, is_unknown, failures)
            if group is not None:
                out[key] = group
            continue
        scalar = _normalize_scalar(key, value, is_unknown, failures)
        if scalar is not None:
            out[key] = scalar
    failures.extend(_validate(out, is_unknown))
    return out, failures


def _normalize_group(key: str, value: Any, is_unknown: IsUnknown, failures: list[Failure]) -> Any:
    if value is None or is_unknown(value):
        return value
    if not isinstance(value, Mapping):
        failures.append(Failure(key, f"must be an object, not {type(value).__name__}"))
        return None
    group: dict[str, Any] = {}
    for sub, sub_value in value.items():
        path = f"{key}.{sub}"
        if path not in BY_PATH:
            failures.append(Failure(path, f"unknown property; expected one of {', '.join(GROUP_KEYS[key])}"))
            continue
        scalar = _normalize_scalar(path, sub_value, is_unknown, failures)
        if scalar is not None:
            group[sub] = scalar
    return group


def _normalize_scalar(path: str, value: Any, is_unknown: IsUnknown, failures: list[Failure]) -> Any:
    if value is None or is_unknown(value):
        return value
    if not isinstance(value, str):
        failures.append(Failure(path, f"must be a string, not {type(value).__name__}"))
        return None
    return value or None  # an empty optional string means "not set"


def _validate(props: Mapping[str, Any], is_unknown: IsUnknown) -> list[Failure]:
    failures: list[Failure] = []
    given = [g for g in GROUPS if props.get(g) is not None]
    if not given:
        failures.append(Failure("eksCluster", "one of eksCluster or fakeCluster is required"))
    elif len(given) > 1:
        failures.append(Failure("fakeCluster", "give either eksCluster or fakeCluster, not both"))
    for f in FIELDS:
        if f.top in GROUPS:
            container = props.get(f.top)
            if container is None or is_unknown(container):
                continue
        else:
            container = props
        value = container.get(f.key)
        if is_unknown(value):
            continue
        if value is None:
            if f.required:
                failures.append(Failure(f.path, "is required"))
            continue
        reason = f.rule(value, container) if f.rule else None
        if reason:
            failures.append(Failure(f.path, reason))
    return failures


@dataclass(frozen=True)
class Changes:
    """Which fields differ, and which of them force a replacement (as top-level property names)."""

    changed: tuple[str, ...]
    replaces: tuple[str, ...]
    delete_before_replace: bool

    @property
    def any(self) -> bool:
        return bool(self.changed)


def get_path(props: Mapping[str, Any], path: str) -> Any:
    top, _, sub = path.partition(".")
    value = props.get(top)
    if not sub:
        return value
    return value.get(sub) if isinstance(value, Mapping) else None


def diff(olds: Mapping[str, Any], news: Mapping[str, Any], is_unknown: IsUnknown = _never_unknown) -> Changes:
    """Compare desired (checked) inputs with the old outputs, field by field.

    An unknown value is a change of its field. A replacement deletes before it creates unless the cluster's name
    is known to change, because Fireworks cannot hold two clusters with one id."""
    changed: list[str] = []
    for f in FIELDS:
        new_container = news.get(f.top) if f.top in GROUPS else news
        if f.top in GROUPS and is_unknown(new_container):
            changed.append(f.top)
            continue
        new = get_path(news, f.path)
        if is_unknown(new) or (new or None) != (get_path(olds, f.path) or None):
            changed.append(f.path)
    changed = list(dict.fromkeys(changed))
    replaces = tuple(dict.fromkeys(BY_PATH[p].top if p in BY_PATH else p for p in changed if _replaces(p)))
    # An unknown new name may well be the old one, and creating first would then collide: delete first.
    renamed = any(not is_unknown(news.get(k)) and news.get(k) != olds.get(k) for k in ("accountId", "clusterId"))
    return Changes(tuple(changed), replaces, delete_before_replace=bool(replaces) and not renamed)


def _replaces(path: str) -> bool:
    return path in GROUPS or BY_PATH[path].on_change == "replace"


def updatable(changes: Changes) -> list[str]:
    """The changed paths an update can apply in place."""
    return [p for p in changes.changed if not _replaces(p)]


def spec_of(props: Mapping[str, Any]) -> dict[str, Any]:
    """The fields that identify what a cluster is (everything that replaces), for comparing two clusters."""
    return {f.path: get_path(props, f.path) for f in FIELDS if f.on_change == "replace" and get_path(props, f.path)}
