"""visionflow engine: plain Python, no Airflow. Everything a DAG does is callable from here."""
