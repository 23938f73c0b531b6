"""run_preflight against moto: a correct BYOC setup passes, and each way of getting it wrong is reported on the
right eksCluster field with a message that says what was found."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import boto3
import pytest
from botocore.exceptions import NoCredentialsError, TokenRetrievalError, UnauthorizedSSOTokenError

from pulumi_fwcluster.byoc import irsa_trust_policy, manager_trust_policy
from pulumi_fwcluster.preflight import PreflightOptions, default_session
from pulumi_fwcluster.testing.aws import inject_error, seed_byoc, set_cluster_status
from tests.preflight.pfhelpers import SPEC, one, preflight, problems

ROLE_FIELDS = ["fireworksManagerRole", "loadBalancerControllerRole", "metricWriterRole", "inferenceRole"]
IRSA_FIELDS = ["loadBalancerControllerRole", "metricWriterRole", "inferenceRole"]


def set_trust(iam: Any, arn: str, policy: dict[str, Any]) -> None:
    iam.update_assume_role_policy(RoleName=arn.rsplit("/", 1)[1], PolicyDocument=json.dumps(policy))


def issuer_of(session: boto3.Session, cluster: str) -> str:
    return str(session.client("eks").describe_cluster(name=cluster)["cluster"]["identity"]["oidc"]["issuer"])


def test_correct_setup_passes_every_check(byoc: dict[str, str], session: boto3.Session) -> None:
    assert byoc == SPEC  # the `spec` fixture's copy is current
    report = preflight(byoc, session)
    assert report.ok
    assert problems(report) == [], report.render_table()
    checks = {f.check for f in report.findings}
    assert {
        "spec.region",
        "aws.credentials",
        "aws.account",
        "eks.cluster.active",
        "eks.cluster.tag",
        "iam.oidc_provider",
        "s3.bucket.exists",
        "s3.bucket.region",
        "iam.role.exists",
        "iam.role.arn",
        "iam.role.trust.google",
        "iam.role.trust.provider",
        "iam.role.trust.sub",
        "iam.role.trust.aud",
    } <= checks
    for field in IRSA_FIELDS:
        assert one(report, "iam.role.trust.sub", f"eksCluster.{field}").status == "ok"


def test_accepts_an_args_dataclass(byoc: dict[str, str], session: boto3.Session) -> None:
    from dataclasses import make_dataclass

    from pulumi_fwcluster.preflight.spec import FIELDS

    args_type = make_dataclass("EksClusterArgs", [(snake, "str | None", None) for snake in FIELDS.values()])
    args = args_type(**{FIELDS[camel]: value for camel, value in byoc.items()})
    assert preflight(args, session).ok


def test_missing_region_fails_on_region(byoc: dict[str, str], session: boto3.Session) -> None:
    spec = {k: v for k, v in byoc.items() if k != "region"}
    report = preflight(spec, session)
    finding = one(report, "spec.region")
    assert (finding.field, finding.status) == ("eksCluster.region", "fail")
    assert "required" in finding.message
    # no region: EKS and S3 cannot be looked up, IAM still is
    assert one(report, "eks.cluster.active").status == "skip"
    assert one(report, "s3.bucket.exists").status == "skip"
    assert one(report, "iam.role.exists", "eksCluster.inferenceRole").status == "ok"


def test_misspelt_region_suggests_the_right_one(byoc: dict[str, str], session: boto3.Session) -> None:
    report = preflight({**byoc, "region": "us-eats-1"}, session)
    finding = one(report, "spec.region")
    assert (finding.field, finding.status) == ("eksCluster.region", "fail")
    assert "did you mean 'us-east-1'" in finding.message
    assert not report.ok


def test_account_mismatch_shows_the_callers_arn(spec: dict[str, str], session: boto3.Session) -> None:
    spec = {k: v.replace("123456789012", "111111111111") for k, v in spec.items()}
    report = preflight(spec, session)
    finding = one(report, "aws.account")
    assert (finding.field, finding.status) == ("eksCluster.awsAccountId", "fail")
    assert "arn:aws:sts::123456789012:user/moto" in finding.message
    assert "111111111111" in finding.message
    online = [f for f in report.findings if not f.check.startswith(("spec.", "aws."))]
    assert online and all(f.status == "skip" for f in online), report.render_table()


def test_missing_cluster(byoc: dict[str, str], session: boto3.Session) -> None:
    report = preflight({**byoc, "clusterName": "no-such-cluster"}, session)
    finding = one(report, "eks.cluster.active")
    assert (finding.field, finding.status) == ("eksCluster.clusterName", "fail")
    assert "no EKS cluster named 'no-such-cluster' in us-east-1" in finding.message
    # the IRSA roles' trust cannot be checked without the cluster's issuer
    assert one(report, "iam.role.trust.provider", "eksCluster.inferenceRole").status == "skip"


def test_cluster_not_active(byoc: dict[str, str], session: boto3.Session) -> None:
    set_cluster_status(byoc["clusterName"], "CREATING")
    finding = one(preflight(byoc, session), "eks.cluster.active")
    assert (finding.field, finding.status) == ("eksCluster.clusterName", "fail")
    assert "is CREATING; it must be ACTIVE" in finding.message


def test_cluster_without_managed_tag_warns(byoc: dict[str, str], session: boto3.Session) -> None:
    eks = session.client("eks")
    arn = eks.describe_cluster(name=byoc["clusterName"])["cluster"]["arn"]
    eks.untag_resource(resourceArn=arn, tagKeys=["fireworks.ai:managed"])
    report = preflight(byoc, session)
    finding = one(report, "eks.cluster.tag")
    assert (finding.field, finding.status) == ("eksCluster.clusterName", "warn")
    assert "fireworks.ai:managed=true" in finding.message
    assert report.ok


def test_missing_bucket(byoc: dict[str, str], session: boto3.Session) -> None:
    finding = one(preflight({**byoc, "storageBucketName": "no-such-bucket-4711"}, session), "s3.bucket.exists")
    assert (finding.field, finding.status) == ("eksCluster.storageBucketName", "fail")
    assert "'no-such-bucket-4711' does not exist" in finding.message


def test_bucket_in_another_region(byoc: dict[str, str], session: boto3.Session) -> None:
    session.client("s3", region_name="eu-west-1").create_bucket(
        Bucket="eu-bucket-4711", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    finding = one(preflight({**byoc, "storageBucketName": "eu-bucket-4711"}, session), "s3.bucket.region")
    assert (finding.field, finding.status) == ("eksCluster.storageBucketName", "fail")
    assert "is in eu-west-1, but the cluster is in us-east-1" in finding.message


@pytest.mark.parametrize("field", ROLE_FIELDS)
def test_missing_role(byoc: dict[str, str], session: boto3.Session, field: str) -> None:
    arn = "arn:aws:iam::123456789012:role/does-not-exist"
    report = preflight({**byoc, field: arn}, session)
    finding = one(report, "iam.role.exists", f"eksCluster.{field}")
    assert finding.status == "fail"
    assert "role 'does-not-exist' does not exist in account 123456789012" in finding.message
    assert [f.field for f in report.failures] == [f"eksCluster.{field}"]


def test_missing_role_is_retried_for_iam_eventual_consistency(byoc: dict[str, str], session: boto3.Session) -> None:
    calls = []
    session.events.register("before-parameter-build.iam.GetRole", lambda params, **_: calls.append(params["RoleName"]))
    spec = {"awsAccountId": byoc["awsAccountId"], "region": "us-east-1", "inferenceRole": byoc["inferenceRole"]}
    options = PreflightOptions(iam_attempts=3, iam_retry_delay=0)
    preflight({**spec, "inferenceRole": spec["inferenceRole"] + "-gone"}, session, options=options)
    assert calls.count("fireworks-byoc-inference-gone") == 3


def test_default_manager_role_is_checked_and_named(byoc: dict[str, str], session: boto3.Session) -> None:
    spec = {k: v for k, v in byoc.items() if k != "fireworksManagerRole"}
    finding = one(preflight(spec, session), "iam.role.exists", "eksCluster.fireworksManagerRole")
    assert finding.status == "ok"
    assert "not set, so the API uses arn:aws:iam::123456789012:role/FireworksManagerRole" in finding.message


def test_role_arn_with_wrong_path(byoc: dict[str, str], session: boto3.Session) -> None:
    given = byoc["inferenceRole"].replace(":role/", ":role/fireworks/")
    finding = one(preflight({**byoc, "inferenceRole": given}, session), "iam.role.arn", "eksCluster.inferenceRole")
    assert (finding.field, finding.status) == ("eksCluster.inferenceRole", "fail")
    assert byoc["inferenceRole"] in finding.message  # the canonical ARN
    assert "path '/'" in finding.message


def test_pathed_roles_pass(aws: str, session: boto3.Session) -> None:
    spec = seed_byoc(aws, role_path="/fireworks/")
    assert ":role/fireworks/" in spec["inferenceRole"]
    assert preflight(spec, session).ok


def test_irsa_role_trusting_another_clusters_provider(aws: str, session: boto3.Session) -> None:
    ours = seed_byoc(aws, cluster_name="ours", create_manager_role=True)
    theirs = seed_byoc(aws, cluster_name="theirs", create_manager_role=False)
    report = preflight({**ours, "inferenceRole": theirs["inferenceRole"]}, session)
    finding = one(report, "iam.role.trust.provider", "eksCluster.inferenceRole")
    assert finding.status == "fail"
    their_host = issuer_of(session, "theirs").removeprefix("https://")
    our_host = issuer_of(session, "ours").removeprefix("https://")
    assert their_host != our_host
    assert f"trusts another cluster's OIDC provider arn:aws:iam::123456789012:oidc-provider/{their_host}" in (
        finding.message
    )
    assert our_host in finding.message


def test_wrong_sub_names_the_sub_found(byoc: dict[str, str], session: boto3.Session, iam: Any) -> None:
    issuer = issuer_of(session, byoc["clusterName"])
    provider = f"arn:aws:iam::123456789012:oidc-provider/{issuer.removeprefix('https://')}"
    set_trust(iam, byoc["inferenceRole"], irsa_trust_policy(provider, issuer, "system:serviceaccount:default:other"))
    finding = one(preflight(byoc, session), "iam.role.trust.sub", "eksCluster.inferenceRole")
    assert (finding.field, finding.status) == ("eksCluster.inferenceRole", "fail")
    assert "'system:serviceaccount:default:other'" in finding.message
    assert "expected 'system:serviceaccount:default:inference'" in finding.message


@pytest.mark.parametrize(
    ("condition", "status"),
    [({"StringLike": {"SUB": "system:serviceaccount:gmp-system:*"}}, "warn"), ({}, "warn")],
    ids=["wildcard", "missing"],
)
def test_loose_sub_warns(
    byoc: dict[str, str], session: boto3.Session, iam: Any, condition: dict[str, Any], status: str
) -> None:
    issuer = issuer_of(session, byoc["clusterName"])
    host = issuer.removeprefix("https://")
    policy = irsa_trust_policy(f"arn:aws:iam::123456789012:oidc-provider/{host}", issuer, "unused")
    cond = {op: {k.replace("SUB", f"{host}:sub"): v for k, v in tests.items()} for op, tests in condition.items()}
    cond.setdefault("StringEquals", {})[f"{host}:aud"] = "sts.amazonaws.com"
    policy["Statement"][0]["Condition"] = cond
    set_trust(iam, byoc["metricWriterRole"], policy)
    report = preflight(byoc, session)
    finding = one(report, "iam.role.trust.sub", "eksCluster.metricWriterRole")
    assert finding.status == status
    assert report.ok


def test_missing_aud_is_reported(byoc: dict[str, str], session: boto3.Session, iam: Any) -> None:
    issuer = issuer_of(session, byoc["clusterName"])
    host = issuer.removeprefix("https://")
    policy = irsa_trust_policy(f"arn:aws:iam::123456789012:oidc-provider/{host}", issuer, "")
    policy["Statement"][0]["Condition"] = {"StringEquals": {f"{host}:sub": "system:serviceaccount:default:inference"}}
    set_trust(iam, byoc["inferenceRole"], policy)
    finding = one(preflight(byoc, session), "iam.role.trust.aud", "eksCluster.inferenceRole")
    assert finding.status == "warn"
    assert "no <issuer>:aud condition" in finding.message
    assert f"{host}:aud" in finding.remediation and "sts.amazonaws.com" in finding.remediation


def test_no_oidc_provider(byoc: dict[str, str], session: boto3.Session, iam: Any) -> None:
    for provider in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]:
        iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=provider["Arn"])
    finding = one(preflight(byoc, session), "iam.oidc_provider")
    assert (finding.field, finding.status) == ("eksCluster.clusterName", "fail")
    assert "has no IAM OIDC provider" in finding.message
    assert "eksctl utils associate-iam-oidc-provider" in finding.remediation


def test_manager_role_without_google_federation(byoc: dict[str, str], session: boto3.Session, iam: Any) -> None:
    ec2_trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
    set_trust(iam, byoc["fireworksManagerRole"], ec2_trust)
    finding = one(preflight(byoc, session), "iam.role.trust.google")
    assert (finding.field, finding.status) == ("eksCluster.fireworksManagerRole", "fail")
    assert "does not trust Federated accounts.google.com" in finding.message


def test_manager_role_with_other_audience_warns(byoc: dict[str, str], session: boto3.Session, iam: Any) -> None:
    set_trust(iam, byoc["fireworksManagerRole"], manager_trust_policy("999"))
    finding = one(preflight(byoc, session), "iam.role.trust.aud", "eksCluster.fireworksManagerRole")
    assert finding.status == "warn"
    assert "'999'" in finding.message and "117388763667264115668" in finding.message


def test_role_in_another_account_is_skipped_online(byoc: dict[str, str], session: boto3.Session) -> None:
    other = "arn:aws:iam::210987654321:role/inference"
    report = preflight({**byoc, "inferenceRole": other}, session)
    assert one(report, "spec.role_arn", "eksCluster.inferenceRole").status == "fail"  # offline rule
    finding = one(report, "iam.role.exists", "eksCluster.inferenceRole")
    assert finding.status == "skip"
    assert "another account" in finding.message


def test_no_credentials(spec: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    report = preflight(spec, boto3.Session())
    creds = [f for f in report.findings if f.check == "aws.credentials"]
    assert len(creds) == 1 and creds[0].status == "fail"
    assert "no AWS credentials were found" in creds[0].message
    for hint in ("AWS_PROFILE", "aws sso login", "AWS_ACCESS_KEY_ID", "fireworks:preflight"):
        assert hint in creds[0].remediation
    assert one(report, "eks.cluster.active").status == "skip"
    assert [f.check for f in report.failures] == ["aws.credentials"]


def test_bad_aws_profile_is_a_credentials_finding(spec: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    report = preflight(spec, None)
    finding = one(report, "aws.credentials")
    assert finding.status == "fail"
    assert "no-such-profile" in finding.message


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        ("ExpiredToken", "the AWS credentials have expired"),
        ("InvalidClientTokenId", "AWS rejected the credentials"),
        (TokenRetrievalError(provider="sso", error_msg="token expired"), "SSO session"),
        (UnauthorizedSSOTokenError(), "aws sso login"),
        (NoCredentialsError(), "no AWS credentials were found"),
    ],
    ids=["expired-token", "invalid-token", "sso-token-retrieval", "sso-unauthorized", "no-credentials"],
)
def test_credential_errors_become_one_finding(
    spec: dict[str, str], session: boto3.Session, error: Any, expected: str
) -> None:
    inject_error(session, "sts.GetCallerIdentity", error, status=403)
    report = preflight(spec, session)
    creds = report.by_check("aws.credentials")
    assert len(creds) == 1 and creds[0].status == "fail"
    assert expected in creds[0].message
    assert report.failures == creds
    assert {f.status for f in report.findings if not f.check.startswith(("spec.", "aws."))} == {"skip"}


def test_access_denied_on_eks_is_a_skip_naming_the_action(byoc: dict[str, str], session: boto3.Session) -> None:
    inject_error(session, "eks.DescribeCluster", "AccessDeniedException", status=403)
    report = preflight(byoc, session)
    finding = one(report, "eks.cluster.active")
    assert (finding.field, finding.status) == ("eksCluster.clusterName", "skip")
    assert "eks:DescribeCluster" in finding.message
    assert report.ok  # a denied call is not a failure


@pytest.mark.parametrize(
    ("operation", "check", "action"),
    [
        ("s3.HeadBucket", "s3.bucket.exists", "s3:ListBucket"),
        ("iam.GetRole", "iam.role.exists", "iam:GetRole"),
        ("iam.GetOpenIDConnectProvider", "iam.oidc_provider", "iam:GetOpenIDConnectProvider"),
    ],
)
def test_other_access_denied_name_their_action(
    byoc: dict[str, str], session: boto3.Session, operation: str, check: str, action: str
) -> None:
    inject_error(session, operation, "403" if operation.startswith("s3") else "AccessDenied", status=403)
    report = preflight(byoc, session)
    found = report.by_check(check)
    assert found and all(f.status == "skip" and action in f.message for f in found)
    assert report.ok


def test_fields_restricts_online_checks(byoc: dict[str, str], session: boto3.Session) -> None:
    calls: list[str] = []
    session.events.register("before-call.*.*", lambda model, **_: calls.append(model.name))
    report = preflight(byoc, session, fields=["storageBucketName"])
    assert {f.check for f in report.findings if not f.check.startswith("spec.")} == {
        "aws.credentials",
        "aws.account",
        "s3.bucket.exists",
        "s3.bucket.region",
    }
    assert sorted(calls) == ["GetCallerIdentity", "HeadBucket"]


def test_fields_cluster_name_rechecks_irsa_trust(byoc: dict[str, str], session: boto3.Session) -> None:
    report = preflight(byoc, session, fields=["clusterName"])
    assert one(report, "eks.cluster.active").status == "ok"
    assert {f.field for f in report.by_check("iam.role.trust.sub")} == {f"eksCluster.{f}" for f in IRSA_FIELDS}
    assert not report.by_check("s3.bucket.exists")
    assert not report.by_check("iam.role.trust.google")


def test_fields_only_offline_makes_no_call(byoc: dict[str, str], session: boto3.Session) -> None:
    calls: list[str] = []
    session.events.register("before-call.*.*", lambda model, **_: calls.append(model.name))
    report = preflight(byoc, session, fields=["workloadIdentityPoolProviderId"])
    assert calls == [] and report.ok


def test_lookups_run_concurrently(byoc: dict[str, str], session: boto3.Session) -> None:
    """Count lookups in flight at once via a before-send hook that holds each request briefly."""

    def overlap(max_workers: int) -> int:
        sess = default_session()
        lock = threading.Lock()
        state = {"now": 0, "max": 0}

        def hold(**_: Any) -> None:
            with lock:
                state["now"] += 1
                state["max"] = max(state["max"], state["now"])
            time.sleep(0.05)
            with lock:
                state["now"] -= 1

        sess.events.register("before-send", hold)
        assert preflight(byoc, sess, options=PreflightOptions(max_workers=max_workers, iam_retry_delay=0)).ok
        return state["max"]

    assert overlap(8) >= 3  # cluster, bucket and four roles start together
    assert overlap(1) == 1


def test_never_mutates(byoc: dict[str, str], session: boto3.Session) -> None:
    calls: list[str] = []
    session.events.register("before-call.*.*", lambda model, **_: calls.append(model.name))
    preflight(byoc, session)
    assert set(calls) <= {
        "GetCallerIdentity",
        "DescribeCluster",
        "HeadBucket",
        "GetRole",
        "GetOpenIDConnectProvider",
    }
