"""The benchmarks, by name. Each is ``run(scale, users) -> (results, notes)``.

``notes`` may hold ``plans`` (``{key: {query: plan, query_sql: sql}}``), ``missed`` (the keys that
missed their target: the worker prints their plans) and ``compare_with`` (a key whose plans are
printed first, e.g. the unscoped baseline)."""

from . import cases, cases_load, exports, imports, locate, photo_report, registry, scope_list

BENCHMARKS = {
    "locate": locate.run,
    "scope_list": scope_list.run,
    "registry": registry.run,
    "imports": imports.run,
    "exports": exports.run,
    "cases": cases.run,
    "cases_load": cases_load.run,
    "photo_report": photo_report.run,
}
#: What each benchmark needs besides the area tree: ``rows`` (the BenchRecord rows), ``users`` (one
#: user per persona, ``bench.dataset.PERSONAS``), ``registry`` (generated base data).
NEEDS: dict[str, set[str]] = {
    "locate": set(),
    "scope_list": {"rows", "users"},
    "registry": {"registry", "users"},
    "imports": {"registry", "users"},
    "exports": {"registry", "users"},
    # The cases benchmarks build (or reuse) their own dataset, bench.cases_dataset.
    "cases": {"users"},
    "cases_load": {"users"},
    "photo_report": {"users"},
}
