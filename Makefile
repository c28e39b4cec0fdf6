# kubekeeper — `make demo` and `make test` work as root on a fresh Debian machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Older real components the tests also run against (etcd 3.4, restic 0.14 from bookworm), unpacked
# from their .debs here, never installed: tests find them under $(LEGACY) (KUBEKEEPER_LEGACY_DIR)
LEGACY := .cache/legacy
LEGACY_DEBS := etcd-server/bookworm etcd-client/bookworm restic/bookworm
PYTEST_ARGS ?=

.PHONY: setup apt legacy venv demo test test-unit test-e2e bench clean

setup: apt venv legacy

# Debian packages: restic 0.18 + etcd 3.5.16 from trixie (a trixie source pinned at 100), the rest
# from bookworm; see .ci/apt-packages.sh
apt:
	./.ci/apt-packages.sh

legacy: $(LEGACY)/.unpacked

$(LEGACY)/.unpacked:
	rm -rf $(LEGACY) && mkdir -p $(LEGACY)/debs
	cd $(LEGACY)/debs && apt-get download -q $(LEGACY_DEBS)
	dpkg-deb -x $(LEGACY)/debs/etcd-server_3.4.*.deb $(LEGACY)/etcd-3.4
	dpkg-deb -x $(LEGACY)/debs/etcd-client_3.4.*.deb $(LEGACY)/etcd-3.4
	dpkg-deb -x $(LEGACY)/debs/restic_0.14.*.deb $(LEGACY)/restic-0.14
	$(LEGACY)/etcd-3.4/usr/bin/etcd --version | grep -q '^etcd Version: 3.4'
	$(LEGACY)/restic-0.14/usr/bin/restic version | grep -q '^restic 0.14'
	touch $@

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

demo: setup
	$(VENV)/bin/kubekeeper demo

test: setup
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/lint-imports  # the layer contract: pyproject.toml [tool.importlinter]
	$(VENV)/bin/mypy  # strict on the engines: pyproject.toml [tool.mypy]
	$(PY) -m pytest $(PYTEST_ARGS)

test-unit: venv
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

test-e2e: setup
	$(PY) -m pytest tests/e2e $(PYTEST_ARGS)

bench: setup
	$(PY) -m pip install -q -e '.[test,bench]'
	test -x .venv-peers/bin/checkov || ($(PYTHON) -m venv .venv-peers && .venv-peers/bin/pip install -q checkov)
	set -e; for script in bench/bench_*.py; do echo "== $$script"; $(PY) $$script; done

clean:
	rm -rf $(VENV) .venv-peers build *.egg-info src/*.egg-info .cache

# the container image localhost/kubekeeper:<version>: buildah, a debootstrap'd Debian trixie base (no
# container registry needed), the wheel built from this tree; BASE=<registry image> to use one instead
.PHONY: image
image: venv
	PY=$(PY) image/build.sh
