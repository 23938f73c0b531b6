"""AWS drift shows up on refresh: the preflight's checks run on the recorded eksCluster, as warnings and as the
`awsFindings` output, never failing the refresh; and they cost nothing when they cannot or should not run."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest

from pulumi_fwcluster.byoc import irsa_trust_policy
from pulumi_fwcluster.testing.emulator import EmulatorHandle
from pulumi_fwcluster.testing.engine import Engine
from tests.engine.test_cluster_preflight import byoc


def set_trust(role_arn: str, document: dict[str, Any]) -> None:
    boto3.client("iam").update_assume_role_policy(
        RoleName=role_arn.rsplit("/", 1)[-1], PolicyDocument=json.dumps(document)
    )


def test_a_trust_edited_by_hand_is_found_on_refresh_and_gone_once_fixed(
    fireworks: EmulatorHandle, aws: dict[str, Any], make_engine: Callable[..., Engine]
) -> None:
    eks = aws["eks"]
    engine = make_engine(aws["env"], **{"fireworks:preflight": "enforce"})
    assert engine.up([byoc(eks)]).ok
    role = boto3.client("iam").get_role(RoleName=eks["inferenceRole"].rsplit("/", 1)[-1])["Role"]
    good = role["AssumeRolePolicyDocument"]
    other = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/0THERC1USTER"
    set_trust(
        eks["inferenceRole"],
        irsa_trust_policy(other, other.split("/", 1)[1], "system:serviceaccount:default:inference"),
    )

    plan = engine.refresh()
    assert plan.ok, plan.render()  # a finding never fails a refresh
    findings = engine.stack.get("prod").outputs["awsFindings"]
    assert [f["property"] for f in findings] == ["eksCluster.inferenceRole"]
    assert "another cluster's OIDC provider" in findings[0]["reason"]
    assert "AWS drift on eksCluster.inferenceRole" in engine.stderr
    assert engine.preview([byoc(eks)]).ops() == {"prod": "same"}  # drift outside the program is no change to it

    set_trust(eks["inferenceRole"], good)
    assert engine.refresh().ok
    assert engine.stack.get("prod").outputs["awsFindings"] == []


class Recorder(ThreadingHTTPServer):
    """An HTTP endpoint that records every request: where AWS calls would go if any were made."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                recorder.paths.append(self.path)
                self.send_response(500)
                self.end_headers()

            do_GET = do_POST

            def log_message(self, format: str, *args: Any) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    server = Recorder()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


def test_no_aws_call_when_the_preflight_is_off_or_there_are_no_credentials(
    fireworks: EmulatorHandle, aws: dict[str, Any], make_engine: Callable[..., Engine], recorder: Recorder
) -> None:
    created = make_engine(aws["env"], **{"fireworks:preflight": "off"})
    assert created.up([byoc(aws["eks"])]).ok

    off = make_engine({**aws["env"], "AWS_ENDPOINT_URL": recorder.endpoint}, **{"fireworks:preflight": "off"})
    off.stack = created.stack
    assert off.refresh().ok
    assert "awsFindings" not in off.stack.get("prod").outputs

    no_credentials = {
        **aws["env"],
        "AWS_ENDPOINT_URL": recorder.endpoint,
        "AWS_ACCESS_KEY_ID": "",
        "AWS_SECRET_ACCESS_KEY": "",
    }
    blind = make_engine(no_credentials, **{"fireworks:preflight": "warn"})
    blind.stack = created.stack
    assert blind.refresh().ok
    assert blind.stderr.count("AWS checks skipped on refresh: no AWS credentials") == 1
    assert "awsFindings" not in blind.stack.get("prod").outputs
    assert recorder.paths == []
