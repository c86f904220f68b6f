"""The happy path: parse with libyaml (PyYAML's ``CSafeLoader``), fast and without positions.

Two gaps of the C loader are closed here, cheaply:

* it silently keeps the last of duplicate keys; ``construct_mapping`` below is a drop-in for
  PyYAML's that notices them (it is no slower: one dict lookup per key replaces PyYAML's
  ``isinstance(key, Hashable)`` check);
* its composer recurses in C and crashes the process on very deep nesting (``[[[[...`` or
  ``- - - -...`` tens of thousands deep), so ``too_deep`` refuses such text before it is
  handed over; the located error then comes from the round-trip parser, which has a depth limit.

Any failure here is only a signal: the loader re-parses with ruamel.yaml to locate it.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.events import CollectionEndEvent, CollectionStartEvent
from yaml.nodes import MappingNode, Node, SequenceNode

MERGE_TAG = "tag:yaml.org,2002:merge"
VALUE_TAG = "tag:yaml.org,2002:value"
# A valid file nests about 7 levels deep; anything near this is a mistake or an attack.
MAX_DEPTH = 50
# Below this bound on the depth, libyaml's recursive composer is safe (it crashes near 30,000).
_SAFE_DEPTH_BOUND = 1000


class DuplicateKeyFound(Exception):
    """A mapping holds the same key twice (the round-trip pass says where)."""


class _FastLoader(yaml.CSafeLoader):
    def construct_mapping(self, node: Node, deep: bool = False) -> dict[Any, Any]:
        if not isinstance(node, MappingNode):
            raise ConstructorError(None, None, "expected a mapping node", node.start_mark)
        mapping: dict[Any, Any] = {}
        merge: Node | None = None
        construct = self.construct_object
        for key_node, value_node in node.value:
            tag = key_node.tag
            if tag == MERGE_TAG:
                if merge is not None:
                    raise DuplicateKeyFound("<<")
                merge = value_node
                continue
            key = key_node.value if tag == VALUE_TAG else construct(key_node, deep=deep)
            try:
                seen = key in mapping
            except TypeError as exc:
                raise ConstructorError(
                    None, None, "found an unhashable key", key_node.start_mark
                ) from exc
            if seen:
                raise DuplicateKeyFound(str(key))
            mapping[key] = construct(value_node, deep=deep)
        if merge is None:
            return mapping
        merged = self._merged(merge)
        merged.update(mapping)  # the mapping's own keys override merged ones, as in PyYAML
        return merged

    def _merged(self, node: Node) -> dict[Any, Any]:
        sources = node.value if isinstance(node, SequenceNode) else [node]
        merged: dict[Any, Any] = {}
        # In a list of merged mappings the first one wins, so apply them last to first.
        for source in reversed(sources):
            if not isinstance(source, MappingNode):
                raise ConstructorError(
                    None, None, "'<<' needs a mapping or a list of mappings", source.start_mark
                )
            merged.update(self.construct_object(source, deep=True))
        return merged


def load_fast(text: str) -> Any:
    """Parse ``text``; raises yaml.YAMLError, DuplicateKeyFound or RecursionError on problems."""
    loader = _FastLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def too_deep(text: str) -> bool:
    """True when ``text`` may nest deeper than MAX_DEPTH (or cannot even be scanned)."""
    # Block nesting needs indentation or "- "/"? " indicators on one line; flow nesting needs
    # brackets. So this bound is cheap and safe; only text above it is scanned event by event.
    longest = max(map(len, text.splitlines()), default=0)
    if 2 * longest + text.count("[") + text.count("{") <= _SAFE_DEPTH_BOUND:
        return False
    depth = 0
    try:
        for event in yaml.parse(text, Loader=yaml.CSafeLoader):
            if isinstance(event, CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    return True
            elif isinstance(event, CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError:
        return True
    return False
