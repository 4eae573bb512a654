//! The renewal itself, apart from HTTP and SQL: apply, pay, install (issue, the management key,
//! confirm), refunds, prefill — plain async functions over the [`State`] (the store, the CA, the
//! payment providers) that decide and return the API's views or a typed refusal ([`AppError`]:
//! its code and status). `crate::http` extracts requests and calls these; `crate::store` holds
//! every SQL statement they run; the order's state machine is `api::OrderStatus::on`.

pub mod apply;
pub mod demo;
pub mod install;
pub mod invoice;
pub mod order;
pub mod payment;
pub mod review;

pub use apply::{apply, prefill};
pub use install::{confirm, issue, management_answer, management_check};
pub use install::{MANAGEMENT_ANSWERS, MANAGEMENT_WINDOW_SECS};
pub use order::{authorized, view};
pub use payment::{cancel, close_at_provider, close_pending_payments, create_payment, refund};
pub use payment::{take_payment, PAYMENTS_PER_ORDER};
pub use review::decide;
