"""Property values as the Pulumi engine marshals them for a provider, secrets included.

Program-side values are plain Python (dicts, lists, str, numbers, bool, None) where a :class:`Secret` wraps any
value the program marked secret.  On the wire a secret is the object
``{"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "value": v}``, but only for a provider
whose ``Configure`` answered ``acceptSecrets=True``; others get the plaintext and the engine re-marks their replies
(:func:`annotate_secrets`, pkg/resource/plugin/provider_plugin.go ``annotateSecrets``).

State keeps values plain plus the sorted list of *property paths* that are secret (``key``, ``key.sub``,
``key[0]``, ``key["odd.key"]``), which is what :func:`secret_paths` and :func:`mark_secrets` convert between.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from google.protobuf import json_format, struct_pb2  # type: ignore[import-untyped,unused-ignore]

SIG_KEY: Final[str] = "4dabf18193072939515e22adb298388d"
SECRET_SIG: Final[str] = "1b47061264138c4ac30d75fd1eb44270"

_PLAIN_KEY = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$-]*$")


@dataclass(frozen=True)
class Secret:
    """A value the program marked secret (``pulumi.Output.secret(...)``, or a secret config value)."""

    value: Any

    def __repr__(self) -> str:  # a secret must not leak through a repr in an assertion message or a log
        return "Secret(***)"


def plain(value: Any) -> Any:
    """``value`` without any :class:`Secret` wrapper, as plain dicts and lists (keys as str)."""
    if isinstance(value, Secret):
        return plain(value.value)
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def contains_secret(value: Any) -> bool:
    if isinstance(value, Secret):
        return True
    if isinstance(value, Mapping):
        return any(contains_secret(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(contains_secret(v) for v in value)
    return False


def _marshal(value: Any, keep_secrets: bool) -> Any:
    if isinstance(value, Secret):
        inner = _marshal(value.value, keep_secrets)
        return {SIG_KEY: SECRET_SIG, "value": inner} if keep_secrets else inner
    if isinstance(value, Mapping):
        return {str(k): _marshal(v, keep_secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_marshal(v, keep_secrets) for v in value]
    return value


def _unmarshal(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get(SIG_KEY) == SECRET_SIG:
            return Secret(_unmarshal(value.get("value")))
        return {k: _unmarshal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unmarshal(v) for v in value]
    return value


def to_struct(props: Mapping[str, Any], *, keep_secrets: bool = False) -> struct_pb2.Struct:
    """A Struct as the engine sends it: numbers become floats; secrets wrapped only with ``keep_secrets``."""
    s = struct_pb2.Struct()
    s.update(_marshal(props, keep_secrets))
    return s


def from_struct(s: struct_pb2.Struct) -> dict[str, Any]:
    """A provider's Struct back to Python, wire secrets as :class:`Secret`."""
    raw: dict[str, Any] = json_format.MessageToDict(s)
    result: dict[str, Any] = _unmarshal(raw)
    return result


def _child(prefix: str, key: str) -> str:
    if _PLAIN_KEY.match(key):
        return f"{prefix}.{key}" if prefix else key
    return f"{prefix}[{json.dumps(key)}]"


def secret_paths(value: Any, prefix: str = "") -> list[str]:
    """Sorted property paths of every :class:`Secret` in ``value`` (the outermost one of nested secrets)."""
    if isinstance(value, Secret):
        return [prefix] if prefix else []
    found: list[str] = []
    if isinstance(value, Mapping):
        for k, v in value.items():
            found.extend(secret_paths(v, _child(prefix, str(k))))
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            found.extend(secret_paths(v, f"{prefix}[{i}]"))
    return sorted(found) if not prefix else found


def mark_secrets(value: Any, paths: Any, prefix: str = "") -> Any:
    """``value`` with a :class:`Secret` wrapped around each of ``paths`` (the inverse of :func:`secret_paths`)."""
    wanted = set(paths)
    if not wanted:
        return value
    return _mark(value, wanted, prefix)


def _mark(value: Any, wanted: set[str], prefix: str) -> Any:
    if prefix and prefix in wanted:
        return value if isinstance(value, Secret) else Secret(value)
    if isinstance(value, Mapping):
        return {k: _mark(v, wanted, _child(prefix, str(k))) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_mark(v, wanted, f"{prefix}[{i}]") for i, v in enumerate(value)]
    return value


def annotate_secrets(outs: dict[str, Any], ins: Mapping[str, Any]) -> dict[str, Any]:
    """The engine's ``annotateSecrets`` for a provider that cannot take secrets: an output whose input of the same
    name held a secret becomes secret, recursing where both sides are plain objects."""
    result = dict(outs)
    for key, in_value in ins.items():
        if key not in result:
            continue
        out_value = result[key]
        if _is_object(out_value) and _is_object(in_value):
            result[key] = annotate_secrets(dict(out_value), in_value)
        elif not isinstance(out_value, Secret) and contains_secret(in_value):
            result[key] = Secret(out_value)
    return result


def mark_leaked_inputs(outs: dict[str, Any], ins: Mapping[str, Any]) -> dict[str, Any]:
    """The step executor's rule for every provider: an output named like a secret input is secret
    (pkg/resource/deploy/step_executor.go, "If an input secret is potentially leaked as an output")."""
    return {
        k: Secret(v) if not isinstance(v, Secret) and isinstance(ins.get(k), Secret) else v for k, v in outs.items()
    }


def _is_object(value: Any) -> bool:
    return isinstance(value, Mapping) and not isinstance(value, Secret)
