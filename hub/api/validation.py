"""Connexion validators that report EVERY bad field with its JSON pointer.

Connexion's own validators stop at the first error and put the path in prose. Ours collect
all errors (jsonschema ``iter_errors``) and raise :class:`hub.errors.RequestInvalid` with an
RFC 6901 pointer for each. Parameters are pointed at inside a notional request document:
``/query/<name>``, ``/path/<name>``, ``/header/<name>``, ``/cookie/<name>``; body fields at
``/body/...``.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterable
from typing import Any

from connexion.datastructures import MediaTypeDict
from connexion.json_schema import Draft4RequestValidator
from connexion.lifecycle import ConnexionRequest
from connexion.validators import (
    FormDataValidator,
    JSONRequestBodyValidator,
    JSONResponseBodyValidator,
    MultiPartFormDataValidator,
    ParameterValidator,
    TextResponseBodyValidator,
)
from jsonschema import ValidationError
from starlette.types import Scope

from hub.api.ndjson import MEDIA_TYPE as NDJSON
from hub.api.ndjson import NDJSONResponseBodyValidator
from hub.errors import FieldError, RequestInvalid
from hub.exchange.canonical import loads_strict
from hub.schema import FORMATS


def pointer(parts: Iterable[Any]) -> str:
    """RFC 6901: ``~`` becomes ``~0`` and ``/`` becomes ``~1`` in each reference token."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def field_errors(errors: Iterable[ValidationError], prefix: tuple[str, ...]) -> list[FieldError]:
    out = []
    for err in errors:
        path = list(err.absolute_path)
        if err.validator == "required" and isinstance(err.validator_value, list):
            # point at the missing member, not at its parent
            missing = err.message.split("'")[1] if "'" in err.message else ""
            path.append(missing)
        elif err.validator == "additionalProperties" and isinstance(err.instance, dict):
            known = (
                set((err.schema or {}).get("properties", {}))
                if isinstance(err.schema, dict)
                else set()
            )
            for name in sorted(set(err.instance) - known):
                out.append(FieldError(pointer((*prefix, *path, name)), "unknown field"))
            continue
        out.append(FieldError(pointer((*prefix, *path)), err.message))
    return sorted(out, key=lambda e: e.pointer)


class PointerJSONBodyValidator(JSONRequestBodyValidator):  # type: ignore[misc]
    """Strict parse (UTF-8, no duplicate keys, bounded depth) and every error reported."""

    async def _parse(self, stream: AsyncGenerator[bytes, None], scope: Scope) -> Any:
        raw = b"".join([chunk async for chunk in stream])
        if not raw.strip():
            return None
        return loads_strict(raw)

    def _validate(self, body: Any) -> dict[str, Any] | None:
        if not self._nullable and body is None:
            raise RequestInvalid(
                "request body must not be empty",
                errors=[FieldError("/body", "required")],
            )
        validator = Draft4RequestValidator(self._schema, format_checker=FORMATS)
        errors = field_errors(validator.iter_errors(body), ("body",))
        if errors:
            raise RequestInvalid(
                f"{len(errors)} invalid field(s) in the request body", errors=errors
            )
        return None


class PointerParameterValidator(ParameterValidator):  # type: ignore[misc]
    def validate_request(self, request: ConnexionRequest) -> None:
        errors: list[FieldError] = []
        if self.strict_validation:
            extra = self.validate_query_parameter_list(
                request, security_params=self.security_query_params
            )
            errors += [
                FieldError(pointer(("query", p)), "unknown parameter") for p in sorted(extra)
            ]
        checks = {
            "query": self.validate_query_parameter,
            "path": self.validate_path_parameter,
            "header": self.validate_header_parameter,
            "cookie": self.validate_cookie_parameter,
        }
        for where, check in checks.items():
            for param in self.parameters.get(where, []):
                message = check(param, request) or _beyond_storage(where, param, request)
                if message:
                    errors.append(FieldError(pointer((where, param["name"])), message))
        if errors:
            raise RequestInvalid(f"{len(errors)} invalid parameter(s)", errors=errors)


VALIDATOR_MAP = {
    "parameter": PointerParameterValidator,
    "body": MediaTypeDict(
        {
            "*/*json": PointerJSONBodyValidator,
            "application/x-www-form-urlencoded": FormDataValidator,
            "multipart/form-data": MultiPartFormDataValidator,
        }
    ),
    "response": MediaTypeDict(
        {
            "*/*json": JSONResponseBodyValidator,
            NDJSON: NDJSONResponseBodyValidator,  # one JSON document per line, not one
            "text/plain": TextResponseBodyValidator,
        }
    ),
}


INT64 = 2**63 - 1


def _beyond_storage(where: str, param: dict[str, Any], request: ConnexionRequest) -> str | None:
    """What the API contract allows but no database stores: integers past 64 bits, NUL."""
    source = {
        "query": request.query_params,
        "path": request.path_params,
        "header": request.headers,
        "cookie": request.cookies,
    }.get(where, {})
    raw = source.get(param["name"])
    if raw is None:
        return None
    if "\x00" in str(raw):
        return "must not contain NUL characters"
    if (param.get("schema") or {}).get("type") == "integer":
        try:
            if abs(int(str(raw))) > INT64:
                return "integer too large"
        except ValueError:
            return None
    return None
