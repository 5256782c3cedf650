"""The referral script a rep reads on every call.

The default lives in ``templates/referral_script.txt.j2``. A manager can replace
it from the sheet (Settings tab, key "Referral Script") without a deploy; that
text is a template too ("Thanks, {{ customer.first_name }}..."), so it must never
reach into the app nor hang it.

Rather than limit what a full template language may do (loops, ranges, string
arithmetic, formatting — each a way to spend minutes or gigabytes), a script may
only use what words read aloud need: the people's names, a few case filters, and
``{% if %}``. Everything else is refused by :func:`check_script` with what was
used, and the Settings tab keeps the default. Such a script renders in time
proportional to its own length; it is still rendered in Jinja's sandbox, and a
script that fails for a real customer is replaced by the standard one on that card.

Nesting is limited too: Jinja reads, compiles and renders a template recursively, so
a hundred ``{% if %}`` inside each other, or a hundred brackets, would otherwise end in
Python's RecursionError (or SyntaxError, MemoryError) instead of a refusal. The limit
is counted before anything recursive runs, far below where the recursion stops, so a
script accepted by a sync also renders deep inside a page.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from jinja2 import StrictUndefined, TemplateError, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

from outreach.job_problems import reason_of
from outreach.mail.emails import environment

log = logging.getLogger(__name__)

MAX_OUTPUT = 10_000  # characters: several minutes read aloud
MAX_NESTING = 20  # {% if %} inside {% if %}, brackets, filters on filters: words read aloud need a few
PEOPLE = {"customer": frozenset({"first_name", "name"}), "rep": frozenset({"first_name", "name"})}
FILTERS = frozenset({"upper", "lower", "title", "capitalize", "trim", "default", "d"})
# The nodes of names, text, filters, if/else and comparisons: none of them repeats or grows anything.
_ALLOWED_NODES = (nodes.Template, nodes.Output, nodes.TemplateData, nodes.Const, nodes.Name, nodes.Getattr,
                  nodes.Filter, nodes.If, nodes.CondExpr, nodes.Not, nodes.And, nodes.Or, nodes.Compare,
                  nodes.Operand, nodes.Concat, nodes.Test)
_TESTS = frozenset({"defined", "none", "undefined"})
# What a manager might reach for, named the way they wrote it.
_REFUSED = {nodes.For: "loops ({% for %})", nodes.Macro: "macros", nodes.Call: "calling functions",
            nodes.Mul: "multiplying", nodes.Pow: "powers", nodes.Mod: "formatting with %",
            nodes.Assign: "{% set %}", nodes.AssignBlock: "{% set %}", nodes.Include: "{% include %}",
            nodes.Import: "{% import %}", nodes.FromImport: "{% import %}", nodes.Extends: "{% extends %}",
            nodes.Getitem: "indexing ([...])", nodes.List: "lists", nodes.Dict: "dicts"}

# The allowed nodes that hold one another (the rest are names, text and wrappers around one of these).
_NESTING_NODES = (nodes.If, nodes.CondExpr, nodes.Not, nodes.And, nodes.Or, nodes.Compare, nodes.Concat,
                  nodes.Test, nodes.Filter)
_TOO_DEEP = (f"it is nested too deeply (more than {MAX_NESTING} levels of {{% if %}}, brackets, filters "
             "or and/or/not)")

_SANDBOX = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
_WHITESPACE_RUN = re.compile(r"\s+")


@dataclass(frozen=True)
class Person:
    first_name: str
    name: str


# The thank-you e-mail's words: the same rules, with the friend referred and the milestone reached.
THANK_YOU_NAMES = {**PEOPLE, "friend": frozenset({"first_name", "name"}), "milestone": frozenset()}


def _refusal(node: nodes.Node, names: dict[str, frozenset[str]] = PEOPLE) -> str | None:
    """Why this node may not be in a script, or None if it may."""
    listed = " and ".join(names)
    if isinstance(node, nodes.Name) and node.name not in names:
        return f"only {listed} can be used, not {node.name!r}"
    if isinstance(node, nodes.Getattr) and not (
            isinstance(node.node, nodes.Name) and node.attr in names.get(node.node.name, ())):
        return f"only first_name and name of {listed} can be used, not {node.attr!r}"
    if isinstance(node, nodes.Filter) and node.name not in FILTERS:
        return f"the filter {node.name!r} is not allowed (use {', '.join(sorted(FILTERS))})"
    if isinstance(node, nodes.Test) and node.name not in _TESTS:
        return f"the test {node.name!r} is not allowed"
    if not isinstance(node, _ALLOWED_NODES):
        what = next((label for kind, label in _REFUSED.items() if isinstance(node, kind)),
                    type(node).__name__)
        return f"{what} cannot be used in a script; write the words and {{{{ customer.first_name }}}}"
    return None


@contextmanager
def _readable() -> Iterator[None]:
    """Whatever reading or filling in the manager's text raises becomes the ValueError of a refusal.

    Jinja's own errors say what is wrong and go on as they are; Python's recursion and nesting limits
    mean the text is nested too deeply; anything else (``customer.name < 5``: a TypeError) is named.
    """
    try:
        yield
    except (TemplateError, ValueError):
        raise
    except (RecursionError, SyntaxError):  # SyntaxError: Python's own nesting limits, in compiled code
        raise ValueError(_TOO_DEEP) from None
    except MemoryError:
        raise ValueError("it is too large to read") from None
    except Exception as exc:
        raise ValueError(f"it cannot be filled in ({reason_of(exc)})") from None


def _brackets_too_deep(text: str) -> bool:
    """Brackets leave no node in the tree, but each one costs the parser a dozen frames: count tokens."""
    depth = 0
    for _, kind, value in _SANDBOX.lex(text):  # the lexer is a loop, never a recursion
        if kind == "operator" and value in ("(", "[", "{"):
            depth += 1
            if depth > MAX_NESTING:
                return True
        elif kind == "operator" and value in (")", "]", "}"):
            depth -= 1
    return False


def _first_refusal(tree: nodes.Template, names: dict[str, frozenset[str]]) -> str | None:
    """Why the tree cannot be a script, walking it in order without recursion (a chain of 2000 ``and``
    is 2000 nodes deep)."""
    todo: list[tuple[nodes.Node, int]] = [(tree, 0)]
    while todo:
        node, depth = todo.pop()
        reason = _refusal(node, names)
        if reason:
            return reason
        depth += isinstance(node, _NESTING_NODES)
        if depth > MAX_NESTING:
            return _TOO_DEEP
        todo.extend((child, depth) for child in reversed(list(node.iter_child_nodes())))
    return None


def _check(text: str, names: dict[str, frozenset[str]], what: str, **example: object) -> str:
    try:
        if _brackets_too_deep(text):
            raise ValueError(_TOO_DEEP)
        with _readable():
            tree = _SANDBOX.parse(text)
    except (TemplateError, ValueError) as exc:
        raise ValueError(f"{what} cannot be used: {_reason(exc)}") from None
    reason = _first_refusal(tree, names)
    if reason:
        raise ValueError(f"{what} cannot be used: {reason}")
    try:
        _render_custom(text, **example)
    except (TemplateError, ValueError) as exc:
        raise ValueError(f"{what} cannot be used: {_reason(exc)}") from None
    return text


def check_script(text: str) -> str:
    """Validate a manager's script (used by the Settings tab); raise ValueError if it cannot be used."""
    return _check(text, PEOPLE, "the script", customer=Person("Carla", "Carla Diaz"),
                  rep=Person("Ann", "Ann Archer"))


def check_thank_you(text: str) -> str:
    """Validate the manager's thank-you words (Settings "Thank You Email"), as strictly as a script."""
    return _check(text, THANK_YOU_NAMES, "the thank-you e-mail", customer=Person("Carla", "Carla Diaz"),
                  rep=Person("Ann", "Ann Archer"), friend=Person("Dana", "Dana Whitfield"), milestone="won")


def _render_custom(custom: str, **context: object) -> str:
    with _readable():
        said = _SANDBOX.from_string(custom).render(**context).strip()
    if len(said) > MAX_OUTPUT:
        raise ValueError(f"it is longer than {MAX_OUTPUT:,} characters (the limit)")
    return said


def render_script(custom: str, customer: Person, rep: Person) -> str:
    if custom:
        try:
            return _render_custom(check_script(custom), customer=customer, rep=rep)
        except (TemplateError, ValueError) as exc:  # e.g. stored by an older version, before the check
            log.warning("the custom referral script cannot be used for this call (%s); "
                        "the standard script is shown", _reason(exc))
    return environment().get_template("referral_script.txt.j2").render(customer=customer, rep=rep).strip()


def render_thank_you(custom: str, people: dict[str, Person], milestone: str) -> str:
    """The thank-you e-mail's words: the manager's when they still pass the check, else the standard."""
    if custom:
        try:
            return _render_custom(check_thank_you(custom), **people, milestone=milestone)
        except (TemplateError, ValueError) as exc:
            log.warning("the custom thank-you e-mail cannot be used (%s); the standard words are sent",
                        _reason(exc))
    return environment().get_template("thank_you_words.txt.j2").render(**people, milestone=milestone).strip()


def _reason(exc: BaseException) -> str:
    return _WHITESPACE_RUN.sub(" ", str(exc)).strip()[:300] or type(exc).__name__
