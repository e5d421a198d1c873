"""TLS contexts and what a finished handshake tells us. Used only through protocols/connect.py.

Verification is never weakened silently. The one way past a certificate that the system store
and ca_file cannot verify is an explicit cert_fingerprint: then the server's certificate must
have exactly that SHA-256, checked inside the handshake before any byte of the session is sent.
"""
from __future__ import annotations

import hashlib
import hmac
import ssl
from dataclasses import dataclass
from datetime import datetime, timezone

from tuimail.model.config import Account, ServerConfig

_NAME_KEYS = {
    "commonName": "CN", "organizationName": "O", "organizationalUnitName": "OU",
    "countryName": "C", "stateOrProvinceName": "ST", "localityName": "L",
    "emailAddress": "emailAddress",
}


class PinMismatch(ssl.SSLCertVerificationError):
    """The server's certificate is not the one pinned by cert_fingerprint."""

    def __init__(self, expected: str, got: str):
        message = (f"certificate fingerprint {format_fingerprint(got) or '(none)'} does not match "
                   f"the pinned cert_fingerprint {format_fingerprint(expected)}")
        super().__init__(message)
        self.verify_message = message
        self.verify_code = -1
        self.reason = "PIN_MISMATCH"


def _check_pin(conn: ssl.SSLSocket | ssl.SSLObject) -> None:
    expected = getattr(conn.context, "pin", "")
    der = conn.getpeercert(binary_form=True)
    got = hashlib.sha256(der).hexdigest() if der else ""
    if not expected or not hmac.compare_digest(got, expected):
        raise PinMismatch(expected, got)


class _PinnedSocket(ssl.SSLSocket):
    def do_handshake(self, block: bool = False) -> None:
        super().do_handshake(block)
        _check_pin(self)


class _PinnedObject(ssl.SSLObject):  # what asyncio (aiosmtplib) uses
    def do_handshake(self) -> None:
        super().do_handshake()  # raises SSLWantReadError until the handshake is complete
        _check_pin(self)


class PinnedContext(ssl.SSLContext):
    """A client context that accepts exactly one certificate, by SHA-256, whatever signed it."""

    sslsocket_class = _PinnedSocket
    sslobject_class = _PinnedObject
    pin: str = ""


def ssl_context(account: Account, server: ServerConfig) -> ssl.SSLContext:
    """The context for every TLS connection: system trust plus ca_file, host names checked,
    TLS 1.2 or later; or, with cert_fingerprint set, exactly that certificate.

    Raises ValueError with a one-line reason when ca_file cannot be loaded.
    """
    if server.cert_fingerprint:
        context: ssl.SSLContext = PinnedContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False  # the pin names one certificate; that is stricter
        context.verify_mode = ssl.CERT_NONE  # the pin check in the handshake replaces the CA check
        context.pin = server.cert_fingerprint.replace(":", "").lower()
    else:
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
        if account.ca_file:
            try:
                context.load_verify_locations(cafile=account.ca_file)
            except FileNotFoundError:
                raise ValueError(f"ca_file {account.ca_file!r}: no such file") from None
            except (OSError, ssl.SSLError) as exc:
                raise ValueError(f"ca_file {account.ca_file!r}: cannot load: "
                                 f"{getattr(exc, 'reason', None) or exc}") from None
        context.check_hostname = True
        context.verify_mode = ssl.CERT_REQUIRED
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


@dataclass(frozen=True)
class TlsInfo:
    version: str  # "TLSv1.3"
    cipher: str  # "TLS_AES_256_GCM_SHA384"
    bits: int | None
    subject: str  # "CN=mail.example.org, O=Example"; "" when not verified (pinned)
    issuer: str
    not_after: datetime | None  # UTC
    sha256: str  # "AB:CD:..." of the DER certificate
    verified_by: str  # "ca" (system store or ca_file) or "pin" (cert_fingerprint)
    alt_names: tuple[str, ...] = ()

    def days_left(self, now: datetime | None = None) -> int | None:
        if self.not_after is None:
            return None
        now = now or datetime.now(timezone.utc)
        return (self.not_after - now).days

    def summary(self) -> str:
        bits = f" ({self.bits} bits)" if self.bits else ""
        return f"{self.version} {self.cipher}{bits}"


def tls_info_of(conn: ssl.SSLSocket | ssl.SSLObject) -> TlsInfo:
    """Read version, cipher and certificate from a completed handshake."""
    cipher = conn.cipher() or ("", "", None)
    der = conn.getpeercert(binary_form=True) or b""
    cert = conn.getpeercert() or {}  # empty when not verified (pinned)
    not_after = None
    if cert.get("notAfter"):
        try:
            not_after = datetime.fromtimestamp(ssl.cert_time_to_seconds(cert["notAfter"]), timezone.utc)
        except ValueError:
            not_after = None
    return TlsInfo(
        version=conn.version() or "",
        cipher=cipher[0] or "",
        bits=cipher[2],
        subject=_dn(cert.get("subject", ())),
        issuer=_dn(cert.get("issuer", ())),
        not_after=not_after,
        sha256=format_fingerprint(hashlib.sha256(der).hexdigest()) if der else "",
        verified_by="pin" if isinstance(conn.context, PinnedContext) else "ca",
        alt_names=tuple(f"{kind}:{value}" for kind, value in cert.get("subjectAltName", ())),
    )


def _dn(rdns) -> str:
    parts = []
    for rdn in rdns:
        for key, value in rdn:
            parts.append(f"{_NAME_KEYS.get(key, key)}={value}")
    return ", ".join(parts)


def format_fingerprint(hexdigest: str) -> str:
    digest = hexdigest.replace(":", "").upper()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def describe_ssl_error(exc: ssl.SSLError) -> str:
    """One line for a failed handshake, e.g. 'certificate verify failed: unable to get local
    issuer certificate' or 'TLS handshake failed: wrong version number'."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        detail = getattr(exc, "verify_message", None) or exc.reason or str(exc)
        if isinstance(exc, PinMismatch):
            return detail
        return f"certificate verify failed: {detail}"
    reason = (exc.reason or str(exc)).replace("_", " ").lower() if exc.reason else str(exc)
    return f"TLS handshake failed: {reason}"
