//! Refunds: queued in the deciding transaction, asked of the provider by the refund job,
//! done when the provider confirms.

use super::sql::{self, Error, Tx};
use super::Store;

/// The provider's idempotency key for a payment's refund: one refund per payment, whatever
/// the number of tries.
pub fn refund_id(payment_id: &str) -> String {
    format!("R{payment_id}")
}

/// A refund whose next try is due.
pub struct Due {
    pub id: String,
    pub payment_id: String,
    pub order_number: String,
    pub amount_fen: i64,
    pub reason: String,
    pub attempts: i64,
    pub method: String,
    pub total_fen: i64,
}

/// The refunds due now (a partial index holds the pending ones).
pub(crate) const DUE: &str = "SELECT r.id, r.payment_id, r.order_number, r.amount_fen, r.reason, r.attempts, p.method, p.amount_fen AS total_fen FROM refunds r JOIN payments p ON p.id = r.payment_id WHERE r.status = 'pending' AND r.next_at <= $1 ORDER BY r.next_at LIMIT $2";

const REFUND_VIEW: &str = "SELECT r.id, r.payment_id, r.order_number, r.amount_fen, r.reason, r.status, r.attempts, r.last_error, r.created_at, r.next_at, p.method, p.trade_no FROM refunds r JOIN payments p ON p.id = r.payment_id";

fn view(r: &sql::Row) -> Result<api::RefundView, Error> {
    Ok(api::RefundView {
        id: r.try_get("id")?,
        payment_id: r.try_get("payment_id")?,
        order_number: r.try_get("order_number")?,
        method: crate::payment::stored_method(&r.try_get::<String>("method")?),
        trade_no: r.try_get::<Option<String>>("trade_no")?.unwrap_or_default(),
        amount_fen: r.try_get("amount_fen")?,
        reason: r.try_get("reason")?,
        status: r.try_get("status")?,
        attempts: r.try_get("attempts")?,
        last_error: r
            .try_get::<Option<String>>("last_error")?
            .unwrap_or_default(),
        created_at: r.try_get("created_at")?,
        next_at: r.try_get("next_at")?,
    })
}

/// Queues the refund of a payment that took money (status `paid`, or a closed one the money
/// came for, which the caller has marked): the payment becomes `refunding`. Repeats queue once.
pub async fn queue(
    tx: &mut Tx,
    payment_id: &str,
    order_number: &str,
    amount_fen: i64,
    reason: &str,
    t: i64,
) -> Result<(), Error> {
    sql::query("UPDATE payments SET status = 'refunding' WHERE id = $1 AND status IN ('paid', 'closed', 'expired')")
        .bind(payment_id)
        .execute(&mut *tx)
        .await?;
    sql::query("INSERT INTO refunds (id, payment_id, order_number, amount_fen, reason, status, created_at, next_at) VALUES ($1, $2, $3, $4, $5, 'pending', $6, $6) ON CONFLICT (payment_id) DO NOTHING")
        .bind(refund_id(payment_id))
        .bind(payment_id)
        .bind(order_number)
        .bind(amount_fen)
        .bind(reason)
        .bind(t)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Queues the refund of an order's paid payment (the order is in `refunding`).
pub async fn queue_order(tx: &mut Tx, number: &str, reason: &str, t: i64) -> Result<(), Error> {
    let paid = sql::query(
        "SELECT id, amount_fen FROM payments WHERE order_number = $1 AND status = 'paid'",
    )
    .bind(number)
    .fetch_all(&mut *tx)
    .await?;
    for r in paid {
        let id: String = r.try_get("id")?;
        queue(tx, &id, number, r.try_get("amount_fen")?, reason, t).await?;
    }
    Ok(())
}

/// A note in the order's audit trail for a change that moves no order status (money returned
/// for a payment the order no longer takes).
pub async fn audit_note(
    tx: &mut Tx,
    number: &str,
    actor: &str,
    note: &str,
    t: i64,
) -> Result<(), Error> {
    sql::query("INSERT INTO audit (order_number, actor, at, from_status, to_status, note) SELECT number, $2, $3, status, status, $4 FROM orders WHERE number = $1")
        .bind(number)
        .bind(actor)
        .bind(t)
        .bind(note)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Marks a refund done; false when it already was (another run confirmed it first).
pub async fn mark_done(tx: &mut Tx, id: &str, t: i64) -> Result<bool, Error> {
    Ok(sql::query(
        "UPDATE refunds SET status = 'done', done_at = $1 WHERE id = $2 AND status <> 'done'",
    )
    .bind(t)
    .bind(id)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1)
}

pub async fn mark_payment_refunded(tx: &mut Tx, payment_id: &str, t: i64) -> Result<(), Error> {
    sql::query("UPDATE payments SET status = 'refunded', refunded_at = $1 WHERE id = $2")
        .bind(t)
        .bind(payment_id)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// How many of the order's refunds are not done, and the order's status.
pub async fn order_refunds_left(tx: &mut Tx, number: &str) -> Result<(i64, String), Error> {
    let left: i64 = sql::query(
        "SELECT COUNT(*) AS n FROM refunds WHERE order_number = $1 AND status <> 'done'",
    )
    .bind(number)
    .fetch_one(&mut *tx)
    .await?
    .try_get("n")?;
    let status: String = sql::query("SELECT status FROM orders WHERE number = $1")
        .bind(number)
        .fetch_one(&mut *tx)
        .await?
        .try_get("status")?;
    Ok((left, status))
}

/// Sets a failed refund going again; its order's number, or None when no failed refund has
/// this id.
pub async fn restart_failed(tx: &mut Tx, id: &str, t: i64) -> Result<Option<String>, Error> {
    sql::query("UPDATE refunds SET status = 'pending', attempts = 0, next_at = $1 WHERE id = $2 AND status = 'failed' RETURNING order_number")
        .bind(t)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .map(|r| r.try_get("order_number"))
        .transpose()
}

impl Store {
    /// Up to `limit` refunds due at `t`, the most overdue first.
    pub async fn due_refunds(&self, t: i64, limit: i64) -> Result<Vec<Due>, Error> {
        sql::query(DUE)
            .bind(t)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                Ok(Due {
                    id: r.try_get("id")?,
                    payment_id: r.try_get("payment_id")?,
                    order_number: r.try_get("order_number")?,
                    amount_fen: r.try_get("amount_fen")?,
                    reason: r.try_get("reason")?,
                    attempts: r.try_get("attempts")?,
                    method: r.try_get("method")?,
                    total_fen: r.try_get("total_fen")?,
                })
            })
            .collect()
    }

    /// The next try of a pending refund (or `failed`, for a person).
    pub async fn reschedule_refund(
        &self,
        id: &str,
        attempts: i64,
        next_at: i64,
        why: &str,
        status: &str,
    ) -> Result<(), Error> {
        sql::query("UPDATE refunds SET attempts = $1, next_at = $2, last_error = $3, status = $4 WHERE id = $5 AND status = 'pending'")
            .bind(attempts)
            .bind(next_at)
            .bind(why)
            .bind(status)
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// A pending refund asked about at `t` rather than at its backoff.
    pub async fn refund_due_at(&self, id: &str, t: i64) -> Result<(), Error> {
        sql::query("UPDATE refunds SET next_at = $1 WHERE id = $2 AND status = 'pending'")
            .bind(t)
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// The refunds in progress and the failed ones, oldest first.
    pub async fn open_refunds(&self) -> Result<Vec<api::RefundView>, Error> {
        sql::query_owned(format!(
            "{REFUND_VIEW} WHERE r.status IN ('pending', 'failed') ORDER BY r.created_at LIMIT 200"
        ))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(view)
        .collect()
    }

    /// Every refund of one order, whatever its state.
    pub async fn refunds_of(&self, number: &str) -> Result<Vec<api::RefundView>, Error> {
        sql::query_owned(format!(
            "{REFUND_VIEW} WHERE r.order_number = $1 ORDER BY r.created_at"
        ))
        .bind(number)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(view)
        .collect()
    }

    /// When the next pending refund is due (None: none is pending).
    pub async fn next_refund_due(&self) -> Result<Option<i64>, Error> {
        sql::query("SELECT MIN(next_at) AS next FROM refunds WHERE status = 'pending'")
            .fetch_one(&self.pool)
            .await?
            .try_get("next")
    }
}
