"""What Fireworks' BYOC setup expects of the customer's AWS account, as data.

One place for the facts that the `FireworksAwsAccess` component builds, the moto seed mirrors and the preflight
checks: the managed tag, the audiences, the service account each IRSA role serves, and the trust policy documents
Fireworks' Terraform module (`fw-ai-external/aws-cluster/fireworksai`) writes. No I/O and no imports, so every side
can use it.
"""

from __future__ import annotations

from typing import Any

MANAGED_TAG_KEY = "fireworks.ai:managed"
"""Fireworks' manager role may act only on EKS and ECR resources carrying this tag with the value "true"."""
MANAGED_TAGS: dict[str, str] = {MANAGED_TAG_KEY: "true"}

GOOGLE = "accounts.google.com"
FIREWORKS_GOOGLE_AUDIENCE = "117388763667264115668"
"""The Fireworks control plane runs on GCP: the manager role trusts Google tokens with this audience."""
STS_AUDIENCE = "sts.amazonaws.com"
ASSUME_WEB_IDENTITY = "sts:AssumeRoleWithWebIdentity"
POLICY_VERSION = "2012-10-17"
DEFAULT_MANAGER_ROLE_NAME = "FireworksManagerRole"
"""The role the API uses when eksCluster.fireworksManagerRole is empty, and the name the module gives it."""

IRSA_SERVICE_ACCOUNTS: dict[str, str] = {
    "loadBalancerControllerRole": "system:serviceaccount:kube-system:aws-load-balancer-controller",
    "metricWriterRole": "system:serviceaccount:gmp-system:collector",
    "inferenceRole": "system:serviceaccount:default:inference",
}
"""IRSA roles (camelCase eksCluster field) → the one service account each must trust (the `<issuer>:sub`)."""


def issuer_host(issuer: str) -> str:
    """`https://oidc.eks.<region>.amazonaws.com/id/<ID>` → `oidc.eks.<region>.amazonaws.com/id/<ID>`."""
    return issuer.removeprefix("https://").rstrip("/")


def oidc_provider_arn(partition: str, account: str, issuer: str) -> str:
    """The ARN of the IAM OIDC provider for an EKS cluster's issuer."""
    return f"arn:{partition}:iam::{account}:oidc-provider/{issuer_host(issuer)}"


def manager_trust_policy(audience: str = FIREWORKS_GOOGLE_AUDIENCE) -> dict[str, Any]:
    """The manager role's trust: Fireworks' control plane through Google federation."""
    return {
        "Version": POLICY_VERSION,
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": GOOGLE},
                "Action": ASSUME_WEB_IDENTITY,
                "Condition": {"StringEquals": {f"{GOOGLE}:aud": audience}},
            }
        ],
    }


def irsa_trust_policy(provider_arn: str, issuer: str, service_account: str) -> dict[str, Any]:
    """An IRSA role's trust: this cluster's OIDC provider, for exactly one service account, audience STS."""
    host = issuer_host(issuer)
    return {
        "Version": POLICY_VERSION,
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": provider_arn},
                "Action": ASSUME_WEB_IDENTITY,
                "Condition": {"StringEquals": {f"{host}:sub": service_account, f"{host}:aud": STS_AUDIENCE}},
            }
        ],
    }
