"""Load tests of the case intake over HTTP: Open311 throughput against a floor, reliability under
retries and kills, two dispatchers racing. ``python -m bench.loadtest --help``; also run by
``bench.run`` as the ``cases_load`` benchmark. See bench/README.md."""
