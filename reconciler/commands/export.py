"""``reconciler export --instance ID``: write a desired-state file for an existing instance."""

from __future__ import annotations

import os
from pathlib import Path

import click

from reconciler.commands.options import endpoint_option, output_file_option, write_file
from reconciler.config.export import DEFAULT_SCHEMA_REF, render_export
from reconciler.config.loader import load_desired_text_result
from reconciler.models import DEFAULT_REGION, ProviderConfig

SCHEMA_FILE = Path("schemas") / "desired-state.schema.json"


def schema_ref_for(output: Path | None, cwd: Path) -> str:
    """The $schema path as seen from where the file is written (relative, as editors want)."""
    schema = cwd / SCHEMA_FILE
    if output is None or not schema.exists():
        return DEFAULT_SCHEMA_REF
    start = (cwd / output).resolve().parent
    return Path(os.path.relpath(schema.resolve(), start)).as_posix()


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
    # The promise is a file `validate` accepts: check it before anyone relies on it.
    load_desired_text_result(export.text, str(out or "<export>"), expand_env=False)
    for name in export.skipped:
        click.echo(f"warning: left out {name!r}: not a valid Group ID name", err=True)
    if out is None:
        click.echo(export.text, nl=False)
    else:
        write_file(out, export.text)
        click.echo(f"wrote {out} ({export.group_count} groups of {instance_id})", err=True)
    return 0
