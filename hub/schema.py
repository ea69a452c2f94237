"""Validation against the shared complaint schema, compiled once.

Every schema file in ``schemas/`` is loaded into one :class:`referencing.Registry` (Draft
2020-12) at first use; a validator per kind is built once and cached, so validating a message
costs only the walk over the instance. Errors come back as :class:`~hub.errors.FieldError`
with an RFC 6901 pointer to the member at fault (the missing or unknown member itself, not its
parent), all of them at once and sorted, so a sender can fix a record in one round trip.
Values of fields marked ``x-personal`` are never echoed into messages (they end up in logs).

Two validators per kind. ``jsonschema`` is the reference: it alone decides what is invalid
and says why. ``jsonschema-rs`` (compiled, ~75x faster) only answers "valid?" first, because
almost every message a hub receives is valid and the reference costs about 0.5 ms per
complaint. When the fast one says "invalid", raises, or cannot take the instance, the
reference judges, so the fast one can only ever save time, never change an answer, as long
as it never calls valid what the reference rejects (``tests/unit/test_schema_fast.py``
checks exactly that over generated and mutated instances).

The vocabularies (:mod:`hub.vocab`) are re-exported here so callers need one import.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from functools import cache
from typing import Any

import jsonschema_rs
from jsonschema import Draft202012Validator, FormatChecker, ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from hub.errors import FieldError, SchemaInvalid
from hub.vocab import (
    Area,
    Category,
    Label,
    Status,
    Transition,
    UnmappedValue,
    allowed_transitions,
    area,
    categories,
    category_for_traffy,
    channels,
    find_area,
    internal_events,
    load_json,
    outcomes,
    schemas_dir,
    status_for_traffy,
    statuses,
    transitions,
)

__all__ = [
    "BASE_URI",
    "Area",
    "Category",
    "Label",
    "Status",
    "Transition",
    "UnmappedValue",
    "allowed_transitions",
    "area",
    "categories",
    "category_for_traffy",
    "channels",
    "check",
    "find_area",
    "internal_events",
    "message_types",
    "outcomes",
    "pointer",
    "schema_for_message",
    "schema_kinds",
    "status_for_traffy",
    "statuses",
    "transitions",
    "validate",
]

BASE_URI = "https://schemas.complaint-hub.th/v1/"
_DATE_TIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?"
    r"(?:[Zz]|[+-](\d{2}):(\d{2}))$"
)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s]+$")
_MAX_ECHO = 80

FORMATS = FormatChecker(formats=())


def _is_date_time(value: object) -> bool:
    """RFC 3339 with a mandatory offset: a time without a zone is ambiguous across agencies."""
    if not isinstance(value, str):
        return True
    m = _DATE_TIME.match(value)
    if m is None:
        return False
    y, mo, d, h, mi, s = (int(g) for g in m.groups()[:6])
    off_h, off_m = (int(g) if g else 0 for g in m.groups()[6:])
    try:
        date(y, mo, d)
    except ValueError:
        return False
    return h < 24 and mi < 60 and s < 61 and off_h < 24 and off_m < 60


def _is_email(value: object) -> bool:
    return not isinstance(value, str) or bool(_EMAIL.match(value))


def _is_uri(value: object) -> bool:
    return not isinstance(value, str) or bool(_URI.match(value))


FORMATS.checks("date-time")(_is_date_time)
FORMATS.checks("email")(_is_email)
FORMATS.checks("uri")(_is_uri)


@cache
def _schemas() -> dict[str, dict[str, Any]]:
    """Schema name (file stem) → schema document, for every file that declares ``$schema``."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(schemas_dir().glob("*.json")):
        doc = load_json(path.name)
        if "$schema" in doc:
            found[path.stem] = doc
    return found


@cache
def _registry() -> Registry[Any]:
    resources = [
        (doc["$id"], Resource.from_contents(doc, default_specification=DRAFT202012))
        for doc in _schemas().values()
    ]
    return Registry().with_resources(resources).crawl()


@cache
def _message_types() -> dict[str, str]:
    data: dict[str, str] = load_json("message-types.json")
    return {k: v for k, v in data.items() if not k.startswith("$")}


def message_types() -> frozenset[str]:
    """Every envelope ``type`` the hub understands."""
    return frozenset(_message_types())


def schema_for_message(type: str) -> str | None:
    """The schema reference (relative to :data:`BASE_URI`) for a message type's body."""
    return _message_types().get(type)


def schema_kinds() -> frozenset[str]:
    """Schema names accepted by :func:`validate` besides message types."""
    return frozenset(_schemas())


def _root(kind: str) -> dict[str, str]:
    ref = schema_for_message(kind)
    if ref is None:
        if kind not in _schemas():
            raise KeyError(f"unknown schema kind or message type: {kind!r}")
        ref = f"{kind}.json"
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$ref": BASE_URI + ref}


@cache
def _validator(kind: str) -> Draft202012Validator:
    return Draft202012Validator(_root(kind), registry=_registry(), format_checker=FORMATS)


@cache
def _fast_registry() -> jsonschema_rs.Registry:
    return jsonschema_rs.Registry([(doc["$id"], doc) for doc in _schemas().values()])


@cache
def _fast_validator(kind: str) -> jsonschema_rs.Validator:
    """The compiled twin of :func:`_validator`: same documents, same three format checks
    (the same Python functions), and an unknown format is an error at build time rather
    than silently unchecked."""
    return jsonschema_rs.Draft202012Validator(
        _root(kind),
        registry=_fast_registry(),
        formats={"date-time": _is_date_time, "email": _is_email, "uri": _is_uri},
        validate_formats=True,
        ignore_unknown_formats=False,
    )


def fast_valid(kind: str, instance: object) -> bool:
    """True only when the compiled validator accepts ``instance``; False when it rejects it
    or cannot take it (a number wider than 64 bits, say): then the reference decides."""
    try:
        return bool(_fast_validator(kind).is_valid(instance))
    except Exception:  # any failure of the shortcut just means "ask the reference"
        return False


def validate(kind: str, instance: object) -> list[FieldError]:
    """Every way ``instance`` breaks the schema for ``kind``; empty when it is valid.

    ``kind`` is a schema name (``complaint``, ``case-event``...) or a message type
    (``case.accept``). Raises ``KeyError`` for an unknown kind: that is a programming error,
    not bad input.
    """
    if fast_valid(kind, instance):
        return []
    found = {fe for error in _validator(kind).iter_errors(instance) for fe in _field_errors(error)}
    return sorted(found, key=lambda fe: (fe.pointer, fe.message))


def check(kind: str, instance: object) -> None:
    """Raise :class:`~hub.errors.SchemaInvalid` carrying every field error, or return."""
    errors = validate(kind, instance)
    if errors:
        raise SchemaInvalid(f"{len(errors)} field(s) break the {kind} schema", errors=errors)


def pointer(parts: Any) -> str:
    """RFC 6901 pointer from path parts: ``~`` → ``~0`` and ``/`` → ``~1``."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _field_errors(error: ValidationError) -> Iterator[FieldError]:
    path = list(error.absolute_path)
    kind, schema, instance = error.validator, error.schema, error.instance
    if kind in ("anyOf", "oneOf") and error.context:
        # every error of the branch that came closest, not "is not valid under any of ..."
        for branch_error in _closest_branch(error):
            yield from _field_errors(branch_error)
        return
    if kind == "required" and isinstance(instance, dict) and isinstance(schema, dict):
        for name in error.validator_value:
            if name not in instance:
                yield FieldError(pointer([*path, name]), f"required property {name!r} is missing")
    elif kind == "dependentRequired" and isinstance(instance, dict):
        for owner, needed in error.validator_value.items():
            for name in needed if owner in instance else ():
                if name not in instance:
                    yield FieldError(pointer([*path, name]), f"{name!r} is required with {owner!r}")
    elif "propertyNames" in error.schema_path and isinstance(instance, str):
        # the error sits on the key itself; point at that member, not at its object
        yield FieldError(pointer([*path, instance]), f"property name {instance!r} is not allowed")
    elif kind == "additionalProperties" and isinstance(instance, dict):
        for name in _unexpected(instance, schema):
            yield FieldError(pointer([*path, name]), f"unknown property {name!r} is not allowed")
    else:
        yield FieldError(pointer(path), _message(error))


def _closest_branch(error: ValidationError) -> list[ValidationError]:
    """The errors of the anyOf/oneOf branch the instance most nearly fits.

    A branch whose type does not fit, or that finds unknown members, is probably the wrong
    branch; among the rest, the one with the fewest errors wins (ties: first listed).
    """
    branches: dict[Any, list[ValidationError]] = {}
    for e in error.context or ():
        branches.setdefault(e.relative_schema_path[0], []).append(e)

    def score(errors: list[ValidationError]) -> tuple[int, int, int]:
        wrong_type = sum(e.validator == "type" and e.path == error.path for e in errors)
        unknown = sum(e.validator == "additionalProperties" for e in errors)
        return wrong_type, unknown, len(errors)

    return min(branches.values(), key=score)


def _unexpected(instance: dict[str, Any], schema: Any) -> list[str]:
    known = schema.get("properties", {})
    patterns = [re.compile(p) for p in schema.get("patternProperties", {})]
    return [k for k in instance if k not in known and not any(p.search(k) for p in patterns)]


def _echo(error: ValidationError) -> str:
    """The offending value for a message: hidden for personal fields, shortened when long."""
    if isinstance(error.schema, dict) and error.schema.get("x-personal"):
        return "the value"
    text = repr(error.instance)
    return text if len(text) <= _MAX_ECHO else text[: _MAX_ECHO - 3] + "..."


def _message(error: ValidationError) -> str:
    kind, expected, value = error.validator, error.validator_value, _echo(error)
    if kind == "type":
        types = expected if isinstance(expected, list) else [expected]
        return f"{value} is not of type {' or '.join(types)}"
    if kind == "enum":
        allowed = ", ".join(map(repr, expected)) if len(expected) <= 8 else "the vocabulary"
        return f"{value} is not one of {allowed}"
    if kind == "const":
        return f"{value} must be {expected!r}"
    if kind == "pattern":
        return f"{value} does not match {expected}"
    if kind == "format" and expected == "date-time":
        return f"{value} is not an RFC 3339 date-time with a timezone offset"
    if kind == "format":
        return f"{value} is not a valid {expected}"
    if kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return f"{value} is outside the allowed range ({kind} {expected})"
    if kind in ("minLength", "maxLength", "minItems", "maxItems", "minProperties"):
        return f"{kind} is {expected}"
    return str(error.message)
