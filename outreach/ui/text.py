"""Showing people's text on a page: as text, never as Markdown or HTML."""

_MARKDOWN = set("\\`*_{}[]<>()#+-.!|~$")


def md_escape(text: str) -> str:
    """Backslash every Markdown character, so a name like "*Bob* [x](y)" shows as typed."""
    return "".join(f"\\{c}" if c in _MARKDOWN else c for c in text)
