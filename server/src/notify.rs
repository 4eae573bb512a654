//! Delivery of the outbox's notices: e-mail by SMTP and SMS through an HTTP gateway when they are
//! configured, otherwise one file per notice in the data directory (the embedded default).

use crate::fault::Error;
use lettre::message::{header::ContentType, Mailbox};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::path::{Path, PathBuf};

/// One queued notice.
#[derive(Clone, Copy)]
pub struct Notice<'a> {
    pub id: i64,
    /// "email" or "sms".
    pub kind: &'a str,
    pub to: &'a str,
    pub subject: &'a str,
    pub body: &'a str,
}

/// Why a notice was not delivered; it stays queued either way.
#[derive(Debug)]
pub enum Undelivered {
    /// This notice cannot go out as it is (a malformed address, its recipient refused for good).
    Notice(String),
    /// The channel failed (relay or gateway unreachable, slow, or refusing for now): the next
    /// notice of the same kind would wait for it too.
    Channel(String),
}

impl std::fmt::Display for Undelivered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Notice(e) | Self::Channel(e) => f.write_str(e),
        }
    }
}

/// Where notices go. Built once at start from the configuration.
pub struct Notifier {
    dir: PathBuf,
    smtp: Option<(AsyncSmtpTransport<Tokio1Executor>, Mailbox)>,
    sms_gateway: Option<String>,
    http: reqwest::Client,
}

/// How to reach the mail relay.
pub struct Smtp<'a> {
    /// `smtp://[user@]host[:port]` — plain SMTP, for a relay on a trusted network (port 25);
    /// `smtp://…?tls=required` — STARTTLS, refusing a relay that does not offer it (port 587);
    /// `smtps://[user@]host[:port]` — TLS from the first byte (port 465).
    /// With a user name, the client authenticates (AUTH PLAIN/LOGIN, only over TLS).
    pub url: &'a str,
    /// The password for the user in `url`; kept out of the URL so it shows in neither `ps` nor logs.
    pub password: Option<&'a str>,
    /// PEM root certificate(s) the relay's TLS certificate must chain to (a private CA); the
    /// public web roots without.
    pub ca_pem: Option<&'a [u8]>,
}

impl Smtp<'_> {
    fn transport(&self) -> Result<AsyncSmtpTransport<Tokio1Executor>, Error> {
        use lettre::transport::smtp::authentication::Credentials;
        use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
        let bad = |why: &str| Error::Config(format!("--smtp {}: {why}", redact(self.url)));
        let url = url::Url::parse(self.url).map_err(|e| bad(&e.to_string()))?;
        if url.password().is_some() {
            return Err(bad(
                "put the password in CERTRENEW_SMTP_PASSWORD, not in the URL",
            ));
        }
        let host = url.host_str().ok_or_else(|| bad("no host"))?.to_owned();
        let starttls = match url.query_pairs().find(|(k, _)| k == "tls") {
            None => false,
            Some((_, v)) if v == "required" => true,
            Some((_, v)) => return Err(bad(&format!("tls={v}: only tls=required"))),
        };
        let (implicit, default_port) = match (url.scheme(), starttls) {
            ("smtps", false) => (true, 465),
            ("smtp", true) => (false, 587),
            ("smtp", false) => (false, 25),
            ("smtps", true) => return Err(bad("smtps is TLS already; drop ?tls=required")),
            (other, _) => return Err(bad(&format!("{other}: smtp or smtps"))),
        };
        let tls = if implicit || starttls {
            let mut params = TlsParameters::builder(host.clone());
            if let Some(pem) = self.ca_pem {
                params = params.add_root_certificate(
                    Certificate::from_pem(pem)
                        .map_err(|e| Error::Config(format!("--smtp-ca: {e}")))?,
                );
            }
            let params = params.build_rustls().map_err(|e| bad(&e.to_string()))?;
            if implicit {
                Tls::Wrapper(params)
            } else {
                Tls::Required(params)
            }
        } else {
            Tls::None
        };
        let user = percent_encoding::percent_decode_str(url.username())
            .decode_utf8()
            .map_err(|_| bad("the user name is not UTF-8"))?
            .into_owned();
        if !user.is_empty() && matches!(tls, Tls::None) {
            return Err(bad(
                "a password would cross the network in clear; use smtps:// or ?tls=required",
            ));
        }
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&host)
            .port(url.port().unwrap_or(default_port))
            .tls(tls)
            .timeout(Some(std::time::Duration::from_secs(20)));
        if !user.is_empty() {
            let password = self
                .password
                .ok_or_else(|| bad("a user without CERTRENEW_SMTP_PASSWORD"))?;
            builder = builder.credentials(Credentials::new(user, password.to_owned()));
        }
        Ok(builder.build())
    }
}

/// The URL with any user info replaced, for error messages and logs.
fn redact(url: &str) -> String {
    match (url.split_once("://"), url.rfind('@')) {
        (Some((scheme, _)), Some(at)) => format!("{scheme}://…{}", &url[at..]),
        _ => url.to_owned(),
    }
}

impl Notifier {
    /// The notifier the configuration describes (built once, at start).
    pub fn from_config(c: &crate::Config, http: reqwest::Client) -> Result<Self, Error> {
        let ca_pem = match &c.smtp_ca {
            Some(path) => Some(
                std::fs::read(path)
                    .map_err(|e| Error::Config(format!("--smtp-ca {}: {e}", path.display())))?,
            ),
            None => None,
        };
        let smtp = c.smtp_url.as_deref().map(|url| Smtp {
            url,
            password: c.smtp_password.as_deref(),
            ca_pem: ca_pem.as_deref(),
        });
        Self::new(
            &c.data_dir,
            smtp,
            &c.smtp_from,
            c.sms_gateway.as_deref(),
            http,
        )
    }

    /// `smtp` the mail relay, `from` the sender, `sms_gateway` a URL taking
    /// `POST {"to", "text"}` as JSON. Without a relay or gateway, notices go to files.
    pub fn new(
        data_dir: &Path,
        smtp: Option<Smtp<'_>>,
        from: &str,
        sms_gateway: Option<&str>,
        http: reqwest::Client,
    ) -> Result<Self, Error> {
        let smtp = match smtp {
            None => None,
            Some(relay) => {
                let from: Mailbox = from
                    .parse()
                    .map_err(|e| Error::Config(format!("sender {from}: {e}")))?;
                Some((relay.transport()?, from))
            }
        };
        Ok(Self {
            dir: data_dir.join("outbox"),
            smtp,
            sms_gateway: sms_gateway.map(str::to_owned),
            http,
        })
    }

    /// Delivers one notice; returns the channel used.
    pub async fn deliver(&self, n: &Notice<'_>) -> Result<&'static str, Undelivered> {
        match (n.kind, &self.smtp, &self.sms_gateway) {
            ("email", Some((transport, from)), _) => {
                let to: Mailbox =
                    n.to.parse()
                        .map_err(|e| Undelivered::Notice(format!("recipient address: {e}")))?;
                let message = Message::builder()
                    .from(from.clone())
                    .to(to)
                    .subject(n.subject)
                    .header(ContentType::TEXT_PLAIN)
                    .body(n.body.to_owned())
                    .map_err(|e| Undelivered::Notice(e.to_string()))?;
                transport.send(message).await.map_err(|e| {
                    // A 5xx reply is about this message (its recipient, say); the rest may pass.
                    if e.is_permanent() {
                        Undelivered::Notice(format!("SMTP: {e}"))
                    } else {
                        Undelivered::Channel(format!("SMTP: {e}"))
                    }
                })?;
                Ok("smtp")
            }
            ("sms", _, Some(url)) => {
                let body =
                    serde_json::json!({"to": n.to, "text": format!("{}：{}", n.subject, n.body)});
                self.http
                    .post(url)
                    .header("content-type", "application/json")
                    .body(body.to_string())
                    .timeout(std::time::Duration::from_secs(20))
                    .send()
                    .await
                    .and_then(|r| r.error_for_status())
                    .map_err(|e| Undelivered::Channel(format!("SMS gateway: {e}")))?;
                Ok("sms-gateway")
            }
            _ => {
                self.to_file(std::slice::from_ref(n), crate::now()).await?;
                Ok("file")
            }
        }
    }

    /// Whether notices of `kind` go to the file (no relay or gateway configured for them).
    pub fn by_file(&self, kind: &str) -> bool {
        !matches!(
            (kind, &self.smtp, &self.sms_gateway),
            ("email", Some(_), _) | ("sms", _, Some(_))
        )
    }

    /// Appends notices to the day's file in `outbox/` (`notices-YYYY-MM-DD.txt`, UTC), all in one
    /// write: a file per notice cost an inode each, ≈ 0.3 ms of kernel time per renewal.
    pub async fn to_file(&self, notices: &[Notice<'_>], now: i64) -> Result<(), Undelivered> {
        use std::fmt::Write;
        let mut text = String::new();
        for n in notices {
            let _ = write!(
                text,
                "Id: {}\nKind: {}\nTo: {}\nSubject: {}\n\n{}\n{SEPARATOR}\n",
                n.id, n.kind, n.to, n.subject, n.body
            );
        }
        let day = &crate::rfc3339(now)[..10];
        let (dir, file) = (
            self.dir.clone(),
            self.dir.join(format!("notices-{day}.txt")),
        );
        tokio::task::spawn_blocking(move || {
            use std::io::Write;
            // Full phone numbers and e-mail addresses: owner-only, like the database.
            crate::owner_only_dir(&dir)?;
            let mut open = std::fs::OpenOptions::new();
            open.create(true).append(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut open, 0o600);
            open.open(file)?.write_all(text.as_bytes())
        })
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(e)))
        .map_err(|e| Undelivered::Channel(format!("outbox directory: {e}")))
    }
}

/// Ends each notice in the outbox's files.
pub const SEPARATOR: &str = "--";

#[cfg(test)]
mod tests {
    use super::*;

    fn check(url: &str, password: Option<&str>) -> Result<(), Error> {
        Smtp {
            url,
            password,
            ca_pem: None,
        }
        .transport()
        .map(drop)
    }

    #[test]
    fn relay_urls_are_checked_before_anything_is_sent() {
        assert!(check("smtp://relay.example.cn", None).is_ok());
        assert!(check("smtp://relay.example.cn:2525", None).is_ok());
        assert!(check(
            "smtp://mailer@relay.example.cn?tls=required",
            Some("s3cret")
        )
        .is_ok());
        assert!(check("smtps://mailer%40ca@relay.example.cn", Some("s3cret")).is_ok());
        let err = |url, pw| check(url, pw).unwrap_err().to_string();
        assert!(
            err("smtp://mailer:s3cret@relay.example.cn?tls=required", None)
                .contains("CERTRENEW_SMTP_PASSWORD")
        );
        assert!(!err("smtp://mailer:s3cret@relay.example.cn", None).contains("s3cret"));
        assert!(err("smtp://mailer@relay.example.cn", Some("pw")).contains("in clear"));
        assert!(err("smtps://mailer@relay.example.cn", None).contains("CERTRENEW_SMTP_PASSWORD"));
        assert!(err("smtp://relay.example.cn?tls=opportunistic", None).contains("tls=required"));
        assert!(err("smtps://relay.example.cn?tls=required", None).contains("TLS already"));
        assert!(err("http://relay.example.cn", None).contains("smtp or smtps"));
    }
}
