"""Temporary credentials the emulator issued (STS, the metadata endpoint, the credentials URI):
an ``STS.`` AccessKey with its secret and token, the account it acts for, and when it expires.
Found by key id, as the authenticator looks them up; kept after expiry, so an expired one is
told apart from an unknown one."""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.emulator.store.database import Database


@dataclass(frozen=True)
class IssuedRecord:
    access_key_id: str
    access_key_secret: str
    security_token: str
    account_key: str  # the AccessKeyId of the account it acts for (the role's account)
    role_arn: str
    session_name: str
    source: str  # who issued it: an STS action, "metadata" or "credentials-uri"
    issued_ms: int
    expires_ms: int


_COLUMNS = (
    "access_key_id, access_key_secret, security_token, account_key, role_arn, session_name,"
    " source, issued_ms, expires_ms"
)


class IssuedCredentials(Database):
    SCHEMA = """
CREATE TABLE IF NOT EXISTS issued_credentials (
    access_key_id TEXT PRIMARY KEY,
    access_key_secret TEXT NOT NULL,
    security_token TEXT NOT NULL,
    account_key TEXT NOT NULL,
    role_arn TEXT NOT NULL,
    session_name TEXT NOT NULL,
    source TEXT NOT NULL,
    issued_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS issued_by_source ON issued_credentials (source, role_arn, issued_ms);
"""

    def add_issued(self, record: IssuedRecord) -> None:
        with self.transaction() as db:
            db.execute(
                f"INSERT INTO issued_credentials ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608 (constant columns)
                (
                    record.access_key_id,
                    record.access_key_secret,
                    record.security_token,
                    record.account_key,
                    record.role_arn,
                    record.session_name,
                    record.source,
                    record.issued_ms,
                    record.expires_ms,
                ),
            )

    def issued(self, access_key_id: str) -> IssuedRecord | None:
        rows = self._query(
            f"SELECT {_COLUMNS} FROM issued_credentials WHERE access_key_id = ?",  # noqa: S608
            (access_key_id,),
        )
        return IssuedRecord(*rows[0]) if rows else None

    def latest_issued(self, source: str, role_arn: str) -> IssuedRecord | None:
        """The newest credential ``source`` issued for the role, or None."""
        rows = self._query(
            f"SELECT {_COLUMNS} FROM issued_credentials"  # noqa: S608
            " WHERE source = ? AND role_arn = ? ORDER BY issued_ms DESC LIMIT 1",
            (source, role_arn),
        )
        return IssuedRecord(*rows[0]) if rows else None
