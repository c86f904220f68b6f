"""The online-client look-up again, just before apply deletes.

A plan's look-up tells who was online when it was made. A saved plan may be applied hours
later, and a person may sit at the approval prompt for as long: a device that connected since
must not be cut off without the override a reviewer saw. So apply asks once more, for the
deletes the plan did not override (``guards.recheck_changes``), through the planner's own
look-up (``builder.lookup_online``: paced to 30 a minute on ons, the known client ids on
onsmqtt), and refuses the whole apply, before any call, if any of them has clients online.
"""

from __future__ import annotations

from reconciler.errors import ClientsOnlineError
from reconciler.plan.builder import ClientFor, Progress, lookup_online, lookup_pacing_note
from reconciler.plan.guards import recheck_changes
from reconciler.plan.model import Plan
from reconciler.plan.options import DEFAULT_PARALLELISM


def refuse_if_online(
    plan: Plan,
    client_for: ClientFor,
    *,
    advice: str,
    parallelism: int = DEFAULT_PARALLELISM,
    progress: Progress | None = None,
) -> None:
    """Raise ClientsOnlineError naming every delete whose GID has clients online now and how
    many; ``advice`` ends the message (what to do instead)."""
    deletes = recheck_changes(plan)
    if not deletes:
        return
    if progress is not None:
        paced = lookup_pacing_note(deletes)
        count = len(deletes)
        progress(f"Checking online clients of {count} GID(s) again before deleting{paced}...")
    found = lookup_online(client_for, deletes, parallelism=parallelism)
    online: dict[str, int] = {}
    described: list[str] = []
    for change in deletes:
        count = found.counts.get(change.key, 0)
        if count <= 0:
            continue
        online[str(change.key)] = count
        ids = found.online_ids.get(change.key)
        which = f": {', '.join(ids)}" if ids else ""
        described.append(f"{change.key} ({count} client(s) online{which})")
    if online:
        raise ClientsOnlineError(
            f"apply refused: {len(online)} GID(s) to delete have clients online now: "
            f"{'; '.join(described)}; nothing was changed: {advice}",
            online,
        )
