# Two commands do all set-up on a fresh Debian/Ubuntu machine:
#   make run    demo origin (generated media) with the edge in front; prints the URLs
#   make test   installs everything the tests need, then runs the checks and the tests
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
LISTEN ?= 127.0.0.1:8080
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test check system-deps clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python >= 3.11 needed"'
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

# ffmpeg makes the demo media and the media the tests play.
system-deps:
	@command -v ffmpeg >/dev/null 2>&1 || { \
	  echo "installing ffmpeg (apt)"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends ffmpeg; }

run: $(STAMP) system-deps
	$(BIN)/edge-assembler demo --listen $(LISTEN)

check: $(STAMP)
	$(BIN)/ruff format --check edge_assembler tests bench
	$(BIN)/ruff check edge_assembler tests bench
	$(BIN)/mypy edge_assembler
	$(BIN)/lint-imports

test: $(STAMP) system-deps check
	$(BIN)/pytest

clean:
	rm -rf $(VENV) .cache .pytest_cache .mypy_cache .ruff_cache .hypothesis
