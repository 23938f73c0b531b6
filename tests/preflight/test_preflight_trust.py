"""The trust-policy evaluation on its own: pure, no AWS."""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

import pytest

from pulumi_fwcluster.preflight.trust import evaluate_irsa, evaluate_manager

HOST = "oidc.eks.us-east-1.amazonaws.com/id/ABC"
PROVIDER = f"arn:aws:iam::123456789012:oidc-provider/{HOST}"
SA = "system:serviceaccount:default:inference"
FIELD = "eksCluster.inferenceRole"


def irsa(condition: dict[str, Any] | None = None, **stmt: Any) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Federated": PROVIDER},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": condition
        if condition is not None
        else {"StringEquals": {f"{HOST}:sub": SA, f"{HOST}:aud": "sts.amazonaws.com"}},
    }
    statement.update(stmt)
    return {"Version": "2012-10-17", "Statement": [statement]}


def run(policy: Any) -> dict[str, tuple[str, str]]:
    found = evaluate_irsa(policy, provider_arn=PROVIDER, issuer_host=HOST, service_account=SA, field=FIELD)
    assert all(f.field == FIELD for f in found)
    return {f.check.rsplit(".", 1)[1]: (f.status, f.message) for f in found}


def test_exact_policy_passes() -> None:
    assert {k: v[0] for k, v in run(irsa()).items()} == {"provider": "ok", "sub": "ok", "aud": "ok"}


def test_lone_statement_and_action_list_and_encoded_string() -> None:
    policy = irsa()
    policy["Statement"] = {**policy["Statement"][0], "Action": ["sts:TagSession", "sts:AssumeRoleWithWebIdentity"]}
    assert run(policy)["sub"][0] == "ok"
    assert run(urllib.parse.quote(json.dumps(policy)))["aud"][0] == "ok"


def test_condition_keys_are_case_insensitive() -> None:
    cond = {"StringEquals": {f"{HOST.upper()}:SUB": SA, f"{HOST}:aud": "sts.amazonaws.com"}}
    assert run(irsa(cond))["sub"][0] == "ok"


def test_other_provider_is_named() -> None:
    other = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/OTHER"
    status, message = run(irsa(Principal={"Federated": other}))["provider"]
    assert status == "fail" and other in message and "another cluster" in message


def test_no_federation_at_all() -> None:
    status, message = run(irsa(Principal={"Service": "ec2.amazonaws.com"}))["provider"]
    assert status == "fail" and "does not trust this cluster's OIDC provider" in message


@pytest.mark.parametrize("stmt", [{"Action": "sts:AssumeRole"}, {"Effect": "Deny"}])
def test_statement_that_does_not_allow_web_identity(stmt: dict[str, Any]) -> None:
    status, message = run(irsa(**stmt))["provider"]
    assert status == "fail" and "does not allow sts:AssumeRoleWithWebIdentity" in message


@pytest.mark.parametrize(
    ("sub", "status", "needle"),
    [
        ({"StringEquals": {f"{HOST}:sub": "system:serviceaccount:default:other"}}, "fail", "default:other"),
        ({"StringLike": {f"{HOST}:sub": "system:serviceaccount:*"}}, "warn", "StringLike"),
        ({"StringLike": {f"{HOST}:sub": "system:serviceaccount:kube-system:*"}}, "fail", "kube-system:*"),
        ({"StringLike": {f"{HOST}:sub": SA}}, "ok", SA),
        ({"StringEquals": {f"{HOST}:sub": [SA, "system:serviceaccount:x:y"]}}, "warn", "x:y"),
        ({}, "warn", "any service account"),
    ],
)
def test_sub(sub: dict[str, Any], status: str, needle: str) -> None:
    cond: dict[str, Any] = {op: dict(tests) for op, tests in sub.items()}
    cond.setdefault("StringEquals", {})[f"{HOST}:aud"] = "sts.amazonaws.com"
    got_status, message = run(irsa(cond))["sub"]
    assert got_status == status and needle in message


def test_wrong_aud_fails_and_missing_aud_warns() -> None:
    wrong = {"StringEquals": {f"{HOST}:sub": SA, f"{HOST}:aud": "something-else"}}
    assert run(irsa(wrong))["aud"][0] == "fail"
    assert run(irsa({"StringEquals": {f"{HOST}:sub": SA}}))["aud"][0] == "warn"


def test_best_statement_wins() -> None:
    good = irsa()["Statement"][0]
    loose = {**good, "Condition": {}}
    assert {k: v[0] for k, v in run({"Statement": [loose, good]}).items()} == {
        "provider": "ok",
        "sub": "ok",
        "aud": "ok",
    }


def manager(condition: dict[str, Any] | None = None, principal: Any = "accounts.google.com") -> dict[str, Any]:
    return {
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": principal},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {"StringEquals": {"accounts.google.com:aud": "117388763667264115668"}}
                if condition is None
                else condition,
            }
        ]
    }


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (manager(), [("iam.role.trust.google", "ok"), ("iam.role.trust.aud", "ok")]),
        (
            manager({"StringEquals": {"accounts.google.com:aud": "42"}}),
            [("iam.role.trust.google", "ok"), ("iam.role.trust.aud", "warn")],
        ),
        (manager({}), [("iam.role.trust.google", "ok"), ("iam.role.trust.aud", "fail")]),
        (manager(principal="cognito-identity.amazonaws.com"), [("iam.role.trust.google", "fail")]),
        (None, [("iam.role.trust.google", "fail")]),
    ],
    ids=["ok", "other-aud", "no-aud", "no-google", "no-policy"],
)
def test_manager(policy: Any, expected: list[tuple[str, str]]) -> None:
    found = evaluate_manager(policy, field="eksCluster.fireworksManagerRole")
    assert [(f.check, f.status) for f in found] == expected
