"""The Amazon RDS certificate bundle the servers and the database-roles custom resource verify PostgreSQL against
(`sslmode=verify-full`), vendored in the repository and pinned by its SHA-256.

`infra/certs/rds-global-bundle.pem` is the RDS "global bundle" (every region's root CAs: RSA2048, RSA4096 and ECC384
G1, plus the Beta/Preview endpoints'), as AWS publishes it for download ("Using SSL/TLS to encrypt a connection to a
DB instance or cluster", Amazon RDS User Guide). It could not be downloaded from AWS where it was vendored, so it was
taken from public repositories that commit it, and only because independent copies agree: docs/deploy.md, "Database",
says which, and how to replace it. Every synth checks the pin (`bundle_path`), so an edited file stops the synth with
one line; `check_certificates` is what a replacement must pass (the tests run it).

No aws_cdk import here: the bootstrap tests and the custom resource's packaging read these names cheaply.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final

BUNDLE_PATH: Final = Path(__file__).resolve().parent / "certs" / "rds-global-bundle.pem"
BUNDLE_SHA256: Final = "05c6b4a9bf4daa95c888711481e19cc8e2e11aed4de8db759f51f4a6fce64917"
# Where cfn-init puts the bundle on an instance (the bootstrap's --db-ca-bundle), and its name in the Lambda asset.
INSTANCE_BUNDLE_PATH: Final = "/opt/mcpstack/rds-ca-bundle.pem"
BUNDLE_FILE_NAME: Final = "rds-ca-bundle.pem"
# RDS Proxy presents a certificate from Amazon Trust Services (ACM), not from the RDS CAs: with a proxy the clients
# verify against the operating system's trust store, which holds the Amazon Root CAs (Amazon Linux 2023's path).
SYSTEM_TRUST_STORE: Final = "/etc/pki/tls/certs/ca-bundle.crt"

EXPECTED_ORGANIZATION: Final = "Amazon Web Services, Inc."
EXPECTED_UNIT: Final = "Amazon RDS"


class BundleError(ValueError):
    """The vendored bundle is not the pinned one, or a certificate in it is not an Amazon RDS root CA."""


def bundle_path(path: Path = BUNDLE_PATH, *, sha256: str = BUNDLE_SHA256) -> Path:
    """`path`, after checking its bytes against the pin."""
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as ex:
        raise BundleError(f"RDS CA bundle {path} is not readable ({ex.strerror})") from ex
    if digest != sha256:
        raise BundleError(f"RDS CA bundle {path} has SHA-256 {digest}, the pin in infra/rds_ca.py is {sha256}")
    return path


@dataclass(frozen=True, kw_only=True)
class RootCa:
    common_name: str
    not_before: datetime
    not_after: datetime


def check_certificates(pem: bytes, *, at: datetime) -> list[RootCa]:
    """Every certificate in `pem` is a self-signed CA of Amazon RDS (organisation and unit), its signature verifies
    with its own key, and it is valid at `at`; returns them, or raises `BundleError` naming the first that is not."""
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.x509.oid import NameOID

    try:
        certificates = x509.load_pem_x509_certificates(pem)
    except ValueError as ex:
        raise BundleError(f"not a PEM certificate bundle ({ex})") from ex
    roots = []
    for cert in certificates:
        names = {
            "CN": cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME),
            "O": cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME),
            "OU": cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME),
        }
        subject = cert.subject.rfc4514_string()
        if [a.value for a in names["O"]] != [EXPECTED_ORGANIZATION] or [a.value for a in names["OU"]] != [
            EXPECTED_UNIT
        ]:
            raise BundleError(f"{subject} is not an Amazon RDS certificate")
        common_name = str(names["CN"][0].value) if names["CN"] else ""
        if not common_name.startswith("Amazon RDS "):
            raise BundleError(f"{subject} is not named as an Amazon RDS CA")
        try:
            constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
            usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        except x509.ExtensionNotFound as ex:
            raise BundleError(f"{subject} lacks {ex.oid._name}") from ex
        if not constraints.ca or not usage.key_cert_sign:
            raise BundleError(f"{subject} is not a CA certificate")
        if cert.subject != cert.issuer:
            raise BundleError(f"{subject} is not self-signed (issuer {cert.issuer.rfc4514_string()})")
        try:
            cert.verify_directly_issued_by(cert)
        except (ValueError, TypeError, InvalidSignature) as ex:
            raise BundleError(f"{subject}: its signature does not verify with its own key") from ex
        if not cert.not_valid_before_utc <= at <= cert.not_valid_after_utc:
            raise BundleError(
                f"{subject} is not valid at {at:%Y-%m-%d} ({cert.not_valid_before_utc:%Y-%m-%d} to "
                f"{cert.not_valid_after_utc:%Y-%m-%d})"
            )
        roots.append(
            RootCa(common_name=common_name, not_before=cert.not_valid_before_utc, not_after=cert.not_valid_after_utc)
        )
    if not roots:
        raise BundleError("the bundle holds no certificate")
    return roots
