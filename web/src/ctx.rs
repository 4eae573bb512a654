//! What every component reaches through the context: language, flow state, the token.

use crate::flow::{Action, Flow};
use crate::i18n::{t, Lang};
use crate::token_access::TokenHandle;
use yew::prelude::*;

#[derive(Clone, PartialEq)]
pub struct AppCtx {
    pub lang: UseStateHandle<Lang>,
    pub flow: UseReducerHandle<Flow>,
    pub token: UseStateHandle<Option<TokenHandle>>,
}

impl AppCtx {
    pub fn t(&self, key: &str) -> &'static str {
        t(*self.lang, key)
    }

    pub fn dispatch(&self, a: Action) {
        self.flow.dispatch(a);
    }

    /// Shows an error: a translation key, or `key|detail` (the detail is shown untranslated, for
    /// the hotline), or plain text.
    pub fn fail(&self, e: impl Into<String>) {
        self.flow.dispatch(Action::Error(Some(e.into())));
    }
}

#[hook]
pub fn use_app() -> AppCtx {
    use_context::<AppCtx>().expect("AppCtx provided by App")
}

/// Maps a token error to what the user should read.
pub fn token_error_key(e: &crate::token_access::TokenError) -> String {
    use ccid::piv::PivError;
    use ccid::CardError;
    match e {
        crate::token_access::TokenError::Busy => "err_token_busy".into(),
        crate::token_access::TokenError::Piv(PivError::Card(
            CardError::Removed | CardError::NoCard,
        )) => "err_removed".into(),
        crate::token_access::TokenError::Piv(PivError::Card(CardError::Transport(
            ccid::TransportError::Disconnected,
        ))) => "err_removed".into(),
        crate::token_access::TokenError::Piv(PivError::Blocked) => "pin_blocked".into(),
        crate::token_access::TokenError::Piv(PivError::WrongPin { .. }) => "pin_wrong".into(),
        crate::token_access::TokenError::Piv(PivError::WrongManagementKey) => "err_mgmt_key".into(),
        crate::token_access::TokenError::Piv(PivError::NoPivApplication) => "err_no_piv".into(),
        crate::token_access::TokenError::Piv(PivError::Card(CardError::UnsupportedReader(_))) => {
            "err_reader".into()
        }
        // Anything else: the generic sentence, with the technical detail for the hotline.
        crate::token_access::TokenError::Piv(other) => format!("error|{other}"),
    }
}

/// Maps a server call error to what the user should read.
pub fn call_error_text(e: &renewal::CallError) -> String {
    match e {
        renewal::CallError::Network(_) => "err_network".into(),
        renewal::CallError::Api(a) => {
            let key = match a.code.as_str() {
                "certificate_expired" => "expired_title",
                "not_in_renewal_window" => "not_yet_window",
                "payments_unavailable" => "payments_unavailable",
                "certificate_revoked" => "certificate_revoked",
                "already_renewed" => "already_renewed",
                _ => return format!("error|{}", a.message),
            };
            key.into()
        }
    }
}

/// Maps a failed renewal step to what the user should read (token, server, network, or the
/// certificate itself).
pub fn renewal_error_text(e: &renewal::RenewalError) -> String {
    use renewal::RenewalError as E;
    match e {
        E::Token(t) => token_error_key(t),
        E::Server(a) => call_error_text(&renewal::CallError::Api(a.clone())),
        E::Network(_) => "err_network".into(),
        E::Certificate => "no_cert".into(),
        E::ReadBack => "error|the certificate read back from the token differs".into(),
    }
}

/// Storage of the order in progress, so closing the page loses nothing.
pub mod saved_order {
    const KEY: &str = "certrenew.order";

    fn storage() -> Option<web_sys::Storage> {
        web_sys::window()?.local_storage().ok()?
    }

    pub fn save(number: &str, token: &str) {
        if let Some(s) = storage() {
            let _ = s.set_item(KEY, &format!("{number} {token}"));
        }
    }

    pub fn load() -> Option<(String, String)> {
        let v = storage()?.get_item(KEY).ok()??;
        let (n, t) = v.split_once(' ')?;
        Some((n.to_string(), t.to_string()))
    }

    pub fn clear() {
        if let Some(s) = storage() {
            let _ = s.remove_item(KEY);
        }
    }
}
