//! Background work: unpaid orders expire after the payment time limit.

use crate::db::transition;
use crate::{now, State};
use api::OrderStatus;
use sqlx::Row;

/// Moves orders still awaiting payment after `payment_ttl_secs` to `payment_expired`. Returns how
/// many expired. A late notice for such an order is refunded (see the notice handler).
pub async fn expire_unpaid(s: &State) -> Result<usize, sqlx::Error> {
    let t = now();
    let cutoff = t - s.config.payment_ttl_secs;
    let rows =
        sqlx::query("SELECT number FROM orders WHERE status = $1 AND applied_at < $2 LIMIT 500")
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
        )
        .await?
        {
            sqlx::query("UPDATE payments SET status = 'expired' WHERE order_number = $1 AND status = 'pending'").bind(&number).execute(&mut *tx).await?;
            n += 1;
        }
        tx.commit().await?;
    }
    Ok(n)
}

/// Runs the periodic jobs until the process ends.
pub fn spawn(s: State) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            tick.tick().await;
            match expire_unpaid(&s).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(expired = n, "unpaid orders expired"),
                Err(e) => tracing::error!(error = %e, "expiry job failed"),
            }
        }
    });
}
