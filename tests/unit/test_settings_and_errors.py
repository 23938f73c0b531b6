"""Settings resolution (explicit, stack config, env, default), the key's redaction, and error-body parsing."""

from __future__ import annotations

import pickle

import pytest

from pulumi_fwcluster.client import _parse_retry_after, parse_error_body
from pulumi_fwcluster.errors import ConfigurationError, NotFound, ServerError, error_for_status
from pulumi_fwcluster.settings import SETTINGS, Secret, parse_duration, resolve


def test_order_is_explicit_then_config_then_env_then_default() -> None:
    env = {"FIREWORKS_ACCOUNT_ID": "from-env", "FIREWORKS_BASE_URL": "https://env.example"}
    config = {"fireworks:accountId": "from-config"}
    assert resolve(explicit={"account_id": "explicit"}, config=config, env=env).account_id == "explicit"
    assert resolve(config=config, env=env).account_id == "from-config"
    assert resolve(env=env).account_id == "from-env"
    assert resolve().account_id is None
    assert resolve(env=env).base_url == "https://env.example"
    assert resolve().base_url == "https://api.fireworks.ai"


def test_durations_and_modes_parse_with_the_source_named() -> None:
    s = resolve(config={"fireworks:createTimeout": "20m", "fireworks:preflight": "WARN"}, env={})
    assert s.create_timeout == 1200 and s.preflight == "warn"
    assert parse_duration("250ms") == 0.25 and parse_duration("1.5h") == 5400 and parse_duration("90") == 90
    with pytest.raises(ConfigurationError, match="fireworks:createTimeout"):
        resolve(config={"fireworks:createTimeout": "soon"})
    with pytest.raises(ConfigurationError, match="FWCLUSTER_PREFLIGHT"):
        resolve(env={"FWCLUSTER_PREFLIGHT": "strict"})


@pytest.mark.parametrize("url", ["http://api.fireworks.ai", "ftp://x", "https://", "http://10.0.0.1:8080"])
def test_plain_http_is_refused_off_loopback(url: str) -> None:
    with pytest.raises(ConfigurationError, match="refused"):
        resolve(env={"FIREWORKS_BASE_URL": url})


@pytest.mark.parametrize("url", ["https://ops:hunter2@api.fireworks.ai", "http://ops:hunter2@127.0.0.1:1"])
def test_credentials_in_the_base_url_are_refused_without_being_quoted(url: str) -> None:
    with pytest.raises(ConfigurationError, match="carries credentials") as refused:
        resolve(env={"FIREWORKS_BASE_URL": url})
    assert "hunter2" not in str(refused.value)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080", "http://localhost:1", "http://[::1]:2", "https://x.io"])
def test_loopback_http_and_https_are_allowed(url: str) -> None:
    assert resolve(env={"FIREWORKS_BASE_URL": url}).base_url == url


def test_the_key_never_shows() -> None:
    s = resolve(env={"FIREWORKS_API_KEY": "sk-very-secret"})
    assert isinstance(s.api_key, Secret) and s.api_key.reveal() == "sk-very-secret"
    for text in (repr(s), str(s), f"{s.api_key}", repr(s.api_key)):
        assert "sk-very-secret" not in text
    with pytest.raises(TypeError):
        pickle.dumps(s.api_key)


def test_every_setting_is_documented_with_config_and_env_names() -> None:
    for s in SETTINGS:
        assert s.config_key and s.doc
        # Ours have an environment variable too; the AWS provider's own keys are read from stack config only.
        assert (s.config_key.startswith("fireworks:") and s.env) or (s.config_key.startswith("aws:") and not s.env)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('{"code": 5, "message": "cluster not found", "details": []}', ("NOT_FOUND", "cluster not found")),
        ('{"code": "NOT_FOUND", "message": "gone"}', ("NOT_FOUND", "gone")),
        ('{"error": {"code": 3, "message": "bad"}}', ("INVALID_ARGUMENT", "bad")),
        ('{"message": "top-level only"}', (None, "top-level only")),
        ("<html>bad gateway</html>", (None, "<html>bad gateway</html>")),
        ("", (None, "HTTP 502 with an empty body")),
        ('["not", "an", "object"]', (None, '["not", "an", "object"]')),
    ],
)
def test_error_bodies_are_parsed_defensively(body: str, expected: tuple[str | None, str]) -> None:
    assert parse_error_body(502, body) == expected


def test_status_maps_to_type() -> None:
    assert error_for_status(404) is NotFound
    assert error_for_status(500) is ServerError and error_for_status(501) is ServerError
    err = NotFound("no such cluster", status=404, method="GET", path="/v1/accounts/a/clusters/c")
    assert str(err) == "GET /v1/accounts/a/clusters/c: HTTP 404 NOT_FOUND: no such cluster"


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    assert _parse_retry_after("3") == 3.0
    assert _parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    assert _parse_retry_after("soon") is None


def test_readme_documents_every_setting() -> None:
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for s in SETTINGS:
        assert f"`{s.config_key}`" in readme and (s.env is None or f"`{s.env}`" in readme), s.attr


def test_the_stacks_aws_settings_shape_the_preflight_session() -> None:
    from pulumi_fwcluster.preflight.session import session_for
    from pulumi_fwcluster.settings import AssumeRole, parse_duration, resolve

    settings = resolve(
        config={
            "aws:region": "eu-west-1",
            "aws:assumeRole": '{"roleArn": "arn:aws:iam::111111111111:role/a", "externalId": "x"}',
            "aws:assumeRoles": '[{"roleArn": "arn:aws:iam::222222222222:role/b", "duration": "1h30m", '
            '"tags": {"team": "ml"}, "policyArns": ["arn:aws:iam::aws:policy/ReadOnlyAccess"]}]',
        }
    )
    assert settings.assumed_roles == (
        AssumeRole("arn:aws:iam::111111111111:role/a", external_id="x"),
        AssumeRole(
            "arn:aws:iam::222222222222:role/b",
            duration_seconds=5400,
            tags=(("team", "ml"),),
            policy_arns=("arn:aws:iam::aws:policy/ReadOnlyAccess",),
        ),
    )
    assert parse_duration("2h45m30s") == 9930.0
    assert resolve(config={"aws:region": "eu-west-1"}).aws_region == "eu-west-1"
    assert session_for(resolve(config={"aws:region": "eu-west-1"})).region_name == "eu-west-1"
    with pytest.raises(ConfigurationError, match="aws:assumeRoles"):
        resolve(config={"aws:assumeRoles": '[{"sessionName": "no role"}]'})
