"""A missing local input says "not found" (not a refused URL), naming the param."""
from __future__ import annotations

import pytest

from include.visionflow.datasets import openimages as oi
from include.visionflow.errors import BadInputError
from include.visionflow.fetch.http import Fetcher
from include.visionflow.storage import open_storage


@pytest.mark.parametrize("missing", ["data/nowhere/meta.csv", "./meta.csv", "{root}/meta.csv"])
def test_missing_local_metadata_is_not_found(tmp_path, monkeypatch, missing):
    monkeypatch.setenv("VISIONFLOW_INPUT_DIRS", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    storage = open_storage(str(tmp_path / "out"))
    with pytest.raises(BadInputError) as err:
        oi.fetch_metadata(storage, missing.format(root=tmp_path), oi.METADATA_REL, Fetcher())
    assert "not found" in str(err.value) and "metadata" in str(err.value)
