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

    /// Shows an error: a sentence of the app's (a translation key), or what the token, the
    /// server or the network said.
    pub fn fail(&self, e: impl Into<crate::ui_error::UiError>) {
        self.show(e.into());
    }

    // Not generic: one copy in the download, whatever the callers hand `fail`.
    fn show(&self, e: crate::ui_error::UiError) {
        self.flow.dispatch(Action::Error(Some(e)));
    }
}

#[hook]
pub fn use_app() -> AppCtx {
    use_context::<AppCtx>().expect("AppCtx provided by App")
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
