"""Every setting, resolved in one place: explicit value, then stack config, then environment, then default.

The provider passes the stack config it receives in `configure()`; a program using the client directly passes
explicit keyword arguments. The API key is wrapped in `Secret` so no repr, log line or error can show it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any, Literal
from urllib.parse import urlsplit

from .errors import ConfigurationError

DEFAULT_BASE_URL = "https://api.fireworks.ai"
PreflightMode = Literal["enforce", "warn", "off"]
PREFLIGHT_MODES: tuple[PreflightMode, ...] = ("enforce", "warn", "off")


class Secret:
    """A string that never shows itself in repr(), str() or f-strings."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('****')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> Any:  # pragma: no cover - a guard, not a feature
        raise TypeError("Secret values are never pickled")


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_GO_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(text: str) -> float:
    """'90', '90s', '20m', '1.5h', '250ms', and Go's compound form '1h30m' (pulumi-aws writes those) → seconds."""
    m = _DURATION.match(text)
    if m is not None:
        return float(m[1]) * _UNIT_SECONDS[m[2]]
    compact = text.strip()
    parts = _GO_DURATION.findall(compact)
    if parts and "".join(n + u for n, u in parts) == compact:
        return sum(float(n) * _UNIT_SECONDS[u] for n, u in parts)
    raise ValueError(f"{text!r} is not a duration such as '90s', '20m', '1h' or '1h30m'")


@dataclass(frozen=True)
class AssumeRole:
    """One role to assume before the preflight's AWS calls, as pulumi-aws configures it (`aws:assumeRoles`, or the
    older single `aws:assumeRole`)."""

    role_arn: str
    session_name: str | None = None
    external_id: str | None = None
    duration_seconds: int | None = None
    policy: str | None = None
    policy_arns: tuple[str, ...] = ()
    source_identity: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    transitive_tag_keys: tuple[str, ...] = ()


def _assume_role(doc: Any) -> AssumeRole:
    if not isinstance(doc, Mapping) or not isinstance(doc.get("roleArn"), str) or not doc["roleArn"]:
        raise ValueError("each assumed role needs a roleArn")
    duration = doc.get("durationSeconds")
    if duration is None and isinstance(doc.get("duration"), str):
        duration = parse_duration(doc["duration"])
    tags = doc.get("tags") or {}
    return AssumeRole(
        role_arn=doc["roleArn"],
        session_name=doc.get("sessionName") or None,
        external_id=doc.get("externalId") or None,
        duration_seconds=int(duration) if duration is not None else None,
        policy=doc.get("policy") or None,
        policy_arns=tuple(doc.get("policyArns") or ()),
        source_identity=doc.get("sourceIdentity") or None,
        tags=tuple(sorted((str(k), str(v)) for k, v in dict(tags).items())),
        transitive_tag_keys=tuple(doc.get("transitiveTagKeys") or ()),
    )


def _assume_roles(text: str) -> tuple[AssumeRole, ...]:
    """`aws:assumeRole` (one JSON object) or `aws:assumeRoles` (a JSON list, assumed in order, each from the last)."""
    try:
        doc = json.loads(text)
    except ValueError:
        raise ValueError("is not JSON: set it with `pulumi config set --path` or as a JSON object") from None
    return tuple(_assume_role(d) for d in (doc if isinstance(doc, list) else [doc]))


def _preflight_mode(text: str) -> PreflightMode:
    value = text.strip().lower()
    if value not in PREFLIGHT_MODES:
        raise ValueError(f"{text!r} is not one of {', '.join(PREFLIGHT_MODES)}")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError(f"{text!r} must not be negative")
    return value


@dataclass(frozen=True)
class Setting:
    """One row of the settings table."""

    attr: str
    config_key: str | None  # stack config key, namespaced
    env: str | None
    default: Any
    parse: Callable[[str], Any] = str
    doc: str = ""


SETTINGS: tuple[Setting, ...] = (
    Setting("api_key", "fireworks:apiKey", "FIREWORKS_API_KEY", None, Secret, "API key (set it with --secret)"),
    Setting("account_id", "fireworks:accountId", "FIREWORKS_ACCOUNT_ID", None, str, "Fireworks account id"),
    Setting("base_url", "fireworks:baseUrl", "FIREWORKS_BASE_URL", DEFAULT_BASE_URL, str, "API base URL"),
    Setting(
        "create_timeout",
        "fireworks:createTimeout",
        "FWCLUSTER_CREATE_TIMEOUT",
        3600.0,
        parse_duration,
        "how long create waits for READY",
    ),
    Setting(
        "update_timeout",
        "fireworks:updateTimeout",
        "FWCLUSTER_UPDATE_TIMEOUT",
        1200.0,
        parse_duration,
        "how long update waits for READY",
    ),
    Setting(
        "delete_timeout",
        "fireworks:deleteTimeout",
        "FWCLUSTER_DELETE_TIMEOUT",
        1800.0,
        parse_duration,
        "how long delete waits until the cluster is gone",
    ),
    Setting(
        "poll_interval",
        "fireworks:pollInterval",
        "FWCLUSTER_POLL_INTERVAL",
        0.5,
        parse_duration,
        "first interval between state polls",
    ),
    Setting(
        "max_poll_interval",
        "fireworks:maxPollInterval",
        "FWCLUSTER_MAX_POLL_INTERVAL",
        10.0,
        parse_duration,
        "cap on the interval between state polls",
    ),
    Setting(
        "max_retries",
        "fireworks:maxRetries",
        "FWCLUSTER_MAX_RETRIES",
        4,
        _positive_int,
        "retries of a failed request (connection errors, 429, 5xx)",
    ),
    Setting(
        "retry_max_wait",
        "fireworks:retryMaxWait",
        "FWCLUSTER_RETRY_MAX_WAIT",
        60.0,
        parse_duration,
        "cap on one wait between retries, Retry-After included",
    ),
    Setting(
        "preflight",
        "fireworks:preflight",
        "FWCLUSTER_PREFLIGHT",
        "enforce",
        _preflight_mode,
        "AWS preflight mode: enforce, warn or off",
    ),
    # The stack's own AWS provider settings, so the preflight checks as the identity that deploys. Without them
    # boto3's usual chain (AWS_PROFILE, AWS_REGION, SSO, env keys) applies.
    Setting("aws_region", "aws:region", None, None, str, "home region of the preflight's AWS session"),
    Setting("aws_profile", "aws:profile", None, None, str, "AWS profile of the preflight's session"),
    Setting("aws_assume_role", "aws:assumeRole", None, (), _assume_roles, "a role to assume first"),
    Setting("aws_assume_roles", "aws:assumeRoles", None, (), _assume_roles, "roles to assume first, in order"),
)


@dataclass(frozen=True)
class Settings:
    api_key: Secret | None = None
    account_id: str | None = None
    base_url: str = DEFAULT_BASE_URL
    create_timeout: float = 3600.0
    update_timeout: float = 1200.0
    delete_timeout: float = 1800.0
    poll_interval: float = 0.5
    max_poll_interval: float = 10.0
    max_retries: int = 4
    retry_max_wait: float = 60.0
    preflight: PreflightMode = "enforce"
    aws_region: str | None = None
    aws_profile: str | None = None
    aws_assume_role: tuple[AssumeRole, ...] = ()
    aws_assume_roles: tuple[AssumeRole, ...] = ()

    @property
    def assumed_roles(self) -> tuple[AssumeRole, ...]:
        return self.aws_assume_role + self.aws_assume_roles

    def require_api_key(self) -> Secret:
        if self.api_key is None or not self.api_key.reveal():
            raise ConfigurationError(
                "no Fireworks API key: run `pulumi config set --secret fireworks:apiKey <key>` "
                "(or pass api_key=...), or set the environment variable FIREWORKS_API_KEY"
            )
        return self.api_key

    def require_account_id(self) -> str:
        if not self.account_id:
            raise ConfigurationError(
                "no Fireworks account id: set accountId on the resource, run "
                "`pulumi config set fireworks:accountId <id>` (or pass account_id=...), "
                "or set the environment variable FIREWORKS_ACCOUNT_ID"
            )
        return self.account_id


assert [f.name for f in fields(Settings)] == [s.attr for s in SETTINGS], "the table and the dataclass agree"


def resolve(
    explicit: Mapping[str, Any] | None = None,
    config: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Resolve every setting: explicit (non-None) value, then stack config, then env, then the default."""
    explicit = explicit or {}
    config = config or {}
    env = env or {}
    unknown = set(explicit) - {s.attr for s in SETTINGS}
    if unknown:
        raise TypeError(f"unknown settings: {', '.join(sorted(unknown))}")
    values: dict[str, Any] = {}
    for s in SETTINGS:
        raw: Any = None
        source = ""
        if explicit.get(s.attr) is not None:
            raw, source = explicit[s.attr], s.attr
        elif s.config_key and config.get(s.config_key):
            raw, source = config[s.config_key], s.config_key
        elif s.env and env.get(s.env):
            raw, source = env[s.env], s.env
        if raw is None:
            values[s.attr] = s.default
            continue
        if not isinstance(raw, str):  # an explicit value of the final type
            values[s.attr] = raw
            continue
        try:
            values[s.attr] = s.parse(raw)
        except ValueError as exc:
            raise ConfigurationError(f"{source}: {exc}") from None
    settings = Settings(**values)
    check_base_url(settings.base_url)
    return settings


def check_base_url(url: str) -> None:
    """Refuse plain http except to loopback, so the key never crosses a network in clear; refuse credentials in
    the URL, which would be recorded in the plain `endpoint` output and quoted in errors."""
    parts = urlsplit(url)
    if "@" in parts.netloc:
        raise ConfigurationError(
            "the base URL carries credentials (user:password@host), and is refused without being quoted: it is "
            "recorded in each cluster's `endpoint` output. Give the API key as fireworks:apiKey (a secret) instead."
        )
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname and _is_loopback(parts.hostname):
        return
    raise ConfigurationError(
        f"base URL {url!r} is refused: use https:// (plain http is allowed only for 127.0.0.1, ::1 or localhost)"
    )


def _is_loopback(host: str) -> bool:
    import ipaddress  # only for a plain-http base URL, so the usual https one costs no import

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
