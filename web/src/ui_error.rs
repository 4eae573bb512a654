//! `UiError`: what failed, as the user is told it. Typed where it came from (the token, the
//! server, the network, the certificate); each says one of the app's sentences (a translation
//! key) and, where it helps the hotline, the technical detail shown after it untranslated.

use ccid::piv::PivError;
use ccid::CardError;
use renewal::{CallError, RenewalError, TokenError};

#[derive(Clone, Debug)]
pub enum UiError {
    Token(TokenError),
    Server(api::ApiError),
    Network(String),
    /// The certificate on the token cannot be renewed here (unreadable, an unsupported key).
    Certificate,
    /// What the token gave back after the write is not the certificate written.
    ReadBack,
    /// Something the app found itself, in one of its sentences (a translation key).
    Said(&'static str),
    /// Anything else, in the words of the browser or the token (after the generic sentence).
    Other(String),
}

impl UiError {
    /// The sentence to show (a translation key).
    pub fn key(&self) -> &'static str {
        match self {
            UiError::Token(t) => token_key(t),
            UiError::Server(a) => match a.code.as_str() {
                "certificate_expired" => "expired_title",
                "not_in_renewal_window" => "not_yet_window",
                "payments_unavailable" => "payments_unavailable",
                "certificate_revoked" => "certificate_revoked",
                "already_renewed" => "already_renewed",
                _ => "error",
            },
            UiError::Network(_) => "err_network",
            UiError::Certificate => "no_cert",
            UiError::Said(key) => key,
            UiError::ReadBack | UiError::Other(_) => "error",
        }
    }

    /// The technical detail shown after the sentence, for the hotline: only where the sentence
    /// is the generic one.
    pub fn detail(&self) -> Option<String> {
        if self.key() != "error" {
            return None;
        }
        match self {
            UiError::Token(TokenError::Piv(e)) => Some(e.to_string()),
            UiError::Server(a) => Some(a.message.clone()),
            UiError::ReadBack => Some("the certificate read back from the token differs".into()),
            UiError::Other(text) => Some(text.clone()),
            _ => None,
        }
    }
}

fn token_key(e: &TokenError) -> &'static str {
    let TokenError::Piv(e) = e else {
        return "err_token_busy";
    };
    match e {
        PivError::Card(
            CardError::Removed
            | CardError::NoCard
            | CardError::Transport(ccid::TransportError::Disconnected),
        ) => "err_removed",
        PivError::Blocked => "pin_blocked",
        PivError::WrongPin { .. } => "pin_wrong",
        PivError::WrongManagementKey => "err_mgmt_key",
        PivError::NoPivApplication => "err_no_piv",
        PivError::Card(CardError::UnsupportedReader(_)) => "err_reader",
        // Anything else: the generic sentence, with the technical detail for the hotline.
        _ => "error",
    }
}

/// Two errors are the same when the user reads the same: what decides whether the page is drawn
/// again (and one comparison in the download instead of one per source's types).
impl PartialEq for UiError {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key() && self.detail() == other.detail()
    }
}

impl From<&'static str> for UiError {
    fn from(key: &'static str) -> Self {
        UiError::Said(key)
    }
}

impl From<TokenError> for UiError {
    fn from(e: TokenError) -> Self {
        UiError::Token(e)
    }
}

impl From<CallError> for UiError {
    fn from(e: CallError) -> Self {
        match e {
            CallError::Api(a) => UiError::Server(a),
            CallError::Network(n) => UiError::Network(n),
        }
    }
}

impl From<RenewalError> for UiError {
    fn from(e: RenewalError) -> Self {
        match e {
            RenewalError::Token(t) => UiError::Token(t),
            RenewalError::Server(a) => UiError::Server(a),
            RenewalError::Network(n) => UiError::Network(n),
            RenewalError::Certificate => UiError::Certificate,
            RenewalError::ReadBack => UiError::ReadBack,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_says_its_sentence_and_only_the_generic_one_a_detail() {
        let wrong = UiError::from(TokenError::Piv(PivError::WrongPin { tries_left: 2 }));
        assert_eq!((wrong.key(), wrong.detail()), ("pin_wrong", None));
        let odd = UiError::from(TokenError::Piv(PivError::Malformed("odd".into())));
        assert_eq!(odd.key(), "error");
        assert!(odd.detail().is_some_and(|d| d.contains("odd")));
        let server = |code: &str| {
            UiError::from(CallError::Api(api::ApiError {
                code: code.into(),
                message: "what the server said".into(),
                fields: vec![],
            }))
        };
        assert_eq!(server("already_renewed").key(), "already_renewed");
        assert_eq!(server("already_renewed").detail(), None);
        assert_eq!(
            server("something_new").detail().as_deref(),
            Some("what the server said")
        );
        assert_eq!(
            UiError::from(RenewalError::Network("down".into())).key(),
            "err_network"
        );
        assert_eq!(UiError::from("err_busy"), UiError::Said("err_busy"));
        assert_eq!(UiError::from(TokenError::Busy).key(), "err_token_busy");
    }
}
