"""A ready CrossGuard pack for Fireworks clusters. Every value below is a default that the pack's config overrides
(`pulumi preview --policy-pack examples/policy-pack --policy-pack-config config.json`); see README.md."""

from __future__ import annotations

from pulumi_policy import PolicyPack

from pulumi_fwcluster.policy import cluster_policies

PolicyPack(
    "fireworks-clusters",
    # A list display, so a team can add its own policies next to these (and mypy accepts it as list[Policy]).
    policies=[
        *cluster_policies(
            allowed_regions=["us-east-1", "us-west-2"],
            allowed_aws_accounts=["123456789012"],
            require_metrics=True,
            require_load_balancer=True,
            # Bucket names are global: teams put the account and region in them.
            bucket_name_pattern=r"fireworks-{account}-{region}(-[a-z0-9-]+)?",
        ),
    ],
)
