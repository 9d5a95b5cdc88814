"""``todostack bench``: seed a database, start the service, drive it with wrk, and report.

Everything runs on 127.0.0.1 and for a bounded time. The results go to ``bench/results/`` as
JSON and are rendered into ``docs/benchmarks.md`` (with a PNG plot beside it).
"""
