//! The virtual token and the host parsers fed random input: no panics, bounded work.
#![cfg(not(target_arch = "wasm32"))]

use proptest::prelude::*;
use token::PivApplet;

fn apdu() -> impl Strategy<Value = Vec<u8>> {
    // Mostly well-formed headers with PIV instructions, so the dispatcher is reached.
    let ins = prop_oneof![
        Just(0xA4u8),
        Just(0xCB),
        Just(0xDB),
        Just(0x20),
        Just(0x24),
        Just(0x2C),
        Just(0x87),
        Just(0x47),
        Just(0xC0),
        Just(0xF7),
        Just(0xFE),
        Just(0xFF),
        any::<u8>()
    ];
    (
        prop_oneof![Just(0u8), Just(0x10), any::<u8>()],
        ins,
        any::<u8>(),
        any::<u8>(),
        proptest::collection::vec(any::<u8>(), 0..300),
    )
        .prop_map(|(cla, ins, p1, p2, rest)| {
            let mut a = vec![cla, ins, p1, p2];
            a.extend_from_slice(&rest);
            a
        })
}

proptest! {
    #[test]
    fn the_applet_answers_every_apdu_with_a_status(apdus in proptest::collection::vec(apdu(), 1..20)) {
        let mut a = PivApplet::new();
        for x in &apdus {
            let r = a.process(x);
            prop_assert!(r.len() >= 2);
        }
    }

    #[test]
    fn certificate_and_csr_parsers_never_panic(buf in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = ccid::cert::summarize(&buf, 0);
        let _ = ccid::cert::verify_csr(&buf);
        let _ = PivApplet::restore(&buf);
    }
}
