# geocommune — commandes courantes. « make serve » puis « make test » suffisent.
# Arguments supplémentaires : make test ARGS="-k demo -x" ; make serve ARGS="--port 8080"
# make bench ROWS=100000 ; make bench-server ARGS="--sizes 100k --duration 5" ; make demo DEMO_DIR=/tmp/demo SEED=7

PYTHON   := .venv/bin/python
ARGS     ?=
ROWS     ?= 1000000
SEED     ?= 42
DEMO_DIR ?=

.PHONY: setup serve test bench bench-server bench-all demo

setup:
	bash scripts/setup.sh

serve:
	bash scripts/serve.sh $(ARGS)

test:
	bash scripts/test.sh $(ARGS)

# Ingestion bench (bench/RESULTS-ingest.md).
bench: setup
	$(PYTHON) bench/ingest.py --rows $(ROWS) --seed $(SEED) $(ARGS)

# Server bench, one command: ours on both stores vs tipg, pygeoapi (PostgreSQL, GeoJSON), nginx and
# the in-process floors, W1–W9 (bench/RESULTS.md). bench/run.py calls scripts/bench-setup.sh itself.
bench-server: setup
	$(PYTHON) bench/run.py --seed $(SEED) $(ARGS)

# Both, one after the other (ARGS go to the server bench).
bench-all: setup
	$(PYTHON) bench/ingest.py --rows $(ROWS) --seed $(SEED)
	$(PYTHON) bench/run.py --seed $(SEED) $(ARGS)

demo: setup
	$(PYTHON) -m layers.demo --seed $(SEED) $(if $(DEMO_DIR),--out $(DEMO_DIR))
