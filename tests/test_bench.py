"""The benchmark record and what is rendered from it: the README's tables, the scaling fit."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))
import report  # noqa: E402
import scaling  # noqa: E402

sys.path.remove(str(BENCH))


def test_readme_performance_tables_are_rendered_from_the_recorded_benchmark():
    record = json.loads(report.RECORD.read_text())
    assert not record["quick"]
    assert report.readme_section(report.README.read_text()) == report.performance_markdown(record)


def test_write_readme_replaces_only_the_generated_section(tmp_path):
    record = json.loads(report.RECORD.read_text())
    readme = tmp_path / "README.md"
    readme.write_text(f"# title\n\nbefore\n{report.START}\nstale table\n{report.END}\nafter\n")
    report.write_readme(record, readme)
    text = readme.read_text()
    assert text.startswith("# title\n\nbefore\n") and text.endswith(f"{report.END}\nafter\n")
    assert "stale table" not in text and report.readme_section(text) == report.performance_markdown(record)
    readme.write_text("# no markers\n")
    with pytest.raises(ValueError, match="no generated performance section"):
        report.write_readme(record, readme)


def test_linear_fit_recovers_a_line_and_scores_a_curve_lower():
    fit = scaling.linear_fit([1, 2, 4, 8, 16], [0.5 + 0.25 * t for t in (1, 2, 4, 8, 16)])
    assert fit["slope_s"] == pytest.approx(0.25) and fit["intercept_s"] == pytest.approx(0.5)
    assert fit["r2"] == pytest.approx(1.0)
    assert scaling.linear_fit([1, 2, 4, 8, 16], [t * t for t in (1, 2, 4, 8, 16)])["r2"] < 0.97
