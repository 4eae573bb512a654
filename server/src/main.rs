//! `certrenew`: the renewal server.
//!
//! certrenew serve [--data DIR] [--listen ADDR] [--database URL] [--public-url URL] [--web DIR]
//!                 [--auto-approve] [--demo] [--renewal-window-days N] [--rate-limit PER_MINUTE]
//!                 [--login-rate-limit PER_MINUTE]
//!                 [--cors-origin ORIGIN]… [--trusted-proxy CIDR]… [--reconcile-after SECS]
//!                 [--provider-query-url URL]
//!                 [--sandbox-payments] [--sandbox-drop-notices] [--smtp URL] [--smtp-ca PEM] [--smtp-from ADDR]
//!                 [--sms-gateway URL] [--ca-key p256|rsa2048]
//!                 [--ca-key-uri pkcs11:token=…;object=…?module-path=…]   (PIN in CERTRENEW_CA_PIN)
//! certrenew admin create USER            (password from CERTRENEW_ADMIN_PASSWORD or stdin)
//! certrenew management-key import FILE   (serial,algorithm,key per line: keys the CA holds)
//! certrenew ca show [--data DIR]
//! certrenew check [--data DIR]          (order invariants; exit 1 on a violation)
//! certrenew issue-demo --public-key SPKI.der --subject "CN=…" --days N [--data DIR]

use certrenew_server::{AppState, Config};
use std::path::PathBuf;

struct Args {
    data: PathBuf,
    listen: String,
    database: Option<String>,
    public_url: Option<String>,
    web: Option<PathBuf>,
    auto_approve: bool,
    demo: bool,
    sandbox_payments: bool,
    window: Option<i64>,
    rate_limit: Option<u32>,
    login_rate_limit: Option<u32>,
    cors: Vec<String>,
    trusted_proxies: Vec<certrenew_server::limit::Cidr>,
    reconcile_after: Option<i64>,
    provider_query_url: Option<String>,
    drop_notices: bool,
    smtp: Option<String>,
    smtp_from: Option<String>,
    smtp_ca: Option<PathBuf>,
    sms_gateway: Option<String>,
    ca_rsa: bool,
    ca_key_uri: Option<String>,
    rest: Vec<String>,
}

fn parse(mut it: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut a = Args {
        data: PathBuf::from("data"),
        listen: "127.0.0.1:8080".into(),
        database: None,
        public_url: None,
        web: None,
        auto_approve: false,
        demo: false,
        sandbox_payments: false,
        window: None,
        rate_limit: None,
        login_rate_limit: None,
        cors: vec![],
        trusted_proxies: vec![],
        reconcile_after: None,
        provider_query_url: None,
        drop_notices: false,
        smtp: None,
        smtp_from: None,
        smtp_ca: None,
        sms_gateway: None,
        ca_rsa: false,
        ca_key_uri: None,
        rest: vec![],
    };
    while let Some(x) = it.next() {
        let mut val = || it.next().ok_or(format!("{x} needs a value"));
        match x.as_str() {
            "--data" => a.data = val()?.into(),
            "--listen" => a.listen = val()?,
            "--database" => a.database = Some(val()?),
            "--public-url" => a.public_url = Some(val()?),
            "--web" => a.web = Some(val()?.into()),
            "--auto-approve" => a.auto_approve = true,
            "--demo" => a.demo = true,
            "--sandbox-payments" => a.sandbox_payments = true,
            "--renewal-window-days" => {
                a.window = Some(
                    val()?
                        .parse()
                        .map_err(|_| "--renewal-window-days takes a number")?,
                )
            }
            "--rate-limit" => {
                a.rate_limit = Some(
                    val()?
                        .parse()
                        .map_err(|_| "--rate-limit takes requests per minute")?,
                )
            }
            "--login-rate-limit" => {
                a.login_rate_limit = Some(
                    val()?
                        .parse()
                        .map_err(|_| "--login-rate-limit takes attempts per minute")?,
                )
            }
            "--cors-origin" => a.cors.push(val()?),
            "--trusted-proxy" => a.trusted_proxies.push(val()?.parse()?),
            "--reconcile-after" => {
                a.reconcile_after = Some(
                    val()?
                        .parse()
                        .map_err(|_| "--reconcile-after takes seconds")?,
                )
            }
            "--provider-query-url" => a.provider_query_url = Some(val()?),
            "--sandbox-drop-notices" => a.drop_notices = true,
            "--smtp" => a.smtp = Some(val()?),
            "--smtp-from" => a.smtp_from = Some(val()?),
            "--smtp-ca" => a.smtp_ca = Some(val()?.into()),
            "--sms-gateway" => a.sms_gateway = Some(val()?),
            "--ca-key-uri" => a.ca_key_uri = Some(val()?),
            "--ca-key" => {
                a.ca_rsa = match val()?.as_str() {
                    "p256" => false,
                    "rsa2048" => true,
                    other => return Err(format!("--ca-key {other}: p256 or rsa2048")),
                }
            }
            _ => a.rest.push(x),
        }
    }
    Ok(a)
}

fn config(a: &Args) -> Config {
    let mut c = Config::new(
        a.data.clone(),
        a.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", a.listen)),
    );
    if let Some(db) = &a.database {
        c.database_url = db.clone();
    }
    c.web_dir = a.web.clone();
    c.auto_approve = a.auto_approve;
    c.demo = a.demo;
    // The demo takes its payments in the sandbox; a real deployment says so explicitly.
    c.sandbox_payments = a.demo || a.sandbox_payments;
    if let Some(w) = a.window {
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
    c.provider_query_url = a.provider_query_url.clone();
    c.sandbox_drop_notices = a.drop_notices;
    c.smtp_url = a.smtp.clone();
    c.smtp_ca = a.smtp_ca.clone();
    c.smtp_password = std::env::var("CERTRENEW_SMTP_PASSWORD").ok();
    if let Some(f) = &a.smtp_from {
        c.smtp_from = f.clone();
    }
    c.sms_gateway = a.sms_gateway.clone();
    if a.ca_rsa {
        c.ca_algorithm = ccid::piv::Algorithm::Rsa2048;
    }
    c.ca_key_uri = a.ca_key_uri.clone();
    c.ca_pin = std::env::var(certrenew_server::hsm::PIN_VAR).ok();
    c
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let mut argv = std::env::args().skip(1);
    let cmd = argv.next().unwrap_or_default();
    let args = match parse(argv) {
        Ok(a) => a,
        Err(e) => fail(&e),
    };
    let result = match cmd.as_str() {
        "serve" => serve(args).await,
        "admin" => admin(args).await,
        "management-key" => management_key(args).await,
        "ca" => ca(args).await,
        "issue-demo" => issue_demo(args).await,
        "check" => check(args).await,
        _ => Err("usage: certrenew serve|admin create USER|ca show|issue-demo …".into()),
    };
    if let Err(e) = result {
        fail(&e);
    }
}

fn fail(e: &str) -> ! {
    eprintln!("certrenew: {e}");
    std::process::exit(1)
}

async fn serve(a: Args) -> Result<(), String> {
    let (state, notes) = AppState::open(config(&a)).await?;
    for n in notes {
        println!("{n}");
    }
    let listener = tokio::net::TcpListener::bind(&a.listen)
        .await
        .map_err(|e| format!("{}: {e}", a.listen))?;
    println!(
        "certrenew listening on {} (data in {}, database {})",
        state.config.public_url,
        state.config.data_dir.display(),
        redact(&state.config.database_url)
    );
    if state.config.sandbox_payments {
        println!(
            "payments: the sandbox provider (anyone can pay in its cashier; for demos and tests)"
        );
    } else {
        println!("payments: no provider set up — applications are taken but cannot be paid (--sandbox-payments for the sandbox)");
    }
    certrenew_server::jobs::spawn(state.clone());
    let served = certrenew_server::edge::serve(
        listener,
        certrenew_server::app(state),
        certrenew_server::edge::Limits::default(),
    );
    tokio::select! {
        r = served => r.map_err(|e| e.to_string()),
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
async fn management_key(a: Args) -> Result<(), String> {
    let [sub, file] = a.rest.as_slice() else {
        return Err("usage: certrenew management-key import FILE".into());
    };
    if sub != "import" {
        return Err("usage: certrenew management-key import FILE".into());
    }
    let text =
        zeroize::Zeroizing::new(std::fs::read_to_string(file).map_err(|e| format!("{file}: {e}"))?);
    let keys =
        certrenew_server::management_keys_from_csv(&text).map_err(|e| format!("{file}: {e}"))?;
    let (state, _) = AppState::open(config(&a)).await?;
    let t = certrenew_server::now();
    for (serial, key) in &keys {
        state
            .db
            .set_management_key(serial, key, t)
            .await
            .map_err(|e| e.to_string())?;
    }
    println!("{} management keys filed", keys.len());
    Ok(())
}

async fn admin(a: Args) -> Result<(), String> {
    let [sub, user] = a.rest.as_slice() else {
        return Err("usage: certrenew admin create USER".into());
    };
    if sub != "create" {
        return Err("usage: certrenew admin create USER".into());
    }
    let password = match std::env::var("CERTRENEW_ADMIN_PASSWORD") {
        Ok(p) => p,
        Err(_) => {
            let mut line = String::new();
            eprint!("password for {user}: ");
            std::io::stdin()
                .read_line(&mut line)
                .map_err(|e| e.to_string())?;
            line.trim_end().to_string()
        }
    };
    let (state, _) = AppState::open(config(&a)).await?;
    certrenew_server::routes::admin::create_admin(&state, user, &password).await?;
    println!("administrator {user} saved");
    Ok(())
}

async fn ca(a: Args) -> Result<(), String> {
    let (state, _) = AppState::open(config(&a)).await?;
    let s = ccid::cert::summarize(&state.ca.cert_der, certrenew_server::now())
        .map_err(|e| e.to_string())?;
    println!(
        "subject: {}\nserial: {}\nnot after: {}\nfile: {}",
        s.subject,
        s.serial,
        s.not_after,
        state.config.data_dir.join("ca.crt").display()
    );
    Ok(())
}

async fn issue_demo(a: Args) -> Result<(), String> {
    let mut it = a.rest.iter();
    let (mut key, mut subject, mut days, mut out) = (
        None,
        "CN=演示用户,O=演示医疗器械有限公司,C=CN".to_string(),
        30i64,
        None,
    );
    while let Some(x) = it.next() {
        let v = it.next().ok_or(format!("{x} needs a value"))?;
        match x.as_str() {
            "--public-key" => key = Some(std::fs::read(v).map_err(|e| format!("{v}: {e}"))?),
            "--subject" => subject = v.clone(),
            "--days" => days = v.parse().map_err(|_| "--days takes a number")?,
            "--out" => out = Some(v.clone()),
            _ => return Err(format!("unknown option {x}")),
        }
    }
    let key =
        ccid::keys::PublicKey::from_spki_der(&key.ok_or("--public-key SPKI.der is required")?)?;
    let (state, _) = AppState::open(config(&a)).await?;
    let subject: x509_cert::name::Name = subject.parse().map_err(|e| format!("subject: {e:?}"))?;
    let t = certrenew_server::now();
    let der = certrenew_server::demo_certificate(
        &state,
        &subject,
        &key,
        t - 365 * 86_400 + days * 86_400 - 86_400,
        t + days * 86_400,
    )
    .await?;
    match out {
        Some(p) => std::fs::write(&p, der).map_err(|e| e.to_string())?,
        None => println!(
            "{}",
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, der)
        ),
    }
    Ok(())
}

async fn check(a: Args) -> Result<(), String> {
    let (state, _) = AppState::open(config(&a)).await?;
    let bad = certrenew_server::check::invariants(&state.db)
        .await
        .map_err(|e| e.to_string())?;
    let n: i64 = certrenew_server::sql::query("SELECT COUNT(*) AS n FROM orders")
        .fetch_one(&state.db.pool)
        .await
        .and_then(|r| r.try_get("n"))
        .map_err(|e| e.to_string())?;
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
