"""Video parts: probe (VideoInfo), clip (trim, resize, dense GOP), frames (fixed-rate JPEG extraction).

PyAV is imported inside the functions, so importing this package (e.g. while a DAG file parses) stays cheap.
"""
from __future__ import annotations
