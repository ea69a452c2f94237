"""A progress display for long imports: tqdm when it is installed, else a tiny text bar.

tqdm is not a dependency of the hub; the built-in bar (one line, redrawn at most every 1 %)
keeps a 1.5-million-row import from looking hung when tqdm is absent.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TextIO


def progress_bar(
    total: int, *, label: str = "rows", out: TextIO | None = None
) -> Callable[[int], None]:
    """A callable taking the number of rows done so far (monotonic)."""
    stream = out or sys.stderr
    try:
        from tqdm import tqdm  # type: ignore[import-untyped,unused-ignore]
    except ImportError:
        return _TextBar(total, label, stream)
    bar = tqdm(total=total, unit=label, file=stream, leave=True)

    def update(done: int) -> None:
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    return update


class _TextBar:
    def __init__(self, total: int, label: str, out: TextIO, width: int = 30) -> None:
        self.total, self.label, self.out, self.width = max(total, 1), label, out, width
        self.shown = -1

    def __call__(self, done: int) -> None:
        percent = min(100, done * 100 // self.total)
        if percent == self.shown:
            return
        self.shown = percent
        filled = self.width * percent // 100
        bar = "#" * filled + "." * (self.width - filled)
        end = "\n" if percent == 100 else ""
        self.out.write(f"\r[{bar}] {percent:3d}% {done}/{self.total} {self.label}{end}")
        self.out.flush()
