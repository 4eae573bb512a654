//! Backups of a running server's data: a consistent online copy of the SQLite database (`VACUUM
//! INTO` in one read transaction, so writes go on meanwhile), the CA certificate and every key file, owner
//! only, with a manifest of SHA-256 sums; and the restore into a fresh data directory. With
//! PostgreSQL the database is `pg_dump`'s job (README); the key files are copied the same way.

use crate::fault::Error;
use std::path::Path;

/// The files of a data directory a server cannot run without (those present are copied).
pub const KEY_FILES: &[&str] = &[
    "ca.crt",
    "ca.key",
    crate::keywrap::FILE,
    "sandbox-provider.key",
    "sandbox-app.key",
];

/// The SQLite database's name in a data directory and in a backup.
pub const DATABASE: &str = "certrenew.db";

pub const MANIFEST: &str = "backup.json";

#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    pub created_at: i64,
    /// `sqlite` (the database is in the backup) or `postgres` (it is not: pg_dump).
    pub database: String,
    /// Each file copied and the SHA-256 of its bytes (hex).
    pub files: Vec<(String, String)>,
    pub orders: i64,
    /// The newest order installed when the copy was taken.
    pub last_installed: Option<String>,
}

fn owner_only_file(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    o.mode(0o600);
    let mut f = o
        .open(path)
        .map_err(|e| Error::Store(format!("{}: {e}", path.display())))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .map_err(|e| Error::Store(format!("{}: {e}", path.display())))
}

/// A directory to write into: new (created owner-only) or empty.
fn fresh_dir(dir: &Path) -> Result<(), Error> {
    if dir.exists() {
        let mut entries =
            std::fs::read_dir(dir).map_err(|e| Error::Store(format!("{}: {e}", dir.display())))?;
        if entries.next().is_some() {
            return Err(Error::Store(format!("{} is not empty", dir.display())));
        }
    }
    crate::owner_only_dir(dir).map_err(|e| Error::Store(format!("{}: {e}", dir.display())))
}

fn set_owner_only(path: &Path) -> Result<(), Error> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| Error::Store(format!("{}: {e}", path.display())))?;
    }
    Ok(())
}

/// Copies the running server's data into `out` (new or empty); returns what it wrote.
pub async fn backup(s: &crate::State, out: &Path) -> Result<Manifest, Error> {
    fresh_dir(out)?;
    let data = &s.config.data_dir;
    let mut files = vec![];
    let postgres = s.db.is_postgres();
    // The database first: keys never lag behind it (a key file is only ever added).
    let (orders, last_installed) = if postgres {
        counts(s).await?
    } else {
        let target = out.join(DATABASE);
        crate::store::sql::sqlite_copy(&s.config.database_url, &target)
            .await
            .map_err(|e| Error::Store(format!("copying the database: {e}")))?;
        set_owner_only(&target)?;
        let copy = std::fs::read(&target).map_err(Error::store)?;
        files.push((DATABASE.to_string(), crate::sha256_hex(&copy)));
        counts_in(&target)?
    };
    for name in KEY_FILES {
        let Ok(bytes) = std::fs::read(data.join(name)) else {
            continue;
        };
        let bytes = zeroize::Zeroizing::new(bytes);
        owner_only_file(&out.join(name), &bytes)?;
        files.push((name.to_string(), crate::sha256_hex(&bytes)));
    }
    let m = Manifest {
        created_at: crate::now(),
        database: if postgres { "postgres" } else { "sqlite" }.into(),
        files,
        orders,
        last_installed,
    };
    let text = serde_json::to_vec_pretty(&m).map_err(Error::store)?;
    owner_only_file(&out.join(MANIFEST), &text)?;
    Ok(m)
}

async fn counts(s: &crate::State) -> Result<(i64, Option<String>), Error> {
    let e = Error::store;
    Ok((
        s.db.order_count().await.map_err(e)?,
        s.db.last_installed().await.map_err(e)?,
    ))
}

/// What the copy itself holds (read from the copy, not the live database).
fn counts_in(db: &Path) -> Result<(i64, Option<String>), Error> {
    crate::store::records::counts_in_sqlite_file(db)
        .map_err(|e| Error::Store(format!("reading the copy: {e}")))
}

/// Lays a backup into `data` (new or empty), each file checked against the manifest first.
pub fn restore(from: &Path, data: &Path) -> Result<Manifest, Error> {
    let text = std::fs::read(from.join(MANIFEST)).map_err(|e| {
        Error::Config(format!(
            "{}: {e} (not a certrenew backup?)",
            from.join(MANIFEST).display()
        ))
    })?;
    let m: Manifest =
        serde_json::from_slice(&text).map_err(|e| Error::Store(format!("{MANIFEST}: {e}")))?;
    let mut checked = vec![];
    for (name, sum) in &m.files {
        if name.contains(['/', '\\']) || name.starts_with('.') {
            return Err(Error::Store(format!(
                "{MANIFEST} names {name:?}, not a file of a data directory"
            )));
        }
        let bytes = zeroize::Zeroizing::new(
            std::fs::read(from.join(name)).map_err(|e| Error::Store(format!("{name}: {e}")))?,
        );
        if &crate::sha256_hex(&bytes) != sum {
            return Err(Error::Store(format!(
                "{name} is not the file the backup recorded (its SHA-256 differs)"
            )));
        }
        checked.push((name, bytes));
    }
    fresh_dir(data)?;
    for (name, bytes) in checked {
        owner_only_file(&data.join(name), &bytes)?;
    }
    Ok(m)
}
