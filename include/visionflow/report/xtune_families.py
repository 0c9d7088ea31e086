"""Reports of the XTune runs that prepare data in someone else's folder (registered in :mod:`.families`).

``activitynet_qa`` writes into LLaMA-Factory's ``data/`` folder, which has its own ``README.md``: its card is
``README-activitynet_qa.md``. A CLIP ``data_root`` holds several datasets: one card (``README.md``) describes
them all and lists the files of those present. The latest reports are named so that they never overwrite
anything there: ``report-activitynet_qa.html`` and ``report-clip_datasets-<dataset>.html`` (beside the dataset
folders, not in one: a run whose fetch failed leaves no dataset folder behind).
"""
from __future__ import annotations

from collections import Counter

from include.visionflow.report import cards
from include.visionflow.report.data import collect_work
from include.visionflow.report.plots import Bars, Histogram
from include.visionflow.report.publish import TOP_CLASSES, THUMBNAILS, publish, read_json, spread, top
from include.visionflow.report.sheets import Sheet
from include.visionflow.shards import work_rel
from include.visionflow.storage import Storage

BLUE = "#1565c0"


def activitynet_qa(storage: Storage, run_id: str) -> str:
    """``storage``: the LLaMA-Factory data folder; the numbers come from the write step's ``report.json``."""
    work = work_rel("activitynet_qa", run_id)
    run = collect_work(storage, work)
    report = read_json(storage, f"{work}/report.json")
    summary = {k: v for k, v in report.items() if not isinstance(v, (dict, list))}
    outcomes = {name: report[key]["count"] for name, key in (
        ("unmatched questions", "unmatched_questions"), ("missing videos", "missing_videos"),
        ("unreadable videos", "unreadable_videos"), ("too-short videos", "too_short_videos"),
        ("bad rows", "bad_rows"))
        if isinstance(report.get(key), dict)}
    if report:
        outcomes = {"rows written": report.get("rows", 0), **outcomes}
    summary.update(outcomes)
    seconds = float(report.get("seconds", 0) or 0)
    kept = [d for d in run.column("duration") if d > seconds]
    plots = [Bars("Questions and videos", outcomes, "count", colours={"rows written": "#2e7d32"}),
             Bars("Skipped questions per reason", report.get("skipped_questions", {}), "questions",
                  colours={k: "#c62828" for k in report.get("skipped_questions", {})}),
             Histogram(f"Duration of kept videos (> {seconds:g} s)", kept, "seconds")]
    notes = [] if report else ["The write step left no report.json (it failed or did not run); see its log."]
    card = (cards.activitynet_qa(f"{report['entry']}.json", storage, report.get("videos_mode", "absolute"))
            if report.get("entry") else None)
    return publish(storage, f"ActivityNet-QA for LLaMA-Factory — run {run_id}", run_id, "activitynet_qa", card,
                   latest="report-activitynet_qa.html", card_rel="README-activitynet_qa.md", run=run,
                   summary=summary, extra_plots=plots, notes=notes)


def _class_of(rel: str) -> str:
    """The folder an image sits in: its class for Caltech101 and mini-ImageNet, the image folder otherwise."""
    parts = rel.split("/")
    return parts[-2] if len(parts) > 1 else "."


def clip_datasets(storage: Storage, run_id: str, dataset: str) -> str:
    """``storage``: the CLIP ``data_root``; images are read below the dataset's folder."""
    from include.visionflow.formats.clip import LAYOUTS

    root = LAYOUTS[dataset].root
    run = collect_work(storage, work_rel(f"clip_datasets/{dataset}", run_id))
    layout = read_json(storage, f"{root}/layout_report.json")
    ok = run.ok()
    per_split = Counter(r["group"] for r in ok)
    classes = Counter(_class_of(r["output"]) for r in ok if r.get("output"))
    summary = {f"{split} ok": n for split, n in sorted(per_split.items())}
    summary.update({f"image mode {m}": n for m, n in layout.get("image_modes", {}).items()})
    summary["tree incomplete"] = "; ".join(layout.get("tree", {}).get("missing", [])) or "no"
    for name, reasons in layout.get("left_out", {}).items():  # entries a Dassl loader would have failed on
        summary[f"left out of {name}"] = ", ".join(f"{n} {r}" for r, n in sorted(reasons.items())) or "none"
    plots = [Bars("Images per split (ok)", dict(per_split), "images", colours={k: BLUE for k in per_split}),
             Bars(f"Images per class folder ({top(classes)})", dict(classes.most_common(TOP_CLASSES)), "images",
                  colours={k: BLUE for k in classes})]
    sampled = spread([r for r in ok if r.get("output")], THUMBNAILS)
    sheet = Sheet(f"{dataset}: sampled images", [[f"{root}/{r['output']}"] for r in sampled], storage=storage)
    return publish(storage, f"CLIP {dataset} — run {run_id}", run_id, "clip_datasets",
                   cards.clip_images(storage, dataset), latest=f"report-clip_datasets-{dataset}.html", run=run, summary=summary, extra_plots=plots,
                   samples=[sheet])
