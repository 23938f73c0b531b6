"""`Cluster` through the native provider plugin: the same arguments and output attributes as the dynamic door's,
with the plugin's type token, so moving a program between the doors changes only its import line."""

from __future__ import annotations

import pulumi

from ..resource import ClusterArgs, ClusterOutputs, resource_props
from ..spec import NATIVE_TYPE


class Cluster(ClusterOutputs, pulumi.CustomResource):
    """A Fireworks BYOC cluster, managed by the `fireworks` provider plugin (`pulumi-resource-fireworks`).

    The id is the cluster's full name, `accounts/{account}/clusters/{clusterId}`. Unlike the dynamic door, this one
    supports `pulumi import`, `import_=`, `custom_timeouts`, secrets and detailed diffs."""

    def __init__(
        self, resource_name: str, args: ClusterArgs | None, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(NATIVE_TYPE, resource_name, resource_props(args), opts)

    @staticmethod
    def get(resource_name: str, id: pulumi.Input[str], opts: pulumi.ResourceOptions | None = None) -> Cluster:
        """Read an existing cluster (by its full name) without managing it."""
        return Cluster(resource_name, None, pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(id=id)))
