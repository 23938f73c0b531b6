"""The plan summary of previews the provider really planned, through both doors: what the engine harness would have
`pulumi preview --json` print, summarised as a reviewer sees it."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from pulumi_fwcluster.plansummary import load_summary, render_markdown
from pulumi_fwcluster.testing.emulator import EmulatorHandle
from pulumi_fwcluster.testing.engine import Engine, preview_digest
from tests.engine.enginehelpers import ACCOUNT, DOORS, INFERENCE, Door, cluster


@pytest.mark.parametrize("door", DOORS)
def test_a_reviewer_sees_which_field_takes_the_cluster_down(
    fireworks: EmulatorHandle, make_engine: Callable[..., Engine], door: Door
) -> None:
    engine = make_engine(door=door)
    assert engine.up([cluster("prod", door=door), cluster("stg", door=door, cluster_id="stg-use1")]).ok

    program = [
        cluster("prod", door=door, inference_role=INFERENCE + "-v2"),  # an eksCluster field: delete first
        cluster("stg", door=door, cluster_id="stg-use1-v2", display_name="Staging"),  # a new id: create first
    ]
    digest = preview_digest(engine.preview(program), engine.stack)
    summary = load_summary(json.dumps(digest))

    prod, stg = summary.clusters
    assert (prod.name, prod.op, prod.downtime, prod.replacement) == ("prod", "replace", True, "delete-first")
    assert prod.replace_reasons == ("eksCluster.inferenceRole",)
    assert (stg.op, stg.downtime, stg.replacement) == ("replace", False, "create-first")
    assert stg.replace_reasons == ("clusterId",)
    assert [c.name for c in summary.down] == ["prod"]
    markdown = render_markdown(summary)
    assert "🔴" in markdown and "eksCluster.inferenceRole" in markdown and "no downtime" in markdown
    assert f"accounts/{ACCOUNT}/clusters/prod-use1" in markdown


@pytest.mark.parametrize("door", DOORS)
def test_a_failed_cluster_is_planned_as_downtime_with_its_reason(
    fireworks: EmulatorHandle, make_engine: Callable[..., Engine], door: Door
) -> None:
    engine = make_engine(door=door)
    assert engine.up([cluster(door=door)]).ok
    fireworks.backend.fail_cluster(ACCOUNT, "prod-use1", "node group deleted")
    assert engine.refresh().ok
    summary = load_summary(json.dumps(preview_digest(engine.preview([cluster(door=door)]), engine.stack)))
    (prod,) = summary.clusters
    assert prod.downtime and prod.replace_reasons == ("state",)
