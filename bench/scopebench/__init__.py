"""A tiny app holding ``BenchRecord``, the scoped table the scope benchmarks query."""
