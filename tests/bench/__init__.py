"""The benchmark of issue 3: `python -m tests.bench` (or `make bench`).

tuimail against NeoMutt and aerc on a 100,000-message INBOX in a private loopback Dovecot,
through a byte-counting proxy: cold and warm first screen, opening a 10 MB-attachment message,
a slow link, peak RSS. See __main__.py for the options and tuimail_side.py for the seam where
the TUI measurement plugs in.
"""
