"""The demo orchestrator behind ``make demo`` / ``make stop`` (``python -m include.demo start|stop|status``)."""
