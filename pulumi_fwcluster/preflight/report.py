"""Findings and the report that collects them: the preflight's only output.

A finding is one row: a stable check id, the eksCluster field it is about, a status and a message. Statuses:

- ``ok``: the check passed;
- ``warn``: it will probably work, but not the way Fireworks' Terraform module sets it up;
- ``fail``: Fireworks will not be able to use the cluster as specified;
- ``skip``: the check could not be made (no permission, role in another account, credentials failed, ...).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Status = Literal["ok", "warn", "fail", "skip"]
STATUSES: tuple[Status, ...] = ("ok", "warn", "fail", "skip")


@dataclass(frozen=True)
class Finding:
    check: str
    """Stable id such as ``eks.cluster.active`` or ``iam.role.trust.sub``."""
    field: str
    """The eksCluster field it is about, as ``eksCluster.inferenceRole``; ``""`` when none (credentials)."""
    status: Status
    message: str
    remediation: str = ""

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass
class PreflightReport:
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no check failed (warnings and skips do not count)."""
        return not self.failures

    @property
    def failures(self) -> list[Finding]:
        return [f for f in self.findings if f.status == "fail"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.status == "warn"]

    @property
    def skipped(self) -> list[Finding]:
        return [f for f in self.findings if f.status == "skip"]

    def counts(self) -> dict[str, int]:
        c = Counter(f.status for f in self.findings)
        return {s: c.get(s, 0) for s in STATUSES}

    def by_check(self, check: str) -> list[Finding]:
        return [f for f in self.findings if f.check == check]

    def extend(self, findings: Iterable[Finding]) -> None:
        self.findings.extend(findings)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "counts": self.counts(),
            "findings": [f.as_dict() for f in self.findings],
        }

    def to_json(self, *, indent: int | None = 2) -> str:
        return json.dumps(self.as_dict(), indent=indent)

    def summary(self) -> str:
        c = self.counts()
        verdict = "passed" if self.ok else "FAILED"
        return f"preflight {verdict}: {c['ok']} ok, {c['warn']} warn, {c['fail']} fail, {c['skip']} skipped"

    def render_table(self) -> str:
        """A plain-text table for logs (no colour). The CLI renders a rich table instead."""
        headers = ("STATUS", "CHECK", "FIELD", "MESSAGE")
        rows = [(f.status.upper(), f.check, f.field or "-", _message_with_fix(f)) for f in self.findings]
        widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers[:3])]
        lines = ["  ".join(h.ljust(w) for h, w in zip(headers[:3], widths, strict=True)) + "  " + headers[3]]
        for r in rows:
            lead = "  ".join(v.ljust(w) for v, w in zip(r[:3], widths, strict=True))
            lines.append(f"{lead}  {r[3]}")
        lines.append(self.summary())
        return "\n".join(lines)

    def error_message(self) -> str:
        """The failures as one message, for an exception raised by the provider's check/create."""
        parts = [f"{f.field or f.check}: {_message_with_fix(f)}" for f in self.failures]
        return "AWS preflight failed:\n  - " + "\n  - ".join(parts) if parts else "AWS preflight passed"


def _message_with_fix(f: Finding) -> str:
    return f"{f.message} (fix: {f.remediation})" if f.remediation else f.message
