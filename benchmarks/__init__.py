"""Benchmarks that measure one part of Audience on a PostgreSQL database, kept out of the apps:
`python -m benchmarks segments_bench --runs 7` (the rule engine alone), `dnc_bench` (the Do Not
Contact check, on a throwaway database) and `imports_bench` (imports and exports of generated files).
`bin/bench.py` (`make bench`, `make bench-small`) reuses their suites. See docs/performance.md."""
