//! The background jobs' queries: unpaid orders, payments to reconcile, the outbox, expiring
//! certificates. They run on every tick against tables that only grow; each is served by an
//! index (migration 0008, tested below). The one dialect difference (PostgreSQL's SKIP LOCKED
//! when claiming notices) is here.

use super::sql::{self, Error, Tx};
use super::Store;

const UNPAID: &str = "SELECT number FROM orders WHERE status = $1 AND applied_at < $2 LIMIT 500";
/// Payments to ask the provider about: pending ones past the wait, and for a few hours those
/// closed before any money was seen (paid just before the close, the notice lost).
const UNRECONCILED: &str = "SELECT id, method, created_at FROM payments WHERE status = 'pending' AND created_at <= $1 UNION ALL SELECT id, method, created_at FROM payments WHERE status IN ('closed', 'expired') AND trade_no IS NULL AND created_at > $2 AND created_at <= $1 ORDER BY created_at LIMIT 100";
/// Claims up to $3 pending notices that no server holds, until $1 ($2 is now). The outer
/// condition is checked again on rows another server changed meanwhile; on PostgreSQL rows being
/// claimed by another server are skipped instead of waited for. SQLite has one writer, so its
/// claims never overlap.
const CLAIM_NOTICES: &str = "UPDATE outbox SET claimed_until = $1 WHERE id IN (SELECT id FROM outbox WHERE sent_at IS NULL AND (claimed_until IS NULL OR claimed_until <= $2) ORDER BY id LIMIT $3) AND sent_at IS NULL AND (claimed_until IS NULL OR claimed_until <= $2) RETURNING id, kind, recipient, subject, body";
const CLAIM_NOTICES_PG: &str = "UPDATE outbox SET claimed_until = $1 WHERE id IN (SELECT id FROM outbox WHERE sent_at IS NULL AND (claimed_until IS NULL OR claimed_until <= $2) ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED) AND sent_at IS NULL AND (claimed_until IS NULL OR claimed_until <= $2) RETURNING id, kind, recipient, subject, body";
/// Ends the claim on a notice that was not delivered now, for the next run of any server.
const RELEASE_NOTICE: &str =
    "UPDATE outbox SET claimed_until = $1 WHERE id = $2 AND sent_at IS NULL";
const MARK_SENT: &str = "UPDATE outbox SET sent_at = $1 WHERE id = $2 AND sent_at IS NULL";
const EXPIRING: &str = "SELECT serial, subject, not_after FROM certificates WHERE revoked_at IS NULL AND reminded_at IS NULL AND not_after > $1 AND not_after <= $2 LIMIT 500";
/// A newer certificate for the same subject: the expiring one was renewed already.
const NEWER: &str = "SELECT serial FROM certificates WHERE subject = $1 AND not_after > $2 LIMIT 1";
/// The contacts of the subject's last renewal.
const CONTACT: &str =
    "SELECT form_json FROM orders WHERE subject = $1 ORDER BY applied_at DESC LIMIT 1";

/// A notice claimed for delivery: (id, kind, recipient, subject, body).
pub type ClaimedNotice = (i64, String, String, String, String);

impl Store {
    /// Orders in `status` applied for before `before` (at most 500).
    pub async fn orders_applied_before(
        &self,
        status: &str,
        before: i64,
    ) -> Result<Vec<String>, Error> {
        sql::query(UNPAID)
            .bind(status)
            .bind(before)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| r.try_get("number"))
            .collect()
    }

    /// Payments to ask their provider about: (id, method).
    pub async fn payments_to_reconcile(
        &self,
        pending_before: i64,
        closed_after: i64,
    ) -> Result<Vec<(String, String)>, Error> {
        sql::query(UNRECONCILED)
            .bind(pending_before)
            .bind(closed_after)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("method")?)))
            .collect()
    }

    /// Claims up to `limit` undelivered notices no server holds, until `until`.
    pub async fn claim_notices(
        &self,
        now: i64,
        until: i64,
        limit: i64,
    ) -> Result<Vec<ClaimedNotice>, Error> {
        let claim = if self.writer.is_postgres() {
            CLAIM_NOTICES_PG
        } else {
            CLAIM_NOTICES
        };
        sql::query(claim)
            .bind(until)
            .bind(now)
            .bind(limit)
            .fetch_all(&self.writer)
            .await?
            .iter()
            .map(|r| {
                Ok((
                    r.try_get("id")?,
                    r.try_get("kind")?,
                    r.try_get("recipient")?,
                    r.try_get("subject")?,
                    r.try_get("body")?,
                ))
            })
            .collect()
    }

    /// Marks notices delivered, in one transaction.
    pub async fn mark_notices_sent(&self, ids: &[i64], now: i64) -> Result<(), Error> {
        self.stamp(MARK_SENT, ids, now).await
    }

    /// Gives notices back for the next run (any server's).
    pub async fn release_notices(&self, ids: &[i64], now: i64) -> Result<(), Error> {
        self.stamp(RELEASE_NOTICE, ids, now).await
    }

    /// Runs `text` ($1 = now, $2 = id) for each of `ids`, in one transaction.
    async fn stamp(&self, text: &'static str, ids: &[i64], now: i64) -> Result<(), Error> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut tx = self.writer.begin().await?;
        for &id in ids {
            sql::query(text).bind(now).bind(id).execute(&mut tx).await?;
        }
        tx.commit().await
    }

    /// Certificates ending in `(from, to]` not revoked and not reminded of: (serial, subject,
    /// not_after).
    pub async fn expiring_unreminded(
        &self,
        from: i64,
        to: i64,
    ) -> Result<Vec<(String, String, i64)>, Error> {
        sql::query(EXPIRING)
            .bind(from)
            .bind(to)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                Ok((
                    r.try_get("serial")?,
                    r.try_get("subject")?,
                    r.try_get("not_after")?,
                ))
            })
            .collect()
    }

    /// Whether the subject holds a certificate ending after `not_after` (renewed already).
    pub async fn newer_certificate(&self, subject: &str, not_after: i64) -> Result<bool, Error> {
        Ok(sql::query(NEWER)
            .bind(subject)
            .bind(not_after)
            .fetch_optional(&self.pool)
            .await?
            .is_some())
    }

    /// The form of the subject's last renewal (its contacts).
    pub async fn last_form_of_subject(&self, subject: &str) -> Result<Option<String>, Error> {
        sql::query(CONTACT)
            .bind(subject)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| r.try_get("form_json"))
            .transpose()
    }
}

/// Marks a certificate reminded of; false when another server did first (once per certificate).
pub async fn mark_reminded(tx: &mut Tx, serial: &str, t: i64) -> Result<bool, Error> {
    Ok(sql::query(
        "UPDATE certificates SET reminded_at = $1 WHERE serial = $2 AND reminded_at IS NULL",
    )
    .bind(t)
    .bind(serial)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1)
}

#[cfg(test)]
mod tests {
    /// SQLite's plan for each periodic query reads through indexes; none scans a table.
    #[tokio::test]
    async fn the_periodic_queries_use_indexes() {
        let (_dir, db) = crate::store::test_store().await;
        for q in [
            super::UNPAID,
            super::UNRECONCILED,
            crate::store::refunds::DUE,
            super::CLAIM_NOTICES,
            super::EXPIRING,
            super::NEWER,
            super::CONTACT,
            crate::store::challenges::FORGET,
        ] {
            let mut explain = crate::store::sql::query_owned(format!("EXPLAIN QUERY PLAN {q}"));
            for n in (1..10).take_while(|n| q.contains(&format!("${n}"))) {
                explain = explain.bind(n.to_string());
            }
            let plan = explain.fetch_all(&db.pool).await.unwrap();
            let steps: Vec<String> = plan
                .iter()
                .map(|r| r.try_get::<String>("detail").unwrap())
                .collect();
            // Steps that read a table (SCAN, SEARCH) must go through an index; others
            // ("LIST SUBQUERY 1") only say how the plan is nested.
            let reads: Vec<&String> = steps
                .iter()
                .filter(|d| d.starts_with("SCAN") || d.starts_with("SEARCH"))
                .collect();
            assert!(
                !reads.is_empty() && reads.iter().all(|d| d.contains("USING")),
                "{q}: {steps:?}"
            );
        }
    }
}
