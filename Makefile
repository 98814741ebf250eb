# gamyeon - two commands on a fresh machine:  make demo   |   make test
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Debian packages the tests use: Chromium for the review page's browser tests, GStreamer's RTSP
# server (run by Debian's own python3 with python3-gi) for the live-stream tests, PostgreSQL for
# the ledger. Installed by `make test` when run as root on Debian; elsewhere those tests skip and
# say which package they need.
DEBIAN_PACKAGES := chromium chromium-driver postgresql python3-gi gir1.2-gstreamer-1.0 \
	gir1.2-gst-rtsp-server-1.0 gstreamer1.0-rtsp gstreamer1.0-tools gstreamer1.0-plugins-base \
	gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav

.PHONY: setup system-deps demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[demo,test,cluster]'
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/gamyeon demo -o demo-output

system-deps:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		missing=$$(for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
		if [ -n "$$missing" ]; then \
			echo "installing Debian packages for the tests: $$missing"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
		fi; \
	else \
		echo "not root on Debian: tests needing $(DEBIAN_PACKAGES) skip unless they are installed"; \
	fi

test: $(STAMP) system-deps
	$(BIN)/python -m pytest -q
	$(BIN)/ruff check src tests benchmarks tools
	$(BIN)/mypy src benchmarks tools

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks tools
	$(BIN)/ruff format --check src tests benchmarks tools
	$(BIN)/mypy src benchmarks tools

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) demo-output .pytest_cache .mypy_cache .ruff_cache
