"""Helpers for ``benchmarks/run.py``: tool runs with wall/CPU/RSS figures, synthetic clips, frame
timelines, the plain re-encode baseline, the peer (deface) venv and Markdown tables.

Kept out of ``src/`` on purpose: nothing here ships with gamyeon, and the benchmark must measure the
installed CLI exactly as a user runs it (a subprocess), not library internals.
"""
