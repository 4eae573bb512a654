//! Background work: unpaid orders expire, notices leave the outbox, renewal reminders are queued.

use crate::fault::Error;
use crate::store::{transition, Step, TransitionError};
use crate::{now, State};
use api::{Event, OrderStatus};

/// How long a claim on a notice holds: longer than a run takes (a channel that hangs is tried
/// once per run).
const CLAIM_SECS: i64 = 300;

/// Moves orders still awaiting payment after `payment_ttl_secs` to `payment_expired`. Returns how
/// many expired. A late notice for such an order is refunded (see the notice handler).
pub async fn expire_unpaid(s: &State) -> Result<usize, crate::store::sql::Error> {
    let t = now();
    let cutoff = t - s.config.payment_ttl_secs;
    let numbers =
        s.db.orders_applied_before(OrderStatus::AwaitingPayment.as_str(), cutoff)
            .await?;
    let mut n = 0;
    for number in numbers {
        let mut tx = s.db.begin().await?;
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
                let ended = crate::store::renewals::end_pending_payments(
                    &mut tx,
                    &number,
                    crate::store::renewals::Ended::Expired,
                )
                .await?;
                tx.commit().await?;
                crate::renewal::close_at_provider(s, ended);
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
pub async fn reconcile_payments(s: &State) -> Result<usize, Error> {
    let t = now();
    let due =
        s.db.payments_to_reconcile(
            t - s.config.reconcile_after_secs,
            t - s.config.payment_ttl_secs - 3600,
        )
        .await
        .map_err(|e| Error::Provider(e.to_string()))?;
    let mut n = 0;
    for (id, method) in due {
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
        match crate::renewal::take_payment(s, &paid).await {
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
    let mut queued =
        s.db.claim_notices(t, t + CLAIM_SECS, OUTBOX_BATCH as i64)
            .await?;
    if queued.is_empty() {
        return Ok(0);
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
    s.db.release_notices(&kept, now()).await?;
    Ok(delivered)
}

/// Delivered notices are marked in groups, one transaction each (a transaction per notice cost
/// more than the delivery to a file): a crash between delivery and marking sends up to this many
/// again — at least once, never lost.
const MARK_EVERY: usize = 32;

async fn mark_sent(s: &State, ids: &mut Vec<i64>) -> Result<(), crate::store::sql::Error> {
    s.db.mark_notices_sent(ids, now()).await?;
    ids.clear();
    Ok(())
}

/// Queues renewal reminders for certificates this CA issued that expire within
/// `reminder_days`, to the contacts of the subject's last renewal (once per certificate).
pub async fn queue_reminders(s: &State) -> Result<usize, crate::store::sql::Error> {
    let t = now();
    let expiring =
        s.db.expiring_unreminded(t, t + s.config.reminder_days * 86_400)
            .await?;
    let mut n = 0;
    for (serial, subject, not_after) in expiring {
        // A newer certificate for the same subject means this one was already renewed.
        let newer = s.db.newer_certificate(&subject, not_after).await?;
        let contact = s.db.last_form_of_subject(&subject).await?;
        let mut tx = s.db.begin().await?;
        let first = crate::store::jobs::mark_reminded(&mut tx, &serial, t).await?;
        // Another server may have reminded it since the query above: once per certificate.
        if first && !newer {
            if let Some(form) = contact
                .as_deref()
                .and_then(|j| serde_json::from_str::<api::ApplicationForm>(j).ok())
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
