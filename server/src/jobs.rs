//! Background work: unpaid orders expire, notices leave the outbox, renewal reminders are queued.

use crate::store::{transition, Step, TransitionError};
use crate::{now, State};
use api::{Event, OrderStatus};

// The jobs' queries run on every tick against tables that only grow; each is served by an index
// (migration 0008, tested below).
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
/// How long a claim holds: longer than a run takes (a channel that hangs is tried once per run).
const CLAIM_SECS: i64 = 300;
const EXPIRING: &str = "SELECT serial, subject, not_after FROM certificates WHERE revoked_at IS NULL AND reminded_at IS NULL AND not_after > $1 AND not_after <= $2 LIMIT 500";
/// A newer certificate for the same subject: the expiring one was renewed already.
const NEWER: &str = "SELECT serial FROM certificates WHERE subject = $1 AND not_after > $2 LIMIT 1";
/// The contacts of the subject's last renewal.
const CONTACT: &str =
    "SELECT form_json FROM orders WHERE subject = $1 ORDER BY applied_at DESC LIMIT 1";

/// Moves orders still awaiting payment after `payment_ttl_secs` to `payment_expired`. Returns how
/// many expired. A late notice for such an order is refunded (see the notice handler).
pub async fn expire_unpaid(s: &State) -> Result<usize, crate::store::sql::Error> {
    let t = now();
    let cutoff = t - s.config.payment_ttl_secs;
    let rows = crate::store::sql::query(UNPAID)
        .bind(OrderStatus::AwaitingPayment.as_str())
        .bind(cutoff)
        .fetch_all(&s.db.pool)
        .await?;
    let mut n = 0;
    for r in rows {
        let number: String = r.try_get("number")?;
        let mut tx = s.db.writer.begin().await?;
        let step = Step::new(
            &number,
            OrderStatus::AwaitingPayment,
            Event::Expire,
            "system",
            t,
        )
        .note("payment time limit passed");
        match transition(&mut tx, step).await {
            Ok(_) => {
                let rows = crate::store::sql::query("UPDATE payments SET status = 'expired' WHERE order_number = $1 AND status = 'pending' RETURNING id, method").bind(&number).fetch_all(&mut tx).await?;
                let ended = rows
                    .iter()
                    .map(|r| Ok((r.try_get("id")?, r.try_get("method")?)))
                    .collect::<Result<Vec<_>, crate::store::sql::Error>>()?;
                tx.commit().await?;
                crate::routes::close_at_provider(s, ended);
                n += 1;
                continue;
            }
            // Paid or cancelled meanwhile: nothing to expire.
            Err(TransitionError::Moved { .. }) => {}
            Err(TransitionError::Store(e)) => return Err(e),
            Err(e @ TransitionError::Illegal(_)) => {
                return Err(crate::store::sql::Error::Other(e.to_string()))
            }
        }
        tx.commit().await?;
    }
    Ok(n)
}

/// Reconciliation: asks the provider about payments still pending `reconcile_after_secs` after
/// they were created, and records those it says were paid (their notice was lost). Returns how
/// many were recorded. Bounded per run; the provider's answer goes through the notice checks.
pub async fn reconcile_payments(s: &State) -> Result<usize, String> {
    let t = now();
    let rows = crate::store::sql::query(UNRECONCILED)
        .bind(t - s.config.reconcile_after_secs)
        .bind(t - s.config.payment_ttl_secs - 3600)
        .fetch_all(&s.db.pool)
        .await
        .map_err(|e| e.to_string())?;
    let mut n = 0;
    for r in rows {
        let id: String = r.try_get("id").map_err(|e| e.to_string())?;
        let method: String = r.try_get("method").map_err(|e| e.to_string())?;
        let Some(provider) = s.payments.for_stored(&method) else {
            continue;
        };
        let paid = match provider.query(&id).await {
            Ok(crate::payment::TradeState::Paid(p)) if p.payment_id == id => p,
            Ok(_) => continue,
            Err(e) => {
                tracing::warn!(payment = %id, error = %e, "reconciliation: no answer");
                continue;
            }
        };
        match crate::routes::take_payment(s, &paid).await {
            Ok(()) => {
                tracing::info!(payment = %id, "reconciliation: payment found at the provider");
                n += 1;
            }
            Err(e) => tracing::warn!(payment = %id, error = %e, "reconciliation: answer refused"),
        }
    }
    Ok(n)
}

/// Runs the periodic jobs until the process ends.
pub fn spawn(s: State) {
    spawn_outbox(s.clone());
    crate::refund::spawn(s.clone());
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            tick.tick().await;
            if let Err(e) = crate::challenge::forget_expired(&s.db, now()).await {
                tracing::error!(error = %e, "challenge cleanup failed");
            }
            match expire_unpaid(&s).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(expired = n, "unpaid orders expired"),
                Err(e) => tracing::error!(error = %e, "expiry job failed"),
            }
            match reconcile_payments(&s).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(recorded = n, "payments reconciled"),
                Err(e) => tracing::error!(error = %e, "reconciliation job failed"),
            }
            if let Err(e) = queue_reminders(&s).await {
                tracing::error!(error = %e, "reminder job failed");
            }
        }
    });
}

/// Notices leave on a task of their own, so a slow relay (20 s per attempt) never holds up
/// expiry or reconciliation: woken when notices are queued, after a short pause that lets a
/// burst go out together, and each minute to retry what could not be delivered.
pub fn spawn_outbox(s: State) {
    tokio::spawn(async move {
        loop {
            let full = match deliver_outbox(&s).await {
                Ok(n) => n == OUTBOX_BATCH,
                Err(e) => {
                    tracing::error!(error = %e, "outbox job failed");
                    false
                }
            };
            if !full {
                let _ = tokio::time::timeout(
                    std::time::Duration::from_secs(60),
                    s.outbox_ready.notified(),
                )
                .await;
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
        }
    });
}

/// Notices delivered per run, at most.
const OUTBOX_BATCH: usize = 200;

/// Delivers pending notices: e-mail by SMTP and SMS through the gateway when configured,
/// otherwise to files in `outbox/` in the data directory. A notice that cannot be delivered stays
/// queued for the next run, and so do the run's other notices of its kind (the relay that just
/// failed is not tried 200 times). Returns how many were delivered.
pub async fn deliver_outbox(s: &State) -> Result<usize, crate::store::sql::Error> {
    let t = now();
    let claim = if s.db.writer.is_postgres() {
        CLAIM_NOTICES_PG
    } else {
        CLAIM_NOTICES
    };
    let rows = crate::store::sql::query(claim)
        .bind(t + CLAIM_SECS)
        .bind(t)
        .bind(OUTBOX_BATCH as i64)
        .fetch_all(&s.db.writer)
        .await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let mut queued = Vec::with_capacity(rows.len());
    for r in &rows {
        queued.push((
            r.try_get::<i64>("id")?,
            r.try_get::<String>("kind")?,
            r.try_get::<String>("recipient")?,
            r.try_get::<String>("subject")?,
            r.try_get::<String>("body")?,
        ));
    }
    // RETURNING gives no order; notices leave in the order they were queued.
    queued.sort_unstable_by_key(|q| q.0);
    let (to_file, to_send): (Vec<_>, Vec<_>) = queued
        .iter()
        .map(|(id, kind, to, subject, body)| crate::notify::Notice {
            id: *id,
            kind,
            to,
            subject,
            body,
        })
        .partition(|n| s.notifier.by_file(n.kind));
    let mut delivered = 0;
    let mut sent = Vec::new();
    let mut kept = Vec::new();
    // Those for the file go in one write.
    if !to_file.is_empty() {
        match s.notifier.to_file(&to_file, now()).await {
            Ok(()) => {
                delivered += to_file.len();
                sent.extend(to_file.iter().map(|n| n.id));
            }
            Err(e) => {
                tracing::warn!(count = to_file.len(), error = %e, "notices not written; retried next run");
                kept.extend(to_file.iter().map(|n| n.id));
            }
        }
    }
    let mut failing: Vec<&str> = Vec::new();
    for n in to_send {
        if failing.contains(&n.kind) {
            kept.push(n.id);
            continue;
        }
        let (id, kind, to) = (n.id, n.kind, api::validate::mask(n.to));
        match s.notifier.deliver(&n).await {
            Ok(channel) => {
                tracing::info!(id, kind, channel, to = %to, "notice delivered");
                delivered += 1;
                sent.push(id);
            }
            Err(crate::notify::Undelivered::Notice(e)) => {
                s.metrics.outbox_failures.inc();
                tracing::warn!(id, kind, to = %to, error = %e, "notice not delivered; retried next run");
                kept.push(id);
            }
            Err(crate::notify::Undelivered::Channel(e)) => {
                s.metrics.outbox_failures.inc();
                tracing::warn!(id, kind, to = %to, error = %e, "notice not delivered; it and the rest of its kind are retried next run");
                failing.push(n.kind);
                kept.push(id);
            }
        }
        if sent.len() >= MARK_EVERY {
            mark_sent(s, &mut sent).await?;
        }
    }
    mark_sent(s, &mut sent).await?;
    // Undelivered notices are given back at once, so the next run retries them (any server's).
    stamp_now(s, RELEASE_NOTICE, &kept).await?;
    Ok(delivered)
}

/// Delivered notices are marked in groups, one transaction each (a transaction per notice cost
/// more than the delivery to a file): a crash between delivery and marking sends up to this many
/// again — at least once, never lost.
const MARK_EVERY: usize = 32;

async fn mark_sent(s: &State, ids: &mut Vec<i64>) -> Result<(), crate::store::sql::Error> {
    stamp_now(s, MARK_SENT, ids).await?;
    ids.clear();
    Ok(())
}

/// Runs `sql` ($1 = now, $2 = id) for each of `ids`, in one transaction.
async fn stamp_now(
    s: &State,
    sql: &'static str,
    ids: &[i64],
) -> Result<(), crate::store::sql::Error> {
    if ids.is_empty() {
        return Ok(());
    }
    let t = now();
    let mut tx = s.db.writer.begin().await?;
    for &id in ids {
        crate::store::sql::query(sql)
            .bind(t)
            .bind(id)
            .execute(&mut tx)
            .await?;
    }
    tx.commit().await
}

/// Queues renewal reminders for certificates this CA issued that expire within
/// `reminder_days`, to the contacts of the subject's last renewal (once per certificate).
pub async fn queue_reminders(s: &State) -> Result<usize, crate::store::sql::Error> {
    let t = now();
    let rows = crate::store::sql::query(EXPIRING)
        .bind(t)
        .bind(t + s.config.reminder_days * 86_400)
        .fetch_all(&s.db.pool)
        .await?;
    let mut n = 0;
    for r in rows {
        let serial: String = r.try_get("serial")?;
        let subject: String = r.try_get("subject")?;
        let not_after: i64 = r.try_get("not_after")?;
        // A newer certificate for the same subject means this one was already renewed.
        let newer = crate::store::sql::query(NEWER)
            .bind(&subject)
            .bind(not_after)
            .fetch_optional(&s.db.pool)
            .await?;
        let contact = crate::store::sql::query(CONTACT)
            .bind(&subject)
            .fetch_optional(&s.db.pool)
            .await?;
        let mut tx = s.db.writer.begin().await?;
        let first = crate::store::sql::query(
            "UPDATE certificates SET reminded_at = $1 WHERE serial = $2 AND reminded_at IS NULL",
        )
        .bind(t)
        .bind(&serial)
        .execute(&mut tx)
        .await?
        .rows_affected()
            == 1;
        // Another server may have reminded it since the query above: once per certificate.
        if first && newer.is_none() {
            if let Some(form) = contact
                .and_then(|c| c.try_get::<String>("form_json").ok())
                .and_then(|j| serde_json::from_str::<api::ApplicationForm>(&j).ok())
            {
                let days = (not_after - t) / 86_400;
                let body = format!("您的数字证书（{subject}）将在 {days} 天后到期，请在到期前在线续期。\nYour certificate ({subject}) expires in {days} days; renew it online before then.");
                crate::store::notify_operator(
                    &mut tx,
                    &form,
                    "证书即将到期 / Certificate expiring",
                    &body,
                    t,
                )
                .await?;
                n += 1;
            }
        }
        tx.commit().await?;
    }
    if n > 0 {
        s.outbox_ready.notify_one();
    }
    Ok(n)
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
