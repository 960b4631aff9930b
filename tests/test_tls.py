"""HTTPS sources are verified: a certificate nobody we trust signed is a source error in
``sources status``, and nothing it served is stored; ``[crawl] ca_bundle`` (or
``$SSL_CERT_FILE``) adds a CA to trust. Real crawls, in subprocesses, against a local
HTTPS newsroom whose throwaway CA is made for the test."""

from __future__ import annotations

import ipaddress
import json
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from support.newsroom import Article, Feed, Newsroom
from support.processes import mediawatch_output

from config.load import parse_config
from errors import ConfigError

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Pki:
    ca: Path
    cert: Path
    key: Path


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def make_pki(folder: Path) -> Pki:
    """A throwaway CA and a certificate it signed for 127.0.0.1 and localhost."""
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("mediawatch test CA"))
        .issuer_name(_name("mediawatch test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    pki = Pki(folder / "ca.pem", folder / "server.pem", folder / "server.key")
    pki.ca.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    pki.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pki.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return pki


class HttpsNewsroom(Newsroom):
    """The newsroom on one loopback host, behind TLS with the test CA's certificate."""

    def __init__(self, pki: Pki) -> None:
        super().__init__(hosts=("127.0.0.1",))
        self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.tls.load_cert_chain(pki.cert, pki.key)

    def start(self) -> HttpsNewsroom:
        super().start()
        for server in self._servers:
            server.socket = self.tls.wrap_socket(server.socket, server_side=True)
        return self

    def base(self, host: int = 0) -> str:
        return super().base(host).replace("http://", "https://", 1)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def room(pki: Pki) -> Iterator[HttpsNewsroom]:
    newsroom = HttpsNewsroom(pki).start()
    published = datetime.now(UTC) - timedelta(hours=1)
    articles = [
        Article(
            0,
            f"/news/secure-{i}.html",
            f"Secure story {i}",
            [f"Paragraph {i}. " * 20],
            published=published - timedelta(minutes=i),
        )
        for i in range(3)
    ]
    for article in articles:
        newsroom.add_article(article)
    newsroom.add_feed(Feed(0, "/feed.xml", "rss", "Secure Daily", articles))
    yield newsroom
    newsroom.stop()


def write_config(path: Path, room: Newsroom, crawl: str = "") -> Path:
    db = path.parent / "data" / "mediawatch.db"
    path.write_text(
        f'[storage]\nurl = "sqlite:///{db}"\n\n[crawl]\nallow_private_networks = true\n'
        f'timeout = "5s"\ndelay = "1ms"\nobey_robots = false\n{crawl}\n'
        '[[clusters]]\nname = "Secure"\nterms = ["Secure story"]\n\n'
        f'[[sources]]\nname = "Secure Daily"\nurl = "{room.url("/feed.xml")}"\n',
        encoding="utf-8",
    )
    return path


def mediawatch(config: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    # Without an explicit environment the shell's SSL_CERT_FILE must not decide what is trusted.
    return 0, mediawatch_output(config, *args, env={"SSL_CERT_FILE": None} if env is None else env)


def crawl_and_status(config: Path, env: dict[str, str] | None = None) -> tuple[dict, int]:
    mediawatch(config, "init")
    mediawatch(config, "crawl", "--once", "--format", "json", env=env)
    _, status = mediawatch(config, "sources", "status", "--format", "json")
    _, exported = mediawatch(config, "export", "--format", "jsonl")
    [row] = json.loads(status)
    return row, len(exported.splitlines())


def test_a_certificate_nobody_trusts_is_a_source_error_and_nothing_is_stored(
    tmp_path: Path, room: HttpsNewsroom
) -> None:
    row, stored = crawl_and_status(write_config(tmp_path / "config.toml", room))
    assert row["result"] == "error", row
    assert "certificate" in str(row["error"]).lower(), row
    assert stored == 0
    assert room.article_hits() == 0


def test_ca_bundle_trusts_the_publishers_ca(tmp_path: Path, room: HttpsNewsroom, pki: Pki) -> None:
    config = write_config(tmp_path / "config.toml", room, f'ca_bundle = "{pki.ca}"\n')
    row, stored = crawl_and_status(config)
    assert row["result"] == "ok", row
    assert stored == 3


def test_ssl_cert_file_trusts_the_publishers_ca(
    tmp_path: Path, room: HttpsNewsroom, pki: Pki
) -> None:
    config = write_config(tmp_path / "config.toml", room)
    row, stored = crawl_and_status(config, env={"SSL_CERT_FILE": str(pki.ca)})
    assert row["result"] == "ok", row
    assert stored == 3


def test_a_missing_or_empty_ca_bundle_is_a_config_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty.pem"
    empty.write_text("not a certificate\n", encoding="utf-8")
    for path, problem in ((tmp_path / "nope.pem", "cannot read"), (empty, "no PEM")):
        with pytest.raises(ConfigError, match=f"ca_bundle: .*{problem}"):
            parse_config({"crawl": {"ca_bundle": str(path)}}, environ={})
