# Everything runs inside .venv; `make dev-venv` creates it from the pinned requirements.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Metaflow refuses the user name "root" (containers, CI)
export METAFLOW_USER ?= facerec

.PHONY: dev-venv system-deps setup demo train train-quick test test-fast lint format bench-train clean

dev-venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-nodeps.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements.txt
	# these two pin old or huge dependency sets; what we import needs only what requirements.txt installed
	$(BIN)/pip install -q --disable-pip-version-check --no-deps -r requirements-nodeps.txt
	touch $@

# Debian packages the tests use: docker-compose validates the compose files (no Docker engine needed);
# chromium is the browser Playwright drives (never `playwright install`)
system-deps:
	@command -v docker-compose >/dev/null && command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose chromium >/dev/null; \
	  else echo "install docker-compose and chromium (sudo apt-get install docker-compose chromium) for the tests"; fi; }

setup: dev-venv
	$(BIN)/python project_setup.py

# the API + webapp on the embedded index with the sample faces enrolled (trains a quick model first if none exists)
demo:
	./demo.sh

# the default training run: full LFW, about 40 minutes on 2 CPU cores (plus ~4 minutes, once, for the teacher's
# descriptors, so that the flow's budget goes to training)
train: dev-venv
	$(BIN)/python project_setup.py --teacher
	$(BIN)/python metaflow_train.py run

# the demo model (about 8 minutes: all of LFW, 128 px, triplet loss only; facerec/train/config.py DEMO_FLOW_ARGS)
train-quick: setup
	$(BIN)/python metaflow_train.py run $$($(BIN)/python -m facerec.train.config demo)

test: dev-venv system-deps
	$(BIN)/python -m pytest

# under a minute, no LFW needed: synthetic images and tensors, a tiny encoder, in-memory stand-ins
test-fast: dev-venv system-deps
	$(BIN)/python -m pytest -m "not lfw and not slow"

lint: dev-venv
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: dev-venv
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

bench-train: setup
	$(BIN)/python bench/train_benchmark.py

clean:
	rm -rf .pytest_cache .ruff_cache
