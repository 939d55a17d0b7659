"""The README documents what the code does."""

from pipeline.readme import README, generated_sections, splice


def test_readme_generated_sections_are_current():
    text = README.read_text()
    assert splice(text, generated_sections()) == text, "README is stale: run `make docs`"


def test_readme_shows_the_two_commands():
    text = README.read_text()
    assert "make run" in text and "make test" in text
