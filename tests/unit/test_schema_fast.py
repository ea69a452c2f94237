"""The compiled shortcut in hub.schema may only save time: it must never call valid what the
reference validator (jsonschema) rejects, and it must actually take the valid messages."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub import schema
from tests.unit.test_schema import ENVELOPE, HANDOFF, MESSAGES, RECEIPT, complaint

# every kind with at least one valid example
VALID: list[tuple[str, Any]] = [
    *((kind, body) for kind, (body, _, _) in MESSAGES.items()),
    ("complaint", complaint()),
    ("envelope", ENVELOPE),
    ("receipt", RECEIPT),
    ("handoff", HANDOFF),
]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)

# strings that sit on the edges where regex and format engines differ
tricky_strings = st.sampled_from(
    [
        "",
        "10\n",
        "\n10",
        "๑๐",  # Thai digits
        "2023-05-12T13:27:54Z\n",
        "2023-05-12T13:27:54+07:00",
        "2023-02-30T00:00:00Z",
        "a" * 200,
        "case:01HZX3K4Q9\n",
        "https://example.org/x\n",
        "x@y.z\n",
        "ถนน",
        "\u0000",
    ]
)


def _reference_valid(kind: str, instance: object) -> bool:
    return not any(True for _ in schema._validator(kind).iter_errors(instance))


def _paths(node: Any, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [here]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*here, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _paths(value, (*here, i))
    return found


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, Any]:
    """A valid example with one to three members replaced, removed or added."""
    kind, valid = draw(st.sampled_from(VALID))
    instance = copy.deepcopy(valid)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        path = draw(st.sampled_from(_paths(instance)))
        action = draw(st.sampled_from(["replace", "tricky", "delete", "add"]))
        value = draw(tricky_strings if action == "tricky" else json_values)
        if not path:
            if action in ("replace", "tricky"):
                instance = value
            continue
        parent = instance
        for step in path[:-1]:
            parent = parent[step]
        last = path[-1]
        if action == "delete" and isinstance(parent, dict):
            del parent[last]
        elif action == "add" and isinstance(parent, dict):
            parent[draw(st.text(max_size=8))] = value
        else:
            parent[last] = value
    return kind, instance


@pytest.mark.parametrize(("kind", "instance"), VALID, ids=[k for k, _ in VALID])
def test_the_shortcut_takes_every_valid_example(kind: str, instance: Any) -> None:
    assert schema.fast_valid(kind, instance)
    assert schema.validate(kind, instance) == []


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_the_shortcut_never_accepts_what_the_reference_rejects(case: tuple[str, Any]) -> None:
    kind, instance = case
    if schema.fast_valid(kind, instance):
        assert _reference_valid(kind, instance), instance
    # and validate() always answers with the reference's verdict
    assert (schema.validate(kind, instance) == []) == _reference_valid(kind, instance)


@pytest.mark.parametrize(
    ("kind", "instance"),
    [
        ("complaint", complaint() | {"reported_at": "2023-05-12T20:27:54"}),
        ("complaint", complaint() | {"priority": "urgent!"}),
        ("case.accept", {"case_id": 5}),
        ("delivery.ack", {"message_id": "m-1", "payload_sha256": "x", "received_at": "no"}),
    ],
)
def test_the_shortcut_rejects_and_the_reference_explains(kind: str, instance: Any) -> None:
    assert not schema.fast_valid(kind, instance)
    assert schema.validate(kind, instance) != []


def test_an_instance_the_shortcut_cannot_take_goes_to_the_reference() -> None:
    body = complaint() | {"extensions": {"x_big": {"n": 2**80}}}
    # whatever the compiled validator makes of a 2**80, the verdict is the reference's
    assert schema.validate("complaint", body) == []
