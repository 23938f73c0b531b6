"""The cluster's fields in one table, and the rules it drives: normalisation, validation, diff, adoption matching.

Every input property is a row: its wire path (the API's camelCase name), its type, whether a change updates in
place or replaces, where it travels to Fireworks (in the URL, in the JSON body, or nowhere: a setting of this
provider), the offline rule its value must pass, whether the API fills it in when it is left empty, its
`fwcluster preflight` flag and its documentation. The resource arguments, the native provider's schema, the CLI
flags and the preflight's field list derive from this table or are tested against it.

Nothing here does I/O or knows about Pulumi's engine. Values still unknown during a preview are represented by any
object for which `is_unknown` is true; they are kept, never validated or compared.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from . import rules
from .partitions import partition_or_default

DYNAMIC_TYPE = "pulumi-python:dynamic/fireworks:Cluster"
"""The type token of `pulumi_fwcluster.Cluster`, the dynamic door (`module="fireworks"`, `name="Cluster"`)."""
NATIVE_TYPE = "fireworks:index:Cluster"
"""The type token of the native provider plugin's Cluster."""
CLUSTER_TYPES = frozenset({DYNAMIC_TYPE, NATIVE_TYPE})

Kind = Literal["string", "boolean"]
OnChange = Literal["update", "replace"]
# Where a value reaches Fireworks: in the request path, in the JSON body, or never (it steers this provider).
Wire = Literal["path", "body", "none"]
# A rule gets the value and the object holding it (so a role can be checked against awsAccountId).
Rule = Callable[[str, Mapping[str, Any]], "str | None"]
IsUnknown = Callable[[Any], bool]


@dataclass(frozen=True)
class Filled:
    """The API fills this field in when it is left empty. `default` computes the value it uses from the other
    fields of the same object when that value is documented; None means the API assigns one we cannot predict."""

    default: Callable[[Mapping[str, Any]], str | None] | None = None
    depends_on: tuple[str, ...] = ()
    """The fields of the same object `default` reads: while one is unknown (a preview), so is the default."""


@dataclass(frozen=True)
class Field:
    path: str
    on_change: OnChange
    doc: str
    kind: Kind = "string"
    required: bool = False
    rule: Rule | None = None
    wire: Wire = "body"
    flag: str | None = None
    """The `fwcluster preflight` option for an eksCluster field (without the leading dashes)."""
    filled: Filled | None = None

    @property
    def top(self) -> str:
        return self.path.split(".", 1)[0]

    @property
    def key(self) -> str:
        return self.path.rsplit(".", 1)[-1]

    @property
    def nested(self) -> bool:
        return "." in self.path


@dataclass(frozen=True)
class Group:
    name: str
    doc: str


@dataclass(frozen=True)
class Output:
    """A property only the API (or this provider) knows: an output, never an input."""

    name: str
    doc: str
    kind: Literal["string", "status", "findings"] = "string"


def _plain(rule: Callable[[str], str | None]) -> Rule:
    return lambda value, _siblings: rule(value)


def _role(value: str, siblings: Mapping[str, Any]) -> str | None:
    account = siblings.get("awsAccountId")
    return rules.role_arn(value, account if isinstance(account, str) else None)


def default_manager_role(eks: Mapping[str, Any]) -> str | None:
    """The manager role ARN the API uses when eksCluster.fireworksManagerRole is empty."""
    account, region = eks.get("awsAccountId"), eks.get("region")
    if not isinstance(account, str) or not account or not isinstance(region, str):
        return None
    return rules.default_manager_role(partition_or_default(region), account)


GROUPS_TABLE: tuple[Group, ...] = (
    Group(
        "eksCluster",
        "The customer's AWS side: the EKS cluster, its S3 bucket and the IAM roles Fireworks uses. Every field "
        "forces a replacement (which fields the API lets you change after creation is undocumented).",
    ),
    Group("fakeCluster", "A test double inside Fireworks, instead of eksCluster."),
)
GROUPS = tuple(g.name for g in GROUPS_TABLE)  # exactly one must be given

FIELDS: tuple[Field, ...] = (
    # Not required here: the provider fills it in from stack config or env, and names those when all are empty.
    Field(
        "accountId",
        "replace",
        "The Fireworks account. Defaults to the `fireworks:accountId` stack config or FIREWORKS_ACCOUNT_ID.",
        rule=_plain(rules.resource_id),
        wire="path",
    ),
    Field(
        "clusterId",
        "replace",
        "The cluster's id: 1-63 characters of a-z, 0-9 and '-', starting with a letter. Changing it creates the new "
        "cluster first, then deletes the old one.",
        required=True,
        rule=_plain(rules.resource_id),
        wire="path",
    ),
    Field(
        "displayName",
        "update",
        "A human-readable name, fewer than 64 characters. Changed in place.",
        rule=_plain(rules.display_name),
    ),
    Field(
        "adoptExisting",
        "update",
        "Take over a cluster that already exists with this id and a matching spec, instead of refusing. Needed "
        "only when the existing cluster was not created by this resource (another stack, or made by hand).",
        kind="boolean",
        wire="none",
    ),
    Field(
        "eksCluster.awsAccountId",
        "replace",
        "The 12-digit AWS account that holds the EKS cluster.",
        required=True,
        rule=_plain(rules.aws_account_id),
        flag="account",
    ),
    Field(
        "eksCluster.region",
        "replace",
        "The AWS region of the EKS cluster, e.g. us-east-1.",
        required=True,
        rule=_plain(rules.region),
        flag="region",
    ),
    Field("eksCluster.clusterName", "replace", "The EKS cluster's name.", flag="cluster-name"),
    Field(
        "eksCluster.storageBucketName",
        "replace",
        "The S3 bucket (its name, not an ARN) Fireworks stores models in, in the cluster's region.",
        rule=_plain(rules.bucket_name),
        flag="bucket",
    ),
    Field(
        "eksCluster.fireworksManagerRole",
        "replace",
        "The role Fireworks' control plane assumes. Empty means arn:aws:iam::<awsAccountId>:role/FireworksManagerRole.",
        rule=_role,
        flag="manager-role",
        filled=Filled(default_manager_role, depends_on=("awsAccountId", "region")),
    ),
    Field(
        "eksCluster.metricWriterRole",
        "replace",
        "The role that writes metrics (IRSA). Empty means no metrics are written.",
        rule=_role,
        flag="metric-writer-role",
    ),
    Field(
        "eksCluster.loadBalancerControllerRole",
        "replace",
        "The AWS load balancer controller's role (IRSA). Empty means no gateway is created.",
        rule=_role,
        flag="load-balancer-controller-role",
    ),
    Field(
        "eksCluster.inferenceRole",
        "replace",
        "The role inference pods use to read the bucket (IRSA).",
        rule=_role,
        flag="inference-role",
    ),
    Field(
        "eksCluster.workloadIdentityPoolProviderId",
        "replace",
        "A workload identity pool provider in Fireworks' own GCP project (4-32 of a-z, 0-9 and '-'; 'gcp-' is "
        "reserved). Fireworks may assign one when it is left empty.",
        rule=_plain(rules.workload_identity_pool_provider_id),
        flag="workload-identity-pool-provider-id",
        filled=Filled(),
    ),
    Field("fakeCluster.projectId", "replace", "The test double's project."),
    Field("fakeCluster.location", "replace", "The test double's location."),
    Field("fakeCluster.clusterName", "replace", "The test double's cluster name."),
)

OUTPUTS: tuple[Output, ...] = (
    Output("name", "The cluster's full name, accounts/{accountId}/clusters/{clusterId}; also the resource id."),
    Output("state", "STATE_UNSPECIFIED, CREATING, READY, DELETING or FAILED."),
    Output("status", "The cluster's status: a gRPC code name (`code`) and a message (`message`).", "status"),
    Output("createTime", "When the cluster was created (RFC 3339)."),
    Output("updateTime", "When the cluster was last updated (RFC 3339)."),
    Output(
        "endpoint",
        "The Fireworks API base URL the cluster was managed through. Refresh and delete refuse to call the "
        "cluster gone through any other.",
    ),
    Output(
        "awsFindings",
        "What the AWS checks found wrong at the last refresh (a trust policy edited by hand, a deleted OIDC "
        "provider...): `{property, reason}` pairs, sorted. Absent when the checks did not run (preflight off, or no "
        "AWS credentials).",
        "findings",
    ),
)
OUTPUT_ONLY = tuple(o.name for o in OUTPUTS)

BY_PATH = {f.path: f for f in FIELDS}
TOP_LEVEL = tuple(dict.fromkeys(f.top for f in FIELDS))
GROUP_KEYS = {g: tuple(f.key for f in FIELDS if f.top == g) for g in GROUPS}
SCALARS = tuple(f for f in FIELDS if not f.nested)


def snake_case(camel: str) -> str:
    """`storageBucketName` → `storage_bucket_name`: the Python name of a wire name."""
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in camel)


def group_fields(group: str) -> tuple[Field, ...]:
    return tuple(f for f in FIELDS if f.top == group)


@dataclass(frozen=True)
class Failure:
    path: str
    reason: str


def _never_unknown(_value: Any) -> bool:
    return False


# -- normalise and validate ----------------------------------------------------------------------------------


def normalize(props: Mapping[str, Any], is_unknown: IsUnknown = _never_unknown) -> tuple[dict[str, Any], list[Failure]]:
    """Checked inputs: known keys only, empty optional values (`""`, false) dropped, types and rules enforced.

    Returns the normalised inputs and every failure found, each with its property path."""
    failures: list[Failure] = []
    out: dict[str, Any] = {}
    for key, value in props.items():
        if key.startswith("__") or key in OUTPUT_ONLY:
            continue  # the engine's own keys, and outputs echoed back
        if key not in TOP_LEVEL:
            failures.append(Failure(key, f"unknown property; expected one of {', '.join(TOP_LEVEL)}"))
            continue
        if key in GROUPS:
            group = _normalize_group(key, value, is_unknown, failures)
            if group is not None:
                out[key] = group
            continue
        scalar = _normalize_scalar(BY_PATH[key], value, is_unknown, failures)
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
        scalar = _normalize_scalar(BY_PATH[path], sub_value, is_unknown, failures)
        if scalar is not None:
            group[sub] = scalar
    return group


def _normalize_scalar(f: Field, value: Any, is_unknown: IsUnknown, failures: list[Failure]) -> Any:
    if value is None or is_unknown(value):
        return value
    expected = bool if f.kind == "boolean" else str
    if not isinstance(value, expected):
        failures.append(Failure(f.path, f"must be a {f.kind}, not {type(value).__name__}"))
        return None
    return value or None  # an empty optional value means "not set", so state stays the same either way


def _validate(props: Mapping[str, Any], is_unknown: IsUnknown) -> list[Failure]:
    failures: list[Failure] = []
    given = [g for g in GROUPS if props.get(g) is not None]
    if not given:
        failures.append(Failure("eksCluster", "one of eksCluster or fakeCluster is required"))
    elif len(given) > 1:
        failures.append(Failure("fakeCluster", "give either eksCluster or fakeCluster, not both"))
    for f in FIELDS:
        container = props.get(f.top) if f.nested else props
        if container is None or is_unknown(container):
            continue
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


# -- diff -----------------------------------------------------------------------------------------------------

ChangeKind = Literal["add", "delete", "update"]


@dataclass(frozen=True)
class Change:
    """One changed property, by its exact path (`eksCluster.inferenceRole`), and whether it forces a replacement."""

    path: str
    kind: ChangeKind
    replace: bool


@dataclass(frozen=True)
class ChangePlan:
    """What a diff found: every changed path and what it does, and the order of a replacement."""

    changes: tuple[Change, ...] = ()
    renamed: bool = False
    """The cluster's name (accountId or clusterId) is known to change, so a replacement can create first."""

    @property
    def any(self) -> bool:
        return bool(self.changes)

    @property
    def changed(self) -> tuple[str, ...]:
        return tuple(c.path for c in self.changes)

    @property
    def replaces(self) -> tuple[str, ...]:
        return tuple(c.path for c in self.changes if c.replace)

    @property
    def delete_before_replace(self) -> bool:
        # Fireworks cannot hold two clusters with one name, so unless the name changes the old one goes first.
        return bool(self.replaces) and not self.renamed

    def plus(self, *extra: Change) -> ChangePlan:
        return replace(self, changes=self.changes + extra)

    def describe(self) -> str:
        return ", ".join(f"{c.path} ({'replace' if c.replace else 'in place'})" for c in self.changes)


def get_path(props: Mapping[str, Any], path: str) -> Any:
    top, _, sub = path.partition(".")
    value = props.get(top)
    if not sub:
        return value
    return value.get(sub) if isinstance(value, Mapping) else None


def _effective(f: Field, container: Any) -> Any:
    """The value a field has in effect: as given, else the documented value the API fills in."""
    if not isinstance(container, Mapping):
        return None
    value = container.get(f.key) or None
    if value is None and f.filled is not None and f.filled.default is not None:
        return f.filled.default(container)
    return value


def _kind(old: Any, new: Any) -> ChangeKind:
    if old is None:
        return "add"
    return "delete" if new is None else "update"


def diff(olds: Mapping[str, Any], news: Mapping[str, Any], is_unknown: IsUnknown = _never_unknown) -> ChangePlan:
    """Compare desired (checked) inputs with the old outputs, field by field, naming exact paths.

    An unknown value is a change of its field. A group given or dropped as a whole is one change of the group."""
    changes: list[Change] = []
    for f in SCALARS:
        new, old = news.get(f.path), olds.get(f.path)
        if is_unknown(new):
            changes.append(Change(f.path, _kind(old or None, new), f.on_change == "replace"))
        elif (new or None) != (old or None):
            changes.append(Change(f.path, _kind(old or None, new or None), f.on_change == "replace"))
    for group in GROUPS:
        new_group, old_group = news.get(group), olds.get(group)
        if is_unknown(new_group):
            changes.append(Change(group, _kind(old_group or None, new_group), True))
            continue
        if not new_group and not old_group:
            continue
        if not new_group or not old_group:
            changes.append(Change(group, _kind(old_group or None, new_group or None), True))
            continue
        for f in group_fields(group):
            new = new_group.get(f.key)
            if is_unknown(new):
                changes.append(Change(f.path, _kind(_effective(f, old_group), new), f.on_change == "replace"))
                continue
            if new is None and f.filled is not None and any(is_unknown(new_group.get(k)) for k in f.filled.depends_on):
                continue  # a default computed from values not known yet: no change of its own to name
            before, after = _effective(f, old_group), _effective(f, new_group)
            if before != after:
                kind = _kind(before, after)
                if kind == "delete" and is_assigned(f):
                    # Left to Fireworks again (optional and computed, as Terraform says): whatever it holds will do.
                    continue
                # Writing down a value Fireworks assigned is no new cluster: the update checks it is the same one.
                replace = f.on_change == "replace" and not (kind == "add" and is_assigned(f))
                changes.append(Change(f.path, kind, replace))
    # An unknown new name may well be the old one, and creating first would then collide: delete first.
    renamed = any(not is_unknown(news.get(k)) and news.get(k) != olds.get(k) for k in ("accountId", "clusterId"))
    return ChangePlan(tuple(changes), renamed)


def is_assigned(f: Field) -> bool:
    """Fireworks assigns this field a value of its own when it is left empty."""
    return f.filled is not None and f.filled.default is None


def is_assigned_add(change: Change) -> bool:
    """The program now states a field Fireworks assigned: an update checks the value, nothing is sent."""
    f = BY_PATH.get(change.path)
    return f is not None and is_assigned(f) and change.kind == "add" and not change.replace


def patch_body(plan: ChangePlan, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """The PATCH body for the in-place changes Fireworks must hear about (`""` clears a field)."""
    body: dict[str, Any] = {}
    for c in plan.changes:
        f = BY_PATH.get(c.path)
        if f is None or c.replace or f.wire != "body" or is_assigned_add(c):
            continue
        if f.nested:  # no nested field updates in place today; a PATCH would have to carry its whole group
            raise ValueError(f"{f.path} cannot be patched on its own")
        body[f.path] = inputs.get(f.path) or ""
    return body


# -- the live cluster against the program ---------------------------------------------------------------------


def request_body(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """The Cluster object a create sends: the fields that travel in the body, unset ones left out."""
    body: dict[str, Any] = {}
    for f in SCALARS:
        if f.wire == "body" and inputs.get(f.path):
            body[f.path] = inputs[f.path]
    for group in GROUPS:
        if inputs.get(group):
            body[group] = dict(inputs[group])
    return body


def mismatches(desired: Mapping[str, Any], live: Mapping[str, Any]) -> list[str]:
    """The spec fields (everything that replaces, but the name) on which an existing cluster differs from the
    desired inputs. A field the program leaves empty and the API fills in is not a difference."""
    out: list[str] = []
    for group in GROUPS:
        want_group, have_group = desired.get(group) or {}, live.get(group) or {}
        if bool(want_group) != bool(have_group):
            out.append(group)
            continue
        for f in group_fields(group):
            want, have = _effective(f, want_group), _effective(f, have_group)
            if want is None and is_assigned(f):
                continue  # assigned by the API when left empty
            if want != have:
                out.append(f.path)
    return out


def inputs_from_live(live: Mapping[str, Any], declared: Mapping[str, Any] | None) -> dict[str, Any]:
    """The inputs that describe a live cluster, for a refresh (`declared` = the inputs on record) or an import or
    get (`declared` = None).

    A refresh keeps what the program declared, with the live values, so a change made out of band shows up as drift;
    it leaves out a value the API filled in that the program never declared, so it never turns into a change. An
    import has no declaration: it keeps every live value except what the API fills in itself (the documented default,
    or a value it assigns), so a program that leaves those out imports with no change."""
    inputs: dict[str, Any] = {k: live[k] for k in ("accountId", "clusterId", "displayName") if live.get(k)}
    for f in SCALARS:
        if f.wire == "none" and declared and declared.get(f.path):
            inputs[f.path] = declared[f.path]  # Fireworks knows nothing of it: keep the program's setting
    for group in GROUPS:
        have = live.get(group)
        if not have:
            continue
        declared_group = (declared or {}).get(group)
        kept: dict[str, Any] = {}
        for f in group_fields(group):
            value = have.get(f.key)
            if not value:
                continue
            if f.filled is not None:
                if declared is not None and not (isinstance(declared_group, Mapping) and declared_group.get(f.key)):
                    continue
                if declared is None and (f.filled.default is None or value == f.filled.default(have)):
                    continue
            kept[f.key] = value
        inputs[group] = kept
    normalized, _ = normalize(inputs)
    return normalized
