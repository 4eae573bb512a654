//! Payments: the `PaymentProvider` seam, Alipay-style signed notices (RSA-SHA256 over the sorted
//! parameters), and the sandbox provider that ships with the server.

use base64::Engine;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use std::collections::BTreeMap;
use std::path::Path;

pub type Params = BTreeMap<String, String>;

/// The string a notice signature covers: every parameter except `sign` and `sign_type`, sorted by
/// key, `k=v` joined with `&` (empty values skipped), exactly as Alipay defines it. That rule is
/// only unambiguous while no key holds `&` or `=` and no value holds `&` (else `a=1&b=2` is both
/// one parameter and two): parameters it cannot carry are refused (`None`), never signed or
/// believed.
pub fn signing_string(params: &Params) -> Option<String> {
    let mut out = String::new();
    for (k, v) in params {
        if k == "sign" || k == "sign_type" || v.is_empty() {
            continue;
        }
        if k.is_empty() || k.contains(['&', '=']) || v.contains('&') {
            return None;
        }
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    Some(out)
}

/// Signs parameters the canonical string can carry (the sandbox's own, which never hold `&`).
pub fn sign_params(key: &crate::sig::RsaSigner, params: &Params) -> String {
    let text = signing_string(params).unwrap_or_default();
    base64::engine::general_purpose::STANDARD.encode(key.sign_sha256(text.as_bytes()))
}

pub fn verify_params(key: &ProviderKey, params: &Params) -> bool {
    let Some(sig) = params
        .get("sign")
        .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
    else {
        return false;
    };
    if params.get("sign_type").map(String::as_str) != Some("RSA2") {
        return false;
    }
    let Some(text) = signing_string(params) else {
        return false;
    };
    crate::sig::rsa_verify_sha256(&key.n, &key.e, text.as_bytes(), &sig)
}

/// The provider's RSA public key (modulus and exponent, big-endian).
#[derive(Clone, Debug)]
pub struct ProviderKey {
    n: Vec<u8>,
    e: Vec<u8>,
}

impl ProviderKey {
    pub fn new(key: &rsa::PublicKey) -> Self {
        use rsa::traits::PublicKeyParts;
        Self {
            n: key.n().to_be_bytes_trimmed_vartime().to_vec(),
            e: key.e().to_be_bytes_trimmed_vartime().to_vec(),
        }
    }
}

/// What the merchant side knows about its provider account, to check notices against.
#[derive(Clone)]
pub struct Merchant {
    pub app_id: String,
    pub seller_id: String,
    pub provider_key: ProviderKey,
}

/// A verified notice of payment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    pub payment_id: String,
    pub trade_no: String,
    pub amount_fen: i64,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum NoticeError {
    #[error("bad signature")]
    Signature,
    #[error("notice for another merchant")]
    Merchant,
    #[error("missing or malformed field {0}")]
    Field(&'static str),
    #[error("trade not successful")]
    NotPaid,
}

impl Merchant {
    /// Verifies signature and merchant; amount and order are checked against the database.
    pub fn verify(&self, p: &Params) -> Result<Notice, NoticeError> {
        if !verify_params(&self.provider_key, p) {
            return Err(NoticeError::Signature);
        }
        let get = |k: &'static str| {
            p.get(k)
                .filter(|v| !v.is_empty())
                .ok_or(NoticeError::Field(k))
        };
        if get("app_id")? != &self.app_id || get("seller_id")? != &self.seller_id {
            return Err(NoticeError::Merchant);
        }
        if !matches!(
            get("trade_status")?.as_str(),
            "TRADE_SUCCESS" | "TRADE_FINISHED"
        ) {
            return Err(NoticeError::NotPaid);
        }
        Ok(Notice {
            payment_id: get("out_trade_no")?.clone(),
            trade_no: get("trade_no")?.clone(),
            amount_fen: api::parse_yuan(get("total_amount")?)
                .ok_or(NoticeError::Field("total_amount"))?,
        })
    }
}

/// The sandbox provider's account and signing key, created on first start.
pub struct Sandbox {
    key: crate::sig::RsaSigner,
    pub merchant: Merchant,
}

impl Sandbox {
    pub fn load_or_create(dir: &Path) -> Result<Self, String> {
        let path = dir.join("sandbox-provider.key");
        let (key, der) = if path.exists() {
            let der = zeroize::Zeroizing::new(std::fs::read(&path).map_err(|e| e.to_string())?);
            let key = rsa::PrivateKey::from_pkcs8_der(&der).map_err(|e| e.to_string())?;
            (key, der)
        } else {
            let key = rsa::PrivateKey::new(&mut rand_core::UnwrapErr(getrandom::SysRng), 2048)
                .map_err(|e| e.to_string())?;
            let der = key.to_pkcs8_der().map_err(|e| e.to_string())?;
            // A signing key: owner-only, like the CA key.
            crate::ca::write_private_bytes(&path, der.as_bytes())?;
            (key, zeroize::Zeroizing::new(der.as_bytes().to_vec()))
        };
        let merchant = Merchant {
            app_id: "2021000000000001".into(),
            seller_id: "2088000000000001".into(),
            provider_key: ProviderKey::new(&key.to_public_key()),
        };
        let key = crate::sig::RsaSigner::from_pkcs8(&der)?;
        Ok(Self { key, merchant })
    }

    /// The notice the sandbox sends once a payment is made.
    pub fn notice(&self, payment_id: &str, trade_no: &str, amount_fen: i64, now: i64) -> Params {
        let mut p = Params::new();
        p.insert("notify_time".into(), now.to_string());
        p.insert("notify_type".into(), "trade_status_sync".into());
        p.insert("notify_id".into(), crate::random_id(12));
        p.insert("app_id".into(), self.merchant.app_id.clone());
        p.insert("seller_id".into(), self.merchant.seller_id.clone());
        p.insert("out_trade_no".into(), payment_id.into());
        p.insert("trade_no".into(), trade_no.into());
        p.insert("trade_status".into(), "TRADE_SUCCESS".into());
        p.insert("total_amount".into(), api::yuan(amount_fen));
        p.insert("sign_type".into(), "RSA2".into());
        let sig = sign_params(&self.key, &p);
        p.insert("sign".into(), sig);
        p
    }

    /// The answer to a trade query (the way Alipay's `alipay.trade.query` answers): the trade's
    /// state, signed like a notice so the same checks apply. `trade` is what the sandbox's books
    /// hold for the payment (trade number, amount), if it was paid.
    pub fn query_answer(&self, payment_id: &str, trade: Option<(String, i64)>) -> Params {
        let mut p = Params::new();
        p.insert("app_id".into(), self.merchant.app_id.clone());
        p.insert("seller_id".into(), self.merchant.seller_id.clone());
        p.insert("out_trade_no".into(), payment_id.into());
        match trade {
            Some((trade_no, amount_fen)) => {
                p.insert("trade_no".into(), trade_no);
                p.insert("trade_status".into(), "TRADE_SUCCESS".into());
                p.insert("total_amount".into(), api::yuan(amount_fen));
            }
            None => {
                p.insert("trade_status".into(), "TRADE_NOT_EXIST".into());
            }
        }
        self.sign(&mut p);
        p
    }

    /// Signs arbitrary parameters (tests forge notices with other keys through the same path).
    pub fn sign(&self, p: &mut Params) {
        p.insert("sign_type".into(), "RSA2".into());
        let sig = sign_params(&self.key, p);
        p.insert("sign".into(), sig);
    }
}

/// Sends a notice to `url` until it is acknowledged with `success` (bounded retries, backoff).
pub async fn deliver(client: reqwest::Client, url: String, params: Params, attempts: u32) -> bool {
    let mut delay = std::time::Duration::from_millis(200);
    for _ in 0..attempts {
        if let Ok(r) = client.post(&url).form(&params).send().await {
            if r.status().is_success()
                && r.text()
                    .await
                    .map(|t| t.trim() == "success")
                    .unwrap_or(false)
            {
                return true;
            }
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(std::time::Duration::from_secs(60));
    }
    tracing::warn!(url, "payment notice not acknowledged");
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_signing_string_never_means_two_things() {
        // Before: both gave "a=1&b=2", so a signature over one vouched for the other.
        let two = params(&[("a", "1"), ("b", "2")]);
        assert_eq!(signing_string(&two).as_deref(), Some("a=1&b=2"));
        for bad in [
            params(&[("a", "1&b=2")]),
            params(&[("a=1&b", "2")]),
            params(&[("", "x")]),
        ] {
            assert_eq!(signing_string(&bad), None, "{bad:?}");
        }
        // '=' in a value is fine: the first '=' ends the key, which cannot hold one.
        assert_eq!(
            signing_string(&params(&[("a", "x=y"), ("sign", "s"), ("z", "")])).as_deref(),
            Some("a=x=y")
        );
    }
}
