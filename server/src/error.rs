//! `AppError`: every refusal the API makes, with its HTTP status and stable code. 5xx causes are
//! logged here and never sent to the client.

use api::{ApiError, FieldErrors};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("invalid fields")]
    Fields(FieldErrors),
    #[error("{1}")]
    BadRequest(&'static str, String),
    /// A JSON body that is missing, not JSON, or not the request's shape — read by a handler
    /// only after it has checked who is asking (400, 415 or 422 as axum's `Json` answers).
    #[error("{0}")]
    Body(#[from] axum::extract::rejection::JsonRejection),
    #[error("certificate expired: renew it offline")]
    Expired,
    #[error("{0}")]
    Unauthorized(&'static str),
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("not found")]
    NotFound,
    #[error("{1}")]
    Conflict(&'static str, String),
    #[error("too many requests")]
    RateLimited,
    /// A service this server is not set up to offer (code, message).
    #[error("{1}")]
    Unavailable(&'static str, &'static str),
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    pub fn bad(code: &'static str, msg: impl Into<String>) -> Self {
        Self::BadRequest(code, msg.into())
    }

    pub fn conflict(code: &'static str, msg: impl Into<String>) -> Self {
        Self::Conflict(code, msg.into())
    }
}

impl From<crate::store::sql::Error> for AppError {
    fn from(e: crate::store::sql::Error) -> Self {
        // A unique violation is a conflict the client caused (e.g. a second open order).
        if e.is_unique_violation() {
            return AppError::conflict(
                "duplicate",
                "this already exists (for example an open order for this certificate)",
            );
        }
        AppError::Internal(e.to_string())
    }
}

/// A failure behind a request (the CA could not sign, a file, the HSM): a 500, logged.
impl From<crate::fault::Error> for AppError {
    fn from(e: crate::fault::Error) -> Self {
        AppError::Internal(e.to_string())
    }
}

impl From<crate::store::TransitionError> for AppError {
    fn from(e: crate::store::TransitionError) -> Self {
        use crate::store::TransitionError as T;
        match e {
            T::Illegal(i) => AppError::conflict("illegal_transition", i.to_string()),
            T::Moved { .. } => AppError::conflict(
                "illegal_transition",
                "the order changed meanwhile; reload it",
            ),
            T::Store(e) => e.into(),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, code, fields) = match &self {
            AppError::Fields(f) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_fields",
                f.clone(),
            ),
            AppError::BadRequest(c, _) => (StatusCode::BAD_REQUEST, *c, vec![]),
            AppError::Body(r) => (r.status(), "invalid_body", vec![]),
            AppError::Expired => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "certificate_expired",
                vec![],
            ),
            AppError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized", vec![]),
            AppError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", vec![]),
            AppError::NotFound => (StatusCode::NOT_FOUND, "not_found", vec![]),
            AppError::Conflict(c, _) => (StatusCode::CONFLICT, *c, vec![]),
            AppError::RateLimited => (StatusCode::TOO_MANY_REQUESTS, "rate_limited", vec![]),
            AppError::Unavailable(c, _) => (StatusCode::SERVICE_UNAVAILABLE, *c, vec![]),
            AppError::Internal(cause) => {
                tracing::error!(%cause, "internal error");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal", vec![])
            }
        };
        let message = match &self {
            AppError::Internal(_) => "internal error".to_string(),
            e => e.to_string(),
        };
        (
            status,
            Json(ApiError {
                code: code.to_string(),
                message,
                fields,
            }),
        )
            .into_response()
    }
}

pub type AppResult<T> = Result<T, AppError>;
