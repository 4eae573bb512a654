#![allow(clippy::unwrap_used)]
//! Our host code (CCID reader, APDU layer, PIV client, CSR builder) against a PIV token we did not
//! write: Nitrokey's piv-authenticator 0.7, called directly as a `Card` and behind usbd-ccid 0.5 +
//! apdu-dispatch on a mock USB bus (the stack Nitrokey 3 firmware runs).

use ccid::card::Card;
use ccid::cert::{self, Issue};
use ccid::keys::{ManagementKey, PublicKey};
use ccid::msg::ClassDescriptor;
use ccid::piv::{Algorithm, Pin, PinState, Piv, PivError, Slot, PIN_REF};
use ccid::reader::CcidReader;
use der::asn1::OctetString;
use independent_piv::{
    with_token, with_usb_device, DirectCard, UsbPipes, NITROKEY3_CCID_DESCRIPTOR,
};
use pollster::block_on;
use std::str::FromStr;
use x509_cert::ext::Extension;
use x509_cert::name::Name;

const NOW: i64 = 1_795_000_000; // 2026-11-17

fn pin(p: &str) -> Pin {
    Pin::new(p.as_bytes()).unwrap()
}

fn subject() -> Name {
    Name::from_str("CN=深圳市某医疗器械有限公司,O=深圳市某医疗器械有限公司,C=CN").unwrap()
}

/// A certificate for `key` from a throw-away P-256 CA; `padding` bytes of a private extension make
/// it long enough to need chained commands and chained replies.
fn certificate_for(key: &PublicKey, padding: usize) -> Vec<u8> {
    let ca = p256::SecretKey::from_slice(&[7u8; 32]).unwrap();
    let signer = p256::ecdsa::SigningKey::from(&ca);
    let extensions = vec![Extension {
        extn_id: der::oid::ObjectIdentifier::new_unwrap("1.3.6.1.4.1.55555.1"),
        critical: false,
        extn_value: OctetString::new(vec![0x5A; padding]).unwrap(),
    }];
    cert::issue(
        Issue {
            serial: &[0x42, 0x01],
            subject: &subject(),
            issuer: &Name::from_str("CN=Test CA,C=CN").unwrap(),
            not_before: NOW - 86_400,
            not_after: NOW + 30 * 86_400,
            public_key: key,
            extensions,
        },
        Algorithm::EccP256,
        |tbs| {
            use p256::ecdsa::signature::Signer;
            let sig: p256::ecdsa::Signature = signer.sign(tbs);
            Ok(sig.to_der().as_bytes().to_vec())
        },
    )
    .unwrap()
}

/// Everything the renewal does with a token, checked at each step.
async fn renewal_flow<C: Card>(piv: &mut Piv<C>) {
    piv.select().await.unwrap();
    let version = piv.version().await.unwrap().expect("GET VERSION");
    assert!(version[0] >= 5, "claims a YubiKey 5 or later: {version:?}");
    assert!(piv.serial().await.unwrap().is_some());
    assert_eq!(
        piv.read_certificate(Slot::Authentication).await.unwrap(),
        None
    );

    // Retries are read without spending one; a wrong PIN spends one.
    assert_eq!(piv.pin_state().await.unwrap(), PinState::TriesLeft(3));
    assert_eq!(
        piv.verify_pin(&pin("654321")).await,
        Err(PivError::WrongPin { tries_left: 2 })
    );
    assert_eq!(piv.pin_state().await.unwrap(), PinState::TriesLeft(2));

    // The management key: a wrong one is refused, the factory default accepted.
    let wrong = ManagementKey::new(Algorithm::Tdes, &[0x11; 24]).unwrap();
    assert_eq!(
        piv.authenticate(&wrong).await,
        Err(PivError::WrongManagementKey)
    );
    piv.authenticate(&ManagementKey::default_tdes())
        .await
        .unwrap();

    // A fresh P-256 key and a long certificate for it, written and read back unchanged.
    let key = piv
        .generate(Slot::Authentication, Algorithm::EccP256)
        .await
        .unwrap();
    assert!(matches!(key, PublicKey::P256(_)));
    let der = certificate_for(&key, 2000);
    assert!(der.len() > 2048, "{} bytes", der.len());
    piv.write_certificate(Slot::Authentication, &der)
        .await
        .unwrap();
    let back = piv.read_certificate(Slot::Authentication).await.unwrap();
    assert_eq!(back.as_deref(), Some(der.as_slice()));
    let summary = cert::summarize(&der, NOW).unwrap();
    assert!(
        summary.subject.contains("深圳市某医疗器械有限公司"),
        "{}",
        summary.subject
    );

    // Signing needs the PIN; the signature verifies with the certificate's key.
    piv.verify_pin(&pin("123456")).await.unwrap();
    assert_eq!(piv.pin_state().await.unwrap(), PinState::Verified);
    let sig = piv
        .sign_sha256(
            Slot::Authentication,
            Algorithm::EccP256,
            b"renewal application",
        )
        .await
        .unwrap();
    assert!(key.verify_sha256(b"renewal application", &sig));

    // The renewal's PKCS#10 request, signed on the token.
    let csr = cert::build_csr(piv, Slot::Authentication, &subject(), &key)
        .await
        .unwrap();
    let (csr_subject, csr_key) = cert::verify_csr(&csr).unwrap();
    assert_eq!(csr_subject, subject());
    assert_eq!(csr_key, key);

    // RSA-2048 in the signature slot (PIN "always" there: verified right before signing).
    let rsa = piv
        .generate(Slot::Signature, Algorithm::Rsa2048)
        .await
        .unwrap();
    let PublicKey::Rsa(ref rsa_key) = rsa else {
        panic!("not an RSA key: {rsa:?}");
    };
    assert_eq!(rsa_key.modulus().len(), 256);
    piv.verify_pin(&pin("123456")).await.unwrap();
    let sig = piv
        .sign_sha256(Slot::Signature, Algorithm::Rsa2048, b"renewal application")
        .await
        .unwrap();
    assert_eq!(sig.len(), 256);
    assert!(rsa.verify_sha256(b"renewal application", &sig));
    assert!(!rsa.verify_sha256(b"another application", &sig));
}

/// Wrong PINs block it; the PUK unblocks it with a new PIN; the PIN can then be changed.
async fn pin_lifecycle<C: Card>(piv: &mut Piv<C>) {
    piv.select().await.unwrap();
    for left in [2, 1] {
        assert_eq!(
            piv.verify_pin(&pin("000000")).await,
            Err(PivError::WrongPin { tries_left: left })
        );
    }
    assert!(matches!(
        piv.verify_pin(&pin("000000")).await,
        Err(PivError::Blocked | PivError::WrongPin { tries_left: 0 })
    ));
    assert_eq!(piv.pin_state().await.unwrap(), PinState::Blocked);
    assert_eq!(piv.verify_pin(&pin("123456")).await, Err(PivError::Blocked));
    assert!(piv
        .unblock_pin(&pin("87654321"), &pin("111111"))
        .await
        .is_err());
    piv.unblock_pin(&pin("12345678"), &pin("111111"))
        .await
        .unwrap();
    assert_eq!(piv.pin_state().await.unwrap(), PinState::TriesLeft(3));
    piv.change_reference(PIN_REF, &pin("111111"), &pin("222222"))
        .await
        .unwrap();
    assert!(piv.verify_pin(&pin("111111")).await.is_err());
    piv.verify_pin(&pin("222222")).await.unwrap();
}

fn usb_reader(pipes: UsbPipes, desc: ClassDescriptor) -> CcidReader<UsbPipes> {
    let mut reader = CcidReader::new(pipes, desc).unwrap();
    let atr = block_on(reader.power_on()).unwrap();
    assert_eq!(atr.first(), Some(&0x3B), "ATR {atr:02X?}");
    reader
}

#[test]
fn direct_card_renewal_flow() {
    with_token(|mut token| {
        let mut piv = Piv::new(DirectCard::new(&mut token));
        block_on(renewal_flow(&mut piv));
    });
}

#[test]
fn direct_card_pin_lifecycle() {
    with_token(|mut token| {
        let mut piv = Piv::new(DirectCard::new(&mut token));
        block_on(pin_lifecycle(&mut piv));
    });
}

/// Extended APDUs through usbd-ccid: long replies arrive as CCID-chained 54-byte blocks, full
/// packets are followed by a zero-length packet, and the device asks for time extensions.
#[test]
fn usb_ccid_renewal_flow() {
    let pipes = with_token(|mut token| {
        with_usb_device(&mut token, true, |pipes| {
            let desc = ClassDescriptor::parse(&NITROKEY3_CCID_DESCRIPTOR).unwrap();
            assert_eq!(desc.features, 0x0004_0840);
            assert_eq!(desc.max_message_len, 3072);
            let mut piv = Piv::new(usb_reader(pipes, desc));
            block_on(renewal_flow(&mut piv));
            piv.into_inner().into_transport()
        })
    });
    eprintln!("extended APDUs over usbd-ccid: {pipes}");
    assert!(pipes.chained_replies > 0, "no chained replies");
    assert!(pipes.zero_length_packets > 0, "no zero-length packets");
    assert!(pipes.time_extensions > 0, "no time extensions");
}

/// The same device driven as a short-APDU reader: our commands are chained (CLA 0x10) and replies
/// come in 61xx pieces fetched with GET RESPONSE, both handled by apdu-dispatch on the device.
#[test]
fn usb_ccid_short_apdus() {
    let pipes = with_token(|mut token| {
        with_usb_device(&mut token, false, |pipes| {
            let mut desc = ClassDescriptor::parse(&NITROKEY3_CCID_DESCRIPTOR).unwrap();
            desc.features = (desc.features & !0x0007_0000) | 0x0002_0000;
            let mut piv = Piv::new(usb_reader(pipes, desc));
            block_on(renewal_flow(&mut piv));
            piv.into_inner().into_transport()
        })
    });
    eprintln!("short APDUs over usbd-ccid: {pipes}");
    assert!(pipes.get_responses > 0, "no GET RESPONSE");
    assert!(pipes.chained_commands > 0, "no chained commands");
}

#[test]
fn usb_ccid_pin_lifecycle() {
    with_token(|mut token| {
        with_usb_device(&mut token, false, |pipes| {
            let desc = ClassDescriptor::parse(&NITROKEY3_CCID_DESCRIPTOR).unwrap();
            block_on(pin_lifecycle(&mut Piv::new(usb_reader(pipes, desc))));
        })
    });
}
