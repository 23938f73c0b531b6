"""The boto3 session the provider's preflight runs with: the stack's own AWS settings, so the checks see what the
deployment sees.

A stack that deploys with `aws:profile`, `aws:region` or `aws:assumeRoles` must be checked as that identity, not as
whatever the environment holds: otherwise a role that exists (for the deploying role) reads as missing, or the
account check compares the wrong account.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..settings import AssumeRole, Settings
from .runner import default_session

if TYPE_CHECKING:
    import boto3

SESSION_NAME = "pulumi-fwcluster-preflight"


def session_for(settings: Settings) -> boto3.Session:
    """A session from the profile and region settings, then through each assumed role in order. Raises botocore's
    errors (a missing profile, a refused AssumeRole), which the preflight reports as its credentials finding."""
    session = default_session(profile_name=settings.aws_profile, region_name=settings.aws_region)
    for role in settings.assumed_roles:
        session = _assume(session, role)
    return session


def _assume(session: boto3.Session, role: AssumeRole) -> boto3.Session:
    sts = session.client("sts", region_name=session.region_name or "us-east-1")
    kwargs: dict[str, Any] = {"RoleArn": role.role_arn, "RoleSessionName": role.session_name or SESSION_NAME}
    if role.external_id:
        kwargs["ExternalId"] = role.external_id
    if role.duration_seconds:
        kwargs["DurationSeconds"] = role.duration_seconds
    if role.policy:
        kwargs["Policy"] = role.policy
    if role.policy_arns:
        kwargs["PolicyArns"] = [{"arn": arn} for arn in role.policy_arns]
    if role.source_identity:
        kwargs["SourceIdentity"] = role.source_identity
    if role.tags:
        kwargs["Tags"] = [{"Key": k, "Value": v} for k, v in role.tags]
    if role.transitive_tag_keys:
        kwargs["TransitiveTagKeys"] = list(role.transitive_tag_keys)
    creds = sts.assume_role(**kwargs)["Credentials"]
    return default_session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=session.region_name,
    )
