//! certrenew server: the renewal and payment API under `/api/v1`, the sandbox cashier, and
//! (when built) the web app. `app(state)` is the whole router, so tests drive it in process.

use crate::fault::Error;
pub mod backup;
pub mod ca;
pub mod challenge;
pub mod config_file;
pub mod crl;
pub mod edge;
pub mod error;
pub mod fault;
pub mod health;
pub mod hsm;
pub mod jobs;
pub mod keywrap;
pub mod limit;
pub mod metrics;
pub mod notify;
pub mod ocsp;
pub mod store;

/// Parses a personalization export of management keys, one token per line:
/// `certificate serial (hex), algorithm (3des|aes128|aes192|aes256), key (hex)`; `#` comments and
/// blank lines are skipped. Errors name the line, never the key.
pub fn management_keys_from_csv(
    text: &str,
) -> Result<Vec<(String, ccid::keys::ManagementKey)>, Error> {
    use ccid::piv::Algorithm;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let n = i + 1;
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let [serial, alg, key] = fields.as_slice() else {
            return Err(Error::Config(format!(
                "line {n}: expected serial,algorithm,key"
            )));
        };
        if serial.is_empty() || !serial.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(Error::Config(format!("line {n}: the serial is not hex")));
        }
        let alg = match alg.to_ascii_lowercase().as_str() {
            "3des" | "tdes" => Algorithm::Tdes,
            "aes128" => Algorithm::Aes128,
            "aes192" => Algorithm::Aes192,
            "aes256" => Algorithm::Aes256,
            other => {
                return Err(Error::Config(format!(
                    "line {n}: unknown algorithm {other}"
                )))
            }
        };
        let bytes = zeroize::Zeroizing::new(
            ca::decode_hex(key)
                .ok_or_else(|| Error::Config(format!("line {n}: the key is not hex")))?,
        );
        let key = ccid::keys::ManagementKey::new(alg, &bytes)
            .map_err(|_| Error::Config(format!("line {n}: wrong key length for the algorithm")))?;
        out.push((serial.to_ascii_uppercase(), key));
    }
    Ok(out)
}
pub mod http;
pub mod payment;
pub mod refund;
pub mod renewal;
pub mod sig;

use std::path::PathBuf;
use std::sync::Arc;

/// Unix seconds now.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A random identifier of `bytes` bytes, as lower-case hex.
pub fn random_id(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    let _ = getrandom::fill(&mut b);
    ca::encode_hex(&b)
}

pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    ca::encode_hex(&sha2::Sha256::digest(data))
}

/// Civil date (UTC+8, China Standard Time) of a Unix time, as (year, month, day).
pub fn china_date(t: i64) -> (i64, u32, u32) {
    let days = (t + 8 * 3600).div_euclid(86_400);
    // Howard Hinnant's days-from-civil inverse.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// `t` plus `months` calendar months (day clamped to the month's end), keeping the time of day.
pub fn add_months(t: i64, months: u32) -> i64 {
    let secs_of_day = t.rem_euclid(86_400);
    let days = t.div_euclid(86_400);
    let (y, m, d) = civil(days);
    let total = y * 12 + i64::from(m - 1) + i64::from(months);
    let (ny, nm) = (total.div_euclid(12), (total.rem_euclid(12) + 1) as u32);
    let dim = api::validate::days_in_month(ny as u32, nm);
    days_from_civil(ny, nm, d.min(dim)) * 86_400 + secs_of_day
}

/// RFC 3339 UTC timestamp of a Unix time: `2026-11-24T08:00:00Z`.
pub fn rfc3339(t: i64) -> String {
    let (y, m, d) = civil(t.div_euclid(86_400));
    let s = t.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        s / 3600,
        s % 3600 / 60,
        s % 60
    )
}

fn civil(days: i64) -> (i64, u32, u32) {
    china_date(days * 86_400 - 8 * 3600)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from(if m > 2 { m - 3 } else { m + 9 });
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[derive(Clone, Debug)]
pub struct Config {
    pub data_dir: PathBuf,
    pub database_url: String,
    /// Base URL the browser and the payment provider reach this server at.
    pub public_url: String,
    /// Online renewal opens this many days before notAfter (and closes at notAfter).
    pub renewal_window_days: i64,
    pub payment_ttl_secs: i64,
    pub challenge_ttl_secs: i64,
    pub auto_approve: bool,
    /// Accept a CSR with a new key (rekey); by default only the certificate's own key.
    pub allow_rekey: bool,
    pub unit_fen_per_year: i64,
    pub periods_months: Vec<u32>,
    /// Web app files to serve at `/` (the Trunk build), if any.
    pub web_dir: Option<PathBuf>,
    /// Origins allowed to call the API from another site (CORS); none by default.
    pub cors_origins: Vec<String>,
    /// Reverse proxies in front of the server: for requests from them the client's address is
    /// taken from X-Forwarded-For (rate limits, logs). None by default: the peer's address.
    pub trusted_proxies: Vec<limit::Cidr>,
    /// Challenges and applications per client IP per minute (0 = no limit), and the burst.
    pub rate_per_minute: u32,
    pub rate_burst: u32,
    /// Review console logins per client IP per minute (0 = no limit), and the burst: each
    /// attempt costs an argon2 verification (tens of ms, 19 MiB), and passwords are guessed.
    pub login_per_minute: u32,
    pub login_burst: u32,
    /// Demo mode: anyone may get a soon-expiring certificate for a browser demo token.
    pub demo: bool,
    /// Payments go to the sandbox provider, whose cashier lets anyone "pay": for demos and tests
    /// only (`--demo` or `--sandbox-payments`). Off, payment creation is refused with a clear
    /// error and the sandbox's pages are not served — never free renewals by accident.
    pub sandbox_payments: bool,
    /// Renewal reminders go out this many days before a certificate expires.
    pub reminder_days: i64,
    /// A payment still pending this long after it was created is queried at the provider, in
    /// case its notice was lost (reconciliation).
    pub reconcile_after_secs: i64,
    /// An Alipay merchant account; without one (and with the sandbox on) the sandbox is the
    /// Alipay the server pays through.
    pub alipay: Option<payment::alipay::Settings>,
    /// A WeChat Pay merchant account (APIv3, Native QR payments).
    pub wechat: Option<payment::wechat::Settings>,
    /// Fault injection for tests and drills: the sandbox cashier records payments but sends no
    /// notice, so only reconciliation can find them.
    pub sandbox_drop_notices: bool,
    /// The mail relay for e-mail notices (`notify::Smtp` says which URLs); files in the data
    /// dir without.
    pub smtp_url: Option<String>,
    /// Password for the relay's user (from CERTRENEW_SMTP_PASSWORD).
    pub smtp_password: Option<String>,
    /// PEM file of the root(s) the relay's TLS certificate chains to, if not a public CA.
    pub smtp_ca: Option<PathBuf>,
    pub smtp_from: String,
    /// URL of an SMS gateway (POST JSON `{to, text}`); files in the data dir without.
    pub sms_gateway: Option<String>,
    /// Key of a CA created on first start: P-256 (default) or RSA-2048.
    pub ca_algorithm: ccid::piv::Algorithm,
    /// The CA key in an HSM: a `pkcs11:` URI (see `hsm`), with the token's PIN.
    pub ca_key_uri: Option<String>,
    pub ca_pin: Option<String>,
}

impl Config {
    pub fn new(data_dir: PathBuf, public_url: String) -> Self {
        let database_url = format!(
            "sqlite://{}?mode=rwc",
            data_dir.join("certrenew.db").display()
        );
        Self {
            data_dir,
            database_url,
            public_url,
            renewal_window_days: 90,
            payment_ttl_secs: 2 * 3600,
            challenge_ttl_secs: 300,
            auto_approve: false,
            allow_rekey: false,
            unit_fen_per_year: 20_000,
            periods_months: vec![12, 24, 36],
            web_dir: None,
            cors_origins: vec![],
            trusted_proxies: vec![],
            rate_per_minute: 30,
            rate_burst: 10,
            login_per_minute: 6,
            login_burst: 5,
            demo: false,
            sandbox_payments: false,
            reminder_days: 30,
            reconcile_after_secs: 120,
            alipay: None,
            wechat: None,
            sandbox_drop_notices: false,
            smtp_url: None,
            smtp_password: None,
            smtp_ca: None,
            smtp_from: "certrenew <noreply@localhost>".into(),
            sms_gateway: None,
            ca_algorithm: ccid::piv::Algorithm::EccP256,
            ca_key_uri: None,
            ca_pin: None,
        }
    }

    pub fn prices(&self) -> api::PriceList {
        api::PriceList {
            unit_fen_per_year: self.unit_fen_per_year,
            options: self
                .periods_months
                .iter()
                .map(|&months| api::PriceOption {
                    months,
                    fee_fen: self.unit_fen_per_year * i64::from(months) / 12,
                })
                .collect(),
            renewal_window_days: self.renewal_window_days,
            payment_methods: vec![],
        }
    }
}

pub struct AppState {
    pub config: Config,
    pub db: store::Store,
    pub ca: ca::Ca,
    pub sandbox: payment::Sandbox,
    /// The payment providers set up (empty: payments are refused as unavailable).
    pub payments: payment::Providers,
    /// Wakes the refund job (refund::spawn) when a refund is queued.
    pub refunds_ready: tokio::sync::Notify,
    pub http: reqwest::Client,
    pub limiter: limit::RateLimiter,
    pub login_limiter: limit::RateLimiter,
    /// Review console logins per account, wherever they come from: guessing one password from
    /// many addresses is slowed too.
    pub account_limiter: limit::RateLimiter<String>,
    /// Requests that cost a signature and cannot be answered from a cache (OCSP with a nonce
    /// or an unknown serial, the sandbox's trade query), per client.
    pub signing_limiter: limit::RateLimiter,
    /// Password checks running at once, at most one per core: argon2 is slow and memory-hard on
    /// purpose, and a flood of logins must not take every thread or gigabytes.
    pub password_checks: tokio::sync::Semaphore,
    /// Where notices go, built once from the configuration.
    pub notifier: notify::Notifier,
    pub challenges: challenge::Challenges,
    /// Wakes the outbox's delivery task (jobs::spawn_outbox) when notices are queued.
    pub outbox_ready: tokio::sync::Notify,
    /// Recent OCSP answers to requests without a nonce.
    pub ocsp_cache: ocsp::Cache,
    pub metrics: metrics::Metrics,
    /// The CRL last signed.
    pub crl_cache: crl::Cache,
    /// The last check that the CA key signs (`/readyz`).
    pub ca_probe: health::CaProbe,
}

pub type State = Arc<AppState>;

impl AppState {
    /// Opens (creating on first start) the data directory, CA, sandbox provider and database.
    pub async fn open(config: Config) -> Result<(State, Vec<String>), Error> {
        owner_only_dir(&config.data_dir)
            .map_err(|e| Error::Config(format!("{}: {e}", config.data_dir.display())))?;
        let mut notes = Vec::new();
        let (mut ca, created) = match &config.ca_key_uri {
            None => ca::Ca::load_or_create_kind(
                &config.data_dir,
                now(),
                config.ca_algorithm,
                config.demo,
            )?,
            Some(uri) => {
                let pin = config.ca_pin.as_deref().ok_or_else(|| {
                    Error::Config(format!(
                        "--ca-key-uri: the token's PIN goes in {}",
                        hsm::PIN_VAR
                    ))
                })?;
                ca::Ca::with_hsm(&config.data_dir, now(), config.ca_algorithm, uri, pin)?
            }
        };
        // The demo mints certificates for any key: never under a CA whose certificates are real.
        if config.demo && !ca.is_demo() {
            return Err(Error::Config(format!(
                "--demo: the CA in {} is not a demo CA ({}); the demo issues certificates to anyone and runs only with a CA of its own — start it with another --data directory",
                config.data_dir.display(),
                ca.name()
            )));
        }
        if !config.demo && ca.is_demo() {
            notes.push("this data directory's CA is a demo CA: its certificates are for trying certrenew out, not for real use".into());
        }
        ca.publish_at(&config.public_url)?;
        if created {
            notes.push(format!(
                "created the issuing CA: {}",
                config.data_dir.join("ca.crt").display()
            ));
        }
        let sandbox = payment::Sandbox::load_or_create(&config.data_dir)?;
        let (kek, created) = keywrap::Kek::load_or_create(&config.data_dir)?;
        if created {
            notes.push(format!(
                "created the key that wraps management keys at rest: {}",
                config.data_dir.join(keywrap::FILE).display()
            ));
        }
        let challenges = challenge::Challenges::new(&kek);
        let db = store::Store::connect(&config.database_url, kek)
            .await
            .map_err(|e| Error::Config(format!("database: {e}")))?;
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(Error::config)?;
        let mut providers: Vec<Arc<dyn payment::PaymentProvider>> = vec![];
        if let Some(a) = &config.alipay {
            let account = a.load()?;
            notes.push(format!(
                "payments: Alipay, app {} at {} ({})",
                account.app_id,
                account.gateway,
                match account.mode {
                    payment::alipay::KeyMode::PublicKey(_) => "public-key mode",
                    payment::alipay::KeyMode::Certificates { .. } => "public-key certificate mode",
                }
            ));
            providers.push(Arc::new(payment::alipay::Alipay::new(
                account,
                &config.public_url,
                http.clone(),
            )?));
        } else if config.sandbox_payments {
            notes.push("payments: the sandbox, a local Alipay (anyone can pay in its cashier; for demos and tests)".into());
            let account = sandbox.account(&config.public_url)?;
            providers.push(Arc::new(payment::alipay::Alipay::new(
                account,
                &config.public_url,
                http.clone(),
            )?));
        }
        if let Some(w) = &config.wechat {
            let account = w.load()?;
            notes.push(format!(
                "payments: WeChat Pay, merchant {} (app {}) at {}, answers checked under {}",
                account.mchid,
                account.appid,
                account.base_url,
                account.platform.serials().join(", ")
            ));
            providers.push(Arc::new(payment::wechat::Wechat::new(
                account,
                &config.public_url,
                http.clone(),
            )?));
        }
        if providers.is_empty() {
            notes.push("payments: no provider set up — applications are taken but cannot be paid (--alipay-… or --wechat-… flags, or --sandbox-payments for the sandbox)".into());
        }
        let payments = payment::Providers::new(providers);
        // A wrong relay URL, password or CA file is said now, not at the first notice.
        let notifier = notify::Notifier::from_config(&config, http.clone())?;
        let limiter = limit::RateLimiter::new(config.rate_per_minute, config.rate_burst);
        let login_limiter = limit::RateLimiter::new(config.login_per_minute, config.login_burst);
        let account_limiter = limit::RateLimiter::new(
            config.login_per_minute.saturating_mul(2),
            config.login_burst.saturating_mul(2),
        );
        let signing_limiter = limit::RateLimiter::new(
            config.rate_per_minute.saturating_mul(20),
            config.rate_burst.saturating_mul(20),
        );
        Ok((
            Arc::new(AppState {
                notifier,
                challenges,
                outbox_ready: tokio::sync::Notify::new(),
                ocsp_cache: ocsp::Cache::default(),
                metrics: metrics::Metrics::default(),
                crl_cache: crl::Cache::default(),
                ca_probe: health::CaProbe::default(),
                config,
                db,
                ca,
                sandbox,
                payments,
                refunds_ready: tokio::sync::Notify::new(),
                http,
                limiter,
                login_limiter,
                account_limiter,
                signing_limiter,
                password_checks: tokio::sync::Semaphore::new(
                    std::thread::available_parallelism().map_or(1, |n| n.get()),
                ),
            }),
            notes,
        ))
    }
}

pub use http::app;

/// Creates `dir` (and its parents) owner-only, or makes an existing one so: it holds keys,
/// personal data and notices.
pub fn owner_only_dir(dir: &std::path::Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        let mode = std::fs::metadata(dir)?.permissions().mode();
        if mode & 0o077 != 0 {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode & 0o700))?;
        }
        Ok(())
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir)
}

/// The first of `slots` free to lock, starting at a rotating index; when all are busy, waits for
/// one. Callers never hold a slot across an await, so the wait is one operation long.
pub(crate) fn lock_any<'a, T>(
    slots: &'a [std::sync::Mutex<T>],
    next: &std::sync::atomic::AtomicUsize,
) -> std::sync::MutexGuard<'a, T> {
    let start = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let n = slots.len();
    (0..n)
        .find_map(|k| slots[(start + k) % n].try_lock().ok())
        .unwrap_or_else(|| {
            slots[start % n]
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
        })
}

/// Issues a certificate for a demo or first-issue token key and records it.
pub async fn demo_certificate(
    s: &State,
    subject: &x509_cert::name::Name,
    key: &ccid::keys::PublicKey,
    not_before: i64,
    not_after: i64,
) -> Result<Vec<u8>, Error> {
    let der = s.ca.issue_end_entity(subject, key, not_before, not_after)?;
    let summary = ccid::cert::summarize(&der, now()).map_err(Error::config)?;
    s.db.record_certificate(&summary.serial, &summary.subject, not_after, &der)
        .await
        .map_err(Error::config)?;
    Ok(der)
}

#[cfg(test)]
mod csv_tests {
    #[test]
    fn management_keys_csv() {
        let text = "# serial,algorithm,key\n\n0a1b,aes128,000102030405060708090a0b0c0d0e0f\n7F01, 3DES ,010203040506070801020304050607080102030405060708\n";
        let keys = super::management_keys_from_csv(text).unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[0].0, "0A1B");
        assert_eq!(keys[1].1.algorithm(), ccid::piv::Algorithm::Tdes);
        for (bad, why) in [
            ("0a1b,aes128,0001", "line 1: wrong key length"),
            ("zz,aes128,00", "line 1: the serial is not hex"),
            ("0a,rc4,00", "line 1: unknown algorithm rc4"),
            ("0a,aes128", "line 1: expected serial,algorithm,key"),
        ] {
            let e = super::management_keys_from_csv(bad)
                .unwrap_err()
                .to_string();
            assert!(e.starts_with(why), "{e}");
            assert!(!e.contains("0001"), "the key never shows in an error");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_are_calendar_months() {
        // 2026-01-31 10:00 UTC + 1 month = 2026-02-28 10:00 UTC; + 12 = 2027-01-31.
        let t = days_from_civil(2026, 1, 31) * 86_400 + 36_000;
        assert_eq!(
            add_months(t, 1),
            days_from_civil(2026, 2, 28) * 86_400 + 36_000
        );
        assert_eq!(
            add_months(t, 12),
            days_from_civil(2027, 1, 31) * 86_400 + 36_000
        );
        assert_eq!(
            add_months(t, 13),
            days_from_civil(2027, 2, 28) * 86_400 + 36_000
        );
        assert_eq!(china_date(0), (1970, 1, 1));
        assert_eq!(china_date(16 * 3600), (1970, 1, 2), "midnight in Beijing");
        assert_eq!(rfc3339(1_795_000_000), "2026-11-18T11:06:40Z");
    }
}
