"""What `pulumi up` would do to each Fireworks cluster, read from `pulumi preview --json`, for a pull-request comment.

`pulumi preview --json` prints one JSON object, the preview digest (pulumi/pulumi `pkg/display/json.go`,
`PreviewDigest`): `config`, `steps`, `diagnostics`, `duration`, `changeSummary` and `maybeCorrupt`, each optional.
This module keeps the steps and diagnostics of Fireworks clusters (`DYNAMIC_TYPE`, `NATIVE_TYPE`), works out for each
one what happens and whether it goes down, and renders that as Markdown or JSON. It does no I/O:

    summary = summarize(parse_digest(text))       # DigestError when text is not a preview digest
    render_markdown(summary) / render_json(summary)

How the digest writes values (pulumi/pulumi `pkg/backend/display/json.go` and `pkg/resource/stack/deployment.go`):
every secret is replaced by the string "[secret]" before serialisation, and an unknown value (an output of another
resource, known only after `up`) is the string `UNKNOWN_SENTINEL`. Both stay hidden here; a tagged secret object, which
the digest does not produce but a hand-made file might, is shown as "[secret]" even when it carries plaintext.

Downtime: a replacement that keeps the cluster's name (`accounts/{accountId}/clusters/{clusterId}`) deletes the old
cluster first, because Fireworks cannot hold two clusters with one name, so the cluster is down until the new one is
READY. The digest does not say which way a replacement goes, except through the order of its replacement steps when
the preview ran with `--show-replacement-steps`; when those steps are there, they decide. A delete is downtime too,
unless Pulumi only forgets the cluster (it was read with `Cluster.get`, or `retainOnDelete` is set).

`render_json` writes one object; keys always come in this order:

    version          1
    stack            "project/stack" from the URNs, or null
    downtime         true when any cluster goes down
    clusters         one object per cluster, in digest order:
      name             logical name (the URN's last part)
      urn, type        the URN and the type token
      op               create, update, replace, delete, same, another step op verbatim (read, import, refresh),
                       or null when the digest has no step for it (the preview stopped at its errors)
      steps            the raw step ops for this URN, in digest order
      clusterId        the cluster id after `up` (for a delete, the one deleted); null when not in the digest
      oldName, newName "accounts/{accountId}/clusters/{clusterId}" before and after, or null
      downtime         true when the cluster goes down during `up`
      replacement      "delete-first", "create-first", or null when not a replacement
      explanation      one Markdown sentence on what happens and why (downtime or none), or null
      changes          [{path, kind, forcesReplacement, old, new}]; kind is add, update, delete, or null when the
                       digest names only the top-level key
      replaceReasons   the property paths that force the replacement
      diagnostics      [{severity, message}]: the errors and warnings the preview attached to this cluster
    otherErrors      how many errors the preview reported on anything else (the plan may be incomplete)
    otherPreflight   [{severity, message}]: preflight messages not attached to a cluster (the dynamic provider logs
                     its warn-mode findings without a URN)

Values in `changes` are JSON as in the digest, except that a secret is "[secret]", an unknown value "[unknown]", an
asset, archive or resource reference "[asset]", "[archive]", "[resource]", and an unset value null.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .spec import CLUSTER_TYPES

# The first line of every summary, so that a workflow can find its earlier comment and edit it.
MARKER = "<!-- fwcluster-plan-summary -->"

# pkg/resource/stack/deployment.go, computedValuePlaceholder: what SerializePropertyValue writes for an unknown value.
# The Python SDK uses the same string for unknowns, so a dynamic provider's check returns it unchanged.
UNKNOWN_SENTINEL = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
# pkg/backend/display/json.go, massagePropertyValue: every secret in a step's state becomes this string.
SECRET_TEXT = "[secret]"

# sdk/go/common/resource/sig/sig.go: values that JSON cannot hold are objects tagged with this key.
_SIG_KEY = "4dabf18193072939515e22adb298388d"
_SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
_OUTPUT_SIG = "d0e6a833031e9bbcd3f4e8bde6ca49a4"
_SIG_KINDS = {
    "c44067f5952c0a294b673a41bacd8c17": "asset",
    "0def7320c3a5731c473e5ecbe6d01bc7": "archive",
    "5cf8f73096256a8f31e491e813e4eb8e": "resource",
    "803fd3297a5875dc03ca845dda5d2a98": "bytes",
    "8ad145fe-0d11-4827-bfd7-1abcbf086f5c": "number",  # NaN or ±Inf (deployment.go, floatSignature)
}

_DIGEST_KEYS = ("config", "steps", "diagnostics", "duration", "changeSummary", "maybeCorrupt")

# Steps that are halves of a replacement. The digest lists them only with --show-replacement-steps, next to the
# logical `replace` step of the same URN (pkg/resource/deploy/step.go, IsReplacementStep).
_REPLACEMENT_HALVES = frozenset(
    {"create-replacement", "delete-replaced", "discard-replaced", "remove-pending-replace", "read-replacement"}
)

# Only these reach a reviewer: info is program output, and `debug` never enters the digest.
_SHOWN_SEVERITIES = ("error", "warning")

_NAME_RE = re.compile(r"^accounts/(?P<account>[^/]+)/clusters/(?P<cluster>[^/]+)$")
# The engine's wording for check failures (sdk/go/common/diag/errors.go, codes 2003 and 2002). The value it prints
# for a nested path is always `{<nil>}`, so only the path and the reason are worth showing.
_PROPERTY_PROBLEM_RE = re.compile(
    r"^\S+ resource '.*?': property (?P<path>\S+) value .*? has a problem: (?P<reason>.*)$", re.S
)
_RESOURCE_PROBLEM_RE = re.compile(r"^\S+ resource '.*?' has a problem: (?P<reason>.*)$", re.S)
_IDENTIFIER_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PATH_TOKEN_RE = re.compile(r'\.?([A-Za-z_][A-Za-z0-9_$-]*)|\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]')


class DigestError(ValueError):
    """The input is not the output of `pulumi preview --json`."""


# -- values ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hidden:
    """A value the digest does not show: a secret, an unknown, or something JSON cannot hold."""

    kind: str  # secret, unknown, asset, archive, resource, bytes, number or value

    def __str__(self) -> str:
        return f"[{self.kind}]"


SECRET = Hidden("secret")
UNKNOWN = Hidden("unknown")


def _value(raw: Any) -> Any:
    """A digest value with secrets, unknowns and tagged objects turned into `Hidden`, and `__` keys dropped."""
    if raw == UNKNOWN_SENTINEL:
        return UNKNOWN
    if raw == SECRET_TEXT:
        return SECRET
    if isinstance(raw, list):
        return [_value(item) for item in raw]
    if isinstance(raw, dict):
        sig = raw.get(_SIG_KEY)
        if sig is None:
            return {str(k): _value(v) for k, v in raw.items() if not str(k).startswith("__")}
        if sig == _SECRET_SIG:
            return SECRET  # even with a `plaintext` field: a summary never reveals a secret
        if sig == _OUTPUT_SIG:
            if raw.get("secret"):
                return SECRET
            return _value(raw["value"]) if "value" in raw else UNKNOWN
        return Hidden(_SIG_KINDS.get(str(sig), "value"))
    return raw


def _contains(value: Any, hidden: Hidden) -> bool:
    if value == hidden:
        return True
    if isinstance(value, dict):
        return any(_contains(v, hidden) for v in value.values())
    if isinstance(value, list):
        return any(_contains(v, hidden) for v in value)
    return False


def _jsonable(value: Any) -> Any:
    if isinstance(value, Hidden):
        return str(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


# -- the digest, checked --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _State:
    type: str
    id: str | None
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    external: bool  # read with `Cluster.get`: Pulumi never deletes it
    retain_on_delete: bool


@dataclass(frozen=True)
class _Step:
    op: str
    urn: str
    old: _State | None
    new: _State | None
    diff_reasons: tuple[str, ...]
    replace_reasons: tuple[str, ...]
    detailed_diff: dict[str, str] | None  # path -> kind


def parse_digest(data: str | bytes) -> dict[str, Any]:
    """The digest as a dict. Raises DigestError, with a one-line reason, for anything else."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise DigestError("not UTF-8 text") from None
    text = data.lstrip("\ufeff")
    if not text.strip():
        raise DigestError("empty input; expected the output of `pulumi preview --json`")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DigestError(_json_problem(text, exc)) from None
    if not isinstance(doc, dict):
        raise DigestError(f"expected a JSON object (the digest of `pulumi preview --json`), got {_json_type(doc)}")
    if not any(key in doc for key in _DIGEST_KEYS):
        if "deployment" in doc:
            raise DigestError("this is a stack export (`pulumi stack export`), not `pulumi preview --json`")
        keys = ", ".join(sorted(doc)[:5]) or "none"
        raise DigestError(
            f"a JSON object without any key of a preview digest (steps, diagnostics, changeSummary, ...); "
            f"its keys: {keys}"
        )
    return doc


def _json_problem(text: str, exc: json.JSONDecodeError) -> str:
    if exc.msg == "Extra data":
        first = text[: exc.pos]
        try:
            event = json.loads(first)
        except json.JSONDecodeError:
            event = None
        if isinstance(event, dict) and "sequence" in event:
            return (
                "this is a stream of engine events (PULUMI_ENABLE_STREAMING_JSON_PREVIEW is set), "
                "not the preview digest of `pulumi preview --json`"
            )
        return f"more than one JSON document (extra data at line {exc.lineno}, column {exc.colno})"
    if _unclosed(text):
        return "invalid JSON: it ends before its last string, array or object is closed; is the file truncated?"
    return f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"


def _unclosed(text: str) -> bool:
    """Whether text stops inside a string, array or object: a cut-off file, not a wrong one."""
    depth, in_string, escaped = 0, False, False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
    return in_string or depth > 0


def _json_type(value: Any) -> str:
    names = {list: "an array", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def _require(condition: bool, where: str, expected: str) -> None:
    if not condition:
        raise DigestError(f"{where} must be {expected}")


def _optional_object(raw: Mapping[str, Any], key: str, where: str) -> dict[str, Any]:
    value = raw.get(key)
    _require(value is None or isinstance(value, dict), f"{where}.{key}", "an object")
    return value or {}


def _string_list(raw: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = raw.get(key)
    ok = value is None or (isinstance(value, list) and all(isinstance(v, str) for v in value))
    _require(ok, f"{where}.{key}", "a list of strings")
    return tuple(value or ())


def _parse_state(raw: Any, where: str) -> _State | None:
    if raw is None:
        return None
    _require(isinstance(raw, dict), where, "an object")
    type_ = raw.get("type")
    _require(isinstance(type_, str), f"{where}.type", "a string")
    id_ = raw.get("id")
    return _State(
        type=type_,
        id=id_ if isinstance(id_, str) and id_ else None,
        inputs=_value(_optional_object(raw, "inputs", where)),
        outputs=_value(_optional_object(raw, "outputs", where)),
        external=raw.get("external") is True,
        retain_on_delete=raw.get("retainOnDelete") is True,
    )


def _parse_step(raw: Any, where: str) -> _Step:
    _require(isinstance(raw, dict), where, "an object")
    for key in ("op", "urn"):
        _require(isinstance(raw.get(key), str), f"{where}.{key}", "a string")
    detailed: dict[str, str] | None = None
    if raw.get("detailedDiff") is not None:
        entries = _optional_object(raw, "detailedDiff", where)
        detailed = {}
        for path, entry in entries.items():
            kind = entry.get("kind") if isinstance(entry, dict) else None
            _require(isinstance(kind, str), f"{where}.detailedDiff[{path!r}].kind", "a string")
            detailed[path] = str(kind)
    return _Step(
        op=raw["op"],
        urn=raw["urn"],
        old=_parse_state(raw.get("oldState"), f"{where}.oldState"),
        new=_parse_state(raw.get("newState"), f"{where}.newState"),
        diff_reasons=_string_list(raw, "diffReasons", where),
        replace_reasons=_string_list(raw, "replaceReasons", where),
        detailed_diff=detailed,
    )


def _parse_list(digest: Mapping[str, Any], key: str) -> list[Any]:
    value = digest.get(key)
    _require(value is None or isinstance(value, list), key, "a list")
    return list(value or ())


# -- the report -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClusterName:
    """`accounts/{account}/clusters/{cluster}`; a part is a str, UNKNOWN/SECRET, or None when the digest lacks it."""

    account: Any
    cluster: Any

    def full(self) -> str | None:
        if isinstance(self.account, str) and isinstance(self.cluster, str):
            return f"accounts/{self.account}/clusters/{self.cluster}"
        return None


@dataclass(frozen=True)
class Change:
    path: str
    kind: str | None  # add, update, delete; None when the digest names only the top-level key
    forces_replacement: bool
    old: Any
    new: Any


@dataclass(frozen=True)
class Diagnostic:
    severity: str
    message: str


@dataclass(frozen=True)
class ClusterPlan:
    name: str
    urn: str
    type: str
    op: str | None
    steps: tuple[str, ...]
    old_name: ClusterName | None
    new_name: ClusterName | None
    downtime: bool
    replacement: str | None  # delete-first, create-first
    explanation: str | None
    changes: tuple[Change, ...]
    replace_reasons: tuple[str, ...]
    diagnostics: tuple[Diagnostic, ...]

    @property
    def cluster_id(self) -> Any:
        name = self.old_name if self.op == "delete" else (self.new_name or self.old_name)
        return name.cluster if name else None

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity == "error")


@dataclass(frozen=True)
class PlanSummary:
    stack: str | None
    clusters: tuple[ClusterPlan, ...]
    other_errors: int
    other_preflight: tuple[Diagnostic, ...]

    @property
    def down(self) -> tuple[ClusterPlan, ...]:
        """The clusters that go down during `pulumi up`."""
        return tuple(c for c in self.clusters if c.downtime)


def load_summary(data: str | bytes) -> PlanSummary:
    return summarize(parse_digest(data))


def summarize(digest: Mapping[str, Any]) -> PlanSummary:
    """The Fireworks clusters in a parsed digest. Raises DigestError when a part of it has the wrong shape."""
    steps = [_parse_step(raw, f"steps[{i}]") for i, raw in enumerate(_parse_list(digest, "steps"))]
    diagnostics = [
        _parse_diagnostic(raw, f"diagnostics[{i}]") for i, raw in enumerate(_parse_list(digest, "diagnostics"))
    ]
    summary = digest.get("changeSummary")
    _require(summary is None or isinstance(summary, dict), "changeSummary", "an object")

    by_urn: dict[str, list[_Step]] = {}
    for step in steps:
        if _step_type(step) in CLUSTER_TYPES:
            by_urn.setdefault(step.urn, []).append(step)
    # A cluster whose check failed (a preflight error, say) has no step at all: the engine stops before planning it,
    # so its diagnostics are all the digest says about it.
    for urn, _ in diagnostics:
        if urn and urn not in by_urn and _urn_type(urn) in CLUSTER_TYPES:
            by_urn[urn] = []

    attached: dict[str, list[Diagnostic]] = {urn: [] for urn in by_urn}
    other_errors = 0
    other_preflight: list[Diagnostic] = []
    for urn, diag in diagnostics:
        if diag.severity not in _SHOWN_SEVERITIES:
            continue
        if urn in attached:
            attached[urn].append(diag)
        elif diag.message.startswith("preflight"):
            if diag not in other_preflight:
                other_preflight.append(diag)
        elif diag.severity == "error":
            other_errors += 1

    clusters = tuple(_plan(urn, group, tuple(attached[urn])) for urn, group in by_urn.items())
    urns = [s.urn for s in steps] + [urn for urn, _ in diagnostics if urn]
    return PlanSummary(_stack(urns), clusters, other_errors, tuple(other_preflight))


def _parse_diagnostic(raw: Any, where: str) -> tuple[str, Diagnostic]:
    _require(isinstance(raw, dict), where, "an object")
    for key in ("urn", "prefix", "message", "severity"):
        _require(raw.get(key) is None or isinstance(raw[key], str), f"{where}.{key}", "a string")
    severity = (raw.get("severity") or "info").split("#")[0]  # info#err is program output on stderr
    # The CLI folds the category prefix ("error: ") into the message (pkg/backend/display/json.go).
    text = (raw.get("prefix") or "") + (raw.get("message") or "")
    text = text.strip().removeprefix(f"{severity}: ")
    if m := _PROPERTY_PROBLEM_RE.match(text):
        path, reason = m["path"], m["reason"]
        text = reason if reason.startswith(path) else f"{path}: {reason}"
    elif m := _RESOURCE_PROBLEM_RE.match(text):
        text = m["reason"]
    text = " ".join(line.strip() for line in text.splitlines() if line.strip())
    return raw.get("urn") or "", Diagnostic(severity, text)


def _urn_parts(urn: str) -> list[str] | None:
    """[stack, project, type, name] of `urn:pulumi:{stack}::{project}::{parent types$}{type}::{name}`."""
    if not urn.startswith("urn:pulumi:"):
        return None
    parts = urn.removeprefix("urn:pulumi:").split("::", 3)
    return parts if len(parts) == 4 else None


def _urn_type(urn: str) -> str | None:
    parts = _urn_parts(urn)
    return parts[2].rsplit("$", 1)[-1] if parts else None


def _urn_name(urn: str) -> str:
    parts = _urn_parts(urn)
    return parts[3] if parts else urn.rsplit("::", 1)[-1]


def _stack(urns: Iterable[str]) -> str | None:
    for urn in urns:
        parts = _urn_parts(urn)
        if parts:
            return f"{parts[1]}/{parts[0]}"
    return None


def _step_type(step: _Step) -> str | None:
    state = step.new or step.old
    return state.type if state else _urn_type(step.urn)


def _plan(urn: str, steps: list[_Step], diagnostics: tuple[Diagnostic, ...]) -> ClusterPlan:
    name = _urn_name(urn)
    if not steps:
        return ClusterPlan(
            name=name,
            urn=urn,
            type=_urn_type(urn) or "",
            op=None,
            steps=(),
            old_name=None,
            new_name=None,
            downtime=False,
            replacement=None,
            explanation="Not planned: the preview stopped at this cluster's errors, so `pulumi up` would too.",
            changes=(),
            replace_reasons=(),
            diagnostics=diagnostics,
        )
    logical = _logical_step(steps)
    # Only the halves of its replacement describe the same change; a refresh step before it does not.
    related = [s for s in steps if s is logical or s.op in _REPLACEMENT_HALVES]
    ops = tuple(s.op for s in steps)
    old = logical.old or next((s.old for s in related if s.old), None)
    new = logical.new or next((s.new for s in related if s.new), None)
    op = {"create-replacement": "replace", "delete-replaced": "replace", "discard": "delete"}.get(
        logical.op, logical.op
    )

    replace_reasons = _unique(r for s in related for r in s.replace_reasons)
    detailed = next((s.detailed_diff for s in [logical, *related] if s.detailed_diff), None)
    replace_reasons = _unique([*replace_reasons, *(p for p, k in (detailed or {}).items() if k.endswith("-replace"))])
    changes = _changes(op, related, detailed, old, new, replace_reasons)

    old_name = _name_of(old, old=True) if old else None
    new_name = _name_of(new, old=False) if new else None
    if new_name and new_name.account is None and old_name:
        # No accountId in the new inputs: the provider takes it from its config, as it did for the old cluster.
        new_name = ClusterName(old_name.account, new_name.cluster)
    downtime, replacement, explanation = _consequence(op, ops, old, new, old_name, new_name)
    return ClusterPlan(
        name=name,
        urn=urn,
        type=_step_type(logical) or "",
        op=op,
        steps=ops,
        old_name=old_name,
        new_name=new_name,
        downtime=downtime,
        replacement=replacement,
        explanation=explanation,
        changes=changes,
        replace_reasons=replace_reasons,
        diagnostics=diagnostics,
    )


def _logical_step(steps: list[_Step]) -> _Step:
    """The step that says what happens to the cluster.

    With `pulumi preview --refresh` a URN first has its refresh step (which the CLI rewrites to `update` or `delete`
    when the refresh finds drift or a vanished cluster), then the step of the program's change: the last one counts.
    """
    for step in reversed(steps):
        if step.op not in _REPLACEMENT_HALVES and step.op != "refresh":
            return step
    return next((s for s in steps if s.op == "refresh"), steps[0])


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def _name_of(state: _State, *, old: bool) -> ClusterName | None:
    # What exists is in the old outputs; what the program asks for is in the new inputs. A cluster read with
    # `Cluster.get` has only outputs.
    sources = (state.outputs, state.inputs) if old else (state.inputs, state.outputs)
    account = next((s["accountId"] for s in sources if s.get("accountId") is not None), None)
    cluster = next((s["clusterId"] for s in sources if s.get("clusterId") is not None), None)
    if account is None or cluster is None:
        for text in (state.outputs.get("name"), state.id):
            m = _NAME_RE.match(text) if isinstance(text, str) else None
            if m:
                account = m["account"] if account is None else account
                cluster = m["cluster"] if cluster is None else cluster
                break
    if account is None and cluster is None:
        return None
    return ClusterName(account, cluster)


def _same_name(old: ClusterName | None, new: ClusterName | None) -> bool | None:
    """True when the replacement keeps the name, False when it changes, None when the digest cannot tell."""
    if old is None or new is None:
        return None
    undecided = False
    for before, after in ((old.account, new.account), (old.cluster, new.cluster)):
        if before is None or after is None or isinstance(before, Hidden) or isinstance(after, Hidden):
            undecided = True
        elif before != after:
            return False
    return None if undecided else True


def _replacement_order(ops: tuple[str, ...]) -> str | None:
    """With --show-replacement-steps, the engine lists delete-replaced first when it deletes first."""
    if "delete-replaced" in ops and "create-replacement" in ops:
        return "delete-first" if ops.index("delete-replaced") < ops.index("create-replacement") else "create-first"
    return None


def _consequence(
    op: str,
    ops: tuple[str, ...],
    old: _State | None,
    new: _State | None,
    old_name: ClusterName | None,
    new_name: ClusterName | None,
) -> tuple[bool, str | None, str | None]:
    """(downtime, replacement, explanation)."""
    before = _name_text(old_name)
    if op == "delete":
        if "discard" in ops or (old and old.external):
            return (
                False,
                None,
                f"Pulumi forgets {before}, which it only read (`Cluster.get`); the cluster keeps running.",
            )
        if old and old.retain_on_delete:
            return False, None, f"Pulumi forgets {before} (`retainOnDelete`); the cluster keeps running."
        return True, None, f"`pulumi up` deletes {before}; whatever it serves stops."
    if op != "replace":
        return False, None, None
    if old and old.external and not (new and new.external):
        return (
            False,
            None,
            f"Pulumi takes over {before}, which it only read (`Cluster.get`) so far; it deletes nothing.",
        )
    if new and new.external and not (old and old.external):
        return (
            True,
            None,
            f"Pulumi deletes {before} and from now on only reads {_name_text(new_name)}.",
        )
    after = _name_text(new_name)
    order = _replacement_order(ops)
    same = _same_name(old_name, new_name)
    if order == "create-first" or (order is None and same is False):
        if same is True:  # deleteBeforeReplace=False on the resource overrides the provider
            why = (
                f"Pulumi creates the replacement before it deletes {before} (its replacement steps say so), but "
                "the name stays and Fireworks cannot hold two clusters with one name: expect the create to fail."
            )
        else:
            why = (
                f"The name changes ({before} → {after}), so the new cluster is created first and the old one "
                "deleted once the new one is READY: no downtime."
            )
        return False, "create-first", why
    down = "the old cluster is deleted first and the cluster is down until the new one is READY"
    if same is True:
        why = (
            f"The replacement keeps the name {after}, and Fireworks cannot hold two clusters with one name, so {down}."
        )
    elif same is None and new_name is not None and _contains([new_name.account, new_name.cluster], UNKNOWN):
        why = f"The new name is unknown until `pulumi up` (output of another resource); if it stays {before}, {down}."
    elif same is None:
        why = f"The digest does not show whether the replacement keeps the cluster's name; if it does, {down}."
    else:  # deleteBeforeReplace=True on the resource: delete first although the name changes
        why = (
            f"Pulumi deletes {before} before it creates {after} (its replacement steps say so), so the cluster is "
            "down until the new one is READY."
        )
    return True, "delete-first", why


def _name_text(name: ClusterName | None) -> str:
    if name is None:
        return "the cluster"
    full = name.full()
    if full:
        return _code(full)
    if name.cluster == UNKNOWN or name.account == UNKNOWN:
        return "a name that is unknown until `pulumi up`"
    return _code(str(name.cluster)) if name.cluster is not None else "the cluster"


# -- changes --------------------------------------------------------------------------------------------------------


def _changes(
    op: str,
    steps: list[_Step],
    detailed: dict[str, str] | None,
    old: _State | None,
    new: _State | None,
    replace_reasons: tuple[str, ...],
) -> tuple[Change, ...]:
    old_inputs = old.inputs if old else {}
    new_inputs = new.inputs if new else {}
    paths: list[tuple[str, str | None]]
    if detailed:
        paths = [(path, kind.removesuffix("-replace")) for path, kind in detailed.items()]
    elif diff_reasons := _unique(r for s in steps for r in s.diff_reasons):
        paths = [(path, None) for path in diff_reasons]
    elif op in ("update", "replace"):
        # A dynamic provider sends no detailed diff, so compare the inputs as the engine would.
        paths = [(path, _kind(path, old_inputs, new_inputs)) for path in _leaf_paths(old_inputs, new_inputs)]
        paths = paths or [(path, None) for path in replace_reasons]
    else:
        return ()
    outputs = old.outputs if old else {}
    return tuple(
        Change(
            path=path,
            kind=kind,
            forces_replacement=any(_overlaps(path, reason) for reason in replace_reasons),
            # A detailed diff that is not an input diff compares old outputs with new inputs.
            old=_lookup(old_inputs, path) if _has(old_inputs, path) else _lookup(outputs, path),
            new=_lookup(new_inputs, path),
        )
        for path, kind in paths
    )


def _kind(path: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    if not _has(old, path):
        return "add"
    return "update" if _has(new, path) else "delete"


def _leaf_paths(old: Any, new: Any, prefix: str = "") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        keys = [*new, *(k for k in old if k not in new)]
        return [p for k in keys for p in _leaf_paths(old.get(k), new.get(k), _join(prefix, k))]
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [p for i, (a, b) in enumerate(zip(old, new, strict=True)) for p in _leaf_paths(a, b, f"{prefix}[{i}]")]
    # An unknown counts as a change, as in the engine's own diff: it may well come out different.
    changed = old != new or old == UNKNOWN or new == UNKNOWN
    return [prefix] if changed and prefix else []


def _join(prefix: str, key: str) -> str:
    if _IDENTIFIER_RE.match(key):
        return f"{prefix}.{key}" if prefix else key
    return f"{prefix}[{json.dumps(key)}]"


def _split_path(path: str) -> list[str | int] | None:
    """`eksCluster.inferenceRole`, `tags["a.b"]`, `items[0]` as keys and indexes; None if it is none of these."""
    parts: list[str | int] = []
    pos = 0
    while pos < len(path):
        m = _PATH_TOKEN_RE.match(path, pos)
        if not m or (m.group(0).startswith(".") and pos == 0):
            return None
        if m[1] is not None:
            parts.append(m[1])
        elif m[2] is not None:
            parts.append(int(m[2]))
        else:
            try:
                parts.append(json.loads(f'"{m[3]}"'))
            except json.JSONDecodeError:
                return None
        pos = m.end()
    return parts


_ABSENT = object()


def _walk(props: Mapping[str, Any], path: str) -> Any:
    parts = _split_path(path)
    if not parts:
        return props.get(path, _ABSENT)
    value: Any = props
    for part in parts:
        if isinstance(value, Hidden):
            return value  # inside a secret or unknown object, every field is secret or unknown too
        if isinstance(value, dict) and isinstance(part, str) and part in value:
            value = value[part]
            continue
        if isinstance(value, list) and isinstance(part, int) and part < len(value):
            value = value[part]
            continue
        return _ABSENT
    return value


def _has(props: Mapping[str, Any], path: str) -> bool:
    value = _walk(props, path)
    return value is not _ABSENT and value is not None


def _lookup(props: Mapping[str, Any], path: str) -> Any:
    value = _walk(props, path)
    return None if value is _ABSENT else value


def _overlaps(path: str, reason: str) -> bool:
    """`eksCluster` forces `eksCluster.region`, and `eksCluster.region` forces a change reported as `eksCluster`."""
    short, long = sorted((path, reason), key=len)
    return long == short or long.startswith((f"{short}.", f"{short}["))


# -- Markdown -------------------------------------------------------------------------------------------------------

_MAX_FIELDS_IN_CELL = 4
_MAX_VALUE_CHARS = 80
_PLAN_TEXT = {
    "create": "create",
    "update": "update in place",
    "same": "no change",
    "delete": "**delete**",
}


def render_markdown(summary: PlanSummary) -> str:
    """A GitHub PR comment or step summary: the marker line, a heading, a headline, a table and short details."""
    where = f" on `{summary.stack}`" if summary.stack else ""
    lines = [MARKER, f"### Fireworks clusters{where}", ""]
    lines += _headline(summary)
    if summary.clusters:
        lines += ["", "| | cluster | id | plan | changes | forces replacement |", "|:-:|---|---|---|---|---|"]
        lines += [_row(c) for c in summary.clusters]
        for cluster in summary.clusters:
            if _worth_details(cluster):
                lines += ["", *_details(cluster)]
    if summary.other_preflight:
        lines += ["", "#### Preflight messages not attached to a cluster", ""]
        lines += [f"- {_severity_text(d)}: {_text(d.message)}" for d in summary.other_preflight]
    return "\n".join(lines) + "\n"


def _headline(summary: PlanSummary) -> list[str]:
    lines = []
    down = summary.down
    if down:
        names = [_code(c.name) for c in down]
        listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
        verb = "goes" if len(down) == 1 else "go"
        lines.append(f"🔴 **Downtime: {listed} {verb} down during `pulumi up`.**")
    elif summary.clusters and all(c.op for c in summary.clusters):
        lines.append("✅ No Fireworks cluster goes down.")
    if not summary.clusters:
        lines.append(
            "No Fireworks clusters in this preview: `pulumi up` creates, changes and deletes none. "
            "(Unchanged clusters are listed only with `pulumi preview --show-sames`.)"
        )
    cluster_errors = sum(len(c.errors) for c in summary.clusters)
    if cluster_errors or summary.other_errors:
        counts = [
            f"{n} {what}" for n, what in ((cluster_errors, "on clusters"), (summary.other_errors, "elsewhere")) if n
        ]
        noun = "error" if cluster_errors + summary.other_errors == 1 else "errors"
        lines.append(
            f"❌ **The preview failed** ({noun}: {', '.join(counts)}): `pulumi up` would stop there, "
            "and this summary may be incomplete."
        )
    return [line for item in lines for line in (item, "")][:-1]


def _markers(cluster: ClusterPlan) -> str:
    marks = []
    if cluster.downtime:
        marks.append("🔴")
    if cluster.errors:
        marks.append("❌")
    elif cluster.diagnostics:
        marks.append("⚠️")
    return " ".join(marks)


def _plan_text(cluster: ClusterPlan) -> str:
    if cluster.op is None:
        return "not planned (errors)"
    if cluster.op == "replace":
        if cluster.replacement == "delete-first":
            return "**replace, deleting first**"
        if cluster.replacement == "create-first":
            return "replace, creating first"
        return "**replace, deleting the old one**" if cluster.downtime else "replace"
    if cluster.op == "delete" and not cluster.downtime:
        return "forget (nothing deleted)"
    return _PLAN_TEXT.get(cluster.op, _code(cluster.op))


def _id_text(cluster: ClusterPlan) -> str:
    old, new = cluster.old_name, cluster.new_name
    if cluster.op == "replace" and old and new and _same_name(old, new) is not True:
        # Full names only when the account changes too; otherwise the ids say it.
        same_account = new.account == old.account
        before = old.cluster if same_account else (old.full() or old.cluster)
        after = new.cluster if same_account else (new.full() or new.cluster)
        if before != after:
            return f"{_md_value(before, short=True)} → {_md_value(after, short=True)}"
    value = cluster.cluster_id
    return "" if value is None else _md_value(value, short=True)


def _fields(paths: Iterable[str]) -> str:
    paths = list(paths)
    shown = ", ".join(_code(p) for p in paths[:_MAX_FIELDS_IN_CELL])
    more = len(paths) - _MAX_FIELDS_IN_CELL
    return f"{shown} and {more} more" if more > 0 else shown


def _row(cluster: ClusterPlan) -> str:
    cells = [
        _markers(cluster),
        _code(cluster.name),
        _id_text(cluster),
        _plan_text(cluster),
        _fields(c.path for c in cluster.changes),
        _fields(cluster.replace_reasons),
    ]
    # GitHub ends a table cell at any `|`, even inside a code span, unless it is escaped.
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def _worth_details(cluster: ClusterPlan) -> bool:
    hidden = any(_contains([c.old, c.new], UNKNOWN) for c in cluster.changes)
    return bool(
        cluster.downtime or cluster.op in ("replace", None) or cluster.diagnostics or cluster.explanation or hidden
    )


def _details(cluster: ClusterPlan) -> list[str]:
    marks = _markers(cluster)
    title = f"#### {marks + ' ' if marks else ''}{_code(cluster.name)}: {_plan_text(cluster).replace('**', '')}"
    lines = [title, ""]
    if cluster.explanation:
        lead = "**Downtime.** " if cluster.downtime else ""
        lines += [lead + cluster.explanation, ""]
    for change in cluster.changes:
        forced = " *(forces replacement)*" if change.forces_replacement else ""
        lines.append(f"- {_code(change.path)}: {_md_value(change.old)} → {_md_value(change.new)}{forced}")
    extra = [r for r in cluster.replace_reasons if not any(_overlaps(c.path, r) for c in cluster.changes)]
    if extra:
        lines.append(f"- forces replacement: {_fields(extra)}")
    for diag in cluster.diagnostics:
        lines.append(f"- {_severity_text(diag)}: {_text(diag.message)}")
    return lines[:-1] if lines[-1] == "" else lines


def _severity_text(diag: Diagnostic) -> str:
    return "❌ **error**" if diag.severity == "error" else f"⚠️ {diag.severity}"


def _md_value(value: Any, *, short: bool = False) -> str:
    if value is None:
        return "*unset*"
    if value == UNKNOWN:
        return "*unknown until `up`*" if short else "*unknown until `pulumi up` (output of another resource)*"
    if isinstance(value, Hidden):
        return _code(str(value))
    text = value if isinstance(value, str) else json.dumps(_jsonable(value), separators=(",", ":"))
    if len(text) > _MAX_VALUE_CHARS:
        text = text[: _MAX_VALUE_CHARS - 1] + "…"
    note = " *(parts unknown until `pulumi up`)*" if _contains(value, UNKNOWN) else ""
    return _code(text) + note


def _code(text: str) -> str:
    """An inline code span that survives backticks in the text."""
    fence = "`"
    while fence in text:
        fence += "`"
    text = " ".join(text.splitlines())  # a line break would end a table row
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _text(text: str) -> str:
    """Plain text from the digest, escaped so that it cannot open HTML, links or emphasis in the comment."""
    return re.sub(r"([\\`*_\[\]<>|#~&!])", r"\\\1", text)


# -- JSON -----------------------------------------------------------------------------------------------------------


def render_json(summary: PlanSummary) -> str:
    """The same facts as `render_markdown`, for machines; the keys are documented in the module docstring."""
    doc = {
        "version": 1,
        "stack": summary.stack,
        "downtime": bool(summary.down),
        "clusters": [_cluster_json(c) for c in summary.clusters],
        "otherErrors": summary.other_errors,
        "otherPreflight": [_diagnostic_json(d) for d in summary.other_preflight],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _cluster_json(cluster: ClusterPlan) -> dict[str, Any]:
    return {
        "name": cluster.name,
        "urn": cluster.urn,
        "type": cluster.type,
        "op": cluster.op,
        "steps": list(cluster.steps),
        "clusterId": _jsonable(cluster.cluster_id),
        "oldName": _name_json(cluster.old_name),
        "newName": _name_json(cluster.new_name),
        "downtime": cluster.downtime,
        "replacement": cluster.replacement,
        "explanation": cluster.explanation,
        "changes": [
            {
                "path": c.path,
                "kind": c.kind,
                "forcesReplacement": c.forces_replacement,
                "old": _jsonable(c.old),
                "new": _jsonable(c.new),
            }
            for c in cluster.changes
        ],
        "replaceReasons": list(cluster.replace_reasons),
        "diagnostics": [_diagnostic_json(d) for d in cluster.diagnostics],
    }


def _name_json(name: ClusterName | None) -> str | None:
    if name is None or name.account is None or name.cluster is None:
        return None
    return f"accounts/{_jsonable(name.account)}/clusters/{_jsonable(name.cluster)}"


def _diagnostic_json(diag: Diagnostic) -> dict[str, str]:
    return {"severity": diag.severity, "message": diag.message}
