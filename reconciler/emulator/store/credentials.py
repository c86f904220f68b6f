"""Device credentials (DeviceCredential mode): one AccessKey per device, bound to its
instance and ClientId, found by its key id."""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.emulator.store.database import Database, now_ms


@dataclass(frozen=True)
class DeviceCredentialRecord:
    instance_id: str
    client_id: str
    access_key_id: str
    access_key_secret: str
    create_time: int
    update_time: int


class DeviceCredentials(Database):
    SCHEMA = """
-- DeviceCredential mode: one credential per device (instance and ClientId), found by its key id.
CREATE TABLE IF NOT EXISTS device_credentials (
    instance_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    access_key_id TEXT NOT NULL UNIQUE,
    access_key_secret TEXT NOT NULL,
    create_time INTEGER NOT NULL,
    update_time INTEGER NOT NULL,
    PRIMARY KEY (instance_id, client_id)
);
"""

    def put_device_credential(
        self, instance_id: str, client_id: str, access_key_id: str, access_key_secret: str
    ) -> DeviceCredentialRecord:
        """Issue the device's credential, replacing any earlier one (a device holds one)."""
        at = now_ms()
        with self.transaction() as db:
            self._require_instance(db, instance_id)
            db.execute(
                "INSERT OR REPLACE INTO device_credentials VALUES (?, ?, ?, ?, ?, ?)",
                (instance_id, client_id, access_key_id, access_key_secret, at, at),
            )
        return DeviceCredentialRecord(
            instance_id, client_id, access_key_id, access_key_secret, at, at
        )

    def device_credential(self, instance_id: str, client_id: str) -> DeviceCredentialRecord | None:
        rows = self._query(
            "SELECT instance_id, client_id, access_key_id, access_key_secret, create_time,"
            " update_time FROM device_credentials WHERE instance_id = ? AND client_id = ?",
            (instance_id, client_id),
        )
        return DeviceCredentialRecord(*rows[0]) if rows else None

    def replace_device_secret(
        self, instance_id: str, client_id: str, access_key_secret: str
    ) -> DeviceCredentialRecord | None:
        """Give the device's credential a new secret (same key id); None when it has none."""
        with self.transaction() as db:
            db.execute(
                "UPDATE device_credentials SET access_key_secret = ?, update_time = ?"
                " WHERE instance_id = ? AND client_id = ?",
                (access_key_secret, now_ms(), instance_id, client_id),
            )
            return self.device_credential(instance_id, client_id)

    def remove_device_credential(self, instance_id: str, client_id: str) -> bool:
        with self.transaction() as db:
            cursor = db.execute(
                "DELETE FROM device_credentials WHERE instance_id = ? AND client_id = ?",
                (instance_id, client_id),
            )
            return cursor.rowcount == 1

    def device_credential_secret(
        self, access_key_id: str, instance_id: str, client_id: str
    ) -> str | None:
        """The secret of this key id when it is the credential of this device on this
        instance (the MQTT listener's DeviceCredential look-up)."""
        rows = self._query(
            "SELECT access_key_secret FROM device_credentials"
            " WHERE access_key_id = ? AND instance_id = ? AND client_id = ?",
            (access_key_id, instance_id, client_id),
        )
        return str(rows[0][0]) if rows else None
