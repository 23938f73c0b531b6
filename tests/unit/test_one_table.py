"""The cluster's fields live in one table (`spec.FIELDS`); everything else that names them either derives from it or
is proven here to agree with it: the resource arguments, the preflight, the CLI, the component, the emulator,
Fireworks' own OpenAPI document and the output attributes."""

from __future__ import annotations

from dataclasses import fields

import pytest

from pulumi_fwcluster import spec
from pulumi_fwcluster.cli import preflight as preflight_command
from pulumi_fwcluster.preflight import spec as preflight_spec
from pulumi_fwcluster.resource import _OUTPUTS, ClusterArgs, EksClusterArgs, FakeClusterArgs
from pulumi_fwcluster.testing.emulator import backend
from tests.contract.openapi import require_spec

EKS = [f.key for f in spec.group_fields("eksCluster")]
FAKE = [f.key for f in spec.group_fields("fakeCluster")]
OURS = {"endpoint", "awsFindings"}  # outputs this provider adds; the API has no such fields


def test_argument_dataclasses_have_exactly_the_tables_fields_in_its_order() -> None:
    assert [f.name for f in fields(EksClusterArgs)] == [spec.snake_case(k) for k in EKS]
    assert [f.name for f in fields(FakeClusterArgs)] == [spec.snake_case(k) for k in FAKE]
    assert {f.name for f in fields(ClusterArgs)} == {spec.snake_case(k) for k in spec.TOP_LEVEL}


def test_every_property_and_output_has_an_attribute() -> None:
    assert set(_OUTPUTS) == {*spec.TOP_LEVEL, *spec.OUTPUT_ONLY}


def test_the_preflight_checks_the_tables_eks_fields() -> None:
    assert list(preflight_spec.FIELDS) == EKS
    assert [f.name for f in fields(preflight_spec.PreflightSpec)] == [spec.snake_case(k) for k in EKS]
    roles = [f.key for f in spec.group_fields("eksCluster") if f.rule is not None and "Role" in f.key]
    assert sorted(preflight_spec.ROLE_FIELDS) == sorted(roles)


def test_every_eks_field_has_one_cli_flag() -> None:
    options = {o.name: o for o in preflight_command.params}
    flags = [f.flag for f in spec.group_fields("eksCluster")]
    assert all(flags) and len(set(flags)) == len(flags)
    for f in spec.group_fields("eksCluster"):
        assert f.flag is not None
        option = options[f.flag.replace("-", "_")]
        assert option.opts == [f"--{f.flag}"] and f.path in (getattr(option, "help", "") or "")


def test_the_emulator_accepts_exactly_the_tables_fields() -> None:
    assert set(backend._EKS_FIELDS) == set(EKS)
    assert set(backend._FAKE_FIELDS) == set(FAKE)
    body = {f.path for f in spec.SCALARS if f.wire == "body"} | set(spec.GROUPS)
    assert set(backend._CLUSTER_FIELDS) == body
    assert set(backend._READ_ONLY_FIELDS) == set(spec.OUTPUT_ONLY) - OURS


def test_fireworks_openapi_document_agrees_with_the_table() -> None:
    doc = require_spec()
    schemas = doc["components"]["schemas"]
    assert set(schemas["gatewayEksCluster"]["properties"]) == set(EKS)
    assert set(schemas["gatewayFakeCluster"]["properties"]) == set(FAKE)
    cluster = schemas["gatewayCluster"]["properties"]
    writable = {k for k, v in cluster.items() if not v.get("readOnly")}
    assert writable == {f.path for f in spec.SCALARS if f.wire == "body"} | set(spec.GROUPS)
    assert {k for k, v in cluster.items() if v.get("readOnly")} == set(spec.OUTPUT_ONLY) - OURS
    required = set(schemas["gatewayEksCluster"].get("required", []))
    assert required <= {f.key for f in spec.group_fields("eksCluster") if f.required}


@pytest.mark.parametrize("f", spec.FIELDS, ids=[f.path for f in spec.FIELDS])
def test_every_field_is_documented_and_classified(f: spec.Field) -> None:
    assert f.doc and f.doc[0].isupper() and f.on_change in ("update", "replace")
    if f.wire == "path":  # in the cluster's name: a new name is a new cluster
        assert f.on_change == "replace"
