//! `Error`: what goes wrong outside a request's refusals — reading keys and files, the CA's
//! signing, the HSM, the configuration, the database under a tool, the operating system. Each
//! variant names where to look; the text says what was found. Requests' refusals are the
//! error module's `AppError` (an HTTP status and a stable code).

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory that could not be read, written or made.
    #[error("{}: {source}", path.display())]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Key material that is not what it must be (format, algorithm, size).
    #[error("{0}")]
    Key(String),
    /// Encoding or signing a certificate, CRL or OCSP response.
    #[error("{0}")]
    Signing(String),
    /// The HSM (PKCS #11 module, slot, session, key) refused or failed.
    #[error("PKCS #11: {0}")]
    Hsm(String),
    /// Flags, the configuration file or a provider's settings that cannot be used.
    #[error("{0}")]
    Config(String),
    /// The database.
    #[error("database: {0}")]
    Store(String),
    /// A payment provider's answer.
    #[error("payment provider: {0}")]
    Provider(String),
    /// The operating system (randomness, a worker thread).
    #[error("{0}")]
    System(String),
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// The file error for `path`, as `map_err(Error::file(&path))`.
    pub fn file(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::File { path, source }
    }

    pub fn key(e: impl std::fmt::Display) -> Error {
        Error::Key(e.to_string())
    }

    pub fn signing(e: impl std::fmt::Display) -> Error {
        Error::Signing(e.to_string())
    }

    pub fn hsm(e: impl std::fmt::Display) -> Error {
        Error::Hsm(e.to_string())
    }

    pub fn config(e: impl std::fmt::Display) -> Error {
        Error::Config(e.to_string())
    }

    pub fn store(e: impl std::fmt::Display) -> Error {
        Error::Store(e.to_string())
    }

    pub fn system(e: impl std::fmt::Display) -> Error {
        Error::System(e.to_string())
    }
}
