//! Refunds for real: money taken and owed back (a cancel after payment, a rejection, a
//! revocation, money for a closed payment) is queued in the same transaction as the decision,
//! then asked of the provider by a job — idempotently, under a key of ours — until the provider
//! confirms. Only then is the payment `refunded`, and the order with it.

use crate::store::refunds::Due;
use crate::store::sql;
use crate::store::Step;
use crate::{now, State};
use api::{Event, OrderStatus};

/// Attempts before a refund is left to a person (`failed`, listed in the review console).
pub const MAX_ATTEMPTS: i64 = 16;

pub use crate::store::refunds::{audit_note, queue, queue_order, refund_id};

/// Refunds asked per run, at most.
const BATCH: i64 = 50;

/// Asks the provider for each refund that is due; returns how many completed.
pub async fn run(s: &State) -> Result<usize, sql::Error> {
    let t = now();
    let mut done = 0;
    for due in s.db.due_refunds(t, BATCH).await? {
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
    s.db.reschedule_refund(&d.id, attempts, now() + delay, why, status)
        .await
}

/// The provider confirmed: the refund, the payment and (when nothing else is owed) the order,
/// in one transaction.
async fn complete(s: &State, d: &Due) -> Result<(), sql::Error> {
    let t = now();
    let mut tx = s.db.begin().await?;
    if !crate::store::refunds::mark_done(&mut tx, &d.id, t).await? {
        return Ok(());
    }
    crate::store::refunds::mark_payment_refunded(&mut tx, &d.payment_id, t).await?;
    let (left, status) =
        crate::store::refunds::order_refunds_left(&mut tx, &d.order_number).await?;
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
    s.db.refund_due_at(id, now()).await?;
    s.refunds_ready.notify_one();
    Ok(())
}

/// The refunds in progress and the failed ones, oldest first (the review console's money page).
pub async fn open(s: &State) -> Result<Vec<api::RefundView>, sql::Error> {
    s.db.open_refunds().await
}

/// Every refund of one order, whatever its state.
pub async fn of_order(s: &State, number: &str) -> Result<Vec<api::RefundView>, sql::Error> {
    s.db.refunds_of(number).await
}

/// Sets a failed refund going again (the review console's retry), with a note in its order's
/// audit trail naming who; false when no failed refund has this id.
pub async fn retry_failed(s: &State, id: &str, who: &str) -> Result<bool, sql::Error> {
    let t = now();
    let mut tx = s.db.begin().await?;
    let Some(order) = crate::store::refunds::restart_failed(&mut tx, id, t).await? else {
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
    s.db.next_refund_due().await
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
