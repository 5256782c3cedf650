"""The referral script: the standard words with both names, or the manager's own, safely rendered."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from outreach.calls.script import Person, check_script, render_script, render_thank_you
from outreach.settings import PROJECT_ROOT
from outreach.team_settings import parse_team_settings

CARLA = Person("Carla", "Carla Diaz")
ANN = Person("Ann", "Ann Archer")


def test_the_standard_script_greets_the_customer_as_the_rep_and_ends_with_the_ask() -> None:
    said = render_script("", CARLA, ANN)
    assert said.startswith("Hi Carla, it's Ann. Thank you for your business.")
    assert said.endswith("Oh, by the way, who do you know that we should know?")


def test_a_manager_replaces_the_words_from_the_settings_tab() -> None:
    team, problems = parse_team_settings(
        [("Referral Script", "Thanks {{ customer.first_name }}! {{ rep.first_name }} here. Who else?", 14)])
    assert problems == []
    assert render_script(team.referral_script, CARLA, ANN) == "Thanks Carla! Ann here. Who else?"


def test_a_script_that_reaches_into_the_app_or_names_an_unknown_field_is_refused() -> None:
    _, problems = parse_team_settings([
        ("Referral Script", "{{ customer.__class__.__mro__ }}", 14),
        ("Referral Script", "Hi {{ customer.nickname }}", 15),
    ])
    assert [(p.row, "the default is kept" in p.reason) for p in problems] == [(14, True), (15, True)]


# Runs check_script in a child process: without limits an attack never returns, and a test that
# waited for it in-process would hang the suite instead of failing.
CHILD = """
import json, sys, time
from outreach.calls.script import check_script
started = time.monotonic()
try:
    check_script(sys.argv[1])
    refused = None
except ValueError as exc:
    refused = str(exc)
print(json.dumps({"refused": refused, "seconds": time.monotonic() - started}))
"""
PATIENCE = 30  # seconds: far past every limit, short enough to fail a run that has none


def checked_in_a_child(script: str) -> tuple[str | None, float]:
    try:
        done = subprocess.run([sys.executable, "-c", CHILD, script], cwd=PROJECT_ROOT, capture_output=True,
                              text=True, timeout=PATIENCE)
    except subprocess.TimeoutExpired:
        pytest.fail(f"check_script was still rendering {script!r} after {PATIENCE} s: no limit stopped it")
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    return answer["refused"], answer["seconds"]


LONG = "Who else? " * 1_200  # 12,000 characters, typed out: no loop needed


@pytest.mark.parametrize(("script", "limit"), [
    ("{% for a in range(99999) %}{% for b in range(99999) %}x{% endfor %}{% endfor %}",
     "loops ({% for %}) cannot be used"),
    ('{% set s = "x" %}{% for a in s %}{% endfor %}', "{% set %} cannot be used"),
    ('{{ "x" * 100000000 }}', "multiplying cannot be used"),
    ("{{ customer.first_name * 100000000 }}", "multiplying cannot be used"),
    ('{{ "x"|center(100000000) }}', "the filter 'center' is not allowed"),
    ('{{ "x".ljust(100000000) }}', "calling functions cannot be used"),
    ('{{ "{:>100000000}".format("x") }}', "calling functions cannot be used"),
    ('{{ "%100000000s" % "x" }}', "formatting with % cannot be used"),
    ("{{ 9 ** 99999999 }}", "powers cannot be used"),
    ("{{ lipsum(999999) }}", "calling functions cannot be used"),
    (LONG, "longer than 10,000 characters (the limit)"),
    ("{% macro ask() %}{{ ask() }}{% endmacro %}{{ ask() }}", "macros cannot be used"),
    ("{{ customer.__class__.__mro__ }}", "not '__mro__'"),
    ("{{ cycler.__init__.__globals__ }}", "not '__globals__'"),
    ("{% if customer.name < 5 %}Hi{% endif %}", "it cannot be filled in (TypeError: '<' not supported"),
    ("{% if customer.name %}" * 100 + "Hi" + "{% endif %}" * 100, "it is nested too deeply"),
], ids=["nested-range", "set", "text-times", "name-times", "center", "ljust", "format-width",
        "percent-width", "power", "lipsum", "long-output", "recursion", "reach-in", "globals",
        "name-vs-number", "nested-if"])
def test_a_script_over_a_limit_is_refused_quickly_and_names_the_limit(script: str, limit: str) -> None:
    refused, seconds = checked_in_a_child(script)
    assert refused is not None and refused.startswith("the script cannot be used: ")
    assert limit in refused
    assert seconds < 1  # it is read, never run: a loaded machine still answers at once


def test_the_settings_tab_keeps_the_default_and_says_which_limit() -> None:
    team, problems = parse_team_settings([("Referral Script", '{{ "Who else? " * 5000 }}', 14)])
    (problem,) = problems
    assert problem.row == 14 and "multiplying cannot be used in a script" in problem.reason
    assert problem.reason.endswith("; the default is kept")
    assert render_script(team.referral_script, CARLA, ANN).startswith("Hi Carla, it's Ann.")


def test_a_stored_script_that_is_not_allowed_shows_the_standard_script(
        caplog: pytest.LogCaptureFixture) -> None:
    """A script stored before these rules (the database keeps what a sync accepted) is checked again."""
    per_letter = ("{% for a in customer.name %}{% for b in customer.name %}{% endfor %}{% endfor %}"
                  "Thanks {{ customer.first_name }}!")
    assert render_script(per_letter, CARLA, ANN).startswith("Hi Carla, it's Ann. Thank you")
    assert "loops ({% for %}) cannot be used" in caplog.text and "standard script" in caplog.text


def test_names_case_filters_and_if_are_what_a_script_may_use() -> None:
    script = ("Thanks, {{ customer.first_name|upper }}! {{ rep.name|title }} here."
              "{% if customer.name != customer.first_name %} Who else?{% else %} Anyone?{% endif %}"
              " {{ 'Bye' ~ ', ' ~ customer.first_name|lower }}")
    assert render_script(check_script(script), CARLA, ANN) == (
        "Thanks, CARLA! Ann Archer here. Who else? Bye, carla")


# Scripts built only from allowed parts, nested until Jinja's recursive parser, compiler or renderer gives
# out (RecursionError, or Python's own SyntaxError on the compiled code): refused like any other limit.
DEEP = {
    "if-100": "{% if customer.name %}" * 100 + "Who else?" + "{% endif %}" * 100,
    "brackets-100": "{{ " + "(" * 100 + "customer.first_name" + ")" * 100 + " }}",
    "brackets-300": "{{ " + "(" * 300 + "customer.first_name" + ")" * 300 + " }}",
    "trim-200": "{{ customer.first_name" + "|trim" * 200 + " }}",
    "not-500": "{{ " + "not " * 500 + "customer.name }}",
    "and-2000": "{{ " + " and ".join(["customer.name"] * 2000) + " }}",
    "else-if-100": "{{ " + "'Hi' if customer.name else (" * 100 + "'Hello'" + ")" * 100 + " }}",
}
NESTED = "it is nested too deeply (more than 20 levels of {% if %}, brackets, filters or and/or/not)"


@pytest.mark.parametrize("script", DEEP.values(), ids=DEEP.keys())
@pytest.mark.parametrize(("key", "what"), [("Referral Script", "the script"),
                                           ("Thank You Email", "the thank-you e-mail")])
def test_a_script_nested_too_deeply_is_refused_on_its_settings_row(script: str, key: str, what: str) -> None:
    team, problems = parse_team_settings([(key, script, 14)])  # raised RecursionError or SyntaxError
    (problem,) = problems
    assert (problem.key, problem.row) == (key, 14)
    assert problem.reason == f"{what} cannot be used: {NESTED}; the default is kept"
    assert (team.referral_script, team.thank_you_email) == ("", "")
    assert render_script(team.referral_script, CARLA, ANN).startswith("Hi Carla, it's Ann.")


@pytest.mark.parametrize("script", DEEP.values(), ids=DEEP.keys())
def test_a_stored_script_nested_too_deeply_shows_and_sends_the_standard_words(
        script: str, caplog: pytest.LogCaptureFixture) -> None:
    """Stored before the limit (the database keeps what a sync accepted): the card and the e-mail still
    render, with the standard words."""
    assert render_script(script, CARLA, ANN).startswith("Hi Carla, it's Ann. Thank you")
    people = {"customer": CARLA, "rep": ANN, "friend": Person("Dana", "Dana Whitfield")}
    assert render_thank_you(script, people, "won") == render_thank_you("", people, "won")
    assert caplog.text.count(NESTED) == 2


def test_a_script_at_the_nesting_limit_is_accepted_and_renders_deep_inside_a_page() -> None:
    """The limit is far below Python's: what a sync accepts renders even with most of the stack in use."""
    ifs = "{% if customer.name %}" * 20 + "Hi {{ customer.first_name }}" + "{% endif %}" * 20
    brackets = "{{ " + "(" * 20 + "customer.first_name|trim|upper" + ")" * 20 + " }}"
    for script in (ifs, brackets):
        check_script(script)

    def deep_inside(frames: int) -> tuple[str, str]:
        if frames:
            return deep_inside(frames - 1)
        return render_script(ifs, CARLA, ANN), render_script(brackets, CARLA, ANN)

    assert deep_inside(sys.getrecursionlimit() - 550) == ("Hi Carla", "CARLA")
    with pytest.raises(ValueError, match="nested too deeply"):
        check_script("{% if customer.name %}" * 21 + "Hi" + "{% endif %}" * 21)
