# geocommune — commandes courantes. « make serve » puis « make test » suffisent.
# Arguments supplémentaires : make test ARGS="-k demo -x" ; make serve ARGS="--port 8080"
# make bench ROWS=100000 ; make demo DEMO_DIR=/tmp/demo SEED=7

PYTHON   := .venv/bin/python
ARGS     ?=
ROWS     ?= 1000000
SEED     ?= 42
DEMO_DIR ?=

.PHONY: setup serve test bench demo

setup:
	bash scripts/setup.sh

serve:
	bash scripts/serve.sh $(ARGS)

test:
	bash scripts/test.sh $(ARGS)

bench: setup
	$(PYTHON) bench/ingest.py --rows $(ROWS) --seed $(SEED) $(ARGS)

demo: setup
	$(PYTHON) -m layers.demo --seed $(SEED) $(if $(DEMO_DIR),--out $(DEMO_DIR))
