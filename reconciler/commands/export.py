"""``reconciler export --instance ID``: write a desired-state file for an existing instance."""

from __future__ import annotations

import os
from pathlib import Path

import click

from reconciler.commands.options import endpoint_option, output_file_option, write_file
from reconciler.config.export import render_export
from reconciler.config.loader import load_desired_text_result
from reconciler.exit_codes import ExitCode
from reconciler.models import DEFAULT_REGION, ProviderConfig

SCHEMA_FILE = Path("schemas") / "desired-state.schema.json"
TOPICS_NOTE = "# Topics are not exported: OnsMqttGroupIdList does not return a GID's parent topic."
NAMING_NOTE = (
    "    # independent_naming is left out: an instance without GIDs lists nothing to tell it;"
    " set it if you know it."
)


def schema_ref_for(output: Path | None, cwd: Path) -> str | None:
    """The $schema reference as seen from the file written (stdout: from ``cwd``): relative
    to the nearest ``schemas/desired-state.schema.json`` in the output's directory or above
    it (a checkout of this repository), else None."""
    start = (cwd / output).resolve().parent if output is not None else cwd.resolve()
    for directory in (start, *start.parents):
        schema = directory / SCHEMA_FILE
        if schema.is_file():
            return Path(os.path.relpath(schema, start)).as_posix()
    return None


def with_notes(text: str, *, instance_id: str, naming_known: bool) -> str:
    """Say in the file what the listing could not tell: topics always, the namespace mode of
    an instance without GIDs."""
    lines = text.splitlines()
    header_end = next(i for i, line in enumerate(lines) if not line.startswith("#"))
    lines.insert(header_end, TOPICS_NOTE)
    if not naming_known:
        at = lines.index(f"  - id: {instance_id}") + 1
        lines.insert(at, NAMING_NOTE)
    return "\n".join(lines) + "\n"


@click.command("export")
@click.option("--instance", "instance_id", required=True, help="Instance id to list.")
@click.option("--region", default=None, help=f"Region of the instance [default: {DEFAULT_REGION}].")
@endpoint_option("API endpoint URL, or 'embedded'; overrides $RECONCILER_ENDPOINT.")
@output_file_option("Write to this file instead of standard output.", hidden_alias="--output")
def export_command(
    instance_id: str, region: str | None, endpoint: str | None, out: Path | None
) -> int:
    """List an instance's GIDs and write a desired-state file declaring exactly them.

    Use it to adopt GIDs made by hand, or to bootstrap a new instance from an old one.
    """
    from reconciler.commands.connect import cloud_session  # noqa: PLC0415

    chosen_region = region or DEFAULT_REGION
    provider = ProviderConfig(region=chosen_region, endpoint=endpoint)
    with cloud_session(provider, endpoint=endpoint) as session:
        session.check()
        records = session.client(chosen_region).list_group_ids(instance_id)
    mine = [record for record in records if record.instance_id in (instance_id, "")]
    naming = mine[0].independent_naming if mine else None
    export = render_export(
        instance_id=instance_id,
        region=chosen_region,
        group_ids=[record.group_id for record in mine],
        independent_naming=naming,
        schema_ref=schema_ref_for(out, Path.cwd()),
    )
    text = with_notes(export.text, instance_id=instance_id, naming_known=naming is not None)
    # The promise is a file `validate` accepts: check it before anyone relies on it.
    load_desired_text_result(text, str(out or "<export>"), expand_env=False)
    for name in export.skipped:
        click.echo(f"warning: left out {name!r}: not a valid Group ID name", err=True)
    if out is None:
        click.echo(text, nl=False)
    else:
        write_file(out, text)
        click.echo(f"wrote {out} ({export.group_count} groups of {instance_id})", err=True)
    return ExitCode.OK
