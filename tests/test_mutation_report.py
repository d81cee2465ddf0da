"""tests/mutation_report.py: the score line and the survivors bench/MUTATION.md shows."""

from __future__ import annotations

from mutation_report import report, score

STATS = {"killed": 90, "timeout": 3, "survived": 5, "no_tests": 2, "skipped": 10, "suspicious": 0, "segfault": 0, "total": 110}


def test_timeouts_count_as_killed_and_skipped_mutants_do_not_count():
    """93 of the 100 counted mutants were noticed: killed or timed out; skipped ones are left out."""
    assert score(STATS) == (93, 100)


def test_report_has_the_score_line_and_each_survivor_with_its_diff():
    text = report(STATS, [("compiler.passes.x__mutmut_1", "survived", "-a\n+b\n")], "compiler/passes/")
    assert "\nmutation score: 93%\n" in text
    assert "### compiler.passes.x__mutmut_1 (survived)\n\n```diff\n-a\n+b\n```" in text
