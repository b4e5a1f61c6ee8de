"""Mutual TLS for the gateway: the server's TLS context and the calling system's certificate per call.

uvicorn (checked up to 0.54) does not put the ASGI TLS extension (``scope["extensions"]["tls"]``) into
the HTTP scope, so the gateway cannot see the client certificate through ASGI alone. The
:func:`peer_certificate_protocol` class wraps uvicorn's HTTP protocol: when a TLS connection is made
it reads the verified peer certificate from the transport's ``ssl_object`` and keeps its DER bytes
under the connection's (local, remote) address pair until the connection is lost;
:func:`peer_certificate` finds it again from the scope's ``server`` and ``client``. If a server does
provide the ASGI TLS extension (``client_cert_chain``), that is used first.

The TLS layer checks that a presented certificate chains to the configured CA bundle (a self-signed
certificate put into the bundle is its own anchor, as X-Road pins internal TLS certificates), but
not its validity period (``X509_V_FLAG_NO_CHECK_TIME``): an expired certificate is refused by the
gateway with a ``Client.`` error that names it and is recorded in the message log, instead of a TLS
alert the caller cannot read and the log never sees. A certificate that does not chain to the bundle
still fails the handshake. Asking for a certificate is optional (``CERT_OPTIONAL``) so token-only
systems can use the same port, unless a subsystem is set to require mutual TLS.
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from uvicorn.protocols.http.auto import AutoHTTPProtocol
from uvicorn.protocols.utils import get_local_addr, get_remote_addr

#: OpenSSL's X509_V_FLAG_NO_CHECK_TIME (validity is checked by the gateway against the registration).
NO_CHECK_TIME = 0x200000

#: (local address, remote address) of each live TLS connection → the peer's DER certificate.
_PEERS: dict[tuple[Any, Any], bytes] = {}


@dataclass(frozen=True)
class TlsOptions:
    """The gateway's TLS files: its certificate (chain) and key, and the CA bundle for client certs."""

    certfile: Path
    keyfile: Path | None = None
    client_ca: Path | None = None


def server_context(options: TlsOptions) -> ssl.SSLContext:
    """The TLS context of the gateway (TLS 1.2+; client certificates requested when a CA is given)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(options.certfile), str(options.keyfile) if options.keyfile else None)
    if options.client_ca is not None:
        context.load_verify_locations(cafile=str(options.client_ca))
        context.verify_mode = ssl.CERT_OPTIONAL
        context.verify_flags |= NO_CHECK_TIME
    return context


@dataclass(frozen=True)
class ContextFactory:
    """uvicorn's ``ssl_context_factory`` (uvicorn >= 0.47) building :func:`server_context`.

    A module-level class, so uvicorn can hand it to worker processes (it pickles the config).
    """

    options: TlsOptions

    def __call__(self, _config: Any, _default: Callable[[], ssl.SSLContext]) -> ssl.SSLContext:
        return server_context(self.options)


def fingerprint(der: bytes) -> str:
    """Lower-case hex SHA-256 of a DER certificate (how certificates are registered and found)."""
    return hashlib.sha256(der).hexdigest()


def peer_certificate_protocol(base: type[asyncio.Protocol]) -> type[asyncio.Protocol]:
    """``base`` (a uvicorn HTTP protocol class) remembering each TLS connection's client certificate."""

    class PeerCertificateProtocol(base):  # type: ignore[valid-type,misc]
        _peer_key: tuple[Any, Any] | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:
            super().connection_made(transport)
            ssl_object = transport.get_extra_info("ssl_object")
            if ssl_object is None:
                return
            der = ssl_object.getpeercert(binary_form=True)
            if der:
                self._peer_key = (get_local_addr(transport), get_remote_addr(transport))
                _PEERS[self._peer_key] = der

        def connection_lost(self, exc: Exception | None) -> None:
            if self._peer_key is not None:
                _PEERS.pop(self._peer_key, None)
                self._peer_key = None
            super().connection_lost(exc)

    return PeerCertificateProtocol


#: uvicorn's default HTTP protocol with client certificates (module level: worker processes import it).
PeerCertificateProtocol = peer_certificate_protocol(AutoHTTPProtocol)
PeerCertificateProtocol.__qualname__ = PeerCertificateProtocol.__name__ = "PeerCertificateProtocol"


def peer_certificate(scope: MutableMapping[str, Any]) -> bytes | None:
    """The DER client certificate of the connection ``scope`` came on (None: plain or no certificate)."""
    tls = (scope.get("extensions") or {}).get("tls")
    if isinstance(tls, dict):
        chain = tls.get("client_cert_chain") or []
        if chain:
            return ssl.PEM_cert_to_DER_cert(str(chain[0]))
    if scope.get("scheme") != "https" or not _PEERS:
        return None
    server, client = scope.get("server"), scope.get("client")
    key = (tuple(server) if server else None, tuple(client) if client else None)
    return _PEERS.get(key)
