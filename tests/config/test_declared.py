"""Where GIDs are declared: asking about a few costs memory for their instances only."""

from __future__ import annotations

import tracemalloc

from reconciler.config.declared import Declarations, InstanceEntry, SetEntry


def _estate(instances: int, gids: int) -> Declarations:
    entries = [
        InstanceEntry(
            file=0,
            loc=("instances", i),
            instance_id=f"post-{i:03d}",
            group_ids=tuple(f"GID_{i:03d}_{g:05d}" for g in range(gids)),
            include=("base",),
            lines=range(10 + i * gids, 10 + (i + 1) * gids),
        )
        for i in range(instances)
    ]
    base = SetEntry(file=0, name="base", group_ids=("GID_shared",), lines=(3,))
    return Declarations(["big.yaml"], [""], entries, [base])


def test_locating_a_few_gids_does_not_index_every_declared_one() -> None:
    # A plan of 40,000 GIDs places its few changes: an index of all of them (what locate
    # built before) takes several MB; the instances asked about take tens of kB.
    declared = _estate(instances=40, gids=1000)
    tracemalloc.start()
    try:
        found = declared.locate([("post-007", "GID_007_00002"), ("post-007", "GID_shared")])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert found == {
        ("post-007", "GID_007_00002"): ("big.yaml", 7013),
        ("post-007", "GID_shared"): ("big.yaml", 4),
    }
    assert peak < 1_000_000


def test_the_first_declaration_wins_and_undeclared_keys_are_left_out() -> None:
    first = InstanceEntry(0, ("instances", 0), "post-1", ("GID_a", "GID_b", "GID_a"), ("s",))
    second = InstanceEntry(1, ("instances", 0), "post-1", ("GID_c", "GID_s"), (), lines=(4, 5))
    stamped = SetEntry(2, "s", ("GID_s", "GID_t"), lines=(8, 9))
    declared = Declarations(
        ["a.yaml", "b.yaml", "sets.yaml"],
        [
            "instances:\n  - id: post-1\n    include: [s]\n    groups: [GID_a, GID_b, GID_a]\n",
            "",
            "",
        ],
        [first, second],
        [stamped],
    )
    keys = [("post-1", g) for g in ("GID_a", "GID_s", "GID_t", "GID_c", "GID_zz")]
    keys.append(("post-2", "GID_a"))
    assert declared.locate(keys) == {
        ("post-1", "GID_a"): ("a.yaml", 4),  # read from its text: the fast path noted no lines
        ("post-1", "GID_s"): ("b.yaml", 6),  # an entry's own GID beats the set's
        ("post-1", "GID_t"): ("sets.yaml", 10),
        ("post-1", "GID_c"): ("b.yaml", 5),
    }
