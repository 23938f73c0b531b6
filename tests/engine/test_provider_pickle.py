"""`__provider` is pickled by reference: tiny, the same in every process, and free of any setting or secret."""

from __future__ import annotations

import base64
import subprocess
import sys

import dill
from pulumi.dynamic import Config, ConfigureRequest

from pulumi_fwcluster.provider import ClusterProvider
from pulumi_fwcluster.testing.engine import Engine

SERIALIZE = (
    "from pulumi_fwcluster.testing.engine import Engine;"
    "from pulumi_fwcluster.provider import ClusterProvider;"
    "print(Engine.serialize(ClusterProvider()))"
)


def serialized_in_a_new_process() -> str:
    out = subprocess.run([sys.executable, "-c", SERIALIZE], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_provider_is_small_and_identical_across_processes() -> None:
    first, second = serialized_in_a_new_process(), serialized_in_a_new_process()
    assert first == second
    assert len(first) < 1024
    raw = base64.b64decode(first)
    assert b"pulumi_fwcluster.provider" in raw and b"ClusterProvider" in raw  # a reference, not the code
    assert b"requests" not in raw and b"boto3" not in raw


def test_a_configured_provider_pickles_no_settings() -> None:
    provider = ClusterProvider()
    secret = "fw-super-secret-key-in-config"
    provider.configure(ConfigureRequest(Config({"fireworks:apiKey": secret, "fireworks:accountId": "acme"}, "p")))
    assert provider.settings.api_key is not None
    serialized = Engine.serialize(provider)
    assert secret.encode() not in base64.b64decode(serialized)
    assert serialized == Engine.serialize(ClusterProvider())
    revived = dill.loads(base64.b64decode(serialized))
    assert isinstance(revived, ClusterProvider) and revived.settings.account_id != "acme"
