//! Background work: unpaid orders expire, notices leave the outbox, renewal reminders are queued.

use crate::db::transition;
use crate::{now, State};
use api::OrderStatus;

/// Moves orders still awaiting payment after `payment_ttl_secs` to `payment_expired`. Returns how
/// many expired. A late notice for such an order is refunded (see the notice handler).
pub async fn expire_unpaid(s: &State) -> Result<usize, crate::sql::Error> {
    let t = now();
    let cutoff = t - s.config.payment_ttl_secs;
    let rows = crate::sql::query(
        "SELECT number FROM orders WHERE status = $1 AND applied_at < $2 LIMIT 500",
    )
    .bind(OrderStatus::AwaitingPayment.as_str())
    .bind(cutoff)
    .fetch_all(&s.db.pool)
    .await?;
    let mut n = 0;
    for r in rows {
        let number: String = r.try_get("number")?;
        let mut tx = s.db.writer.begin().await?;
        if transition(
            &mut tx,
            &number,
            OrderStatus::AwaitingPayment,
            OrderStatus::PaymentExpired,
            "system",
            "payment time limit passed",
            t,
            crate::db::Also::Nothing,
        )
        .await?
        {
            crate::sql::query("UPDATE payments SET status = 'expired' WHERE order_number = $1 AND status = 'pending'").bind(&number).execute(&mut tx).await?;
            n += 1;
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
    let rows = crate::sql::query("SELECT id FROM payments WHERE status = 'pending' AND created_at <= $1 ORDER BY created_at LIMIT 100")
        .bind(t - s.config.reconcile_after_secs)
        .fetch_all(&s.db.pool)
        .await
        .map_err(|e| e.to_string())?;
    let url = s
        .config
        .provider_query_url
        .clone()
        .unwrap_or_else(|| format!("{}/sandbox/gateway/query", s.config.public_url));
    let mut n = 0;
    for r in rows {
        let id: String = r.try_get("id").map_err(|e| e.to_string())?;
        let mut query = reqwest::Url::parse(&url).map_err(|e| format!("{url}: {e}"))?;
        query.query_pairs_mut().append_pair("out_trade_no", &id);
        let answer = s
            .http
            .get(query)
            .timeout(std::time::Duration::from_secs(10))
            .send()
            .await
            .and_then(|r| r.error_for_status());
        let params: crate::payment::Params = match answer {
            Ok(r) => match r
                .bytes()
                .await
                .map_err(|e| e.to_string())
                .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
            {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(payment = %id, error = %e, "reconciliation: unreadable answer");
                    continue;
                }
            },
            Err(e) => {
                tracing::warn!(payment = %id, error = %e, "reconciliation: provider unreachable");
                continue;
            }
        };
        if params.get("trade_status").map(String::as_str) != Some("TRADE_SUCCESS") {
            continue;
        }
        match crate::routes::handle_notice(s, &params).await {
            Ok(()) => {
                let paid = crate::sql::query("SELECT status FROM payments WHERE id = $1")
                    .bind(&id)
                    .fetch_one(&s.db.pool)
                    .await
                    .map_err(|e| e.to_string())?;
                if paid
                    .try_get::<String>("status")
                    .map_err(|e| e.to_string())?
                    != "pending"
                {
                    tracing::info!(payment = %id, "reconciliation: payment found at the provider");
                    n += 1;
                }
            }
            Err(e) => tracing::warn!(payment = %id, error = %e, "reconciliation: answer refused"),
        }
    }
    Ok(n)
}

/// Runs the periodic jobs until the process ends.
pub fn spawn(s: State) {
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
            if let Err(e) = deliver_outbox(&s).await {
                tracing::error!(error = %e, "outbox job failed");
            }
        }
    });
}

/// Delivers pending notices: e-mail by SMTP and SMS through the gateway when configured,
/// otherwise to files in `outbox/` in the data directory. A notice that cannot be delivered stays
/// queued for the next run. Returns how many were delivered.
pub async fn deliver_outbox(s: &State) -> Result<usize, crate::sql::Error> {
    let rows = crate::sql::query("SELECT id, kind, recipient, subject, body FROM outbox WHERE sent_at IS NULL ORDER BY id LIMIT 200")
        .fetch_all(&s.db.pool)
        .await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let mut n = 0;
    for r in rows {
        let id: i64 = r.try_get("id")?;
        let kind: String = r.try_get("kind")?;
        let to: String = r.try_get("recipient")?;
        let subject: String = r.try_get("subject")?;
        let body: String = r.try_get("body")?;
        let notice = crate::notify::Notice {
            id,
            kind: &kind,
            to: &to,
            subject: &subject,
            body: &body,
        };
        let channel = match s.notifier.deliver(&notice).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(id, kind, to = %api::validate::mask(&to), error = %e, "notice not delivered; retried next run");
                continue;
            }
        };
        crate::sql::query("UPDATE outbox SET sent_at = $1 WHERE id = $2 AND sent_at IS NULL")
            .bind(now())
            .bind(id)
            .execute(&s.db.writer)
            .await?;
        tracing::info!(id, kind, channel, to = %api::validate::mask(&to), "notice delivered");
        n += 1;
    }
    Ok(n)
}

/// Queues renewal reminders for certificates this CA issued that expire within
/// `reminder_days`, to the contacts of the subject's last renewal (once per certificate).
pub async fn queue_reminders(s: &State) -> Result<usize, crate::sql::Error> {
    let t = now();
    let rows = crate::sql::query(
        "SELECT serial, subject, not_after FROM certificates WHERE revoked_at IS NULL AND reminded_at IS NULL AND not_after > $1 AND not_after <= $2 LIMIT 500",
    )
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
        let newer = crate::sql::query(
            "SELECT serial FROM certificates WHERE subject = $1 AND not_after > $2 LIMIT 1",
        )
        .bind(&subject)
        .bind(not_after)
        .fetch_optional(&s.db.pool)
        .await?;
        let contact = crate::sql::query(
            "SELECT form_json FROM orders WHERE subject = $1 ORDER BY applied_at DESC LIMIT 1",
        )
        .bind(&subject)
        .fetch_optional(&s.db.pool)
        .await?;
        let mut tx = s.db.writer.begin().await?;
        crate::sql::query("UPDATE certificates SET reminded_at = $1 WHERE serial = $2")
            .bind(t)
            .bind(&serial)
            .execute(&mut tx)
            .await?;
        if newer.is_none() {
            if let Some(form) = contact
                .and_then(|c| c.try_get::<String>("form_json").ok())
                .and_then(|j| serde_json::from_str::<api::ApplicationForm>(&j).ok())
            {
                let days = (not_after - t) / 86_400;
                let body = format!("您的数字证书（{subject}）将在 {days} 天后到期，请在到期前在线续期。\nYour certificate ({subject}) expires in {days} days; renew it online before then.");
                crate::db::notify_operator(
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
    Ok(n)
}
