#![allow(clippy::unwrap_used)]
//! The host side (`ccid`: CCID reader, APDU layer, PIV client) against the virtual token over an
//! in-memory USB pipe, for every operation the renewal uses and the faults real readers show.

mod common;

use ccid::card::CardError;
use ccid::keys::{ManagementKey, PublicKey};
use ccid::msg::{ClassDescriptor, IccStatus};
use ccid::piv::{Algorithm, Pin, PinState, Piv, PivError, Slot, PIN_REF, PUK_REF};
use ccid::reader::{CcidReader, MAX_STALE_REPLIES, MAX_TIME_EXTENSIONS};
use common::*;
use pollster::block_on;
use token::{PivApplet, VirtualReader};

fn reader(applet: PivApplet) -> CcidReader<VirtualReader> {
    let r = VirtualReader::new(applet);
    let desc = r.descriptor().clone();
    CcidReader::new(r, desc).unwrap()
}

fn short_apdu_reader(applet: PivApplet) -> CcidReader<VirtualReader> {
    // An SCM SCR3310-like reader: short APDU level, 271-byte messages.
    let desc = ClassDescriptor {
        bcd_ccid: 0x0110,
        max_slot_index: 0,
        protocols: 3,
        features: 0x0002_00BA,
        max_message_len: 271,
        max_ifsd: 254,
    };
    CcidReader::new(VirtualReader::with_descriptor(applet, desc.clone()), desc).unwrap()
}

fn pin(p: &str) -> Pin {
    Pin::new(p.as_bytes()).unwrap()
}

/// Reads the certificate, verifies the PIN and signs, checking the signature with the cert's key.
async fn read_verify_sign<C: ccid::Card>(piv: &mut Piv<C>, ca: &TestCa) {
    piv.select().await.unwrap();
    let der = piv
        .read_certificate(Slot::Authentication)
        .await
        .unwrap()
        .expect("certificate");
    let cert = ccid::cert::parse(&der).unwrap();
    assert!(ccid::cert::signed_by(&cert, &ca.public()));
    let key = ccid::cert::public_key(&cert).unwrap();
    assert_eq!(piv.pin_state().await.unwrap(), PinState::TriesLeft(3));
    piv.verify_pin(&pin("123456")).await.unwrap();
    assert_eq!(piv.pin_state().await.unwrap(), PinState::Verified);
    let sig = piv
        .sign_sha256(
            Slot::Authentication,
            key.algorithm(),
            b"renewal application",
        )
        .await
        .unwrap();
    assert!(key.verify_sha256(b"renewal application", &sig));
    assert!(!key.verify_sha256(b"another application", &sig));
}

#[test]
fn read_verify_sign_p256_over_ccid() {
    let ca = TestCa::new();
    let mut piv = Piv::new(reader(provisioned(&ca, Algorithm::EccP256)));
    block_on(read_verify_sign(&mut piv, &ca));
    assert_eq!(piv.card_mut().atr(), Some(&token::ATR[..]));
}

#[test]
fn read_verify_sign_rsa_over_short_apdu_reader() {
    // A short-APDU reader forces GET RESPONSE for the certificate and 255-byte chaining.
    let ca = TestCa::new();
    let mut piv = Piv::new(short_apdu_reader(provisioned(&ca, Algorithm::Rsa2048)));
    block_on(read_verify_sign(&mut piv, &ca));
    assert!(
        piv.card_mut().transport_mut().applet.stats().apdus > 4,
        "GET RESPONSE rounds expected"
    );
}

#[test]
fn the_applet_is_a_card_too() {
    let ca = TestCa::new();
    let mut piv = Piv::new(provisioned(&ca, Algorithm::EccP256));
    block_on(read_verify_sign(&mut piv, &ca));
}

#[test]
fn wrong_pin_counts_down_blocks_and_puk_unblocks() {
    block_on(async {
        let mut piv = Piv::new(reader(PivApplet::new()));
        piv.select().await.unwrap();
        assert_eq!(
            piv.verify_pin(&pin("000000")).await,
            Err(PivError::WrongPin { tries_left: 2 })
        );
        assert_eq!(piv.pin_state().await.unwrap(), PinState::TriesLeft(2));
        assert_eq!(
            piv.verify_pin(&pin("000000")).await,
            Err(PivError::WrongPin { tries_left: 1 })
        );
        assert_eq!(piv.verify_pin(&pin("000000")).await, Err(PivError::Blocked));
        assert_eq!(piv.pin_state().await.unwrap(), PinState::Blocked);
        // Even the right PIN is refused once blocked.
        assert_eq!(piv.verify_pin(&pin("123456")).await, Err(PivError::Blocked));
        assert_eq!(
            piv.unblock_pin(&pin("87654321"), &pin("654321")).await,
            Err(PivError::WrongPin { tries_left: 2 })
        );
        piv.unblock_pin(&pin("12345678"), &pin("654321"))
            .await
            .unwrap();
        assert_eq!(piv.pin_state().await.unwrap(), PinState::TriesLeft(3));
        piv.verify_pin(&pin("654321")).await.unwrap();
    });
}

#[test]
fn change_pin_and_puk() {
    block_on(async {
        let mut piv = Piv::new(reader(PivApplet::new()));
        piv.select().await.unwrap();
        assert_eq!(
            piv.change_reference(PIN_REF, &pin("111111"), &pin("24681357"))
                .await,
            Err(PivError::WrongPin { tries_left: 2 })
        );
        piv.change_reference(PIN_REF, &pin("123456"), &pin("24681357"))
            .await
            .unwrap();
        piv.verify_pin(&pin("24681357")).await.unwrap();
        piv.change_reference(PUK_REF, &pin("12345678"), &pin("11223344"))
            .await
            .unwrap();
        piv.unblock_pin(&pin("11223344"), &pin("123456"))
            .await
            .unwrap();
        piv.verify_pin(&pin("123456")).await.unwrap();
    });
}

#[test]
fn pin_format_is_checked_on_the_host() {
    assert_eq!(Pin::new(b"12345"), Err(PivError::BadPinFormat));
    assert_eq!(Pin::new(b"123456789"), Err(PivError::BadPinFormat));
    assert_eq!(format!("{:?}", pin("123456")), "Pin(<redacted>)");
}

async fn generate_write_read(piv: &mut Piv<impl ccid::Card>, alg: Algorithm, ca: &TestCa) {
    piv.select().await.unwrap();
    assert_eq!(
        piv.generate(Slot::Signature, alg).await,
        Err(PivError::SecurityStatusNotSatisfied)
    );
    piv.authenticate(&ManagementKey::default_tdes())
        .await
        .unwrap();
    let public = piv.generate(Slot::Signature, alg).await.unwrap();
    assert_eq!(public.algorithm(), alg);
    // A certificate padded to over 2 KB with a long subject exercises chaining on every layer.
    let long = format!("CN={},O=certrenew,C=CN", "长".repeat(500));
    let subject: x509_cert::name::Name = long.parse().unwrap();
    let cert = ca.issue(&subject, &public, NOW, NOW + 86_400);
    assert!(cert.len() > 1500, "{}", cert.len());
    piv.write_certificate(Slot::Signature, &cert).await.unwrap();
    assert_eq!(
        piv.read_certificate(Slot::Signature)
            .await
            .unwrap()
            .as_deref(),
        Some(&cert[..])
    );
    piv.verify_pin(&pin("123456")).await.unwrap();
    let sig = piv.sign_sha256(Slot::Signature, alg, b"csr").await.unwrap();
    assert!(public.verify_sha256(b"csr", &sig));
}

#[test]
fn generate_write_and_read_back_over_extended_apdus() {
    let ca = TestCa::new();
    for alg in [Algorithm::EccP256, Algorithm::Rsa2048] {
        let mut piv = Piv::new(reader(PivApplet::new()));
        block_on(generate_write_read(&mut piv, alg, &ca));
    }
}

#[test]
fn generate_write_and_read_back_over_short_apdus() {
    let ca = TestCa::new();
    let mut piv = Piv::new(short_apdu_reader(PivApplet::new()));
    block_on(generate_write_read(&mut piv, Algorithm::EccP256, &ca));
}

#[test]
fn ccid_message_chaining_with_small_messages() {
    // Extended APDU level but 271-byte messages: CCID-level chaining both ways (wLevelParameter).
    let ca = TestCa::new();
    let desc = ClassDescriptor {
        bcd_ccid: 0x0110,
        max_slot_index: 0,
        protocols: 2,
        features: 0x0004_0840,
        max_message_len: 271,
        max_ifsd: 254,
    };
    let mut piv = Piv::new(
        CcidReader::new(
            VirtualReader::with_descriptor(PivApplet::new(), desc.clone()),
            desc,
        )
        .unwrap(),
    );
    block_on(generate_write_read(&mut piv, Algorithm::EccP256, &ca));
}

#[test]
fn management_key_mutual_auth_3des_and_aes() {
    block_on(async {
        let mut piv = Piv::new(reader(PivApplet::new()));
        piv.select().await.unwrap();
        let wrong = ManagementKey::new(Algorithm::Tdes, &[9; 24]).unwrap();
        assert_eq!(
            piv.authenticate(&wrong).await,
            Err(PivError::WrongManagementKey)
        );
        piv.authenticate(&ManagementKey::default_tdes())
            .await
            .unwrap();
        for (alg, len) in [
            (Algorithm::Aes128, 16),
            (Algorithm::Aes192, 24),
            (Algorithm::Aes256, 32),
        ] {
            let key = ManagementKey::new(alg, &vec![0x42; len]).unwrap();
            piv.card_mut()
                .transport_mut()
                .applet
                .set_management_key(key.clone());
            piv.authenticate(&key).await.unwrap();
            let other = ManagementKey::new(alg, &vec![0x43; len]).unwrap();
            assert_eq!(
                piv.authenticate(&other).await,
                Err(PivError::WrongManagementKey)
            );
        }
    });
}

/// The PIN-protected management key as ykman stores it: flag in ADMIN DATA, key in PRINTED,
/// readable only after VERIFY PIN.
#[test]
fn pin_protected_management_key() {
    block_on(async {
        let mut piv = Piv::new(reader(PivApplet::new()));
        piv.select().await.unwrap();
        // Not set up: nothing found, the default key is the way.
        assert_eq!(piv.pin_protected_management_key().await, Ok(None));
        let secret = ManagementKey::new(Algorithm::Aes192, &[0x5A; 24]).unwrap();
        piv.authenticate(&ManagementKey::default_tdes())
            .await
            .unwrap();
        piv.write_object(
            ccid::piv::object::ADMIN_DATA,
            &[0x80, 0x03, 0x81, 0x01, 0x02],
        )
        .await
        .unwrap();
        let mut printed = vec![0x88, 0x1A, 0x89, 0x18];
        printed.extend_from_slice(&[0x5A; 24]);
        piv.write_object(ccid::piv::object::PRINTED, &printed)
            .await
            .unwrap();
        piv.card_mut()
            .transport_mut()
            .applet
            .set_management_key(secret.clone());
        piv.select().await.unwrap();
        // Without the PIN the token keeps it to itself.
        assert_eq!(
            piv.pin_protected_management_key().await,
            Err(PivError::SecurityStatusNotSatisfied)
        );
        piv.verify_pin(&pin("123456")).await.unwrap();
        let found = piv.pin_protected_management_key().await.unwrap().unwrap();
        assert_eq!(found.algorithm(), Algorithm::Aes192, "from GET METADATA");
        piv.authenticate(&found).await.unwrap();
        assert_eq!(
            piv.authenticate(&ManagementKey::default_tdes()).await,
            Err(PivError::WrongManagementKey)
        );
    });
}

/// Someone else holds the key (the CA's server): the client relays the witness and challenge.
#[test]
fn management_key_held_elsewhere() {
    struct Remote(ManagementKey, usize);
    impl ccid::piv::ManagementResponder for Remote {
        fn algorithm(&self) -> Algorithm {
            self.0.algorithm()
        }
        async fn answer(&mut self, witness: &[u8]) -> Result<(Vec<u8>, Vec<u8>), PivError> {
            self.1 += 1;
            ccid::piv::respond(&self.0, witness)
        }
        async fn check(&mut self, challenge: &[u8], response: &[u8]) -> Result<bool, PivError> {
            Ok(self.0.encrypt(challenge) == response)
        }
    }
    block_on(async {
        let key = ManagementKey::new(Algorithm::Aes128, &[0x17; 16]).unwrap();
        let mut applet = PivApplet::new();
        applet.set_management_key(key.clone());
        let mut piv = Piv::new(reader(applet));
        piv.select().await.unwrap();
        let mut remote = Remote(key, 0);
        piv.authenticate_with(&mut remote).await.unwrap();
        assert_eq!(remote.1, 1, "one round trip to the key holder");
        piv.verify_pin(&pin("123456")).await.unwrap();
        piv.write_certificate(Slot::Authentication, b"\x30\x00")
            .await
            .unwrap();
        let mut wrong = Remote(
            ManagementKey::new(Algorithm::Aes128, &[0x18; 16]).unwrap(),
            0,
        );
        assert_eq!(
            piv.authenticate_with(&mut wrong).await,
            Err(PivError::WrongManagementKey)
        );
    });
}

#[test]
fn put_data_needs_the_management_key() {
    block_on(async {
        let mut piv = Piv::new(reader(PivApplet::new()));
        piv.select().await.unwrap();
        piv.verify_pin(&pin("123456")).await.unwrap();
        assert_eq!(
            piv.write_certificate(Slot::Authentication, b"x").await,
            Err(PivError::SecurityStatusNotSatisfied)
        );
        assert_eq!(piv.read_certificate(Slot::Authentication).await, Ok(None));
    });
}

#[test]
fn version_serial_and_partial_aid() {
    block_on(async {
        let applet = PivApplet::new();
        let serial = applet.serial();
        let mut piv = Piv::new(reader(applet));
        piv.select().await.unwrap();
        assert_eq!(piv.version().await.unwrap(), Some(token::applet::VERSION));
        assert_eq!(piv.serial().await.unwrap(), Some(serial));
        // yubico-piv-tool selects with the 5-byte prefix and no Le.
        let raw =
            ccid::Card::transmit_raw(piv.card_mut(), &hex_literal::hex!("00A4040005A000000308"))
                .await
                .unwrap();
        assert_eq!(&raw[raw.len() - 2..], &[0x90, 0x00]);
        assert_eq!(raw[0], 0x61, "application property template without Le");
    });
}

#[test]
fn time_extensions_are_waited_through_with_a_bound() {
    block_on(async {
        let mut r = reader(PivApplet::new());
        r.transport_mut().faults.time_extensions = 5;
        let mut piv = Piv::new(r);
        piv.select().await.unwrap();
        piv.card_mut().transport_mut().faults.time_extensions = MAX_TIME_EXTENSIONS + 1;
        assert_eq!(
            piv.select().await,
            Err(PivError::Card(CardError::TooManyTimeExtensions(
                MAX_TIME_EXTENSIONS
            )))
        );
    });
}

#[test]
fn stale_replies_are_discarded_with_a_bound() {
    block_on(async {
        let mut r = reader(PivApplet::new());
        r.power_on().await.unwrap();
        r.transport_mut().faults.stale_replies = 3;
        let mut piv = Piv::new(r);
        piv.select().await.unwrap();
        piv.card_mut().transport_mut().faults.stale_replies = MAX_STALE_REPLIES + 1;
        assert!(matches!(
            piv.select().await,
            Err(PivError::Card(CardError::Malformed(_)))
        ));
    });
}

#[test]
fn card_removed_mid_command_then_reinserted() {
    let ca = TestCa::new();
    block_on(async {
        let mut piv = Piv::new(reader(provisioned(&ca, Algorithm::EccP256)));
        piv.select().await.unwrap();
        piv.verify_pin(&pin("123456")).await.unwrap();
        piv.card_mut().transport_mut().faults.remove_on_next_xfr = true;
        assert_eq!(
            piv.sign_sha256(Slot::Authentication, Algorithm::EccP256, b"x")
                .await,
            Err(PivError::Card(CardError::Removed))
        );
        let r = piv.card_mut();
        assert!(!r.wait_slot_change().await.unwrap());
        assert_eq!(r.slot_status().await.unwrap(), IccStatus::Absent);
        assert_eq!(
            Piv::new(&mut *r).select().await,
            Err(PivError::Card(CardError::NoCard))
        );
        r.transport_mut().insert_card();
        assert!(r.wait_slot_change().await.unwrap());
        // The session is gone with the power: the PIN must be verified again.
        piv.select().await.unwrap();
        assert_eq!(piv.pin_state().await.unwrap(), PinState::TriesLeft(3));
        read_verify_sign(&mut piv, &ca).await;
    });
}

#[test]
fn abort_and_power_off() {
    block_on(async {
        let mut r = reader(PivApplet::new());
        r.power_on().await.unwrap();
        r.abort().await.unwrap();
        assert_eq!(r.slot_status().await.unwrap(), IccStatus::Active);
        r.power_off().await.unwrap();
        assert_eq!(r.slot_status().await.unwrap(), IccStatus::PresentInactive);
    });
}

#[test]
fn tpdu_and_character_readers_are_refused_clearly() {
    for features in [0x0001_04BE, 0x0000_0000] {
        let desc = ClassDescriptor {
            bcd_ccid: 0x0110,
            max_slot_index: 0,
            protocols: 3,
            features,
            max_message_len: 271,
            max_ifsd: 254,
        };
        let r = VirtualReader::with_descriptor(PivApplet::new(), desc.clone());
        assert!(matches!(
            CcidReader::new(r, desc),
            Err(CardError::UnsupportedReader(_))
        ));
    }
}

#[test]
fn csr_signed_on_the_token_same_key_and_new_key() {
    let ca = TestCa::new();
    block_on(async {
        let mut piv = Piv::new(reader(provisioned(&ca, Algorithm::EccP256)));
        piv.select().await.unwrap();
        let der = piv
            .read_certificate(Slot::Authentication)
            .await
            .unwrap()
            .unwrap();
        let cert = ccid::cert::parse(&der).unwrap();
        let key = ccid::cert::public_key(&cert).unwrap();
        piv.verify_pin(&pin("123456")).await.unwrap();
        let subject = cert.tbs_certificate().subject().clone();
        let csr = ccid::cert::build_csr(&mut piv, Slot::Authentication, &subject, &key)
            .await
            .unwrap();
        let (s, k) = ccid::cert::verify_csr(&csr).unwrap();
        assert_eq!((s, k), (subject.clone(), key.clone()));
        // Rekey: a fresh RSA key in the same slot.
        piv.authenticate(&ManagementKey::default_tdes())
            .await
            .unwrap();
        let fresh = piv
            .generate(Slot::Authentication, Algorithm::Rsa2048)
            .await
            .unwrap();
        let csr = ccid::cert::build_csr(&mut piv, Slot::Authentication, &subject, &fresh)
            .await
            .unwrap();
        let (_, k) = ccid::cert::verify_csr(&csr).unwrap();
        assert_eq!(k, fresh);
        assert_ne!(
            PublicKey::Rsa(match fresh {
                PublicKey::Rsa(r) => r,
                _ => unreachable!(),
            }),
            key
        );
    });
}

#[test]
fn certificate_summary_keeps_chinese_names() {
    let ca = TestCa::new();
    let applet = provisioned(&ca, Algorithm::EccP256);
    let obj = applet.object(ccid::piv::object::CERT_9A).unwrap();
    let der = ccid::tlv::find(obj, 0x70).unwrap().unwrap();
    let s = ccid::cert::summarize(der, NOW).unwrap();
    assert_eq!(s.common_name.as_deref(), Some("张三"));
    assert_eq!(s.subject, "CN=张三, O=深圳市某医疗器械有限公司, C=CN");
    assert_eq!(s.issuer, "CN=certrenew Test CA, O=certrenew, C=CN");
    assert_eq!(s.serial, "0123456789");
    assert_eq!(
        (s.days_left, s.expired, s.not_yet_valid),
        (30, false, false)
    );
    let later = ccid::cert::summarize(der, NOW + 31 * 86_400).unwrap();
    assert!(later.expired && later.days_left < 0);
}

#[test]
fn state_survives_save_and_restore() {
    let ca = TestCa::new();
    let mut applet = provisioned(&ca, Algorithm::Rsa2048);
    let mut piv = Piv::new(&mut applet);
    block_on(async {
        piv.select().await.unwrap();
        let _ = piv.verify_pin(&pin("000000")).await;
    });
    let saved = applet.save();
    let mut restored = PivApplet::restore(&saved).expect("restores");
    assert_eq!(restored.serial(), applet.serial());
    let mut piv = Piv::new(&mut restored);
    block_on(async {
        piv.select().await.unwrap();
        assert_eq!(piv.pin_state().await.unwrap(), PinState::TriesLeft(2));
    });
    block_on(async {
        let mut fresh = PivApplet::restore(&saved).unwrap();
        let mut piv = Piv::new(&mut fresh);
        piv.select().await.unwrap();
        piv.verify_pin(&pin("123456")).await.unwrap();
        let der = piv
            .read_certificate(Slot::Authentication)
            .await
            .unwrap()
            .unwrap();
        let key = ccid::cert::public_key(&ccid::cert::parse(&der).unwrap()).unwrap();
        let sig = piv
            .sign_sha256(Slot::Authentication, Algorithm::Rsa2048, b"m")
            .await
            .unwrap();
        assert!(key.verify_sha256(b"m", &sig));
    });
    assert!(PivApplet::restore(b"\x02junk").is_none());
    assert!(PivApplet::restore(&saved[..saved.len() - 3]).is_none());
}
