"""What a plan is asked for (options, targets) and stamped with (meta). No I/O."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from reconciler.errors import PlanError
from reconciler.models import key_text_problem

if TYPE_CHECKING:
    from reconciler.models import ResourceKey

# (region, instance_id)
InstanceRef = tuple[str, str]
# Instances listed, online counts looked up, and API calls in flight at once, by default.
DEFAULT_PARALLELISM = 8


@dataclass(frozen=True)
class PlanOptions:
    """What the command line asks of the planner."""

    targets: tuple[Target, ...] = ()
    refresh_only: bool = False
    allow_protected_delete: frozenset[str] = frozenset()
    allow_online_delete: bool = False
    skip_online_check: bool = False
    allow_mass_delete: bool = False
    # A desired state declaring no instance may delete the GIDs the state manages.
    allow_empty: bool = False


@dataclass(frozen=True)
class PlanMeta:
    """Facts about where the plan comes from; copied into the Plan as they are."""

    tool_version: str
    created_at: str
    workspace: str = "default"
    desired_source: str | None = None
    desired_inputs: tuple[str, ...] = ()
    # ``StateBackend.describe()`` of the state planned against.
    state_backend: str | None = None
    # False: the plan is only shown, never saved nor rendered as JSON, so it leaves out the
    # desired state's digest and summary (only a saved plan's staleness check reads them).
    recorded: bool = True


def inventory_label(region: str, instance_id: str) -> str:
    return f"{region}/{instance_id}"


@dataclass(frozen=True)
class Target:
    """A ``--target``: a whole instance, or one GID of it."""

    instance_id: str
    group_id: str | None = None

    @classmethod
    def parse(cls, text: str) -> Target:
        """The one place ``--target`` text is checked: ``INSTANCE_ID`` or ``INSTANCE_ID/KEY``
        (split at the first ``/``: an instance id holds none, a permission's key may)."""
        instance_id, sep, group_id = text.partition("/")
        if not instance_id or (sep and (not group_id or key_text_problem(group_id))):
            raise PlanError(
                f"--target {text!r} is not INSTANCE_ID or INSTANCE_ID/KEY (KEY: a GROUP_ID, or "
                "KIND:KEY as state list shows it)"
            )
        return cls(instance_id, group_id or None)

    def __str__(self) -> str:
        return self.instance_id if self.group_id is None else f"{self.instance_id}/{self.group_id}"

    def covers_instance(self, instance_id: str) -> bool:
        return self.instance_id == instance_id

    def covers(self, key: ResourceKey) -> bool:
        return self.instance_id == key.instance_id and self.group_id in (None, key.group_id)


def parse_targets(texts: Iterable[str]) -> tuple[Target, ...]:
    return tuple(Target.parse(text) for text in texts)


def check_target_instances(targets: Iterable[Target], known: Collection[str]) -> None:
    """Refuse a target whose instance is in none of ``known`` (declared or recorded)."""
    for target in targets:
        if target.instance_id not in known:
            raise PlanError(
                f"--target {target}: instance {target.instance_id} is neither declared in the "
                "file nor in the state"
            )
