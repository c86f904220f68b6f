"""A large state is validated a piece at a time (its peak memory), and exactly as strictly as
the whole document: every refusal names the same entry, wherever the pieces are cut."""

from __future__ import annotations

import json

import pytest

from reconciler.models import StateDocument, StateResource
from reconciler.state import document
from reconciler.state.document import StateFormatError, parse_state

WHERE = "state file s.json"
COUNT = 60


@pytest.fixture(autouse=True)
def small_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    # A few resources per piece, so these small documents take the large documents' path.
    monkeypatch.setattr(document, "_PIECE_CHARACTERS", 700)


def stored_text() -> str:
    """A document as the local backend writes it: compact JSON and a newline."""
    resources = tuple(
        StateResource(
            region="cn-hangzhou",
            instance_id=f"post-cn-test{i % 3:04d}",
            group_id=f"GID_piece_{i:03d}",
            protect=i % 7 == 0,
            clients=(f"GID_piece_{i:03d}@@@device",) if i % 5 == 0 else (),
        )
        for i in range(COUNT)
    )
    doc = StateDocument(lineage="l-1", serial=4, resources=resources)
    return doc.model_dump_json() + "\n"


def tampered(index: int, **fields: object) -> str:
    """The stored text with resource ``index``'s fields replaced (None: removed)."""
    data = json.loads(stored_text())
    resource = data["resources"][index]
    for name, value in fields.items():
        if value is None:
            resource.pop(name)
        else:
            resource[name] = value
    return json.dumps(data, separators=(",", ":")) + "\n"


def test_a_large_document_reads_in_pieces_as_the_whole_text_reads() -> None:
    text = stored_text()
    assert document._read_in_pieces(text) is not None  # the path under test is taken
    doc = parse_state(text, where=WHERE)
    assert doc == StateDocument.model_validate_json(text, strict=True)
    assert len(doc.resources) == COUNT
    assert doc.serial == 4


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"protect": "yes"}, "protect: Input should be a valid boolean"),
        ({"protect": 1}, "protect: Input should be a valid boolean"),
        ({"origin": "stolen"}, "origin: Input should be 'created', 'adopted' or 'imported'"),
        ({"owner": "mallory"}, "owner: unknown field"),
        ({"kind": None}, "kind: Field required"),
    ],
)
def test_a_wrong_or_unknown_field_in_a_later_piece_names_its_entry(
    fields: dict[str, object], words: str
) -> None:
    with pytest.raises(StateFormatError) as caught:
        parse_state(tampered(41, **fields), where=WHERE)
    message = str(caught.value)
    assert message.startswith(f"{WHERE} is corrupt: resources[41] (post-cn-test0002/GID_piece_041)")
    assert words in message


def test_a_resource_repeated_across_pieces_is_refused_naming_both() -> None:
    data = json.loads(stored_text())
    data["resources"][50] = {**data["resources"][2], "protect": False}
    text = json.dumps(data, separators=(",", ":"))
    with pytest.raises(StateFormatError, match=r"resources\[50\].*already at resources\[2\]"):
        parse_state(text, where=WHERE)


def test_a_key_repeated_in_a_later_piece_is_refused() -> None:
    text = stored_text().replace('"protect":false', '"protect":true,"protect":false', 1)
    cut = text.index("GID_piece_040")
    text = text[:cut] + text[cut:].replace('"protect":false', '"protect":true,"protect":false', 1)
    with pytest.raises(StateFormatError, match="key 'protect' is given twice in one object"):
        parse_state(text, where=WHERE)


def test_a_cut_inside_a_string_still_reads_the_same() -> None:
    # Topics ending in what separates two resources (their closing quote completes it): a cut
    # there leaves a piece that is no JSON array, and the whole text is read instead.
    data = json.loads(stored_text())
    for resource in data["resources"]:
        resource["topic"] = "x},{"
    text = json.dumps(data, separators=(",", ":"))
    assert '},{",' in text and "\\" not in text
    assert document._read_in_pieces(text) is None
    doc = parse_state(text, where=WHERE)
    assert [r.topic for r in doc.resources] == ["x},{"] * COUNT


def test_a_document_not_ending_in_its_resources_reads_whole() -> None:
    data = json.loads(stored_text())
    resources = data.pop("resources")
    text = json.dumps({"resources": resources, **data}, separators=(",", ":"))
    assert document._read_in_pieces(text) is None
    assert len(parse_state(text, where=WHERE).resources) == COUNT
