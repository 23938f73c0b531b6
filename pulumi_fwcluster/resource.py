"""The program side: argument dataclasses and the `Cluster` resource. Does no I/O.

Arguments are turned into the API's camelCase property names here; everything else (validation, defaults from
stack config, diffing) happens in the provider, where values are known.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import pulumi
from pulumi.dynamic import Resource

from . import spec
from .provider import ClusterProvider


def _camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(w.title() for w in rest)


def group_props(value: Any) -> Any:
    """A dataclass of Inputs → camelCase dict of Inputs; a Mapping is taken as already camelCase."""
    if value is None or isinstance(value, (Mapping, pulumi.Output)):
        return value
    return {_camel(f.name): getattr(value, f.name) for f in fields(value) if getattr(value, f.name) is not None}


@dataclass
class EksClusterArgs:
    """The customer's AWS side, as Fireworks' `eksCluster` object names it."""

    aws_account_id: pulumi.Input[str]
    region: pulumi.Input[str]
    cluster_name: pulumi.Input[str] | None = None
    storage_bucket_name: pulumi.Input[str] | None = None
    fireworks_manager_role: pulumi.Input[str] | None = None
    metric_writer_role: pulumi.Input[str] | None = None
    load_balancer_controller_role: pulumi.Input[str] | None = None
    inference_role: pulumi.Input[str] | None = None
    workload_identity_pool_provider_id: pulumi.Input[str] | None = None


@dataclass
class FakeClusterArgs:
    """A test double inside Fireworks."""

    project_id: pulumi.Input[str] | None = None
    location: pulumi.Input[str] | None = None
    cluster_name: pulumi.Input[str] | None = None


@dataclass
class ClusterArgs:
    cluster_id: pulumi.Input[str]
    display_name: pulumi.Input[str] | None = None
    eks_cluster: pulumi.Input[EksClusterArgs] | Mapping[str, Any] | None = None
    fake_cluster: pulumi.Input[FakeClusterArgs] | Mapping[str, Any] | None = None
    account_id: pulumi.Input[str] | None = None
    """None: taken from stack config `fireworks:accountId` or FIREWORKS_ACCOUNT_ID."""
    adopt_existing: pulumi.Input[bool] | None = None
    """Take over a cluster that already exists with this id and a matching spec. Without it, a create that meets
    an existing cluster it did not make refuses, so a renamed resource or a second stack never co-owns a cluster."""


# Every top-level property and output of the table, wire name → Python attribute name.
_OUTPUTS = {name: spec.snake_case(name) for name in (*spec.TOP_LEVEL, *spec.OUTPUT_ONLY)}
_TO_WIRE = {python: wire for wire, python in _OUTPUTS.items()}


class ClusterOutputs:
    """What both doors' `Cluster` share: the output attributes, and the translation between them and the API's
    camelCase property names."""

    account_id: pulumi.Output[str]
    cluster_id: pulumi.Output[str]
    display_name: pulumi.Output[str | None]
    adopt_existing: pulumi.Output[bool | None]
    eks_cluster: pulumi.Output[dict[str, Any] | None]
    fake_cluster: pulumi.Output[dict[str, Any] | None]
    name: pulumi.Output[str]
    state: pulumi.Output[str]
    status: pulumi.Output[dict[str, Any]]
    create_time: pulumi.Output[str]
    update_time: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    aws_findings: pulumi.Output[list[dict[str, str]] | None]

    def translate_input_property(self, prop: str) -> str:
        return _TO_WIRE.get(prop, prop)

    def translate_output_property(self, prop: str) -> str:
        return _OUTPUTS.get(prop, prop)


def resource_props(args: ClusterArgs | None) -> dict[str, Any]:
    """Every output attribute (so each is declared), with the arguments' values; keys are the Python names, which
    `ClusterOutputs.translate_input_property` maps to the API's."""
    props: dict[str, Any] = dict.fromkeys(_OUTPUTS.values())
    if args is not None:
        props.update({_OUTPUTS[key]: value for key, value in cluster_props(args).items()})
    return props


class Cluster(ClusterOutputs, Resource, module="fireworks", name="Cluster"):
    """A Fireworks BYOC cluster: registered on create, waited on until READY, deleted on destroy.

    The id is the cluster's full name, `accounts/{account}/clusters/{clusterId}`."""

    def __init__(
        self, resource_name: str, args: ClusterArgs | None, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(ClusterProvider(), resource_name, resource_props(args), opts)

    @staticmethod
    def get(resource_name: str, id: pulumi.Input[str], opts: pulumi.ResourceOptions | None = None) -> Cluster:
        """Read an existing cluster (by its full name) without managing it."""
        return Cluster(resource_name, None, pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(id=id)))


def cluster_props(args: ClusterArgs) -> dict[str, Any]:
    """The resource's input properties, camelCase as the API names them; unset arguments are left out."""
    props = {
        "accountId": args.account_id,
        "clusterId": args.cluster_id,
        "displayName": args.display_name,
        "adoptExisting": args.adopt_existing,
        "eksCluster": _group(args.eks_cluster),
        "fakeCluster": _group(args.fake_cluster),
    }
    return {k: v for k, v in props.items() if v is not None}


def _group(value: Any) -> Any:
    if isinstance(value, pulumi.Output):
        return value.apply(group_props)
    return group_props(value)
