"""The harness's pure logic: ratios, formatting, the table and case selection (no timing, no network)."""
from __future__ import annotations

import pytest

from bench.core import CaseResult, Side, ratio, unavailable
from bench.measure import Measurement
from bench.report import fmt_mb, fmt_ratio, fmt_seconds, table
from bench.run import parse_cases


def _side(label: str, walls: list[float], peaks: list[float]) -> Side:
    side = Side(label)
    for wall, peak in zip(walls, peaks):
        side.add(Measurement(wall, peak, 0.0, 0, "", ""), 10)
    return side


def test_ratio_is_ours_over_theirs_and_tolerates_missing_sides():
    assert ratio(1.0, 4.0) == 0.25
    assert ratio(None, 4.0) is None
    assert ratio(1.0, 0.0) is None


def test_medians_use_every_repetition():
    side = _side("x", [3.0, 1.0, 2.0], [10, 30, 20])
    assert side.wall == 2.0
    assert side.peak_mb == 20


def test_formatting():
    assert fmt_seconds(1.234) == "1.23 s"
    assert fmt_seconds(123.4) == "123.4 s"
    assert fmt_seconds(None) == "-"
    assert fmt_mb(1234.4) == "1,234 MB"
    assert fmt_ratio(0.456) == "0.46x"


def test_table_has_one_row_per_case_with_ratios_and_status():
    done = CaseResult(1, "ingest", ">= 2x", _side("ours", [1.0], [100]), _side("theirs", [4.0], [400]),
                      met=True, verdict="4.00x")
    pending = unavailable(6, "crawl", "<= 1.25", "flickr emulator has not landed")
    lines = table([done, pending]).splitlines()
    assert len(lines) == 4
    assert lines[0].count("|") == lines[1].count("|") == lines[2].count("|") == lines[3].count("|")
    assert "| 0.25x |" in lines[2] and "| yes |" in lines[2]
    assert "not available yet" in lines[3]


@pytest.mark.parametrize("text, expected", [("1,3", [1, 3]), ("2-4", [2, 3, 4]), ("", [1, 2, 3, 4])])
def test_parse_cases(text, expected):
    assert parse_cases(text, [1, 2, 3, 4]) == expected


def test_parse_cases_rejects_unknown_numbers():
    with pytest.raises(SystemExit):
        parse_cases("9", [1, 2])


def test_heavy_cases_get_a_third_of_the_repetitions():
    from bench.core import Context

    assert Context(reps=3).reps_for(heavy=True) == 1
    assert Context(reps=6).reps_for(heavy=True) == 2
    assert Context(reps=3).reps_for() == 3


def test_profile_summary_counts_self_and_inclusive_shares(tmp_path):
    from bench.profile import summarize

    raw = tmp_path / "raw.txt"
    raw.write_text("main;decode 3\nmain;resize 1\n")
    text = summarize(raw)
    assert "4 samples" in text
    assert " 75.0%  decode" in text and "100.0%  main" in text
