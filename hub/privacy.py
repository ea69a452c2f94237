"""Scrubbing free text shown to oversight (Thailand's PDPA).

Thai phone numbers (mobile 06/08/09 and landline 02–07, with or without separators or
+66), e-mail addresses and 13-digit national ID numbers (with or without dashes) become a
marker. Deliberately greedy: a false positive hides a harmless number, a false negative
leaks a person.
"""

from __future__ import annotations

import re

MARK = "[ข้อมูลส่วนบุคคล]"

_PATTERNS = (
    re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"),
    re.compile(r"(?<!\d)\d[\s-]?\d{4}[\s-]?\d{5}[\s-]?\d{2}[\s-]?\d(?!\d)"),  # national ID
    re.compile(r"(?<![\d])(?:\+?66[\s-]?|0)(?:[689]\d|[2-7])(?:[\s.-]?\d){6,7}(?!\d)"),  # phones
)


def scrub(text: str | None) -> str | None:
    if not text:
        return text
    for pattern in _PATTERNS:
        text = pattern.sub(MARK, text)
    return text
