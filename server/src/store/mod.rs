//! Storage: one schema, two databases (SQLite by default, PostgreSQL for scale), reached through
//! the query layer in `sql`. Every statement uses `$n` placeholders, which both accept. Transactions
//! that change state start with their write, so SQLite takes its lock at once and never has to
//! upgrade a read snapshot.

pub mod admin;
pub mod challenges;
pub mod check;
pub mod console;
pub mod jobs;
pub mod records;
pub mod refunds;
pub mod renewals;
pub mod reports;
pub mod sandbox;
pub mod sql;

use api::{Event, OrderStatus};
use sql::{Error, Pool, Row};

#[derive(Clone)]
pub struct Store {
    /// For reads. Private, like `writer`: the store's own methods pick the pool (a write sent to
    /// the readers fails on SQLite and passes on PostgreSQL); everyone else calls them or
    /// [`Store::begin`].
    pool: Pool,
    /// For writes. On SQLite a single connection, so writers queue on its lock instead of
    /// meeting SQLite's busy handler (which sleeps); on PostgreSQL the same pool as reads.
    writer: Pool,
    /// Wraps management keys at rest.
    kek: std::sync::Arc<crate::keywrap::Kek>,
}

const SQLITE_MIGRATIONS: &[(&str, &str)] = &[
    (
        "0001_init",
        include_str!("../../migrations/sqlite/0001_init.sql"),
    ),
    (
        "0002_sandbox_trades",
        include_str!("../../migrations/sqlite/0002_sandbox_trades.sql"),
    ),
    (
        "0003_management_keys",
        include_str!("../../migrations/sqlite/0003_management_keys.sql"),
    ),
    (
        "0004_revocation",
        include_str!("../../migrations/sqlite/0004_revocation.sql"),
    ),
    (
        "0005_wrapped_management_keys",
        include_str!("../../migrations/sqlite/0005_wrapped_management_keys.sql"),
    ),
    (
        "0006_audit_trigger",
        include_str!("../../migrations/sqlite/0006_audit_trigger.sql"),
    ),
    (
        "0007_stateless_challenges",
        include_str!("../../migrations/sqlite/0007_stateless_challenges.sql"),
    ),
    (
        "0008_job_indexes",
        include_str!("../../migrations/sqlite/0008_job_indexes.sql"),
    ),
    (
        "0009_outbox_claims",
        include_str!("../../migrations/sqlite/0009_outbox_claims.sql"),
    ),
    (
        "0010_hardening",
        include_str!("../../migrations/sqlite/0010_hardening.sql"),
    ),
    (
        "0011_providers",
        include_str!("../../migrations/sqlite/0011_providers.sql"),
    ),
    (
        "0012_console_roles",
        include_str!("../../migrations/sqlite/0012_console_roles.sql"),
    ),
];
const POSTGRES_MIGRATIONS: &[(&str, &str)] = &[
    (
        "0001_init",
        include_str!("../../migrations/postgres/0001_init.sql"),
    ),
    (
        "0002_sandbox_trades",
        include_str!("../../migrations/postgres/0002_sandbox_trades.sql"),
    ),
    (
        "0003_management_keys",
        include_str!("../../migrations/postgres/0003_management_keys.sql"),
    ),
    (
        "0004_revocation",
        include_str!("../../migrations/postgres/0004_revocation.sql"),
    ),
    (
        "0005_wrapped_management_keys",
        include_str!("../../migrations/postgres/0005_wrapped_management_keys.sql"),
    ),
    (
        "0006_audit_trigger",
        include_str!("../../migrations/postgres/0006_audit_trigger.sql"),
    ),
    (
        "0007_stateless_challenges",
        include_str!("../../migrations/postgres/0007_stateless_challenges.sql"),
    ),
    (
        "0008_job_indexes",
        include_str!("../../migrations/postgres/0008_job_indexes.sql"),
    ),
    (
        "0009_outbox_claims",
        include_str!("../../migrations/postgres/0009_outbox_claims.sql"),
    ),
    (
        "0010_hardening",
        include_str!("../../migrations/postgres/0010_hardening.sql"),
    ),
    (
        "0011_providers",
        include_str!("../../migrations/postgres/0011_providers.sql"),
    ),
    (
        "0012_console_roles",
        include_str!("../../migrations/postgres/0012_console_roles.sql"),
    ),
];

impl Store {
    /// A transaction for a state change, on the writer (SQLite's single connection).
    pub async fn begin(&self) -> Result<sql::Tx, Error> {
        self.writer.begin().await
    }

    pub fn is_postgres(&self) -> bool {
        self.pool.is_postgres()
    }

    /// The connection that takes reads and writes alike, for the tests' and tools' own SQL
    /// (assertions on tables, planted rows). The server's code calls the store's methods.
    #[doc(hidden)]
    pub fn raw(&self) -> &Pool {
        &self.writer
    }

    /// The management key of the token holding the certificate `serial`, if the CA has it.
    pub async fn management_key(
        &self,
        serial: &str,
    ) -> Result<Option<ccid::keys::ManagementKey>, Error> {
        let row = sql::query(
            "SELECT algorithm, key_bytes, wrapped FROM management_keys WHERE cert_serial = $1",
        )
        .bind(serial)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let alg: i64 = row.try_get("algorithm")?;
        let stored: Vec<u8> = row.try_get("key_bytes")?;
        let key = if row.try_get::<i64>("wrapped")? == 1 {
            self.kek.unwrap(&stored).ok_or_else(|| {
                Error::Other(format!(
                    "the management key of {serial} does not unwrap with {} (another data directory's?)",
                    crate::keywrap::FILE
                ))
            })?
        } else {
            zeroize::Zeroizing::new(stored)
        };
        Ok(u8::try_from(alg)
            .ok()
            .and_then(ccid::piv::Algorithm::from_byte)
            .and_then(|a| ccid::keys::ManagementKey::new(a, &key).ok()))
    }

    /// Records (or replaces) the management key of the token holding certificate `serial`.
    pub async fn set_management_key(
        &self,
        serial: &str,
        key: &ccid::keys::ManagementKey,
        now: i64,
    ) -> Result<(), Error> {
        let wrapped = self
            .kek
            .wrap(key.bytes())
            .map_err(|e| Error::Other(e.to_string()))?;
        sql::query("INSERT INTO management_keys (cert_serial, algorithm, key_bytes, wrapped, created_at) VALUES ($1, $2, $3, 1, $4) ON CONFLICT (cert_serial) DO UPDATE SET algorithm = excluded.algorithm, key_bytes = excluded.key_bytes, wrapped = 1, created_at = excluded.created_at")
            .bind(serial)
            .bind(i64::from(key.algorithm() as u8))
            .bind(wrapped)
            .bind(now)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Wraps management keys stored before wrapping existed (once; later starts find none).
    async fn wrap_legacy_management_keys(&self) -> Result<(), Error> {
        let rows =
            sql::query("SELECT cert_serial, key_bytes FROM management_keys WHERE wrapped = 0")
                .fetch_all(&self.writer)
                .await?;
        for row in rows {
            let serial: String = row.try_get("cert_serial")?;
            let plain = zeroize::Zeroizing::new(row.try_get::<Vec<u8>>("key_bytes")?);
            let wrapped = self
                .kek
                .wrap(&plain)
                .map_err(|e| Error::Other(e.to_string()))?;
            sql::query("UPDATE management_keys SET key_bytes = $1, wrapped = 1 WHERE cert_serial = $2 AND wrapped = 0")
                .bind(wrapped)
                .bind(&serial)
                .execute(&self.writer)
                .await?;
        }
        Ok(())
    }

    /// Connects and applies pending migrations. `url` is `sqlite://PATH` or `postgres://…`.
    pub async fn connect(url: &str, kek: crate::keywrap::Kek) -> Result<Self, Error> {
        let kek = std::sync::Arc::new(kek);
        let (pool, writer) = if url.starts_with("postgres") {
            let pool = sql::open_postgres(url, 16).await?;
            (pool.clone(), pool)
        } else {
            // Readers only wait for one another for one statement at a time, so a few suffice.
            sql::open_sqlite(url, 4)?
        };
        let store = Self { pool, writer, kek };
        store.migrate().await?;
        store.wrap_legacy_management_keys().await?;
        Ok(store)
    }

    /// Migrations this build knows that the database has not applied (0 once `open` ran, unless
    /// the database was swapped or restored from an older copy under a running server).
    pub async fn pending_migrations(&self) -> Result<usize, Error> {
        let set = if self.writer.is_postgres() {
            POSTGRES_MIGRATIONS
        } else {
            SQLITE_MIGRATIONS
        };
        let applied: std::collections::HashSet<String> =
            sql::query("SELECT name FROM schema_migrations")
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|r| r.try_get::<String>("name"))
                .collect::<Result<_, _>>()?;
        Ok(set
            .iter()
            .filter(|(name, _)| !applied.contains(*name))
            .count())
    }

    async fn migrate(&self) -> Result<(), Error> {
        sql::query("CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)").execute(&self.writer).await?;
        let set = if self.writer.is_postgres() {
            POSTGRES_MIGRATIONS
        } else {
            SQLITE_MIGRATIONS
        };
        for (name, sql) in set {
            let done: Option<Row> =
                sql::query("SELECT name FROM schema_migrations WHERE name = $1")
                    .bind(*name)
                    .fetch_optional(&self.writer)
                    .await?;
            if done.is_some() {
                continue;
            }
            let mut tx = self.writer.begin().await?;
            for stmt in split_sql(sql) {
                crate::store::sql::query_owned(stmt)
                    .execute(&mut tx)
                    .await?;
            }
            sql::query("INSERT INTO schema_migrations (name, applied_at) VALUES ($1, $2)")
                .bind(*name)
                .bind(crate::now())
                .execute(&mut tx)
                .await?;
            tx.commit().await?;
        }
        Ok(())
    }
}

/// Splits a migration file into statements, dropping `--` comments. A `;` inside a `$$` body
/// (PostgreSQL functions) or a `CREATE TRIGGER … BEGIN … END` (SQLite) does not end a statement.
fn split_sql(sql: &str) -> Vec<String> {
    let cleaned: String = sql
        .lines()
        .map(|l| l.split("--").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_dollar = false;
    for part in cleaned.split_inclusive(';') {
        in_dollar ^= part.matches("$$").count() % 2 == 1;
        cur.push_str(part);
        let body = cur
            .trim()
            .trim_end_matches(';')
            .trim_end()
            .to_ascii_uppercase();
        let open_trigger = body.starts_with("CREATE TRIGGER")
            && body.split_whitespace().any(|w| w == "BEGIN")
            && !body.ends_with("END");
        if !in_dollar && !open_trigger {
            let stmt = cur.trim().trim_end_matches(';').trim();
            if !stmt.is_empty() {
                out.push(stmt.to_owned());
            }
            cur.clear();
        }
    }
    let rest = cur.trim();
    if !rest.is_empty() {
        out.push(rest.to_owned());
    }
    out
}

/// How far back `Store::lineage` follows renewals.
pub const MAX_LINEAGE: usize = 64;

/// An order as stored.
#[derive(Clone, Debug)]
pub struct Order {
    pub number: String,
    pub cert_fingerprint: String,
    pub cert_serial: String,
    pub subject: String,
    pub old_cert: Vec<u8>,
    pub old_not_after: i64,
    pub period_months: i64,
    pub fee_fen: i64,
    pub new_not_after: i64,
    pub form_json: String,
    pub operator_name: String,
    pub status: OrderStatus,
    pub applied_at: i64,
    pub updated_at: i64,
    pub remarks: String,
    pub issued_cert: Option<Vec<u8>>,
    pub issued_key: Option<String>,
    pub issued_at: Option<i64>,
    pub installed_at: Option<i64>,
    /// SHA-256 of the order token handed to the applicant.
    pub token_hash: String,
}

impl Order {
    pub fn from_row(r: &Row) -> Result<Self, Error> {
        let status: String = r.try_get("status")?;
        Ok(Self {
            number: r.try_get("number")?,
            cert_fingerprint: r.try_get("cert_fingerprint")?,
            cert_serial: r.try_get("cert_serial")?,
            subject: r.try_get("subject")?,
            old_cert: r.try_get("old_cert")?,
            old_not_after: r.try_get("old_not_after")?,
            period_months: r.try_get("period_months")?,
            fee_fen: r.try_get("fee_fen")?,
            new_not_after: r.try_get("new_not_after")?,
            form_json: r.try_get("form_json")?,
            operator_name: r.try_get("operator_name")?,
            status: OrderStatus::parse(&status)
                .ok_or_else(|| Error::Decode(format!("unknown status {status}")))?,
            applied_at: r.try_get("applied_at")?,
            updated_at: r.try_get("updated_at")?,
            remarks: r.try_get("remarks")?,
            issued_cert: r.try_get("issued_cert")?,
            issued_key: r.try_get("issued_key")?,
            issued_at: r.try_get("issued_at")?,
            installed_at: r.try_get("installed_at")?,
            token_hash: r.try_get("token_hash")?,
        })
    }
}

/// Where a payment stands. A payment never outlives its order: the order's end closes or
/// expires the pending ones, and money that comes anyway is refunded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PaymentStatus {
    /// Waiting for the payer (its QR code or page is live).
    Pending,
    Paid,
    /// Superseded by a newer payment of the order, or the order ended before payment.
    Closed,
    /// The payment time limit passed.
    Expired,
    /// Money taken and being returned: a refund is asked of the provider until it confirms.
    Refunding,
    Refunded,
}

impl PaymentStatus {
    pub const ALL: [PaymentStatus; 6] = [
        Self::Pending,
        Self::Paid,
        Self::Closed,
        Self::Expired,
        Self::Refunding,
        Self::Refunded,
    ];

    /// As stored (the `payments.status` column).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Paid => "paid",
            Self::Closed => "closed",
            Self::Expired => "expired",
            Self::Refunding => "refunding",
            Self::Refunded => "refunded",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

#[derive(Clone, Debug)]
pub struct Payment {
    pub id: String,
    pub order_number: String,
    pub method: String,
    pub amount_fen: i64,
    pub invoice_title: String,
    pub taxpayer_id: String,
    pub status: PaymentStatus,
    pub created_at: i64,
    pub expires_at: i64,
    pub paid_at: Option<i64>,
    /// What the provider gave to pay with (kept to show again).
    pub qr_payload: Option<String>,
    pub pay_url: Option<String>,
}

impl Payment {
    pub fn from_row(r: &Row) -> Result<Self, Error> {
        Ok(Self {
            id: r.try_get("id")?,
            order_number: r.try_get("order_number")?,
            method: r.try_get("method")?,
            amount_fen: r.try_get("amount_fen")?,
            invoice_title: r.try_get("invoice_title")?,
            taxpayer_id: r.try_get("taxpayer_id")?,
            status: {
                let text: String = r.try_get("status")?;
                PaymentStatus::parse(&text)
                    .ok_or_else(|| Error::Decode(format!("payment status {text:?}")))?
            },
            created_at: r.try_get("created_at")?,
            expires_at: r.try_get("expires_at")?,
            paid_at: r.try_get("paid_at")?,
            qr_payload: r.try_get("qr_payload")?,
            pay_url: r.try_get("pay_url")?,
        })
    }
}

/// What a transition records besides the new status, in the same statement.
pub enum Also<'a> {
    Nothing,
    /// approved → issued: the certificate and the fingerprint of the key it certifies.
    Issued {
        cert: &'a [u8],
        key: &'a str,
    },
    /// issued → installed: the install time (= the transition's time).
    Installed,
}

/// One step of an order's life: which order, from which status, by which event, who and when.
pub struct Step<'a> {
    pub number: &'a str,
    pub from: OrderStatus,
    pub event: Event,
    pub actor: &'a str,
    pub note: &'a str,
    pub at: i64,
    pub also: Also<'a>,
}

impl<'a> Step<'a> {
    pub fn new(number: &'a str, from: OrderStatus, event: Event, actor: &'a str, at: i64) -> Self {
        Self {
            number,
            from,
            event,
            actor,
            note: "",
            at,
            also: Also::Nothing,
        }
    }

    /// The reason or reference kept in the audit record.
    pub fn note(self, note: &'a str) -> Self {
        Self { note, ..self }
    }

    pub fn also(self, also: Also<'a>) -> Self {
        Self { also, ..self }
    }
}

/// Why a step did not happen.
#[derive(Debug, thiserror::Error)]
pub enum TransitionError {
    /// The event cannot happen in that status (refused before any write, in every build).
    #[error(transparent)]
    Illegal(#[from] api::Illegal),
    /// The order was no longer in the status the step started from: someone moved it first.
    #[error("order {number} is no longer {}: it changed meanwhile", .from.as_str())]
    Moved { number: String, from: OrderStatus },
    #[error(transparent)]
    Store(#[from] Error),
}

/// Applies a step inside `tx`: the state machine decides the new status, and the database's
/// trigger writes the audit record (who, when, from → to, note) in the same statement.
pub async fn transition(tx: &mut sql::Tx, step: Step<'_>) -> Result<OrderStatus, TransitionError> {
    let to = step.from.on(step.event)?;
    macro_rules! update {
        ($extra:literal) => {
            concat!(
                "UPDATE orders SET status = $1, open = $2, updated_at = $3, actor = $6, transition_note = $7",
                $extra,
                " WHERE number = $4 AND status = $5"
            )
        };
    }
    let sql = match step.also {
        Also::Nothing => update!(""),
        Also::Issued { .. } => update!(", issued_cert = $8, issued_key = $9, issued_at = $3"),
        Also::Installed => update!(", installed_at = $3"),
    };
    let mut q = sql::query(sql)
        .bind(to.as_str())
        .bind(i64::from(to.is_open()))
        .bind(step.at)
        .bind(step.number)
        .bind(step.from.as_str())
        .bind(step.actor)
        .bind(step.note);
    if let Also::Issued { cert, key } = step.also {
        q = q.bind(cert.to_vec()).bind(key);
    }
    if q.execute(&mut *tx).await?.rows_affected() == 1 {
        Ok(to)
    } else {
        Err(TransitionError::Moved {
            number: step.number.to_string(),
            from: step.from,
        })
    }
}

impl Store {
    pub async fn order(&self, number: &str) -> Result<Option<Order>, Error> {
        let row = sql::query("SELECT * FROM orders WHERE number = $1")
            .bind(number)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(Order::from_row).transpose()
    }

    pub async fn latest_payment(&self, order: &str) -> Result<Option<Payment>, Error> {
        let row = sql::query("SELECT * FROM payments WHERE order_number = $1 ORDER BY created_at DESC, id DESC LIMIT 1")
            .bind(order)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(Payment::from_row).transpose()
    }

    /// The payment an order was paid with (at most one is `paid`; others are refunded).
    pub async fn paid_payment(&self, order: &str) -> Result<Option<Payment>, Error> {
        let row = sql::query("SELECT * FROM payments WHERE order_number = $1 AND status = 'paid' ORDER BY paid_at DESC LIMIT 1")
            .bind(order)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(Payment::from_row).transpose()
    }

    pub async fn payment(&self, id: &str) -> Result<Option<Payment>, Error> {
        let row = sql::query("SELECT * FROM payments WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(Payment::from_row).transpose()
    }

    /// Whether this CA revoked the certificate `serial` (unknown serials are not revoked).
    pub async fn revoked(&self, serial: &str) -> Result<bool, Error> {
        let row = sql::query("SELECT revoked_at FROM certificates WHERE serial = $1")
            .bind(serial)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => r.try_get::<Option<i64>>("revoked_at")?.is_some(),
            None => false,
        })
    }

    /// Whether the certificate `serial` has a successor installed by a renewal order.
    pub async fn renewed(&self, serial: &str) -> Result<bool, Error> {
        let row =
            sql::query("SELECT number FROM orders WHERE cert_serial = $1 AND status = $2 LIMIT 1")
                .bind(serial)
                .bind(OrderStatus::Installed.as_str())
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.is_some())
    }

    /// The certificate `serial` and those it renewed, newest first (bounded: a line of yearly
    /// renewals is decades long, a cycle in bad data must not loop).
    pub async fn lineage(&self, serial: &str) -> Result<Vec<String>, Error> {
        let mut line = vec![serial.to_string()];
        while line.len() < MAX_LINEAGE {
            let row = sql::query("SELECT renews FROM certificates WHERE serial = $1")
                .bind(&line[line.len() - 1])
                .fetch_optional(&self.pool)
                .await?;
            match row
                .map(|r| r.try_get::<Option<String>>("renews"))
                .transpose()?
            {
                Some(Some(prev)) if !line.contains(&prev) => line.push(prev),
                _ => break,
            }
        }
        Ok(line)
    }

    /// The newest order that renewed one of `serials`.
    pub async fn last_order_of(&self, serials: &[String]) -> Result<Option<String>, Error> {
        let mut newest: Option<(i64, String)> = None;
        for serial in serials {
            let row = sql::query("SELECT number, applied_at FROM orders WHERE cert_serial = $1 ORDER BY applied_at DESC, number DESC LIMIT 1")
                .bind(serial)
                .fetch_optional(&self.pool)
                .await?;
            if let Some(r) = row {
                let at: i64 = r.try_get("applied_at")?;
                if newest.as_ref().is_none_or(|(t, _)| at > *t) {
                    newest = Some((at, r.try_get("number")?));
                }
            }
            // The newest certificate's own orders come first; an older one's are older.
            if newest.is_some() {
                break;
            }
        }
        Ok(newest.map(|(_, n)| n))
    }

    pub async fn audit_count(&self, number: &str) -> Result<i64, Error> {
        let row = sql::query("SELECT COUNT(*) AS n FROM audit WHERE order_number = $1")
            .bind(number)
            .fetch_one(&self.pool)
            .await?;
        row.try_get("n")
    }
}

/// Queues a notice to the operator of an application, by e-mail and by SMS, inside `tx`.
pub async fn notify_operator(
    tx: &mut sql::Tx,
    form: &api::ApplicationForm,
    subject: &str,
    body: &str,
    now: i64,
) -> Result<(), Error> {
    sql::query("INSERT INTO outbox (kind, recipient, subject, body, created_at) VALUES ('email', $1, $3, $4, $5), ('sms', $2, $3, $4, $5)")
        .bind(&form.operator.email)
        .bind(&form.operator.mobile)
        .bind(subject)
        .bind(body)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Writes what a console account did (or looked at) in the console's own audit trail, in the
/// caller's transaction.
pub async fn record_console(
    tx: &mut crate::store::sql::Tx,
    who: &str,
    action: &str,
    target: &str,
    detail: &str,
) -> Result<(), crate::store::sql::Error> {
    crate::store::sql::query("INSERT INTO console_audit (at, username, action, target, detail) VALUES ($1, $2, $3, $4, $5)")
        .bind(crate::now())
        .bind(who)
        .bind(action)
        .bind(target)
        .bind(detail)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

#[cfg(test)]
pub(crate) use sql::TestDir;

/// A migrated SQLite store in a temporary directory (unit tests).
#[cfg(test)]
pub(crate) async fn test_store() -> (TestDir, Store) {
    let dir = TestDir::new();
    let db = Store::connect(&dir.sqlite_url(), crate::keywrap::Kek::new(&[9; 32]))
        .await
        .unwrap();
    (dir, db)
}

#[cfg(test)]
mod tests {
    use super::split_sql;

    #[test]
    fn migrations_split_into_whole_statements() {
        let sqlite = split_sql(include_str!(
            "../../migrations/sqlite/0006_audit_trigger.sql"
        ));
        assert_eq!(sqlite.len(), 4, "{sqlite:#?}");
        assert!(sqlite[2].starts_with("CREATE TRIGGER orders_audit_insert"));
        assert!(sqlite[2].ends_with("END") && sqlite[2].contains("NEW.transition_note);"));
        let pg = split_sql(include_str!(
            "../../migrations/postgres/0006_audit_trigger.sql"
        ));
        assert_eq!(pg.len(), 5, "{pg:#?}");
        assert!(pg[2].starts_with("CREATE FUNCTION") && pg[2].ends_with("$$"));
        assert!(pg[4].starts_with("CREATE TRIGGER orders_audit_update"));
        // Plain files split as before; several statements on one line included.
        assert_eq!(
            split_sql(
                "CREATE TABLE a (x INT); -- one\nINSERT INTO a VALUES (1);INSERT INTO a VALUES (2)"
            ),
            [
                "CREATE TABLE a (x INT)",
                "INSERT INTO a VALUES (1)",
                "INSERT INTO a VALUES (2)",
            ]
        );
    }
}

#[cfg(test)]
mod payment_status_tests {
    use super::PaymentStatus;

    #[test]
    fn every_status_reads_back_and_nothing_else_does() {
        for s in PaymentStatus::ALL {
            assert_eq!(PaymentStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(PaymentStatus::parse("PAID"), None);
        assert_eq!(PaymentStatus::parse(""), None);
    }
}
