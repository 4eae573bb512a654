//! Console shell: language switch and login; the queue once logged in.

use crate::i18n::Lang;
use crate::i18n_admin::t;
use wasm_bindgen::JsCast;
use yew::prelude::*;

fn input(e: &InputEvent) -> String {
    e.target()
        .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
        .map(|i| i.value())
        .unwrap_or_default()
}

#[component]
pub fn AdminApp() -> Html {
    let lang = use_state(Lang::initial);
    let csrf = use_state(|| None::<String>);
    let user = use_state(String::new);
    let password = use_state(String::new);
    let error = use_state(|| None::<&'static str>);
    let login = {
        let (csrf, user, password, error) =
            (csrf.clone(), user.clone(), password.clone(), error.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let (csrf, error) = (csrf.clone(), error.clone());
            let body = serde_json::json!({"username": *user, "password": *password});
            password.set(String::new());
            wasm_bindgen_futures::spawn_local(async move {
                match super::call::<serde_json::Value>("POST", "/login", None, Some(body)).await {
                    Ok(v) => {
                        error.set(None);
                        csrf.set(v["csrf"].as_str().map(str::to_owned));
                    }
                    Err(_) => error.set(Some("login_failed")),
                }
            });
        })
    };
    let switch = {
        let lang = lang.clone();
        Callback::from(move |_| {
            let next = lang.other();
            next.choose();
            lang.set(next);
        })
    };
    html! {
        <>
            <header>
                <h1>{ t(*lang, "admin_title") }</h1>
                <button id="lang-switch" class="link" onclick={switch}>{ t(*lang, "switch_lang") }</button>
            </header>
            <main>
                if let Some(c) = (*csrf).clone() {
                    <super::dashboard::Dashboard lang={*lang} />
                    <super::queue::Queue lang={*lang} csrf={c.clone()} />
                    <super::discrepancies::Discrepancies lang={*lang} />
                    <super::refunds::Refunds lang={*lang} csrf={c.clone()} />
                    <super::orders::Orders lang={*lang} csrf={c.clone()} />
                    <super::revocations::Revocations lang={*lang} />
                } else {
                    <form class="card" id="login" onsubmit={login}>
                        <h2>{ t(*lang, "login") }</h2>
                        <label class="field"><span>{ t(*lang, "username") }</span>
                            <input id="username" autocomplete="username" value={(*user).clone()} oninput={let s = user.clone(); Callback::from(move |e: InputEvent| s.set(input(&e)))} /></label>
                        <label class="field"><span>{ t(*lang, "password") }</span>
                            <input id="password" type="password" autocomplete="current-password" value={(*password).clone()} oninput={let s = password.clone(); Callback::from(move |e: InputEvent| s.set(input(&e)))} /></label>
                        if let Some(k) = *error { <p class="notice bad" id="login-error">{ t(*lang, k) }</p> }
                        <div class="actions"><button id="login-submit" class="primary" type="submit">{ t(*lang, "login") }</button></div>
                    </form>
                }
            </main>
        </>
    }
}
