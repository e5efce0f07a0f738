# The README's two commands: `make test` and `make demo`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_PROFILE ?= cpu
RUNS := data/runs

.PHONY: test demo install clean-results

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# Unit tests plus every notebook executed by nbval in the `smoke` profile.
# pytest's exit code 5 means no test ran: that is a failure here.
test: $(STAMP)
	@HALO_PROFILE=smoke MPLBACKEND=Agg $(PY) -m pytest --nbval-lax tests notebooks; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests"; exit 1; fi; exit $$rc

# Run the notebooks end to end (profile $(DEMO_PROFILE)) on the dataset named by HALO_GLEAM_DIR.
demo: $(STAMP)
	@if [ -z "$$HALO_GLEAM_DIR" ]; then \
	  echo "make demo: set HALO_GLEAM_DIR to the published GLEAM halo dataset (TRAIN_DATA_1 ... TEST_DATA_0)."; \
	  echo "  e.g.  HALO_GLEAM_DIR=../shared/data/gleam-halos make demo"; \
	  echo "  or download it first: $(PY) -m halo_utils.download --out data/gleam --table data/catalogues/gleam_halo_sources.csv"; \
	  exit 2; fi
	@mkdir -p $(RUNS)
	@for nb in notebooks/0*.ipynb; do \
	  name=$$(basename $$nb); echo "== $$name ($(DEMO_PROFILE))"; \
	  MPLBACKEND=Agg $(VENV)/bin/papermill --log-level WARNING $$nb $(RUNS)/$$name -p profile $(DEMO_PROFILE) || exit 1; \
	done
	@echo "executed notebooks: $(RUNS)/"; echo "figures:            figures/"; \
	echo "summaries (JSON):   data/results/<notebook>/$(DEMO_PROFILE)_seed0.json"; ls data/results/*/$(DEMO_PROFILE)_seed0.json

clean-results:
	rm -rf data/results data/processed $(RUNS)
