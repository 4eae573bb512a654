//! W8–W9 and W11: payments at the providers, the money they vouch for, cancellations and the
//! refunds they start.

use super::order::{illegal, payment_view, view};
use crate::error::{AppError, AppResult};
use crate::store::{transition, Order, PaymentStatus, Step, TransitionError};
use crate::{now, random_id, State};
use api::{Event, OrderStatus, OrderView};

/// W11: the applicant cancels: closed before payment, refunded after, refused later on.
pub async fn cancel(s: &State, o: Order) -> AppResult<OrderView> {
    let number = o.number.clone();
    let t = now();
    let mut tx = s.db.begin().await?;
    // The state machine decides: closed before payment, refunded after, refused later on.
    o.status
        .on(Event::Cancel)
        .map_err(|_| illegal(&o, "cancel"))?;
    let closed = close_pending_payments(&mut tx, &number).await?;
    let step = Step::new(&number, o.status, Event::Cancel, "applicant", t).note("cancelled");
    if transition(&mut tx, step).await? == OrderStatus::Refunding {
        refund(&mut tx, &number, "applicant", t).await?;
    }
    tx.commit().await?;
    s.refunds_ready.notify_one();
    close_at_provider(s, closed);
    let o = s.db.order(&number).await?.ok_or(AppError::NotFound)?;
    view(s, &o).await
}

/// Closes an order's pending payments (the order no longer takes money: a later notice for them
/// is refunded). Returns them (id, method), to be closed at the provider once committed.
pub async fn close_pending_payments(
    tx: &mut crate::store::sql::Tx,
    number: &str,
) -> Result<Vec<(String, String)>, crate::store::sql::Error> {
    crate::store::renewals::end_pending_payments(tx, number, crate::store::renewals::Ended::Closed)
        .await
}

/// Closes payments at their provider, in the background: their QR codes stop taking money. A
/// close that fails is only logged — money that still comes is refunded when it is noticed.
pub fn close_at_provider(s: &State, payments: Vec<(String, String)>) {
    for (id, method) in payments {
        if let Some(p) = s.payments.for_stored(&method).cloned() {
            tokio::spawn(async move {
                let _ = p.close(&id).await;
            });
        }
    }
}

/// Refunds the paid payment of an order in `Refunding`: queued in the caller's transaction and
/// asked of the provider by the refund job; the order becomes `Refunded` when the provider
/// confirms (`refund::run`). Callers wake the job once they commit.
pub async fn refund(
    tx: &mut crate::store::sql::Tx,
    number: &str,
    actor: &str,
    t: i64,
) -> Result<(), crate::store::TransitionError> {
    crate::refund::queue_order(tx, number, &format!("refund ({actor})"), t).await?;
    Ok(())
}

/// Payments one order may create (each a new QR code at the provider): a changed invoice title
/// makes a new one, a flood does not.
pub const PAYMENTS_PER_ORDER: i64 = 5;

/// W8: a payment at the chosen provider (a QR code or a cashier page) for an order awaiting
/// payment; an unexpired one for the same details is handed out again.
pub async fn create_payment(
    s: &State,
    o: &Order,
    req: &api::PaymentRequest,
) -> AppResult<api::PaymentView> {
    let number = o.number.clone();
    if s.payments.is_empty() {
        return Err(AppError::Unavailable(
            "payments_unavailable",
            "online payment is not set up on this server",
        ));
    }
    // The cashier offers only the configured methods (GET /prices): another is a stale page.
    let provider = s
        .payments
        .for_method(req.method)
        .cloned()
        .ok_or(AppError::Unavailable(
            "method_unavailable",
            "this server does not take payments this way",
        ))?;
    let mut fields = vec![];
    let title = api::validate::text(&req.invoice_title, 100)
        .map_err(|e| fields.push(("invoice_title".to_string(), e)))
        .ok();
    let taxpayer = api::validate::social_credit_code(&req.taxpayer_id)
        .map_err(|e| fields.push(("taxpayer_id".to_string(), e)))
        .ok();
    let (Some(title), Some(taxpayer)) = (title, taxpayer) else {
        return Err(AppError::Fields(fields));
    };
    if o.status != OrderStatus::AwaitingPayment {
        return Err(illegal(o, "pay"));
    }
    let t = now();
    // A payment never outlives its order: both end when the order's time to pay does.
    let expires_at = o.applied_at + s.config.payment_ttl_secs;
    if expires_at <= t {
        return Err(AppError::conflict(
            "payment_expired",
            "the time to pay for this order has passed",
        ));
    }
    let method = crate::payment::method_str(req.method);
    if let Some(p) = s.db.latest_payment(&number).await? {
        // An unexpired pending payment is reused, so a double click cannot pay twice.
        if p.status == PaymentStatus::Pending
            && p.expires_at > t
            && p.method == method
            && (p.pay_url.is_some() || p.qr_payload.is_some())
            && p.invoice_title == title
            && p.taxpayer_id == taxpayer
        {
            return Ok(payment_view(&p));
        }
    }
    let id = format!("P{}", random_id(12));
    let mut tx = s.db.begin().await?;
    // The new payment replaces the order's pending ones: money still sent to those is returned.
    let replaced = close_pending_payments(&mut tx, &number).await?;
    let made = crate::store::renewals::payments_made(&mut tx, &number).await?;
    if made >= PAYMENTS_PER_ORDER {
        return Err(AppError::conflict(
            "too_many_payments",
            "this order has made as many payments as it may; apply again",
        ));
    }
    let payment = crate::store::renewals::NewPayment {
        id: &id,
        order: &number,
        method,
        amount_fen: o.fee_fen,
        invoice_title: &title,
        taxpayer_id: &taxpayer,
        created_at: t,
        expires_at,
    };
    crate::store::renewals::insert_payment(&mut tx, &payment).await?;
    // Still awaiting payment (a notice may have moved it meanwhile): else no new payment.
    let status = crate::store::renewals::order_status_in(&mut tx, &number).await?;
    if status != OrderStatus::AwaitingPayment.as_str() {
        return Err(illegal(o, "pay"));
    }
    tx.commit().await?;
    close_at_provider(s, replaced);
    // The trade at the provider, after the row exists: a notice for it always finds its payment.
    let subject = format!("数字证书续期 {number}");
    let trade = crate::payment::NewTrade {
        id: &id,
        amount_fen: o.fee_fen,
        subject: &subject,
        expires_at,
    };
    let created = match provider.create(req.method, &trade).await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(payment = %id, error = %e, "the provider did not create the trade");
            s.db.close_payment(&id).await?;
            return Err(AppError::Unavailable(
                "provider_unavailable",
                "the payment provider did not answer; try again in a moment",
            ));
        }
    };
    s.db.set_payment_codes(&id, created.qr_payload, created.pay_url)
        .await?;
    let p = s.db.payment(&id).await?.ok_or(AppError::NotFound)?;
    Ok(payment_view(&p))
}

/// Records money a provider vouches for (a verified notice, or a reconciliation query's answer):
/// taken by the order, returned, or kept for a person — never silently kept. Repeats change
/// nothing.
pub async fn take_payment(s: &State, notice: &crate::payment::Paid) -> AppResult<()> {
    let p =
        s.db.payment(&notice.payment_id)
            .await?
            .ok_or(AppError::bad("notice", "unknown payment"))?;
    let t = now();
    let mut tx = s.db.begin().await?;
    if p.amount_fen != notice.amount_fen {
        // Money came, but not the amount asked for: recorded for the review console to settle
        // (acknowledged, so the provider stops resending; the record is what counts).
        crate::store::renewals::record_wrong_amount(
            &mut tx,
            &p.id,
            &p.order_number,
            notice.amount_fen,
            p.amount_fen,
            &notice.trade_no,
            t,
        )
        .await?;
        tx.commit().await?;
        tracing::warn!(payment = %p.id, order = %p.order_number, paid = notice.amount_fen, expected = p.amount_fen, "payment of a wrong amount recorded as a discrepancy");
        return Ok(());
    }
    let taken =
        crate::store::renewals::take_pending_payment(&mut tx, &p.id, &notice.trade_no, t).await?;
    if !taken {
        // Money for a payment that was closed (expired with its order, replaced by a newer one,
        // the order cancelled): recorded with its trade and returned.
        let late =
            crate::store::renewals::record_late_money(&mut tx, &p.id, &notice.trade_no, t).await?;
        if late {
            let note = format!(
                "money for closed payment {} ({}) to be refunded",
                p.id, notice.trade_no
            );
            give_back(&mut tx, &p, "money for a closed payment", &note, t).await?;
        }
        tx.commit().await?;
        if late {
            s.refunds_ready.notify_one();
            tracing::warn!(payment = %p.id, order = %p.order_number, "money for a closed payment: refund queued");
        }
        // Otherwise a repeat: already recorded, nothing changes.
        return Ok(());
    }
    let paid = Step::new(
        &p.order_number,
        OrderStatus::AwaitingPayment,
        Event::Pay,
        "payment",
        t,
    );
    if let Err(e) = transition(&mut tx, paid.note(&notice.trade_no)).await {
        if !matches!(e, TransitionError::Moved { .. }) {
            return Err(e.into());
        }
        // Money arrived for an order that is no longer payable (cancelled, expired): give it back.
        let note = format!(
            "money for payment {} ({}) after the order closed, to be refunded",
            p.id, notice.trade_no
        );
        give_back(&mut tx, &p, "money for a closed order", &note, t).await?;
        tx.commit().await?;
        s.refunds_ready.notify_one();
        tracing::warn!(order = %p.order_number, "payment for a closed order: refund queued");
        return Ok(());
    }
    // Read in the transaction: a second connection here could wait on a pool this notice's
    // concurrent repeats hold (PostgreSQL).
    let revoked =
        crate::store::renewals::order_certificate_revoked(&mut tx, &p.order_number).await?;
    if revoked {
        // Revoked while the payment was under way: the renewal stops and the money goes back.
        let step = Step::new(
            &p.order_number,
            OrderStatus::Paid,
            Event::Refund,
            "system",
            t,
        );
        transition(&mut tx, step.note("certificate revoked")).await?;
        refund(&mut tx, &p.order_number, "system", t).await?;
    } else {
        let step = Step::new(
            &p.order_number,
            OrderStatus::Paid,
            Event::Queue,
            "system",
            t,
        );
        let queued = transition(&mut tx, step.note("queued for review")).await?;
        if s.config.auto_approve {
            let step = Step::new(
                &p.order_number,
                queued,
                Event::AutoApprove,
                "auto-approve",
                t,
            );
            transition(&mut tx, step).await?;
        }
    }
    tx.commit().await?;
    s.refunds_ready.notify_one();
    Ok(())
}

/// Queues the refund of money the order cannot keep, with `note` in its audit trail.
async fn give_back(
    tx: &mut crate::store::sql::Tx,
    p: &crate::store::Payment,
    why: &str,
    note: &str,
    t: i64,
) -> AppResult<()> {
    crate::refund::queue(tx, &p.id, &p.order_number, p.amount_fen, why, t).await?;
    crate::refund::audit_note(tx, &p.order_number, "payment", note, t).await?;
    Ok(())
}
