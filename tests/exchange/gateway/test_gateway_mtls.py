"""Mutual TLS at the gateway, over real TLS: a uvicorn server with the peer-certificate protocol, an
httpx client presenting certificates made here with ``cryptography`` (a CA, the gateway's server
certificate, and client certificates: registered, unknown, revoked, expired, another subsystem's)."""

from __future__ import annotations

import datetime as dt
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import select

from factories import SYSTEM
from gateway_env import INSTANCE, PERSON, Exchange, LeanThread
from servers import free_port
from zhengwu.exchange.gateway.certificates import (
    subsystem_cert_add,
    subsystem_cert_revoke,
    subsystem_client_auth_set,
)
from zhengwu.exchange.gateway.models import GatewayClientCertificate
from zhengwu.exchange.gateway.proxy import Gateway, GatewayConfig
from zhengwu.exchange.gateway.tls import (
    ContextFactory,
    PeerCertificateProtocol,
    TlsOptions,
    fingerprint,
    server_context,
)
from zhengwu.exchange.models import ExchangeLogRecord, ExchangeSubsystem

NOW = dt.datetime.now(dt.UTC)


@dataclass
class Pki:
    """Files of one test PKI in a temporary directory."""

    dir: Path
    ca_key: ec.EllipticCurvePrivateKey
    ca_cert: x509.Certificate

    @property
    def ca_file(self) -> Path:
        return self.dir / "ca.pem"

    def issue(
        self,
        name: str,
        *,
        not_before: dt.datetime = NOW - dt.timedelta(days=1),
        not_after: dt.datetime = NOW + dt.timedelta(days=30),
        server: bool = False,
        issuer: tuple[ec.EllipticCurvePrivateKey, x509.Certificate] | None = None,
    ) -> tuple[Path, Path, x509.Certificate]:
        """A key and a certificate signed by the CA (or ``issuer``), written as PEM files."""
        key = ec.generate_private_key(ec.SECP256R1())
        signer_key, signer_cert = issuer or (self.ca_key, self.ca_cert)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(signer_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
        )
        if server:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False
            )
        cert = builder.sign(signer_key, hashes.SHA256())
        cert_file, key_file = self.dir / f"{name}.pem", self.dir / f"{name}.key"
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return cert_file, key_file, cert


def make_ca(directory: Path, name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=2))
        .not_valid_after(NOW + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    (directory / f"{name}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key, cert


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    directory = tmp_path_factory.mktemp("pki")
    key, cert = make_ca(directory, "ca")
    return Pki(directory, key, cert)


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:
        return None


@dataclass
class TlsGateway:
    url: str
    gateway: Gateway
    exchange: Exchange
    pki: Pki
    subsystem_id: int

    def client(self, cert: tuple[Path, Path] | None = None) -> httpx.Client:
        context = ssl.create_default_context(cafile=str(self.pki.ca_file))
        if cert is not None:
            context.load_cert_chain(str(cert[0]), str(cert[1]))
        return httpx.Client(base_url=self.url, verify=context, timeout=10)

    def call(self, client: httpx.Client, *, token: bool = False) -> httpx.Response:
        headers = {"X-Road-Client": self.exchange.client}
        if token:
            headers["Authorization"] = f"Bearer {self.exchange.token}"
        return client.get(self.exchange.path("org", "/org/42"), headers=headers)

    def register(self, cert: x509.Certificate) -> int:
        with self.exchange.database.session() as db:
            out = subsystem_cert_add(
                db,
                actor=SYSTEM,
                subsystem_id=self.subsystem_id,
                certificate_pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
                instance=INSTANCE,
            )
            return out.id


@pytest.fixture(scope="module", params=["uvicorn", "lean"])
def tls_gateway(exchange: Exchange, pki: Pki, request: pytest.FixtureRequest) -> Iterator[TlsGateway]:
    """The gateway over TLS: uvicorn with the peer-certificate protocol, or the lean server (the ASGI
    TLS extension)."""
    server_cert, server_key, _ = pki.issue("localhost", server=True)
    gateway = Gateway(exchange.database, GatewayConfig(instance=INSTANCE))
    port = free_port()
    with exchange.database.session() as db:
        sub_id = db.scalar(select(ExchangeSubsystem.id).where(ExchangeSubsystem.code == "SHEBAO"))
    assert sub_id is not None
    if request.param == "lean":
        context = server_context(TlsOptions(server_cert, server_key, pki.ca_file))
        lean = LeanThread(gateway, port, ssl_context=context)
        try:
            yield TlsGateway(f"https://localhost:{port}", gateway, exchange, pki, int(sub_id))
        finally:
            lean.stop()
        return
    config = uvicorn.Config(
        gateway,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        http=PeerCertificateProtocol,
        ssl_certfile=str(server_cert),
        ssl_context_factory=ContextFactory(TlsOptions(server_cert, server_key, pki.ca_file)),
        proxy_headers=False,
    )
    server = _Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "the TLS gateway did not start"
    try:
        yield TlsGateway(f"https://localhost:{port}", gateway, exchange, pki, int(sub_id))
    finally:
        server.should_exit = True
        thread.join(10)


def refused_over_tls(env: TlsGateway, response: httpx.Response, code: str) -> str:
    """An X-Road Client.SslAuthenticationFailed answer naming ``code``, recorded, without data."""
    assert response.status_code == 401, response.text
    assert response.headers["x-road-error"] == "Client.SslAuthenticationFailed"
    body = response.json()
    assert set(body) == {"type", "message", "detail"} and body["type"] == "Client.SslAuthenticationFailed"
    assert body["message"].startswith(code + ":"), body["message"]
    assert PERSON["org_name"] not in response.text
    with env.exchange.database.session() as db:
        record = db.scalar(
            select(ExchangeLogRecord).where(ExchangeLogRecord.xroad_id == response.headers["x-road-id"])
        )
        assert record is not None, "the refused call was not recorded"
        assert record.http_status == 401 and record.error_type == "Client.SslAuthenticationFailed"
    return str(body["message"])


def test_registered_certificate_authenticates_without_a_token(tls_gateway: TlsGateway) -> None:
    cert_file, key_file, cert = tls_gateway.pki.issue("shebao-1")
    tls_gateway.register(cert)
    with tls_gateway.client((cert_file, key_file)) as client:
        first = tls_gateway.call(client)
        again = tls_gateway.call(client)  # same connection, cached authentication
    assert first.status_code == 200, first.text
    assert first.json()["org_name"] == PERSON["org_name"]
    assert again.status_code == 200
    with tls_gateway.exchange.database.session() as db:
        record = db.scalar(
            select(ExchangeLogRecord).where(ExchangeLogRecord.xroad_id == first.headers["x-road-id"])
        )
        assert record is not None and record.http_status == 200


def test_token_without_certificate_still_works_when_mtls_is_not_required(tls_gateway: TlsGateway) -> None:
    with tls_gateway.client() as client:
        response = tls_gateway.call(client, token=True)
        bare = tls_gateway.call(client)
    assert response.status_code == 200, response.text
    # Neither certificate nor token: the token check names what is missing.
    assert bare.status_code == 401 and bare.headers["x-road-error"] == "Client.InvalidCredentials"


def test_unknown_certificate_is_refused_and_recorded(tls_gateway: TlsGateway) -> None:
    cert_file, key_file, cert = tls_gateway.pki.issue("never-registered")
    with tls_gateway.client((cert_file, key_file)) as client:
        # A valid token does not rescue a certificate the platform does not know.
        response = tls_gateway.call(client, token=True)
    message = refused_over_tls(tls_gateway, response, "gateway.cert.unknown")
    assert fingerprint(cert.public_bytes(serialization.Encoding.DER)) in message


def test_revoked_certificate_is_refused(tls_gateway: TlsGateway) -> None:
    cert_file, key_file, cert = tls_gateway.pki.issue("shebao-revoked")
    cert_id = tls_gateway.register(cert)
    with tls_gateway.client((cert_file, key_file)) as client:
        assert tls_gateway.call(client).status_code == 200
        with tls_gateway.exchange.database.session() as db:
            subsystem_cert_revoke(db, actor=SYSTEM, certificate_id=cert_id, instance=INSTANCE)
        # Until auth_ttl runs out the cached authentication stands; an operator can clear it at once.
        tls_gateway.gateway.clear_caches()
        response = tls_gateway.call(client)
    refused_over_tls(tls_gateway, response, "gateway.cert.revoked")


def test_expired_certificate_passes_tls_and_is_refused_by_the_gateway(tls_gateway: TlsGateway) -> None:
    cert_file, key_file, cert = tls_gateway.pki.issue(
        "shebao-expired", not_before=NOW - dt.timedelta(days=60), not_after=NOW - dt.timedelta(days=1)
    )
    # Registration refuses an expired certificate; it was registered while it was valid.
    with tls_gateway.exchange.database.session() as db:
        db.add(
            GatewayClientCertificate(
                subsystem_id=tls_gateway.subsystem_id,
                fingerprint=fingerprint(cert.public_bytes(serialization.Encoding.DER)),
                subject=cert.subject.rfc4514_string(),
                issuer=cert.issuer.rfc4514_string(),
                serial=format(cert.serial_number, "x"),
                not_before=cert.not_valid_before_utc,
                not_after=cert.not_valid_after_utc,
                status="active",
            )
        )
    with tls_gateway.client((cert_file, key_file)) as client:
        response = tls_gateway.call(client)
    message = refused_over_tls(tls_gateway, response, "gateway.cert.expired")
    assert "expired at" in message


def test_certificate_of_another_subsystem_is_refused(tls_gateway: TlsGateway) -> None:
    cert_file, key_file, cert = tls_gateway.pki.issue("other-system")
    with tls_gateway.exchange.database.session() as db:
        other = db.scalar(select(ExchangeSubsystem.id).where(ExchangeSubsystem.code == "OTHER"))
        assert other is not None
        subsystem_cert_add(
            db,
            actor=SYSTEM,
            subsystem_id=other,
            certificate_pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
            instance=INSTANCE,
        )
    with tls_gateway.client((cert_file, key_file)) as client:
        response = tls_gateway.call(client)  # claims to be SHEBAO
    message = refused_over_tls(tls_gateway, response, "gateway.cert.not_owner")
    assert "/OTHER" in message


def test_certificate_from_an_untrusted_ca_fails_the_handshake(
    tls_gateway: TlsGateway, tmp_path: Path
) -> None:
    rogue = make_ca(tmp_path, "rogue")
    cert_file, key_file, _ = tls_gateway.pki.issue("rogue-client", issuer=rogue)
    with tls_gateway.client((cert_file, key_file)) as client, pytest.raises(httpx.TransportError):
        response = tls_gateway.call(client)
        # TLS 1.3 reports the client certificate's rejection on the first read.
        response.read()


def test_token_alone_is_refused_when_the_subsystem_requires_mtls(tls_gateway: TlsGateway) -> None:
    cert_file, key_file, cert = tls_gateway.pki.issue("shebao-required")
    tls_gateway.register(cert)
    with tls_gateway.exchange.database.session() as db:
        subsystem_client_auth_set(
            db,
            actor=SYSTEM,
            subsystem_id=tls_gateway.subsystem_id,
            require_client_cert=True,
            instance=INSTANCE,
        )
    tls_gateway.gateway.clear_caches()
    try:
        with tls_gateway.client() as client:
            response = tls_gateway.call(client, token=True)
        refused_over_tls(tls_gateway, response, "gateway.cert.required")
        with tls_gateway.client((cert_file, key_file)) as client:
            assert tls_gateway.call(client).status_code == 200
    finally:
        with tls_gateway.exchange.database.session() as db:
            subsystem_client_auth_set(
                db,
                actor=SYSTEM,
                subsystem_id=tls_gateway.subsystem_id,
                require_client_cert=False,
                instance=INSTANCE,
            )
        tls_gateway.gateway.clear_caches()
