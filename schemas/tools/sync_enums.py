"""Copy the vocabulary codes into the enums of ``defs.json``.

Why: the schema files must be usable on their own by any participant (a plain JSON Schema
validator, no hub code), so the code lists live in the schema as enums. The vocabularies stay
the single source; this script copies them and a unit test fails when the two drift.

Run: ``python schemas/tools/sync_enums.py`` (standard library only).
"""

from __future__ import annotations

import json
from pathlib import Path

SCHEMAS = Path(__file__).resolve().parent.parent
ENUMS = {
    "category_code": ("categories.json", "categories"),
    "channel_code": ("channels.json", "channels"),
    "outcome_code": ("outcomes.json", "outcomes"),
}


def main() -> None:
    path = SCHEMAS / "defs.json"
    defs = json.loads(path.read_text(encoding="utf-8"))
    for name, (file, key) in ENUMS.items():
        vocab = json.loads((SCHEMAS / "vocab" / file).read_text(encoding="utf-8"))
        defs["$defs"][name]["enum"] = list(vocab[key])
    path.write_text(json.dumps(defs, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
