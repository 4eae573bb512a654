//! Invariants of the stored orders, checked after a crash (and by `certrenew check` at any time).
//! Money: every paid payment is the one its open or installed order used (exactly one), or it
//! was refunded; a closed order has no payment still pending.

use crate::store::Store;
use api::OrderStatus;

/// Returns one line per violation; empty when everything holds.
pub async fn invariants(db: &Store) -> Result<Vec<String>, super::sql::Error> {
    let mut bad = Vec::new();
    let orders = super::sql::query("SELECT number, status, open, issued_cert FROM orders")
        .fetch_all(&db.pool)
        .await?;
    for o in &orders {
        let number: String = o.try_get("number")?;
        let status: String = o.try_get("status")?;
        let Some(st) = OrderStatus::parse(&status) else {
            bad.push(format!("{number}: unknown status {status}"));
            continue;
        };
        let open: i64 = o.try_get("open")?;
        if (open == 1) != st.is_open() {
            bad.push(format!(
                "{number}: open flag {open} disagrees with {status}"
            ));
        }
        let cert: Option<Vec<u8>> = o.try_get("issued_cert")?;
        if matches!(st, OrderStatus::Issued | OrderStatus::Installed) && cert.is_none() {
            bad.push(format!("{number}: {status} without a certificate"));
        }
        let trail = super::sql::query(
            "SELECT from_status, to_status FROM audit WHERE order_number = $1 ORDER BY id",
        )
        .bind(&number)
        .fetch_all(&db.pool)
        .await?;
        let mut at = "applied".to_string();
        let mut issued = 0;
        for step in &trail {
            let from: String = step.try_get("from_status")?;
            let to: String = step.try_get("to_status")?;
            // from == to: a note that moved no status (money returned for a closed payment).
            let legal = from == at
                && (from == to && OrderStatus::parse(&from).is_some()
                    || match (OrderStatus::parse(&from), OrderStatus::parse(&to)) {
                        (Some(f), Some(t)) => f.can_become(t),
                        (None, Some(OrderStatus::AwaitingPayment)) => from == "applied",
                        _ => false,
                    });
            if !legal {
                bad.push(format!("{number}: audit step {from} -> {to} after {at}"));
            }
            issued += usize::from(to == "issued");
            at = to;
        }
        if at != status {
            bad.push(format!("{number}: audit ends at {at}, order is {status}"));
        }
        if issued > 1 {
            bad.push(format!("{number}: issued {issued} times"));
        }
        // A payment never outlives its order: once the order stops awaiting payment, no payment
        // of it is still open at the provider.
        let pending = super::sql::query(
            "SELECT id FROM payments WHERE order_number = $1 AND status = 'pending'",
        )
        .bind(&number)
        .fetch_all(&db.pool)
        .await?;
        if (st != OrderStatus::AwaitingPayment && !pending.is_empty()) || pending.len() > 1 {
            bad.push(format!(
                "{number}: {} pending payments for a {status} order",
                pending.len()
            ));
        }
        let paid = super::sql::query("SELECT status FROM payments WHERE order_number = $1 AND status IN ('paid', 'refunded')").bind(&number).fetch_all(&db.pool).await?;
        let paid_now = paid
            .iter()
            .filter(|p| {
                p.try_get::<String>("status")
                    .map(|s| s == "paid")
                    .unwrap_or(false)
            })
            .count();
        let after_payment = matches!(
            st,
            OrderStatus::Paid
                | OrderStatus::UnderReview
                | OrderStatus::Approved
                | OrderStatus::Issued
                | OrderStatus::Installed
        );
        if after_payment && paid_now != 1 {
            bad.push(format!("{number}: {status} with {paid_now} paid payments"));
        }
        if !after_payment && paid_now > 0 && st != OrderStatus::Refunding {
            bad.push(format!("{number}: money kept for a {status} order"));
        }
    }
    Ok(bad)
}
