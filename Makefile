# The README's two commands: `make test` and `make demo`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_PROFILE ?= cpu
DEMO_SOURCE ?= mock
# the generators (02_wgan, 03_ddpm) take about an hour each in the cpu profile: add them by name
DEMO_NOTEBOOKS ?= 00_data 01_noise 05_classifier
# the demo's detector (notebooks/05_demo.yaml): model I under kfold, one repeat of the 5 folds, no saliency maps
DEMO_05 ?= -f notebooks/05_demo.yaml
RUNS := data/runs
TEST_WORKERS ?= 2

.PHONY: test demo sweep bench install clean-results

install: $(STAMP)

# uv (from PyPI) installs the same versions as pip in half the time (56 -> 29 s here, bytecode compiled); pip if uv fails
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet uv && $(PY) -m uv pip install --quiet --compile-bytecode --python $(PY) --upgrade pip -e '.[test,cpu]' \
	  || { echo "make install: uv failed, installing with pip"; $(PY) -m pip install --quiet --upgrade pip && \
	       $(PY) -m pip install --quiet -e '.[test,cpu]'; }
	touch $(STAMP)

# Unit tests plus every notebook executed once (papermill, `smoke` profile, tests/test_notebooks.py), on TEST_WORKERS
# processes (pytest-xdist; a test file's tests run on one worker in order), one thread each for TensorFlow and NumPy
# (two workers with two threads each oversubscribe the two cores: 664 -> 626 s of testing, one run each), the slowest
# 15 listed at the end.
# Every run writes into a scratch root under pytest's temporary folder, so each notebook trains from scratch.
# pytest's exit code 5 means no test ran: that is a failure here.
test: $(STAMP)
	@TF_NUM_INTRAOP_THREADS=1 OMP_NUM_THREADS=1 HALO_PROFILE=smoke MPLBACKEND=Agg TF_CPP_MIN_LOG_LEVEL=2 $(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=15 tests; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests"; exit 1; fi; exit $$rc

# Run every notebook end to end (profile $(DEMO_PROFILE)) on the mock sky (DEMO_SOURCE=mock, the default,
# needs no download) or on the published images (DEMO_SOURCE=gleam, needs HALO_GLEAM_DIR).
demo: $(STAMP)
	@if [ "$(DEMO_SOURCE)" = gleam ] && [ -z "$$HALO_GLEAM_DIR" ]; then \
	  echo "make demo DEMO_SOURCE=gleam: set HALO_GLEAM_DIR to the published GLEAM halo dataset (TRAIN_DATA_1 ... TEST_DATA_0)."; \
	  echo "  e.g.  HALO_GLEAM_DIR=../shared/data/gleam-halos make demo DEMO_SOURCE=gleam"; \
	  echo "  or download it first: $(PY) -m halo_utils.data.download --out data/gleam --table data/catalogues/gleam_halo_sources.csv"; \
	  exit 2; fi
	@mkdir -p $(RUNS)
	@start=$$(date +%s); for name in $(DEMO_NOTEBOOKS); do \
	  nb=notebooks/$$name.ipynb; echo "== $$name ($(DEMO_SOURCE), $(DEMO_PROFILE))"; \
	  extra=""; if [ $$name = 05_classifier ]; then extra="$(DEMO_05)"; fi; \
	  MPLBACKEND=Agg TF_CPP_MIN_LOG_LEVEL=2 $(VENV)/bin/papermill --log-output $$nb $(RUNS)/$${name}_$(DEMO_SOURCE).ipynb \
	    -p profile $(DEMO_PROFILE) -p source $(DEMO_SOURCE) $$extra || exit 1; \
	done; \
	echo "make demo: $$(( $$(date +%s) - start )) s"; \
	echo "executed notebooks: $(RUNS)/"; echo "figures:            figures/ (05_source_scores_*: the detector's headline figure)"; \
	echo "summaries (JSON):   data/results/<notebook>/"; ls data/results/*/*$(DEMO_PROFILE)_seed0.json

# 05_classifier over SEEDS (e.g. 0-9, or 0 1 2) x I, A, D under kfold, then Table 5 in docs/results/ (PROTOCOLS="kfold
# strict paper" adds the others): the runs are written as a plan and run by Snakemake (workflow/Snakefile), JOBS at a
# time on CORES cores; a finished run is skipped, a killed one is run again and resumes its fold.
SEEDS ?= 0-9
JOBS ?= 1
CORES ?= 2
PROTOCOLS ?= kfold
SWEEP_SOURCE ?= gleam
SWEEP_PROFILE ?= cpu
# PRECISION=mixed_bfloat16: the runs in bfloat16 (about twice as fast on CPUs with bfloat16 instructions; own names and table)
PRECISION ?= float32
# Or the runs of a study table and the table: STUDY is the module and its options, e.g.
#   make sweep STUDY="realsky_report --profile cpu --seeds 0 1 2"     (the injection runs, then realsky_cpu.md)
#   make sweep STUDY="pretraining --profile cpu --seeds 0 1 2"        (the mock detectors and mock pre-training)
# (also injection, mockbaseline, brightness, kinds: python -m halo_utils.studies.<module> --help)
STUDY ?=
PLAN ?= data/runs/plans/$(if $(STUDY),$(firstword $(STUDY)),table5_$(SWEEP_SOURCE)_$(SWEEP_PROFILE)_$(PRECISION)).json
sweep: $(STAMP)
	$(if $(STUDY),$(PY) -m halo_utils.studies.$(STUDY) --plan $(PLAN),$(PY) -m halo_utils.studies.sweep --seeds $(SEEDS) --protocols $(PROTOCOLS) --profile $(SWEEP_PROFILE) --source $(SWEEP_SOURCE) --precision $(PRECISION) --plan $(PLAN))
	@$(VENV)/bin/snakemake -s workflow/Snakefile --config plan=$(PLAN) --unlock --quiet all  # a killed sweep leaves a lock
	TF_CPP_MIN_LOG_LEVEL=2 $(VENV)/bin/snakemake -s workflow/Snakefile --config plan=$(PLAN) threads=$$(( $(CORES) / $(JOBS) )) \
	  --cores $(CORES) --rerun-incomplete --rerun-triggers mtime

# Training throughput of I, A, D and this machine's matmul speed (prints figures; not a test).
bench: $(STAMP)
	TF_CPP_MIN_LOG_LEVEL=2 $(PY) -m halo_utils.bench

clean-results:
	rm -rf data/results data/processed $(RUNS)
