"""Reproducible benchmarks of the pipeline, the judge and the API (issue 7, SPEC §10).

Each benchmark is a plain function returning a JSON-serialisable dict (``run(...)``) plus a management
command that prints it as JSON or as a markdown table: ``bench_pipeline``, ``bench_judge``, ``bench_api``.
Timings belong here, never in the test suite; ``tests/bench/`` only checks the output's shape at a tiny size.
See docs/performance.md.
"""
