"""`sslmode=verify-full` against the RDS CA bundle: the vendored bundle matches its pin and holds only Amazon RDS root
CAs valid today; the bootstrap writes every DATABASE_URL with sslmode=verify-full and sslrootcert; and asyncpg, given
such a URL, connects to a real PostgreSQL serving TLS (a certificate for 127.0.0.1/localhost from a CA made here) with
the right CA and host, and refuses a wrong CA and a wrong host name.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import ssl
from pathlib import Path

import asyncpg
import pytest

from infra.bootstrap.bootstrap import Settings, database_url
from infra.config import PINNED_AMIS
from infra.rds_ca import BUNDLE_PATH, BUNDLE_SHA256, BundleError, bundle_path, check_certificates
from scripts.pgcluster import DB_NAME, DB_USER, Cluster
from tests.infra.tls_support import NOW, TlsCluster, certificate

# --- the vendored bundle -------------------------------------------------------------------------------------------


def test_vendored_bundle_matches_its_pinned_sha256() -> None:
    assert bundle_path() == BUNDLE_PATH
    import hashlib

    assert hashlib.sha256(BUNDLE_PATH.read_bytes()).hexdigest() == BUNDLE_SHA256


def test_a_changed_bundle_stops_with_one_line_naming_both_digests(tmp_path: Path) -> None:
    changed = tmp_path / "bundle.pem"
    changed.write_bytes(BUNDLE_PATH.read_bytes().replace(b"\n", b"\r\n", 1))
    with pytest.raises(BundleError) as caught:
        bundle_path(changed)
    message = str(caught.value)
    assert "\n" not in message and BUNDLE_SHA256 in message and "infra/rds_ca.py" in message


def test_every_certificate_is_a_self_signed_amazon_rds_ca_valid_today() -> None:
    roots = check_certificates(BUNDLE_PATH.read_bytes(), at=NOW)
    names = {root.common_name for root in roots}
    assert len(names) == len(roots) > 0
    # Every region the stages can deploy to has its three G1 roots (RSA2048, RSA4096, ECC384).
    for region in PINNED_AMIS:
        for kind in ("RSA2048", "RSA4096", "ECC384"):
            assert f"Amazon RDS {region} Root CA {kind} G1" in names


@pytest.mark.parametrize(
    ("overrides", "complaint"),
    [
        ({"organization": "Example Corp"}, "is not an Amazon RDS certificate"),
        ({"name": "Some Root CA"}, "is not named as an Amazon RDS CA"),
        ({"ca": False}, "is not a CA certificate"),
        ({"not_after": NOW - dt.timedelta(hours=1)}, "is not valid at"),
    ],
)
def test_a_certificate_that_is_not_a_valid_rds_root_is_refused(overrides: dict[str, object], complaint: str) -> None:
    values: dict[str, object] = {
        "name": "Amazon RDS test Root CA",
        "organization": "Amazon Web Services, Inc.",
        "unit": "Amazon RDS",
        "ca": True,
        "not_after": NOW + dt.timedelta(days=30),
    }
    pem, _ = certificate(**{**values, **overrides})  # type: ignore[arg-type]
    assert check_certificates(certificate(**values)[0], at=NOW)  # type: ignore[arg-type]
    with pytest.raises(BundleError, match=complaint):
        check_certificates(BUNDLE_PATH.read_bytes() + pem, at=NOW)


# --- the bootstrap's URLs ------------------------------------------------------------------------------------------

SECRET = json.dumps(
    {"username": "mcpstack_app", "password": "p@ss", "host": "db.example", "port": 5432, "dbname": "mcpstack"}
)


def test_database_url_with_a_bundle_requires_verify_full_against_it() -> None:
    url = database_url(SECRET, ca_bundle="/opt/mcpstack/rds-ca-bundle.pem")
    assert url == (
        "postgresql://mcpstack_app:p%40ss@db.example:5432/mcpstack"
        "?sslmode=verify-full&sslrootcert=/opt/mcpstack/rds-ca-bundle.pem"
    )
    assert "sslmode" not in database_url(SECRET)


def test_database_url_on_a_socket_keeps_host_and_port_beside_the_tls_settings() -> None:
    socket_secret = json.loads(SECRET) | {"host": "/run/pg"}
    url = database_url(json.dumps(socket_secret), ca_bundle="/ca.pem")
    assert url.endswith("?host=%2Frun%2Fpg&port=5432&sslmode=verify-full&sslrootcert=/ca.pem")


def test_ca_bundle_flag_reaches_the_settings() -> None:
    from infra.bootstrap.bootstrap import parse_args

    common = [
        "--stage=dev",
        "--color=blue",
        "--server=native",
        "--release=r",
        "--release-dir=/r",
        "--prefix=/p",
        "--region=us-east-1",
        "--log-group=/g",
        "--metrics-log-group=/m",
    ]
    settings: Settings = parse_args([*common, "--db-ca-bundle=/opt/mcpstack/rds-ca-bundle.pem"])
    assert settings.db_ca_bundle == "/opt/mcpstack/rds-ca-bundle.pem"
    assert settings.secret_id is None and parse_args(common).db_ca_bundle is None


# --- a real PostgreSQL serving TLS ---------------------------------------------------------------------------------


def _url(cluster: Cluster, *, host: str, ca: Path) -> str:
    secret = {"username": DB_USER, "password": "", "host": host, "port": cluster.port, "dbname": DB_NAME}
    return database_url(json.dumps(secret), ca_bundle=str(ca))


async def _ssl_in_use(url: str) -> bool:
    conn = await asyncpg.connect(url, timeout=10)
    try:
        return bool(await conn.fetchval("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"))
    finally:
        await conn.close()


def test_verify_full_connects_over_tls_with_the_right_ca_and_host(tls_cluster: TlsCluster) -> None:
    cluster, right = tls_cluster.cluster, tls_cluster.right_ca
    assert asyncio.run(_ssl_in_use(_url(cluster, host="127.0.0.1", ca=right))) is True


def test_verify_full_refuses_a_server_whose_certificate_another_ca_signed(
    tls_cluster: TlsCluster,
) -> None:
    cluster, wrong = tls_cluster.cluster, tls_cluster.wrong_ca
    with pytest.raises(ssl.SSLCertVerificationError) as caught:
        asyncio.run(_ssl_in_use(_url(cluster, host="127.0.0.1", ca=wrong)))
    assert caught.value.verify_message == "unable to get local issuer certificate"


def test_verify_full_refuses_a_host_the_certificate_does_not_name(tls_cluster: TlsCluster) -> None:
    cluster, right = tls_cluster.cluster, tls_cluster.right_ca
    # The same server (every 127/8 address is loopback), reached by an address its certificate does not name.
    with pytest.raises(ssl.SSLCertVerificationError) as caught:
        asyncio.run(_ssl_in_use(_url(cluster, host="127.0.0.2", ca=right)))
    assert "IP address mismatch" in caught.value.verify_message
