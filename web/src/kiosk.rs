//! Kiosk mode (`?kiosk`, service halls): large touch targets, an on-screen PIN pad, QR payment,
//! a printable receipt, no way out of the flow, and an idle timeout that forgets the person who
//! walked away — in memory and in storage.

use std::cell::Cell;

thread_local! {
    static ON: Cell<Option<bool>> = const { Cell::new(None) };
}

/// Idle time before the kiosk returns to the start, unless `?idle=SECONDS` says otherwise.
const DEFAULT_IDLE_SECONDS: u32 = 120;
/// The shortest idle timeout accepted: shorter would wipe a person mid-sentence.
const MIN_IDLE_SECONDS: u32 = 2;

pub fn enabled() -> bool {
    ON.with(|on| match on.get() {
        Some(v) => v,
        None => {
            // `?kiosk`, or the kiosk build (the Isolated Web App) which always is one.
            let v = crate::page::query_has("kiosk")
                || crate::page::page_meta("certrenew-mode").as_deref() == Some("kiosk");
            on.set(Some(v));
            v
        }
    })
}

pub fn idle_seconds() -> u32 {
    web_sys::window()
        .and_then(|w| w.location().search().ok())
        .and_then(|q| {
            q.trim_start_matches('?')
                .split('&')
                .find_map(|p| p.strip_prefix("idle=")?.parse::<u32>().ok())
        })
        .unwrap_or(DEFAULT_IDLE_SECONDS)
        .max(MIN_IDLE_SECONDS)
}

/// Removes everything this app keeps in the browser's storage: the order in progress, the demo
/// token, anything under our prefix, and the whole session storage.
pub fn wipe_storage() {
    let Some(w) = web_sys::window() else {
        return;
    };
    if let Ok(Some(s)) = w.local_storage() {
        let keys: Vec<String> = (0..s.length().unwrap_or(0))
            .filter_map(|i| s.key(i).ok().flatten())
            .filter(|k| k.starts_with("certrenew."))
            .collect();
        for k in keys {
            let _ = s.remove_item(&k);
        }
    }
    if let Ok(Some(s)) = w.session_storage() {
        let _ = s.clear();
    }
}
