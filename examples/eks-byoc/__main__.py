"""A new EKS cluster for Fireworks BYOC, end to end: a small VPC, the EKS cluster and a system node group,
the AWS access Fireworks needs (FireworksAwsAccess), and the Fireworks cluster registered on top.

Config (all optional): clusterName, clusterId, displayName, kubernetesVersion, systemInstanceType, vpcCidr.
Fireworks settings come from `fireworks:apiKey` (secret) and `fireworks:accountId`, or FIREWORKS_API_KEY and
FIREWORKS_ACCOUNT_ID.
"""

import ipaddress
import json

import pulumi
import pulumi_aws as aws

from pulumi_fwcluster import Cluster, ClusterArgs
from pulumi_fwcluster.aws import MANAGED_TAGS, FireworksAwsAccess, FireworksAwsAccessArgs


def _subnet(cidr: str, index: int) -> str:
    """The index-th /20 of the VPC's range."""
    return str(list(ipaddress.ip_network(cidr).subnets(new_prefix=20))[index])


def _trust(service: str) -> str:
    """A trust policy letting an AWS service assume the role."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
        }
    )


config = pulumi.Config()
cluster_name = config.get("clusterName") or "fireworks-byoc"
cluster_id = config.get("clusterId") or "byoc"
display_name = config.get("displayName") or "BYOC cluster"
kubernetes_version = config.get("kubernetesVersion") or "1.31"
instance_type = config.get("systemInstanceType") or "m6i.xlarge"
vpc_cidr = config.get("vpcCidr") or "10.42.0.0/16"

# fireworks.ai:managed=true: Fireworks' manager role may only act on resources carrying it.
tags = {**MANAGED_TAGS, "fireworks.ai/cluster": cluster_name}

# --- network: one VPC, two public subnets in two AZs, an internet gateway, one route table ------------------------
zones = aws.get_availability_zones(state="available").names[:2]
vpc = aws.ec2.Vpc("vpc", cidr_block=vpc_cidr, enable_dns_hostnames=True, enable_dns_support=True, tags=tags)
gateway = aws.ec2.InternetGateway("igw", vpc_id=vpc.id, tags=tags)
routes = aws.ec2.RouteTable(
    "public",
    vpc_id=vpc.id,
    routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=gateway.id)],
    tags=tags,
)
subnets = []
for i, zone in enumerate(zones):
    subnet = aws.ec2.Subnet(
        f"public-{i}",
        vpc_id=vpc.id,
        availability_zone=zone,
        cidr_block=_subnet(vpc_cidr, i),
        map_public_ip_on_launch=True,
        tags={**tags, "kubernetes.io/role/elb": "1"},
    )
    aws.ec2.RouteTableAssociation(f"public-{i}", subnet_id=subnet.id, route_table_id=routes.id)
    subnets.append(subnet)


# --- EKS: cluster role, cluster, node role, system node group ----------------------------------------------------

cluster_role = aws.iam.Role("eks-cluster-role", assume_role_policy=_trust("eks.amazonaws.com"), tags=tags)
cluster_policy = aws.iam.RolePolicyAttachment(
    "eks-cluster-policy",
    role=cluster_role.name,
    policy_arn="arn:aws:iam::aws:policy/AmazonEKSClusterPolicy",
)
eks = aws.eks.Cluster(
    "eks",
    name=cluster_name,
    version=kubernetes_version,
    role_arn=cluster_role.arn,
    vpc_config=aws.eks.ClusterVpcConfigArgs(subnet_ids=[s.id for s in subnets]),
    access_config=aws.eks.ClusterAccessConfigArgs(authentication_mode="API_AND_CONFIG_MAP"),
    tags=tags,
    opts=pulumi.ResourceOptions(depends_on=[cluster_policy]),
)

node_role = aws.iam.Role("system-node-role", assume_role_policy=_trust("ec2.amazonaws.com"), tags=tags)
node_policies = [
    aws.iam.RolePolicyAttachment(
        f"system-node-{name}", role=node_role.name, policy_arn=f"arn:aws:iam::aws:policy/{name}"
    )
    for name in ("AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly")
]
system_nodes = aws.eks.NodeGroup(
    "system",
    cluster_name=eks.name,
    node_role_arn=node_role.arn,
    subnet_ids=[s.id for s in subnets],
    instance_types=[instance_type],
    scaling_config=aws.eks.NodeGroupScalingConfigArgs(desired_size=2, min_size=1, max_size=3),
    labels={"fireworks.ai/pool": "system"},
    tags=tags,
    opts=pulumi.ResourceOptions(depends_on=node_policies),
)

# --- Fireworks: the AWS access it needs, then the cluster itself -------------------------------------------------
access = FireworksAwsAccess("fireworks", FireworksAwsAccessArgs(cluster=eks))
cluster = Cluster(
    "byoc",
    ClusterArgs(cluster_id=cluster_id, display_name=display_name, eks_cluster=access.eks_cluster_args),
    opts=pulumi.ResourceOptions(depends_on=[system_nodes]),
)

pulumi.export("name", cluster.name)
pulumi.export("state", cluster.state)
# The eksCluster object Fireworks was given; CI runs `fwcluster preflight --file` on it (examples/ci).
pulumi.export("eksCluster", access.eks_cluster_spec)
pulumi.export("eksClusterName", eks.name)
pulumi.export("bucket", access.bucket_name)
pulumi.export("inferenceRole", access.inference_role_arn)
