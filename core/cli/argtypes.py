"""Argument types every command uses: numbers in range, finite floats, output files whose folder exists.

argparse calls these while parsing, before any command touches the store, so a bad number or an output
path that cannot be written ends as one usage sentence (exit 2) with nothing read, computed or written.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Callable


def whole_number(lo: int, hi: int) -> Callable[[str], int]:
    """A whole number from `lo` to `hi` inclusive (`1e3`, `-5`, `nan`, `10**40` are refused)."""

    def parse(text: str) -> int:
        try:
            value = int(text.strip().replace("_", ""))
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text}' is not a whole number; give one from {lo:,} to {hi:,}") \
                from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"{text} is out of range; give a whole number from {lo:,} to {hi:,}")
        return value

    parse.__name__ = "whole number"  # argparse names the type in its own messages
    return parse


def finite_float(text: str) -> float:
    """A finite number: `nan`, `inf` and `1e400` (which overflows to inf) are refused."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number; give e.g. 0.7") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"'{text}' is not a finite number; give e.g. 0.7")
    return value


def optional_finite_float(text: str) -> float | None:
    """A finite number, or `none`/`off`/empty to switch the check it sets off."""
    if text.strip().lower() in ("", "none", "off"):
        return None
    try:
        return finite_float(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a finite number; give e.g. 0.7, or 'none' to skip the "
                                         "check") from None


def output_file(text: str) -> str:
    """A file to write: its folder must exist and be writable, and the path must not be a folder.

    Checked at parse time, so a command never does its work (or commits rows) and then fails to write.
    """
    if not text.strip():
        raise argparse.ArgumentTypeError("the output file name is empty")
    p = Path(text).expanduser()
    folder = p.parent if str(p.parent) else Path(".")
    if p.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder; name a file inside it")
    if not folder.is_dir():
        raise argparse.ArgumentTypeError(f"the folder {folder} does not exist; create it first or write elsewhere")
    import os

    if not os.access(folder, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"the folder {folder} is not writable")
    if p.exists() and not os.access(p, os.W_OK):
        raise argparse.ArgumentTypeError(f"{text} exists and is not writable")
    return text


# Ranges shared by several commands (the largest values keep one run within a machine's memory and time).
LIMIT = whole_number(1, 1_000_000)
SEED = whole_number(0, 2**32 - 1)
ROWS = whole_number(1, 1_000_000)
TOP = whole_number(0, 10_000)
DEPTH = whole_number(1, 10_000)
PAGE = whole_number(1, 1_000_000)
PER_PAGE = whole_number(1, 1000)
ENTITY_ID = whole_number(1, 2**63 - 1)
