"""What a plan is asked for (options, targets) and stamped with (meta). No I/O."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from reconciler.errors import PlanError
from reconciler.models import ResourceKey

# (region, instance_id)
InstanceRef = tuple[str, str]


@dataclass(frozen=True)
class PlanOptions:
    """What the command line asks of the planner."""

    targets: tuple[str, ...] = ()
    refresh_only: bool = False
    allow_protected_delete: frozenset[str] = frozenset()
    allow_online_delete: bool = False
    skip_online_check: bool = False
    allow_mass_delete: bool = False


@dataclass(frozen=True)
class PlanMeta:
    """Facts about where the plan comes from; copied into the Plan as they are."""

    tool_version: str
    created_at: str
    workspace: str = "default"
    desired_source: str | None = None


def inventory_label(region: str, instance_id: str) -> str:
    return f"{region}/{instance_id}"


@dataclass(frozen=True)
class Target:
    instance_id: str
    group_id: str | None

    @classmethod
    def parse(cls, text: str) -> Target:
        instance_id, sep, group_id = text.partition("/")
        if not instance_id or (sep and (not group_id or "/" in group_id)):
            raise PlanError(f"--target {text!r} is not INSTANCE_ID or INSTANCE_ID/GROUP_ID")
        return cls(instance_id, group_id or None)

    def covers_instance(self, instance_id: str) -> bool:
        return self.instance_id == instance_id

    def covers(self, key: ResourceKey) -> bool:
        return self.instance_id == key.instance_id and self.group_id in (None, key.group_id)


def parse_targets(texts: Iterable[str]) -> tuple[Target, ...]:
    return tuple(Target.parse(text) for text in texts)
