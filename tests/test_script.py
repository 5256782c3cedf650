"""The referral script: the standard words with both names, or the manager's own, safely rendered."""

from __future__ import annotations

from outreach.script import Person, render_script
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
