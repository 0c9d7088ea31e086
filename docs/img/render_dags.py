"""Draw docs/img/dags.png, the README's picture of the DAGs: one row per DAG, its tasks in order.

Run after changing a DAG's tasks: ``.venv/bin/python docs/img/render_dags.py`` (reads the DagBag of dags/)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ORDER = ["openimages_v4", "flickr_cc_crawl", "flickr_cc_subsets", "flickr_cc_download", "kinetics", "video_frames",
         "clip_datasets", "video_retrieval", "activitynet_qa", "trackverse"]
HIDDEN = {"fail_run_on_failed_step"}  # the watcher leaf every DAG has: not a step


def main() -> None:
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    sys.path[:0] = [str(ROOT), str(ROOT / "plugins")]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    fig, ax = plt.subplots(figsize=(11, 0.42 * len(ORDER) + 0.3), dpi=80)
    for y, dag_id in enumerate(reversed(ORDER)):
        tasks = [t.task_id for t in bag.dags[dag_id].topological_sort() if t.task_id not in HIDDEN]
        ax.text(-0.1, y, dag_id, ha="right", va="center", fontsize=9, family="monospace", weight="bold")
        for x, task in enumerate(tasks):
            ax.text(x * 1.25, y, task, ha="left", va="center", fontsize=7.5,
                    bbox={"boxstyle": "round,pad=0.25", "fc": "#e3f2fd", "ec": "#1565c0", "lw": 0.8})
            if x:
                ax.annotate("", (x * 1.25 - 0.04, y), (x * 1.25 - 0.2, y),
                            arrowprops={"arrowstyle": "->", "color": "#555", "lw": 0.8})
    ax.set_xlim(-2.3, 8.8)
    ax.set_ylim(-0.6, len(ORDER) - 0.4)
    ax.axis("off")
    fig.tight_layout(pad=0.2)
    fig.savefig(ROOT / "docs" / "img" / "dags.png")


if __name__ == "__main__":
    main()
