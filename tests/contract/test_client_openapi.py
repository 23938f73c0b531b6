"""Every request our client and provider send, and every reply they get, matches Fireworks' OpenAPI document.

The emulator logs each request as it arrived on the wire; this validates the log after a session that uses
every client operation and the provider's create, update, read and delete.
"""

from __future__ import annotations

import pytest

from pulumi_fwcluster.client import Cluster, FireworksClient
from pulumi_fwcluster.lifecycle import ClusterLifecycle
from pulumi_fwcluster.provider import ClusterProvider
from pulumi_fwcluster.testing.emulator import EmulatorHandle
from tests.contract.openapi import require_spec, validate_request, validate_response
from tests.fwconst import ACCOUNT, API_KEY, AWS_ACCOUNT

EKS = {
    "awsAccountId": AWS_ACCOUNT,
    "region": "us-east-1",
    "clusterName": "prod",
    "storageBucketName": "fw-prod-models",
    "inferenceRole": f"arn:aws:iam::{AWS_ACCOUNT}:role/inference",
}


def test_client_and_provider_traffic_matches_the_document(
    fireworks: EmulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_spec()
    fireworks.backend.provision_delay = 0.05
    client = FireworksClient(api_key=API_KEY, account_id=ACCOUNT, base_url=fireworks.base_url)
    client.create("direct", Cluster(display_name="Direct", eks_cluster=dict(EKS)))
    client.get("direct")
    list(client.list(page_size=1))
    client.update("direct", {"displayName": "Renamed"})
    client.find("missing")
    client.create("fake", Cluster(fake_cluster={"projectId": "p", "location": "l", "clusterName": "c"}))

    for key, value in {
        "FIREWORKS_API_KEY": API_KEY,
        "FIREWORKS_ACCOUNT_ID": ACCOUNT,
        "FIREWORKS_BASE_URL": fireworks.base_url,
        "FWCLUSTER_PREFLIGHT": "off",
        "FWCLUSTER_POLL_INTERVAL": "0.05",
    }.items():
        monkeypatch.setenv(key, value)
    provider = ClusterProvider()
    checked = provider.check({}, {"clusterId": "via-provider", "displayName": "P", "eksCluster": dict(EKS)})
    assert checked.failures == []
    created = provider.create(checked.inputs)
    assert created.outs is not None
    updated = provider.update(created.id, created.outs, dict(checked.inputs, displayName="P2"))
    assert updated.outs is not None
    provider.read(created.id, updated.outs)
    # A destroy is another command, so another provider process with its own ledger: the lifecycle core on its own.
    ClusterLifecycle().delete(created.id, updated.outs)
    client.get_connection_info("direct")

    log = fireworks.backend.requests
    assert {r.method for r in log} == {"GET", "POST", "PATCH", "DELETE"}
    documented = 0
    for record in log:
        validate_request(record.method, record.path, record.query, record.body)
        documented += validate_response(record.method, record.path, record.status, record.response_body)
    # every 200 is checked against the document; the 404s (a missing cluster, a deleted one) against the error shape
    assert documented == sum(r.status == 200 for r in log) and documented < len(log)
