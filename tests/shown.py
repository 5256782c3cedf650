"""What a reader sees of text that went through md_escape (AppTest gives the Markdown source)."""

from __future__ import annotations

import re

WORD_JOINER = "\u2060"


def shown(markdown: str) -> str:
    """Escapes resolved, hard line breaks as newlines, the invisible word joiners dropped."""
    return re.sub(r"\\(.)", r"\1", markdown.replace("  \n", "\n")).replace(WORD_JOINER, "")
