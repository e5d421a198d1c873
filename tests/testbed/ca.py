"""A throwaway CA and the server certificates the testbed's servers present."""
from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

import trustme


@dataclass(frozen=True)
class ServerCert:
    chain_pem: Path  # leaf first, then any intermediates
    key_pem: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.chain_pem, self.key_pem)
        return context


@dataclass(frozen=True)
class Certificates:
    ca_pem: Path
    main: ServerCert  # localhost and 127.0.0.1 only
    remote: ServerCert  # only the testbed's remote_host address


def make_certificates(directory: Path, remote_host: str) -> Certificates:
    """Write ca.pem and two server leaves into directory (a fresh CA every call)."""
    ca = trustme.CA(organization_name="tuimail testbed CA")
    ca_pem = directory / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_pem))

    def leaf(name: str, *identities: str) -> ServerCert:
        cert = ca.issue_cert(*identities)
        chain = directory / f"{name}.crt"
        key = directory / f"{name}.key"
        chain.write_bytes(b"".join(blob.bytes() for blob in cert.cert_chain_pems))
        key.touch(mode=0o600)
        cert.private_key_pem.write_to_path(str(key))
        return ServerCert(chain, key)

    return Certificates(ca_pem, leaf("server", "localhost", "127.0.0.1"),
                        leaf("remote", remote_host))
