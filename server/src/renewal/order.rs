//! An order as its holder and the other steps see it: access by its token, its API view, the
//! refusals every step shares.

use crate::error::{AppError, AppResult};
use crate::store::{Order, Payment, PaymentStatus};
use crate::{sha256_hex, State};
use api::{OrderStatus, OrderView};

pub(crate) const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

pub(crate) fn today(t: i64) -> u32 {
    let (y, m, d) = crate::china_date(t);
    (y as u32) * 10_000 + m * 100 + d
}

/// Parses and checks a certificate the way an application needs it: ours, valid, in the window.
/// The renewal window and expiry of a certificate this CA issued.
pub(crate) fn check_window(s: &State, summary: &ccid::cert::CertSummary, t: i64) -> AppResult<()> {
    if summary.expired {
        return Err(AppError::Expired);
    }
    let opens = summary.not_after - s.config.renewal_window_days * 86_400;
    if t < opens {
        return Err(AppError::conflict(
            "not_in_renewal_window",
            format!("online renewal opens at {opens}"),
        ));
    }
    Ok(())
}

/// The answer to a certificate presented as a credential that is not one this CA issued (or not
/// a certificate at all): the same for every such case, so a caller learns nothing more.
pub(crate) fn not_ours() -> AppError {
    AppError::Forbidden("this certificate was not issued by this CA")
}

/// Loads an order for its holder: the token (`X-Order-Token`) handed out with the application.
pub async fn authorized(s: &State, number: &str, token: Option<&str>) -> AppResult<Order> {
    let token = token.ok_or(AppError::Unauthorized("order token required"))?;
    let order = s.db.order(number).await?.ok_or(AppError::NotFound)?;
    if order.token_hash != sha256_hex(token.as_bytes()) {
        // Same answer as a missing order: the token is what proves the right to see it.
        return Err(AppError::NotFound);
    }
    Ok(order)
}

pub async fn view(s: &State, o: &Order) -> AppResult<OrderView> {
    let payment = s.db.latest_payment(&o.number).await?;
    // Invoices are issued on installation: no query before.
    let invoice = if o.status == OrderStatus::Installed {
        s.db.invoice_of(&o.number).await?
    } else {
        None
    };
    view_of(s, o, payment, invoice).await
}

/// The view of an order whose latest payment and invoice the caller already holds (a handler
/// that just wrote them saves the round trips to read them back).
pub(crate) async fn view_of(
    s: &State,
    o: &Order,
    payment: Option<Payment>,
    invoice: Option<api::InvoiceView>,
) -> AppResult<OrderView> {
    let payment = payment.map(|p| payment_view(&p));
    Ok(OrderView {
        number: o.number.clone(),
        subject: o.subject.clone(),
        certificate_serial: o.cert_serial.clone(),
        applied_at: o.applied_at,
        status: o.status,
        progress_step: o.status.progress_step(),
        period_months: o.period_months as u32,
        fee_fen: o.fee_fen,
        old_not_after: o.old_not_after,
        new_not_after: o.new_not_after,
        operator_name: o.operator_name.clone(),
        remarks: o.remarks.clone(),
        payment,
        invoice,
        // Only the install needs it: no lookup for the other states (every view costs queries).
        management_key_algorithm: if matches!(o.status, OrderStatus::Approved | OrderStatus::Issued)
        {
            s.db.management_key(&o.cert_serial)
                .await?
                .map(|k| k.algorithm() as u8)
        } else {
            None
        },
    })
}

pub(crate) fn payment_view(p: &Payment) -> api::PaymentView {
    api::PaymentView {
        id: p.id.clone(),
        method: crate::payment::stored_method(&p.method),
        amount_fen: p.amount_fen,
        paid: p.status == PaymentStatus::Paid,
        cashier_url: p.pay_url.clone().unwrap_or_default(),
        qr_payload: p.qr_payload.clone().unwrap_or_default(),
        expires_at: p.expires_at,
    }
}

/// A revoked certificate's renewal stops wherever it is (approval, issuance, the management key,
/// confirmation): a stolen token reported or a compromised key must not get a fresh certificate.
pub(crate) async fn refuse_revoked(s: &State, serial: &str) -> AppResult<()> {
    if s.db.revoked(serial).await? {
        return Err(AppError::conflict(
            "certificate_revoked",
            "the certificate being renewed is revoked",
        ));
    }
    Ok(())
}

pub(crate) fn illegal(o: &Order, action: &str) -> AppError {
    AppError::conflict(
        "illegal_transition",
        format!("cannot {action} an order that is {}", o.status.as_str()),
    )
}
