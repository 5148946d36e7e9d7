# Two commands do all set-up on a fresh Debian/Ubuntu machine:
#   make run    demo origin (generated media) with the edge in front; prints the URLs
#   make test   installs everything the tests need, then runs the checks and the tests
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# hls.js and dash.js (package-lock.json pins them): the demo page and the e2e tests serve them.
NODE_STAMP := node_modules/.installed-stamp
LISTEN ?= 127.0.0.1:8080
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# apt-get install of packages whose system service must not start (nginx on port 80,
# Prometheus on 9090): a policy-rc.d that denies service starts, unless one is already there.
APT_NO_SERVICE = $(SUDO) sh -c 'if [ ! -e /usr/sbin/policy-rc.d ]; then \
	  trap "rm -f /usr/sbin/policy-rc.d" EXIT; \
	  printf "\#!/bin/sh\nexit 101\n" >/usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; \
	fi; \
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$$@"' apt-no-service

.PHONY: run test check deploy-check bench system-deps browser-deps test-deps clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python >= 3.11 needed"'
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

# ffmpeg makes the demo media and the media the tests play; npm fetches the players.
system-deps:
	@command -v ffmpeg >/dev/null 2>&1 || { \
	  echo "installing ffmpeg (apt)"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends ffmpeg; }
	@command -v npm >/dev/null 2>&1 || { \
	  echo "installing nodejs and npm (apt)"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends nodejs npm; }

# Debian's Chromium runs the e2e tests' players (playwright drives /usr/bin/chromium; no
# `playwright install`). H.264/AAC play through MSE in Debian's build.
browser-deps:
	@[ -x /usr/bin/chromium ] || { \
	  echo "installing chromium (apt)"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends chromium; }

# The live tests start their own Redis (Debian's redis-server) on a free loopback port.
test-deps:
	@command -v redis-server >/dev/null 2>&1 || { \
	  echo "installing redis-server (apt)"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends redis-server; }
# The benchmark's closed-loop load tool (bench/loadgen.py): Debian's wrk.
	@[ -x /usr/bin/wrk ] || { \
	  echo "installing wrk (apt)"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends wrk; }
# The benchmark's baseline: Debian's nginx, run on a free loopback port by bench/servers.py.
	@[ -x /usr/sbin/nginx ] || { \
	  echo "installing nginx (apt; its system service is not started)"; \
	  $(SUDO) apt-get update -qq && $(APT_NO_SERVICE) nginx; }
# promtool (Debian's prometheus package) checks the alert rules, their unit tests and the
# compose stack's Prometheus config (tests/integration/test_deploy_files.py).
	@[ -x /usr/bin/promtool ] || { \
	  echo "installing prometheus for promtool (apt; its system service is not started)"; \
	  $(SUDO) apt-get update -qq && $(APT_NO_SERVICE) prometheus; }

$(NODE_STAMP): package.json package-lock.json | system-deps
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

run: $(STAMP) system-deps $(NODE_STAMP)
	$(BIN)/edge-assembler demo --listen $(LISTEN)

check: $(STAMP)
	$(BIN)/ruff format --check edge_assembler tests bench
	$(BIN)/ruff check edge_assembler tests bench
	$(BIN)/mypy edge_assembler
	$(BIN)/mypy --strict bench
	$(BIN)/lint-imports
	$(MAKE) deploy-check

# deploy/: Kubernetes manifests against the Kubernetes schemas, the systemd unit, the alert
# rules and dashboard queries against the exported metrics (offline).
deploy-check: $(STAMP)
	$(BIN)/pytest -q -p no:cacheprovider tests/integration/test_deploy_files.py

test: $(STAMP) system-deps browser-deps test-deps $(NODE_STAMP) check
	$(BIN)/pytest

# The latency benchmark (README "Performance"): report.json, report.md and plots in
# bench-report/. BENCH_ARGS=--quick for a short run.
bench: $(STAMP) system-deps test-deps
	$(BIN)/python -m bench --out bench-report $(BENCH_ARGS)

clean:
	rm -rf $(VENV) node_modules .cache .pytest_cache .mypy_cache .ruff_cache .hypothesis bench-report
