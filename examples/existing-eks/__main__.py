"""Fireworks BYOC on an EKS cluster that already exists (made by eksctl, Terraform, the console...).

The cluster is looked up by name; FireworksAwsAccess adds the roles, OIDC provider and bucket Fireworks needs,
and the Fireworks cluster is registered on top. Nothing about the EKS cluster itself is changed, so tag it
`fireworks.ai:managed=true` yourself: Fireworks' manager role may only act on resources carrying that tag.

Config: eksClusterName (required); clusterId, displayName; and, to reuse what exists: oidcProviderArn (e.g. made
by `eksctl utils associate-iam-oidc-provider`), managerRoleArn (the account's FireworksManagerRole, when another
cluster already created it), bucketName; enableMetrics, enableLoadBalancerController (default true).
"""

import pulumi
import pulumi_aws as aws

from pulumi_fwcluster import Cluster, ClusterArgs
from pulumi_fwcluster.aws import MANAGED_TAG_KEY, FireworksAwsAccess, FireworksAwsAccessArgs

config = pulumi.Config()
eks_name = config.require("eksClusterName")
cluster_id = config.get("clusterId") or "byoc"

existing = aws.eks.get_cluster(name=eks_name)
if (existing.tags or {}).get(MANAGED_TAG_KEY) != "true":
    pulumi.log.warn(
        f"EKS cluster {eks_name} is not tagged {MANAGED_TAG_KEY}=true; Fireworks' manager role cannot act on it "
        f"until it is: aws eks tag-resource --resource-arn {existing.arn} --tags {MANAGED_TAG_KEY}=true"
    )
_, partition, _, region, account, _ = existing.arn.split(":", 5)

access = FireworksAwsAccess(
    "fireworks",
    FireworksAwsAccessArgs(
        cluster_name=existing.name,
        oidc_issuer=existing.identities[0].oidcs[0].issuer,
        aws_account_id=account,
        region=region,
        oidc_provider_arn=config.get("oidcProviderArn"),
        manager_role_arn=config.get("managerRoleArn"),
        bucket_name=config.get("bucketName"),
        enable_metrics=config.get_bool("enableMetrics", True),
        enable_load_balancer_controller=config.get_bool("enableLoadBalancerController", True),
    ),
)
cluster = Cluster(
    "byoc",
    ClusterArgs(
        cluster_id=cluster_id,
        display_name=config.get("displayName") or f"BYOC on {eks_name}",
        eks_cluster=access.eks_cluster_args,
    ),
)

pulumi.export("name", cluster.name)
pulumi.export("state", cluster.state)
# The eksCluster object Fireworks was given; CI runs `fwcluster preflight --file` on it (examples/ci).
pulumi.export("eksCluster", access.eks_cluster_spec)
pulumi.export("inferenceRole", access.inference_role_arn)
pulumi.export("bucket", access.bucket_name)
