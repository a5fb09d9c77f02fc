"""CivicGrid benchmarks: ``python -m bench.run --scale small|city`` (see bench/README.md)."""
