"""Bad params are refused before a run exists (what trigger does: deep-merge the conf, validate), with a message
naming the param and the rule; good ones pass unchanged (no clamping)."""
from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

BAD = [
    ("flickr_cc_crawl", {"date": "2021-13-45"}, "date", "is not a 'date'"),
    ("flickr_cc_crawl", {"strategy": "fast"}, "strategy", "is not one of"),
    ("openimages_v4", {"thumbnail_size": -5}, "thumbnail_size", "less than or equal to the minimum of 15"),
    ("openimages_v4", {"metadata_url": "ftp://example.org/meta.csv"}, "metadata_url", "does not match"),
    ("openimages_v4", {"output_root": "gs://bucket/x"}, "output_root", "does not match"),
    ("flickr_cc_download", {"quality": 101}, "quality", "greater than or equal to the maximum of 101"),
    ("kinetics", {"url_template": "http://host/video.mp4"}, "url_template", "does not match"),
    ("video_frames", {"short_side": 8}, "short_side", "minimum of 15"),
    # S3 keys are literal: '..' would be written into the key, beside the root the user meant
    ("openimages_v4", {"output_root": "s3://bucket/../other"}, "output_root", "does not match"),
    ("kinetics", {"output_root": "s3://bucket/a/./b"}, "output_root", "does not match"),
    # every output root is checked at trigger time, not only the first DAGs'
    ("trackverse", {"output_root": "ftp://host/x"}, "output_root", "does not match"),
    ("trackverse", {"output_root": "s3://bucket/x/.."}, "output_root", "does not match"),
    ("video_retrieval", {"data_root": "gs://bucket/x"}, "data_root", "does not match"),
    ("video_retrieval", {"frames_dir": "http://host/frames"}, "frames_dir", "does not match"),
    ("activitynet_qa", {"data_dir": "s3://bucket/llamafactory"}, "data_dir", "does not match"),
]
GOOD = [
    ("flickr_cc_crawl", {"date": "2021-02-28"}),
    ("openimages_v4", {"thumbnail_size": 16, "output_root": "s3://bucket/prefix", "metadata_url": "/data/m.csv"}),
    ("kinetics", {"limit": None, "output_root": "", "url_template": "http://h/{youtube_id}.mp4"}),
    ("trackverse", {"yid_index": "/data/yids.txt", "output_root": "s3://bucket/a..b/c"}),
    ("video_retrieval", {"data_root": "s3://bucket/adaclip", "frames_dir": ""}),
    ("video_retrieval", {"frames_dir": "../frames"}),
    ("activitynet_qa", {"data_dir": "/data/llamafactory"}),
]


@pytest.fixture(scope="module")
def dags():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags")).dags


def validate(dag, conf):
    params = copy.deepcopy(dag.params)
    params.update(conf)
    return params.validate()


@pytest.mark.parametrize("dag_id, conf, name, rule", BAD)
def test_bad_param_is_refused_naming_param_and_rule(dags, dag_id, conf, name, rule):
    from airflow.sdk.exceptions import ParamValidationError

    with pytest.raises(ParamValidationError) as err:
        validate(dags[dag_id], conf)
    assert f"param {name}" in str(err.value) and rule in str(err.value)


@pytest.mark.parametrize("dag_id, conf", GOOD)
def test_good_params_pass_unchanged(dags, dag_id, conf):
    resolved = validate(dags[dag_id], conf)
    assert {k: resolved[k] for k in conf} == conf


def test_every_dag_has_a_one_line_description(dags):
    for dag_id, dag in dags.items():
        assert dag.description and "\n" not in dag.description and len(dag.description) < 120, dag_id


def test_deployment_defaults_replace_form_defaults(tmp_path):
    defaults = tmp_path / "defaults.json"
    defaults.write_text(json.dumps({"openimages_v4": {"train_size": 8, "output_root": "/tmp/oi"}}))
    code = ("from airflow.dag_processing.dagbag import DagBag\n"
            f"d = DagBag(dag_folder={str(ROOT / 'dags' / 'openimages.py')!r}).dags['openimages_v4']\n"
            "print(d.params['train_size'], d.params['output_root'], d.params['thumbnail_size'])\n")
    env = {**os.environ, "VISIONFLOW_PARAM_DEFAULTS": str(defaults), "PYTHONPATH": f"{ROOT}:{ROOT / 'plugins'}"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split()[-3:] == ["8", "/tmp/oi", "1024"]
