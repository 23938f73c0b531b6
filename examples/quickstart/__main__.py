"""The smallest useful program: register an existing EKS cluster with Fireworks and wait until it is READY."""

import pulumi
from cluster_args import cluster_args

from pulumi_fwcluster import Cluster

cluster = Cluster("byoc", cluster_args(pulumi.Config().get))

pulumi.export("name", cluster.name)
pulumi.export("state", cluster.state)
