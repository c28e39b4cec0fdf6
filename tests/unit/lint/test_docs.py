"""docs/lint.md is generated from the rule docstrings, the profiles, the corpus and the bench results:
it must be exactly what the generator makes of the current code."""

from __future__ import annotations

from pathlib import Path

from kubekeeper.lint.docs import render
from kubekeeper.lint.rules import all_rules

ROOT = Path(__file__).resolve().parents[3]
COMMAND = "python -m kubekeeper.lint.docs --corpus tests/data/lint-corpus --bench bench/results/lint.json > docs/lint.md"


def test_docs_match_the_generator():
    generated = render(ROOT / "tests/data/lint-corpus", ROOT / "bench/results/lint.json")
    assert "@" + "RULES_TABLE@" not in generated and "\n@" not in generated  # every placeholder filled
    current = (ROOT / "docs/lint.md").read_text()
    assert current == generated, f"docs/lint.md is stale: regenerate it with `{COMMAND}`"


def test_docs_carry_every_rule_docstring():
    text = (ROOT / "docs/lint.md").read_text()
    for rule_id, module in all_rules().items():
        assert f"### `{rule_id}`" in text
        assert module.__doc__.strip().splitlines()[0] in text
