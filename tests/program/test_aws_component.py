"""FireworksAwsAccess under set_mocks: exact trust and permission policies, tags, names, options, parenting,
and whether what it builds passes our own preflight when recreated in moto."""

from __future__ import annotations

import dataclasses
import importlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pulumi
import pulumi_aws as aws
import pytest
from click.testing import CliRunner

from pulumi_fwcluster import rules
from pulumi_fwcluster.aws import MANAGED_TAGS, FireworksAwsAccess, FireworksAwsAccessArgs, role_name
from pulumi_fwcluster.cli import main as cli_main
from pulumi_fwcluster.preflight import PreflightOptions, run_preflight
from pulumi_fwcluster.resource import EksClusterArgs
from pulumi_fwcluster.testing.aws import issuer_for
from tests.program.proghelpers import ACCOUNT, COMPONENT_TYPE, REGION, Mocks, MotoMirror, run_program, use_mocks

ROLE = "aws:iam/role:Role"
TAGS = {"fireworks.ai:managed": "true"}
GOOGLE_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Federated": "accounts.google.com"},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {"accounts.google.com:aud": "117388763667264115668"}},
        }
    ],
}


def eks_cluster(name: str = "prod") -> aws.eks.Cluster:
    return aws.eks.Cluster(
        "eks",
        name=name,
        role_arn=f"arn:aws:iam::{ACCOUNT}:role/eks-cluster",
        vpc_config=aws.eks.ClusterVpcConfigArgs(subnet_ids=["subnet-a", "subnet-b"]),
        tags=MANAGED_TAGS,
    )


def resolved(args: EksClusterArgs) -> pulumi.Output[dict[str, Any]]:
    """The camelCase eksCluster object, once every Output field is known."""
    values = {
        _camel(f.name): getattr(args, f.name) for f in dataclasses.fields(args) if getattr(args, f.name) is not None
    }
    return pulumi.Output.all(**values)


def _camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(w.title() for w in rest)


def irsa(issuer: str, service_account: str) -> dict[str, Any]:
    host = issuer.removeprefix("https://")
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": f"arn:aws:iam::{ACCOUNT}:oidc-provider/{host}"},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {f"{host}:sub": service_account, f"{host}:aud": "sts.amazonaws.com"},
                },
            }
        ],
    }


def roles_by_name(mocks: Mocks) -> dict[str, dict[str, Any]]:
    return {r.inputs["name"]: r.inputs for r in mocks.of_type(ROLE)}


def test_trust_policies_permissions_and_tags() -> None:
    mocks = Mocks()
    monitor = use_mocks(mocks)

    def program() -> pulumi.Output[Any]:
        access = FireworksAwsAccess("fireworks", FireworksAwsAccessArgs(cluster=eks_cluster("prod")))

        def check(eks: dict[str, Any]) -> None:
            issuer = issuer_for("prod", REGION, ACCOUNT)
            roles = roles_by_name(mocks)
            assert set(roles) == {
                "FireworksManagerRole",
                "FireworksEKSLoadBalancerControllerRole-prod",
                "FireworksMetricWriterRole-prod",
                "FireworksInferenceRole-prod",
            }
            assert json.loads(roles["FireworksManagerRole"]["assumeRolePolicy"]) == GOOGLE_TRUST
            for role, sa in {
                "FireworksEKSLoadBalancerControllerRole-prod": "system:serviceaccount:kube-system:aws-load-balancer-controller",
                "FireworksMetricWriterRole-prod": "system:serviceaccount:gmp-system:collector",
                "FireworksInferenceRole-prod": "system:serviceaccount:default:inference",
            }.items():
                assert json.loads(roles[role]["assumeRolePolicy"]) == irsa(issuer, sa), role

            policies = {p.inputs["role"]: p.inputs for p in mocks.of_type("aws:iam/rolePolicy:RolePolicy")}
            assert set(policies) == {"FireworksManagerRole", "FireworksInferenceRole-prod"}
            manager = json.loads(policies["FireworksManagerRole"]["policy"])["Statement"]
            tagged = {"StringEquals": {"aws:ResourceTag/fireworks.ai:managed": "true"}}
            assert [(s["Action"], s["Resource"], s.get("Condition")) for s in manager] == [
                ("eks:*", "*", tagged),
                ("ecr:*", "*", tagged),
                ("ecr:GetAuthorizationToken", "*", None),  # acts on no resource, so no tag can be required
            ]
            assert all(s["Effect"] == "Allow" for s in manager)
            bucket = eks["storageBucketName"]
            read = json.loads(policies["FireworksInferenceRole-prod"]["policy"])["Statement"]
            assert read == [
                {
                    "Sid": "ReadFireworksBucket",
                    "Effect": "Allow",
                    "Action": ["s3:Get*", "s3:List*", "s3:Describe*"],
                    "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                }
            ]

            (provider,) = mocks.of_type("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
            assert provider.inputs["url"] == issuer
            assert provider.inputs["clientIdLists"] == ["sts.amazonaws.com"]

            (b,) = mocks.of_type("aws:s3/bucket:Bucket")
            assert b.inputs["bucket"] == bucket and rules.bucket_name(bucket) is None
            assert b.inputs["region"] == REGION
            (pab,) = mocks.of_type("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
            assert {k: pab.inputs[k] for k in pab.inputs if k.startswith(("block", "ignore", "restrict"))} == {
                "blockPublicAcls": True,
                "blockPublicPolicy": True,
                "ignorePublicAcls": True,
                "restrictPublicBuckets": True,
            }
            (sse,) = mocks.of_type(
                "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
            )
            assert sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"
            (ver,) = mocks.of_type("aws:s3/bucketVersioning:BucketVersioning")
            assert ver.inputs["versioningConfiguration"]["status"] == "Enabled"
            for r in (pab, sse, ver):
                assert r.inputs["bucket"] == bucket and r.inputs["region"] == REGION

            for r in [*mocks.of_type(ROLE), provider, b]:
                assert r.inputs["tags"] == TAGS, r.name

            assert eks == {
                "awsAccountId": ACCOUNT,
                "region": REGION,
                "clusterName": "prod",
                "storageBucketName": bucket,
                "fireworksManagerRole": f"arn:aws:iam::{ACCOUNT}:role/FireworksManagerRole",
                "metricWriterRole": f"arn:aws:iam::{ACCOUNT}:role/FireworksMetricWriterRole-prod",
                "loadBalancerControllerRole": f"arn:aws:iam::{ACCOUNT}:role/FireworksEKSLoadBalancerControllerRole-prod",
                "inferenceRole": f"arn:aws:iam::{ACCOUNT}:role/FireworksInferenceRole-prod",
            }

            # Every child is parented to the component and named after it (so an alias on the component moves them).
            (component,) = [r for r in monitor.requests if r.typ == COMPONENT_TYPE]
            children = [r for r in monitor.requests if r.parent == component.urn]
            assert len(children) == len(mocks.resources) - 1  # all but the EKS cluster
            assert all(r.name.startswith("fireworks-") for r in children)

        return resolved(access.eks_cluster_args).apply(check)

    run_program(program)


def test_long_cluster_name_is_cut_to_iam_limits() -> None:
    mocks = Mocks()
    use_mocks(mocks)
    long_name = "c" + "-".join(["abcdefghi"] * 6)[:59]
    assert len(long_name) == 60

    def program() -> pulumi.Output[Any]:
        access = FireworksAwsAccess("fw", FireworksAwsAccessArgs(cluster=eks_cluster(long_name)))

        def check(eks: dict[str, Any]) -> None:
            names = sorted(roles_by_name(mocks))
            assert all(len(n) <= 64 for n in names), names
            assert set(names) == {
                "FireworksManagerRole",
                f"FireworksEKSLoadBalancerControllerRole-{long_name}"[:64],
                f"FireworksMetricWriterRole-{long_name}"[:64],
                f"FireworksInferenceRole-{long_name}"[:64],
            }
            assert eks["inferenceRole"].endswith("/" + role_name("FireworksInferenceRole", long_name))
            assert len(eks["storageBucketName"]) <= 63 and rules.bucket_name(eks["storageBucketName"]) is None
            assert rules.role_arn(eks["loadBalancerControllerRole"], ACCOUNT) is None

        return resolved(access.eks_cluster_args).apply(check)

    run_program(program)


def test_existing_manager_role_bucket_and_provider_and_disabled_roles() -> None:
    mocks = Mocks(region="eu-west-1")
    use_mocks(mocks)
    issuer = "https://oidc.eks.eu-west-1.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF"
    provider_arn = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{issuer.removeprefix('https://')}"
    manager = f"arn:aws:iam::{ACCOUNT}:role/fw/FireworksManagerRole"

    def program() -> pulumi.Output[Any]:
        access = FireworksAwsAccess(
            "fw",
            FireworksAwsAccessArgs(
                cluster_name="legacy",
                oidc_issuer=issuer,
                oidc_provider_arn=provider_arn,
                manager_role_arn=manager,
                bucket_name="my-existing-bucket",
                enable_metrics=False,
                enable_load_balancer_controller=False,
                workload_identity_pool_provider_id="acme-pool-1",
            ),
        )
        assert access.metric_writer_role is None and access.load_balancer_controller_role is None
        assert access.manager_role is None and access.bucket is None and access.oidc_provider is None

        def check(eks: dict[str, Any]) -> None:
            assert {r.typ for r in mocks.resources} == {ROLE, "aws:iam/rolePolicy:RolePolicy"}
            (role,) = mocks.of_type(ROLE)
            assert role.inputs["name"] == "FireworksInferenceRole-legacy"
            trust = json.loads(role.inputs["assumeRolePolicy"])
            assert trust == {
                **irsa(issuer, "system:serviceaccount:default:inference"),
                "Statement": [
                    {**irsa(issuer, "system:serviceaccount:default:inference")["Statement"][0]}
                    | {"Principal": {"Federated": provider_arn}}
                ],
            }
            (policy,) = mocks.of_type("aws:iam/rolePolicy:RolePolicy")
            assert json.loads(policy.inputs["policy"])["Statement"][0]["Resource"] == [
                "arn:aws:s3:::my-existing-bucket",
                "arn:aws:s3:::my-existing-bucket/*",
            ]
            assert eks == {
                "awsAccountId": ACCOUNT,  # from aws.get_caller_identity
                "region": "eu-west-1",  # from aws.get_region
                "clusterName": "legacy",
                "storageBucketName": "my-existing-bucket",
                "fireworksManagerRole": manager,
                "inferenceRole": f"arn:aws:iam::{ACCOUNT}:role/FireworksInferenceRole-legacy",
                "workloadIdentityPoolProviderId": "acme-pool-1",
            }
            tokens = sorted(token for token, _ in mocks.calls)
            assert tokens == ["aws:index/getCallerIdentity:getCallerIdentity", "aws:index/getRegion:getRegion"]

        return resolved(access.eks_cluster_args).apply(check)

    run_program(program)


def test_component_alias_and_options_reach_the_engine() -> None:
    mocks = Mocks()
    monitor = use_mocks(mocks)

    def program() -> pulumi.Output[Any]:
        access = FireworksAwsAccess(
            "renamed",
            FireworksAwsAccessArgs(cluster=eks_cluster(), region="us-east-1", aws_account_id=ACCOUNT),
            pulumi.ResourceOptions(aliases=[pulumi.Alias(name="original")]),
        )

        def check(_: Any) -> None:
            (component,) = [r for r in monitor.requests if r.typ == COMPONENT_TYPE]
            assert component.alias_names == ["original"]
            children = [r for r in monitor.requests if r.parent == component.urn]
            # The engine derives each child's old URN from the parent's alias by swapping the name prefix.
            assert children and all(r.name.startswith("renamed-") for r in children)
            assert mocks.calls == []  # account and region given: no invokes

        return resolved(access.eks_cluster_args).apply(check)

    run_program(program)


def test_bad_arguments_are_rejected() -> None:
    use_mocks(Mocks())
    with pytest.raises(ValueError, match="cluster_name"):
        FireworksAwsAccess("a", FireworksAwsAccessArgs(cluster_name="x"))


def test_component_passes_our_own_preflight_in_moto(moto_session: boto3.Session, tmp_path: Path) -> None:
    """Every resource the mocks receive is recreated in moto exactly as registered (names, trust documents,
    policies, tags, bucket region; the EKS cluster with the mocked issuer), then run_preflight judges the
    component's eks_cluster_args."""
    mocks = Mocks(mirror=MotoMirror(moto_session))
    use_mocks(mocks)

    def program() -> pulumi.Output[Any]:
        access = FireworksAwsAccess("fireworks", FireworksAwsAccessArgs(cluster=eks_cluster("prod")))

        def check(values: list[dict[str, Any]]) -> None:
            eks, spec = values
            assert spec == eks  # the exported camelCase object is the same spec
            report = run_preflight(eks, moto_session, options=PreflightOptions(iam_retry_delay=0))
            not_ok = [f for f in report.findings if f.status != "ok"]
            assert not not_ok, report.render_table()
            checks = {(f.check, f.field) for f in report.findings}
            for field in ("fireworksManagerRole", "inferenceRole", "metricWriterRole", "loadBalancerControllerRole"):
                assert ("iam.role.arn", f"eksCluster.{field}") in checks
            for field in ("inferenceRole", "metricWriterRole", "loadBalancerControllerRole"):
                for part in ("provider", "sub", "aud"):
                    assert (f"iam.role.trust.{part}", f"eksCluster.{field}") in checks
            assert ("iam.oidc_provider", "eksCluster.clusterName") in checks
            assert ("s3.bucket.region", "eksCluster.storageBucketName") in checks
            assert ("eks.cluster.tag", "eksCluster.clusterName") in checks

            # What CI runs on `pulumi stack output eksCluster --json` (examples/ci/github-actions.yml).
            spec_file = tmp_path / "spec.json"
            spec_file.write_text(json.dumps(spec))
            result = CliRunner().invoke(cli_main, ["preflight", "--json", "--file", str(spec_file)])
            assert result.exit_code == 0, result.output
            assert json.loads(result.output)["ok"] is True

        return pulumi.Output.all(resolved(access.eks_cluster_args), access.eks_cluster_spec).apply(check)

    run_program(program)


def test_package_import_does_not_load_pulumi_aws() -> None:
    code = (
        "import sys, pulumi_fwcluster\n"
        "from pulumi_fwcluster import Cluster, ClusterArgs, EksClusterArgs\n"
        "assert 'pulumi_aws' not in sys.modules, 'pulumi_aws was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_missing_extra_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pulumi_aws", None)  # makes `import pulumi_aws` raise ImportError
    monkeypatch.delitem(sys.modules, "pulumi_fwcluster.aws")
    with pytest.raises(ImportError, match=r"pip install 'pulumi-fwcluster\[aws\]'"):
        importlib.import_module("pulumi_fwcluster.aws")
    monkeypatch.undo()
    assert importlib.import_module("pulumi_fwcluster.aws").FireworksAwsAccess is FireworksAwsAccess
