"""moto helpers for tests, the demo and benchmarks: a local AWS with a Fireworks BYOC setup in it.

moto is a dev dependency only, so it is imported inside the functions that need it.

    with moto_server() as endpoint:
        os.environ.update(aws_env(endpoint))
        spec = seed_byoc(endpoint, cluster_name="prod")      # the camelCase eksCluster object
        ...
        reset(endpoint)

`seed_byoc` mirrors Fireworks' Terraform module (registry fw-ai-external/aws-cluster/fireworksai). moto gaps it
works around (see also `set_cluster_status` and `set_cluster_issuer`): EKS clusters are always ACTIVE, and every
cluster in a process shares one fake OIDC issuer. Both are fixed by editing moto's backend objects, which only
works when the moto server runs in this process (`moto_server()` does).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..byoc import (
    DEFAULT_MANAGER_ROLE_NAME,
    IRSA_SERVICE_ACCOUNTS,
    MANAGED_TAG_KEY,
    STS_AUDIENCE,
    irsa_trust_policy,
    manager_trust_policy,
    oidc_provider_arn,
)
from ..partitions import partition_or_default

DEFAULT_ACCOUNT = "123456789012"  # moto's account for any fake credentials
DEFAULT_REGION = "us-east-1"
MANAGED_TAG = {"Key": MANAGED_TAG_KEY, "Value": "true"}
FAKE_KEYS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


@contextmanager
def moto_server(*, quiet: bool = True) -> Iterator[str]:
    """A ThreadedMotoServer on 127.0.0.1 and a free port, in this process. Yields its endpoint URL."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as exc:
        raise ImportError(
            "the moto AWS stand-in is an optional extra: pip install 'pulumi-fwcluster[testing]'"
        ) from exc

    if quiet:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def aws_env(endpoint: str, region: str = DEFAULT_REGION) -> dict[str, str]:
    """Environment variables that point boto3 (and the AWS CLI) at `endpoint` with fake credentials, ignoring
    the user's config files, profile and instance metadata."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        **FAKE_KEYS,
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_DEFAULT_REGION": region,
    }


# Variables that would override `aws_env` if left set: unset them alongside.
AWS_ENV_CONFLICTS = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_REGION")


def reset(endpoint: str) -> None:
    """Clear every moto backend (POST /moto-api/reset)."""
    request = urllib.request.Request(f"{endpoint}/moto-api/reset", data=b"", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


def _clients(session_or_endpoint: Any, region: str) -> dict[str, Any]:
    services = ("eks", "iam", "s3", "sts")
    if isinstance(session_or_endpoint, str):
        from ..preflight import default_session

        session = default_session(
            aws_access_key_id=FAKE_KEYS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_KEYS["AWS_SECRET_ACCESS_KEY"],
            region_name=region,
        )
        return {s: session.client(s, region_name=region, endpoint_url=session_or_endpoint) for s in services}
    return {s: session_or_endpoint.client(s, region_name=region) for s in services}


def issuer_for(cluster_name: str, region: str = DEFAULT_REGION, account: str = DEFAULT_ACCOUNT) -> str:
    """A deterministic, realistic issuer URL (32 upper-case hex digits) for a cluster."""
    digest = hashlib.sha256(f"{account}/{region}/{cluster_name}".encode()).hexdigest()[:32].upper()
    return f"https://oidc.eks.{region}.amazonaws.com/id/{digest}"


def _moto_cluster(cluster_name: str, account: str, region: str) -> Any:
    from moto.backends import get_backend

    backend = get_backend("eks")[account][region]
    try:
        return backend.clusters[cluster_name]
    except KeyError:
        raise LookupError(
            f"no EKS cluster {cluster_name!r} in this process's moto backend ({account}/{region}); "
            "is the moto server running in this process?"
        ) from None


def set_cluster_status(
    cluster_name: str, status: str, *, account: str = DEFAULT_ACCOUNT, region: str = DEFAULT_REGION
) -> None:
    """Make describe_cluster report `status` (CREATING, FAILED, ...): moto's clusters are always ACTIVE."""
    _moto_cluster(cluster_name, account, region).status = status


def set_cluster_issuer(
    cluster_name: str,
    issuer: str | None = None,
    *,
    account: str = DEFAULT_ACCOUNT,
    region: str = DEFAULT_REGION,
) -> str:
    """Give a cluster its own OIDC issuer (moto shares one per process). Returns the issuer URL."""
    issuer = issuer or issuer_for(cluster_name, region, account)
    _moto_cluster(cluster_name, account, region).identity = {"oidc": {"issuer": issuer}}
    return issuer


def seed_byoc(
    session_or_endpoint: Any,
    *,
    account: str = DEFAULT_ACCOUNT,
    region: str = DEFAULT_REGION,
    cluster_name: str = "fireworks-byoc",
    bucket: str | None = None,
    manager_role_name: str = DEFAULT_MANAGER_ROLE_NAME,
    role_path: str = "/",
    create_manager_role: bool = True,
    unique_issuer: bool = True,
    workload_identity_pool_provider_id: str | None = None,
) -> dict[str, str]:
    """Build a fully correct BYOC setup, as Fireworks' Terraform module does, and return the camelCase
    eksCluster object that describes it.

    `session_or_endpoint` is a boto3 Session (its own endpoint configuration applies, e.g. AWS_ENDPOINT_URL) or a
    moto endpoint URL. Creates: an EKS cluster tagged fireworks.ai:managed=true, its IAM OIDC provider (client id
    sts.amazonaws.com), a bucket in `region`, the manager role (Google federation, Fireworks' audience) and the
    load balancer controller / metric writer / inference IRSA roles trusting this cluster's provider with the
    exact sub and aud. Per-cluster names carry `cluster_name`, so several setups can share one moto.

    With `unique_issuer` (and the moto server in this process), the cluster gets its own issuer so that two
    clusters have two providers; otherwise moto's shared issuer is kept.
    """
    clients = _clients(session_or_endpoint, region)
    caller = clients["sts"].get_caller_identity()["Account"]
    if caller != account:
        raise ValueError(f"the credentials are for account {caller}, not {account}; moto uses {DEFAULT_ACCOUNT}")
    partition = partition_or_default(region)
    tags = [MANAGED_TAG]
    bucket = bucket or f"{cluster_name}-fireworks-{account}"[:63].strip("-.")

    eks, iam, s3 = clients["eks"], clients["iam"], clients["s3"]
    cluster_role = iam.create_role(
        RoleName=f"{cluster_name}-eks-cluster"[:64],
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"Service": "eks.amazonaws.com"}, "Action": "sts:AssumeRole"}
                ],
            }
        ),
        Tags=tags,
    )["Role"]["Arn"]
    cluster = eks.create_cluster(
        name=cluster_name,
        roleArn=cluster_role,
        resourcesVpcConfig={"subnetIds": [], "endpointPublicAccess": True},
        tags={MANAGED_TAG["Key"]: MANAGED_TAG["Value"]},
    )["cluster"]
    issuer = str(cluster["identity"]["oidc"]["issuer"])
    if unique_issuer:
        with contextlib.suppress(LookupError, ImportError):  # moto in another process: keep its shared issuer
            issuer = set_cluster_issuer(cluster_name, account=account, region=region)
    provider_arn = oidc_provider_arn(partition, account, issuer)
    with contextlib.suppress(iam.exceptions.EntityAlreadyExistsException):  # moto's shared issuer, seen before
        iam.create_open_id_connect_provider(
            Url=issuer, ClientIDList=[STS_AUDIENCE], ThumbprintList=["9e99a48a9960b14926bb7f3b02e22da2b0ab7280"]
        )

    if region == "us-east-1":
        s3.create_bucket(Bucket=bucket)
    else:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": tags})

    spec: dict[str, str] = {
        "awsAccountId": account,
        "region": region,
        "clusterName": cluster_name,
        "storageBucketName": bucket,
    }
    if create_manager_role:
        try:
            spec["fireworksManagerRole"] = iam.create_role(
                RoleName=manager_role_name,
                Path=role_path,
                AssumeRolePolicyDocument=json.dumps(manager_trust_policy()),
                Tags=tags,
            )["Role"]["Arn"]
        except iam.exceptions.EntityAlreadyExistsException:  # shared by every cluster of the account
            spec["fireworksManagerRole"] = iam.get_role(RoleName=manager_role_name)["Role"]["Arn"]

    names = {
        "loadBalancerControllerRole": f"{cluster_name}-lb-controller",
        "metricWriterRole": f"{cluster_name}-metric-writer",
        "inferenceRole": f"{cluster_name}-inference",
    }
    for camel, name in names.items():
        spec[camel] = iam.create_role(
            RoleName=name[:64],
            Path=role_path,
            AssumeRolePolicyDocument=json.dumps(irsa_trust_policy(provider_arn, issuer, IRSA_SERVICE_ACCOUNTS[camel])),
            Tags=tags,
        )["Role"]["Arn"]
    iam.put_role_policy(
        RoleName=names["inferenceRole"][:64],
        PolicyName="bucket-read",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": ["s3:Get*", "s3:List*", "s3:Describe*"],
                        "Resource": [f"arn:{partition}:s3:::{bucket}", f"arn:{partition}:s3:::{bucket}/*"],
                    }
                ],
            }
        ),
    )
    if workload_identity_pool_provider_id is not None:
        spec["workloadIdentityPoolProviderId"] = workload_identity_pool_provider_id
    return spec


def inject_error(
    session: Any,
    operation: str,
    code: str | BaseException,
    *,
    status: int = 400,
    message: str = "injected by pulumi_fwcluster.testing.aws",
) -> None:
    """Make every call of `operation` ("eks.DescribeCluster", "sts.GetCallerIdentity") on clients the boto3
    `session` creates from now on fail, for errors moto cannot produce (access denied on EKS, expired tokens).

    `code` is an AWS error code (the call raises ClientError with it and HTTP `status`) or an exception to raise
    (e.g. botocore's TokenRetrievalError). Uses a ``before-call`` hook, so nothing reaches the server."""
    from botocore.awsrequest import AWSResponse

    def handler(**_: Any) -> tuple[Any, dict[str, Any]]:
        if isinstance(code, BaseException):
            raise code
        parsed = {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": {}},
        }
        return AWSResponse("https://injected.invalid/", status, {}, None), parsed

    session.events.register(f"before-call.{operation}", handler)
