"""The predictions file `score` hands back: where it goes, checked before anything is scored, written beside its
target before the commit and moved into place after it, and at most as large as the caller can be sent.

Over the HTTP API the file is written in the request's temporary folder and comes back in the answer, so a server
caps it (`max_bytes`): a file past the cap rolls the logged rows back, as a file that cannot be written does, instead
of leaving rows logged with no predictions handed out.
"""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path
from typing import Iterator

from .. import csvsafe
from ..errors import InvalidInput


def default_output(source: str | Path) -> Path:
    """Where the predictions go when no --output is given: beside the input, `INPUT.scored.csv`."""
    return Path(str(source)).with_suffix(".scored.csv")


def check_output(out: Path) -> None:
    """Refuse an output that cannot be written before anything is scored or logged."""
    if out.is_dir():
        raise InvalidInput(f"{out} is a folder; give --output a file name, e.g. {out / 'scored.csv'}. Nothing was logged.")
    if not out.parent.is_dir():
        raise InvalidInput(f"The folder {out.parent} does not exist; create it or choose another --output. "
                           "Nothing was logged.")
    if not os.access(out.parent, os.W_OK) or (out.exists() and not os.access(out, os.W_OK)):
        raise InvalidInput(f"{out} cannot be written here (permission denied); choose another --output. "
                           "Nothing was logged.")


@contextlib.contextmanager
def removed_on_error(paths: list[Path]) -> Iterator[None]:
    try:
        yield
    except BaseException:
        for p in paths:
            p.unlink(missing_ok=True)
        raise


def megabytes(n: int) -> str:
    return f"{n / (1024 * 1024):.3g} MB"


def write_output(frame, out: Path, max_bytes: int | None = None) -> Path:
    """Write `frame` as CSV beside `out` (a partial file, renamed by `move_into_place` after the commit); refuse it,
    removed, when it is past `max_bytes`."""
    partial = out.with_name(f".{out.name}.{os.getpid()}.partial")
    try:
        csvsafe.write_frame(frame, partial)  # request ids come from the input: no formulas, no split rows
        size = partial.stat().st_size
    except OSError as e:
        partial.unlink(missing_ok=True)
        if e.errno == errno.ENOSPC:
            from ..store import DiskFull  # here: the CLI in remote mode checks its --output without loading DuckDB

            raise DiskFull(f"The disk holding {out.parent} is full; free space there and score again. "
                           "Nothing was logged.") from None
        raise InvalidInput(f"Cannot write the predictions to {out}: {e.strerror}; choose another --output. "
                           "Nothing was logged.") from None
    if max_bytes is not None and size > max_bytes:
        partial.unlink(missing_ok=True)
        raise InvalidInput(f"The predictions come to {megabytes(size)}, more than the {megabytes(max_bytes)} this "
                           "server hands back in one answer (MODELGOV_API_MAX_RESULT_MB); score the rows in smaller "
                           "files. Nothing was logged.")
    return partial


def move_into_place(partial: Path, out: Path, ingest_id: int) -> None:
    """After the commit: the partial file becomes `out`."""
    try:
        os.replace(partial, out)
    except OSError as e:
        partial.unlink(missing_ok=True)
        raise InvalidInput(f"The rows were logged (ingest {ingest_id}) but the predictions could not be moved to "
                           f"{out}: {e.strerror}; score again with another --output.") from None
