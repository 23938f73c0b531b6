"""Mocks for the program tests: pulumi_aws resources get plausible ids and state; the Fireworks `Cluster` dynamic
resource is served by the real provider (unpickled from `__provider`, as `python -m pulumi.dynamic` does) against
the emulator; optionally every AWS resource is mirrored into moto, so the provider's own preflight judges it."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import dill
import pulumi
from pulumi.runtime import mocks as pulumi_mocks

from pulumi_fwcluster.testing.aws import issuer_for, set_cluster_issuer

ACCOUNT = "123456789012"
REGION = "us-east-1"
CLUSTER_TYPE = "pulumi-python:dynamic/fireworks:Cluster"
COMPONENT_TYPE = "fireworks:aws:FireworksAwsAccess"


@dataclass
class Registered:
    typ: str
    name: str
    inputs: dict[str, Any]
    id: str | None = None
    outputs: dict[str, Any] = field(default_factory=dict)


@dataclass
class Request:
    """What the SDK sent to RegisterResource (components included, which never reach `new_resource`)."""

    typ: str
    name: str
    urn: str
    parent: str
    alias_names: list[str]


class RecordingMonitor(pulumi_mocks.MockMonitor):
    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.requests: list[Request] = []

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        aliases = [a.spec.name for a in request.aliases if a.HasField("spec") and a.spec.name]
        self.requests.append(Request(request.type, request.name, response.urn, request.parent, aliases))
        return response


class Mocks(pulumi.runtime.Mocks):
    """`new_resource` returns state shaped like AWS's; `mirror`, when given, also receives each resource."""

    def __init__(
        self,
        *,
        account: str = ACCOUNT,
        region: str = REGION,
        serve_cluster: bool = False,
        mirror: MotoMirror | None = None,
    ) -> None:
        self.account, self.region = account, region
        self.serve_cluster = serve_cluster
        self.mirror = mirror
        self.resources: list[Registered] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.provider_calls: list[str] = []
        self._lock = threading.Lock()

    # -- queries ----------------------------------------------------------------------------------------------

    def of_type(self, typ: str) -> list[Registered]:
        return [r for r in self.resources if r.typ == typ]

    def named(self, name: str) -> Registered:
        found = [r for r in self.resources if r.name == name]
        assert len(found) == 1, f"expected one resource named {name!r}, got {[r.name for r in self.resources]}"
        return found[0]

    # -- Mocks ------------------------------------------------------------------------------------------------

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        self.calls.append((args.token, dict(args.args)))
        acct, region = self.account, self.region
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            arn = f"arn:aws:iam::{acct}:user/ci"
            return {"accountId": acct, "arn": arn, "userId": "AIDATEST", "id": acct}, []
        if args.token == "aws:index/getRegion:getRegion":
            return {"region": region, "name": region, "id": region, "endpoint": f"ec2.{region}.amazonaws.com"}, []
        if args.token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            names = [f"{region}a", f"{region}b", f"{region}c"]
            return {"names": names, "zoneIds": [f"use1-az{i}" for i in range(3)], "id": region}, []
        if args.token == "aws:eks/getCluster:getCluster":
            name = str(args.args["name"])
            return self._eks_state(name, {"tags": {"fireworks.ai:managed": "true"}}), []
        raise NotImplementedError(f"no mock for the invoke {args.token}")

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        inputs = dict(args.inputs)
        typ, name = args.typ, args.name
        if not args.custom:  # a component: recorded by RecordingMonitor only
            return None, {}
        if typ == CLUSTER_TYPE and self.serve_cluster:
            rid, outs = self._serve_cluster(inputs)
        else:
            rid, outs = self._aws(typ, name, inputs)
            if self.mirror is not None:
                self.mirror.receive(typ, inputs, outs)
        with self._lock:
            self.resources.append(Registered(typ, name, inputs, rid, outs))
        return rid, outs

    def _eks_state(self, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
        region = inputs.get("region") or self.region
        return {
            **inputs,
            "name": name,
            "arn": f"arn:aws:eks:{region}:{self.account}:cluster/{name}",
            "region": region,
            "status": "ACTIVE",
            "endpoint": f"https://{name}.gr7.{region}.eks.amazonaws.com",
            "identities": [{"oidcs": [{"issuer": issuer_for(name, region, self.account)}]}],
            "certificateAuthorities": [{"data": "LS0tLS1CRUdJTg=="}],
            "vpcConfig": inputs.get("vpcConfig") or {"subnetIds": []},
            "id": name,
        }

    def _aws(self, typ: str, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        acct = self.account
        if typ == "aws:iam/role:Role":
            role = inputs.get("name") or f"{name}-abc1234"
            path = inputs.get("path") or "/"
            return role, {**inputs, "name": role, "arn": f"arn:aws:iam::{acct}:role{path}{role}", "uniqueId": "AROA1"}
        if typ == "aws:iam/openIdConnectProvider:OpenIdConnectProvider":
            arn = f"arn:aws:iam::{acct}:oidc-provider/{str(inputs['url']).removeprefix('https://')}"
            return arn, {**inputs, "arn": arn}
        if typ == "aws:eks/cluster:Cluster":
            cluster = inputs.get("name") or f"{name}-eks1234"
            return cluster, self._eks_state(cluster, inputs)
        if typ == "aws:s3/bucket:Bucket":
            bucket = inputs.get("bucket") or f"{name}-bkt1234"
            region = inputs.get("region") or self.region
            return bucket, {**inputs, "bucket": bucket, "arn": f"arn:aws:s3:::{bucket}", "region": region}
        if typ == "aws:iam/policy:Policy":
            arn = f"arn:aws:iam::{acct}:policy/{inputs.get('name') or name}"
            return arn, {**inputs, "arn": arn}
        if typ.startswith("aws:ec2/"):
            kind = typ.rsplit(":", 1)[-1].lower()
            return f"{kind}-{abs(hash(name)) % 10**8:08d}", {
                **inputs,
                "arn": f"arn:aws:ec2:{self.region}:{acct}:{kind}",
            }
        return f"{name}-id", dict(inputs)

    def _serve_cluster(self, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """As `python -m pulumi.dynamic` would: unpickle the provider, Check, then Create."""
        provider = dill.loads(base64.b64decode(inputs["__provider"]))
        checked = provider.check({}, inputs)
        if checked.failures:
            raise RuntimeError("check failed: " + "; ".join(f"{f.property}: {f.reason}" for f in checked.failures))
        self.provider_calls.append("check")
        result = provider.create({k: v for k, v in checked.inputs.items() if k != "__provider"})
        self.provider_calls.append("create")
        return str(result.id), dict(result.outs or {})


class MotoMirror:
    """Recreates mocked pulumi_aws resources in moto (which must run in this process), exactly as registered."""

    def __init__(self, session: Any, region: str = REGION, *, skip: frozenset[str] = frozenset()) -> None:
        self.skip = skip
        """Resource types not to recreate: a way to break the setup on purpose."""
        self.iam = session.client("iam")
        self.eks = session.client("eks", region_name=region)
        self.session = session
        self.region = region
        self._lock = threading.Lock()

    def receive(self, typ: str, inputs: Mapping[str, Any], outputs: Mapping[str, Any]) -> None:
        handler: Callable[[Mapping[str, Any], Mapping[str, Any]], None] | None = {
            "aws:eks/cluster:Cluster": self._cluster,
            "aws:iam/openIdConnectProvider:OpenIdConnectProvider": self._oidc,
            "aws:iam/role:Role": self._role,
            "aws:iam/rolePolicy:RolePolicy": self._role_policy,
            "aws:s3/bucket:Bucket": self._bucket,
        }.get(typ)
        if handler is not None and typ not in self.skip:
            with self._lock:
                handler(inputs, outputs)

    @staticmethod
    def _tags(inputs: Mapping[str, Any]) -> list[dict[str, str]]:
        return [{"Key": k, "Value": str(v)} for k, v in (inputs.get("tags") or {}).items()]

    def _cluster(self, inputs: Mapping[str, Any], outputs: Mapping[str, Any]) -> None:
        role = self.iam.create_role(
            RoleName=f"{outputs['name']}-eks"[:64],
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
        )["Role"]["Arn"]
        self.eks.create_cluster(
            name=outputs["name"],
            roleArn=role,
            resourcesVpcConfig={"subnetIds": []},
            tags={k: str(v) for k, v in (inputs.get("tags") or {}).items()},
        )
        set_cluster_issuer(outputs["name"], outputs["identities"][0]["oidcs"][0]["issuer"], region=self.region)

    def _oidc(self, inputs: Mapping[str, Any], _outputs: Mapping[str, Any]) -> None:
        self.iam.create_open_id_connect_provider(
            Url=inputs["url"], ClientIDList=list(inputs["clientIdLists"]), Tags=self._tags(inputs)
        )

    def _role(self, inputs: Mapping[str, Any], outputs: Mapping[str, Any]) -> None:
        self.iam.create_role(
            RoleName=outputs["name"],
            Path=inputs.get("path") or "/",
            AssumeRolePolicyDocument=inputs["assumeRolePolicy"],
            Tags=self._tags(inputs),
        )

    def _role_policy(self, inputs: Mapping[str, Any], _outputs: Mapping[str, Any]) -> None:
        self.iam.put_role_policy(RoleName=inputs["role"], PolicyName=inputs["name"], PolicyDocument=inputs["policy"])

    def _bucket(self, inputs: Mapping[str, Any], outputs: Mapping[str, Any]) -> None:
        region = outputs["region"]
        s3 = self.session.client("s3", region_name=region)
        extra = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        s3.create_bucket(Bucket=outputs["bucket"], **extra)


_TEST: Callable[[Callable[[], Any]], Callable[[], None]] = pulumi.runtime.test


def run_program(program: Callable[[], Any]) -> None:
    """Run `program` as `@pulumi.runtime.test` does: waiting for the Output it returns and every pending RPC."""
    _TEST(program)()


def use_mocks(mocks: Mocks, *, project: str = "project", stack: str = "test") -> RecordingMonitor:
    """set_mocks with a recording monitor; returns the monitor (its `requests` include components)."""
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=False, monitor=monitor)
    return monitor
