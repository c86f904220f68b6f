"""``reconciler export --instance ID | --all``: write a desired-state file declaring what exists.

``--all`` asks OnsMqtt 2020-04-20 ``ListInstances`` (the only action that lists an account's
instances) for every instance of the region, then lists each one's GIDs through ``--api``.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from reconciler.cloud.responses import NO_TAGS
from reconciler.commands.options import (
    DEFAULT_CONFIG,
    config_option,
    endpoint_option,
    output_file_option,
    write_file,
)
from reconciler.config.export import ExportedInstance, Recorded, render_export
from reconciler.config.loader import load_desired_text_result
from reconciler.exit_codes import ExitCode
from reconciler.models import (
    APIS,
    DEFAULT_API,
    DEFAULT_REGION,
    AccessListing,
    Api,
    ProviderConfig,
)

SCHEMA_FILE = Path("schemas") / "desired-state.schema.json"
TOPICS_NOTE = (
    "# Topics are exported only where the state records them: the GID listing does not return"
    " a GID's parent topic."
)
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


def with_notes(text: str, *, naming_unknown: list[str]) -> str:
    """Say in the file what the listing could not tell: topics always, the namespace mode of
    each instance without GIDs (``naming_unknown``)."""
    lines = text.splitlines()
    header_end = next(i for i, line in enumerate(lines) if not line.startswith("#"))
    lines.insert(header_end, TOPICS_NOTE)
    for instance_id in naming_unknown:
        at = lines.index(f"  - id: {instance_id}") + 1
        lines.insert(at, NAMING_NOTE)
    return "\n".join(lines) + "\n"


@click.command("export")
@click.option("--instance", "instance_id", default=None, help="Instance id to list.")
@click.option(
    "--all",
    "all_instances",
    is_flag=True,
    help="Every instance of the region (OnsMqtt ListInstances), in one file.",
)
@click.option("--region", default=None, help=f"Region of the instance [default: {DEFAULT_REGION}].")
@click.option(
    "--api",
    type=click.Choice(list(APIS)),
    default=DEFAULT_API,
    show_default=True,
    help="API to list GIDs through (written to the file's provider.api).",
)
@endpoint_option("API endpoint URL, or 'embedded'; overrides $RECONCILER_ENDPOINT.")
@output_file_option("Write to this file instead of standard output.")
@config_option(
    f"Desired state whose state backend records the GIDs' topics and protection, written to "
    f"the file [default: {DEFAULT_CONFIG} when present].",
    default=None,
)
def export_command(
    *,
    config: tuple[Path, ...],
    instance_id: str | None,
    all_instances: bool,
    region: str | None,
    api: Api,
    endpoint: str | None,
    out: Path | None,
) -> ExitCode:
    """List an instance's GIDs (or every instance's, with --all) and write a desired-state
    file declaring exactly them (through --api onsmqtt, its access rules too).

    Use it to adopt GIDs made by hand, to bootstrap reconciler on an account that already has
    instances (the file plans as adopt-only), or to bootstrap a new instance from an old one.
    """
    from reconciler.commands.connect import cloud_session  # noqa: PLC0415

    if (instance_id is None) == (not all_instances):
        raise click.UsageError("give --instance ID or --all (not both)")
    if out is not None and out.exists():
        # The file may be someone's desired state: export never replaces a file.
        raise click.BadParameter(
            f"{out} exists; export writes a new file: remove it first or choose another name",
            param_hint="-o/--out",
        )
    chosen_region = region or DEFAULT_REGION
    provider = ProviderConfig(region=chosen_region, api=api, endpoint=endpoint)
    with cloud_session(provider, endpoint=endpoint) as session:
        session.check()
        if instance_id is not None:
            ids = [instance_id]
        else:
            listed = session.list_instances(chosen_region)
            ids = sorted({i.instance_id for i in listed if i.region_id in (None, chosen_region)})
        client = session.client(chosen_region, api)
        recorded = _recorded(config, chosen_region)
        exported = []
        for one in ids:
            records = client.list_group_ids(one)
            mine = [record for record in records if record.belongs_to(one)]
            naming = mine[0].independent_naming if mine else None
            tags = {r.group_id: r.tags for r in mine if r.tags not in (None, NO_TAGS)}
            exported.append(
                ExportedInstance(
                    one,
                    [r.group_id for r in mine],
                    naming,
                    recorded.get(one, {}),
                    tags=tags,
                    access=_access_of(client, one),
                )
            )
    export = render_export(
        region=chosen_region,
        instances=exported,
        schema_ref=schema_ref_for(out, Path.cwd()),
        api=api,
        origin=None if instance_id is None else f"instance {instance_id} ({chosen_region})",
    )
    unknown = [item.instance_id for item in exported if item.independent_naming is None]
    text = with_notes(export.text, naming_unknown=unknown)
    # The promise is a file `validate` accepts: check it before anyone relies on it.
    loaded = load_desired_text_result(text, str(out or "<export>"), expand_env=False)
    for name in export.skipped:
        click.echo(f"warning: left out {name!r}: not a valid Group ID name", err=True)
    for instance in exported:
        if instance.access is not None and instance.access.unsupported is not None:
            click.echo(
                f"note: access entries of {instance.instance_id} not exported: "
                f"{instance.access.unsupported}",
                err=True,
            )
    if export.secret_variables:
        click.echo(
            "The identities' secrets cannot be read back: set "
            f"{', '.join(export.secret_variables)} before plan and apply (each ${{VAR}} in the "
            "file names its identity's secret).",
            err=True,
        )
    what = instance_id if instance_id is not None else f"{len(exported)} instance(s)"
    if out is None:
        click.echo(text, nl=False)
    else:
        write_file(out, text)
        counts = f"{export.group_count} groups"
        if loaded.access_count:
            counts += f" and {loaded.access_count} access entries"
        click.echo(f"wrote {out} ({counts} of {what})", err=True)
    return ExitCode.OK


def _recorded(config: tuple[Path, ...], region: str) -> dict[str, dict[str, Recorded]]:
    """instance id -> GID -> what the state of ``config`` (``reconciler.yaml`` when present)
    records of the GIDs of ``region`` that carry a topic or protection; read without the lock,
    as export only reads."""
    from reconciler.commands.options import load_config, state_backend  # noqa: PLC0415

    if not config:
        if not Path(DEFAULT_CONFIG).is_file():
            return {}
        config = (Path(DEFAULT_CONFIG),)
    desired = load_config(config)
    with state_backend(desired, config) as backend:
        state = backend.read()
    found: dict[str, dict[str, Recorded]] = {}
    for resource in state.resources if state is not None else ():
        if resource.region == region and (resource.topic is not None or resource.protect):
            found.setdefault(resource.instance_id, {})[resource.group_id] = Recorded(
                resource.topic, resource.protect
            )
    return found


def _access_of(client: object, instance_id: str) -> AccessListing | None:
    """The instance's custom-auth entries, when its client has custom auth (onsmqtt)."""
    from reconciler.cloud.access import access_listing  # noqa: PLC0415
    from reconciler.cloud.custom_auth import CustomAuthCalls  # noqa: PLC0415

    if not isinstance(client, CustomAuthCalls):
        return None
    return access_listing(client, instance_id)
