"""md_escape: whatever anyone typed comes out as Markdown that only spells that text.

The browser test (tests/browser/test_literal_text_browser.py) shows it rendered; these pin the rules:
every ASCII punctuation character is backslash-escaped (CommonMark shows an escaped character as
itself, always), so no Markdown, HTML, autolink, math or Streamlit directive survives.
"""

from __future__ import annotations

import re
import string

from hypothesis import given
from hypothesis import strategies as st

from outreach.ui.text import email_link, md_escape, phone_link
from tests.shown import WORD_JOINER, shown


def bare_punctuation(markdown: str) -> list[str]:
    """Punctuation that is not the second half of an escape: what Markdown could act on."""
    return [c for c in re.sub(r"\\.", "", markdown) if c in string.punctuation]


def test_a_phishing_link_and_a_remote_image_become_plain_text() -> None:
    for typed in ("[Session expired - sign in again](http://evil.example)",
                  "![x](http://evil.example/x.png)", "<img src=x onerror=alert(1)>",
                  "https://acme.com/contact", "www.acme.com", "bob@acme.com", "$x^2$", ":red[alarm]",
                  "&copy; &#60;b&#62;", "# Heading", "1. first", "> quoted", "| a | b |"):
        escaped = md_escape(typed)
        assert bare_punctuation(escaped) == [], typed
        assert shown(escaped) == typed


def test_a_web_address_keeps_no_backslash_in_what_is_shown() -> None:
    assert md_escape("https://acme.com/contact") == "https\\:\u2060\\/\\/acme\\.com\\/contact"
    assert shown(md_escape("https://acme.com/contact")) == "https://acme.com/contact"


def test_addresses_gfm_would_link_are_interrupted_invisibly() -> None:
    # GFM links these by pattern after parsing, escapes or not (the browser test shows it).
    for typed in ("http://evil.example", "HTTPS://evil.example", "www.evil.example", "bob@evil.example"):
        assert WORD_JOINER in md_escape(typed), typed


def test_streamlit_text_rewrites_are_interrupted_invisibly() -> None:
    assert WORD_JOINER in md_escape("call back -> tomorrow")
    assert WORD_JOINER in md_escape(":material_warning: and :streamlit:")
    assert WORD_JOINER not in md_escape("10:30, a-b, x->y")  # only the patterns Streamlit rewrites


def test_line_breaks_stay_and_indentation_cannot_make_a_code_block() -> None:
    assert md_escape("first\r\n    second\n\nthird") == "first  \nsecond  \n  \nthird"


@given(st.text())
def test_any_text_escapes_to_itself_and_nothing_else(typed: str) -> None:
    escaped = md_escape(typed)
    assert bare_punctuation(escaped) == []
    assert shown(escaped) == "\n".join(line.strip() for line in typed.splitlines())


def test_a_phone_link_is_made_only_from_a_normalised_number() -> None:
    assert phone_link("(617) 555-0190", "+16175550190") == r"[\(617\) 555\-0190](tel:+16175550190)"
    assert phone_link("x", "+1) [evil](http://evil.example") == "x"


def test_an_email_link_is_made_only_from_a_plain_address() -> None:
    assert email_link("dara@example.org") == r"[dara\@example\.org](mailto:dara@example.org)"
    assert email_link("a@b)[x](http://evil.example") == md_escape("a@b)[x](http://evil.example")
