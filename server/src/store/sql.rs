//! The query layer under `Store`: one API for both databases, shaped like sqlx's
//! (`query(..).bind(..).fetch_one(&pool)`, `pool.begin()`, `tx.commit()`).
//!
//! SQLite runs in-process through rusqlite, on the calling thread: a statement takes
//! microseconds, and handing each one to a worker thread and back (as sqlx-sqlite does) cost more
//! than the statement — about 100 context switches per renewal and most of the server's CPU.
//! Writes go through one connection behind an async mutex (a transaction holds it until commit or
//! drop); reads take one of a few reader connections, which WAL lets run beside the writer.
//! PostgreSQL goes through sqlx. Statements use `$n` placeholders, which both accept.

use std::borrow::Cow;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;

use sqlx::postgres::{PgPool, PgRow, Postgres};

/// What a statement failed with.
#[derive(Debug)]
pub enum Error {
    Sqlite(rusqlite::Error),
    Postgres(sqlx::Error),
    /// `fetch_one` found no row.
    RowNotFound,
    /// A column was missing or of another type than asked for.
    Decode(String),
    /// Anything else the layer or its callers refuse (kept as text).
    Other(String),
}

impl Error {
    /// True for a UNIQUE / PRIMARY KEY violation, on either database.
    pub fn is_unique_violation(&self) -> bool {
        match self {
            Error::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => {
                e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                    || e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
            }
            Error::Postgres(sqlx::Error::Database(d)) => d.is_unique_violation(),
            _ => false,
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Sqlite(e) => write!(f, "sqlite: {e}"),
            Error::Postgres(e) => write!(f, "postgres: {e}"),
            Error::RowNotFound => f.write_str("no row where one was expected"),
            Error::Decode(m) | Error::Other(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Error {}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::Sqlite(e)
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Error::Postgres(e)
    }
}

/// The column type of a NULL, which PostgreSQL needs to type the parameter.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind {
    Int,
    Text,
    Blob,
}

/// A bound parameter or a SQLite column value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null(Kind),
    Int(i64),
    Text(String),
    Blob(Vec<u8>),
}

/// A Rust value that binds as a parameter.
pub trait Param {
    const KIND: Kind;
    fn value(self) -> Value;
}

macro_rules! param {
    ($kind:ident, $variant:ident, $($t:ty => $conv:expr),+) => {$(
        impl Param for $t {
            const KIND: Kind = Kind::$kind;
            fn value(self) -> Value {
                #[allow(clippy::redundant_closure_call)]
                Value::$variant(($conv)(self))
            }
        }
    )+};
}
param!(Int, Int, i64 => |v| v, i32 => i64::from, u32 => i64::from);
param!(Text, Text, String => |v| v, &str => str::to_owned, &String => |v: &String| v.clone());
param!(Blob, Blob, Vec<u8> => |v| v, &[u8] => <[u8]>::to_vec, &Vec<u8> => |v: &Vec<u8>| v.clone());

impl<T: Param> Param for Option<T> {
    const KIND: Kind = T::KIND;
    fn value(self) -> Value {
        self.map_or(Value::Null(T::KIND), Param::value)
    }
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::ValueRef;
        Ok(rusqlite::types::ToSqlOutput::Borrowed(match self {
            Value::Null(_) => ValueRef::Null,
            Value::Int(i) => ValueRef::Integer(*i),
            Value::Text(s) => ValueRef::Text(s.as_bytes()),
            Value::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

/// A row read back.
pub enum Row {
    Sqlite {
        columns: Arc<[String]>,
        values: Vec<Value>,
    },
    Postgres(PgRow),
}

/// A Rust value a column decodes into.
pub trait Decode: Sized {
    fn from_value(v: &Value) -> Option<Self>;
    fn from_pg(row: &PgRow, column: &str) -> Result<Self, sqlx::Error>;
}

macro_rules! decode {
    ($t:ty, $pat:pat => $out:expr) => {
        impl Decode for $t {
            fn from_value(v: &Value) -> Option<Self> {
                match v {
                    $pat => Some($out),
                    _ => None,
                }
            }
            fn from_pg(row: &PgRow, column: &str) -> Result<Self, sqlx::Error> {
                sqlx::Row::try_get(row, column)
            }
        }
        impl Decode for Option<$t> {
            fn from_value(v: &Value) -> Option<Self> {
                match v {
                    Value::Null(_) => Some(None),
                    other => <$t>::from_value(other).map(Some),
                }
            }
            fn from_pg(row: &PgRow, column: &str) -> Result<Self, sqlx::Error> {
                sqlx::Row::try_get(row, column)
            }
        }
    };
}
decode!(String, Value::Text(s) => s.clone());
decode!(Vec<u8>, Value::Blob(b) => b.clone());

// PostgreSQL INTEGER columns are 32-bit; sqlx decodes them only into i32.
fn pg_int(row: &PgRow, column: &str) -> Result<Option<i64>, sqlx::Error> {
    match sqlx::Row::try_get::<Option<i64>, _>(row, column) {
        Ok(v) => Ok(v),
        Err(e @ sqlx::Error::ColumnDecode { .. }) => {
            sqlx::Row::try_get::<Option<i32>, _>(row, column)
                .map(|v| v.map(i64::from))
                .map_err(|_| e)
        }
        Err(e) => Err(e),
    }
}

impl Decode for i64 {
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }
    fn from_pg(row: &PgRow, column: &str) -> Result<Self, sqlx::Error> {
        pg_int(row, column)?.ok_or_else(|| sqlx::Error::ColumnDecode {
            index: column.to_owned(),
            source: "unexpected NULL".into(),
        })
    }
}

impl Decode for Option<i64> {
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Null(_) => Some(None),
            Value::Int(i) => Some(Some(*i)),
            _ => None,
        }
    }
    fn from_pg(row: &PgRow, column: &str) -> Result<Self, sqlx::Error> {
        pg_int(row, column)
    }
}

impl Row {
    /// The value of `column`, as `T`.
    pub fn try_get<T: Decode>(&self, column: &str) -> Result<T, Error> {
        match self {
            Row::Sqlite { columns, values } => {
                let i = columns
                    .iter()
                    .position(|c| c == column)
                    .ok_or_else(|| Error::Decode(format!("no column {column}")))?;
                T::from_value(&values[i]).ok_or_else(|| {
                    Error::Decode(format!(
                        "column {column} holds {:?}, not {}",
                        values[i],
                        std::any::type_name::<T>()
                    ))
                })
            }
            Row::Postgres(r) => Ok(T::from_pg(r, column)?),
        }
    }
}

/// A statement with its parameters.
pub struct Query {
    sql: Cow<'static, str>,
    args: Vec<Value>,
}

/// A statement in the program's text (prepared once per connection and cached).
pub fn query(sql: &'static str) -> Query {
    Query {
        sql: Cow::Borrowed(sql),
        args: Vec::new(),
    }
}

/// A statement built at run time (migrations); not cached.
pub fn query_owned(sql: String) -> Query {
    Query {
        sql: Cow::Owned(sql),
        args: Vec::new(),
    }
}

/// Where a statement runs: a pool (its own short transaction) or an open transaction.
pub enum Target<'a> {
    Pool(&'a Pool),
    Tx(&'a mut Tx),
}

impl<'a> From<&'a Pool> for Target<'a> {
    fn from(p: &'a Pool) -> Self {
        Target::Pool(p)
    }
}

impl<'a> From<&'a mut Tx> for Target<'a> {
    fn from(t: &'a mut Tx) -> Self {
        Target::Tx(t)
    }
}

/// What `execute` reports.
pub struct Done(u64);

impl Done {
    pub fn rows_affected(&self) -> u64 {
        self.0
    }
}

impl Query {
    pub fn bind(mut self, v: impl Param) -> Self {
        self.args.push(v.value());
        self
    }

    pub async fn execute<'a>(self, target: impl Into<Target<'a>>) -> Result<Done, Error> {
        match self.run(target.into(), false).await? {
            Out::Done(n) => Ok(Done(n)),
            Out::Rows(_) => unreachable!("execute asked for no rows"),
        }
    }

    pub async fn fetch_all<'a>(self, target: impl Into<Target<'a>>) -> Result<Vec<Row>, Error> {
        match self.run(target.into(), true).await? {
            Out::Rows(r) => Ok(r),
            Out::Done(_) => unreachable!("fetch asked for rows"),
        }
    }

    pub async fn fetch_optional<'a>(
        self,
        target: impl Into<Target<'a>>,
    ) -> Result<Option<Row>, Error> {
        Ok(self.fetch_all(target).await?.into_iter().next())
    }

    pub async fn fetch_one<'a>(self, target: impl Into<Target<'a>>) -> Result<Row, Error> {
        self.fetch_optional(target).await?.ok_or(Error::RowNotFound)
    }

    async fn run(self, target: Target<'_>, rows: bool) -> Result<Out, Error> {
        match target {
            Target::Pool(p) => match &p.0 {
                PoolInner::Sqlite { lite, write: false } => lite.read(|c| self.on_sqlite(c, rows)),
                PoolInner::Sqlite { lite, write: true } => {
                    let c = lite.writer.lock().await;
                    self.on_sqlite(&c, rows)
                }
                PoolInner::Postgres(pool) => self.on_postgres(pool, rows).await,
            },
            Target::Tx(tx) => match &mut tx.0 {
                TxInner::Sqlite { conn, .. } => self.on_sqlite(conn, rows),
                TxInner::Postgres(Some(t)) => self.on_postgres(&mut **t, rows).await,
                TxInner::Postgres(None) => Err(Error::Other("transaction already finished".into())),
            },
        }
    }

    fn on_sqlite(&self, conn: &rusqlite::Connection, rows: bool) -> Result<Out, Error> {
        match &self.sql {
            Cow::Borrowed(sql) => sqlite_step(&mut *conn.prepare_cached(sql)?, &self.args, rows),
            Cow::Owned(sql) => sqlite_step(&mut conn.prepare(sql)?, &self.args, rows),
        }
    }

    async fn on_postgres<'c, E>(self, e: E, rows: bool) -> Result<Out, Error>
    where
        E: sqlx::Executor<'c, Database = Postgres>,
    {
        let mut q = match self.sql {
            Cow::Borrowed(s) => sqlx::query(s),
            Cow::Owned(s) => sqlx::query(sqlx::AssertSqlSafe(s)),
        };
        for a in self.args {
            q = match a {
                Value::Int(i) => q.bind(i),
                Value::Text(s) => q.bind(s),
                Value::Blob(b) => q.bind(b),
                Value::Null(Kind::Int) => q.bind(None::<i64>),
                Value::Null(Kind::Text) => q.bind(None::<String>),
                Value::Null(Kind::Blob) => q.bind(None::<Vec<u8>>),
            };
        }
        Ok(if rows {
            Out::Rows(
                q.fetch_all(e)
                    .await?
                    .into_iter()
                    .map(Row::Postgres)
                    .collect(),
            )
        } else {
            Out::Done(q.execute(e).await?.rows_affected())
        })
    }
}

enum Out {
    Done(u64),
    Rows(Vec<Row>),
}

/// Binds `$n` by name (SQLite numbers parameters by first appearance, so `$3 … $1` would
/// otherwise shift) and steps the statement to its end.
fn sqlite_step(
    stmt: &mut rusqlite::Statement<'_>,
    args: &[Value],
    rows: bool,
) -> Result<Out, Error> {
    for i in 1..=stmt.parameter_count() {
        let n = stmt
            .parameter_name(i)
            .and_then(|name| name.strip_prefix('$'))
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| (1..=args.len()).contains(n))
            .ok_or_else(|| {
                Error::Other(format!(
                    "parameter {i} of a statement is not one of $1..${}",
                    args.len()
                ))
            })?;
        stmt.raw_bind_parameter(i, &args[n - 1])?;
    }
    if !rows {
        return Ok(Out::Done(stmt.raw_execute()? as u64));
    }
    let columns: Arc<[String]> = stmt.column_names().map(String::from).collect();
    let mut cursor = stmt.raw_query();
    let mut out = Vec::new();
    while let Some(r) = cursor.next()? {
        let mut values = Vec::with_capacity(columns.len());
        for i in 0..columns.len() {
            use rusqlite::types::ValueRef;
            values.push(match r.get_ref(i)? {
                ValueRef::Null => Value::Null(Kind::Text),
                ValueRef::Integer(v) => Value::Int(v),
                ValueRef::Real(v) => Value::Text(v.to_string()),
                ValueRef::Text(t) => {
                    Value::Text(String::from_utf8(t.to_vec()).map_err(|_| {
                        Error::Decode(format!("column {} is not UTF-8", columns[i]))
                    })?)
                }
                ValueRef::Blob(b) => Value::Blob(b.to_vec()),
            });
        }
        out.push(Row::Sqlite {
            columns: columns.clone(),
            values,
        });
    }
    Ok(Out::Rows(out))
}

struct Lite {
    writer: Arc<tokio::sync::Mutex<rusqlite::Connection>>,
    readers: Vec<std::sync::Mutex<rusqlite::Connection>>,
    next: AtomicUsize,
    /// Dropped with the pools, which stops the checkpoint thread.
    _checkpoints: std::sync::mpsc::Sender<()>,
}

/// How often the WAL is copied back into the database file (often: each checkpoint holds writers
/// for as long as it copies; measured against 200 ms and against SQLite's own every 1,000 pages,
/// 50 ms gave the same or less CPU per renewal and a lower p99).
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(50);
/// Checkpoint passes beside the writer per round, at most, and the number of new frames below
/// which the round goes on to the step under the writer's lock.
const MAX_PASSES: usize = 4;
const FEW_FRAMES: i64 = 64;

/// Checkpoints on a thread of their own. SQLite's automatic checkpoint runs inside a writer's
/// COMMIT — on an async worker thread, with an fsync in it — and stalls every request on that
/// thread meanwhile. Each round copies the WAL in two steps: first beside the writer on a
/// connection of its own (the bulk of the copying and its fsync; writers go on), then holding the
/// writer's lock for the few frames appended meanwhile — with nothing appended during that step it
/// copies the whole WAL, so the next write starts the WAL over. (Checkpointing only beside the
/// writer never catches up under steady writes: the WAL grew by ≈ 100 KB per renewal without bound.
/// Copying everything under the lock held writers 7 ms at the median, up to 43 ms, 1.06 s of a
/// 5.5 s load run; in two steps 0.5–0.7 ms, up to 24 ms, 0.24–0.36 s.)
fn spawn_checkpointer(
    path: &str,
    writer: Arc<tokio::sync::Mutex<rusqlite::Connection>>,
) -> Result<std::sync::mpsc::Sender<()>, Error> {
    let own = open_sqlite_conn(path, false)?;
    own.execute_batch("PRAGMA wal_autocheckpoint=0")?;
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    std::thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(move || {
            let passive = |c: &rusqlite::Connection| {
                c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                    Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
                })
            };
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                rx.recv_timeout(CHECKPOINT_EVERY)
            {
                // Passes beside the writer while they shrink fast (each copies what was appended
                // during the last), until one finds few new frames; then the short step under
                // the lock. When writes come nearly as fast as the copying, the lock at once.
                let mut beside = passive(&own);
                let mut seen = beside.as_ref().map_or(0, |r| r.0);
                let mut copied = seen;
                for _ in 1..MAX_PASSES {
                    let again = passive(&own);
                    let log = again.as_ref().map_or(0, |r| r.0);
                    beside = beside.and(again);
                    // A WAL started over since the last pass counts from its start.
                    let appended = if log >= seen { log - seen } else { log };
                    seen = log;
                    if appended < FEW_FRAMES || appended * 2 >= copied {
                        break;
                    }
                    copied = appended;
                }
                let conn = writer.blocking_lock();
                let second = passive(&conn);
                if let Err(e) = beside.and(second) {
                    tracing::warn!(error = %e, "WAL checkpoint failed (retried)");
                }
            }
        })
        .map_err(|e| Error::Other(format!("checkpoint thread: {e}")))?;
    Ok(tx)
}

impl Lite {
    /// Runs `f` on a free reader connection (or waits briefly for one; reads never await while
    /// holding it, so the wait is one statement long).
    fn read<T>(&self, f: impl FnOnce(&rusqlite::Connection) -> T) -> T {
        f(&crate::lock_any(&self.readers, &self.next))
    }
}

/// A handle for reads or for writes.
#[derive(Clone)]
pub struct Pool(PoolInner);

#[derive(Clone)]
enum PoolInner {
    Sqlite { lite: Arc<Lite>, write: bool },
    Postgres(PgPool),
}

/// An open transaction: committed by `commit`, rolled back when dropped without it.
pub struct Tx(TxInner);

enum TxInner {
    Sqlite {
        conn: tokio::sync::OwnedMutexGuard<rusqlite::Connection>,
        open: bool,
    },
    /// `None` once committed.
    Postgres(Option<sqlx::Transaction<'static, Postgres>>),
}

impl Pool {
    /// Starts a transaction. On SQLite it takes the write lock at once (BEGIN IMMEDIATE).
    pub async fn begin(&self) -> Result<Tx, Error> {
        match &self.0 {
            PoolInner::Sqlite { lite, .. } => {
                let conn = lite.writer.clone().lock_owned().await;
                conn.execute_batch("BEGIN IMMEDIATE")?;
                Ok(Tx(TxInner::Sqlite { conn, open: true }))
            }
            PoolInner::Postgres(p) => Ok(Tx(TxInner::Postgres(Some(p.begin().await?)))),
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self.0, PoolInner::Postgres(_))
    }
}

impl Tx {
    pub async fn commit(mut self) -> Result<(), Error> {
        match &mut self.0 {
            TxInner::Sqlite { conn, open } => {
                // On failure Drop rolls back, so the connection never stays inside a transaction.
                conn.execute_batch("COMMIT")?;
                *open = false;
                Ok(())
            }
            TxInner::Postgres(t) => match t.take() {
                Some(t) => Ok(t.commit().await?),
                None => Err(Error::Other("transaction already finished".into())),
            },
        }
    }
}

impl Drop for Tx {
    fn drop(&mut self) {
        if let TxInner::Sqlite { conn, open: true } = &mut self.0 {
            if let Err(e) = conn.execute_batch("ROLLBACK") {
                tracing::error!("rollback failed: {e}");
            }
        }
    }
}

fn open_sqlite_conn(path: &str, reader: bool) -> Result<rusqlite::Connection, Error> {
    let c = rusqlite::Connection::open(path)?;
    c.set_prepared_statement_cache_capacity(128);
    // WAL lets readers run beside the writer; NORMAL syncs at checkpoints, which survives a
    // killed process (not a power cut of the last moments); a busy lock waits instead of failing.
    if !reader {
        c.query_row("PRAGMA journal_mode=WAL", [], |_| Ok(()))?;
    }
    c.execute_batch(
        "PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000; PRAGMA foreign_keys=ON",
    )?;
    if reader {
        c.execute_batch("PRAGMA query_only=ON")?;
    }
    Ok(c)
}

/// Opens `sqlite://PATH[?…]` (created if missing): the writer first (it switches the file to
/// WAL), then `readers` reader connections. Returns (reads, writes).
/// The database holds operators' ID numbers and phones: created owner-only, and its WAL and
/// shared-memory files with it (SQLite gives those the database file's mode). Files left by an
/// older version are tightened.
fn owner_only_database(path: &str) -> Result<(), Error> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        if path.is_empty() || path.starts_with(':') {
            return Ok(()); // in memory
        }
        let io = |e: std::io::Error| Error::Other(format!("{path}: {e}"));
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
            .map_err(io)?;
        for suffix in ["", "-wal", "-shm"] {
            let file = format!("{path}{suffix}");
            if std::path::Path::new(&file).exists() {
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))
                    .map_err(io)?;
            }
        }
    }
    Ok(())
}

/// The file of a `sqlite://PATH[?…]` URL.
fn sqlite_path(url: &str) -> &str {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    path.split('?').next().unwrap_or(path)
}

/// A consistent copy of the SQLite database at `url` in the new file `target` (`VACUUM INTO`
/// on a connection of its own: one read transaction, so the server's writes go on meanwhile).
pub async fn sqlite_copy(url: &str, target: &std::path::Path) -> Result<(), Error> {
    let (path, target) = (sqlite_path(url).to_string(), target.to_path_buf());
    tokio::task::spawn_blocking(move || {
        let c = rusqlite::Connection::open_with_flags(
            &path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        c.busy_timeout(std::time::Duration::from_secs(10))?;
        let target = target
            .to_str()
            .ok_or_else(|| Error::Other("the backup's path is not UTF-8".into()))?;
        c.execute("VACUUM INTO ?1", [target])?;
        Ok(())
    })
    .await
    .map_err(|e| Error::Other(e.to_string()))?
}

pub fn open_sqlite(url: &str, readers: usize) -> Result<(Pool, Pool), Error> {
    let path = sqlite_path(url);
    owner_only_database(path)?;
    let writer = open_sqlite_conn(path, false)?;
    // The WAL file keeps its high-water size after a restart; past 16 MB it is cut back.
    writer.execute_batch("PRAGMA wal_autocheckpoint=0; PRAGMA journal_size_limit=16777216")?;
    let readers = (0..readers.max(1))
        .map(|_| open_sqlite_conn(path, true).map(std::sync::Mutex::new))
        .collect::<Result<Vec<_>, _>>()?;
    let writer = Arc::new(tokio::sync::Mutex::new(writer));
    let checkpoints = spawn_checkpointer(path, writer.clone())?;
    let lite = Arc::new(Lite {
        writer,
        readers,
        next: AtomicUsize::new(0),
        _checkpoints: checkpoints,
    });
    Ok((
        Pool(PoolInner::Sqlite {
            lite: lite.clone(),
            write: false,
        }),
        Pool(PoolInner::Sqlite { lite, write: true }),
    ))
}

/// Connects to PostgreSQL; the same pool serves reads and writes.
pub async fn open_postgres(url: &str, connections: u32) -> Result<Pool, Error> {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(connections)
        .connect(url)
        .await?;
    Ok(Pool(PoolInner::Postgres(pool)))
}

/// A temporary directory for unit tests, removed when dropped.
#[cfg(test)]
pub(crate) struct TestDir(pub std::path::PathBuf);

#[cfg(test)]
impl TestDir {
    pub(crate) fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("certrenew-unit-{}", crate::random_id(6)));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    /// A SQLite database in it: `sqlite://DIR/t.db`.
    pub(crate) fn sqlite_url(&self) -> String {
        format!("sqlite://{}?mode=rwc", self.0.join("t.db").display())
    }
}

#[cfg(test)]
impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::TestDir as Dir;

    async fn store() -> (Dir, Pool, Pool) {
        let dir = Dir::new();
        let (read, write) = open_sqlite(&dir.sqlite_url(), 2).unwrap();
        query("CREATE TABLE t (k TEXT PRIMARY KEY, n BIGINT, b BLOB)")
            .execute(&write)
            .await
            .unwrap();
        (dir, read, write)
    }

    #[tokio::test]
    async fn parameters_bind_by_number_not_by_position() {
        let (_d, read, write) = store().await;
        // SQLite numbers `$n` by first appearance; `$3` first must still get the third value.
        query("INSERT INTO t (b, n, k) VALUES ($3, $2, $1)")
            .bind("key")
            .bind(7i64)
            .bind(vec![1u8, 2])
            .execute(&write)
            .await
            .unwrap();
        let r = query("SELECT * FROM t WHERE k = $1 AND n = $2 AND n < $2 + $2")
            .bind("key")
            .bind(7i64)
            .fetch_one(&read)
            .await
            .unwrap();
        assert_eq!(r.try_get::<Vec<u8>>("b").unwrap(), [1, 2]);
        assert_eq!(r.try_get::<Option<i64>>("n").unwrap(), Some(7));
        // A placeholder with no value is an error, not a NULL.
        let e = query("SELECT * FROM t WHERE k = $2")
            .bind("key")
            .fetch_all(&read)
            .await
            .err()
            .expect("unbound $2");
        assert!(e.to_string().contains("$1..$1"), "{e}");
    }

    #[tokio::test]
    async fn nulls_types_and_missing_columns_are_errors_not_panics() {
        let (_d, read, write) = store().await;
        query("INSERT INTO t (k, n, b) VALUES ($1, $2, $3)")
            .bind("a")
            .bind(None::<i64>)
            .bind(None::<Vec<u8>>)
            .execute(&write)
            .await
            .unwrap();
        let r = query("SELECT k, n, b FROM t")
            .fetch_one(&read)
            .await
            .unwrap();
        assert_eq!(r.try_get::<Option<i64>>("n").unwrap(), None);
        assert_eq!(r.try_get::<Option<Vec<u8>>>("b").unwrap(), None);
        assert!(matches!(r.try_get::<i64>("n"), Err(Error::Decode(_))));
        assert!(matches!(r.try_get::<i64>("k"), Err(Error::Decode(_))));
        assert!(matches!(r.try_get::<String>("nope"), Err(Error::Decode(_))));
        assert!(matches!(
            query("SELECT k FROM t WHERE k = 'zz'")
                .fetch_one(&read)
                .await,
            Err(Error::RowNotFound)
        ));
    }

    #[tokio::test]
    async fn a_dropped_transaction_rolls_back_and_a_committed_one_is_seen_by_readers() {
        let (_d, read, write) = store().await;
        let count = || async {
            query("SELECT COUNT(*) AS n FROM t")
                .fetch_one(&read)
                .await
                .unwrap()
                .try_get::<i64>("n")
                .unwrap()
        };
        {
            let mut tx = write.begin().await.unwrap();
            query("INSERT INTO t (k) VALUES ('x')")
                .execute(&mut tx)
                .await
                .unwrap();
            // Not visible outside before commit.
            assert_eq!(count().await, 0);
        }
        assert_eq!(count().await, 0, "dropped without commit");
        let mut tx = write.begin().await.unwrap();
        let done = query("INSERT INTO t (k) VALUES ('x'), ('y')")
            .execute(&mut tx)
            .await
            .unwrap();
        assert_eq!(done.rows_affected(), 2);
        tx.commit().await.unwrap();
        assert_eq!(count().await, 2);
        // The writer is free again after both.
        let e = query("INSERT INTO t (k) VALUES ('x')")
            .execute(&write)
            .await
            .err()
            .expect("duplicate key");
        assert!(e.is_unique_violation(), "{e}");
        // Readers cannot write.
        assert!(query("DELETE FROM t").execute(&read).await.is_err());
        assert_eq!(count().await, 2);
    }

    #[tokio::test]
    async fn the_wal_is_checkpointed_in_the_background() {
        let (dir, read, write) = store().await;
        let main = dir.0.join("t.db");
        let before = std::fs::metadata(&main).unwrap().len();
        for i in 0..64i64 {
            query("INSERT INTO t (k, n, b) VALUES ($1, $2, $3)")
                .bind(format!("k{i}"))
                .bind(i)
                .bind(vec![i as u8; 16 * 1024])
                .execute(&write)
                .await
                .unwrap();
        }
        // Commits go to the WAL only; the database file grows when a checkpoint copies them.
        let mut grown = 0;
        for _ in 0..50 {
            tokio::time::sleep(CHECKPOINT_EVERY).await;
            grown = std::fs::metadata(&main).unwrap().len() - before;
            if grown >= 1024 * 1024 {
                break;
            }
        }
        assert!(
            grown >= 1024 * 1024,
            "database file grew by {grown} bytes only"
        );
        let n = query("SELECT COUNT(*) AS n FROM t")
            .fetch_one(&read)
            .await
            .unwrap();
        assert_eq!(n.try_get::<i64>("n").unwrap(), 64);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn under_steady_writes_the_wal_starts_over_instead_of_growing() {
        let (dir, _read, write) = store().await;
        let wal = dir.0.join("t.db-wal");
        let start = std::time::Instant::now();
        let mut i = 0i64;
        // 64 MB of writes at up to 64 MB/s (a steady writer, not one faster than any copying),
        // over more than 10 checkpoint periods. The WAL file's size is the most it held since
        // it last started over (when it is also cut back to `journal_size_limit`).
        let mut most = 0;
        while i < 4096 || start.elapsed() < CHECKPOINT_EVERY * 10 {
            for _ in 0..4 {
                query("INSERT INTO t (k, b) VALUES ($1, $2)")
                    .bind(format!("k{i}"))
                    .bind(vec![1u8; 16 * 1024])
                    .execute(&write)
                    .await
                    .unwrap();
                i += 1;
            }
            most = most.max(std::fs::metadata(&wal).map_or(0, |m| m.len()));
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        // Started over every period, it holds a few periods' writes (≈ 3 MB here); a busy machine
        // stretches that (11 MB seen in CI beside other test binaries, which failed a bound of
        // an eighth). Growing, it would hold everything written.
        let written = i as u64 * 16 * 1024;
        assert!(
            most < written / 3,
            "WAL reached {most} bytes while {} MB were written",
            written >> 20
        );
    }
}
