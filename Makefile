# `make train` runs the main job, `make test` the whole test suite.
# Both create the virtual environment and install everything on first use.
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.installed

.PHONY: install train test bench clean

FASHION = /usr/share/datasets/fashion-mnist

$(STAMP): pyproject.toml
	@# real Fashion-MNIST and Graphviz's `dot` (for plot_model) install offline from Debian's
	@# packages; a machine without apt-get (or root) still works, and what needs them says how
	@# to get them
	@(test -d $(FASHION) && command -v dot >/dev/null) || (command -v apt-get >/dev/null && \
	    (apt-get install -y -qq dataset-fashion-mnist graphviz \
	    || (apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist graphviz))) || true
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[all]"
	touch $(STAMP)

install: $(STAMP)

train: $(STAMP)
	$(VENV)/bin/deepgrad train

test: $(STAMP)
	$(PY) -m pytest tests

bench: $(STAMP)
	$(PY) benchmarks/train_speed.py

clean:
	rm -rf $(VENV) build *.egg-info
