"""`FireworksAwsAccess`: the AWS side of a Fireworks BYOC cluster, as a Pulumi component (extra `[aws]`).

    import pulumi_aws as aws
    from pulumi_fwcluster import Cluster, ClusterArgs
    from pulumi_fwcluster.aws import FireworksAwsAccess, FireworksAwsAccessArgs

    eks = aws.eks.Cluster("byoc", ...)
    access = FireworksAwsAccess("byoc", FireworksAwsAccessArgs(cluster=eks))
    Cluster("byoc", ClusterArgs(cluster_id="byoc", eks_cluster=access.eks_cluster_args))

It builds what Fireworks' Terraform module (registry `fw-ai-external/aws-cluster/fireworksai`) builds around an
EKS cluster, with the same names, trust policies and `fireworks.ai:managed=true` tags:

- the cluster's IAM OIDC provider (unless `oidc_provider_arn` is given);
- `FireworksManagerRole` (unless `manager_role_arn` is given): trusts Fireworks' control plane on GCP through
  Google federation, with a policy allowing `eks:*` and `ecr:*` only on resources tagged `fireworks.ai:managed=true`
  (plus `ecr:GetAuthorizationToken`, which has no resource to tag, as Fireworks' module does);
- per cluster, IRSA roles trusting exactly this cluster's OIDC provider and one service account each:
  `FireworksEKSLoadBalancerControllerRole-<cluster>` (optional), `FireworksMetricWriterRole-<cluster>`
  (optional) and `FireworksInferenceRole-<cluster>` (which may read the bucket); names are cut to IAM's 64 characters;
- the storage bucket (unless `bucket_name` is given): in the cluster's region, private, encrypted, versioned.

Everything flows as Outputs, so `pulumi preview` shows the whole plan before anything exists, and the Cluster that
consumes `eks_cluster_args` is created only after the roles, their policies and the bucket settings are in place.

Children are named `<component name>-<part>` and parented to the component, so renaming the component with
`aliases=[pulumi.Alias(name="<old name>")]` moves them instead of replacing them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

try:
    import pulumi_aws as aws
except ImportError as _exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "pulumi_fwcluster.aws needs the pulumi-aws package, which is an optional extra: "
        "pip install 'pulumi-fwcluster[aws]'"
    ) from _exc

from .byoc import (
    DEFAULT_MANAGER_ROLE_NAME,
    IRSA_SERVICE_ACCOUNTS,
    MANAGED_TAG_KEY,
    MANAGED_TAGS,
    POLICY_VERSION,
    STS_AUDIENCE,
    irsa_trust_policy,
    issuer_host,
    manager_trust_policy,
)
from .partitions import partition_or_default
from .resource import EksClusterArgs, group_props

__all__ = [
    "COMPONENT_TYPE",
    "IAM_NAME_MAX",
    "MANAGED_TAGS",
    "MANAGED_TAG_KEY",
    "FireworksAwsAccess",
    "FireworksAwsAccessArgs",
    "bucket_read_policy",
    "default_bucket_name",
    "irsa_trust_policy",
    "issuer_host",
    "manager_policy",
    "manager_trust_policy",
    "role_name",
]

COMPONENT_TYPE = "fireworks:aws:FireworksAwsAccess"
IAM_NAME_MAX = 64
MANAGER_POLICY_NAME = "FireworksClusterManagerPolicy"
INFERENCE_POLICY_NAME = "FireworksInferencePolicy"
ROLE_PREFIXES: dict[str, str] = {
    "loadBalancerControllerRole": "FireworksEKSLoadBalancerControllerRole",
    "metricWriterRole": "FireworksMetricWriterRole",
    "inferenceRole": "FireworksInferenceRole",
}


# ------------------------------------------------------------------------------------ pure helpers (no Pulumi)


def role_name(prefix: str, cluster_name: str) -> str:
    """Fireworks' per-cluster role name: `<prefix>-<cluster>`, cut to IAM's 64 characters."""
    return f"{prefix}-{cluster_name}"[:IAM_NAME_MAX]


def manager_policy() -> dict[str, Any]:
    """`eks:*` and `ecr:*` only on resources tagged fireworks.ai:managed=true. `ecr:GetAuthorizationToken` acts on
    no resource (so no tag condition can match it) and only yields a login token; Fireworks' module grants it too."""
    managed = {"StringEquals": {f"aws:ResourceTag/{MANAGED_TAG_KEY}": "true"}}
    return {
        "Version": POLICY_VERSION,
        "Statement": [
            {
                "Sid": "EksOnManagedResources",
                "Effect": "Allow",
                "Action": "eks:*",
                "Resource": "*",
                "Condition": managed,
            },
            {
                "Sid": "EcrOnManagedResources",
                "Effect": "Allow",
                "Action": "ecr:*",
                "Resource": "*",
                "Condition": managed,
            },
            {"Sid": "EcrLogin", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
        ],
    }


def bucket_read_policy(bucket_arn: str) -> dict[str, Any]:
    """The inference role's read access to the bucket and its objects."""
    return {
        "Version": POLICY_VERSION,
        "Statement": [
            {
                "Sid": "ReadFireworksBucket",
                "Effect": "Allow",
                "Action": ["s3:Get*", "s3:List*", "s3:Describe*"],
                "Resource": [bucket_arn, f"{bucket_arn}/*"],
            }
        ],
    }


def default_bucket_name(cluster_name: str, account: str, region: str) -> str:
    """`fireworks-<cluster>-<8 hex digits>`, at most 63 characters. The suffix is a hash of account, region and
    cluster, so it is stable across runs and differs between accounts (bucket names are global)."""
    suffix = hashlib.sha256(f"{account}/{region}/{cluster_name}".encode()).hexdigest()[:8]
    middle = cluster_name.lower().replace("_", "-")[: 63 - len("fireworks-") - len(f"-{suffix}")].strip("-")
    return f"fireworks-{middle}-{suffix}" if middle else f"fireworks-{suffix}"


def _dumps(document: Mapping[str, Any]) -> str:
    return json.dumps(document, sort_keys=False, separators=(",", ":"))


def _issuer_of(identities: Any) -> str:
    """The OIDC issuer out of an eks.Cluster's `identities` (output types, or plain dicts in some mocks)."""

    def first(value: Any, key: str) -> Any:
        items = getattr(value, key, None)
        if items is None and isinstance(value, Mapping):
            items = value.get(key)
        return items[0] if items else None

    oidc = first({"identities": identities}, "identities")
    oidc = first(oidc, "oidcs") if oidc is not None else None
    issuer = getattr(oidc, "issuer", None) if oidc is not None else None
    if issuer is None and isinstance(oidc, Mapping):
        issuer = oidc.get("issuer")
    if not issuer:
        raise ValueError("the EKS cluster reports no OIDC issuer (identities[0].oidcs[0].issuer)")
    return str(issuer)


# ------------------------------------------------------------------------------------------------- component


@dataclass
class FireworksAwsAccessArgs:
    """What `FireworksAwsAccess` needs. Give `cluster`, or `cluster_name` and `oidc_issuer`."""

    cluster: aws.eks.Cluster | None = None
    """An EKS cluster managed in this program; its name, issuer and region are read from it."""
    cluster_name: pulumi.Input[str] | None = None
    """The EKS cluster's name, when `cluster` is not given (e.g. from `aws.eks.get_cluster`)."""
    oidc_issuer: pulumi.Input[str] | None = None
    """The cluster's OIDC issuer URL (`https://oidc.eks.<region>.amazonaws.com/id/<ID>`), without `cluster`."""
    oidc_provider_arn: pulumi.Input[str] | None = None
    """The cluster's existing IAM OIDC provider; None creates one."""
    manager_role_arn: pulumi.Input[str] | None = None
    """An existing Fireworks manager role (it is per account: the second cluster of an account reuses the first's);
    None creates one named `manager_role_name`."""
    manager_role_name: str = DEFAULT_MANAGER_ROLE_NAME
    bucket_name: pulumi.Input[str] | None = None
    """An existing bucket in the cluster's region; None creates `fireworks-<cluster>-<hash>`."""
    enable_metrics: bool = True
    """Create the metric writer role (Fireworks writes no metrics without it)."""
    enable_load_balancer_controller: bool = True
    """Create the load balancer controller role (Fireworks creates no gateway without it)."""
    load_balancer_controller_policy_arns: Sequence[pulumi.Input[str]] = ()
    """Managed policies to attach to the load balancer controller role, e.g. one made from the AWS Load Balancer
    Controller's published iam_policy.json. Without one the role can be assumed but grants nothing."""
    aws_account_id: pulumi.Input[str] | None = None
    """None: the AWS provider's account (aws.get_caller_identity)."""
    region: pulumi.Input[str] | None = None
    """None: the cluster's region when `cluster` is given, else the AWS provider's region (aws.get_region)."""
    workload_identity_pool_provider_id: pulumi.Input[str] | None = None
    """Passed through to `eks_cluster_args`."""
    permissions_boundary: pulumi.Input[str] | None = None
    """A permissions boundary policy ARN for every role created, where an organisation requires one."""
    force_destroy_bucket: bool = False
    """Let `pulumi destroy` delete a bucket that still holds objects."""
    tags: Mapping[str, pulumi.Input[str]] | None = None
    """Extra tags; `fireworks.ai:managed=true` is always set."""


class FireworksAwsAccess(pulumi.ComponentResource):
    """The IAM roles, OIDC provider and bucket Fireworks needs around an EKS cluster (see the module docstring)."""

    eks_cluster_args: EksClusterArgs
    """Ready for `ClusterArgs(eks_cluster=...)`; every field is an Output (or None when disabled)."""
    eks_cluster_spec: pulumi.Output[dict[str, str]]
    """The same as one camelCase eksCluster object (unset fields left out): export it, and `fwcluster preflight
    --file` can check it (`pulumi stack output eksCluster --json > spec.json`)."""
    aws_account_id: pulumi.Output[str]
    region: pulumi.Output[str]
    cluster_name: pulumi.Output[str]
    oidc_issuer: pulumi.Output[str]
    oidc_provider_arn: pulumi.Output[str]
    manager_role_arn: pulumi.Output[str]
    inference_role_arn: pulumi.Output[str]
    metric_writer_role_arn: pulumi.Output[str] | None
    load_balancer_controller_role_arn: pulumi.Output[str] | None
    bucket_name: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]

    oidc_provider: aws.iam.OpenIdConnectProvider | None
    manager_role: aws.iam.Role | None
    inference_role: aws.iam.Role
    metric_writer_role: aws.iam.Role | None
    load_balancer_controller_role: aws.iam.Role | None
    bucket: aws.s3.Bucket | None

    def __init__(self, name: str, args: FireworksAwsAccessArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        if args.cluster is not None and (args.cluster_name is not None or args.oidc_issuer is not None):
            raise ValueError("give either `cluster`, or `cluster_name` and `oidc_issuer`, not both")
        if args.cluster is None and (args.cluster_name is None or args.oidc_issuer is None):
            raise ValueError("FireworksAwsAccess needs `cluster`, or both `cluster_name` and `oidc_issuer`")
        super().__init__(COMPONENT_TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = {**(args.tags or {}), **MANAGED_TAGS}

        # -- the cluster: name, issuer, region, account -----------------------------------------------------------
        cluster = args.cluster
        if cluster is not None:
            cluster_name = cluster.name
            issuer = cluster.identities.apply(_issuer_of)
        else:
            assert args.cluster_name is not None and args.oidc_issuer is not None
            cluster_name = pulumi.Output.from_input(args.cluster_name)
            issuer = pulumi.Output.from_input(args.oidc_issuer)
        invoke = pulumi.InvokeOutputOptions(parent=self)
        if args.region is not None:
            region = pulumi.Output.from_input(args.region)
        elif cluster is not None:
            region = pulumi.Output.all(cluster.region, cluster.arn).apply(_region_of_cluster)
        else:
            region = aws.get_region_output(opts=invoke).region
        if args.aws_account_id is not None:
            account = pulumi.Output.from_input(args.aws_account_id)
        else:
            account = aws.get_caller_identity_output(opts=invoke).account_id
        self.cluster_name, self.oidc_issuer, self.region, self.aws_account_id = cluster_name, issuer, region, account

        # -- OIDC provider --------------------------------------------------------------------------------------
        self.oidc_provider = None
        if args.oidc_provider_arn is not None:
            provider_arn = pulumi.Output.from_input(args.oidc_provider_arn)
        else:
            self.oidc_provider = aws.iam.OpenIdConnectProvider(
                f"{name}-oidc-provider",
                url=issuer,
                client_id_lists=[STS_AUDIENCE],
                tags=tags,
                opts=child,
            )
            provider_arn = self.oidc_provider.arn
        self.oidc_provider_arn = provider_arn

        # -- bucket ---------------------------------------------------------------------------------------------
        self.bucket = None
        if args.bucket_name is not None:
            bucket_name = pulumi.Output.from_input(args.bucket_name)
            bucket_arn = pulumi.Output.all(region, bucket_name).apply(
                lambda v: f"arn:{partition_or_default(v[0])}:s3:::{v[1]}"
            )
        else:
            bucket_name, bucket_arn = self._bucket(args, cluster_name, account, region, tags, child)
        self.bucket_name, self.bucket_arn = bucket_name, bucket_arn

        # -- manager role ---------------------------------------------------------------------------------------
        self.manager_role = None
        if args.manager_role_arn is not None:
            manager_arn = pulumi.Output.from_input(args.manager_role_arn)
        else:
            self.manager_role = aws.iam.Role(
                f"{name}-manager-role",
                name=args.manager_role_name,
                description="Role assumed by the Fireworks control plane to manage resources.",
                assume_role_policy=_dumps(manager_trust_policy()),
                permissions_boundary=args.permissions_boundary,
                tags=tags,
                opts=child,
            )
            manager_inline = aws.iam.RolePolicy(
                f"{name}-manager-policy",
                name=MANAGER_POLICY_NAME,
                role=self.manager_role.name,
                policy=_dumps(manager_policy()),
                opts=child,
            )
            manager_arn = _after(self.manager_role.arn, manager_inline)
        self.manager_role_arn = manager_arn

        # -- per-cluster IRSA roles -----------------------------------------------------------------------------
        def irsa_role(field: str, part: str, description: str) -> aws.iam.Role:
            service_account = IRSA_SERVICE_ACCOUNTS[field]
            return aws.iam.Role(
                f"{name}-{part}",
                name=cluster_name.apply(lambda n: role_name(ROLE_PREFIXES[field], n)),
                description=description,
                assume_role_policy=pulumi.Output.all(provider_arn, issuer).apply(
                    lambda v: _dumps(irsa_trust_policy(v[0], v[1], service_account))
                ),
                permissions_boundary=args.permissions_boundary,
                tags=tags,
                opts=child,
            )

        self.inference_role = irsa_role("inferenceRole", "inference-role", "Role used by inference pods.")
        inference_inline = aws.iam.RolePolicy(
            f"{name}-inference-policy",
            name=INFERENCE_POLICY_NAME,
            role=self.inference_role.name,
            policy=bucket_arn.apply(lambda arn: _dumps(bucket_read_policy(arn))),
            opts=child,
        )
        self.inference_role_arn = _after(self.inference_role.arn, inference_inline)

        self.metric_writer_role = None
        self.metric_writer_role_arn = None
        if args.enable_metrics:
            self.metric_writer_role = irsa_role(
                "metricWriterRole", "metric-writer-role", "Role used to write metrics back to Fireworks."
            )
            self.metric_writer_role_arn = self.metric_writer_role.arn

        self.load_balancer_controller_role = None
        self.load_balancer_controller_role_arn = None
        if args.enable_load_balancer_controller:
            lb_role = irsa_role(
                "loadBalancerControllerRole",
                "lb-controller-role",
                "Role used by the AWS Load Balancer Controller in Fireworks clusters.",
            )
            attachments = [
                aws.iam.RolePolicyAttachment(
                    f"{name}-lb-controller-policy-{i}", role=lb_role.name, policy_arn=arn, opts=child
                )
                for i, arn in enumerate(args.load_balancer_controller_policy_arns)
            ]
            self.load_balancer_controller_role = lb_role
            self.load_balancer_controller_role_arn = _after(lb_role.arn, *attachments)

        self.eks_cluster_args = EksClusterArgs(
            aws_account_id=account,
            region=region,
            cluster_name=cluster_name,
            storage_bucket_name=bucket_name,
            fireworks_manager_role=manager_arn,
            metric_writer_role=self.metric_writer_role_arn,
            load_balancer_controller_role=self.load_balancer_controller_role_arn,
            inference_role=self.inference_role_arn,
            workload_identity_pool_provider_id=args.workload_identity_pool_provider_id,
        )
        spec = group_props(self.eks_cluster_args)  # the same fields, camelCase, unset ones left out
        self.eks_cluster_spec = pulumi.Output.all(**spec).apply(lambda v: {k: str(x) for k, x in v.items() if x})
        self.register_outputs(
            {
                "eksCluster": self.eks_cluster_spec,
                "oidcIssuer": issuer,
                "oidcProviderArn": provider_arn,
                "bucketArn": bucket_arn,
            }
        )

    def _bucket(
        self,
        args: FireworksAwsAccessArgs,
        cluster_name: pulumi.Output[str],
        account: pulumi.Output[str],
        region: pulumi.Output[str],
        tags: Mapping[str, pulumi.Input[str]],
        child: pulumi.ResourceOptions,
    ) -> tuple[pulumi.Output[str], pulumi.Output[str]]:
        """In the cluster's region (pulumi-aws 7's per-resource `region`), private, encrypted, versioned."""
        name = self._name  # the component's name, set by pulumi.Resource
        bucket = aws.s3.Bucket(
            f"{name}-bucket",
            bucket=pulumi.Output.all(cluster_name, account, region).apply(lambda v: default_bucket_name(*v)),
            region=region,
            force_destroy=args.force_destroy_bucket,
            tags=tags,
            opts=child,
        )
        private = aws.s3.BucketPublicAccessBlock(
            f"{name}-bucket-public-access-block",
            bucket=bucket.id,
            region=region,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        encrypted = aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-bucket-encryption",
            bucket=bucket.id,
            region=region,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm="AES256"
                    ),
                )
            ],
            opts=child,
        )
        versioned = aws.s3.BucketVersioning(
            f"{name}-bucket-versioning",
            bucket=bucket.id,
            region=region,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
            opts=child,
        )
        self.bucket = bucket
        return _after(bucket.bucket, private, encrypted, versioned), bucket.arn


def _after(value: pulumi.Output[str], *resources: pulumi.Resource) -> pulumi.Output[str]:
    """`value`, depending on `resources` too: a Cluster that consumes it waits until they exist. Uses their URNs,
    which are known during preview, so `value` stays as known as it was."""
    if not resources:
        return value
    return pulumi.Output.all(value, *(r.urn for r in resources)).apply(lambda v: str(v[0]))


def _region_of_cluster(values: list[Any]) -> str:
    region, arn = values
    if region:
        return str(region)
    parts = str(arn or "").split(":")
    if len(parts) < 4 or not parts[3]:
        raise ValueError(f"cannot tell the EKS cluster's region (region {region!r}, ARN {arn!r}); set `region`")
    return parts[3]
