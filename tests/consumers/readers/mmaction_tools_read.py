"""Run in the consumers venv: mmaction2's own ``tools/data/parse_file_list.py`` (shipped in the wheel under
``mmaction/.mim/tools``) parses an output root's ``annotations/kinetics_{train,val,test}.csv`` as its
``build_file_list.py`` does (from ``data/<dataset>/``, level 2: ``<class>/<clip>``); print its three splits.

    python mmaction_tools_read.py OUTPUT_ROOT DATASET
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import mmaction

sys.path.insert(0, str(Path(mmaction.__file__).parent / ".mim" / "tools" / "data"))
from parse_file_list import parse_kinetics_splits  # noqa: E402


def main(root: str, dataset: str) -> dict:
    os.makedirs("data", exist_ok=True)
    os.symlink(root, f"data/{dataset}")  # the tool reads data/<dataset>/annotations/ from the working folder
    ((train, val, test),) = parse_kinetics_splits(level=2, dataset=dataset)
    return {"train": train, "val": val, "test": test}


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:3])))
