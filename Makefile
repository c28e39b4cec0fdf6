# kubekeeper — `make demo` and `make test` work as root on a fresh Debian machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Debian packages the project and its tests need (real components, benchmark peers)
APT_PACKAGES := restic etcd-server etcd-client docker-registry openssh-server openssh-client \
	skopeo fio rsync apache2-utils iproute2 util-linux procps
PYTEST_ARGS ?=

.PHONY: setup apt venv demo test test-unit test-e2e bench clean

setup: apt venv

apt:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:" $$missing; \
		if [ "$$(id -u)" != 0 ]; then SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi

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

test-unit: setup
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

test-e2e: setup
	$(PY) -m pytest tests/e2e $(PYTEST_ARGS)

bench: setup
	$(PY) -m pip install -q -e '.[test,bench]'
	test -x .venv-peers/bin/checkov || ($(PYTHON) -m venv .venv-peers && .venv-peers/bin/pip install -q checkov)
	set -e; for script in bench/bench_*.py; do echo "== $$script"; $(PY) $$script; done

clean:
	rm -rf $(VENV) .venv-peers build *.egg-info src/*.egg-info

# the container image localhost/kubekeeper:<version>: buildah, a debootstrap'd Debian trixie base (no
# container registry needed), the wheel built from this tree; BASE=<registry image> to use one instead
.PHONY: image
image: venv
	PY=$(PY) image/build.sh
