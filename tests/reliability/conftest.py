"""The reliability suite's shared pieces: the figures each test records, and REPORT.md written from them.

The report is rewritten only when every test of this folder ran in the session, so a single test run on its
own never replaces the full report with a partial one.
"""
from __future__ import annotations

import datetime as dt
import json
import platform
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from include.sample_source.faults import KINDS
from tests.reliability.known_defects import LEFT_OUT

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
REPORT = HERE / "REPORT.md"


@dataclass
class FaultServer:
    """The fault catalogue served by its own process: its latency does not depend on the GIL of the
    process under test (an in-process server made healthy URLs time out on a busy box)."""

    base_url: str
    urls: dict

    def hits(self) -> dict[str, int]:
        with urllib.request.urlopen(f"{self.base_url}/faults/hits", timeout=60) as resp:
            return json.loads(resp.read())


@pytest.fixture(scope="session")
def fault_server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fault-server")
    urls_file = folder / "urls.json"
    with open(folder / "server.log", "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "include.sample_source", "serve", "--data-dir", str(folder / "data"),
             "--urls-file", str(urls_file), "--catalogs", "faults", "--no-s3"],
            cwd=ROOT, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 120
        while not urls_file.exists():
            assert proc.poll() is None, (folder / "server.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "fault server did not start"
            time.sleep(0.1)
        urls = json.loads(urls_file.read_text())
        yield FaultServer(urls["base_url"], urls)
    finally:
        proc.terminate()
        proc.wait(30)


class Figures:
    """Sections of the report, filled by the tests: title -> markdown lines."""

    def __init__(self):
        self.sections: dict[str, list[str]] = {}
        self.outcomes: dict[str, str] = {}
        self.durations: dict[str, float] = {}
        self.expected: set[str] = set()
        self.complete = False
        self.started = time.monotonic()

    def add(self, title: str, lines: list[str]) -> None:
        self.sections.setdefault(title, []).extend(lines)

    def markdown(self) -> str:
        held = sum(o == "passed" for o in self.outcomes.values())
        out = [
            "# Reliability report",
            "",
            "Written by `tests/reliability` itself (`make test` runs it); do not edit by hand. Every figure below",
            "comes from the run that wrote this file.",
            "",
            f"- written: {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC on {platform.node() or 'a host'}"
            f" ({platform.python_implementation()} {platform.python_version()})",
            f"- checks: {len(self.outcomes)}, held: {held}, did not hold: {len(self.outcomes) - held}",
            f"- suite wall time: {time.monotonic() - self.started:.0f} s",
            "",
            "| check | outcome | seconds |",
            "|---|---|---|",
        ]
        for name, outcome in self.outcomes.items():
            out.append(f"| `{name}` | {'held' if outcome == 'passed' else outcome.upper()} | "
                       f"{self.durations.get(name, 0):.1f} |")
        out += ["", "## What was tried: the fault catalogue", "",
                "`include/sample_source/faults.py`; a URL names its fault, transient kinds fail their first n "
                "requests (n drawn from 1, 2, 4) or every request.", "",
                "| kind | behaviour | transient | final status expected |", "|---|---|---|---|"]
        out += [f"| {k.name} | {k.what} | {'yes' if k.transient else ''} | {k.expect} |" for k in KINDS.values()]
        if LEFT_OUT:
            out += ["", "## Left out: defects not fixed on main when this ran", "",
                    "These kinds are excluded from the runs below (`tests/reliability/known_defects.py`); each "
                    "comes back by deleting its line once the fix lands.", ""]
            out += [f"- `{k}`: {v}" for k, v in LEFT_OUT.items()]
        for title, lines in self.sections.items():
            out += ["", f"## {title}", "", *lines]
        return "\n".join(out) + "\n"


_FIGURES = Figures()


@pytest.fixture(scope="session")
def figures() -> Figures:
    return _FIGURES


def pytest_collection_modifyitems(session, config, items):
    _FIGURES.expected = {i.name for i in items if Path(str(i.fspath)).parent == HERE}
    files = {Path(str(i.fspath)).name for i in items if Path(str(i.fspath)).parent == HERE}
    _FIGURES.complete = files == {p.name for p in HERE.glob("test_*.py")}


def pytest_deselected(items):
    if any(Path(str(i.fspath)).parent == HERE for i in items):
        _FIGURES.complete = False  # -k or -m left part of the suite out: not the suite's report


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if Path(str(item.fspath)).parent != HERE:
        return
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        _FIGURES.outcomes[item.name] = report.outcome
        _FIGURES.durations[item.name] = report.duration


def pytest_sessionfinish(session, exitstatus):
    if _FIGURES.complete and _FIGURES.expected and set(_FIGURES.outcomes) >= _FIGURES.expected:
        REPORT.write_text(_FIGURES.markdown())
