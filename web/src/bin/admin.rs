//! The review console's entry point (`admin.html`), a bundle of its own so citizens never load it.

#[cfg(target_arch = "wasm32")]
fn main() {
    yew::Renderer::<web::admin::app::AdminApp>::new().render();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("the review console runs in the browser: build it with scripts/build-web");
}
