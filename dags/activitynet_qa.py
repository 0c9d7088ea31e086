"""ActivityNet-QA for Qwen2-VL fine-tuning (LLaMA-Factory sharegpt video dataset).

Params, outputs, examples: ``docs/activitynet_qa.md``; each DAG's ``doc_md`` is its block there
(:mod:`visionflow_airflow.docs`).
"""
from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Param

from visionflow_airflow import params as p
from visionflow_airflow.common import dag_kwargs
from visionflow_airflow.docs import dag_doc
from visionflow_airflow.operators.report import WriteRunReportOperator
from visionflow_airflow.operators.xtune_video import (
    PlanActivityNetQAOperator,
    ProbeActivityNetQAOperator,
    WriteActivityNetQAOperator,
)

with DAG(
    dag_id="activitynet_qa",
    description="ActivityNet-QA questions and answers as a LLaMA-Factory video dataset (Qwen2-VL)",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    params={
        "questions_json": Param("", type="string", title="Questions",
                                description="URL or local path of the questions JSON. Empty: MILVLG's "
                                "dataset/<name>.json on GitHub."),
        "answers_json": Param("", type="string", title="Answers",
                              description="URL or local path of the answers JSON. Empty: MILVLG's "
                              "dataset/<type>_a.json on GitHub."),
        "videos_dir": Param("data/activitynet/videos", type="string", minLength=1, title="Videos folder",
                            description="Local folder with the ActivityNet videos (v_<id>.mp4/.mkv/.webm)."),
        "name": Param("val_q", type="string", minLength=1, title="Questions file name",
                      description="MILVLG questions file (without .json) used when questions_json is empty."),
        "type": Param("val", type="string", minLength=1, title="Split type",
                      description="Names the answers file (<type>_a.json) and the output file."),
        "n": Param(500, type="integer", minimum=1, title="Rows",
                   description="Stop after this many kept questions, in question order."),
        "seconds": Param(20, type="number", minimum=0, title="Minimum duration",
                         description="Keep only videos longer than this many seconds."),
        "data_dir": p.output_root("data/llamafactory", local_only=True, title="LLaMA-Factory data folder",
                                  description="Local folder of the output JSON and dataset_info.json."),
        "videos_mode": Param("absolute", type="string", enum=["absolute", "relative", "link"], title="Video paths",
                             description="absolute: the videos' own paths; relative: relative to data_dir; link: "
                             "hard links (else symlinks) under data_dir/videos/<entry>/. The card gives the "
                             "matching LLaMA-Factory media_dir."),
    },
    **dag_kwargs(dag_doc("activitynet_qa", "activitynet_qa"), ["video", "xtune", "llamafactory"]),
) as dag:
    plan = PlanActivityNetQAOperator(
        task_id="plan", questions_json="{{ params.questions_json }}", answers_json="{{ params.answers_json }}",
        videos_dir="{{ params.videos_dir }}", name="{{ params.name }}", split_type="{{ params.type }}",
        data_dir="{{ params.data_dir }}")
    probe = ProbeActivityNetQAOperator.partial(task_id="probe", data_dir="{{ params.data_dir }}",
                                               max_active_tis_per_dag=2).expand(shard=plan.output)
    write = WriteActivityNetQAOperator(task_id="write", shards=plan.output, split_type="{{ params.type }}",
                                       n="{{ params.n }}", seconds="{{ params.seconds }}",
                                       videos_mode="{{ params.videos_mode }}", data_dir="{{ params.data_dir }}",
                                       trigger_rule="none_failed")
    probe >> write
    # A teardown: written whatever happened upstream, without deciding the run's state.
    write >> WriteRunReportOperator(task_id="run_report", family="activitynet_qa",
                                    output_root="{{ params.data_dir }}").as_teardown()
