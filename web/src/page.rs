//! What the page itself says: its query string and its `<meta>` tags. A leaf: every other
//! module may read it, it reads none of them.

/// Whether the page's query string holds `item` (`lang=en`, `transport=smartcard`, `kiosk`).
pub fn query_has(item: &str) -> bool {
    web_sys::window()
        .and_then(|w| w.location().search().ok())
        .is_some_and(|q| {
            q.trim_start_matches('?')
                .split('&')
                .any(|part| part == item || part.split('=').next() == Some(item))
        })
}

/// The content of `<meta name="{name}">` in the page, if there is one.
pub fn page_meta(name: &str) -> Option<String> {
    web_sys::window()?
        .document()?
        .query_selector(&format!("meta[name=\"{name}\"]"))
        .ok()??
        .get_attribute("content")
}
