"""A compact record of the desired file a plan was made from, to say what changed since.

A saved plan keeps its desired file's digest to refuse a stale plan; this record lets the
refusal say *what* changed ("post-cn-a: GID_x added; post-cn-b: protect of GID_z changed")
instead of only that the digest moved. Per instance it keeps the GID names in file order and
the settings of only the GIDs that have any (most have none), so 100,000 plain GIDs cost about
what their names do. Nothing in a desired instance is secret (the backend, which may hold a
DSN, is not recorded). No I/O.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import Field

from reconciler.models import DEFAULT_API, DesiredGroup, DesiredState, FrozenModel, SafetyConfig
from reconciler.plan.options import inventory_label

# Settings shown by name, in this order; a group's omitted setting has its default.
_GROUP_SETTINGS = ("topic", "protect", "absent", "description", "clients")
SHOWN_NAMES = 10

Setting = str | bool


class DesiredInstanceSummary(FrozenModel):
    ownership: str = "managed"
    independent_naming: bool | None = None
    api: str = DEFAULT_API
    # In file order: the digest depends on it.
    group_ids: tuple[str, ...] = ()
    # Only GIDs with a setting off its default, and only those settings.
    settings: dict[str, dict[str, Setting]] = Field(default_factory=dict)


def summarize_desired(desired: DesiredState) -> dict[str, DesiredInstanceSummary]:
    """``REGION/INSTANCE_ID`` -> its summary, for every declared instance."""
    found: dict[str, DesiredInstanceSummary] = {}
    # GIDs with the same settings share one dict of them (read only): 100,000 GIDs with a
    # topic would otherwise hold 100,000 equal dicts for the plan's lifetime.
    shared: dict[tuple[object, ...], dict[str, Setting]] = {}
    for instance in desired.instances:
        settings = {}
        for group in instance.groups:
            key = (group.topic, group.protect, group.absent, group.description, group.clients)
            values = shared.get(key)
            if values is None:
                values = shared[key] = _settings(group)
            if values:
                settings[group.group_id] = values
        found[inventory_label(instance.region, instance.instance_id)] = (
            DesiredInstanceSummary.model_construct(
                ownership=instance.ownership,
                independent_naming=instance.independent_naming,
                api=instance.api,
                group_ids=tuple(group.group_id for group in instance.groups),
                settings=settings,
            )
        )
    return found


def _settings(group: DesiredGroup) -> dict[str, Setting]:
    values: dict[str, Setting | None] = {
        "topic": group.topic,
        "protect": group.protect,
        "absent": group.absent or None,
        "description": group.description,
        "clients": ", ".join(group.clients) or None,
    }
    return {name: value for name, value in values.items() if value is not None}


def explain_desired_change(
    before: Mapping[str, DesiredInstanceSummary],
    safety_before: SafetyConfig | None,
    desired: DesiredState,
) -> list[str]:
    """What changed, one part per instance (``post-cn-a: GID_x added, GID_y removed``) plus
    one for the safety settings; empty when nothing recorded differs."""
    after = summarize_desired(desired)
    parts: list[str] = []
    if safety_before is not None and safety_before != desired.safety:
        parts.append(_safety_change(safety_before, desired.safety))
    for label in sorted(before.keys() | after.keys()):
        instance_id = label.partition("/")[2] or label
        then, now = before.get(label), after.get(label)
        if then is None:
            parts.append(f"{instance_id}: instance added ({label.partition('/')[0]})")
        elif now is None:
            parts.append(f"{instance_id}: instance removed ({label.partition('/')[0]})")
        else:
            words = _instance_change(then, now)
            if words:
                parts.append(f"{instance_id}: {', '.join(words)}")
    if not parts and list(before) != list(after):
        parts.append("the order of the instances changed")
    return parts


def _instance_change(then: DesiredInstanceSummary, now: DesiredInstanceSummary) -> list[str]:
    words: list[str] = []
    for name in ("ownership", "independent_naming", "api"):
        old, new = getattr(then, name), getattr(now, name)
        if old != new:
            words.append(f"{name} changed ({_value(old)} -> {_value(new)})")
    if then.group_ids == now.group_ids and then.settings == now.settings:
        return words
    old_names, new_names = set(then.group_ids), set(now.group_ids)
    added = [g for g in now.group_ids if g not in old_names]
    removed = [g for g in then.group_ids if g not in new_names]
    if added:
        words.append(f"{name_list(added)} added")
    if removed:
        words.append(f"{name_list(removed)} removed")
    kept = [g for g in now.group_ids if g in old_names]
    words.extend(_settings_change(then, now, kept))
    if not words and then.group_ids != now.group_ids:
        words.append("the order of its GIDs changed")
    return words


def _settings_change(
    then: DesiredInstanceSummary, now: DesiredInstanceSummary, kept: list[str]
) -> list[str]:
    """``topic of GID_x changed (orders -> shadow)``, one part per setting that changed."""
    # Which GIDs changed is a dict comparison; deepdiff says how, for those only (it is slow
    # over thousands of keys, and imported only to explain a stale plan).
    changed = [g for g in kept if then.settings.get(g) != now.settings.get(g)]
    if not changed:
        return []
    from deepdiff import DeepDiff  # noqa: PLC0415

    diff = DeepDiff(
        {g: then.settings.get(g, {}) for g in changed},
        {g: now.settings.get(g, {}) for g in changed},
        view="tree",
    )
    by_setting: dict[str, set[str]] = {}
    for levels in diff.values():
        for level in levels:
            group_id, setting = level.path(output_format="list")
            by_setting.setdefault(setting, set()).add(group_id)
    words: list[str] = []
    for setting in _GROUP_SETTINGS:
        names = [g for g in changed if g in by_setting.get(setting, ())]
        if not names:
            continue
        text = f"{setting} of {name_list(names)} changed"
        if len(names) == 1 and setting != "description":
            old = then.settings.get(names[0], {}).get(setting)
            new = now.settings.get(names[0], {}).get(setting)
            text += f" ({_value(old, setting)} -> {_value(new, setting)})"
        words.append(text)
    return words


def _safety_change(then: SafetyConfig, now: SafetyConfig) -> str:
    changed = [
        f"{name} {getattr(then, name)} -> {getattr(now, name)}"
        for name in SafetyConfig.model_fields
        if getattr(then, name) != getattr(now, name)
    ]
    return f"safety: {', '.join(changed)}"


def _value(value: Setting | None, setting: str | None = None) -> str:
    if value is None:
        return "false" if setting == "absent" else "unset"
    if isinstance(value, bool):
        return str(value).lower()
    return value


def name_list(names: list[str]) -> str:
    """The first ``SHOWN_NAMES`` names, then how many more there are."""
    shown = ", ".join(names[:SHOWN_NAMES])
    if len(names) > SHOWN_NAMES:
        shown += f" and {len(names) - SHOWN_NAMES} more"
    return shown
