"""The README documents every setting and every Settings-tab key (after datasette's test_docs)."""

import pytest

from outreach.settings import PROJECT_ROOT, SETTINGS
from outreach.team_settings import documented_keys

README = (PROJECT_ROOT / "README.md").read_text()


@pytest.mark.parametrize("name", [spec.name for spec in SETTINGS])
def test_every_setting_is_in_the_readme_table(name: str) -> None:
    assert f"| `{name}` |" in README


@pytest.mark.parametrize("key", list(documented_keys()))
def test_every_settings_tab_key_is_in_the_readme(key: str) -> None:
    assert f"| {key} |" in README


def test_readme_starts_with_the_two_commands() -> None:
    head = README[:1500]
    assert "make run" in head and "make test" in head
