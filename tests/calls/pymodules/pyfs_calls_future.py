"""String annotations (PEP 563) for the calls suite: resolved in the
module's namespace as typing.get_type_hints() does."""

from __future__ import annotations

from typing import Optional

Word = str


def label(word: Word, count: int = 1, suffix: Optional[str] = None, *, upper: bool = False):
    text = word * count + (suffix or "")
    return text.upper() if upper else text
