"""The README and docs/: every relative link resolves (files and #anchors), every DAG has its docs page
naming all its params, and each DAG's doc_md (the Airflow UI's DAG page) is that page's block, so the two
cannot drift. Only DagBag parsing, no run."""
from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)|!\[[^\]]*\]\(([^)\s]+)\)")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, markup and punctuation dropped, spaces to '-'."""
    text = re.sub(r"[`*_]|<[^>]+>", "", heading.strip()).lower()
    text = "".join(c for c in text if c in " -" or unicodedata.category(c)[0] in "LN")
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    seen, out = {}, set()
    for heading in re.findall(r"^#{1,6} (.+)$", text, re.M):
        base = slug(heading)
        n = seen.get(base, 0)
        out.add(base if n == 0 else f"{base}-{n}")
        seen[base] = n + 1
    return out


def links(page: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    return [a or b for a, b in LINK.findall(text)]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_relative_link_resolves(page):
    bad = []
    for target in links(page):
        if re.match(r"^[a-z]+:", target):  # http(s), mailto: not ours to check offline
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            bad.append(f"{target}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            bad.append(f"{target}: no heading with anchor #{anchor} in {dest.name}")
    assert not bad, f"{page.name}: " + "; ".join(bad)


def test_readme_stays_a_ten_minute_read():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 260


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert bag.import_errors == {}
    return bag


def table_params(block: str) -> set[str]:
    """Every backticked name in the first column of the block's ``| param |`` table (``a``, ``b`` rows too)."""
    names, in_table = set(), False
    for line in block.splitlines():
        if line.startswith("| param |"):
            in_table = True
            continue
        if in_table and line.startswith("|"):
            names |= set(re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)`", line.split("|")[1]))
        elif in_table:
            break
    return names


def test_every_dag_has_a_page_naming_all_its_params_and_doc_md_is_that_block(dagbag):
    from visionflow_airflow.docs import block, dag_doc, unlink

    assert len(dagbag.dags) >= 10
    for dag_id, dag in dagbag.dags.items():
        family = Path(dag.fileloc).stem  # one module per family in dags/, one page per module in docs/
        page = ROOT / "docs" / f"{family}.md"
        assert page.is_file(), f"{dag_id}: no docs/{family}.md"
        text = page.read_text()
        found = block(text, dag_id)
        assert found, f"{dag_id}: docs/{family}.md has no <!-- dag:{dag_id} --> block"
        assert table_params(found) == set(dag.params), (dag_id, table_params(found) ^ set(dag.params))
        assert dag.doc_md == dag_doc(family, dag_id) and dag.doc_md.startswith(unlink(found)), dag_id
        assert f"airflow dags trigger {dag_id}" in text, f"{dag_id}: no trigger example in docs/{family}.md"
        if getattr(dag.timetable, "periodic", False) or "Cron" in type(dag.timetable).__name__:
            assert f"airflow backfill create --dag-id {dag_id}" in text, f"{dag_id}: scheduled, no backfill line"


def test_readme_table_links_every_dag_to_its_page_with_a_trigger_line(dagbag):
    readme = (ROOT / "README.md").read_text()
    for dag_id, dag in dagbag.dags.items():
        family = Path(dag.fileloc).stem
        row = next((line for line in readme.splitlines() if line.startswith(f"| `{dag_id}` |")), "")
        assert f"(docs/{family}.md" in row and f"airflow dags trigger {dag_id}" in row, dag_id


def table_defaults(block: str) -> dict[str, str]:
    """``{param: default cell}`` for the table rows that name one param."""
    rows = {}
    for line in block.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        names = re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)`", cells[0]) if len(cells) >= 3 else []
        if len(names) == 1 and cells[0] == f"`{names[0]}`":
            rows[names[0]] = cells[1]
    return rows


def test_defaults_written_as_values_equal_the_dags_defaults(dagbag):
    """A default cell that is a literal (`256`, `false`, `["train","val"]`, `walk`) must be the Param's default;
    prose defaults ("official DeepMind tarball", "empty") are for people and are not checked."""
    import json

    from visionflow_airflow.docs import block

    wrong = []
    for dag_id, dag in dagbag.dags.items():
        text = (ROOT / "docs" / f"{Path(dag.fileloc).stem}.md").read_text()
        for name, cell in table_defaults(block(text, dag_id)).items():
            default = dag.params.get_param(name).value
            raw = cell.strip("`")
            try:
                value = json.loads(raw)
            except ValueError:
                if not (cell.startswith("`") and cell.endswith("`") and isinstance(default, str)):
                    continue
                value = raw
            if isinstance(value, str) and not isinstance(default, str):
                continue
            if value != default:
                wrong.append(f"{dag_id}.{name}: docs say {cell}, the DAG has {default!r}")
    assert not wrong, "\n".join(wrong)


def test_a_deployment_without_docs_still_parses_with_a_pointer(tmp_path, monkeypatch):
    from visionflow_airflow import docs

    monkeypatch.setenv("VISIONFLOW_DOCS_DIR", str(tmp_path))
    text = docs.dag_doc("kinetics", "kinetics")
    assert text.startswith("### kinetics") and "docs/kinetics.md" in text
