"""Run reports and dataset cards, one module for every dataset family.

A family calls :func:`write_report` once at the end of a run::

    from include.visionflow.report import Bars, Histogram, Sheet, collect_work, write_report

    run = collect_work(storage, "_work/kinetics/<run>")      # every manifest + stats under a work folder
    path = write_report(
        storage, "Kinetics-400, run manual__2026-...",
        run=run,                                              # counts, failed items, throughput, durations
        samples=[Sheet("Frames of 3 clips", [[rel, rel, ...], ...], storage=storage)],   # contact sheets
        extra_plots=[Histogram("Frames per clip", values, "frames")],                   # anything else
        out_rel="reports/kinetics/<run>/report.html",
    )

or, with the root copy, the dataset card and an empty ``.tmp`` removed, through
``include.visionflow.report.publish.publish(storage, title, run_id, "<family>", card=Card(...), run=...)``
(registered in ``families.FAMILIES`` for the report task).

* ``run`` (a :class:`RunData`) comes from :func:`collect_work` (lists ``*.manifest.parquet`` and
  ``*.stats.json`` below a folder; the folder holding ``manifests/`` names the group: split or stage) or from
  :func:`collect_specs` (explicit manifest/stats keys). Any manifest columns work: ``width``/``height`` give an
  image-size histogram, ``frames``/``duration`` (or a ``"<n> frames"`` detail) a frames/duration histogram.
* ``samples``: :class:`Sheet` objects. Each row of ``rows`` is a list of image keys (in ``Sheet.storage``) or
  raw image bytes, drawn as one strip: one image per row gives a thumbnail grid, several give frame strips,
  two give before/after pairs (original and blurred faces; a frame and the same frame with tracked boxes
  drawn, as bytes).
* ``extra_plots``: :class:`Histogram`, :class:`Bars` or :class:`Figure` (a callable drawing on a matplotlib
  ``Axes``), for family-specific views (licences, upload hours, tracks per class, ...).
* ``summary``: optional numbers shown as a key/value table (e.g. the family's ``summary.json``).

Everything is embedded (PNG data URIs, inline CSS): the HTML file is the whole report, written atomically to
``out_rel`` in the output storage; the return value is its URI (a local path or ``s3://...``).
:func:`write_card` writes the dataset card (``README.md``) of an output root.
"""
from include.visionflow.report.card import Card, write_card
from include.visionflow.report.data import RunData, collect_specs, collect_work
from include.visionflow.report.html import write_report
from include.visionflow.report.plots import Bars, Figure, Histogram
from include.visionflow.report.sheets import Sheet

__all__ = ["Bars", "Card", "Figure", "Histogram", "RunData", "Sheet", "collect_specs", "collect_work",
           "write_card", "write_report"]
