"""Issue 28: at DEBUG, a real task run prints no secret of any connection the project uses.

One ``flickr_cc_crawl`` run by ``dag.test()`` reads all three: ``flickr_default`` (API key and OAuth
secrets) for the crawl, ``aws_default`` for its output root on the sample source's moto S3, and
``visionflow_api`` when the report sets the run's note. It runs in its own process: the log level is read
when Airflow configures logging at import, long before a test could change it in this one.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUCKET = "vf-debug-masking"
S3_SECRET = "vf-s3-secret-Q7x9Lm2Pz"
API_PASSWORD = "vf-api-pass-R4t8Wn1Kq"
OAUTH = {"api_secret": "vf-flickr-apisecret-3Jd8", "oauth_token": "vf-flickr-token-9Wk2",
         "oauth_token_secret": "vf-flickr-tokensecret-6Hs1"}


def debug_crawl(sample_source, out: str) -> str:
    """Everything the run printed, stdout and stderr, at DEBUG."""
    from include.sample_source import flickr_api as fa

    flickr = json.loads(sample_source.urls["flickr_conn_json"])
    flickr["extra"].update(OAUTH)
    port = int(sample_source.base_url.rsplit(":", 1)[1])
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT}:{ROOT / 'plugins'}",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "DEBUG",
        "AIRFLOW_CONN_AWS_DEFAULT": json.dumps({
            "conn_type": "aws", "login": "AKIAVFDEBUGMASK", "password": S3_SECRET,
            "extra": {"endpoint_url": sample_source.s3.endpoint_url, "region_name": "us-east-1"}}),
        "AIRFLOW_CONN_FLICKR_DEFAULT": json.dumps(flickr),
        # The sample source has no /auth/token: the note fails after the login was sent, and is logged.
        "AIRFLOW_CONN_VISIONFLOW_API": json.dumps({"conn_type": "http", "host": "127.0.0.1", "port": port,
                                                   "login": "admin", "password": API_PASSWORD}),
    }
    code = ("from airflow.dag_processing.dagbag import DagBag\n"
            f"dag = DagBag(dag_folder={str(ROOT / 'dags' / 'flickr_cc.py')!r}).get_dag('flickr_cc_crawl')\n"
            f"dr = dag.test(run_conf={{'date': '2021-06-01', 'output_root': {out!r}, 'reprocess': False, "
            "'strategy': 'walk'})\n"
            "print('RUN STATE', dr.state)\n")
    assert fa.API_KEY in sample_source.urls["flickr_conn_json"]
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600)
    return done.stdout + done.stderr


def test_no_connection_secret_in_a_debug_task_run(airflow_db, sample_source, tmp_path):
    from include.sample_source import flickr_api as fa

    sample_source.s3.ensure_bucket(BUCKET)
    out = f"s3://{BUCKET}/{tmp_path.name}"
    text = debug_crawl(sample_source, out)
    assert "RUN STATE success" in text, text[-3000:]
    logs = Path(os.environ["AIRFLOW_HOME"], "logs")
    text += "".join(p.read_text(errors="replace") for p in logs.rglob("*") if p.is_file()) if logs.exists() else ""

    # each connection was read and used: the day on S3, the key accepted, the login sent
    for conn_id in ("aws_default", "flickr_default", "visionflow_api"):
        assert f"Connection Retrieved '{conn_id}'" in text, conn_id
    keys = sample_source.s3.client().list_objects_v2(Bucket=BUCKET, Prefix=tmp_path.name).get("Contents", [])
    assert any(k["Key"].endswith("meta/2021-06-01/done") for k in keys)
    assert '"POST /auth/token HTTP/1.1" 404' in text

    for secret in (S3_SECRET, API_PASSWORD, fa.API_KEY, *OAUTH.values()):
        assert secret not in text, f"{secret} in the DEBUG output:\n" + "\n".join(
            line for line in text.splitlines() if secret in line)[:3000]
    # the lines are there, masked: one MaskSecret per password, the OAuth secrets inside the extra's dict
    assert text.count("MaskSecret(value='***'") >= 3
    assert "'oauth_token_secret': '***'" in text and "api_key=***" in text
