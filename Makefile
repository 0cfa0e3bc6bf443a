# hnn_trading: `make demo` and `make test` work on a fresh machine with Python 3.11+ and make.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test setup lint check-export check-clean check-readme check-markdown nbtest outputs docs pytest test-slow bench lab report export readme lock clean-venv

setup: $(STAMP)

# Re-runs only when the pinned requirements or the project metadata change: a second `make` is instant.
$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "hnn_trading needs Python 3.11+, found " + sys.version' 
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name python3 >/dev/null
	touch $(STAMP)

demo: setup
	$(BIN)/hnn demo

# The whole test suite: the house style (lint), package == notebooks, notebooks clean, README == index.ipynb, every notebook runs, pytest.
test: setup lint check-export check-clean check-readme check-markdown nbtest pytest

check-export: setup
	$(BIN)/nbdev-export
	@out=$$(git status --porcelain -- hnn_trading); if [ -n "$$out" ]; then \
	  echo "FAIL: hnn_trading/ differs from what nbs/ export (edit the notebooks, run nbdev-export, commit both):"; \
	  echo "$$out"; git --no-pager diff --stat -- hnn_trading; exit 1; fi
	@echo "ok: hnn_trading/ matches nbs/"

check-clean: setup
	$(BIN)/nbdev-clean
	@out=$$(git status --porcelain -- nbs); if [ -n "$$out" ]; then \
	  echo "FAIL: nbdev-clean changed these notebooks (run nbdev-clean and commit):"; echo "$$out"; exit 1; fi
	@echo "ok: notebooks are clean"

# The house's habits, checked: ruff formats the notebooks and lints them and the package (lines <= 120, one statement
# per line); export cells stay small and methods live in their class or under @patch (tools/check_cells.py).
lint: setup
	$(BIN)/ruff format --check --quiet nbs || { echo "FAIL: run \`$(BIN)/ruff format nbs\` and nbdev-export"; exit 1; }
	$(BIN)/ruff check --quiet nbs hnn_trading
	$(BIN)/python tools/check_cells.py

check-readme: setup
	$(BIN)/python tools/make_readme.py --check

check-markdown: setup
	$(BIN)/python tools/check_markdown.py

# Every notebook runs top to bottom in a live Jupyter kernel (the installed kernelspec, the inline backend: what
# JupyterLab runs), two at a time with one torch thread each, or they fight over the two cores. Every cell that plots
# must show an image, every widget cell a widget view, and the outputs match the committed ones in kind.
nbtest: setup
	OMP_NUM_THREADS=1 $(BIN)/python tools/run_notebooks.py --workers 2

# Run every notebook and keep its outputs (commit them: the notebooks are the documentation, with their tables and plots).
outputs: setup
	OMP_NUM_THREADS=1 $(BIN)/python tools/run_notebooks.py --workers 2 --save && $(BIN)/nbdev-clean && $(BIN)/python tools/make_readme.py

# The documentation site: one HTML page per notebook, the README's notebook as home page, in _docs/.
docs: setup
	$(BIN)/python tools/make_docs.py _docs

pytest: setup
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q -n 2 --dist loadfile -m "not slow" tests

test-slow: setup
	OMP_NUM_THREADS=1 $(BIN)/python tools/run_notebooks.py --workers 2 --flags slow
	$(BIN)/python -m pytest -q -m slow tests

bench: setup
	$(BIN)/python -m pip install --quiet -r benchmarks/requirements.txt
	@for f in benchmarks/bench_*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

# As root (a container), JupyterLab refuses to start without --allow-root.
lab: setup
	$(BIN)/jupyter lab --notebook-dir=nbs $$( [ "$$(id -u)" = 0 ] && echo --allow-root )

report: setup
	$(BIN)/hnn report $(NAME)

export: setup
	$(BIN)/nbdev-export && $(BIN)/nbdev-clean && $(BIN)/python tools/make_readme.py

readme: setup
	$(BIN)/python tools/make_readme.py

lock: setup
	( echo "# Exact versions installed by \`make\` (pip freeze of a working .venv). torch is the CPU build 2.13.0;"; \
	  echo "# see the README for a CUDA build. Regenerate with \`make lock\`."; \
	  $(BIN)/python -m pip freeze --exclude-editable | grep -vi '^hnn' | sed 's/^torch==\(.*\)+cpu/torch==\1/' ) > requirements.lock

clean-venv:
	rm -rf $(VENV)
