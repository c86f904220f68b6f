"""Text for ``reconciler state ...`` and ``force-unlock``: pure functions returning strings."""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.models import KINDS, ResourceKey, StateDocument, StateResource
from reconciler.state.base import LockInfo


def render_state_list(doc: StateDocument | None) -> str:
    """One ``INSTANCE_ID/KEY`` per line, sorted; nothing for an empty state."""
    if doc is None:
        return ""
    keys = sorted((r.key for r in doc.resources), key=ResourceKey.sort_key)
    return "".join(f"{key}\n" for key in keys)


WRITE_ONLY_SHOWN = "(write-only: not shown)"


def render_state_resource(resource: StateResource) -> str:
    kind = KINDS[resource.kind]
    fields: list[tuple[str, str]] = [
        ("region", resource.region),
        ("instance_id", resource.instance_id),
        (kind.key_label.lower(), resource.group_id),
    ]
    # The fields of their own that only some kinds have (a GID's topic and protection).
    if "topic" in kind.immutable:
        fields.append(("topic", resource.topic if resource.topic is not None else "(none)"))
    if "protect" in kind.state_only:
        fields.append(("protect", "true" if resource.protect else "false"))
    fields += [
        ("origin", resource.origin),
        ("recorded_at", resource.recorded_at or "(unknown)"),
        ("api", resource.api),
    ]
    if resource.clients:
        fields.append(("clients", ", ".join(resource.clients)))
    fields.extend((item.name, item.value) for item in resource.attributes)
    # A write-only value is never shown, not even by its digest.
    fields.extend((item.name, WRITE_ONLY_SHOWN) for item in resource.digests)
    width = max(len(name) for name, _ in fields)
    lines = [f"# {resource.key}"] + [f"{name.ljust(width)} = {value}" for name, value in fields]
    return "\n".join(lines) + "\n"


def render_removed(keys: Sequence[ResourceKey], serial: int) -> str:
    lines = [f"Removed {key} from the state." for key in keys]
    nouns = sorted({KINDS[key.kind].noun for key in keys})
    lines.append(
        f"State serial is now {serial}. The {' and '.join(nouns)}(s) still exist in the "
        "cloud; reconciler no longer manages them."
    )
    return "\n".join(lines) + "\n"


def render_force_unlock_prompt(
    lock_id: str, holder: LockInfo | None, backend: str, *, live: bool = False
) -> str:
    """``live``: the holder is still running and the backend will break its lock anyway."""
    if holder is not None and holder.id == lock_id:
        who = f"Lock {lock_id} is held by {holder.who} since {holder.created} " + (
            f"({holder.operation}, {holder.ci_job or 'not in CI'})."
        )
        if live:
            who += (
                f"\nIts holder {holder.holder_label()} is still running: force-unlocking stops "
                "it before its next call or state write."
            )
    elif holder is not None:
        who = f"Lock {lock_id} is not the current lock: {holder.summary()}."
    else:
        who = f"No live process holds the state lock; lock {lock_id} may be a crashed run's."
    return (
        f"{who}\n"
        f"Backend: {backend}\n"
        "Force-unlocking lets another run change the state while this one may still be "
        "working.\nOnly 'yes' will be accepted to confirm."
    )


def render_live_holder_warning(lock_id: str, holder: LockInfo) -> str:
    return (
        f"Warning: the holder of lock {lock_id}, {holder.holder_label()}, is still running: "
        "it stops before its next call or state write.\n"
    )


def render_force_unlocked(lock_id: str, backend: str) -> str:
    return f"Lock {lock_id} on {backend} has been released.\n"
