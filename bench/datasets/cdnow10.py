"""CDNOW at the size of a small book: one customer in ten (about 2,400 of them, about 5,000
purchases in the nine months before the cut-off), as the CDNOW sample of the literature.

A small book is where calibration is noisiest (a few hundred churners to learn from,
fewer to judge on): this is the case to watch for a champion picked by luck.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.datasets import Dataset, cdnow


def build(cache: Path, **settings: Any) -> Dataset:
    """CDNOW with one customer in ten (by id)."""
    return replace(cdnow.build(cache, sample_every=10, **settings), name="cdnow10")
