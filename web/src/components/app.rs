//! The app shell: language switch, demo badge, progress and errors, and the current screen.

use crate::ctx::AppCtx;
use crate::flow::{Action, Flow, Screen, Stage};
use crate::i18n::{t, Lang};
use yew::prelude::*;

/// An error as the user reads it, in the current language.
fn error_text(lang: Lang, e: &crate::ui_error::UiError) -> String {
    match e.detail() {
        Some(detail) => format!("{}（{detail}）", t(lang, e.key())),
        None => t(lang, e.key()).to_string(),
    }
}

#[component]
pub fn App() -> Html {
    let lang = use_state(Lang::initial);
    let flow = use_reducer(Flow::default);
    let token = use_state(|| None);
    {
        let flow = flow.clone();
        use_effect_with((), move |_| {
            wasm_bindgen_futures::spawn_local(async move {
                if let Ok(p) = crate::api_client::get::<api::PriceList>("/prices", None).await {
                    flow.dispatch(Action::Prices(p));
                }
            });
        });
    }
    {
        let code = lang.code();
        use_effect_with(code, move |code| {
            if let Some(d) = web_sys::window()
                .and_then(|w| w.document())
                .and_then(|d| d.document_element())
            {
                let _ = d.set_attribute("lang", code);
            }
        });
    }
    let kiosk = crate::kiosk::enabled();
    {
        let (flow, token) = (flow.clone(), token.clone());
        use_effect_with((), move |_| {
            let guard = kiosk.then(|| KioskGuard::install(flow, token));
            move || drop(guard)
        });
    }
    let ctx = AppCtx {
        lang: lang.clone(),
        flow: flow.clone(),
        token: token.clone(),
    };
    let switch = {
        let lang = lang.clone();
        Callback::from(move |_| {
            let next = lang.other();
            next.choose();
            lang.set(next);
        })
    };
    let demo = token.as_ref().is_some_and(|t| t.is_demo());
    let dismiss = {
        let flow = flow.clone();
        Callback::from(move |_| flow.dispatch(Action::Error(None)))
    };
    let screen = match flow.stage {
        Stage::At(Screen::Start) => html! { <crate::components::start::Start /> },
        Stage::At(Screen::Token) => html! { <crate::components::token_view::TokenView /> },
        Stage::At(Screen::Agreement) => html! { <crate::components::agreement::Agreement /> },
        Stage::At(Screen::Form) => html! { <crate::components::form::Form /> },
        Stage::At(Screen::Pin) => html! { <crate::components::pin::PinEntry /> },
        Stage::Order(_) => html! { <crate::components::order::Order /> },
        Stage::Done(_) => html! { <crate::components::done::Done /> },
    };
    html! {
        <ContextProvider<AppCtx> context={ctx}>
          <div class={classes!("shell", kiosk.then_some("kiosk"))} id="shell">
            <header>
                <h1>{ t(*lang, "title") }</h1>
                if demo { <span class="badge" id="demo-badge">{ t(*lang, "demo_badge") }</span> }
                <button id="lang-switch" class="link" onclick={switch}>{ t(*lang, "switch_lang") }</button>
            </header>
            <main>
                if let Some(p) = flow.progress {
                    <p class="progress-note" id="busy" role="status"><span class="spinner"></span>{ t(*lang, p) }</p>
                }
                if let Some(e) = flow.error.clone() {
                    <div class="notice bad" id="error" role="alert">
                        <p>{ error_text(*lang, &e) }</p>
                        <button onclick={dismiss}>{ t(*lang, "retry") }</button>
                    </div>
                }
                { screen }
            </main>
            <footer>{ t(*lang, "contacts") }</footer>
          </div>
        </ContextProvider<AppCtx>>
    }
}

/// What kiosk mode installs on the page: the idle watch, and the guards that keep people in the
/// flow (no context menu, no going back out of the app). Dropped with the app.
struct KioskGuard {
    _listeners: Vec<gloo_events::EventListener>,
    _tick: gloo_timers::callback::Interval,
}

impl KioskGuard {
    fn install(
        flow: UseReducerHandle<Flow>,
        token: UseStateHandle<Option<crate::token_access::TokenHandle>>,
    ) -> Self {
        use std::cell::Cell;
        use std::rc::Rc;
        let window = web_sys::window().expect("a window");
        let document = window.document().expect("a document");
        let last = Rc::new(Cell::new(js_sys::Date::now()));
        let wiped = Rc::new(Cell::new(true));
        let mut listeners = Vec::new();
        for event in ["pointerdown", "keydown", "input", "touchstart"] {
            let (last, wiped) = (last.clone(), wiped.clone());
            listeners.push(gloo_events::EventListener::new(
                &document,
                event,
                move |_| {
                    last.set(js_sys::Date::now());
                    wiped.set(false);
                },
            ));
        }
        listeners.push(gloo_events::EventListener::new_with_options(
            &document,
            "contextmenu",
            gloo_events::EventListenerOptions::enable_prevent_default(),
            |e| e.prevent_default(),
        ));
        // Back (a swipe or a key) stays in the app: each pop is answered with a push.
        if let Ok(h) = window.history() {
            let _ = h.push_state(&wasm_bindgen::JsValue::NULL, "");
        }
        listeners.push(gloo_events::EventListener::new(&window, "popstate", |_| {
            if let Some(h) = web_sys::window().and_then(|w| w.history().ok()) {
                let _ = h.push_state(&wasm_bindgen::JsValue::NULL, "");
            }
        }));
        let idle_ms = f64::from(crate::kiosk::idle_seconds()) * 1000.0;
        let tick = gloo_timers::callback::Interval::new(1_000, move || {
            if wiped.get() || js_sys::Date::now() - last.get() < idle_ms {
                return;
            }
            // The person walked away: forget them, in memory and in storage.
            wiped.set(true);
            crate::kiosk::wipe_storage();
            token.set(None);
            flow.dispatch(Action::Reset);
        });
        Self {
            _listeners: listeners,
            _tick: tick,
        }
    }
}
