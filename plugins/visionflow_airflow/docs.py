"""Each DAG's ``doc_md`` (the Airflow UI's DAG page), read from its docs page: ``docs/<family>.md``.

One source, so the UI and the docs cannot drift: the page's block between ``<!-- dag:<dag_id> -->`` and
``<!-- /dag:<dag_id> -->`` (its first paragraph and its param table) *is* the DAG's ``doc_md``.

Why read the page at parse time rather than generate the page from the DAG's Params (a ``make docs`` step): the
pages stay plain Markdown edited by hand (defaults such as "the official DeepMind tarball" read better than the
JSON value), and parsing stays cheap: one small file read per family, cached for the life of the parsing
process (the dag-processor re-parses every file every few minutes; the cache keeps it one read per process).
``tests/docs/test_docs.py`` checks that every DAG has its block and that the block's table names exactly the
DAG's params. A deployment without ``docs/`` next to ``plugins/`` (or at ``$VISIONFLOW_DOCS_DIR``) still parses:
the DAG page then says where the docs are.
"""
from __future__ import annotations

import functools
import logging
import os
import re
from pathlib import Path

log = logging.getLogger(__name__)

DOCS_DIR = Path(__file__).resolve().parents[2] / "docs"  # plugins/visionflow_airflow/docs.py -> <repo>/docs


def docs_dir() -> Path:
    return Path(os.environ.get("VISIONFLOW_DOCS_DIR") or DOCS_DIR)


@functools.lru_cache(maxsize=None)
def _page(path: str) -> str | None:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as err:
        log.warning("docs page %s not readable (%s): DAG pages show a pointer only", path, err)
        return None


def block(text: str, dag_id: str) -> str | None:
    """The text between ``<!-- dag:<dag_id> -->`` and ``<!-- /dag:<dag_id> -->``, stripped."""
    found = re.search(rf"<!-- dag:{re.escape(dag_id)} -->\n(.*?)\n<!-- /dag:{re.escape(dag_id)} -->", text, re.S)
    return found.group(1).strip() if found else None


def unlink(text: str) -> str:
    """Relative links become their text: the UI's DAG page has no docs/ folder beside it to link into."""
    return re.sub(r"\[([^\]]+)\]\((?![a-z]+:)[^)]+\)", r"\1", text)


def dag_doc(family: str, dag_id: str) -> str:
    """``doc_md`` for ``dag_id``: its block of ``docs/<family>.md`` and a pointer to the whole page."""
    pointer = f"Params, outputs, examples and departures from upstream: `docs/{family}.md` in the visionflow repository."
    text = _page(str(docs_dir() / f"{family}.md"))
    found = block(text, dag_id) if text is not None else None
    if found is None:
        if text is not None:
            log.warning("docs/%s.md has no <!-- dag:%s --> block", family, dag_id)
        return f"### {dag_id}\n\n{pointer}"
    return f"{unlink(found)}\n\n{pointer}"
