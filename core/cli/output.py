"""Text for a terminal: what people typed into the store can colour, hide or forge nothing.

A justification holding `ESC[8m` hides what follows it, `ESC[1A` or a carriage
return overwrites the line above, U+202E shows the rest of a line backwards,
and a newline inside a table cell starts a row that looks real. Every text
printer of the CLI passes what it prints through `text()` (a block of lines)
or `line()` (one field or one sentence). JSON output is never passed here: it
stays faithful, and JSON escapes control characters anyway.
"""

from __future__ import annotations

import re

# Whole escape sequences first, so that no parameter text ("[8m") is left behind:
# CSI (ESC [ or the 8-bit 0x9B), then string commands OSC / DCS / SOS / PM / APC up to
# their terminator (BEL or ST) or the end of the line (so an unterminated one cannot swallow
# the lines after it), then any other escape (ESC c, ESC 7, ESC ( B, …).
_SEQUENCES = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\n]*?(?:\x07|\x1b\\|\x9c|(?=\n)|$)"
    r"|\x1b[ -/]*[0-~]?",
)
# C0 controls except tab and newline, DEL, C1 controls, and the Unicode bidi controls
# (ALM, LRM, RLM, LRE, RLE, PDF, LRO, RLO, LRI, RLI, FSI, PDI).
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# Characters that end a line on a terminal or in an editor.
_BREAKS = re.compile("\r\n|[\n\r\x0b\x0c\x85\u2028\u2029]")
RETURN_MARK = "\u21b5"  # ↵ stands in for a line break inside one field


def text(value: object) -> str:
    """A block of lines for a terminal: control characters and escape sequences removed, newlines and tabs kept."""
    s = _BREAKS.sub("\n", str(value))
    return _CONTROLS.sub("", _SEQUENCES.sub("", s))


def line(value: object) -> str:
    """One field or sentence for a terminal: as `text()`, and a line break shows as ↵, a tab as a space."""
    s = _BREAKS.sub(RETURN_MARK, str(value)).replace("\t", " ")
    return _CONTROLS.sub("", _SEQUENCES.sub("", s))

