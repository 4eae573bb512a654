//! `certrenew-kiosk`: builds the kiosk app (Isolated Web App) as a signed web bundle.
//!
//!   certrenew-kiosk keygen --out KEY.pem        new Ed25519 signing key (kept outside the repo)
//!   certrenew-kiosk id --key KEY.pem            the app's web bundle id (isolated-app://ID/)
//!   certrenew-kiosk bundle --key KEY.pem --api https://ca.example.cn [--dist dist]
//!                          [--version 1.0.0] [--out dist-kiosk/certrenew.swbn]
//!   certrenew-kiosk inspect FILE.swbn           verify signature and id, list the contents

use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use ed25519_dalek::SigningKey;
use kiosk::{inspect, sign, web_bundle, web_bundle_id, Resource};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const ICON: &[u8] = include_bytes!("../../web/icon-256.png");

fn usage() -> ExitCode {
    eprintln!("usage: certrenew-kiosk keygen --out KEY | id --key KEY | bundle --key KEY --api URL [--dist DIR] [--version V] [--out FILE] | inspect FILE");
    ExitCode::from(2)
}

fn opt(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn read_key(path: &str) -> Result<SigningKey, String> {
    let pem = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    SigningKey::from_pkcs8_pem(&pem).map_err(|e| format!("{path}: not an Ed25519 PKCS#8 key: {e}"))
}

fn keygen(out: &str) -> Result<(), String> {
    if Path::new(out).exists() {
        return Err(format!(
            "{out} exists; refusing to replace a signing key (it is the app's identity)"
        ));
    }
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| e.to_string())?;
    let key = SigningKey::from_bytes(&seed);
    // PKCS#8 v1 (no public key inside): what `openssl genpkey -algorithm ed25519` writes and
    // what OpenSSL-based tools read.
    let pem = ed25519_dalek::pkcs8::KeypairBytes {
        secret_key: seed,
        public_key: None,
    }
    .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
    .map_err(|e| e.to_string())?;
    seed.fill(0);
    #[cfg(unix)]
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(out)
            .map_err(|e| format!("{out}: {e}"))?;
        f.write_all(pem.as_bytes()).map_err(|e| e.to_string())?;
    }
    #[cfg(not(unix))]
    std::fs::write(out, pem.as_bytes()).map_err(|e| e.to_string())?;
    println!("{}", web_bundle_id(&key.verifying_key()));
    Ok(())
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("wasm") => "application/wasm",
        Some("png") => "image/png",
        Some("webmanifest") => "application/manifest+json",
        _ => "application/octet-stream",
    }
}

/// The Web App Manifest of the kiosk app: the permissions it needs (WebUSB on protected classes,
/// the Web Smart Card API) granted to itself only.
fn manifest(version: &str) -> String {
    serde_json::json!({
        "name": "数字证书在线续期 · certrenew",
        "short_name": "证书续期",
        "version": version,
        "start_url": "/",
        "display": "standalone",
        "background_color": "#f4f6f9",
        "icons": [{"src": "/icon-256.png", "sizes": "256x256", "type": "image/png"}],
        "permissions_policy": {
            "usb-unrestricted": ["self"],
            "smart-card": ["self"],
            "cross-origin-isolated": ["self"]
        }
    })
    .to_string()
}

fn bundle(args: &[String]) -> Result<(), String> {
    let key = read_key(&opt(args, "--key").ok_or("--key KEY.pem is required")?)?;
    let api = opt(args, "--api").ok_or("--api URL of the renewal server is required")?;
    if !(api.starts_with("https://")
        || api.starts_with("http://127.0.0.1")
        || api.starts_with("http://localhost"))
    {
        return Err(format!(
            "--api {api}: the kiosk talks to the server over https"
        ));
    }
    let dist = PathBuf::from(opt(args, "--dist").unwrap_or_else(|| "dist".into()));
    let version = opt(args, "--version").unwrap_or_else(|| env!("CARGO_PKG_VERSION").into());
    let out =
        PathBuf::from(opt(args, "--out").unwrap_or_else(|| "dist-kiosk/certrenew.swbn".into()));
    let read = |name: &str| {
        std::fs::read(dist.join(name)).map_err(|e| {
            format!(
                "{}: {e} (run scripts/build-web first)",
                dist.join(name).display()
            )
        })
    };
    let html = String::from_utf8(read("index.html")?).map_err(|e| e.to_string())?;
    // The app is served from isolated-app://, so it must be told where the server is; and the
    // kiosk build is always in kiosk mode.
    let meta = format!(
        "<meta name=\"certrenew-api\" content=\"{}\">\n  <meta name=\"certrenew-mode\" content=\"kiosk\">\n</head>",
        api.trim_end_matches('/').replace('"', "")
    );
    let html = html.replacen("</head>", &meta, 1);
    let mut resources = vec![
        Resource {
            path: "/".into(),
            content_type: content_type("x.html").into(),
            body: html.clone().into_bytes(),
        },
        Resource {
            path: "/index.html".into(),
            content_type: content_type("x.html").into(),
            body: html.into_bytes(),
        },
        Resource {
            path: "/.well-known/manifest.webmanifest".into(),
            content_type: content_type("x.webmanifest").into(),
            body: manifest(&version).into_bytes(),
        },
        Resource {
            path: "/icon-256.png".into(),
            content_type: content_type("x.png").into(),
            body: ICON.to_vec(),
        },
    ];
    // The build names assets by their content (scripts/hash-assets.mjs); index.html refers to
    // those names. The demo token rides along for rehearsals; it is loaded only when asked for.
    let assets: std::collections::BTreeMap<String, String> =
        serde_json::from_slice(&read("assets.json")?)
            .map_err(|e| format!("{}: {e}", dist.join("assets.json").display()))?;
    for name in [
        "boot.js",
        "web.js",
        "web_bg.wasm",
        "style.css",
        "demo.js",
        "demo_bg.wasm",
    ] {
        let file = assets
            .get(name)
            .ok_or_else(|| format!("assets.json names no {name} (run scripts/build-web)"))?;
        resources.push(Resource {
            path: format!("/{file}"),
            content_type: content_type(name).into(),
            body: read(file)?,
        });
    }
    let signed = sign(&web_bundle(&resources), &key);
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    }
    std::fs::write(&out, &signed).map_err(|e| format!("{}: {e}", out.display()))?;
    println!(
        "{} ({} bytes) isolated-app://{}/",
        out.display(),
        signed.len(),
        web_bundle_id(&key.verifying_key())
    );
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("keygen") => match opt(&args, "--out") {
            Some(out) => keygen(&out),
            None => return usage(),
        },
        Some("id") => match opt(&args, "--key") {
            Some(k) => read_key(&k).map(|k| println!("{}", web_bundle_id(&k.verifying_key()))),
            None => return usage(),
        },
        Some("bundle") => bundle(&args),
        Some("inspect") => match args.get(1) {
            Some(f) => std::fs::read(f)
                .map_err(|e| format!("{f}: {e}"))
                .and_then(|b| inspect(&b).map_err(|e| format!("{f}: {e}")))
                .map(|i| {
                    println!("isolated-app://{}/ (signature verified)", i.web_bundle_id);
                    for (path, ty, len) in i.resources {
                        println!("  {path}  {ty}  {len} bytes");
                    }
                }),
            None => return usage(),
        },
        _ => return usage(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("certrenew-kiosk: {e}");
            ExitCode::FAILURE
        }
    }
}
