# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CONFIG ?= config.toml

.PHONY: install run test test-fast fuzz lint bench bench-newsplease demo clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,postgres,cluster]'
	touch $(STAMP)

run: install
	$(BIN)/mediawatch --config $(CONFIG) init
	$(BIN)/mediawatch --config $(CONFIG) run

test: install
	$(BIN)/python -m pytest

# The unit tests: no processes, no servers (HTTP, SMTP, PostgreSQL, Redis); under a minute.
test-fast: install
	$(BIN)/python -m pytest -q -m "not slow and not postgres"

# The property-based harnesses (hostile sources, channel responses, queries) run a few
# examples in `make test`; this runs many more of each.
FUZZ_EXAMPLES ?= 200
fuzz: install
	MEDIAWATCH_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest -p no:cacheprovider \
		tests/test_crawl_fuzz.py tests/test_delivery_fuzz.py tests/test_query_fuzz.py

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: install
	$(BIN)/python -m bench

# Crawl throughput against news-please on the same local newsroom. news-please is not a
# dependency (its pins clash with ours): it gets its own virtualenv, with the Scrapy and
# newspaper4k it was measured with on Python 3.11.
bench-newsplease: install
	test -x .venv-newsplease/bin/news-please || ($(PYTHON) -m venv .venv-newsplease && \
		.venv-newsplease/bin/python -m pip install --quiet news-please==1.6.16 \
		Scrapy==2.19.0 newspaper4k==0.9.6)
	$(BIN)/python bench/bench_newsplease.py

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache

demo: install
	$(BIN)/mediawatch demo --workdir data/demo --watchlist $(CONFIG)
