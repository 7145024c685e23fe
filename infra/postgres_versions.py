"""The PostgreSQL major versions a stage may run on RDS, with their support dates, and the check of a stage's choice.

Dates from the "Release calendar for Amazon RDS for PostgreSQL" (Amazon RDS for PostgreSQL release notes,
https://docs.aws.amazon.com/AmazonRDS/latest/PostgreSQLReleaseNotes/postgresql-release-calendar.html) and the
PostgreSQL project's versioning policy (https://www.postgresql.org/support/versioning/). After the RDS end of standard
support, RDS enrols the instance in Extended Support, which is billed per vCPU-hour: a stage must move to a newer
major version before that date (`docs/deploy.md`, "Database"). Minor versions are not listed: minor upgrades are on
(`auto_minor_version_upgrade`), so RDS applies them in the maintenance window and the configured full version is only
what a new instance starts from. No aws_cdk import and no clock: the caller passes the date.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final

from infra.config import StageConfigError


class PostgresVersionError(StageConfigError):
    """A configured PostgreSQL version the table does not list, or past its end of standard support."""


@dataclass(frozen=True, kw_only=True)
class PostgresMajor:
    major: str
    community_end_of_life: dt.date
    rds_end_of_standard_support: dt.date


POSTGRES_MAJORS: Final[dict[str, PostgresMajor]] = {
    v.major: v
    for v in (
        PostgresMajor(
            major="15",
            community_end_of_life=dt.date(2027, 11, 11),
            rds_end_of_standard_support=dt.date(2028, 2, 29),
        ),
        PostgresMajor(
            major="16",
            community_end_of_life=dt.date(2028, 11, 9),
            rds_end_of_standard_support=dt.date(2029, 2, 28),
        ),
        PostgresMajor(
            major="17",
            community_end_of_life=dt.date(2029, 11, 8),
            rds_end_of_standard_support=dt.date(2030, 2, 28),
        ),
    )
}


def postgres_major(full_version: str) -> PostgresMajor:
    """The table's entry for a full version such as "17.9"; one line when the version is malformed or unlisted."""
    major, dot, minor = full_version.partition(".")
    if not (dot and major.isdigit() and minor.isdigit()):
        raise PostgresVersionError(f"PostgreSQL version {full_version!r} is not a full major.minor version")
    try:
        return POSTGRES_MAJORS[major]
    except KeyError:
        listed = ", ".join(sorted(POSTGRES_MAJORS))
        raise PostgresVersionError(
            f"PostgreSQL {full_version}: major version {major} is not in infra/postgres_versions.py (listed: {listed})"
        ) from None


def check_postgres_version(full_version: str, *, today: dt.date) -> PostgresMajor:
    """The version's major, which must still be in RDS standard support on `today`."""
    entry = postgres_major(full_version)
    if today >= entry.rds_end_of_standard_support:
        raise PostgresVersionError(
            f"PostgreSQL {entry.major} left RDS standard support on {entry.rds_end_of_standard_support.isoformat()} "
            "(Extended Support is billed): choose a newer major version"
        )
    return entry
