//! `certrenew`: the renewal server and its administration commands. `certrenew --help` and
//! `certrenew COMMAND --help` list every option with the environment variable it also reads.

use certrenew_server::{AppState, Config};
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "certrenew",
    version,
    about = "Renew the CA certificate on a USB token: the CA-side server and its administration"
)]
struct Cli {
    /// Log lines as text for people, or as JSON objects (one per line) for a log collector
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "CERTRENEW_LOG_FORMAT")]
    log_format: LogFormat,
    /// A TOML file of options (`listen = "…"`, one key per option, without the dashes); a flag
    /// or environment variable given too wins over it
    #[arg(long, global = true, env = "CERTRENEW_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the server: the renewal API, the CA (CRL, OCSP), the review console, the web app
    Serve(Box<Serve>),
    /// Review console administrators
    Admin {
        #[command(subcommand)]
        cmd: AdminCmd,
    },
    /// Management keys of tokens the CA personalized
    ManagementKey {
        #[command(subcommand)]
        cmd: KeyCmd,
    },
    /// The issuing CA
    Ca {
        #[command(subcommand)]
        cmd: CaCmd,
    },
    /// Check the stored orders' invariants (exit 1 on a violation)
    Check(Store),
    /// The configuration: `config check` takes serve's options and prints what serve would run
    /// with (secrets redacted), then checks it
    Config {
        #[command(subcommand)]
        cmd: ConfigCmd,
    },
    /// Copy the data — database (SQLite, online), CA certificate, keys — into DIR (new or empty)
    Backup {
        dir: PathBuf,
        #[command(flatten)]
        store: Store,
    },
    /// Lay a backup into a new (or empty) data directory, each file checked against its manifest
    Restore {
        backup: PathBuf,
        /// The data directory to create
        #[arg(long, env = "CERTRENEW_DATA", default_value = "data")]
        data: PathBuf,
    },
    /// Issue a certificate for a key, as the demo does (tests and drills)
    IssueDemo(IssueDemo),
}

#[derive(Subcommand)]
enum ConfigCmd {
    /// Print the effective configuration of `serve` with these options (and where each value
    /// came from), then check it: payment accounts whole, key files readable
    Check(Box<Serve>),
}

#[derive(Subcommand)]
enum AdminCmd {
    /// Create or replace an administrator (password from CERTRENEW_ADMIN_PASSWORD, else stdin)
    Create {
        user: String,
        /// What the account may do: reviewer (approve, reject), operator (revoke, refunds,
        /// resend), auditor (read only); repeatable. Without: reviewer and operator
        #[arg(
            long = "role",
            env = "CERTRENEW_ADMIN_ROLES",
            value_delimiter = ',',
            value_parser = ["reviewer", "operator", "auditor"]
        )]
        roles: Vec<String>,
        #[command(flatten)]
        store: Store,
    },
}

#[derive(Subcommand)]
enum KeyCmd {
    /// File keys from a personalization export: `serial,algorithm,key` per line
    Import {
        file: PathBuf,
        #[command(flatten)]
        store: Store,
    },
}

#[derive(Subcommand)]
enum CaCmd {
    /// Print the CA certificate's subject, serial and end
    Show(Store),
}

/// Where the data lives: every command opens it.
#[derive(Args, Clone)]
struct Store {
    /// Data directory: the CA, keys, SQLite database, outbox
    #[arg(long, env = "CERTRENEW_DATA", default_value = "data")]
    data: PathBuf,
    /// Database URL (sqlite://PATH or postgres://…); SQLite in the data directory by default
    #[arg(long, env = "CERTRENEW_DATABASE")]
    database: Option<String>,
    /// Key of a CA created on first start
    #[arg(long, env = "CERTRENEW_CA_KEY", value_parser = ["p256", "rsa2048"], default_value = "p256")]
    ca_key: String,
    /// The CA key in an HSM: pkcs11:token=…;object=…?module-path=… (PIN in CERTRENEW_CA_PIN)
    #[arg(long, env = "CERTRENEW_CA_KEY_URI")]
    ca_key_uri: Option<String>,
}

#[derive(Args)]
struct Serve {
    #[command(flatten)]
    store: Store,
    /// Address to listen on
    #[arg(long, env = "CERTRENEW_LISTEN", default_value = "127.0.0.1:8080")]
    listen: String,
    /// Serve Prometheus metrics at http://ADDR/metrics (a listener of its own; off without)
    #[arg(long, env = "CERTRENEW_METRICS_LISTEN", value_name = "ADDR")]
    metrics_listen: Option<String>,
    /// URL browsers and the payment provider reach this server at (named in every certificate's
    /// OCSP/CRL locations); http://LISTEN by default
    #[arg(long, env = "CERTRENEW_PUBLIC_URL")]
    public_url: Option<String>,
    /// Web app files to serve at / (scripts/build-web's dist/)
    #[arg(long, env = "CERTRENEW_WEB")]
    web: Option<PathBuf>,
    /// Approve paid orders without a reviewer
    #[arg(long, env = "CERTRENEW_AUTO_APPROVE")]
    auto_approve: bool,
    /// Demo mode: a CA of its own, demo certificates for anyone, sandbox payments
    #[arg(long, env = "CERTRENEW_DEMO")]
    demo: bool,
    /// Take payments in the sandbox provider (anyone can pay in its cashier): tests and drills
    #[arg(long, env = "CERTRENEW_SANDBOX_PAYMENTS")]
    sandbox_payments: bool,
    /// Online renewal opens this many days before a certificate expires
    #[arg(long, env = "CERTRENEW_RENEWAL_WINDOW_DAYS")]
    renewal_window_days: Option<i64>,
    /// Challenges and applications per client per minute (0: no limit)
    #[arg(long, env = "CERTRENEW_RATE_LIMIT")]
    rate_limit: Option<u32>,
    /// Review console logins per client per minute (0: no limit)
    #[arg(long, env = "CERTRENEW_LOGIN_RATE_LIMIT")]
    login_rate_limit: Option<u32>,
    /// An origin allowed to call the API from another site (the kiosk app: isolated-app://ID)
    #[arg(
        long = "cors-origin",
        env = "CERTRENEW_CORS_ORIGINS",
        value_delimiter = ','
    )]
    cors: Vec<String>,
    /// A reverse proxy whose X-Forwarded-For is believed (CIDR; repeatable)
    #[arg(
        long = "trusted-proxy",
        env = "CERTRENEW_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    trusted_proxies: Vec<certrenew_server::limit::Cidr>,
    /// Payments still pending this many seconds after creation are queried at the provider
    #[arg(long, env = "CERTRENEW_RECONCILE_AFTER")]
    reconcile_after: Option<i64>,
    #[command(flatten)]
    alipay: AlipayFlags,
    #[command(flatten)]
    wechat: WechatFlags,
    /// Fault injection: the sandbox records payments but sends no notice
    #[arg(long = "sandbox-drop-notices", env = "CERTRENEW_SANDBOX_DROP_NOTICES")]
    drop_notices: bool,
    /// Mail relay for notices: smtp://[user@]host[:port][?tls=required] or smtps://…
    /// (password in CERTRENEW_SMTP_PASSWORD); files in the data directory without
    #[arg(long, env = "CERTRENEW_SMTP")]
    smtp: Option<String>,
    /// Sender of e-mail notices
    #[arg(long, env = "CERTRENEW_SMTP_FROM")]
    smtp_from: Option<String>,
    /// PEM file of the root(s) the relay's certificate chains to
    #[arg(long, env = "CERTRENEW_SMTP_CA")]
    smtp_ca: Option<PathBuf>,
    /// SMS gateway URL (POST JSON {to, text}); files in the data directory without
    #[arg(long, env = "CERTRENEW_SMS_GATEWAY")]
    sms_gateway: Option<String>,
}

/// An Alipay merchant account (open platform application). All of app id, private key, seller
/// id and one key mode, or none.
#[derive(Args)]
struct AlipayFlags {
    /// The application's APPID on Alipay's open platform
    #[arg(long = "alipay-app-id", env = "CERTRENEW_ALIPAY_APP_ID")]
    app_id: Option<String>,
    /// The application's private key (PEM or the base64 Alipay's key tool prints)
    #[arg(
        long = "alipay-private-key",
        env = "CERTRENEW_ALIPAY_PRIVATE_KEY",
        value_name = "FILE"
    )]
    private_key: Option<PathBuf>,
    /// Public-key mode: the Alipay public key
    #[arg(
        long = "alipay-public-key",
        env = "CERTRENEW_ALIPAY_PUBLIC_KEY",
        value_name = "FILE"
    )]
    public_key: Option<PathBuf>,
    /// Certificate mode: the application's public-key certificate (appCertPublicKey_….crt)
    #[arg(
        long = "alipay-app-cert",
        env = "CERTRENEW_ALIPAY_APP_CERT",
        value_name = "FILE"
    )]
    app_cert: Option<PathBuf>,
    /// Certificate mode: Alipay's public-key certificate (alipayCertPublicKey_RSA2.crt)
    #[arg(
        long = "alipay-public-cert",
        env = "CERTRENEW_ALIPAY_PUBLIC_CERT",
        value_name = "FILE"
    )]
    public_cert: Option<PathBuf>,
    /// Certificate mode: Alipay's root certificate (alipayRootCert.crt)
    #[arg(
        long = "alipay-root-cert",
        env = "CERTRENEW_ALIPAY_ROOT_CERT",
        value_name = "FILE"
    )]
    root_cert: Option<PathBuf>,
    /// The merchant's Alipay user id (2088…), checked in every notice
    #[arg(long = "alipay-seller-id", env = "CERTRENEW_ALIPAY_SELLER_ID")]
    seller_id: Option<String>,
    /// The gateway (Alipay's production gateway by default)
    #[arg(
        long = "alipay-gateway",
        env = "CERTRENEW_ALIPAY_GATEWAY",
        value_name = "URL"
    )]
    gateway: Option<String>,
}

impl AlipayFlags {
    /// None when no Alipay flag is given; an error naming what is missing when some are.
    fn settings(&self) -> Result<Option<certrenew_server::payment::alipay::Settings>, Failure> {
        use certrenew_server::payment::alipay::{KeyFiles, Settings, GATEWAY};
        let certs = [&self.app_cert, &self.public_cert, &self.root_cert];
        let any = self.app_id.is_some()
            || self.private_key.is_some()
            || self.public_key.is_some()
            || self.seller_id.is_some()
            || self.gateway.is_some()
            || certs.iter().any(|c| c.is_some());
        if !any {
            return Ok(None);
        }
        let mut missing = vec![];
        let keys = match (
            &self.public_key,
            &self.app_cert,
            &self.public_cert,
            &self.root_cert,
        ) {
            (Some(k), None, None, None) => Some(KeyFiles::PublicKey(k.clone())),
            (None, Some(a), Some(p), Some(r)) => Some(KeyFiles::Certificates {
                app_cert: a.clone(),
                public_cert: p.clone(),
                root_cert: r.clone(),
            }),
            (Some(_), ..) => {
                return Err(
                    "Alipay: --alipay-public-key or the three --alipay-…-cert files, not both"
                        .into(),
                )
            }
            _ => {
                missing.push("--alipay-public-key (or --alipay-app-cert, --alipay-public-cert and --alipay-root-cert)");
                None
            }
        };
        if self.app_id.is_none() {
            missing.push("--alipay-app-id");
        }
        if self.private_key.is_none() {
            missing.push("--alipay-private-key");
        }
        if self.seller_id.is_none() {
            missing.push("--alipay-seller-id");
        }
        match (&self.app_id, &self.private_key, &self.seller_id, keys) {
            (Some(app_id), Some(key), Some(seller), Some(keys)) if missing.is_empty() => {
                Ok(Some(Settings {
                    app_id: app_id.clone(),
                    seller_id: seller.clone(),
                    private_key: key.clone(),
                    keys,
                    gateway: self.gateway.clone().unwrap_or_else(|| GATEWAY.into()),
                }))
            }
            _ => Err(format!("Alipay is half set up; missing {}", missing.join(", ")).into()),
        }
    }
}

/// A WeChat Pay merchant account (APIv3). All of merchant id, app id, serial, private key,
/// APIv3 key and a platform key (public key + id, or platform certificates), or none.
#[derive(Args)]
struct WechatFlags {
    /// The merchant id (mchid)
    #[arg(long = "wechat-mchid", env = "CERTRENEW_WECHAT_MCHID")]
    wechat_mchid: Option<String>,
    /// The app id bound to the merchant (appid)
    #[arg(long = "wechat-appid", env = "CERTRENEW_WECHAT_APPID")]
    wechat_appid: Option<String>,
    /// The serial number of the merchant's API certificate
    #[arg(long = "wechat-serial", env = "CERTRENEW_WECHAT_SERIAL")]
    wechat_serial: Option<String>,
    /// The merchant's API private key (apiclient_key.pem)
    #[arg(
        long = "wechat-private-key",
        env = "CERTRENEW_WECHAT_PRIVATE_KEY",
        value_name = "FILE"
    )]
    wechat_private_key: Option<PathBuf>,
    /// A file holding the APIv3 key (32 characters), which opens notices
    #[arg(
        long = "wechat-apiv3-key",
        env = "CERTRENEW_WECHAT_APIV3_KEY",
        value_name = "FILE"
    )]
    wechat_apiv3_key: Option<PathBuf>,
    /// Public-key mode: WeChat Pay's public key (pub_key.pem)
    #[arg(
        long = "wechat-public-key",
        env = "CERTRENEW_WECHAT_PUBLIC_KEY",
        value_name = "FILE"
    )]
    wechat_public_key: Option<PathBuf>,
    /// Public-key mode: the public key's id (PUB_KEY_ID_…)
    #[arg(
        long = "wechat-public-key-id",
        env = "CERTRENEW_WECHAT_PUBLIC_KEY_ID",
        value_name = "ID"
    )]
    wechat_public_key_id: Option<String>,
    /// Platform-certificate mode: a WeChat Pay platform certificate (repeatable; with the
    /// public key too while WeChat Pay moves an account from one to the other)
    #[arg(
        long = "wechat-platform-cert",
        env = "CERTRENEW_WECHAT_PLATFORM_CERTS",
        value_name = "FILE",
        value_delimiter = ','
    )]
    wechat_platform_certs: Vec<PathBuf>,
    /// The API's base URL (WeChat Pay's by default)
    #[arg(
        long = "wechat-base-url",
        env = "CERTRENEW_WECHAT_BASE_URL",
        value_name = "URL"
    )]
    wechat_base_url: Option<String>,
}

impl WechatFlags {
    /// None when no WeChat Pay flag is given; an error naming what is missing when some are.
    fn settings(&self) -> Result<Option<certrenew_server::payment::wechat::Settings>, Failure> {
        use certrenew_server::payment::wechat::{Settings, BASE_URL};
        let named = [
            (&self.wechat_mchid, "--wechat-mchid"),
            (&self.wechat_appid, "--wechat-appid"),
            (&self.wechat_serial, "--wechat-serial"),
        ];
        let files = [
            (&self.wechat_private_key, "--wechat-private-key"),
            (&self.wechat_apiv3_key, "--wechat-apiv3-key"),
        ];
        let any = named.iter().any(|(v, _)| v.is_some())
            || files.iter().any(|(v, _)| v.is_some())
            || self.wechat_public_key.is_some()
            || self.wechat_public_key_id.is_some()
            || !self.wechat_platform_certs.is_empty()
            || self.wechat_base_url.is_some();
        if !any {
            return Ok(None);
        }
        let mut missing: Vec<&str> = named
            .iter()
            .filter(|(v, _)| v.is_none())
            .map(|(_, n)| *n)
            .chain(files.iter().filter(|(v, _)| v.is_none()).map(|(_, n)| *n))
            .collect();
        let public_key = match (&self.wechat_public_key, &self.wechat_public_key_id) {
            (Some(k), Some(id)) => Some((k.clone(), id.clone())),
            (Some(_), None) => {
                missing.push("--wechat-public-key-id");
                None
            }
            (None, Some(_)) => {
                missing.push("--wechat-public-key");
                None
            }
            (None, None) => {
                if self.wechat_platform_certs.is_empty() {
                    missing.push("--wechat-public-key and --wechat-public-key-id (or --wechat-platform-cert)");
                }
                None
            }
        };
        if !missing.is_empty() {
            return Err(
                format!("WeChat Pay is half set up; missing {}", missing.join(", ")).into(),
            );
        }
        let some = |v: &Option<String>| v.clone().unwrap_or_default();
        Ok(Some(Settings {
            mchid: some(&self.wechat_mchid),
            appid: some(&self.wechat_appid),
            serial: some(&self.wechat_serial),
            private_key: self.wechat_private_key.clone().unwrap_or_default(),
            apiv3_key: self.wechat_apiv3_key.clone().unwrap_or_default(),
            public_key,
            platform_certs: self.wechat_platform_certs.clone(),
            base_url: self
                .wechat_base_url
                .clone()
                .unwrap_or_else(|| BASE_URL.into()),
        }))
    }
}

#[derive(Args)]
struct IssueDemo {
    #[command(flatten)]
    store: Store,
    /// SubjectPublicKeyInfo DER file of the key to certify
    #[arg(long)]
    public_key: PathBuf,
    #[arg(long, default_value = "CN=演示用户,O=演示医疗器械有限公司,C=CN")]
    subject: String,
    /// Days until the certificate expires
    #[arg(long, default_value_t = 30)]
    days: i64,
    /// Write the DER here (base64 on stdout without)
    #[arg(long)]
    out: Option<PathBuf>,
}

/// The configuration of a command that only opens the data (no listening address of its own).
fn store_config(st: &Store, public_url: String) -> Config {
    let mut c = Config::new(st.data.clone(), public_url);
    if let Some(db) = &st.database {
        c.database_url = db.clone();
    }
    if st.ca_key == "rsa2048" {
        c.ca_algorithm = ccid::piv::Algorithm::Rsa2048;
    }
    c.ca_key_uri = st.ca_key_uri.clone();
    c.ca_pin = std::env::var(certrenew_server::hsm::PIN_VAR).ok();
    c
}

fn config(a: &Serve) -> Result<Config, Failure> {
    // The certificates name the OCSP/CRL URLs: by default the address actually listened on.
    let public_url = a
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", a.listen));
    let mut c = store_config(&a.store, public_url);
    c.web_dir = a.web.clone();
    c.auto_approve = a.auto_approve;
    c.demo = a.demo;
    // The demo takes its payments in the sandbox; a real deployment says so explicitly.
    c.sandbox_payments = a.demo || a.sandbox_payments;
    if let Some(w) = a.renewal_window_days {
        c.renewal_window_days = w;
    }
    if let Some(r) = a.rate_limit {
        c.rate_per_minute = r;
    }
    if let Some(r) = a.login_rate_limit {
        c.login_per_minute = r;
    }
    c.cors_origins = a.cors.clone();
    c.trusted_proxies = a.trusted_proxies.clone();
    if let Some(r) = a.reconcile_after {
        c.reconcile_after_secs = r;
    }
    c.alipay = a.alipay.settings()?;
    c.wechat = a.wechat.settings()?;
    c.sandbox_drop_notices = a.drop_notices;
    c.smtp_url = a.smtp.clone();
    c.smtp_ca = a.smtp_ca.clone();
    c.smtp_password = std::env::var("CERTRENEW_SMTP_PASSWORD").ok();
    if let Some(f) = &a.smtp_from {
        c.smtp_from = f.clone();
    }
    c.sms_gateway = a.sms_gateway.clone();
    Ok(c)
}

/// Commands other than `serve` name no public URL: the default one (as `serve` without flags).
const DEFAULT_PUBLIC_URL: &str = "http://127.0.0.1:8080";

/// Turns the config file's options into the environment variables clap reads, where not set
/// already (flags > environment > file > default). Runs before any thread starts. Gives the
/// variables it set.
fn apply_config_file() -> Result<Vec<String>, Failure> {
    let args: Vec<String> = std::env::args().collect();
    let mut path = std::env::var_os("CERTRENEW_CONFIG").map(PathBuf::from);
    for (i, a) in args.iter().enumerate() {
        if a == "--config" {
            path = args.get(i + 1).map(PathBuf::from);
        } else if let Some(v) = a.strip_prefix("--config=") {
            path = Some(v.into());
        }
    }
    let Some(path) = path else {
        return Ok(vec![]);
    };
    let mut envs = std::collections::HashMap::new();
    option_envs(&Cli::command(), &mut envs);
    let (mut set, mut unknown) = (vec![], vec![]);
    for (key, value) in certrenew_server::config_file::read(&path)? {
        match envs.get(&key) {
            None => unknown.push(key),
            Some(env) if std::env::var_os(env).is_some() => {}
            Some(env) => {
                std::env::set_var(env, &value);
                set.push(env.clone());
            }
        }
    }
    if !unknown.is_empty() {
        return Err(format!("{}: no such option: {}", path.display(), unknown.join(", ")).into());
    }
    Ok(set)
}

/// Every option's long name and its environment variable, in every command.
fn option_envs(cmd: &clap::Command, out: &mut std::collections::HashMap<String, String>) {
    for a in cmd.get_arguments() {
        if let (Some(long), Some(env)) = (a.get_long(), a.get_env()) {
            if long != "config" {
                out.insert(long.to_string(), env.to_string_lossy().into_owned());
            }
        }
    }
    for sub in cmd.get_subcommands() {
        option_envs(sub, out);
    }
}

fn main() {
    let from_file = apply_config_file().unwrap_or_else(|e| fail(&e.to_string()));
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| fail(&e.to_string()));
    runtime.block_on(run(cli, matches, from_file));
}

async fn run(cli: Cli, matches: clap::ArgMatches, from_file: Vec<String>) {
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let logs = tracing_subscriber::fmt().with_env_filter(filter);
    match cli.log_format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => {
            // The server's own startup lines go to the log too, so stdout stays JSON only.
            if matches!(cli.cmd, Cmd::Serve(_)) {
                JSON_LOGS.store(true, std::sync::atomic::Ordering::Relaxed);
            }
            // The request's span (its id) rides along in every line logged while serving it.
            logs.json()
                .with_current_span(true)
                .with_span_list(false)
                .init()
        }
    }
    let result = match cli.cmd {
        Cmd::Serve(a) => serve(*a).await,
        Cmd::Admin {
            cmd: AdminCmd::Create { user, roles, store },
        } => admin_create(&user, &roles, &store).await,
        Cmd::ManagementKey {
            cmd: KeyCmd::Import { file, store },
        } => management_key_import(&file, &store).await,
        Cmd::Ca {
            cmd: CaCmd::Show(store),
        } => ca_show(&store).await,
        Cmd::IssueDemo(a) => issue_demo(a).await,
        Cmd::Check(store) => check(&store).await,
        Cmd::Backup { dir, store } => backup(&store, &dir).await,
        Cmd::Restore { backup, data } => restore(&backup, &data),
        Cmd::Config {
            cmd: ConfigCmd::Check(serve),
        } => {
            let m = matches
                .subcommand_matches("config")
                .and_then(|m| m.subcommand_matches("check"));
            config_check(&serve, m, &from_file)
        }
    };
    if let Err(e) = result {
        fail(&e.to_string());
    }
}

/// A command's failure, printed as one line: the server's typed errors and the CLI's own messages.
type Failure = Box<dyn std::error::Error>;

fn fail(e: &str) -> ! {
    eprintln!("certrenew: {e}");
    std::process::exit(1)
}

/// Set when the server logs JSON: then `say` logs instead of printing.
static JSON_LOGS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// What the server tells whoever started it: a line on stdout, or a log record under JSON logs.
fn say(line: &str) {
    if JSON_LOGS.load(std::sync::atomic::Ordering::Relaxed) {
        tracing::info!(target: "certrenew::startup", "{line}");
    } else {
        println!("{line}");
    }
}

async fn serve(a: Serve) -> Result<(), Failure> {
    let (state, notes) = AppState::open(config(&a)?).await?;
    for n in notes {
        say(&n);
    }
    let listener = tokio::net::TcpListener::bind(&a.listen)
        .await
        .map_err(|e| format!("{}: {e}", a.listen))?;
    say(&format!(
        "certrenew listening on {} (data in {}, database {})",
        state.config.public_url,
        state.config.data_dir.display(),
        redact(&state.config.database_url)
    ));
    if let Some(addr) = &a.metrics_listen {
        let metrics = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| format!("--metrics-listen {addr}: {e}"))?;
        say(&format!("metrics at http://{addr}/metrics"));
        tokio::spawn(certrenew_server::edge::serve(
            metrics,
            certrenew_server::metrics::router(state.clone()),
            certrenew_server::edge::Limits::default(),
        ));
    }
    certrenew_server::jobs::spawn(state.clone());
    let served = certrenew_server::edge::serve(
        listener,
        certrenew_server::app(state),
        certrenew_server::edge::Limits::default(),
    );
    tokio::select! {
        r = served => r.map_err(Failure::from),
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}

fn redact(url: &str) -> String {
    // postgres://user:password@host/db → postgres://user:***@host/db
    match (url.find("://"), url.find('@')) {
        (Some(s), Some(at)) if url[s + 3..at].contains(':') => {
            let colon = s + 3 + url[s + 3..at].find(':').unwrap_or(0);
            format!("{}:***{}", &url[..colon], &url[at..])
        }
        _ => url.to_string(),
    }
}

/// Files the management keys of tokens the CA personalized (from a personalization export), so
/// installs can authenticate through the server. The file is read, never echoed.
async fn management_key_import(file: &std::path::Path, store: &Store) -> Result<(), Failure> {
    let name = file.display();
    let text =
        zeroize::Zeroizing::new(std::fs::read_to_string(file).map_err(|e| format!("{name}: {e}"))?);
    let keys =
        certrenew_server::management_keys_from_csv(&text).map_err(|e| format!("{name}: {e}"))?;
    let (state, _) = AppState::open(store_config(store, DEFAULT_PUBLIC_URL.into())).await?;
    let t = certrenew_server::now();
    for (serial, key) in &keys {
        state.db.set_management_key(serial, key, t).await?;
    }
    println!("{} management keys filed", keys.len());
    Ok(())
}

async fn admin_create(user: &str, roles: &[String], store: &Store) -> Result<(), Failure> {
    use certrenew_server::http::admin::{Role, DEFAULT_ROLES};
    let roles: Vec<Role> = if roles.is_empty() {
        DEFAULT_ROLES.to_vec()
    } else {
        roles.iter().filter_map(|r| Role::parse(r)).collect()
    };
    let password = match std::env::var("CERTRENEW_ADMIN_PASSWORD") {
        Ok(p) => p,
        Err(_) => {
            let mut line = String::new();
            eprint!("password for {user}: ");
            std::io::stdin().read_line(&mut line)?;
            line.trim_end().to_string()
        }
    };
    let (state, _) = AppState::open(store_config(store, DEFAULT_PUBLIC_URL.into())).await?;
    certrenew_server::http::admin::create_admin_with_roles(&state, user, &password, &roles).await?;
    let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
    println!("administrator {user} saved ({})", names.join(", "));
    Ok(())
}

async fn ca_show(store: &Store) -> Result<(), Failure> {
    let (state, _) = AppState::open(store_config(store, DEFAULT_PUBLIC_URL.into())).await?;
    let s = ccid::cert::summarize(&state.ca.cert_der, certrenew_server::now())?;
    println!(
        "subject: {}\nserial: {}\nnot after: {}\nfile: {}",
        s.subject,
        s.serial,
        s.not_after,
        state.config.data_dir.join("ca.crt").display()
    );
    Ok(())
}

async fn issue_demo(a: IssueDemo) -> Result<(), Failure> {
    let spki =
        std::fs::read(&a.public_key).map_err(|e| format!("{}: {e}", a.public_key.display()))?;
    let key = ccid::keys::PublicKey::from_spki_der(&spki)?;
    if !key.on_curve() {
        return Err(format!("{}: the point is not on the curve", a.public_key.display()).into());
    }
    let (state, _) = AppState::open(store_config(&a.store, DEFAULT_PUBLIC_URL.into())).await?;
    let days = a.days;
    let subject: x509_cert::name::Name =
        a.subject.parse().map_err(|e| format!("subject: {e:?}"))?;
    let t = certrenew_server::now();
    let der = certrenew_server::demo_certificate(
        &state,
        &subject,
        &key,
        t - 365 * 86_400 + days * 86_400 - 86_400,
        t + days * 86_400,
    )
    .await?;
    match a.out {
        Some(p) => std::fs::write(&p, der)?,
        None => println!(
            "{}",
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, der)
        ),
    }
    Ok(())
}

async fn backup(store: &Store, dir: &std::path::Path) -> Result<(), Failure> {
    // Never a new CA made by mistake: a backup is of a data directory that exists.
    if !store.data.join("ca.crt").exists() {
        return Err(format!(
            "{}: no CA here (ca.crt); nothing to back up",
            store.data.display()
        )
        .into());
    }
    let (state, _) = AppState::open(store_config(store, DEFAULT_PUBLIC_URL.into())).await?;
    let m = certrenew_server::backup::backup(&state, dir).await?;
    for (name, _) in &m.files {
        say(&format!("copied {name}"));
    }
    if m.database == "postgres" {
        say(
            "the database is PostgreSQL: dump it with pg_dump (README, Backups) beside these files",
        );
    }
    say(&format!(
        "backup in {}: {} orders, last installed {}",
        dir.display(),
        m.orders,
        m.last_installed.as_deref().unwrap_or("none")
    ));
    Ok(())
}

/// Prints serve's effective options as TOML (a config file as it stands), each with where its
/// value came from, secrets redacted; then checks the whole.
fn config_check(
    serve: &Serve,
    m: Option<&clap::ArgMatches>,
    from_file: &[String],
) -> Result<(), Failure> {
    use clap::parser::ValueSource;
    let m = m.ok_or("config check: no options parsed")?;
    let cli = Cli::command();
    let cmd = cli
        .find_subcommand("config")
        .and_then(|c| c.find_subcommand("check"))
        .ok_or("config check: no such command")?;
    println!("# certrenew serve: effective configuration (flag > environment > file > default)");
    for a in cmd.get_arguments() {
        let (Some(long), id) = (a.get_long(), a.get_id().as_str()) else {
            continue;
        };
        if a.is_global_set() || long == "help" {
            continue;
        }
        let env = a.get_env().map(|e| e.to_string_lossy().into_owned());
        let values: Vec<String> = m
            .get_raw(id)
            .map(|v| v.map(|s| s.to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        let source = match m.value_source(id) {
            Some(ValueSource::CommandLine) => "flag".to_string(),
            Some(ValueSource::EnvVariable) => match &env {
                Some(e) if from_file.contains(e) => "file".to_string(),
                Some(e) => format!("environment {e}"),
                None => "environment".to_string(),
            },
            Some(ValueSource::DefaultValue) => "default".to_string(),
            _ => {
                println!("# {long} = (not set)");
                continue;
            }
        };
        let shown: Vec<String> = values
            .iter()
            .map(|v| {
                if long == "database" {
                    redact(v)
                } else {
                    v.clone()
                }
            })
            .collect();
        let text = match a.get_action() {
            clap::ArgAction::SetTrue | clap::ArgAction::SetFalse => shown.join(""),
            clap::ArgAction::Append => format!(
                "[{}]",
                shown
                    .iter()
                    .map(|v| toml_string(v))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            _ => toml_string(&shown.join(",")),
        };
        println!("{long} = {text}  # {source}");
    }
    for secret in ["CERTRENEW_SMTP_PASSWORD", hsm_pin_var()] {
        if std::env::var_os(secret).is_some() {
            println!("# {secret}: set (not shown)");
        }
    }
    // The same checks serve makes before it opens anything: accounts whole, key files readable.
    let c = config(serve)?;
    if let Some(a) = &c.alipay {
        a.load()?;
    }
    if let Some(w) = &c.wechat {
        w.load()?;
    }
    if let Some(web) = &c.web_dir {
        if !web.join("index.html").exists() {
            return Err(format!("--web {}: no index.html there", web.display()).into());
        }
    }
    println!("# configuration OK");
    Ok(())
}

fn hsm_pin_var() -> &'static str {
    certrenew_server::hsm::PIN_VAR
}

/// A TOML basic string.
fn toml_string(v: &str) -> String {
    toml::Value::String(v.to_string()).to_string()
}

fn restore(from: &std::path::Path, data: &std::path::Path) -> Result<(), Failure> {
    let m = certrenew_server::backup::restore(from, data)?;
    say(&format!(
        "restored {} files into {} (backup of {} orders, last installed {}); check it with: certrenew check --data {}",
        m.files.len(),
        data.display(),
        m.orders,
        m.last_installed.as_deref().unwrap_or("none"),
        data.display()
    ));
    if m.database == "postgres" {
        say("the database is PostgreSQL: restore its dump with pg_restore, then start with --database");
    }
    Ok(())
}

async fn check(store: &Store) -> Result<(), Failure> {
    let (state, _) = AppState::open(store_config(store, DEFAULT_PUBLIC_URL.into())).await?;
    let bad = certrenew_server::store::check::invariants(&state.db).await?;
    let n = state.db.order_count().await?;
    for b in &bad {
        println!("violation: {b}");
    }
    println!("{n} orders checked, {} violations", bad.len());
    if bad.is_empty() {
        Ok(())
    } else {
        Err("invariants violated".into())
    }
}
