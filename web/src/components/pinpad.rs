//! On-screen PIN pad for kiosks: a touch screen has no keyboard, and a system on-screen keyboard
//! would show (and might remember) what is typed. Digits only, as PIV PINs on these tokens are.

use crate::ctx::use_app;
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct Props {
    pub value: String,
    pub on_change: Callback<String>,
    /// Prefix for element ids, so two pads on one page stay distinct.
    pub id: AttrValue,
}

const MAX_PIN: usize = 8;

#[component]
pub fn PinPad(props: &Props) -> Html {
    let ctx = use_app();
    let key = |label: String, next: String, class: &'static str, id: String| {
        let on_change = props.on_change.clone();
        html! {
            <button type="button" class={classes!("key", class)} id={id}
                onclick={Callback::from(move |_| on_change.emit(next.clone()))}>{ label }</button>
        }
    };
    let digit = |d: char| {
        let mut next = props.value.clone();
        if next.len() < MAX_PIN {
            next.push(d);
        }
        key(d.to_string(), next, "", format!("{}-{d}", props.id))
    };
    let mut back = props.value.clone();
    back.pop();
    html! {
        <div class="pinpad" id={props.id.clone()} role="group" aria-label={ctx.t("pin_title")}>
            { for "123456789".chars().map(digit) }
            { key(ctx.t("clear").into(), String::new(), "small", format!("{}-clear", props.id)) }
            { digit('0') }
            { key("⌫".into(), back, "small", format!("{}-back", props.id)) }
        </div>
    }
}
