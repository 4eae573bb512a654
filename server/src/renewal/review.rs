//! W9: a reviewer's decision on a paid order (approve, or reject and refund).

use crate::error::{AppError, AppResult};
use crate::store::{transition, Step, TransitionError};
use crate::{now, State};
use api::{Event, OrderStatus};

/// Approves or rejects an order under review, as `who`, with `note` (the reason of a rejection,
/// kept as the order's remarks). A rejection refunds the payment.
pub async fn decide(
    s: &State,
    number: &str,
    who: &str,
    event: Event,
    note: &str,
) -> AppResult<api::OrderView> {
    let o = s.db.order(number).await?.ok_or(AppError::NotFound)?;
    if o.status != OrderStatus::UnderReview {
        return Err(AppError::conflict(
            "illegal_transition",
            format!(
                "only orders under review can be decided; this one is {}",
                o.status.as_str()
            ),
        ));
    }
    if event == Event::Approve {
        super::order::refuse_revoked(s, &o.cert_serial).await?;
    }
    let t = now();
    let mut tx = s.db.begin().await?;
    // Two administrators at once: only the first transition succeeds.
    let step = Step::new(number, OrderStatus::UnderReview, event, who, t).note(note);
    let to = match transition(&mut tx, step).await {
        Ok(to) => to,
        Err(TransitionError::Moved { .. }) => {
            return Err(AppError::conflict(
                "illegal_transition",
                "another administrator decided this order first",
            ))
        }
        Err(e) => return Err(e.into()),
    };
    let action = if to == OrderStatus::Rejected {
        "reject"
    } else {
        "approve"
    };
    crate::store::record_console(&mut tx, who, action, number, note).await?;
    if to == OrderStatus::Rejected {
        crate::store::admin::set_remarks(&mut tx, number, note).await?;
        let step = Step::new(number, to, Event::Refund, who, t).note("refund after rejection");
        transition(&mut tx, step).await?;
        super::payment::refund(&mut tx, number, who, t).await?;
    }
    tx.commit().await?;
    if to == OrderStatus::Rejected {
        // The refund is asked of the provider now, not at the job's next poll (up to 30 s).
        s.refunds_ready.notify_one();
    }
    let o = s.db.order(number).await?.ok_or(AppError::NotFound)?;
    super::order::view(s, &o).await
}
