"""The README is part of the product: its configuration table must match the code."""

from pathlib import Path

from mlplatform.config.reference import settings_reference

README = (Path(__file__).parents[2] / "README.md").read_text()


def test_every_setting_is_in_the_readme_configuration_table():
    missing = [
        name for name, env, default, _ in settings_reference() if f"| `{name}` | `{env}` | `{default}` |" not in README
    ]
    assert missing == [], "run `mlplatform config reference` and paste it into the README"


def test_readme_quickstart_is_the_two_make_commands():
    assert "make run" in README and "make test" in README
