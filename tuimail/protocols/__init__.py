"""The IMAP, POP3 and SMTP adapters: no Textual here, and imapclient's byte-keyed dicts stay inside."""
from tuimail.protocols import imapclient_version

imapclient_version.preload()  # before any adapter imports imapclient, which would load importlib.metadata
