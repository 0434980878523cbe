"""User text inside Markdown: shown as the characters typed, never as formatting, a link or an image.

Streamlit's Markdown renders `![x](url)` as an image the browser fetches and `[t](url)` as a link, and its own
directives (`:red[...]`, `:material/icon:`, `$…$` maths) on top. Whatever a person typed (owner, business unit,
tags, description, model card) goes through `escape` before it is placed in st.markdown / st.caption text.
"""

from __future__ import annotations

import re

# CommonMark lets a backslash escape any ASCII punctuation; ':' and '$' stop Streamlit's directives and maths.
_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~:$=&\"'^])")


def escape(text: object, *, inline: bool = True) -> str:
    """`text` as literal Markdown; `inline` also folds line breaks so a value cannot start a block (a heading, a
    list, a table)."""
    s = "" if text is None else str(text)
    s = "".join(ch for ch in s if ch in "\n\t" or ch.isprintable())
    if inline:
        s = " ".join(s.split())
    out = _SPECIAL.sub(r"\\\1", s)
    if not inline:  # keep paragraphs: a hard line break per newline
        out = "  \n".join(out.splitlines())
    return out
