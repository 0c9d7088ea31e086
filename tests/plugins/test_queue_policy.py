"""The cluster policy routes each family to its Celery queue by DAG tag, only where the deployment asks."""
from __future__ import annotations

from pathlib import Path

import pytest

from visionflow_airflow.policy import task_policy

ROOT = Path(__file__).resolve().parents[2]


class _Dags:
    """The four families' DAGs, parsed once (the whole dags/ folder holds more than these tests need)."""

    def __init__(self):
        from airflow.dag_processing.dagbag import DagBag

        self.dags = {}
        for name in ("kinetics.py", "video_frames.py", "openimages.py", "flickr_cc.py"):
            self.dags.update(DagBag(dag_folder=str(ROOT / "dags" / name)).dags)


@pytest.fixture(scope="module")
def dagbag():
    return _Dags()


def queues(dagbag, dag_id: str) -> set[str]:
    found = set()
    for task in dagbag.dags[dag_id].tasks:
        task_policy(task)
        found.add(task.queue)
    return found


def test_video_and_images_go_to_their_queues(dagbag, monkeypatch):
    monkeypatch.setenv("VISIONFLOW_QUEUE_VIDEO", "video")
    monkeypatch.setenv("VISIONFLOW_QUEUE_IMAGES", "images")
    assert queues(dagbag, "kinetics") == {"video"}
    assert queues(dagbag, "video_frames") == {"video"}
    assert queues(dagbag, "openimages_v4") == {"images"}
    assert queues(dagbag, "flickr_cc_download") == {"images"}


def test_without_settings_tasks_keep_the_default_queue(monkeypatch):
    from airflow.configuration import conf
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.delenv("VISIONFLOW_QUEUE_VIDEO", raising=False)
    monkeypatch.delenv("VISIONFLOW_QUEUE_IMAGES", raising=False)
    fresh = DagBag(dag_folder=str(ROOT / "dags" / "kinetics.py"))
    assert queues(fresh, "kinetics") == {conf.get("operators", "default_queue")}


def test_compose_loads_the_policy():
    text = (ROOT / "config" / "airflow_local_settings.py").read_text()
    assert "from visionflow_airflow.policy import task_policy" in text
