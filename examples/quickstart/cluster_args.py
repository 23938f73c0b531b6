"""Stack config → ClusterArgs. Kept apart from __main__.py so `make demo` builds exactly the same arguments."""

from __future__ import annotations

from collections.abc import Callable

from pulumi_fwcluster import ClusterArgs, EksClusterArgs


def cluster_args(get: Callable[[str], str | None]) -> ClusterArgs:
    """`get` reads one config key of this project, as `pulumi.Config().get` does."""

    def need(key: str) -> str:
        value = get(key)
        if not value:
            raise ValueError(f"missing required configuration value {key!r}: pulumi config set {key} <value>")
        return value

    return ClusterArgs(
        cluster_id=need("clusterId"),
        display_name=get("displayName") or None,
        eks_cluster=EksClusterArgs(
            aws_account_id=need("awsAccountId"),
            region=need("region"),
            cluster_name=need("eksClusterName"),
            storage_bucket_name=need("bucket"),
            fireworks_manager_role=get("managerRole") or None,
            inference_role=need("inferenceRole"),
            metric_writer_role=get("metricWriterRole") or None,
            load_balancer_controller_role=get("loadBalancerControllerRole") or None,
        ),
    )
