"""Benchmarks: visionflow's engine against the tools users would pick instead (issue 5). Run ``make bench``."""
