# tuimail: `make demo` opens the TUI on a local demo account; `make test` runs the whole suite.
# The distribution's Python when it is 3.11+ (Debian's /usr/bin/python3 runs tuimail's start-up
# 15-20% faster here than an unoptimised build such as pyenv's default), else python3 from PATH.
PYTHON ?= $(shell for p in /usr/bin/python3 python3; do \
	$$p -c 'import sys, ensurepip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { echo $$p; break; }; done)
VENV := .venv
PY := $(VENV)/bin/python
APT_PACKAGES := dovecot-core dovecot-imapd dovecot-pop3d dovecot-lmtpd openssl tmux python3-venv  # tmux: the pty test (tests/test_security_pty.py)
DEMO_DIR ?= .demo
DEMO_MESSAGES ?= 3000
BENCH_PACKAGES := tmux neomutt aerc
BENCH_ARGS ?=

.PHONY: all demo test system-deps venv clean bench bench-deps

all: test

# Dovecot and friends from Debian. As root they are installed; otherwise the command is printed.
system-deps:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then \
	  echo "tuimail needs Debian packages:$$missing"; \
	  echo "Run first:  sudo apt-get update && sudo apt-get install -y$$missing"; exit 1; \
	fi; \
	echo "installing$$missing (the system Dovecot service is not started)"; \
	added=""; if [ ! -e /usr/sbin/policy-rc.d ]; then \
	  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; added=1; fi; \
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq$$missing; rc=$$?; \
	if [ -n "$$added" ]; then rm -f /usr/sbin/policy-rc.d; fi; exit $$rc

# editable_mode=compat: the checkout on sys.path through a plain .pth line; setuptools' default
# editable mode imports a finder module (pathlib, urllib.parse, ipaddress...) at every start
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "tuimail needs Python 3.11+"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -e '.[test]' --config-settings editable_mode=compat
	touch $@

venv: $(VENV)/.installed

test: system-deps venv
	$(PY) -m pytest -q

# Starts Dovecot and the SMTP submission server on 127.0.0.1 with a demo account, opens the TUI
# on it, and stops the servers when the TUI exits.
demo: system-deps venv
	@bash tests/testbed/demo.sh "$(PY)" "$(DEMO_DIR)" "$(DEMO_MESSAGES)"

# The issue 3 benchmark: tuimail against NeoMutt and aerc on a 100,000-message INBOX (cached in
# .bench/), table on stdout, figures in .bench/results.json. BENCH_ARGS=--quick for a short run.
bench: system-deps venv bench-deps
	$(PY) -m tests.bench $(BENCH_ARGS)

# The peers are measured where installed: as root they are installed, and a failure is not fatal.
bench-deps:
	@missing=""; for p in $(BENCH_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then echo "bench: not root, so not installing$$missing (measured where installed)"; exit 0; fi; \
	echo "bench: installing$$missing"; \
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq$$missing >/dev/null 2>&1 || \
	  { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq$$missing >/dev/null 2>&1; } || \
	  echo "bench: could not install$$missing; measuring what is installed"

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache
