//! Refunds for real: money taken and owed back (a cancel after payment, a rejection, a
//! revocation, money for a closed payment) is queued in the same transaction as the decision,
//! then asked of the provider by a job — idempotently, under a key of ours — until the provider
//! confirms. Only then is the payment `refunded`, and the order with it.

use crate::store::sql::{self, Tx};
use crate::store::Step;
use crate::{now, State};
use api::{Event, OrderStatus};

/// Attempts before a refund is left to a person (`failed`, listed in the review console).
pub const MAX_ATTEMPTS: i64 = 16;

/// The provider's idempotency key for a payment's refund: one refund per payment, whatever
/// the number of tries.
pub fn refund_id(payment_id: &str) -> String {
    format!("R{payment_id}")
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
) -> Result<(), sql::Error> {
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
pub async fn queue_order(
    tx: &mut Tx,
    number: &str,
    reason: &str,
    t: i64,
) -> Result<(), sql::Error> {
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
) -> Result<(), sql::Error> {
    sql::query("INSERT INTO audit (order_number, actor, at, from_status, to_status, note) SELECT number, $2, $3, status, status, $4 FROM orders WHERE number = $1")
        .bind(number)
        .bind(actor)
        .bind(t)
        .bind(note)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

struct Due {
    id: String,
    payment_id: String,
    order_number: String,
    amount_fen: i64,
    reason: String,
    attempts: i64,
    method: String,
    total_fen: i64,
}

/// The refunds due now (a partial index holds the pending ones).
pub(crate) const DUE: &str = "SELECT r.id, r.payment_id, r.order_number, r.amount_fen, r.reason, r.attempts, p.method, p.amount_fen AS total_fen FROM refunds r JOIN payments p ON p.id = r.payment_id WHERE r.status = 'pending' AND r.next_at <= $1 ORDER BY r.next_at LIMIT $2";

/// Refunds asked per run, at most.
const BATCH: i64 = 50;

/// Asks the provider for each refund that is due; returns how many completed.
pub async fn run(s: &State) -> Result<usize, sql::Error> {
    let t = now();
    let rows = sql::query(DUE)
        .bind(t)
        .bind(BATCH)
        .fetch_all(&s.db.pool)
        .await?;
    let mut done = 0;
    for r in rows {
        let due = Due {
            id: r.try_get("id")?,
            payment_id: r.try_get("payment_id")?,
            order_number: r.try_get("order_number")?,
            amount_fen: r.try_get("amount_fen")?,
            reason: r.try_get("reason")?,
            attempts: r.try_get("attempts")?,
            method: r.try_get("method")?,
            total_fen: r.try_get("total_fen")?,
        };
        if attempt(s, &due).await? {
            done += 1;
        }
    }
    Ok(done)
}

/// One try at one refund; true when the provider confirmed it.
async fn attempt(s: &State, d: &Due) -> Result<bool, sql::Error> {
    let Some(provider) = s.payments.for_stored(&d.method) else {
        return retry(s, d, "no provider is set up for this payment's method")
            .await
            .map(|_| false);
    };
    let req = crate::payment::RefundRequest {
        id: &d.id,
        payment_id: &d.payment_id,
        amount_fen: d.amount_fen,
        total_fen: d.total_fen,
        reason: &d.reason,
    };
    use crate::payment::RefundState;
    // A refund asked before may have gone through even if its answer was lost: ask about it
    // first, then (if the provider has none) for it; the key makes a repeat harmless anyway.
    let state = match provider.query_refund(&req).await {
        Ok(RefundState::NotFound) => provider.refund(&req).await,
        other => other,
    };
    match state {
        Ok(RefundState::Done) => {
            complete(s, d).await?;
            Ok(true)
        }
        Ok(RefundState::Processing | RefundState::NotFound) => {
            retry(s, d, "the provider has not finished the refund").await?;
            Ok(false)
        }
        Err(e) => {
            retry(s, d, &e.to_string()).await?;
            Ok(false)
        }
    }
}

/// The next try, later each time (2 s, 4 s, … up to an hour: about six hours in all); after
/// MAX_ATTEMPTS, `failed`.
async fn retry(s: &State, d: &Due, why: &str) -> Result<(), sql::Error> {
    let attempts = d.attempts + 1;
    let delay = (1i64 << attempts.min(12)).min(3600);
    let status = if attempts >= MAX_ATTEMPTS {
        "failed"
    } else {
        "pending"
    };
    tracing::warn!(refund = %d.id, order = %d.order_number, attempts, error = why, "refund not done yet");
    sql::query("UPDATE refunds SET attempts = $1, next_at = $2, last_error = $3, status = $4 WHERE id = $5 AND status = 'pending'")
        .bind(attempts)
        .bind(now() + delay)
        .bind(why)
        .bind(status)
        .bind(&d.id)
        .execute(&s.db.writer)
        .await?;
    Ok(())
}

/// The provider confirmed: the refund, the payment and (when nothing else is owed) the order,
/// in one transaction.
async fn complete(s: &State, d: &Due) -> Result<(), sql::Error> {
    let t = now();
    let mut tx = s.db.writer.begin().await?;
    let first = sql::query(
        "UPDATE refunds SET status = 'done', done_at = $1 WHERE id = $2 AND status <> 'done'",
    )
    .bind(t)
    .bind(&d.id)
    .execute(&mut tx)
    .await?
    .rows_affected()
        == 1;
    if !first {
        return Ok(());
    }
    sql::query("UPDATE payments SET status = 'refunded', refunded_at = $1 WHERE id = $2")
        .bind(t)
        .bind(&d.payment_id)
        .execute(&mut tx)
        .await?;
    let left: i64 = sql::query(
        "SELECT COUNT(*) AS n FROM refunds WHERE order_number = $1 AND status <> 'done'",
    )
    .bind(&d.order_number)
    .fetch_one(&mut tx)
    .await?
    .try_get("n")?;
    let status: String = sql::query("SELECT status FROM orders WHERE number = $1")
        .bind(&d.order_number)
        .fetch_one(&mut tx)
        .await?
        .try_get("status")?;
    let note = format!("refunded {} yuan ({})", api::yuan(d.amount_fen), d.id);
    if left == 0 && status == OrderStatus::Refunding.as_str() {
        let step = Step::new(
            &d.order_number,
            OrderStatus::Refunding,
            Event::Refunded,
            "payment",
            t,
        );
        if let Err(e) = crate::store::transition(&mut tx, step.note(&note)).await {
            return Err(match e {
                crate::store::TransitionError::Store(e) => e,
                other => sql::Error::Other(other.to_string()),
            });
        }
    } else {
        audit_note(&mut tx, &d.order_number, "payment", &note, t).await?;
    }
    tx.commit().await?;
    tracing::info!(refund = %d.id, order = %d.order_number, "refund confirmed by the provider");
    Ok(())
}

/// A provider said a refund of ours changed state: it is asked about now, not at its backoff.
pub async fn due_now(s: &State, id: &str) -> Result<(), sql::Error> {
    sql::query("UPDATE refunds SET next_at = $1 WHERE id = $2 AND status = 'pending'")
        .bind(now())
        .bind(id)
        .execute(&s.db.writer)
        .await?;
    s.refunds_ready.notify_one();
    Ok(())
}

const REFUND_VIEW: &str = "SELECT r.id, r.payment_id, r.order_number, r.amount_fen, r.reason, r.status, r.attempts, r.last_error, r.created_at, r.next_at, p.method, p.trade_no FROM refunds r JOIN payments p ON p.id = r.payment_id";

fn view(r: &sql::Row) -> Result<api::RefundView, sql::Error> {
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

/// The refunds in progress and the failed ones, oldest first (the review console's money page).
pub async fn open(s: &State) -> Result<Vec<api::RefundView>, sql::Error> {
    sql::query_owned(format!(
        "{REFUND_VIEW} WHERE r.status IN ('pending', 'failed') ORDER BY r.created_at LIMIT 200"
    ))
    .fetch_all(&s.db.pool)
    .await?
    .iter()
    .map(view)
    .collect()
}

/// Every refund of one order, whatever its state.
pub async fn of_order(s: &State, number: &str) -> Result<Vec<api::RefundView>, sql::Error> {
    sql::query_owned(format!(
        "{REFUND_VIEW} WHERE r.order_number = $1 ORDER BY r.created_at"
    ))
    .bind(number)
    .fetch_all(&s.db.pool)
    .await?
    .iter()
    .map(view)
    .collect()
}

/// Sets a failed refund going again (the review console's retry), with a note in its order's
/// audit trail naming who; false when no failed refund has this id.
pub async fn retry_failed(s: &State, id: &str, who: &str) -> Result<bool, sql::Error> {
    let t = now();
    let mut tx = s.db.writer.begin().await?;
    let order: Option<String> = sql::query("UPDATE refunds SET status = 'pending', attempts = 0, next_at = $1 WHERE id = $2 AND status = 'failed' RETURNING order_number")
        .bind(t)
        .bind(id)
        .fetch_optional(&mut tx)
        .await?
        .map(|r| r.try_get("order_number"))
        .transpose()?;
    let Some(order) = order else {
        return Ok(false);
    };
    audit_note(
        &mut tx,
        &order,
        who,
        &format!("refund {id} asked of the provider again"),
        t,
    )
    .await?;
    crate::store::record_console(&mut tx, who, "retry_refund", id, &order).await?;
    tx.commit().await?;
    s.refunds_ready.notify_one();
    Ok(true)
}

/// When the next pending refund is due (None: none is pending).
async fn next_due(s: &State) -> Result<Option<i64>, sql::Error> {
    sql::query("SELECT MIN(next_at) AS next FROM refunds WHERE status = 'pending'")
        .fetch_one(&s.db.pool)
        .await?
        .try_get("next")
}

/// Runs refunds as they are queued (woken by `refunds_ready`), as each falls due (the backoff's
/// 2 s, 4 s, … are kept, not rounded up to the next poll), and at least every 30 s.
pub fn spawn(s: State) {
    tokio::spawn(async move {
        loop {
            match run(&s).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(refunded = n, "refunds confirmed"),
                Err(e) => tracing::error!(error = %e, "refund job failed"),
            }
            let wait = match next_due(&s).await {
                Ok(Some(at)) => (at - now()).clamp(1, 30),
                _ => 30,
            };
            let _ = tokio::time::timeout(
                std::time::Duration::from_secs(wait as u64),
                s.refunds_ready.notified(),
            )
            .await;
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    });
}
