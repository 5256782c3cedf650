"""The referral script a rep reads on every call.

The default lives in ``templates/referral_script.txt.j2``. A manager can replace
it from the sheet (Settings tab, key "Referral Script") without a deploy; that
text is a template too ("Thanks, {{ customer.first_name }}..."), rendered in a
sandbox so a sheet cell can never reach into the app, nor hang it: a render gets
``MAX_SECONDS``, ``MAX_LOOP_STEPS`` loop iterations in all, and builds no text,
list or number past ``MAX_OUTPUT`` characters (items, digits). A script over a
limit is refused by :func:`check_script` (the Settings tab keeps the default); one
that passes with the sample names but trips a limit on a real customer's is
replaced by the standard script on that card.
"""

from __future__ import annotations

import contextvars
import functools
import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from jinja2 import StrictUndefined, Template, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from outreach.emails import environment

log = logging.getLogger(__name__)

MAX_SECONDS = 1.0  # a normal script renders in well under a millisecond
MAX_LOOP_STEPS = 10_000
MAX_OUTPUT = 10_000  # characters: several minutes read aloud
MAX_NUMBER_BITS = 4_096


class ScriptLimit(SecurityError):
    """A script that would take too long or grow too large; the message names the limit."""


@dataclass(frozen=True)
class Person:
    first_name: str
    name: str


@dataclass
class _Budget:
    """What one render may still spend."""

    deadline: float = field(default_factory=lambda: time.monotonic() + MAX_SECONDS)
    steps: int = 0

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise ScriptLimit(f"it takes longer than {MAX_SECONDS:g} s to render (the limit)")

    def step(self) -> None:
        self.steps += 1
        if self.steps > MAX_LOOP_STEPS:
            raise ScriptLimit(f"its loops run more than {MAX_LOOP_STEPS:,} times (the limit)")
        self.check_time()


_budget: contextvars.ContextVar[_Budget] = contextvars.ContextVar("script_budget")


def _spend() -> _Budget:
    # Outside _render_limited (Jinja folding a constant while compiling) each check gets its own.
    return _budget.get(None) or _Budget()


def _too_big(size: int) -> ScriptLimit:
    return ScriptLimit(f"it builds a text or list of {size:,} characters or items; the limit is "
                       f"{MAX_OUTPUT:,}")


def _bounded(value: Any) -> Any:
    """``value``, unless it is a text, list or number bigger than a script may build."""
    if isinstance(value, int):
        _refuse_big_number(value.bit_length())
    if isinstance(value, str | bytes | list | tuple | dict | set | frozenset) and len(value) > MAX_OUTPUT:
        raise _too_big(len(value))
    return value


def _refuse_if_over(size: int) -> None:
    if size > MAX_OUTPUT:
        raise _too_big(size)


def _estimated_join(separator: Any, items: Any) -> int:
    if not isinstance(items, list | tuple):
        return 0  # an iterator is at most MAX_LOOP_STEPS long and checked after
    return len(str(separator)) * max(0, len(items) - 1) + sum(len(str(item)) for item in items)


def _estimated_replace(text: Any, old: Any, new: Any, count: int = -1) -> int:
    text, old, new = str(text), str(old), str(new)
    times = text.count(old) if old else len(text) + 1
    if count is not None and count >= 0:
        times = min(times, count)
    return len(text) + times * (len(new) - len(old))


def _estimated_indent(text: Any, width: int | str) -> int:
    per_line = width if isinstance(width, int) else len(str(width))
    return len(str(text)) + (str(text).count("\n") + 1) * per_line


def _refuse_big_number(bits: int) -> None:
    if bits > MAX_NUMBER_BITS:
        raise ScriptLimit(f"it builds a number of more than {MAX_NUMBER_BITS:,} bits (the limit)")


def _no_formatting(*_: Any, **__: Any) -> None:
    raise ScriptLimit("text formatting (%, format) is not allowed in a script; "
                      "write {{ customer.first_name }} instead")


# What each size-changing str method or filter would build, checked before it runs.
_WIDTH_FIRST = ("center", "ljust", "rjust", "zfill")
_METHOD_CHECKS: dict[str, Callable[..., None]] = {
    **{name: (lambda text, width=0, *_, **__: _refuse_if_over(int(width))) for name in _WIDTH_FIRST},
    "expandtabs": lambda text, tabsize=8: _refuse_if_over(len(text) * max(1, int(tabsize))),
    "replace": lambda text, old, new, count=-1: _refuse_if_over(_estimated_replace(text, old, new, count)),
    "join": lambda separator, items: _refuse_if_over(_estimated_join(separator, items)),
    "format": _no_formatting,
    "format_map": _no_formatting,
}
_FILTER_CHECKS: dict[str, Callable[..., None]] = {
    "center": lambda value, width=80: _refuse_if_over(int(width)),
    "indent": lambda value, width=4, *_, **__: _refuse_if_over(_estimated_indent(value, width)),
    "batch": lambda value, linecount, *_: _refuse_if_over(int(linecount)),
    "slice": lambda value, slices, *_: _refuse_if_over(int(slices)),
    "replace": lambda ctx, value, old, new, count=None: _refuse_if_over(
        _estimated_replace(value, old, new, -1 if count is None else count)),
    "join": lambda ctx, value, d="", attribute=None: _refuse_if_over(_estimated_join(d, value)),
    "tojson": lambda ctx, value, indent=None: _refuse_if_over(int(indent or 0)),
    "format": _no_formatting,
}


def _checked_filter(name: str, filter_function: Callable[..., Any]) -> Callable[..., Any]:
    check = _FILTER_CHECKS.get(name)

    @functools.wraps(filter_function)  # keeps jinja's pass_context / pass_eval_context marks
    def checked(*args: Any, **kwargs: Any) -> Any:
        _spend().check_time()
        if check is not None:
            check(*args, **kwargs)
        return _bounded(filter_function(*args, **kwargs))

    return checked


class _Limits(CodeGenerator):
    """Compiles every loop's iterable and every ``~`` through the environment's limits.

    Iterating and concatenating are the two things a template does that no sandbox hook sees:
    three nested loops over a 1,000-letter text run a billion times without a single call.
    """

    def visit_For(self, node: nodes.For, frame: Frame) -> None:
        node.iter = nodes.Call(nodes.EnvironmentAttribute("bounded_loop"), [node.iter], [], None, None,
                               lineno=node.lineno)
        super().visit_For(node, frame)

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.bounded_text(")
        super().visit_Concat(node, frame)
        self.write(")")


class LimitedSandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox, with a clock, a loop budget and size limits (see the module docstring)."""

    code_generator_class = _Limits
    # Intercepted operators are also never folded at compile time, so "x" * 10**8 is caught here.
    intercepted_binops = frozenset({"*", "**", "%", "+", "//"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.globals["range"] = self._range
        self.globals.pop("lipsum", None)  # generates any amount of text
        self.filters = {name: _checked_filter(name, f) for name, f in self.filters.items()}

    @staticmethod
    def _range(*args: int) -> range:
        steps = range(*args)
        if len(steps) > MAX_LOOP_STEPS:
            raise ScriptLimit(f"range() of {len(steps):,} is more than the {MAX_LOOP_STEPS:,} loop "
                              "steps a script may take")
        return steps

    @staticmethod
    def bounded_loop(iterable: Iterable[Any]) -> Iterator[Any]:
        budget = _spend()
        for item in iterable:
            budget.step()
            yield item

    @staticmethod
    def bounded_text(text: str) -> str:
        _spend().check_time()
        return str(_bounded(text))

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        _spend().check_time()
        if operator == "%" and isinstance(left, str):
            _no_formatting()
        if operator == "*":
            _refuse_oversized_product(left, right)
        if operator == "**" and _both_int(left, right) and right > 0 and abs(left) > 1:
            _refuse_big_number(right * abs(left).bit_length())
        return _bounded(super().call_binop(context, operator, left, right))

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _spend().check_time()
        method = getattr(__obj, "__wrapped__", __obj)  # the sandbox wraps str.format
        owner, name = getattr(method, "__self__", None), getattr(method, "__name__", "")
        if isinstance(owner, str) and name in _METHOD_CHECKS:
            _METHOD_CHECKS[name](owner, *args, **kwargs)
        return _bounded(super().call(__context, __obj, *args, **kwargs))

    def getattr(self, obj: Any, attribute: str) -> Any:
        _spend().check_time()
        return super().getattr(obj, attribute)


def _refuse_oversized_product(left: Any, right: Any) -> None:
    for sequence, times in ((left, right), (right, left)):
        if isinstance(sequence, str | list | tuple) and isinstance(times, int):
            _refuse_if_over(len(sequence) * times)
    if _both_int(left, right):
        _refuse_big_number(abs(left).bit_length() + abs(right).bit_length())


def _both_int(left: Any, right: Any) -> bool:
    return isinstance(left, int) and isinstance(right, int)


_SANDBOX = LimitedSandbox(undefined=StrictUndefined, autoescape=False)
_WHITESPACE_RUN = re.compile(r"\s+")


def _render_limited(template: Template, **context: Any) -> str:
    """Render chunk by chunk, stopping at the first limit rather than after the damage."""
    token = _budget.set(_Budget())
    try:
        budget, parts, length = _budget.get(), [], 0
        for chunk in template.generate(**context):
            length += len(chunk)
            if length > MAX_OUTPUT:
                raise ScriptLimit(f"it is longer than {MAX_OUTPUT:,} characters (the limit)")
            budget.check_time()
            parts.append(chunk)
        return "".join(parts)
    finally:
        _budget.reset(token)


def _render_custom(custom: str, customer: Person, rep: Person) -> str:
    return _render_limited(_SANDBOX.from_string(custom), customer=customer, rep=rep).strip()


def check_script(text: str) -> str:
    """Validate a manager's script (used by the Settings tab); raise ValueError if it cannot be used."""
    try:
        _render_custom(text, Person("Carla", "Carla Diaz"), Person("Ann", "Ann Archer"))
    except Exception as exc:  # whatever it is, the default is kept and the reason shown
        raise ValueError(f"the script cannot be used: {_reason(exc)}") from None
    return text


def render_script(custom: str, customer: Person, rep: Person) -> str:
    if custom:
        try:
            return _render_custom(custom, customer, rep)
        except Exception as exc:  # passed check_script with the sample names, not with these
            log.warning("the custom referral script cannot be rendered for this call (%s); "
                        "the standard script is shown", _reason(exc))
    return environment().get_template("referral_script.txt.j2").render(customer=customer, rep=rep).strip()


def _reason(exc: BaseException) -> str:
    text = _WHITESPACE_RUN.sub(" ", str(exc)).strip()[:300]
    if isinstance(exc, RecursionError):
        return "it calls itself too deeply"
    return text or type(exc).__name__
