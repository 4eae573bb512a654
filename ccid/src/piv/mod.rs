//! A PIV client (NIST SP 800-73-4 Part 2) over any [`Card`], plus the YubiKey extensions that
//! tell a token's version and serial.

use crate::apdu::Command;
use crate::card::{transmit, Card, CardError};
use crate::keys::{ManagementKey, PublicKey};
use crate::sw::StatusWord;
use crate::tlv;
use zeroize::Zeroizing;

pub mod types;
pub use types::*;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PivError {
    #[error(transparent)]
    Card(#[from] CardError),
    #[error("wrong PIN, {tries_left} tries left")]
    WrongPin { tries_left: u8 },
    #[error("the PIN (or PUK) is blocked")]
    Blocked,
    #[error("the PIN or the management key must be presented first")]
    SecurityStatusNotSatisfied,
    #[error("the management key was not accepted")]
    WrongManagementKey,
    #[error("no PIV application on this token")]
    NoPivApplication,
    #[error("the token has no such key or object")]
    NotFound,
    #[error("the token refused the request (status {0})")]
    Status(StatusWord),
    #[error("malformed reply from the token: {0}")]
    Malformed(String),
    #[error("a PIN is 6 to 8 characters")]
    BadPinFormat,
}

impl From<tlv::TlvError> for PivError {
    fn from(e: tlv::TlvError) -> Self {
        PivError::Malformed(e.to_string())
    }
}

/// The single mapping from status words to PIV errors.
fn check(resp: crate::apdu::Response) -> Result<Vec<u8>, PivError> {
    match resp.sw {
        StatusWord::Ok => Ok(resp.data),
        StatusWord::VerifyFailed { tries_left: 0 } | StatusWord::AuthenticationBlocked => {
            Err(PivError::Blocked)
        }
        StatusWord::VerifyFailed { tries_left } => Err(PivError::WrongPin { tries_left }),
        StatusWord::SecurityStatusNotSatisfied => Err(PivError::SecurityStatusNotSatisfied),
        StatusWord::NotFound | StatusWord::ReferencedDataNotFound => Err(PivError::NotFound),
        sw => Err(PivError::Status(sw)),
    }
}

/// A PIN or PUK: 6–8 bytes, padded with 0xFF to 8 on the wire (SP 800-73-4 Part 2 §2.4.3).
#[derive(Clone, PartialEq, Eq)]
pub struct Pin(Zeroizing<[u8; 8]>);

impl core::fmt::Debug for Pin {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Pin(<redacted>)")
    }
}

impl Pin {
    pub fn new(pin: &[u8]) -> Result<Self, PivError> {
        if !(6..=8).contains(&pin.len()) || pin.contains(&0xFF) {
            return Err(PivError::BadPinFormat);
        }
        let mut padded = Zeroizing::new([0xFF; 8]);
        padded[..pin.len()].copy_from_slice(pin);
        Ok(Self(padded))
    }

    pub fn padded(&self) -> &[u8; 8] {
        &self.0
    }
}

/// What VERIFY without data tells about the PIN (SP 800-73-4 Part 2 §3.2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PinState {
    Verified,
    TriesLeft(u8),
    Blocked,
}

pub struct Piv<C> {
    card: C,
}

impl<C: Card> Piv<C> {
    pub fn new(card: C) -> Self {
        Self { card }
    }

    pub fn card_mut(&mut self) -> &mut C {
        &mut self.card
    }

    pub fn into_inner(self) -> C {
        self.card
    }

    async fn run(&mut self, cmd: Command) -> Result<Vec<u8>, PivError> {
        check(transmit(&mut self.card, &cmd).await?)
    }

    /// SELECT the PIV application; returns the application property template (tag 61).
    pub async fn select(&mut self) -> Result<Vec<u8>, PivError> {
        let cmd = Command::new(0, Instruction::Select as u8, 0x04, 0x00)
            .data(PIV_AID)
            .le(256);
        match self.run(cmd).await {
            Err(PivError::NotFound) => Err(PivError::NoPivApplication),
            r => r,
        }
    }

    /// GET DATA: the contents of the object's 53 container, or `None` when absent.
    pub async fn read_object(&mut self, id: u32) -> Result<Option<Vec<u8>>, PivError> {
        let cmd = Command::new(0, Instruction::GetData as u8, 0x3F, 0xFF)
            .data(tag_list(id))
            .le(65536);
        match self.run(cmd).await {
            Ok(data) => Ok(Some(tlv::read_only(&data, 0x53)?.to_vec())),
            Err(PivError::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// PUT DATA (SP 800-73-4 Part 2 §3.3.2); needs the management key.
    pub async fn write_object(&mut self, id: u32, contents: &[u8]) -> Result<(), PivError> {
        let mut data = tag_list(id);
        tlv::write(&mut data, 0x53, contents);
        self.run(Command::new(0, Instruction::PutData as u8, 0x3F, 0xFF).data(data))
            .await
            .map(drop)
    }

    /// The certificate in a slot as DER, or `None` when the slot holds none.
    pub async fn read_certificate(&mut self, slot: Slot) -> Result<Option<Vec<u8>>, PivError> {
        let Some(obj) = self.read_object(slot.certificate_object()).await? else {
            return Ok(None);
        };
        let cert = tlv::find(&obj, 0x70)?.ok_or(PivError::Malformed(
            "certificate object without tag 70".into(),
        ))?;
        if let Some(&[info]) = tlv::find(&obj, 0x71)? {
            if info & 1 != 0 {
                return Err(PivError::Malformed(
                    "compressed certificates are not supported".into(),
                ));
            }
        }
        Ok(Some(cert.to_vec()))
    }

    pub async fn write_certificate(&mut self, slot: Slot, der: &[u8]) -> Result<(), PivError> {
        self.write_object(slot.certificate_object(), &certificate_object(der))
            .await
    }

    /// Tries left without spending one.
    pub async fn pin_state(&mut self) -> Result<PinState, PivError> {
        match self
            .run(Command::new(0, Instruction::Verify as u8, 0, PIN_REF))
            .await
        {
            Ok(_) => Ok(PinState::Verified),
            Err(PivError::WrongPin { tries_left }) => Ok(PinState::TriesLeft(tries_left)),
            Err(PivError::Blocked) => Ok(PinState::Blocked),
            Err(e) => Err(e),
        }
    }

    pub async fn verify_pin(&mut self, pin: &Pin) -> Result<(), PivError> {
        let cmd =
            Command::new(0, Instruction::Verify as u8, 0, PIN_REF).data(pin.padded().to_vec());
        self.run(cmd).await.map(drop)
    }

    /// CHANGE REFERENCE DATA for the PIN (0x80) or PUK (0x81).
    pub async fn change_reference(
        &mut self,
        reference: u8,
        old: &Pin,
        new: &Pin,
    ) -> Result<(), PivError> {
        let mut data = Zeroizing::new(Vec::with_capacity(16));
        data.extend_from_slice(old.padded());
        data.extend_from_slice(new.padded());
        self.run(
            Command::new(0, Instruction::ChangeReference as u8, 0, reference).data(data.to_vec()),
        )
        .await
        .map(drop)
    }

    /// RESET RETRY COUNTER: unblocks the PIN with the PUK.
    pub async fn unblock_pin(&mut self, puk: &Pin, new_pin: &Pin) -> Result<(), PivError> {
        let mut data = Zeroizing::new(Vec::with_capacity(16));
        data.extend_from_slice(puk.padded());
        data.extend_from_slice(new_pin.padded());
        self.run(
            Command::new(0, Instruction::ResetRetryCounter as u8, 0, PIN_REF).data(data.to_vec()),
        )
        .await
        .map(drop)
    }

    /// GENERAL AUTHENTICATE with a private key: `input` is the hash (ECC) or the padded block (RSA).
    pub async fn sign_raw(
        &mut self,
        slot: Slot,
        alg: Algorithm,
        input: &[u8],
    ) -> Result<Vec<u8>, PivError> {
        let mut inner = vec![0x82, 0x00];
        tlv::write(&mut inner, 0x81, input);
        let cmd = Command::new(
            0,
            Instruction::GeneralAuthenticate as u8,
            alg as u8,
            slot as u8,
        )
        .data(tlv::encode(0x7C, &inner))
        .le(65536);
        let resp = self.run(cmd).await?;
        let inner = tlv::read_only(&resp, 0x7C)?;
        Ok(tlv::find(inner, 0x82)?
            .ok_or(PivError::Malformed("no signature (tag 82)".into()))?
            .to_vec())
    }

    /// Signs `message` with SHA-256: ECDSA (DER signature) or RSASSA-PKCS1-v1_5.
    pub async fn sign_sha256(
        &mut self,
        slot: Slot,
        alg: Algorithm,
        message: &[u8],
    ) -> Result<Vec<u8>, PivError> {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(message);
        match alg {
            Algorithm::EccP256 => self.sign_raw(slot, alg, &digest).await,
            Algorithm::Rsa2048 => {
                self.sign_raw(slot, alg, &crate::keys::pkcs1_sha256_block(&digest, 256))
                    .await
            }
            _ => Err(PivError::Malformed("not a signing algorithm".into())),
        }
    }

    /// Mutual authentication with the card management key (SP 800-73-4 Part 2 Appendix A.5).
    pub async fn authenticate(&mut self, key: &ManagementKey) -> Result<(), PivError> {
        self.authenticate_with(&mut LocalKey::new(key)).await
    }

    /// Mutual authentication with whoever holds the management key: the key here, or the CA's
    /// server (which keeps the keys of the tokens it personalized) with this side relaying.
    pub async fn authenticate_with<R: ManagementResponder>(
        &mut self,
        responder: &mut R,
    ) -> Result<(), PivError> {
        let alg = responder.algorithm() as u8;
        let first = Command::new(
            0,
            Instruction::GeneralAuthenticate as u8,
            alg,
            MANAGEMENT_KEY_REF,
        )
        .data(vec![0x7C, 0x02, 0x80, 0x00])
        .le(256);
        let resp = match self.run(first).await {
            // The card's key is of another algorithm: for the user, not the right key.
            Err(PivError::Status(StatusWord::IncorrectP1P2 | StatusWord::IncorrectData)) => {
                return Err(PivError::WrongManagementKey)
            }
            r => r?,
        };
        let witness = tlv::find(tlv::read_only(&resp, 0x7C)?, 0x80)?
            .ok_or(PivError::Malformed("no witness (tag 80)".into()))?
            .to_vec();
        let (plain, challenge) = responder.answer(&witness).await?;
        let mut inner = Vec::new();
        tlv::write(&mut inner, 0x80, &plain);
        tlv::write(&mut inner, 0x81, &challenge);
        let second = Command::new(
            0,
            Instruction::GeneralAuthenticate as u8,
            alg,
            MANAGEMENT_KEY_REF,
        )
        .data(tlv::encode(0x7C, &inner))
        .le(256);
        let resp = match self.run(second).await {
            // YubiKeys answer a wrong witness with 6982, piv-authenticator (Nitrokey) with 6A80.
            Err(
                PivError::SecurityStatusNotSatisfied | PivError::Status(StatusWord::IncorrectData),
            ) => return Err(PivError::WrongManagementKey),
            r => r?,
        };
        let answer = tlv::find(tlv::read_only(&resp, 0x7C)?, 0x82)?
            .ok_or(PivError::Malformed("no response (tag 82)".into()))?;
        if !responder.check(&challenge, answer).await? {
            // The card does not know the key: it is not the card we think it is.
            return Err(PivError::WrongManagementKey);
        }
        Ok(())
    }

    /// YubiKey SET MANAGEMENT KEY (INS FF): replaces the management key; needs the current one
    /// authenticated first.
    pub async fn set_management_key(&mut self, new: &ManagementKey) -> Result<(), PivError> {
        let mut data = vec![
            new.algorithm() as u8,
            MANAGEMENT_KEY_REF,
            new.bytes().len() as u8,
        ];
        data.extend_from_slice(new.bytes());
        let data = Zeroizing::new(data);
        self.run(
            Command::new(0, Instruction::SetManagementKey as u8, 0xFF, 0xFF).data(data.to_vec()),
        )
        .await
        .map(|_| ())
    }

    /// The management key's algorithm from YubiKey GET METADATA, `None` on tokens without it.
    pub async fn management_key_algorithm(&mut self) -> Result<Option<Algorithm>, PivError> {
        match self
            .run(Command::new(0, Instruction::GetMetadata as u8, 0, MANAGEMENT_KEY_REF).le(256))
            .await
        {
            Ok(m) => Ok(tlv::find(&m, 0x01)?
                .and_then(|a| a.first().copied())
                .and_then(Algorithm::from_byte)),
            Err(PivError::Status(StatusWord::InsNotSupported)) | Err(PivError::NotFound) => {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// The PIN-protected management key (the convention of ykman and yubico-piv-tool): flagged
    /// in ADMIN DATA (5FFF00: 80 { 81 flags, bit 0x02 }), stored in PRINTED (5FC109: 88 { 89 key })
    /// which the card reveals only after VERIFY PIN. `None` when the token does not use it.
    pub async fn pin_protected_management_key(
        &mut self,
    ) -> Result<Option<ManagementKey>, PivError> {
        let Some(admin) = self.read_object(object::ADMIN_DATA).await? else {
            return Ok(None);
        };
        let flags = tlv::find(tlv::read_only(&admin, 0x80)?, 0x81)?
            .and_then(|f| f.first().copied())
            .unwrap_or(0);
        if flags & 0x02 == 0 {
            return Ok(None);
        }
        let printed = match self.read_object(object::PRINTED).await {
            Ok(Some(p)) => p,
            Ok(None) => return Ok(None),
            Err(e) => return Err(e),
        };
        let key = tlv::find(tlv::read_only(&printed, 0x88)?, 0x89)?
            .ok_or(PivError::Malformed(
                "no key in the printed information (tag 89)".into(),
            ))?
            .to_vec();
        let key = zeroize::Zeroizing::new(key);
        let alg = match self.management_key_algorithm().await? {
            Some(a) => a,
            // Without metadata the length decides; 24 bytes is the 3DES key these tokens shipped
            // with (AES-192 tokens all answer metadata).
            None if key.len() == 16 => Algorithm::Aes128,
            None if key.len() == 32 => Algorithm::Aes256,
            None => Algorithm::Tdes,
        };
        ManagementKey::new(alg, &key)
            .map(Some)
            .map_err(PivError::Malformed)
    }

    /// GENERATE ASYMMETRIC KEY PAIR (SP 800-73-4 Part 2 §3.3.2); needs the management key.
    pub async fn generate(&mut self, slot: Slot, alg: Algorithm) -> Result<PublicKey, PivError> {
        let cmd = Command::new(0, Instruction::GenerateAsymmetric as u8, 0, slot as u8)
            .data(vec![0xAC, 0x03, 0x80, 0x01, alg as u8])
            .le(65536);
        let resp = self.run(cmd).await?;
        let inner = tlv::read_only(&resp, 0x7F49)?;
        PublicKey::from_piv(alg, inner).map_err(PivError::Malformed)
    }

    /// YubiKey GET VERSION (INS FD); `None` on tokens without it.
    pub async fn version(&mut self) -> Result<Option<[u8; 3]>, PivError> {
        match self
            .run(Command::new(0, Instruction::GetVersion as u8, 0, 0).le(256))
            .await
        {
            Ok(v) => v
                .try_into()
                .map(Some)
                .map_err(|_| PivError::Malformed("version length".into())),
            Err(PivError::Status(StatusWord::InsNotSupported)) | Err(PivError::NotFound) => {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// YubiKey GET SERIAL (INS F8); `None` on tokens without it.
    pub async fn serial(&mut self) -> Result<Option<u32>, PivError> {
        match self
            .run(Command::new(0, Instruction::GetSerial as u8, 0, 0).le(256))
            .await
        {
            Ok(v) => <[u8; 4]>::try_from(v)
                .map(|b| Some(u32::from_be_bytes(b)))
                .map_err(|_| PivError::Malformed("serial length".into())),
            Err(PivError::Status(StatusWord::InsNotSupported)) | Err(PivError::NotFound) => {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }
}

/// Answers the card's management-key witness (SP 800-73-4 Part 2 Appendix A.5).
#[allow(async_fn_in_trait)]
pub trait ManagementResponder {
    fn algorithm(&self) -> Algorithm;
    /// Decrypts the card's witness and picks a challenge for it: (witness, challenge).
    async fn answer(&mut self, witness: &[u8]) -> Result<(Vec<u8>, Vec<u8>), PivError>;
    /// Whether `response` is `challenge` encrypted with the key (the card knows it too).
    async fn check(&mut self, challenge: &[u8], response: &[u8]) -> Result<bool, PivError>;
}

/// The management key held here.
pub struct LocalKey<'a> {
    key: &'a ManagementKey,
}

impl<'a> LocalKey<'a> {
    pub fn new(key: &'a ManagementKey) -> Self {
        Self { key }
    }
}

impl ManagementResponder for LocalKey<'_> {
    fn algorithm(&self) -> Algorithm {
        self.key.algorithm()
    }

    async fn answer(&mut self, witness: &[u8]) -> Result<(Vec<u8>, Vec<u8>), PivError> {
        respond(self.key, witness)
    }

    async fn check(&mut self, challenge: &[u8], response: &[u8]) -> Result<bool, PivError> {
        Ok(self.key.encrypt(challenge) == response)
    }
}

/// The key holder's half of the exchange: the witness decrypted, and a fresh random challenge.
/// Shared by `LocalKey` and by a server answering for the tokens it personalized.
pub fn respond(key: &ManagementKey, witness: &[u8]) -> Result<(Vec<u8>, Vec<u8>), PivError> {
    let block = key.block_size();
    if witness.len() != block {
        return Err(PivError::Malformed("witness size".into()));
    }
    let mut challenge = vec![0u8; block];
    getrandom::fill(&mut challenge).map_err(|e| PivError::Malformed(e.to_string()))?;
    Ok((key.decrypt(witness), challenge))
}

/// The GET/PUT DATA tag list `5C len id`.
fn tag_list(id: u32) -> Vec<u8> {
    let b = id.to_be_bytes();
    let skip = b.iter().take(3).take_while(|x| **x == 0).count();
    tlv::encode(0x5C, &b[skip..])
}

/// A certificate data object body: certificate, CertInfo (uncompressed), empty error-detection code.
pub fn certificate_object(der: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(der.len() + 10);
    tlv::write(&mut out, 0x70, der);
    tlv::write(&mut out, 0x71, &[0]);
    tlv::write(&mut out, 0xFE, &[]);
    out
}
