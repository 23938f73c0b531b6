"""The `fwcluster` command line: `preflight` runs the AWS preflight checks on an eksCluster spec, `plan-summary`
turns `pulumi preview --json` into a pull-request comment, and `demo` runs the quickstart offline.

`preflight` exits 0 when no check failed, 1 when one did, 2 for usage errors (bad flags, unreadable spec file).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from . import spec as spec_table
from .preflight import FIELDS, PreflightReport, default_session, run_preflight

F = TypeVar("F", bound=Callable[..., Any])

_STYLES = {"ok": "green", "warn": "yellow", "fail": "bold red", "skip": "dim"}

# click parameter name -> camelCase eksCluster field, from the field table.
_SPEC_FLAGS = {f.flag.replace("-", "_"): f.key for f in spec_table.group_fields("eksCluster") if f.flag}


def _spec_options(command: F) -> F:
    """One option per eksCluster field of the table, in table order."""
    for f in reversed(spec_table.group_fields("eksCluster")):
        if f.flag:
            command = click.option(f"--{f.flag}", help=f"{f.path}: {f.doc}")(command)
    return command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="pulumi-fwcluster")
def main() -> None:
    """Tools for Fireworks AI bring-your-own-cloud clusters."""


def load_spec_file(path: str) -> dict[str, Any]:
    """Read a YAML or JSON file holding the camelCase eksCluster object, or a document with a top-level
    `eksCluster` key (a Cluster body). Raises click.BadParameter with the reason."""
    import yaml

    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise click.BadParameter(f"cannot read {path}: {exc.strerror}", param_hint="--file") from None
    try:
        doc = json.loads(text) if path.endswith(".json") else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise click.BadParameter(f"{path} is not valid YAML/JSON: {exc}", param_hint="--file") from None
    if isinstance(doc, dict) and isinstance(doc.get("eksCluster"), dict):
        doc = doc["eksCluster"]
    if not isinstance(doc, dict):
        raise click.BadParameter(f"{path} must hold an eksCluster object (a mapping)", param_hint="--file")
    unknown = sorted(set(doc) - set(FIELDS))
    if unknown:
        raise click.BadParameter(
            f"{path}: unknown eksCluster field(s) {', '.join(unknown)}; expected some of {', '.join(FIELDS)}",
            param_hint="--file",
        )
    return {str(k): v for k, v in doc.items() if v is not None}


def render_rich(report: PreflightReport, *, problems_only: bool = False) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title="Fireworks BYOC preflight", show_lines=False)
    table.add_column("status", no_wrap=True)
    table.add_column("check", no_wrap=True)
    table.add_column("field", no_wrap=True)
    table.add_column("message", overflow="fold", min_width=30)
    for f in report.findings:
        if problems_only and f.status == "ok":
            continue
        message = _escape(f.message)
        if f.remediation:
            message += f"\n[italic]fix:[/italic] {_escape(f.remediation)}"
        table.add_row(
            f"[{_STYLES[f.status]}]{f.status.upper()}[/]",
            f.check,
            f.field.removeprefix("eksCluster.") or "-",
            message,
        )
    console.print(table)
    style = "bold green" if report.ok else "bold red"
    console.print(f"[{style}]{_escape(report.summary())}[/]")


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


@main.command()
@click.option("--file", "-f", "spec_file", metavar="PATH", help="YAML/JSON eksCluster object ('-' for stdin).")
@_spec_options
@click.option("--profile", help="AWS profile (default: the standard credential chain, e.g. AWS_PROFILE).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--problems-only", is_flag=True, help="Hide the rows of checks that passed.")
def preflight(
    spec_file: str | None, profile: str | None, as_json: bool, problems_only: bool, **flags: str | None
) -> None:
    """Check that the AWS side of a BYOC cluster is ready for Fireworks (read-only).

    Give the eksCluster spec with --file, with flags, or both (flags win). Exit code 1 when a check fails.
    Needs eks:DescribeCluster, s3:ListBucket, iam:GetRole and iam:GetOpenIDConnectProvider; a denied call
    is reported as skipped.
    """
    spec: dict[str, Any] = load_spec_file(spec_file) if spec_file else {}
    spec.update({_SPEC_FLAGS[k]: v for k, v in flags.items() if v is not None})
    if not spec:
        raise click.UsageError("give the eksCluster spec with --file or with flags such as --account and --region")

    region = spec.get("region")
    session = default_session(profile_name=profile, region_name=region if isinstance(region, str) else None)
    if profile and profile not in session.available_profiles:
        raise click.BadParameter(f"the AWS profile {profile!r} is not configured", param_hint="--profile")
    # A bad AWS_PROFILE from the environment is reported by run_preflight as the aws.credentials finding.
    report = run_preflight(spec, session)
    if as_json:
        click.echo(report.to_json())
    else:
        render_rich(report, problems_only=problems_only)
    sys.exit(0 if report.ok else 1)


@main.command("plan-summary")
@click.argument("digest_file", metavar="[FILE|-]", default="-", type=click.Path(allow_dash=True))
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["markdown", "json"]),
    default="markdown",
    show_default=True,
    help="Markdown for a PR comment or step summary; JSON for machines.",
)
@click.option("--fail-on-downtime", is_flag=True, help="Exit 3 when a cluster would go down.")
def plan_summary(digest_file: str, output_format: str, fail_on_downtime: bool) -> None:
    """Summarise the Fireworks clusters in the output of `pulumi preview --json` (FILE, or stdin).

    Says for each cluster what `pulumi up` does, which fields change or force a replacement, its preview errors and
    warnings, and whether it goes down. Exit codes: 0; 3 with --fail-on-downtime when a cluster would go down;
    2 when the input is not a preview digest.
    """
    from .plansummary import DigestError, load_summary, render_json, render_markdown

    label = "stdin" if digest_file == "-" else digest_file
    try:
        # click.open_file maps "-" to stdin; the path is opened here so a bad one gets one line, not click's usage.
        with click.open_file(digest_file, "rb") as stream:
            data = stream.read()
        summary = load_summary(data)
    except OSError as exc:
        click.echo(f"Error: cannot read {label}: {exc.strerror or exc}", err=True)
        sys.exit(2)
    except DigestError as exc:
        click.echo(f"Error: {label} is not the output of `pulumi preview --json`: {exc}", err=True)
        sys.exit(2)
    click.echo(render_json(summary) if output_format == "json" else render_markdown(summary), nl=False)
    if fail_on_downtime and summary.down:
        names = ", ".join(c.name for c in summary.down)
        click.echo(f"fwcluster plan-summary: downtime for {names} (--fail-on-downtime)", err=True)
        sys.exit(3)


@main.command("plugin-dir")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def plugin_dir(directory: Path) -> None:
    """Write a provider plugin directory for the native door (PulumiPlugin.yaml and __main__.py).

    Then `pulumi package add DIRECTORY` generates an SDK for any language, and `plugins: providers: [{name:
    fireworks, path: DIRECTORY}]` in Pulumi.yaml points the CLI at it."""
    from .native.plugin import write_plugin_dir

    click.echo(write_plugin_dir(directory))


@main.command(context_settings={"ignore_unknown_options": True, "help_option_names": []})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def demo(args: tuple[str, ...]) -> None:
    """Run the quickstart end to end against a local Fireworks emulator and moto: no credentials needed.

    Needs the [testing] extra (moto). `fwcluster demo --help` lists its options."""
    try:
        from .demo import main as run_demo

        run_demo(list(args))
    except ImportError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)


if __name__ == "__main__":  # pragma: no cover
    main()
