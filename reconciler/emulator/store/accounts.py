"""Accounts: AccessKeys (one key per account here) and the STS tokens issued to them."""

from __future__ import annotations

from collections.abc import Iterable

from reconciler.emulator.store.database import Database


class Accounts(Database):
    SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    access_key_id TEXT PRIMARY KEY,
    access_key_secret TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sts_tokens (
    token TEXT NOT NULL,
    access_key_id TEXT NOT NULL,
    expires_ms INTEGER,
    PRIMARY KEY (access_key_id, token)
);
"""

    def add_account(
        self,
        access_key_id: str,
        access_key_secret: str,
        *,
        sts_tokens: Iterable[str | tuple[str, int | None]] = (),
    ) -> None:
        """Accept this AccessKey (replacing its secret); a token is a str or (token, expires_ms)."""
        if not access_key_id or not access_key_secret:
            raise ValueError("an account needs a non-empty access key id and secret")
        with self.transaction() as db:
            db.execute(
                "INSERT INTO accounts VALUES (?, ?) ON CONFLICT (access_key_id)"
                " DO UPDATE SET access_key_secret = excluded.access_key_secret",
                (access_key_id, access_key_secret),
            )
            for entry in sts_tokens:
                token, expires = (entry, None) if isinstance(entry, str) else entry
                db.execute(
                    "INSERT OR REPLACE INTO sts_tokens VALUES (?, ?, ?)",
                    (token, access_key_id, expires),
                )

    def account_secret(self, access_key_id: str) -> str | None:
        rows = self._query(
            "SELECT access_key_secret FROM accounts WHERE access_key_id = ?", (access_key_id,)
        )
        return str(rows[0][0]) if rows else None

    def account_ids(self) -> list[str]:
        return [str(row[0]) for row in self._query("SELECT access_key_id FROM accounts ORDER BY 1")]

    def sts_tokens(self, access_key_id: str) -> dict[str, int | None]:
        """The account's STS tokens and their expiry (ms epoch, None = never)."""
        rows = self._query(
            "SELECT token, expires_ms FROM sts_tokens WHERE access_key_id = ?", (access_key_id,)
        )
        return {token: exp for token, exp in rows}
