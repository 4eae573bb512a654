//! Delivery of the outbox's notices: e-mail by SMTP and SMS through an HTTP gateway when they are
//! configured, otherwise one file per notice in the data directory (the embedded default).

use lettre::message::{header::ContentType, Mailbox};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::path::{Path, PathBuf};

/// One queued notice.
pub struct Notice<'a> {
    pub id: i64,
    /// "email" or "sms".
    pub kind: &'a str,
    pub to: &'a str,
    pub subject: &'a str,
    pub body: &'a str,
}

/// Where notices go. Built once per delivery run from the configuration.
pub struct Notifier {
    dir: PathBuf,
    smtp: Option<(AsyncSmtpTransport<Tokio1Executor>, Mailbox)>,
    sms_gateway: Option<String>,
    http: reqwest::Client,
}

impl Notifier {
    /// `smtp` is `smtp://host[:port]` (plain SMTP to a relay on a trusted network; the relay does
    /// TLS onwards), `from` the sender, `sms_gateway` a URL taking `POST {"to", "text"}` as JSON.
    pub fn new(
        data_dir: &Path,
        smtp: Option<&str>,
        from: &str,
        sms_gateway: Option<&str>,
        http: reqwest::Client,
    ) -> Result<Self, String> {
        let smtp = match smtp {
            None => None,
            Some(url) => {
                let rest = url
                    .strip_prefix("smtp://")
                    .ok_or_else(|| format!("{url}: only smtp://host[:port] is supported"))?;
                let (host, port) = match rest.rsplit_once(':') {
                    Some((h, p)) => (h, p.parse().map_err(|_| format!("{url}: bad port"))?),
                    None => (rest, 25),
                };
                let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
                    .port(port)
                    .timeout(Some(std::time::Duration::from_secs(20)))
                    .build();
                let from: Mailbox = from.parse().map_err(|e| format!("sender {from}: {e}"))?;
                Some((transport, from))
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
    pub async fn deliver(&self, n: &Notice<'_>) -> Result<&'static str, String> {
        match (n.kind, &self.smtp, &self.sms_gateway) {
            ("email", Some((transport, from)), _) => {
                let to: Mailbox =
                    n.to.parse()
                        .map_err(|e| format!("recipient address: {e}"))?;
                let message = Message::builder()
                    .from(from.clone())
                    .to(to)
                    .subject(n.subject)
                    .header(ContentType::TEXT_PLAIN)
                    .body(n.body.to_owned())
                    .map_err(|e| e.to_string())?;
                transport
                    .send(message)
                    .await
                    .map_err(|e| format!("SMTP: {e}"))?;
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
                    .map_err(|e| format!("SMS gateway: {e}"))?;
                Ok("sms-gateway")
            }
            _ => {
                let text = format!(
                    "Kind: {}\nTo: {}\nSubject: {}\n\n{}\n",
                    n.kind, n.to, n.subject, n.body
                );
                std::fs::create_dir_all(&self.dir)
                    .and_then(|_| {
                        std::fs::write(self.dir.join(format!("{:08}-{}.txt", n.id, n.kind)), text)
                    })
                    .map_err(|e| format!("outbox directory: {e}"))?;
                Ok("file")
            }
        }
    }
}
