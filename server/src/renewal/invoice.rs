//! The e-invoice a paid order gets when it is installed.

use crate::store::Payment;

/// Issues the e-invoice of a paid order (immutable once written). Number: year (2), province
/// 44 (Guangdong), channel 1, and a 15-digit sequence.
pub async fn issue_invoice(
    tx: &mut crate::store::sql::Tx,
    number: &str,
    p: &Payment,
    t: i64,
) -> Result<api::InvoiceView, crate::store::sql::Error> {
    let seq = crate::store::admin::next_invoice_seq(tx).await?;
    let (y, _, _) = crate::china_date(t);
    // 6 % VAT on information technology services; the fee includes tax.
    let tax = (p.amount_fen * 6 + 53) / 106;
    let inv = api::InvoiceView {
        number: format!("{:02}441{seq:015}", y % 100),
        issued_at: t,
        buyer_title: p.invoice_title.clone(),
        buyer_taxpayer_id: p.taxpayer_id.clone(),
        item: "证书服务费用 certificate service fee".into(),
        amount_fen: p.amount_fen - tax,
        tax_fen: tax,
        total_fen: p.amount_fen,
    };
    crate::store::admin::insert_invoice(tx, number, &inv).await?;
    Ok(inv)
}
