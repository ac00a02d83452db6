# Set-up, demo and tests. `make demo` and `make test` each work on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
# The CPU build is enough; on a CUDA machine use e.g. TORCH="torch==2.14.1"
TORCH  ?= torch==2.13.0
BIN     = $(VENV)/bin
EXAMPLES = src/fuchun/examples
# the studio's browser tests drive Debian's Chromium (Playwright's own browser download needs the network)
CHROMIUM = /usr/bin/chromium

.PHONY: install weights demo studio lint test bench evidence studio-picture clean

$(BIN)/fuchun: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[dev,studio]"
	touch $@

install: $(BIN)/fuchun

weights: install
	$(BIN)/fuchun weights --fetch vgg16

demo: weights
	$(BIN)/fuchun stylize $(EXAMPLES)/tubingen.jpg $(EXAMPLES)/starry-night.jpg -o demo.png --size 256

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

studio: weights
	$(BIN)/fuchun studio

$(CHROMIUM):
	SUDO=""; [ "$$(id -u)" -eq 0 ] || SUDO=sudo; \
	$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium

test: weights $(CHROMIUM)
	$(BIN)/python -m pytest -q

bench: weights
	$(BIN)/python benchmarks/speed.py

# docs/evidence.md from benchmarks/results/*.json (each benchmark writes its own file)
evidence: install
	$(BIN)/python benchmarks/evidence.py

# docs/studio.png: the studio in the middle of a run, taken by its browser test
studio-picture: weights $(CHROMIUM)
	FUCHUN_STUDIO_SCREENSHOT=docs/studio.png $(BIN)/python -m pytest -q tests/studio/test_studio_browser.py -k upload_run_preview

clean:
	rm -rf $(VENV) demo.png
