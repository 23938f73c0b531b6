"""The `fireworks` package schema, derived from the same field table and settings table the code runs on.

GetSchema returns it; `pulumi package add` generates every language's SDK from it. Nothing here is written twice:
each input property is a row of `spec.FIELDS`, each output a row of `spec.OUTPUTS`, each provider setting a row of
`settings.SETTINGS` in the `fireworks:` namespace.
"""

from __future__ import annotations

from typing import Any

from .. import spec
from ..settings import SETTINGS, Setting

PACKAGE = "fireworks"
CLUSTER_TOKEN = spec.NATIVE_TYPE
GROUP_TYPES = {"eksCluster": f"{PACKAGE}:index:EksCluster", "fakeCluster": f"{PACKAGE}:index:FakeCluster"}
STATUS_TYPE = f"{PACKAGE}:index:ClusterStatus"
FINDING_TYPE = f"{PACKAGE}:index:AwsFinding"


def _field_property(f: spec.Field) -> dict[str, Any]:
    prop: dict[str, Any] = {"type": f.kind, "description": f.doc}
    if f.on_change == "replace":
        prop["willReplaceOnChanges"] = True
        # Generated SDKs turn replaceOnChanges into the resource option, which replaces on *any* diff of the path.
        # A value Fireworks assigns changes in place when the program writes it down, so it only documents.
        if not spec.is_assigned(f):
            prop["replaceOnChanges"] = True
    return prop


def _group_type(group: spec.Group) -> dict[str, Any]:
    fields = spec.group_fields(group.name)
    return {
        "type": "object",
        "description": group.doc,
        "properties": {f.key: _field_property(f) for f in fields},
        "required": [f.key for f in fields if f.required],
    }


def _input_properties() -> dict[str, Any]:
    props: dict[str, Any] = {}
    for f in spec.SCALARS:
        props[f.path] = _field_property(f)
    for group in spec.GROUPS_TABLE:
        # Not replaceOnChanges as a whole: its fields say which of them replace (nested paths in the SDKs' option).
        props[group.name] = {
            "$ref": f"#/types/{GROUP_TYPES[group.name]}",
            "description": group.doc,
            "willReplaceOnChanges": True,
        }
    return props


def _output_properties() -> dict[str, Any]:
    shapes: dict[str, dict[str, Any]] = {
        "string": {"type": "string"},
        "status": {"$ref": f"#/types/{STATUS_TYPE}"},
        "findings": {"type": "array", "items": {"$ref": f"#/types/{FINDING_TYPE}"}},
    }
    return {o.name: {**shapes[o.kind], "description": o.doc} for o in spec.OUTPUTS}


def _setting_property(s: Setting) -> dict[str, Any]:
    prop: dict[str, Any] = {"type": "integer" if s.attr == "max_retries" else "string", "description": s.doc}
    if s.env:
        prop["description"] += f" Falls back to the environment variable {s.env}."
        prop["defaultInfo"] = {"environment": [s.env]}
    if s.attr == "api_key":
        prop["secret"] = True
    return prop


def config_keys() -> dict[str, Setting]:
    """Provider config key (without the `fireworks:` namespace) → its setting."""
    prefix = f"{PACKAGE}:"
    return {s.config_key[len(prefix) :]: s for s in SETTINGS if s.config_key and s.config_key.startswith(prefix)}


def package_schema(version: str) -> dict[str, Any]:
    inputs = _input_properties()
    config = {key: _setting_property(s) for key, s in config_keys().items()}
    return {
        "name": PACKAGE,
        "displayName": "Fireworks AI BYOC clusters",
        "version": version,
        "description": "Register the EKS clusters of a Fireworks AI bring-your-own-cloud deployment with Fireworks, "
        "after an AWS preflight of the cluster, bucket and roles.",
        "keywords": ["pulumi", "fireworks", "byoc", "eks", "category/cloud", "kind/native"],
        "license": "Apache-2.0",
        "publisher": "pulumi-fwcluster",
        "config": {"variables": config},
        "provider": {
            "description": "The provider for Fireworks clusters. Every setting falls back to its environment "
            "variable, then to its default.",
            "inputProperties": config,
        },
        "types": {
            **{GROUP_TYPES[g.name]: _group_type(g) for g in spec.GROUPS_TABLE},
            STATUS_TYPE: {
                "type": "object",
                "description": "A cluster's status.",
                "properties": {
                    "code": {"type": "string", "description": "A gRPC code name, such as OK or INVALID_ARGUMENT."},
                    "message": {"type": "string", "description": "What the code means for this cluster."},
                },
                "required": ["code", "message"],
            },
            FINDING_TYPE: {
                "type": "object",
                "description": "One thing the AWS checks found wrong with the cluster's AWS side.",
                "properties": {
                    "property": {
                        "type": "string",
                        "description": "The eksCluster field, e.g. eksCluster.inferenceRole.",
                    },
                    "reason": {"type": "string", "description": "What is wrong, and how to fix it."},
                },
                "required": ["property", "reason"],
            },
        },
        "resources": {
            CLUSTER_TOKEN: {
                "description": "A Fireworks BYOC cluster: registered on create, waited on until READY, deleted on "
                "destroy. Its id is the cluster's full name, `accounts/{accountId}/clusters/{clusterId}`.",
                "properties": {**inputs, **_output_properties()},
                "required": ["accountId", "clusterId", *(o.name for o in spec.OUTPUTS if o.kind != "findings")],
                "inputProperties": inputs,
                "requiredInputs": [f.path for f in spec.SCALARS if f.required],
            }
        },
        "language": {
            "python": {"packageName": "pulumi_fireworks"},
            "nodejs": {"packageName": "@fwcluster/fireworks"},
        },
    }
