"""The referral script: the standard words with both names, or the manager's own, safely rendered."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from outreach.script import Person, check_script, render_script
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
from outreach.script import check_script
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


@pytest.mark.parametrize(("script", "limit"), [
    ("{% for a in range(99999) %}{% for b in range(99999) %}x{% endfor %}{% endfor %}",
     "range() of 99,999 is more than the 10,000 loop steps"),
    ("{% for a in range(9999) %}{% for b in range(9999) %}{% endfor %}{% endfor %}",
     "loops run more than 10,000 times"),
    ('{% set s = "x" * 1000 %}{% for a in s %}{% for b in s %}{% for c in s %}{% endfor %}{% endfor %}'
     "{% endfor %}", "loops run more than 10,000 times"),
    ('{{ "x" * 100000000 }}', "100,000,000 characters or items; the limit is 10,000"),
    ("{{ customer.first_name * 100000000 }}", "the limit is 10,000"),
    ('{{ "x"|center(100000000) }}', "the limit is 10,000"),
    ('{{ "x".ljust(100000000) }}', "the limit is 10,000"),
    ('{% set ns = namespace(s="xx") %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}',
     "the limit is 10,000"),
    ('{{ "{:>100000000}".format("x") }}', "formatting (%, format) is not allowed"),
    ('{{ "%100000000s" % "x" }}', "formatting (%, format) is not allowed"),
    ("{{ 9 ** 99999999 }}", "more than 4,096 bits"),
    ('{% for i in range(9999) %}{% set y = ("xy" * 4999)|list|sort|unique|list %}{% endfor %}',
     "longer than 1 s to render"),
    ("{% for i in range(9000) %}Who else? {% endfor %}", "longer than 10,000 characters"),
    ("{% macro ask() %}{{ ask() }}{% endmacro %}{{ ask() }}", "calls itself too deeply"),
], ids=["nested-range", "nested-small-ranges", "nested-text", "text-times", "name-times", "center", "ljust",
        "doubling", "format-width", "percent-width", "power", "slow", "long-output", "recursion"])
def test_a_script_over_a_limit_is_refused_quickly_and_names_the_limit(script: str, limit: str) -> None:
    refused, seconds = checked_in_a_child(script)
    assert refused is not None and refused.startswith("the script cannot be used: ")
    assert limit in refused
    assert seconds < 5  # the time limit is 1 s; the rest is a loaded machine's slack


def test_the_settings_tab_keeps_the_default_and_says_which_limit() -> None:
    team, problems = parse_team_settings([("Referral Script", '{{ "Who else? " * 5000 }}', 14)])
    (problem,) = problems
    assert problem.row == 14 and "the limit is 10,000" in problem.reason
    assert problem.reason.endswith("; the default is kept")
    assert render_script(team.referral_script, CARLA, ANN).startswith("Hi Carla, it's Ann.")


def test_a_stored_script_over_a_limit_for_one_customer_shows_the_standard_script(
        caplog: pytest.LogCaptureFixture) -> None:
    """The check's sample name is short; a real customer's may make the same loops run too often."""
    per_letter = ("{% for a in customer.name %}{% for b in customer.name %}{% for c in customer.name %}"
                  "{% endfor %}{% endfor %}{% endfor %}Thanks {{ customer.first_name }}!")
    assert check_script(per_letter) == per_letter  # 10 letters: 1,110 loop steps
    assert render_script(per_letter, CARLA, ANN) == "Thanks Carla!"
    long_name = Person("Maria", "Maria Josefina de los Santos Fernandez")
    assert render_script(per_letter, long_name, ANN).startswith("Hi Maria, it's Ann. Thank you")
    assert "loops run more than 10,000 times" in caplog.text and "standard script" in caplog.text


def test_ordinary_templates_still_work_in_the_sandbox() -> None:
    script = ("{% for word in ['Thanks', customer.first_name|upper] %}{{ word }}{{ ', ' if not loop.last }}"
              "{% endfor %}! {{ rep.name|replace('Archer', 'A.') }} here. {{ 'Who else?'|center(13) }}")
    assert render_script(check_script(script), CARLA, ANN) == "Thanks, CARLA! Ann A. here.   Who else?"
