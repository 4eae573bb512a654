//! The review console's own rows — accounts, sessions, the order search, revocations, payment
//! discrepancies, notices sent again — and the invoice numbering the console's approval uses.

use super::sql::{self, Error, Tx};
use super::{Order, Store};
use serde::{Deserialize, Serialize};

/// A payment notice the orders could not take as it came, for a person to settle.
#[derive(Serialize, Deserialize)]
pub struct Discrepancy {
    pub payment_id: String,
    pub order_number: String,
    pub kind: String,
    pub amount_fen: i64,
    pub expected_fen: i64,
    pub trade_no: String,
    pub at: i64,
}

/// A live console session: who, its CSRF token, the account's roles (comma-separated).
pub struct Session {
    pub username: String,
    pub csrf: String,
    pub roles: String,
}

/// What an order search asks for; `status` is a state or `all`.
pub struct OrderSearch<'a> {
    pub status: &'a str,
    /// A LIKE pattern over the number, subject and operator name.
    pub pattern: &'a str,
    pub from: i64,
    pub to: i64,
    pub limit: i64,
    pub offset: i64,
}

impl Store {
    /// Creates or replaces an account.
    pub async fn set_admin(&self, username: &str, hash: &str, roles: &str) -> Result<(), Error> {
        sql::query("INSERT INTO admins (username, password_hash, roles) VALUES ($1, $2, $3) ON CONFLICT (username) DO UPDATE SET password_hash = $2, roles = $3")
            .bind(username)
            .bind(hash)
            .bind(roles)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// An account's password hash and roles.
    pub async fn admin_credentials(
        &self,
        username: &str,
    ) -> Result<Option<(String, String)>, Error> {
        sql::query("SELECT password_hash, roles FROM admins WHERE username = $1")
            .bind(username)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| Ok((r.try_get("password_hash")?, r.try_get("roles")?)))
            .transpose()
    }

    /// The session a cookie's token hash names, if it has not expired.
    pub async fn session(&self, token_hash: &str, now: i64) -> Result<Option<Session>, Error> {
        sql::query("SELECT s.username, s.csrf, a.roles FROM sessions s JOIN admins a ON a.username = s.username WHERE s.token_hash = $1 AND s.expires_at > $2")
            .bind(token_hash)
            .bind(now)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| {
                Ok(Session {
                    username: r.try_get("username")?,
                    csrf: r.try_get("csrf")?,
                    roles: r.try_get("roles")?,
                })
            })
            .transpose()
    }

    /// Orders matching a search, each with its certificate's revocation time: the review queue
    /// (one state) oldest change first, or all orders newest application first.
    pub async fn search_orders(
        &self,
        q: &OrderSearch<'_>,
    ) -> Result<Vec<(Order, Option<i64>)>, Error> {
        let text = if q.status == "all" {
            "SELECT o.*, c.revoked_at AS certificate_revoked_at FROM orders o LEFT JOIN certificates c ON c.serial = o.cert_serial WHERE $1 = 'all' AND (o.number LIKE $2 OR o.subject LIKE $2 OR o.operator_name LIKE $2) AND o.applied_at >= $3 AND o.applied_at < $4 ORDER BY o.applied_at DESC, o.number DESC LIMIT $5 OFFSET $6"
        } else {
            "SELECT o.*, c.revoked_at AS certificate_revoked_at FROM orders o LEFT JOIN certificates c ON c.serial = o.cert_serial WHERE o.status = $1 AND (o.number LIKE $2 OR o.subject LIKE $2 OR o.operator_name LIKE $2) AND o.applied_at >= $3 AND o.applied_at < $4 ORDER BY o.updated_at LIMIT $5 OFFSET $6"
        };
        sql::query(text)
            .bind(q.status)
            .bind(q.pattern)
            .bind(q.from)
            .bind(q.to)
            .bind(q.limit)
            .bind(q.offset)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| Ok((Order::from_row(r)?, r.try_get("certificate_revoked_at")?)))
            .collect()
    }

    /// Whether this CA recorded a certificate with this serial.
    pub async fn certificate_known(&self, serial: &str) -> Result<bool, Error> {
        Ok(
            sql::query("SELECT serial FROM certificates WHERE serial = $1")
                .bind(serial)
                .fetch_optional(&self.pool)
                .await?
                .is_some(),
        )
    }

    /// Certificates by part of serial or subject (newest end first), or the revoked ones among
    /// them (newest revocation first).
    pub async fn certificate_records_like(
        &self,
        pattern: &str,
        revoked_only: bool,
    ) -> Result<Vec<api::CertificateRecord>, Error> {
        let text = if revoked_only {
            "SELECT serial, subject, not_after, revoked_at, revocation_reason FROM certificates WHERE revoked_at IS NOT NULL AND (serial LIKE $1 OR subject LIKE $1) ORDER BY revoked_at DESC LIMIT 200"
        } else {
            "SELECT serial, subject, not_after, revoked_at, revocation_reason FROM certificates WHERE serial LIKE $1 OR subject LIKE $1 ORDER BY not_after DESC LIMIT 200"
        };
        sql::query(text)
            .bind(pattern)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| super::console::certificate_record(r, ""))
            .collect()
    }

    /// Unsettled payment discrepancies, oldest first.
    pub async fn discrepancies(&self) -> Result<Vec<Discrepancy>, Error> {
        sql::query(
            "SELECT * FROM payment_discrepancies WHERE resolved_at IS NULL ORDER BY at LIMIT 200",
        )
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(Discrepancy {
                payment_id: r.try_get("payment_id")?,
                order_number: r.try_get("order_number")?,
                kind: r.try_get("kind")?,
                amount_fen: r.try_get("amount_fen")?,
                expected_fen: r.try_get("expected_fen")?,
                trade_no: r.try_get("trade_no")?,
                at: r.try_get("at")?,
            })
        })
        .collect()
    }
}

/// Opens a console session (its token stored hashed).
pub async fn open_session(
    tx: &mut Tx,
    token_hash: &str,
    username: &str,
    csrf: &str,
    expires_at: i64,
) -> Result<(), Error> {
    sql::query(
        "INSERT INTO sessions (token_hash, username, csrf, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(token_hash)
    .bind(username)
    .bind(csrf)
    .bind(expires_at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

pub async fn close_session(tx: &mut Tx, token_hash: &str) -> Result<(), Error> {
    sql::query("DELETE FROM sessions WHERE token_hash = $1")
        .bind(token_hash)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Marks a certificate revoked; false when it was already (or is not ours).
pub async fn revoke_certificate(
    tx: &mut Tx,
    serial: &str,
    at: i64,
    reason: i64,
    by: &str,
) -> Result<bool, Error> {
    Ok(sql::query("UPDATE certificates SET revoked_at = $1, revocation_reason = $2, revoked_by = $3 WHERE serial = $4 AND revoked_at IS NULL")
        .bind(at)
        .bind(reason)
        .bind(by)
        .bind(serial)
        .execute(&mut *tx)
        .await?
        .rows_affected()
        == 1)
}

/// The open renewal orders of a certificate: (number, status).
pub async fn open_orders_of(tx: &mut Tx, serial: &str) -> Result<Vec<(String, String)>, Error> {
    sql::query("SELECT number, status FROM orders WHERE cert_serial = $1 AND open = 1")
        .bind(serial)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| Ok((r.try_get("number")?, r.try_get("status")?)))
        .collect()
}

/// Queues again the newest notice of each kind about an order; how many.
pub async fn requeue_notices(tx: &mut Tx, number: &str, now: i64) -> Result<u64, Error> {
    Ok(sql::query("INSERT INTO outbox (kind, recipient, subject, body, created_at) SELECT kind, recipient, subject, body, $2 FROM outbox WHERE id IN (SELECT MAX(id) FROM outbox WHERE subject LIKE $1 OR body LIKE $1 GROUP BY kind)")
        .bind(format!("%{number}%"))
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected())
}

/// The reviewer's reason for a rejection, kept on the order.
pub async fn set_remarks(tx: &mut Tx, number: &str, remarks: &str) -> Result<(), Error> {
    sql::query("UPDATE orders SET remarks = $1 WHERE number = $2")
        .bind(remarks)
        .bind(number)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// The next invoice sequence number (one counter, never reused).
pub async fn next_invoice_seq(tx: &mut Tx) -> Result<i64, Error> {
    sql::query("INSERT INTO invoice_seq (id, last) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET last = invoice_seq.last + 1 RETURNING last")
        .fetch_one(&mut *tx)
        .await?
        .try_get("last")
}

/// Writes an issued invoice (immutable: there is no update).
pub async fn insert_invoice(tx: &mut Tx, order: &str, inv: &api::InvoiceView) -> Result<(), Error> {
    sql::query("INSERT INTO invoices (number, order_number, issued_at, buyer_title, buyer_taxpayer_id, item, amount_fen, tax_fen, total_fen) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
        .bind(&inv.number)
        .bind(order)
        .bind(inv.issued_at)
        .bind(&inv.buyer_title)
        .bind(&inv.buyer_taxpayer_id)
        .bind(&inv.item)
        .bind(inv.amount_fen)
        .bind(inv.tax_fen)
        .bind(inv.total_fen)
        .execute(&mut *tx)
        .await?;
    Ok(())
}
