"""The plan's data model: what will change, why, and what guards it. No I/O.

Contract: a ``Plan`` is everything ``apply`` needs and everything a reviewer sees. It is
serialised as the saved plan file (``plan/planfile.py``) and rendered by ``reconciler.render``.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, SecretStr, SerializerFunctionWrapHandler, model_serializer

from reconciler.models import (
    DEFAULT_API,
    GID_KIND_NAME,
    Api,
    FrozenModel,
    NamedValue,
    ResourceKey,
    ResourceKindName,
    SafetyConfig,
    named,
)
from reconciler.plan.desired_summary import DesiredInstanceSummary

# 2: each change, difference and unmanaged resource names its kind. A saved plan of another
# format is refused (``planfile.loads_plan``): plan again.
PLAN_FORMAT_VERSION = 2


class Action(StrEnum):
    CREATE = "create"
    ADOPT = "adopt"
    DELETE = "delete"
    FORGET = "forget"
    # A mutable or write-only attribute changes: one update call (``~``, ``Change.changed``
    # says what). Without one, state only: a changed ``protect`` of a GID we already manage is
    # recorded (``*``), so protection stays sticky when the GID later leaves the file.
    UPDATE = "update"

    @property
    def symbol(self) -> str:
        return _SYMBOLS[self]


_SYMBOLS = {
    Action.CREATE: "+",
    Action.ADOPT: "=",
    Action.DELETE: "-",
    Action.FORGET: "~",
    Action.UPDATE: "*",
}


class GuardKind(StrEnum):
    PROTECTED = "protected"  # delete of a protected GID
    ONLINE_CLIENTS = "online_clients"  # delete of a GID with online clients
    ONLINE_CHECK_SKIPPED = "online_check_skipped"  # --skip-online-check: not looked up
    # onsmqtt cannot count a GID's online clients: only its known client ids can be asked about
    ONLINE_CHECK_UNAVAILABLE = "online_check_unavailable"
    MASS_DELETE = "mass_delete"  # circuit breaker
    EMPTY_DESIRED = "empty_desired"  # no instance declared, yet managed GIDs would be deleted
    PROBABLE_RENAME = "probable_rename"  # delete + create of a near-identical name
    NAMING_CONFLICT = "naming_conflict"  # shared namespace: name used by another instance
    NAMING_MISMATCH = "naming_mismatch"  # declared independent_naming disagrees with the cloud
    NAMING_UNVERIFIED = "naming_unverified"  # an empty instance: no listing tells its naming
    DELETED_OUTSIDE = "deleted_outside"  # in state, gone from the cloud
    # an instance's listing could not list a kind (an edition without the feature)
    KIND_UNAVAILABLE = "kind_unavailable"
    CUTS_OFF = "cuts_off"  # an update or delete takes away what a resource grants now


class Guard(FrozenModel):
    kind: GuardKind
    message: str
    # A blocking guard refuses the plan unless ``override`` (a CLI flag) was given.
    blocking: bool = False
    override: str | None = None
    # True when the user passed the override: shown, but no longer blocking.
    overridden: bool = False
    # What a plan-level guard is about: "INSTANCE_ID" or "INSTANCE_ID/GROUP_ID" (None: the plan).
    subject: str | None = None

    @property
    def refuses(self) -> bool:
        return self.blocking and not self.overridden


# An update that makes a call shows this instead of ``Action.UPDATE.symbol``.
UPDATE_CALL_SYMBOL = "~"


class AttributeChange(FrozenModel):
    """One attribute an update call changes: the value it has (None: unknown) and the one it
    gets; a write-only attribute's are never known here (``write_only``: "changed", no
    values)."""

    name: str
    current: str | None = None
    desired: str | None = None
    write_only: bool = False


class WriteOnlyValue(FrozenModel):
    """A write-only attribute's value on its way to the call (never serialised)."""

    name: str
    value: SecretStr


class ChangeSource(FrozenModel):
    """Where a change's GID is declared: the file, as named on the command line, and line."""

    file: str
    line: int


class Change(FrozenModel):
    action: Action
    kind: ResourceKindName = GID_KIND_NAME
    region: str
    instance_id: str
    group_id: str
    reason: str
    topic: str | None = None
    protect: bool = False
    guards: tuple[Guard, ...] = ()
    # Deletes only: OnsMqttQueryClientByGroupId's OnlineCount, or on onsmqtt how many of the
    # known client ids are online (None: not looked up).
    online_clients: int | None = None
    # The API of the GID's instance: which client makes the call.
    api: Api = DEFAULT_API
    # Known client ids: recorded in state on create/adopt; asked about before an onsmqtt delete.
    clients: tuple[str, ...] = ()
    # Where the GID is declared (None: not in the files, e.g. a delete of a GID removed from
    # them; ``in_state`` then says the state is what names it).
    source: ChangeSource | None = None
    # The GID was recorded in the state when planned.
    in_state: bool = False
    # The values of its kind's attributes without a field of their own (``topic`` has one):
    # what a create sends, or what the resource has once an update is made.
    attributes: tuple[NamedValue, ...] = ()
    # Update calls only: each attribute the call changes.
    changed: tuple[AttributeChange, ...] = ()
    # The write-only values a create or update sends: in memory only, never in a plan file,
    # its JSON or its text (apply from a saved plan sends those of the plan it makes again).
    write_only: tuple[WriteOnlyValue, ...] = Field(default=(), exclude=True, repr=False)

    # No return annotation on purpose: with one, pydantic would describe the change in the
    # JSON Schema by it instead of by the fields.
    @model_serializer(mode="wrap")
    def _without_empty_attributes(self, handler: SerializerFunctionWrapHandler):  # type: ignore[no-untyped-def]
        # A kind without such attributes (GIDs) writes its changes as before they existed.
        data = handler(self)
        for name in _OMITTED_WHEN_EMPTY:
            if not data.get(name, True):
                del data[name]
        return data

    @property
    def calls_api(self) -> bool:
        """Whether applying it is an API call (else it only writes the state)."""
        return self.action in (Action.CREATE, Action.DELETE) or (
            self.action is Action.UPDATE and bool(self.changed)
        )

    @property
    def symbol(self) -> str:
        if self.action is Action.UPDATE and self.changed:
            return UPDATE_CALL_SYMBOL
        return self.action.symbol

    def value(self, attribute: str) -> str | None:
        """The value the change gives one of its kind's attributes (None: not set)."""
        if attribute in _CHANGE_FIELDS:
            found: str | None = getattr(self, attribute)
            return found
        return named(self.attributes).get(attribute)

    @property
    def key(self) -> ResourceKey:
        return ResourceKey.trusted(self.region, self.instance_id, self.group_id, self.kind)


_OMITTED_WHEN_EMPTY = ("attributes", "changed")
# Asked for each attribute of each change an apply sends: the class's ``model_fields`` is a
# costlier look-up (0.74 us a time against a set's few hundredths).
_CHANGE_FIELDS = frozenset(Change.model_fields)


class NotInPlace(FrozenModel):
    """A difference between the file and an existing resource that no action can apply: an
    attribute its kind declares immutable (``ResourceKind.immutable``; a GID's ``topic``, used
    only at creation) is shown and counted, never applied; ``current`` is what the resource
    was created with (recorded in the state: the listing does not return it)."""

    kind: ResourceKindName = GID_KIND_NAME
    region: str
    instance_id: str
    group_id: str
    attribute: str = "topic"
    current: str
    desired: str
    # Where the GID is declared, as for a Change.
    source: ChangeSource | None = None

    @property
    def key(self) -> ResourceKey:
        return ResourceKey.trusted(self.region, self.instance_id, self.group_id, self.kind)


class PlanSummary(FrozenModel):
    create: int = 0
    adopt: int = 0
    delete: int = 0
    forget: int = 0
    update: int = 0
    unmanaged: int = 0
    # Differences shown but not applicable (``Plan.not_in_place``).
    not_in_place: int = 0


class Plan(FrozenModel):
    format_version: int = PLAN_FORMAT_VERSION
    tool_version: str
    created_at: str
    desired_source: str | None = None
    # The files and directories the desired state was loaded from, as given (apply PLANFILE
    # loads them again), and the sha256 of each file read (stale when one changed, appeared
    # or disappeared).
    desired_inputs: tuple[str, ...] = ()
    desired_files: dict[str, str] = Field(default_factory=dict)
    # Where the state lives (".reconciler/state.json", "postgres SCHEMA/WORKSPACE").
    state_source: str | None = None
    # The backend's own description ("local /abs/path/state.json", "postgres (host=...)
    # schema=... workspace=..."; never a password), so a plan applied against another state
    # can say where its own was.
    state_backend: str | None = None
    desired_digest: str
    workspace: str = "default"
    state_lineage: str | None = None
    state_serial: int = 0
    # "REGION/INSTANCE_ID" -> InstanceInventory.fingerprint() at refresh time.
    inventory_fingerprints: dict[str, str] = Field(default_factory=dict)
    changes: tuple[Change, ...] = ()
    # Differences apply cannot make (a changed topic): shown, counted, never applied.
    not_in_place: tuple[NotInPlace, ...] = ()
    unmanaged: tuple[ResourceKey, ...] = ()
    # Guards about the plan as a whole (mass delete, naming mismatches, skipped checks).
    guards: tuple[Guard, ...] = ()
    targets: tuple[str, ...] = ()
    refresh_only: bool = False
    # Planned with --allow-online-delete: apply does not look the deletes' online clients up
    # again (without it, apply re-checks them just before deleting and refuses if any is on).
    allow_online_delete: bool = False
    # The other options it was planned with: apply plans again with all of them and refuses
    # the file unless both plans agree.
    allow_protected_delete: tuple[str, ...] = ()
    skip_online_check: bool = False
    allow_mass_delete: bool = False
    # Planned with --allow-empty: a desired state declaring no instance may delete.
    allow_empty: bool = False
    # "REGION/INSTANCE_ID" -> the GIDs listed at refresh time, so a stale plan can say which
    # GIDs appeared or vanished (saved plan files only; the JSON renderer leaves it out).
    inventory_group_ids: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    # "REGION/INSTANCE_ID" -> the declared GIDs and their settings, and the safety settings,
    # so a stale plan can say what changed in the desired file (saved plan files only).
    desired_instances: dict[str, DesiredInstanceSummary] = Field(default_factory=dict)
    desired_safety: SafetyConfig | None = None
    # sha256 of the saved document without this field and the derived ones (``planfile``):
    # apply refuses a file whose content no longer matches it (an edit).
    digest: str | None = None

    @property
    def summary(self) -> PlanSummary:
        counts = {action.value: 0 for action in Action}
        for change in self.changes:
            counts[change.action.value] += 1
        return PlanSummary.model_construct(
            None,  # fields set: those given
            **counts,
            unmanaged=len(self.unmanaged),
            not_in_place=len(self.not_in_place),
        )

    @property
    def has_changes(self) -> bool:
        """Something for apply to do."""
        return bool(self.changes)

    @property
    def has_differences(self) -> bool:
        """The file and the world differ: changes, or differences apply cannot make
        (``plan --detailed-exitcode`` exits 2 for either)."""
        return bool(self.changes or self.not_in_place)

    def refusals(self) -> list[Guard]:
        """Every guard, on the plan or a change, that blocks applying it."""
        found = [guard for guard in self.guards if guard.refuses]
        found.extend(guard for change in self.changes for guard in change.guards if guard.refuses)
        return found
