"""Offline validation rules shared by the resource's `check` and the preflight's offline phase.

Each rule takes a value and returns the reason it is invalid, or None. Rules never do I/O, so `check`
can run them on every preview for free.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .byoc import DEFAULT_MANAGER_ROLE_NAME
from .partitions import partition_for_region

# Fireworks "Resource names and IDs": 1-63 of [a-z0-9-], starting with a letter, not ending with '-'.
_RESOURCE_ID = re.compile(r"^[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_AWS_ACCOUNT = re.compile(r"^\d{12}$")
_REGION_SHAPE = re.compile(r"^[a-z]{2,5}(?:-[a-z]+)+-\d+$")
_ROLE_ARN = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):iam::(?P<account>\d{12}):role(?P<path>/(?:[\x21-\x7e]*/)?)(?P<name>[\w+=,.@-]{1,64})$"
)
_WIPP = re.compile(r"^[a-z0-9-]{4,32}$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_IPV4_LIKE = re.compile(r"^\d+\.\d+\.\d+\.\d+$")  # S3 refuses any name "formatted as an IP address"
_BUCKET_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_BUCKET_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")

DISPLAY_NAME_MAX = 63  # "must be fewer than 64 characters"


@dataclass(frozen=True)
class RoleArn:
    """A parsed IAM role ARN. `path` always starts and ends with '/'."""

    partition: str
    account: str
    path: str
    name: str

    def __str__(self) -> str:
        return f"arn:{self.partition}:iam::{self.account}:role{self.path}{self.name}"


def parse_role_arn(value: str) -> RoleArn | None:
    m = _ROLE_ARN.match(value)
    if m is None:
        return None
    return RoleArn(m["partition"], m["account"], m["path"], m["name"])


def resource_id(value: str) -> str | None:
    if _RESOURCE_ID.match(value):
        return None
    return (
        f"{value!r} is not a valid Fireworks resource id: use 1-63 characters of a-z, 0-9 and '-', "
        "starting with a letter and not ending with '-'"
    )


def display_name(value: str) -> str | None:
    if len(value) <= DISPLAY_NAME_MAX:
        return None
    return f"must be fewer than 64 characters (got {len(value)})"


def aws_account_id(value: str) -> str | None:
    if _AWS_ACCOUNT.match(value):
        return None
    return f"{value!r} is not an AWS account id: it must be exactly 12 digits"


def region(value: str) -> str | None:
    """A name some AWS partition admits (botocore's own patterns), or one shaped like a region, since a new region
    can be newer than the installed botocore; whether EKS runs there is the preflight's business."""
    if partition_for_region(value) is not None or _REGION_SHAPE.match(value):
        return None
    return f"{value!r} is not an AWS region name (for example 'us-east-1')"


def bucket_name(value: str) -> str | None:
    """S3 general-purpose bucket naming rules. A name, never an ARN or s3:// URL."""
    if value.startswith(("arn:", "s3://")):
        return f"{value!r} looks like an ARN or URL: give the bare bucket name"
    if not _BUCKET.match(value):
        return (
            f"{value!r} is not a valid S3 bucket name: use 3-63 characters of a-z, 0-9, '.' and '-', "
            "starting and ending with a letter or digit"
        )
    if ".." in value:
        return f"{value!r} is not a valid S3 bucket name: it contains two adjacent periods"
    if _IPV4_LIKE.match(value):
        return f"{value!r} is not a valid S3 bucket name: it is formatted as an IP address"
    for prefix in _BUCKET_PREFIXES:
        if value.startswith(prefix):
            return f"{value!r} is not a valid S3 bucket name: the prefix {prefix!r} is reserved"
    for suffix in _BUCKET_SUFFIXES:
        if value.endswith(suffix):
            return f"{value!r} is not a valid S3 bucket name: the suffix {suffix!r} is reserved"
    return None


def role_arn(value: str, account: str | None) -> str | None:
    """An IAM role ARN, in `account` when that is known and valid."""
    arn = parse_role_arn(value)
    if arn is None:
        return f"{value!r} is not an IAM role ARN: expected arn:aws:iam::<12-digit account>:role/<optional path/><name>"
    if account is not None and _AWS_ACCOUNT.match(account) and arn.account != account:
        return f"role is in account {arn.account}, but eksCluster.awsAccountId is {account}"
    return None


def workload_identity_pool_provider_id(value: str) -> str | None:
    if not _WIPP.match(value):
        return f"{value!r} must be 4-32 characters of a-z, 0-9 and '-'"
    if value.startswith("gcp-"):
        return f"{value!r} uses the reserved prefix 'gcp-'"
    return None


def default_manager_role(partition: str, account: str) -> str:
    """The ARN the API uses when fireworksManagerRole is empty."""
    return f"arn:{partition}:iam::{account}:role/{DEFAULT_MANAGER_ROLE_NAME}"
