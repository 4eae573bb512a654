//! Per-operation cost of the cryptography in one renewal, for bench/load.sh's "where the time goes".
//! cargo run --release -p certrenew-server --example crypto_cost

use std::time::Instant;

fn per_op(name: &str, n: u32, mut f: impl FnMut()) {
    let t = Instant::now();
    for _ in 0..n {
        f();
    }
    let us = t.elapsed().as_secs_f64() * 1e6 / f64::from(n);
    println!("{name:<40} {us:>9.1} µs");
}

fn main() {
    let dir = std::env::temp_dir().join(format!("crypto-cost-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let sandbox = certrenew_server::payment::Sandbox::load_or_create(&dir).expect("sandbox key");
    let notice = sandbox.notice("P1", "T1", 30_000, 1_795_000_000);
    per_op("RSA-2048 sign (provider notice, OpenSSL)", 200, || {
        std::hint::black_box(sandbox.notice("P1", "T1", 30_000, 1_795_000_000));
    });
    per_op("RSA-2048 verify (notice check, ring)", 2000, || {
        assert!(certrenew_server::payment::verify_params(
            sandbox.public_key(),
            &notice
        ));
    });
    use p256::ecdsa::signature::{Signer, Verifier};
    let key = p256::ecdsa::SigningKey::from_slice(&[7; 32]).expect("key");
    let vk = *key.verifying_key();
    let msg = [0x5Au8; 600];
    let sig: p256::ecdsa::Signature = key.sign(&msg);
    // The virtual token's own private operation (GENERAL AUTHENTICATE over a digest).
    let mut saved = Vec::new();
    ccid::tlv::write(&mut saved, 0x01, &key.to_bytes());
    let token_key = token::keys::PrivateKey::restore(&saved).expect("token key");
    per_op("P-256 sign (virtual token; OpenSSL)", 2000, || {
        std::hint::black_box(token_key.sign_raw(&[0x5A; 32]).expect("sign"));
    });
    let ca = certrenew_server::sig::EcdsaSigner::p256(
        &key.to_bytes(),
        vk.to_sec1_point(false).as_bytes(),
    )
    .expect("key");
    per_op("P-256 sign (CA; ring)", 2000, || {
        std::hint::black_box(ca.sign_sha256(&msg));
    });
    per_op("P-256 verify (browser code; p256)", 2000, || {
        assert!(vk.verify(&msg, &sig).is_ok());
    });
    // What the server does for PoP, install proof, chain and CSR checks.
    let public = ccid::keys::PublicKey::from(p256::PublicKey::from(&vk));
    let der = sig.to_der();
    per_op("P-256 verify (server; ring)", 2000, || {
        assert!(certrenew_server::sig::verify_sha256(
            &public,
            &msg,
            der.as_bytes()
        ));
    });
    std::fs::remove_dir_all(&dir).ok();
}
