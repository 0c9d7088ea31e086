"""``python -m bench.run [--cases 1,3] [--reps 3] [--quick]``: run the cases, print and save the table.

Each case runs both sides on the same input, alternating which goes first, ``--reps`` times each, and the
table shows medians and ours/theirs ratios. The report lands in ``bench/results/<date>.md``. A case whose
engine part has not landed yet is reported as "not available yet" instead of failing the run.
"""
from __future__ import annotations

import argparse
import logging
import sys
import time
import traceback

from bench.core import Case, CaseResult, Context, failed

log = logging.getLogger("bench")


def all_cases() -> dict[int, Case]:
    from bench import case_images

    cases = [
        Case(1, "OpenImages-style ingest", case_images.case1),
        Case(2, "Flickr-CC download", case_images.case2),
    ]
    for name in ("case_video", "case_flickr", "case_dag", "case_plan", "case_xtune", "case_trackverse", "case_filter"):
        try:
            module = __import__(f"bench.{name}", fromlist=["CASES"])
        except ImportError:
            continue
        cases += module.CASES
    return {c.number: c for c in sorted(cases, key=lambda c: c.number)}


def parse_cases(text: str | None, known: list[int]) -> list[int]:
    """``"1,3-5"`` -> [1, 3, 4, 5]; all known cases when empty."""
    if not text:
        return known
    chosen: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if "-" in part:
            lo, hi = part.split("-", 1)
            chosen += range(int(lo), int(hi) + 1)
        elif part:
            chosen.append(int(part))
    unknown = sorted(set(chosen) - set(known))
    if unknown:
        raise SystemExit(f"unknown case(s) {unknown}; known: {known}")
    return sorted(set(chosen), key=chosen.index)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    p.add_argument("--cases", help="comma list or ranges, e.g. 1,3-4 (default: all)")
    p.add_argument("--reps", type=int, default=3, help="repetitions per side (default 3)")
    p.add_argument("--quick", action="store_true", help="small inputs, to try the harness (not for the README)")
    p.add_argument("--no-save", action="store_true", help="print only; do not write bench/results/")
    p.add_argument("--name", default="", help="results file prefix: bench/results/<name>-<date>.md")
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", datefmt="%H:%M:%S")

    from bench import report
    from bench.env import ensure_bench_venv, img2dataset_version

    cases = all_cases()
    chosen = parse_cases(a.cases, list(cases))
    ctx = Context(reps=a.reps, quick=a.quick)
    if {1, 2} & set(chosen):
        ensure_bench_venv()
    results: list[CaseResult] = []
    started = time.monotonic()
    for number in chosen:
        case = cases[number]
        log.info("case %s: %s", number, case.title)
        t0 = time.monotonic()
        try:
            results.append(case.run(ctx))
        except Exception as err:  # noqa: BLE001 - one broken case must not lose the others' numbers
            log.error("case %s crashed:\n%s", number, traceback.format_exc())
            results.append(failed(number, case.title, "-", f"crashed: {err!r}"))
        log.info("case %s took %.0f s", number, time.monotonic() - t0)
    command = "python -m bench.run " + " ".join(argv if argv is not None else sys.argv[1:])
    text = report.render(results, report.machine_facts(img2dataset_version()), command.strip(), a.reps)
    print(text)
    if not a.no_save and not a.quick:
        print(f"saved {report.write(text, prefix=a.name)}")
    log.info("bench took %.0f s", time.monotonic() - started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
