"""Pluggable models. Heavy frameworks (torch, onnxruntime) are imported only when a model is loaded."""
