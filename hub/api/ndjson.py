"""Response validation for newline-delimited JSON (``application/x-ndjson``).

Connexion would take ``application/x-ndjson`` for JSON (it matches ``*/*json``) and fail on
the second line. Here every line is one JSON document checked against the operation's
response schema (the schema of ONE line, as OpenAPI 3.2's ``itemSchema`` would say).
Used only when responses are validated (the tests); production streams unbuffered.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from connexion.exceptions import NonConformingResponseBody
from connexion.validators import JSONResponseBodyValidator

MEDIA_TYPE = "application/x-ndjson"


class NDJSONResponseBodyValidator(JSONResponseBodyValidator):  # type: ignore[misc]
    def _parse(self, stream: Iterable[bytes]) -> list[Any]:
        text = b"".join(stream).decode(self._encoding)
        try:
            return [json.loads(line) for line in text.split("\n") if line]
        except json.JSONDecodeError as exc:
            raise NonConformingResponseBody(f"not one JSON document per line: {exc}") from exc

    def _validate(self, body: list[Any]) -> None:
        for document in body:
            super()._validate(document)
