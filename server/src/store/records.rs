//! Certificates recorded and revoked, and order counts: what the CRL, the demo, the backups and
//! `certrenew check` read or write directly.

use super::sql::{self, Error};
use super::Store;

/// The newest order whose installation was confirmed (backups name it in their manifest).
pub(crate) const LAST_INSTALLED: &str =
    "SELECT number FROM orders WHERE installed_at IS NOT NULL ORDER BY installed_at DESC, number DESC LIMIT 1";

impl Store {
    /// Records a certificate this CA issued outside a renewal (the demo's).
    pub async fn record_certificate(
        &self,
        serial: &str,
        subject: &str,
        not_after: i64,
        der: &[u8],
    ) -> Result<(), Error> {
        sql::query(
            "INSERT INTO certificates (serial, subject, not_after, der) VALUES ($1, $2, $3, $4)",
        )
        .bind(serial)
        .bind(subject)
        .bind(not_after)
        .bind(der.to_vec())
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Every revoked certificate: (serial, when, reason code), oldest revocation first.
    pub async fn revocations(&self) -> Result<Vec<(String, i64, Option<i64>)>, Error> {
        sql::query("SELECT serial, revoked_at, revocation_reason FROM certificates WHERE revoked_at IS NOT NULL ORDER BY revoked_at, serial")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| Ok((r.try_get("serial")?, r.try_get("revoked_at")?, r.try_get("revocation_reason")?)))
            .collect()
    }

    pub async fn order_count(&self) -> Result<i64, Error> {
        sql::query("SELECT COUNT(*) AS n FROM orders")
            .fetch_one(&self.pool)
            .await?
            .try_get("n")
    }

    /// The newest order whose installation was confirmed.
    pub async fn last_installed(&self) -> Result<Option<String>, Error> {
        sql::query(LAST_INSTALLED)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| r.try_get("number"))
            .transpose()
    }
}

/// The same counts read from a SQLite database file directly (a backup, before it is restored).
pub fn counts_in_sqlite_file(
    db: &std::path::Path,
) -> Result<(i64, Option<String>), crate::fault::Error> {
    let e = |e: rusqlite::Error| crate::fault::Error::Store(format!("{}: {e}", db.display()));
    let c = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(e)?;
    let n = c
        .query_row("SELECT COUNT(*) FROM orders", [], |r| r.get(0))
        .map_err(e)?;
    let last = match c.query_row(LAST_INSTALLED, [], |r| r.get(0)) {
        Ok(v) => Some(v),
        Err(rusqlite::Error::QueryReturnedNoRows) => None,
        Err(err) => return Err(e(err)),
    };
    Ok((n, last))
}
