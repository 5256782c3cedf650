"""The referral script a rep reads on every call.

The default lives in ``templates/referral_script.txt.j2``. A manager can replace
it from the sheet (Settings tab, key "Referral Script") without a deploy; that
text is a template too ("Thanks, {{ customer.first_name }}..."), rendered in a
sandbox so a sheet cell can never reach into the app.
"""

from __future__ import annotations

from dataclasses import dataclass

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from outreach.emails import environment

_SANDBOX = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


@dataclass(frozen=True)
class Person:
    first_name: str
    name: str


def check_script(text: str) -> str:
    """Validate a manager's script (used by the Settings tab); raise ValueError if it cannot render."""
    try:
        render_script(text, Person("Carla", "Carla Diaz"), Person("Ann", "Ann Archer"))
    except (TemplateError, ValueError) as exc:
        raise ValueError(f"the script cannot be used: {exc}") from None
    return text


def render_script(custom: str, customer: Person, rep: Person) -> str:
    template = (_SANDBOX.from_string(custom) if custom
                else environment().get_template("referral_script.txt.j2"))
    return template.render(customer=customer, rep=rep).strip()
