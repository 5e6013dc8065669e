"""Benchmarks of portable_net against the case study's literal NumPy loop."""
