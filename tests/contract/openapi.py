"""Check requests and responses against Fireworks' OpenAPI document for clusters.

The document lives outside the project, in `../shared/reference/` from the repository root; `require_spec()`
skips the calling test when it is absent.

Validation uses jsonschema (OpenAPI 3.1 schemas are JSON Schema 2020-12) with the `$ref`s resolved here, and
our own path matching: openapi-core's path finder matches `/clusters/c:getConnectionInfo` to the Get Cluster
path (with `cluster_id = "c:getConnectionInfo"`), which would validate connection info as a Cluster.

`strict=True` (the default) also forbids properties the document does not declare (the document itself
never says `additionalProperties: false`, so without it any object passes) and, in requests, read-only
properties. Error responses are not described by the document; they are checked against the grpc-gateway
error shape from NOTES.md (`{"code": int, "message": str, "details": [...]}`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
SPEC_PATH = REPO_ROOT.parent / "shared" / "reference" / "fireworks-clusters-openapi.yaml"

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "code": {"type": "integer"},
        "message": {"type": "string"},
        "details": {"type": "array"},
    },
    "required": ["code", "message"],
}

_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$",
)
_FORMATS = jsonschema.FormatChecker()


@_FORMATS.checks("date-time")
def _is_datetime(value: object) -> bool:
    return not isinstance(value, str) or _RFC3339.match(value) is not None


@_FORMATS.checks("int32")
def _is_int32(value: object) -> bool:
    return not isinstance(value, int) or -(2**31) <= value < 2**31


class ContractError(AssertionError):
    """A request or response that the OpenAPI document does not allow."""


def spec_available() -> bool:
    return SPEC_PATH.is_file()


def require_spec() -> dict[str, Any]:
    """The parsed document, or skip the calling test with the reason."""
    if not spec_available():
        pytest.skip(f"Fireworks OpenAPI document not found at {SPEC_PATH} (the shared reference folder is absent)")
    return load_spec()


@functools.cache
def load_spec() -> dict[str, Any]:
    with SPEC_PATH.open(encoding="utf-8") as f:
        spec: dict[str, Any] = yaml.safe_load(f)
    return spec


def _template_regex(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", template)
    out = []
    for part in parts:
        if part.startswith("{") and part.endswith("}"):
            out.append(f"(?P<{part[1:-1]}>[^/:]+)")
        else:
            out.append(re.escape(part))
    return re.compile("^" + "".join(out) + "$")


def find_operation(method: str, path: str) -> tuple[str, dict[str, Any], dict[str, str]]:
    """(path template, operation object, path parameters) for a concrete request path."""
    spec = load_spec()
    path = path.split("?", 1)[0]
    for template, item in spec["paths"].items():
        m = _template_regex(template).match(path)
        if m is None:
            continue
        operation = item.get(method.lower())
        if operation is None:
            raise ContractError(f"{method.upper()} is not an operation of {template}")
        return template, operation, m.groupdict()
    raise ContractError(f"no path of the document matches {path!r}")


def _resolve(node: Any, spec: Mapping[str, Any]) -> Any:
    """`node` with every local `$ref` replaced by its target (sibling keys kept, as OpenAPI 3.1 allows)."""
    if isinstance(node, list):
        return [_resolve(x, spec) for x in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    ref = node.get("$ref")
    if isinstance(ref, str):
        if not ref.startswith("#/"):
            raise ContractError(f"unsupported $ref {ref!r}")
        target: Any = spec
        for key in ref[2:].split("/"):
            target = target[key]
        out.update(_resolve(target, spec))
    for key, value in node.items():
        if key != "$ref":
            out[key] = _resolve(value, spec)
    return out


def _strict(schema: Any, *, request: bool) -> Any:
    """Forbid undeclared properties everywhere; in requests, read-only properties too."""
    if isinstance(schema, list):
        return [_strict(x, request=request) for x in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _strict(v, request=request) for k, v in schema.items() if k != "properties"}
    if "properties" in schema:
        props = {
            name: _strict(sub, request=request)
            for name, sub in schema["properties"].items()
            if not (request and isinstance(sub, dict) and sub.get("readOnly"))
        }
        out["properties"] = props
        out.setdefault("additionalProperties", False)
    return out


def _check(instance: Any, schema: Any, what: str) -> None:
    validator = jsonschema.Draft202012Validator(schema, format_checker=_FORMATS)
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in errors]
        raise ContractError(f"{what} does not match the OpenAPI document:\n  " + "\n  ".join(lines))


def _json_schema(content: Mapping[str, Any] | None, what: str) -> Any:
    if not content or "application/json" not in content:
        raise ContractError(f"{what} has no application/json content in the document")
    return _resolve(content["application/json"].get("schema", {}), load_spec())


def validate_request(
    method: str,
    path: str,
    query: Mapping[str, Any] | None = None,
    body: Any = None,
    headers: Mapping[str, str] | None = None,
    *,
    strict: bool = True,
) -> None:
    """Raise ContractError unless the request is one the document allows.

    `headers`, when given, must carry `Authorization: Bearer ...` (the document's global security).
    """
    template, operation, path_params = find_operation(method, path)
    what = f"{method.upper()} {template}"
    params = {(p["in"], p["name"]): _resolve(p, load_spec()) for p in operation.get("parameters", [])}
    for (where, name), param in params.items():
        if where == "path" and param.get("required") and not path_params.get(name):
            raise ContractError(f"{what}: path parameter {name} is missing")
    for name, value in (query or {}).items():
        param = params.get(("query", name))
        if param is None:
            if strict:
                raise ContractError(f"{what}: query parameter {name!r} is not in the document")
            continue
        schema = param.get("schema", {})
        if schema.get("type") == "integer":
            try:
                value = int(value)
            except (TypeError, ValueError):
                raise ContractError(f"{what}: query parameter {name}={value!r} is not an integer") from None
        _check(value, schema, f"{what} query parameter {name}")
    if headers is not None:
        auth = next((v for k, v in headers.items() if k.lower() == "authorization"), None)
        if auth is None or not auth.startswith("Bearer ") or not auth[7:].strip():
            raise ContractError(f"{what}: no `Authorization: Bearer <key>` header")
    request_body = operation.get("requestBody")
    if request_body is None:
        if body is not None:
            raise ContractError(f"{what} takes no request body")
        return
    if body is None:
        if request_body.get("required"):
            raise ContractError(f"{what} requires a request body")
        return
    schema = _json_schema(request_body.get("content"), f"{what} request body")
    _check(body, _strict(schema, request=True) if strict else schema, f"{what} request body")


def validate_response(method: str, path: str, status: int, body: Any, *, strict: bool = True) -> bool:
    """Raise ContractError unless `body` is what the document allows for `status`.

    Returns True when the document defines this status and the body was checked against it; False for an
    error status the document leaves undefined, which is then checked against the grpc-gateway error shape.
    """
    template, operation, _ = find_operation(method, path)
    what = f"{method.upper()} {template} -> {status}"
    responses = operation.get("responses", {})
    response = responses.get(str(status))
    if response is None:
        if status >= 400:
            _check(body, ERROR_SCHEMA, f"{what} error body")
            return False
        raise ContractError(f"{what}: status {status} is not documented")
    schema = _json_schema(response.get("content"), what)
    _check(body, _strict(schema, request=False) if strict else schema, what)
    return True
