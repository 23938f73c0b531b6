"""`make demo`: run examples/quickstart end to end on embedded defaults, with no credentials.

A Fireworks emulator and a moto AWS (seeded with a correct BYOC setup: EKS cluster, OIDC provider, bucket, roles)
start on 127.0.0.1. With the `pulumi` CLI on PATH, the real `pulumi up` and `pulumi destroy` run on a local file
backend. Without it, the engine harness drives the real provider server (`python -m pulumi.dynamic`) in the
engine's order, and each step's plan is printed the way Pulumi prints it.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .client import FireworksClient
from .plansummary import render_markdown, summarize
from .provider import ClusterProvider
from .resource import ClusterArgs, cluster_props
from .spec import DYNAMIC_TYPE, NATIVE_TYPE
from .testing.aws import AWS_ENV_CONFLICTS, aws_env, moto_server, seed_byoc
from .testing.emulator import Backend, serve
from .testing.engine import CustomTimeouts, Desired, Engine, NativePlugin, Plan, Stack, preview_digest

DEMO_KEY = "fw-demo-key"
DEMO_ACCOUNT = "demo-account"
# A checkout's own example when there is one (`make demo`), else the copy the wheel carries (`fwcluster demo`).
_CHECKOUT_EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "quickstart"
EXAMPLE = (
    _CHECKOUT_EXAMPLE if _CHECKOUT_EXAMPLE.is_dir() else Path(__file__).resolve().parent / "examples" / "quickstart"
)


def _load_cluster_args(example: Path) -> Callable[[Callable[[str], str | None]], ClusterArgs]:
    spec = importlib.util.spec_from_file_location("quickstart_cluster_args", example / "cluster_args.py")
    if spec is None or spec.loader is None:
        raise SystemExit(f"{example}/cluster_args.py not found")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    builder: Callable[[Callable[[str], str | None]], ClusterArgs] = module.cluster_args
    return builder


def _stack_config(eks: Mapping[str, str]) -> dict[str, str]:
    return {
        "clusterId": "demo-use1",
        "displayName": "Demo us-east-1",
        "awsAccountId": eks["awsAccountId"],
        "region": eks["region"],
        "eksClusterName": eks["clusterName"],
        "bucket": eks["storageBucketName"],
        "managerRole": eks["fireworksManagerRole"],
        "inferenceRole": eks["inferenceRole"],
        "metricWriterRole": eks["metricWriterRole"],
        "loadBalancerControllerRole": eks["loadBalancerControllerRole"],
    }


def _say(command: str) -> None:
    print(f"\n$ {command}", flush=True)


def _show(plan: Plan, *, expect_ok: bool = True) -> Plan:
    print(plan.render(), flush=True)
    if plan.ok != expect_ok:
        raise SystemExit(f"demo: unexpected outcome of {plan.kind}")
    return plan


def run_with_harness(
    example: Path, eks: Mapping[str, str], fireworks_url: str, env: dict[str, str], provision_delay: float
) -> None:
    cluster_args = _load_cluster_args(example)
    config = _stack_config(eks)

    def program(**changes: str) -> list[Desired]:
        config.update(changes)
        return [Desired("byoc", ClusterProvider(), cluster_props(cluster_args(config.get)), DYNAMIC_TYPE)]

    provider_config = {
        "fireworks:apiKey": DEMO_KEY,
        "fireworks:accountId": DEMO_ACCOUNT,
        "fireworks:baseUrl": fireworks_url,
        "fireworks:pollInterval": "0.5s",
        "fireworks:maxPollInterval": "2s",
    }
    with tempfile.TemporaryDirectory() as state_dir:
        engine = Engine(cwd=example, config=provider_config, env=env, state_path=Path(state_dir) / "state.json")
        _say("pulumi preview")
        _show(engine.preview(program()))
        _say("pulumi up   # POST, then wait until READY")
        _show(engine.up(program()))
        _say("pulumi preview   # unchanged: no request to Fireworks")
        _show(engine.preview(program()))
        _say("pulumi config set displayName 'Demo (renamed)' && pulumi up")
        _show(engine.up(program(displayName="Demo (renamed)")))
        bad_role = eks["inferenceRole"].replace(":role/", ":role/missing-")
        _say(f"pulumi config set inferenceRole {bad_role} && pulumi preview   # the AWS preflight catches it")
        _show(engine.preview(program(inferenceRole=bad_role)), expect_ok=False)
        config["inferenceRole"] = eks["inferenceRole"]
        bucket = _second_bucket(eks)
        _say(f"pulumi config set bucket {bucket} && pulumi preview --json | fwcluster plan-summary   # the PR comment")
        preview = _show(engine.preview(program(bucket=bucket)))
        print(render_markdown(summarize(preview_digest(preview, engine.stack))), flush=True)
        _say("pulumi up   # an eksCluster field: replace, deleting first")
        _show(engine.up(program()))
        _say("pulumi config set clusterId demo-use1-b && pulumi up   # replace: create the new one, then delete")
        _show(engine.up(program(clusterId="demo-use1-b")))
        client = FireworksClient(api_key=DEMO_KEY, account_id=DEMO_ACCOUNT, base_url=fireworks_url)
        client.update("demo-use1-b", {"displayName": "Renamed in the Fireworks UI"})
        _say("pulumi refresh   # after someone renamed the cluster in the Fireworks UI")
        _show(engine.refresh())
        _say("pulumi up   # puts the program's displayName back")
        _show(engine.up(program()))
        engine.stop()
        native_pass(engine.stack, cluster_args, config, provider_config, example, env, provision_delay)


def native_pass(
    stack: Stack,
    cluster_args: Callable[[Callable[[str], str | None]], ClusterArgs],
    config: dict[str, str],
    provider_config: Mapping[str, str],
    example: Path,
    env: dict[str, str],
    provision_delay: float,
) -> None:
    """The same cluster moved to the native door (`pulumi-resource-fireworks`, started as the CLI starts it): import,
    a detailed diff, and a customTimeout that runs out and is resumed."""
    print(
        "\n# The native door: `from pulumi_fwcluster.native import Cluster`, type fireworks:index:Cluster", flush=True
    )
    plugin = NativePlugin([str(Path(sys.executable).parent / "pulumi-resource-fireworks")])
    engine = Engine(cwd=example, config=provider_config, env=env, stack=stack, plugin=plugin)
    cluster_id = config["clusterId"]

    def program(timeouts: CustomTimeouts | None = None, **changes: str) -> list[Desired]:
        config.update(changes)
        desired = Desired("byoc", None, cluster_props(cluster_args(config.get)), NATIVE_TYPE)
        desired.custom_timeouts = timeouts
        return [desired]

    old = stack.get("byoc")
    _say(f"pulumi state delete '{old.urn}'   # forget the dynamic resource; the cluster keeps running")
    stack.remove(old)
    stack.save()
    name = f"accounts/{DEMO_ACCOUNT}/clusters/{cluster_id}"
    _say(f"pulumi import fireworks:index:Cluster byoc {name}")
    _show(engine.import_(program()[0], name))
    _say("pulumi preview --diff   # unchanged after the import")
    _show(engine.preview(program()))
    _say("pulumi config set displayName 'Demo (native)' && pulumi preview --diff   # a detailed diff")
    _show(engine.preview(program(displayName="Demo (native)")))
    bucket = config["bucket"]
    first = bucket.removesuffix("-b")
    _say(f"pulumi config set bucket {first} && pulumi preview --diff   # the detailed diff names the field")
    _show(engine.preview(program(bucket=first)))
    config["bucket"] = bucket
    _say("pulumi up   # customTimeouts(update='5m') reaches the provider; one PATCH, READY at once")
    _show(engine.up(program(CustomTimeouts(update="5m"), displayName="Demo (native)")))
    short = f"{provision_delay / 3:.2g}s"  # shorter than Fireworks (the emulator) takes to provision
    _say(f"pulumi config set clusterId demo-use1-c && pulumi up   # customTimeouts(create='{short}') runs out")
    _show(engine.up(program(CustomTimeouts(create=short), clusterId="demo-use1-c")), expect_ok=False)
    _say("pulumi up   # the cluster was recorded with its init error: this run resumes waiting")
    _show(engine.up(program()))
    _say("pulumi destroy")
    _show(engine.destroy())
    engine.stop()


def _second_bucket(eks: Mapping[str, str]) -> str:
    import boto3

    name = f"{eks['storageBucketName']}-b"[:63]
    s3 = boto3.client("s3", region_name=eks["region"])
    s3.create_bucket(Bucket=name)
    return name


def run_with_cli(example: Path, eks: Mapping[str, str], fireworks_url: str, env: dict[str, str]) -> None:
    with tempfile.TemporaryDirectory() as home:
        work = Path(home) / "quickstart"
        shutil.copytree(example, work)
        cli_env = {
            **env,
            "PULUMI_BACKEND_URL": f"file://{home}",
            "PULUMI_CONFIG_PASSPHRASE": "demo",
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        }

        def pulumi(*args: str) -> None:
            print(f"\n$ pulumi {' '.join(args)}", flush=True)
            subprocess.run(["pulumi", *args, "--non-interactive"], cwd=work, env=cli_env, check=True)

        pulumi("stack", "init", "demo")
        for key, value in _stack_config(eks).items():
            pulumi("config", "set", key, value)
        pulumi("config", "set", "fireworks:accountId", DEMO_ACCOUNT)
        pulumi("config", "set", "fireworks:baseUrl", fireworks_url)
        pulumi("config", "set", "--secret", "fireworks:apiKey", DEMO_KEY)
        pulumi("up", "--yes")
        pulumi("config", "set", "displayName", "Demo (renamed)")
        pulumi("up", "--yes", "--diff")
        pulumi("destroy", "--yes")
        pulumi("stack", "rm", "--yes", "demo")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--example", type=Path, default=EXAMPLE, help="the Pulumi project to run")
    parser.add_argument("--provision-delay", type=float, default=3.0, help="emulated seconds from CREATING to READY")
    parser.add_argument("--harness", action="store_true", help="use the engine harness even if `pulumi` is on PATH")
    args = parser.parse_args(argv)

    backend = Backend(provision_delay=args.provision_delay, delete_delay=1.0, api_keys={DEMO_KEY: None})
    with serve(backend) as fireworks, moto_server() as endpoint:
        env: dict[str, Any] = {k: v for k, v in os.environ.items() if k not in AWS_ENV_CONFLICTS}
        env.update(aws_env(endpoint))
        os.environ.update(aws_env(endpoint))
        for key in AWS_ENV_CONFLICTS:
            os.environ.pop(key, None)
        eks = seed_byoc(endpoint, cluster_name="demo-eks")
        print(f"Fireworks emulator: {fireworks.base_url}   moto: {endpoint}")
        print("AWS side (moto):", ", ".join(f"{k}={v}" for k, v in eks.items()))
        if shutil.which("pulumi") and not args.harness:
            run_with_cli(args.example, eks, fireworks.base_url, env)
        else:
            print("(the pulumi CLI is not on PATH: the engine harness drives the real provider server instead)")
            run_with_harness(args.example, eks, fireworks.base_url, env, args.provision_delay)
        print("\nDemo finished: every step behaved as expected.")


if __name__ == "__main__":
    main()
