"""Case 8: peak RSS of planning OpenImages shards from a 10M-row metadata CSV (goal: under 300 MB).

The engine side runs ``datasets/openimages.plan_shards`` in its own process (``python -m bench.case_plan
OUT``) on generated CSVs in the real column layout (hard-linked into ``OUT/metadata/``), with the DAG's
defaults: both splits, ``train_size`` 1,200,000.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import sys

from bench.core import Case, CaseResult, Context, Side, failed
from bench.env import tool_env
from bench.inputs import WORK, ensure_openimages_metadata
from bench.measure import run_measured

log = logging.getLogger(__name__)
LIMIT_MB = 300


def _plan(out: str) -> dict:
    from include.visionflow.datasets.openimages import plan_shards
    from include.visionflow.storage import open_storage

    specs = plan_shards(open_storage(out), "_work/bench", ["train", "extended_targets"], 1_200_000)
    return {"shards": len(specs), "rows": sum(s.count for s in specs)}


def case8(ctx: Context) -> CaseResult:
    title = "Plan shards from a 10M-row metadata CSV"
    goal = f"peak RSS < {LIMIT_MB} MB"
    rows = 1_000_000 if ctx.quick else 10_000_000
    meta, boxable = ensure_openimages_metadata(rows)
    side = Side("plan_shards")
    for rep in range(ctx.reps_for(heavy=True)):
        out = WORK / "case8"
        shutil.rmtree(out, ignore_errors=True)
        (out / "metadata").mkdir(parents=True)
        os.link(meta, out / "metadata" / meta.name)
        os.link(boxable, out / "metadata" / boxable.name)
        m = run_measured([sys.executable, "-m", "bench.case_plan", str(out)], env=tool_env(),
                         log_path=WORK / "logs" / f"case8-{rep}.log")
        if m.returncode != 0:
            return failed(8, title, goal, f"plan exited {m.returncode}: {m.stderr[-800:]}")
        data = json.loads(m.stdout.strip().splitlines()[-1])
        side.add(m, data["rows"])
        log.info("case 8 rep %s: %.1f s, %.0f MB, %s", rep, m.wall, m.peak_tree_mb, data)
    result = CaseResult(8, title, goal, side, None, unit="rows")
    result.met = side.peak_mb < LIMIT_MB
    result.verdict = (f"peak RSS {side.peak_mb:.0f} MB (heap {side.anon_mb:.0f} MB) for {rows:,} rows "
                      f"({meta.stat().st_size / 2**30:.1f} GB) -> {side.count:,} rows in shards")
    return result


CASES = [Case(8, "Plan memory", case8)]

if __name__ == "__main__":
    print(json.dumps(_plan(sys.argv[1])))
