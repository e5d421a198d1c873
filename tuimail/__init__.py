"""tuimail: a terminal mail client that makes the protocols visible."""

__version__ = "0.1.0"
