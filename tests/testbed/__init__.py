"""Real mail servers for tuimail's tests and demo: Dovecot and aiosmtpd on loopback."""
from .bed import DEFAULT_USERS, Testbed
from .dovecot import TestbedError
from .maildir import FillSummary
from .smtp import Submission

__all__ = ["DEFAULT_USERS", "FillSummary", "Submission", "Testbed", "TestbedError"]
