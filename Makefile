# Audience: `make run` to try it, `make test` to test it. Both need only Python 3.11+.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8000

.PHONY: run test install lint format migrate worker clean bench bench-small bench-10m loadtest

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

migrate: install
	mkdir -p var
	$(BIN)/python manage.py migrate --noinput

run: migrate
	$(BIN)/python manage.py seed_demo --if-empty
	PORT=$(PORT) bin/run

# mypy imports the settings (django-stubs), which refuse no SECRET_KEY on PostgreSQL: it serves nothing.
test: install
	$(BIN)/python -m ruff check .
	$(BIN)/python -m ruff format --check .
	SECRET_KEY=$${SECRET_KEY:-type-checking-only} $(BIN)/python -m mypy
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Benchmarks need PostgreSQL (DATABASE_URL); results go to docs/benchmarks/. They sign nothing that
# outlives them, so a throwaway key stands in when SECRET_KEY is unset (settings refuse none on PostgreSQL).
bench bench-small bench-10m loadtest: export SECRET_KEY ?= benchmark-only-key-never-used-to-serve-people
bench: migrate
	bin/bench-tools
	$(BIN)/python bin/bench.py --profiles 1000000 --events-per-profile 10

bench-small: migrate
	$(BIN)/python bin/bench.py --profiles 10000 --events-per-profile 10 --repeat 3

# The 10M tier of the counts (docs/performance.md): 10,000,000 profiles and ~100,000,000 events in
# a database of its own (BENCH_10M_DATABASE_URL, created beforehand: `createdb audience_10m`),
# generated inside PostgreSQL once (seed_demo --in-database: the rows took 34 min on two busy
# cores; its index phase was not timed at 10M; 34 GB with 3 of the secondary indexes, more with
# all, plus ~4 GB for the DuckDB file and ~11 GB of temporary CSV while it builds) and reused; then 200 generated rules counted by the DuckDB engine
# (its file built first: 19 min), a sample of them by PostgreSQL too. Not in `make test` or CI.
BENCH_10M_DATABASE_URL ?= $(DATABASE_URL)_10m
BENCH_10M_ARGS ?= --rules 200 --check 10
bench-10m: install
	DATABASE_URL=$(BENCH_10M_DATABASE_URL) $(BIN)/python manage.py migrate --noinput
	DATABASE_URL=$(BENCH_10M_DATABASE_URL) $(BIN)/python manage.py seed_demo --if-empty --in-database \
		--no-property-indexes --account Bench --profiles 10000000 --events-per-profile 10 --seed 20261210
	DATABASE_URL=$(BENCH_10M_DATABASE_URL) $(BIN)/python -m benchmarks counts --account Bench \
		--engine duckdb --dnc-entries 235598 --no-suite $(BENCH_10M_ARGS) --json docs/benchmarks/counts-10m.json

# 50 users against gunicorn for 60 s (PostgreSQL from DATABASE_URL, Redis from CELERY_BROKER_URL)
# on the primary alone, then 60 s more with a hot standby of the same server as a read replica
# (bin/standby-start on STANDBY_PORT, stopped afterwards); any error fails it. Results, side by
# side, go to docs/benchmarks/loadtest.md.
STANDBY_PORT ?= 5433
loadtest: migrate
	STANDBY_PORT=$(STANDBY_PORT) bin/standby-start
	$(BIN)/python bin/loadtest.py --users 50 --duration 60 --replica-port $(STANDBY_PORT); \
	status=$$?; STANDBY_PORT=$(STANDBY_PORT) bin/standby-stop; exit $$status

lint: install
	$(BIN)/python -m ruff check .
	$(BIN)/python -m ruff format --check .

format: install
	$(BIN)/python -m ruff format .
	$(BIN)/python -m ruff check --fix .

clean:
	rm -rf var/broker var/media
