"""Build the dashboard's province map (``static/th_provinces.map.json``) from the GeoJSON.

Why precompute: the browser should draw 77 SVG paths, not project 1,500 coordinates and
parse 96 KB of fifteen-decimal numbers and unused properties on every load. The outlines
are already simplified at source (see ``geo/NOTICE``), so this only projects (an
equirectangular projection scaled by cos(13°N), Thailand's middle latitude, which keeps
shapes true enough at this size), rounds to a tenth of an SVG unit (about 200 m) and writes
relative path commands. No vertex is dropped except exact repeats after rounding.

Run ``python -m hub.dashboard.build_map`` after replacing the GeoJSON; a test checks the
committed output equals what this script makes, so the two cannot drift apart.
"""

from __future__ import annotations

import itertools
import json
import math
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "geo" / "th_provinces.geojson"
TARGET = HERE / "static" / "th_provinces.map.json"
WIDTH = 400.0  # SVG units; the height follows from the projection
MID_LATITUDE = 13.0
PAD = 4.0
CREDIT = (
    "Province outlines: mapthai (MIT, © 2021 Piyayut Chitchumnong), simplified from "
    "OCHA/HDX Thailand administrative boundaries (Royal Thai Survey Department, 2019; "
    "CC BY-IGO)"
)

Point = tuple[float, float]


def _rings(geometry: dict[str, Any]) -> Iterable[Sequence[Sequence[float]]]:
    polygons = geometry["coordinates"]
    if geometry["type"] == "Polygon":
        polygons = [polygons]
    elif geometry["type"] != "MultiPolygon":
        raise ValueError(f"unexpected geometry {geometry['type']!r}")
    for polygon in polygons:
        yield from polygon


def _fmt(v: float) -> str:
    text = f"{v:.1f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _ring_path(points: list[tuple[int, int]]) -> str:
    """Points in tenths of a unit; the first absolute, the rest relative (``l``)."""
    out = [f"M{_fmt(points[0][0] / 10)} {_fmt(points[0][1] / 10)}"]
    steps = []
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        steps.append(f"{_fmt((x1 - x0) / 10)} {_fmt((y1 - y0) / 10)}")
    if steps:
        out.append("l" + " ".join(steps))
    out.append("z")
    return "".join(out)


def build(source: Path = SOURCE) -> dict[str, Any]:
    """The map document: viewBox, credit and one ``{code, th, en, d}`` per province."""
    data = json.loads(source.read_text(encoding="utf-8"))
    features = data["features"]
    kx = math.cos(math.radians(MID_LATITUDE))
    lons = [c[0] for f in features for r in _rings(f["geometry"]) for c in r]
    lats = [c[1] for f in features for r in _rings(f["geometry"]) for c in r]
    x0, y1 = min(lons) * kx, max(lats)
    scale = (WIDTH - 2 * PAD) / (max(lons) * kx - x0)
    height = (y1 - min(lats)) * scale + 2 * PAD

    def project(lon: float, lat: float) -> tuple[int, int]:
        x = (lon * kx - x0) * scale + PAD
        y = (y1 - lat) * scale + PAD
        return round(x * 10), round(y * 10)

    provinces = []
    for f in sorted(features, key=lambda f: f["properties"]["ADM1_PCODE"]):
        props = f["properties"]
        code = props["ADM1_PCODE"].removeprefix("TH")
        paths = []
        for ring in _rings(f["geometry"]):
            pts: list[tuple[int, int]] = []
            for lon, lat, *_ in ring:
                p = project(lon, lat)
                if not pts or pts[-1] != p:
                    pts.append(p)
            if len(pts) > 1 and pts[0] == pts[-1]:
                pts.pop()  # "z" closes the ring
            if len(pts) >= 3:
                paths.append(_ring_path(pts))
        provinces.append(
            {"code": code, "th": props["ADM1_TH"], "en": props["ADM1_EN"], "d": "".join(paths)}
        )
    return {
        "viewBox": f"0 0 {_fmt(WIDTH)} {_fmt(round(height, 1))}",
        "credit": CREDIT,
        "provinces": provinces,
    }


def render(doc: dict[str, Any]) -> str:
    """Stable text: one province per line, so a change shows as a readable diff."""
    head = {k: v for k, v in doc.items() if k != "provinces"}
    lines = [json.dumps(p, ensure_ascii=False, separators=(",", ":")) for p in doc["provinces"]]
    body = ",\n".join(lines)
    head_text = json.dumps(head, ensure_ascii=False, separators=(",", ":"))[:-1]
    return f'{head_text},"provinces":[\n{body}\n]}}\n'


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    target = Path(args[0]) if args else TARGET
    text = render(build())
    target.write_text(text, encoding="utf-8")
    print(f"{target}: {len(text.encode('utf-8'))} bytes, from {SOURCE.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
