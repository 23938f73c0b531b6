"""Phase 4, pure part: evaluate a role's trust policy (AssumeRolePolicyDocument) against what Fireworks needs.

No I/O here: callers pass the decoded policy document boto3 returns.

Decisions (documented in the README):
- IRSA roles must allow ``sts:AssumeRoleWithWebIdentity`` to ``Federated: <this cluster's OIDC provider ARN>``.
  Trusting a different provider fails, naming it (the copy-paste bug).
- ``<issuer>:sub`` must equal the service account. A different value fails, naming the value found. A missing
  sub, or a ``StringLike`` wildcard that matches it, warns: it works, but any matching service account can
  assume the role.
- ``<issuer>:aud`` should be ``sts.amazonaws.com``. A different value fails (pods' tokens carry that audience,
  so the assume would be refused). A missing aud warns: STS still checks the audience against the OIDC
  provider's client id list, so it works, but it is looser than Fireworks' module.
- The manager role must allow ``sts:AssumeRoleWithWebIdentity`` to ``Federated: accounts.google.com``; missing
  fails. ``accounts.google.com:aud`` other than Fireworks' id warns (it may be a newer Fireworks id); a
  missing aud fails, because then any Google-issued token could assume the role.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..byoc import ASSUME_WEB_IDENTITY, FIREWORKS_GOOGLE_AUDIENCE, GOOGLE, STS_AUDIENCE
from .report import Finding, Status

_SEVERITY: dict[Status, int] = {"ok": 0, "skip": 1, "warn": 2, "fail": 3}


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return list(value)
    return [value]


def statements(policy: Mapping[str, Any] | str | None) -> list[Mapping[str, Any]]:
    """The policy's statements as a list (a lone statement object is allowed by IAM)."""
    if isinstance(policy, str):  # boto3 decodes it; tolerate a raw (possibly URL-encoded) JSON string too
        import json
        import urllib.parse

        policy = json.loads(urllib.parse.unquote(policy))
    if not isinstance(policy, Mapping):
        return []
    return [s for s in _as_list(policy.get("Statement")) if isinstance(s, Mapping)]


def _allows_web_identity(stmt: Mapping[str, Any]) -> bool:
    if stmt.get("Effect") != "Allow":
        return False
    actions = [str(a).lower() for a in _as_list(stmt.get("Action"))]
    return any(a in ("*", "sts:*", ASSUME_WEB_IDENTITY.lower()) for a in actions)


def federated(stmt: Mapping[str, Any]) -> list[str]:
    principal = stmt.get("Principal")
    if not isinstance(principal, Mapping):
        return []
    return [str(p) for p in _as_list(principal.get("Federated"))]


@dataclass(frozen=True)
class _Condition:
    operator: str
    values: list[str]


def _conditions(stmt: Mapping[str, Any], key: str) -> list[_Condition]:
    """Every (operator, values) in the statement's Condition block that tests `key` (keys are case-insensitive)."""
    block = stmt.get("Condition")
    if not isinstance(block, Mapping):
        return []
    out = []
    for operator, tests in block.items():
        if not isinstance(tests, Mapping):
            continue
        for k, v in tests.items():
            if str(k).lower() == key.lower():
                out.append(_Condition(str(operator), [str(x) for x in _as_list(v)]))
    return out


def _check_value(
    stmt: Mapping[str, Any],
    *,
    key: str,
    expected: str,
    check: str,
    field: str,
    missing: Status,
    missing_message: str,
    wrong: Status,
    what: str,
    label: str | None = None,
) -> Finding:
    """`label` names the key in messages (the full key, with a long issuer, goes in the remediation)."""
    name = label or key
    conds = [c for c in _conditions(stmt, key) if "Not" not in c.operator]
    if not conds:
        return Finding(check, field, missing, missing_message, f'add "StringEquals": {{"{key}": "{expected}"}}')
    found: list[str] = []
    for cond in conds:
        like = "Like" in cond.operator
        found.extend(cond.values)
        if expected in cond.values:
            others = [v for v in cond.values if v != expected]
            if others:
                return Finding(
                    check, field, "warn", f"{name} allows {expected!r} but also {others!r}", f"allow only {expected!r}"
                )
            return Finding(check, field, "ok", f"{name} is {expected!r}")
        if like and any(fnmatch.fnmatchcase(expected, pattern) for pattern in cond.values):
            return Finding(
                check,
                field,
                "warn",
                f"{name} is matched with {cond.operator} {cond.values!r}, which also lets other {what} assume it",
                f'use "StringEquals": {{"{key}": "{expected}"}}',
            )
    shown = found[0] if len(found) == 1 else found
    return Finding(
        check,
        field,
        wrong,
        f"{name} is {shown!r}, expected {expected!r}",
        f'set "StringEquals": {{"{key}": "{expected}"}}',
    )


def _worst(findings: Iterable[Finding]) -> int:
    return max((_SEVERITY[f.status] for f in findings), default=0)


def evaluate_irsa(
    policy: Mapping[str, Any] | str | None,
    *,
    provider_arn: str,
    issuer_host: str,
    service_account: str,
    field: str,
) -> list[Finding]:
    """Findings ``iam.role.trust.provider``, then (when a statement trusts the provider) ``.sub`` and ``.aud``."""
    stmts = statements(policy)
    trusting = [s for s in stmts if provider_arn in federated(s)]
    usable = [s for s in trusting if _allows_web_identity(s)]
    if not usable:
        if trusting:
            return [
                Finding(
                    "iam.role.trust.provider",
                    field,
                    "fail",
                    f"the statement trusting {provider_arn} does not allow {ASSUME_WEB_IDENTITY}",
                    f'set "Action": "{ASSUME_WEB_IDENTITY}" and "Effect": "Allow"',
                )
            ]
        others = sorted({p for s in stmts for p in federated(s) if ":oidc-provider/" in p})
        if others:
            message = f"trusts another cluster's OIDC provider {', '.join(others)}, not this cluster's {provider_arn}"
        else:
            message = f"does not trust this cluster's OIDC provider {provider_arn}"
        return [
            Finding(
                "iam.role.trust.provider",
                field,
                "fail",
                message,
                f'trust "Federated": "{provider_arn}" with {ASSUME_WEB_IDENTITY}',
            )
        ]
    best: list[Finding] | None = None
    for stmt in usable:
        found = [
            _check_value(
                stmt,
                key=f"{issuer_host}:sub",
                expected=service_account,
                check="iam.role.trust.sub",
                field=field,
                missing="warn",
                missing_message="no <issuer>:sub condition: any service account in the cluster can assume the role",
                wrong="fail",
                what="service accounts",
                label="trust condition <issuer>:sub",
            ),
            _check_value(
                stmt,
                key=f"{issuer_host}:aud",
                expected=STS_AUDIENCE,
                check="iam.role.trust.aud",
                field=field,
                missing="warn",
                missing_message=f"no <issuer>:aud condition; Fireworks' module requires {STS_AUDIENCE!r}",
                wrong="fail",
                what="audiences",
                label="trust condition <issuer>:aud",
            ),
        ]
        if best is None or _worst(found) < _worst(best):
            best = found
    assert best is not None
    ok = Finding("iam.role.trust.provider", field, "ok", f"trusts this cluster's OIDC provider {provider_arn}")
    return [ok, *best]


def evaluate_manager(policy: Mapping[str, Any] | str | None, *, field: str) -> list[Finding]:
    """Findings ``iam.role.trust.google``, then (when Google federation is trusted) ``iam.role.trust.aud``."""
    usable = [s for s in statements(policy) if GOOGLE in federated(s) and _allows_web_identity(s)]
    if not usable:
        return [
            Finding(
                "iam.role.trust.google",
                field,
                "fail",
                f"does not trust Federated {GOOGLE} with {ASSUME_WEB_IDENTITY}: the Fireworks control plane "
                "(on GCP) cannot assume it",
                f'trust "Federated": "{GOOGLE}" with {ASSUME_WEB_IDENTITY} and "StringEquals": '
                f'{{"{GOOGLE}:aud": "{FIREWORKS_GOOGLE_AUDIENCE}"}}',
            )
        ]
    best: Finding | None = None
    for stmt in usable:
        found = _check_value(
            stmt,
            key=f"{GOOGLE}:aud",
            expected=FIREWORKS_GOOGLE_AUDIENCE,
            check="iam.role.trust.aud",
            field=field,
            missing="fail",
            missing_message=f"no {GOOGLE}:aud condition: any Google-issued identity could assume the role",
            wrong="warn",
            what="Google identities",
        )
        if best is None or _SEVERITY[found.status] < _SEVERITY[best.status]:
            best = found
    assert best is not None
    return [Finding("iam.role.trust.google", field, "ok", f"trusts Federated {GOOGLE}"), best]
