# `make train` runs the main job, `make test` the whole test suite.
# Both create the virtual environment and install everything on first use.
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.installed

.PHONY: install loops train test bench clean

FASHION = /usr/share/datasets/fashion-mnist
DEBIAN  = dataset-fashion-mnist graphviz gcc python3-dev

$(STAMP): pyproject.toml
	@# real Fashion-MNIST, Graphviz's `dot` (for plot_model) and a C compiler (for the compiled
	@# loops) install offline from Debian's packages; a machine without apt-get (or root) still
	@# works, and what needs them says how to get them (without a compiler the NumPy passes run)
	@(test -d $(FASHION) && command -v dot >/dev/null && command -v cc >/dev/null) || \
	    (command -v apt-get >/dev/null && (apt-get install -y -qq $(DEBIAN) \
	    || (apt-get update -qq && apt-get install -y -qq $(DEBIAN)))) || true
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[all]"
	touch $(STAMP)

install: $(STAMP) loops

# the compiled loops (deepgrad/loops/*.pyx) rebuilt in place when a source changed since the install
loops: $(STAMP)
	$(PY) setup.py -q build_ext --inplace

train: $(STAMP) loops
	$(VENV)/bin/deepgrad train

test: $(STAMP) loops
	$(PY) -m pytest tests

bench: $(STAMP) loops
	$(PY) benchmarks/train_speed.py

clean:
	rm -rf $(VENV) build *.egg-info deepgrad/loops/*.c deepgrad/loops/*.so
