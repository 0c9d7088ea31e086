"""Airflow-facing side of visionflow: hooks (connections -> clients) and one-action operators."""
