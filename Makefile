# tuimail: `make demo` opens the TUI on a local demo account; `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
APT_PACKAGES := dovecot-core dovecot-imapd dovecot-pop3d dovecot-lmtpd openssl
DEMO_DIR ?= .demo
DEMO_MESSAGES ?= 300

.PHONY: all demo test system-deps venv clean

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

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "tuimail needs Python 3.11+"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -e '.[test]'
	touch $@

venv: $(VENV)/.installed

test: system-deps venv
	$(PY) -m pytest -q

# Starts Dovecot and the SMTP submission server on 127.0.0.1 with a demo account, opens the TUI
# on it, and stops the servers when the TUI exits.
demo: system-deps venv
	@bash tests/testbed/demo.sh "$(PY)" "$(DEMO_DIR)" "$(DEMO_MESSAGES)"

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache
