#![allow(clippy::unwrap_used)]
//! The browser's renewal protocol (`renewal`: prefill → apply → install), natively: the same
//! code the web app runs in Chromium, here over the virtual token and the real router.

mod common;

use ccid::piv::{Pin, Piv, PivError, Slot};
use common::*;
use renewal::{RenewalError, Step, Token, TokenError};

fn pin() -> Pin {
    Pin::new(b"123456").unwrap()
}

/// Pays and waits for the auto-approval; the order as the browser then sees it.
async fn paid_and_approved(s: &Server, number: &str, order_token: &str) -> api::OrderView {
    let v = pay(s, number, order_token).await;
    assert_eq!(v.status, api::OrderStatus::Approved, "auto-approved");
    v
}

#[tokio::test]
async fn the_browsers_protocol_renews_the_token_and_the_next_renewal_is_prefilled() {
    for backend in backends() {
        let s = Server::start(backend, |c| c.auto_approve = true).await;
        let api = client(&s);
        let (applet, der) = s.token(30).await;
        let token = renewal::Direct::new(applet);

        // The PIN screen: verified on the token; nothing to prefill before a first renewal.
        let prefill = renewal::prefill(&token, &api, &der, &pin()).await.unwrap();
        assert_eq!(
            prefill.and_then(|p| p.form),
            None,
            "{backend}: no earlier order"
        );
        let (order, order_token) = renewal::apply(&token, &api, &der, &form()).await.unwrap();
        assert_eq!(order.status, api::OrderStatus::AwaitingPayment);
        let approved = paid_and_approved(&s, &order.number, &order_token).await;

        let mut steps = vec![];
        let done = renewal::install(
            &token,
            &api,
            &approved,
            &order_token,
            &der,
            &pin(),
            certrenew_server::now(),
            |step| steps.push(step),
        )
        .await
        .unwrap();
        assert_eq!(steps, [Step::Csr, Step::Issue, Step::Write, Step::Confirm]);
        assert_eq!(done.order.status, api::OrderStatus::Installed, "{backend}");
        // The token holds the new certificate, for the key it already had.
        let on_token = token
            .with(async |piv| piv.read_certificate(Slot::Authentication).await)
            .await
            .unwrap();
        assert_eq!(on_token.as_deref(), Some(&done.certificate[..]));
        let old = ccid::cert::summarize(&der, 0).unwrap();
        assert!(done.summary.not_after > old.not_after);
        assert_ne!(done.summary.serial, old.serial);
        let key = |d: &[u8]| ccid::cert::public_key(&ccid::cert::parse(d).unwrap()).unwrap();
        assert_eq!(key(&done.certificate), key(&der));

        // Next time, from the new certificate, the form comes back filled (ID number masked).
        let next = renewal::prefill(&token, &api, &done.certificate, &pin())
            .await
            .unwrap()
            .and_then(|p| p.form)
            .expect("the previous form");
        assert_eq!(next.operator.name, form().operator.name, "{backend}");
        assert_ne!(next.operator.id_number, form().operator.id_number);
    }
}

#[tokio::test]
async fn a_wrong_pin_is_the_tokens_error_with_the_tries_left_and_nothing_reaches_the_server() {
    let s = Server::start("sqlite", |_| {}).await;
    let api = client(&s);
    let (applet, der) = s.token(30).await;
    let token = renewal::Direct::new(applet);
    let wrong = Pin::new(b"654321").unwrap();
    let r = renewal::prefill(&token, &api, &der, &wrong).await;
    assert_eq!(
        r.err(),
        Some(RenewalError::Token(TokenError::Piv(PivError::WrongPin {
            tries_left: 2
        })))
    );
    // The challenge was fetched (the screen's order of things) but never spent.
    assert_eq!(
        s.count("SELECT COUNT(*) AS n FROM used_challenges").await,
        0
    );
    assert_eq!(s.count("SELECT COUNT(*) AS n FROM orders").await, 0);
}

/// A token pulled out (or a reader that fails) once, at the n-th session.
struct PulledAt<K> {
    inner: K,
    session: std::sync::atomic::AtomicUsize,
    fail_at: usize,
}

impl<K: Token> Token for PulledAt<K> {
    type Card = K::Card;
    async fn with<T>(
        &self,
        f: impl AsyncFnOnce(&mut Piv<&mut K::Card>) -> Result<T, PivError>,
    ) -> Result<T, TokenError> {
        let n = self
            .session
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if n == self.fail_at {
            return Err(TokenError::Piv(PivError::Card(ccid::CardError::Removed)));
        }
        self.inner.with(f).await
    }
}

#[tokio::test]
async fn an_install_cut_off_by_a_pulled_token_resumes_with_the_same_certificate() {
    let s = Server::start("sqlite", |c| c.auto_approve = true).await;
    let api = client(&s);
    let (applet, der) = s.token(30).await;
    let token = renewal::Direct::new(applet);
    renewal::prefill(&token, &api, &der, &pin()).await.unwrap();
    let (applied, order_token) = renewal::apply(&token, &api, &der, &form()).await.unwrap();
    let approved = paid_and_approved(&s, &applied.number, &order_token).await;
    // Sessions of an install: 0 the CSR, 1 the write; the token goes at the write.
    let pulled = PulledAt {
        inner: token,
        session: 0.into(),
        fail_at: 1,
    };
    let certificates = "SELECT COUNT(*) AS n FROM certificates";
    let before = s.count(certificates).await;
    let mut steps = vec![];
    let r = renewal::install(
        &pulled,
        &api,
        &approved,
        &order_token,
        &der,
        &pin(),
        0,
        |st| steps.push(st),
    )
    .await;
    assert!(
        matches!(&r, Err(RenewalError::Token(TokenError::Piv(e))) if renewal::removed(e)),
        "{:?}",
        r.err()
    );
    assert_eq!(steps, [Step::Csr, Step::Issue, Step::Write]);
    let issued = order(&s, &applied.number, &order_token).await;
    assert_eq!(issued.status, api::OrderStatus::Issued);
    // Plugged back in: the same install again gets the same certificate and ends installed.
    let done = renewal::install(
        &pulled,
        &api,
        &issued,
        &order_token,
        &der,
        &pin(),
        0,
        |_| {},
    )
    .await
    .unwrap();
    assert_eq!(done.order.status, api::OrderStatus::Installed);
    assert_eq!(
        s.count(certificates).await,
        before + 1,
        "one certificate issued for the order, not two"
    );
}
