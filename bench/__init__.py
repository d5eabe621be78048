"""Benchmark of onething's case workflow (``python -m bench``): throughput against a minimal
hand-written workflow, query and inbox latency, orchestrator memory. A script, not a test."""
