"""TLS pieces for the infra tests: certificates made with `cryptography`, and a throwaway PostgreSQL serving TLS on
127.0.0.1 and 127.0.0.2 with a certificate that names 127.0.0.1 and localhost only (from a CA made here)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from scripts.pgcluster import Cluster

NOW = dt.datetime.now(dt.UTC)


def certificate(
    *, name: str, organization: str, unit: str, ca: bool, not_after: dt.datetime
) -> tuple[bytes, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM), key


def ca(name: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    pem, key = certificate(
        name=name, organization="mcpstack tests", unit="tls", ca=True, not_after=NOW + dt.timedelta(days=2)
    )
    return x509.load_pem_x509_certificate(pem), key


def server_certificate(ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


@dataclass(frozen=True, kw_only=True)
class TlsCluster:
    cluster: Cluster
    right_ca: Path
    wrong_ca: Path


def tls_cluster() -> Iterator[TlsCluster]:
    """A throwaway cluster serving TLS on 127.0.0.1 and 127.0.0.2 with a certificate naming 127.0.0.1 and
    localhost, from a CA made here; yields it, the right CA's file and another CA's file."""
    root = Path(tempfile.mkdtemp(prefix="mcpstack-test-pgtls-", dir="/tmp"))
    root.chmod(0o755)
    cluster = Cluster(root / "pg")
    cluster.init()
    authority, authority_key = ca("mcpstack test CA")
    other, _ = ca("mcpstack other CA")
    cert_pem, key_pem = server_certificate(authority, authority_key)
    cert_file, key_file = cluster.data_dir / "server.crt", cluster.data_dir / "server.key"
    cert_file.write_bytes(cert_pem)
    key_file.write_bytes(key_pem)
    key_file.chmod(0o600)
    cluster._own(cert_file, key_file)
    with (cluster.data_dir / "postgresql.conf").open("a", encoding="utf-8") as conf:
        conf.write(
            "listen_addresses = '127.0.0.1,127.0.0.2'\nssl = on\n"
            f"ssl_cert_file = '{cert_file}'\nssl_key_file = '{key_file}'\n"
        )
    right, wrong = root / "right-ca.pem", root / "wrong-ca.pem"
    right.write_bytes(authority.public_bytes(serialization.Encoding.PEM))
    wrong.write_bytes(other.public_bytes(serialization.Encoding.PEM))
    cluster.start()
    try:
        yield TlsCluster(cluster=cluster, right_ca=right, wrong_ca=wrong)
    finally:
        cluster.destroy()
        shutil.rmtree(root, ignore_errors=True)
