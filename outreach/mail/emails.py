"""Rendering e-mails: each kind has a subject, a plain-text and an HTML template.

Templates live in ``templates/`` (``<name>.subject.j2``, ``<name>.txt.j2``,
``<name>.html.j2``). Every template except plain text is autoescaped, so a
customer called ``<script>`` is shown, not run; undefined variables are errors,
so a typo fails a test instead of sending a blank. Subjects are one line: a
newline in a name can never add a mail header.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from outreach.settings import PROJECT_ROOT

TEMPLATES = PROJECT_ROOT / "templates"


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def _autoescape(name: str | None) -> bool:
    return not (name or "").endswith((".txt.j2", ".subject.j2"))


@cache
def environment(directory: Path = TEMPLATES) -> Environment:
    env = Environment(loader=FileSystemLoader(directory), autoescape=_autoescape,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                      keep_trailing_newline=True)
    env.filters["tel"] = lambda e164: f"tel:{e164}" if e164 else ""
    return env


def render_email(name: str, **context: Any) -> Rendered:
    env = environment()
    subject = env.get_template(f"{name}.subject.j2").render(**context)
    return Rendered(
        subject=re.sub(r"\s+", " ", subject).strip()[:200],
        text=env.get_template(f"{name}.txt.j2").render(**context),
        html=env.get_template(f"{name}.html.j2").render(**context),
    )
