"""Showing people's text on a page exactly as typed: never as Markdown, HTML or a link.

Nearly every Streamlit element renders its text as Markdown: st.markdown, st.caption, st.info and
the other alerts, st.toast, titles and headers, and the labels of expanders, st.status, buttons, tabs
and widgets (labels drop headings, lists and tables, but keep links and images). A lead named
``[Session expired](http://evil.example)`` would be a live link there, and
``![x](http://evil.example/x.png)`` would make every reader's browser fetch that address. Only
st.text, st.code, st.dataframe and the options of st.selectbox and st.multiselect show text as is:
never pass them ``md_escape``'d text, or the backslashes show.

So every name, note, subject, address, sheet problem or error message that goes into one of the
Markdown elements passes through ``md_escape`` first, and nothing else does the job.

One sharp edge: GFM links web and e-mail addresses by pattern after parsing, so md_escape puts an
invisible word joiner (U+2060) into them. It shows as nothing, but an address copied from a note
carries it. Addresses a rep needs to copy or click (a lead's phone and e-mail, the Outbox's To)
are made into real links by ``phone_link`` and ``email_link`` from the values the domain validated.
"""

from __future__ import annotations

import re
import string

# CommonMark lets a backslash escape any ASCII punctuation, and an escaped character is always shown as
# itself. Escaping all of it (not just the characters that look special) also breaks the patterns that
# GFM and Streamlit find in plain text: autolinks (https: www. @), math ($), directives and emoji (:).
_PUNCTUATION = frozenset(string.punctuation)

# Some rewrites run on the parsed text, where no escape reaches: GFM turns "https://x", "www.x" and
# "a@x.com" into links, and Streamlit " -> " into an arrow, ":material_x:" into an icon and ":streamlit:"
# into its logo. An invisible word joiner inside each pattern stops them.
_WORD_JOINER = "\u2060"
_AUTOLINKS = re.compile(r"(?<=https:)(?=//)|(?<=http:)(?=//)|(?<=www)(?=\.)|(?<=@)(?=[-\w])", re.IGNORECASE)
_ARROWS = re.compile(r"(?:(?<=\s)|^)(<->|->|<-|--|>=|<=|~=)(?=\s|$)")
_ICONS = re.compile(r"(?<=:)(?=material_\w+:|streamlit:)")
_EMAIL = re.compile(r"[^\s@()<>\[\]\\]+@[^\s@()<>\[\]\\]+")


def md_escape(text: object) -> str:
    """``text`` as Markdown that every Streamlit element shows literally, in any Markdown context.

    Line breaks stay line breaks; a line's leading and trailing spaces go (a browser drops them
    anyway, and leading ones would make a code block).
    """
    if text is None:
        return ""
    lines = (_escape_line(line.strip()) for line in str(text).splitlines())
    return "  \n".join(lines)  # two spaces: a hard line break that leaves no stray character


def _escape_line(line: str) -> str:
    line = _AUTOLINKS.sub(_WORD_JOINER, line)
    line = _ARROWS.sub(lambda m: m[1][0] + _WORD_JOINER + m[1][1:], line)
    line = _ICONS.sub(_WORD_JOINER, line)
    return _backslashed(line)


def _backslashed(text: str) -> str:
    return "".join(f"\\{c}" if c in _PUNCTUATION else c for c in text)


def phone_link(shown: str, e164: str) -> str:
    """A tap-to-call link, made only from a number the domain normalised, so no stored value can end it."""
    if re.fullmatch(r"\+\d{4,15}", e164 or ""):
        return f"[{md_escape(shown)}](tel:{e164})"
    return md_escape(shown)


def email_link(address: str) -> str:
    """A mailto link for an address the domain validated: it copies cleanly, with no word joiner in it."""
    if _EMAIL.fullmatch(address or ""):
        return f"[{_backslashed(address)}](mailto:{address})"  # link text is never autolinked again
    return md_escape(address)
