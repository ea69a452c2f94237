"""Scrubbing free text shown to oversight (Thailand's PDPA).

Thai phone numbers (mobile and landline, with or without separators, brackets or +66,
in ASCII or Thai digits), e-mail addresses and 13-digit national ID numbers (with or
without dashes) become a marker. Deliberately greedy: a false positive hides a harmless
number, a false negative leaks a person.
"""

from __future__ import annotations

import re

MARK = "[ข้อมูลส่วนบุคคล]"

_PATTERNS = (
    re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"),
    re.compile(r"(?<!\d)\d[\s-]?\d{4}[\s-]?\d{5}[\s-]?\d{2}[\s-]?\d(?!\d)"),  # national ID
    # phones: 0 or +66 (ASCII or Thai digits), optional (0), separators, 9-10 digits in all
    re.compile(
        r"(?<!\d)(?:\+?[6๖][6๖][\s-]?(?:\([0๐]\)[\s-]?)?|\(?[0๐])(?:[\s.)-]{0,2}\d){8,9}(?!\d)"
    ),
)


def scrub(text: str | None) -> str | None:
    if not text:
        return text
    for pattern in _PATTERNS:
        text = pattern.sub(MARK, text)
    return text


def public_text(subject: str | None, description: str | None) -> str:
    """The one text of a complaint the national index searches and nothing else: subject
    and description, scrubbed together (so a number split across the two is caught too).

    Stored as ``complaints.public_text`` and trigram-indexed; searching scrubbed text means
    nobody can find a complaint by its reporter's phone number or ID.
    """
    joined = "\n".join(part for part in (subject, description) if part)
    return scrub(joined) or ""
