"""What the built wheel carries, and what an installed copy (no checkout beside it) can do."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(out)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("pulumi_fwcluster-*.whl")
    yield built


def test_the_wheel_tells_the_language_host_it_is_no_resource_plugin(wheel: Path) -> None:
    # Without it the Python language host derives a plugin `fwcluster` from the distribution's name and every
    # `pulumi preview` tries to download pulumi-resource-fwcluster (pulumi/pulumi#8011).
    with zipfile.ZipFile(wheel) as z:
        assert json.loads(z.read("pulumi_fwcluster/pulumi-plugin.json")) == {"resource": False}
        names = set(z.namelist())
    assert "pulumi_fwcluster/py.typed" in names
    assert {
        "pulumi_fwcluster/examples/quickstart/__main__.py",
        "pulumi_fwcluster/examples/quickstart/cluster_args.py",
    } <= names
    assert not any(n.startswith("tests/") for n in names)


def test_an_installed_wheel_finds_its_own_demo_project(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as z:
        z.extractall(site)
    env = {**os.environ, "PYTHONPATH": str(site)}
    probe = subprocess.run(
        [sys.executable, "-c", "import pulumi_fwcluster.demo as d; print(d.__file__); print(d.EXAMPLE)"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    module, example = (Path(line) for line in probe.stdout.split())
    assert module.is_relative_to(site) and example.is_relative_to(site)
    assert (example / "cluster_args.py").is_file()
    usage = subprocess.run(
        [sys.executable, "-m", "pulumi_fwcluster.cli", "demo", "--help"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert usage.returncode == 0 and "--provision-delay" in usage.stdout
