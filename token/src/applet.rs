//! The PIV card application (NIST SP 800-73-4 Part 2 §3) with the YubiKey extensions that
//! common tools expect (GET VERSION, GET SERIAL, GET METADATA, SET MANAGEMENT KEY, IMPORT KEY).

use crate::keys::PrivateKey;
use ccid::apdu::{Command, Response};
use ccid::keys::ManagementKey;
use ccid::piv::{object, Algorithm, Slot, MANAGEMENT_KEY_REF, PIN_REF, PIV_AID, PUK_REF};
use ccid::sw::StatusWord;
use ccid::tlv;
use std::collections::BTreeMap;
use zeroize::Zeroizing;

pub const DEFAULT_PIN: &[u8] = b"123456";
pub const DEFAULT_PUK: &[u8] = b"12345678";
const DEFAULT_TRIES: u8 = 3;
/// A chained command may not grow past this (the largest object PIV defines is ~12 KB).
const MAX_CHAINED: usize = 16 * 1024;
/// Objects stored beyond this are refused with 6A84, as a real token runs out of memory.
const MAX_OBJECT: usize = 8 * 1024;
/// Version reported to GET VERSION: a YubiKey 5 firmware, so YubiKey tools accept the token.
pub const VERSION: [u8; 3] = [5, 4, 3];

type Reply = Result<Vec<u8>, StatusWord>;

/// Counters of what the token received and sent (the traffic benchmark reads them).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub apdus: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

struct Secret {
    value: Zeroizing<[u8; 8]>,
    left: u8,
    max: u8,
    is_default: bool,
}

impl Secret {
    fn new(value: &[u8]) -> Self {
        Self {
            value: pad(value).unwrap_or_else(|| Zeroizing::new([0xFF; 8])),
            left: DEFAULT_TRIES,
            max: DEFAULT_TRIES,
            is_default: true,
        }
    }

    /// Checks a padded value, spending a try on failure (SP 800-73-4 Part 2 §3.2.1).
    fn check(&mut self, candidate: &[u8]) -> Result<(), StatusWord> {
        if self.left == 0 {
            return Err(StatusWord::AuthenticationBlocked);
        }
        // Compare every byte so timing does not tell where a mismatch is.
        let diff = candidate.len() != 8
            || self
                .value
                .iter()
                .zip(candidate)
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                != 0;
        if diff {
            self.left -= 1;
            return Err(StatusWord::VerifyFailed {
                tries_left: self.left,
            });
        }
        self.left = self.max;
        Ok(())
    }

    fn status(&self) -> StatusWord {
        if self.left == 0 {
            StatusWord::AuthenticationBlocked
        } else {
            StatusWord::VerifyFailed {
                tries_left: self.left,
            }
        }
    }
}

/// A PIN/PUK as sent: 6–8 bytes, 0xFF padding only at the end.
fn pad(value: &[u8]) -> Option<Zeroizing<[u8; 8]>> {
    if !(6..=8).contains(&value.len()) || value.contains(&0xFF) {
        return None;
    }
    let mut out = Zeroizing::new([0xFF; 8]);
    out[..value.len()].copy_from_slice(value);
    Some(out)
}

fn valid_padded(value: &[u8]) -> bool {
    let len = value.iter().position(|b| *b == 0xFF).unwrap_or(value.len());
    value.len() == 8 && len >= 6 && value[len..].iter().all(|b| *b == 0xFF)
}

struct StoredKey {
    key: PrivateKey,
    imported: bool,
}

#[derive(Default)]
struct Session {
    selected: bool,
    pin_verified: bool,
    admin: bool,
    witness: Option<Zeroizing<Vec<u8>>>,
    challenge: Option<Zeroizing<Vec<u8>>>,
    chain: Option<(u8, u8, u8, Vec<u8>)>,
    pending: Vec<u8>,
}

/// The PIV application. Feed it APDUs with [`PivApplet::process`].
pub struct PivApplet {
    pin: Secret,
    puk: Secret,
    mgmt: ManagementKey,
    mgmt_default: bool,
    keys: BTreeMap<u8, StoredKey>,
    objects: BTreeMap<u32, Vec<u8>>,
    serial: u32,
    session: Session,
    stats: Stats,
}

impl Default for PivApplet {
    fn default() -> Self {
        Self::new()
    }
}

impl PivApplet {
    /// A token as it leaves the factory: default PIN, PUK and management key, a random serial.
    pub fn new() -> Self {
        let mut serial = [0u8; 4];
        let _ = getrandom::fill(&mut serial);
        let mut objects = BTreeMap::new();
        objects.insert(object::CHUID, default_chuid(&serial));
        objects.insert(object::CCC, default_ccc(&serial));
        let mut a = Self {
            pin: Secret::new(DEFAULT_PIN),
            puk: Secret::new(DEFAULT_PUK),
            mgmt: ManagementKey::default_tdes(),
            mgmt_default: true,
            keys: BTreeMap::new(),
            objects,
            // Keep serials in the range YubiKeys use so tools print them as decimals.
            serial: u32::from_be_bytes(serial) % 90_000_000 + 10_000_000,
            session: Session::default(),
            stats: Stats::default(),
        };
        a.power_cycle();
        a
    }

    /// What a card reset does: the session (PIN status, authentication, buffers) is gone.
    pub fn power_cycle(&mut self) {
        self.session = Session {
            selected: true,
            ..Session::default()
        };
    }

    pub fn stats(&self) -> Stats {
        self.stats
    }

    pub fn reset_stats(&mut self) {
        self.stats = Stats::default();
    }

    pub fn serial(&self) -> u32 {
        self.serial
    }

    /// Installs a key directly (test and demo set-up; a real token would IMPORT it).
    pub fn install_key(&mut self, slot: Slot, key: PrivateKey) {
        self.keys.insert(
            slot as u8,
            StoredKey {
                key,
                imported: true,
            },
        );
    }

    pub fn public_key(&self, slot: Slot) -> Option<ccid::keys::PublicKey> {
        self.keys.get(&(slot as u8)).map(|k| k.key.public_key())
    }

    pub fn install_certificate(&mut self, slot: Slot, der: &[u8]) {
        self.objects.insert(
            slot.certificate_object(),
            ccid::piv::certificate_object(der),
        );
    }

    pub fn object(&self, id: u32) -> Option<&[u8]> {
        self.objects.get(&id).map(Vec::as_slice)
    }

    pub fn set_management_key(&mut self, key: ManagementKey) {
        self.mgmt = key;
        self.mgmt_default = false;
    }

    /// Processes one command APDU and returns the response APDU.
    pub fn process(&mut self, apdu: &[u8]) -> Vec<u8> {
        self.stats.apdus += 1;
        self.stats.bytes_in += apdu.len() as u64;
        let out = self.respond(apdu).encode();
        self.stats.bytes_out += out.len() as u64;
        out
    }

    fn respond(&mut self, apdu: &[u8]) -> Response {
        let extended = apdu.len() > 6 && apdu[4] == 0;
        let mut cmd = match Command::parse(apdu) {
            Ok(c) => c,
            Err(_) => return Response::status(StatusWord::WrongLength),
        };
        if cmd.ins == 0xC0 {
            return self.take_pending(cmd.le.unwrap_or(256));
        }
        self.session.pending.clear();
        if cmd.cla & 0x10 != 0 {
            // Command chaining (ISO 7816-4 §5.1.1.1): collect until the last command.
            let chain = self
                .session
                .chain
                .get_or_insert((cmd.ins, cmd.p1, cmd.p2, Vec::new()));
            if (chain.0, chain.1, chain.2) != (cmd.ins, cmd.p1, cmd.p2)
                || chain.3.len() + cmd.data.len() > MAX_CHAINED
            {
                self.session.chain = None;
                return Response::status(StatusWord::LastCommandExpected);
            }
            chain.3.extend_from_slice(&cmd.data);
            return Response::status(StatusWord::Ok);
        }
        if let Some((ins, p1, p2, mut data)) = self.session.chain.take() {
            if (ins, p1, p2) != (cmd.ins, cmd.p1, cmd.p2) {
                return Response::status(StatusWord::LastCommandExpected);
            }
            data.extend_from_slice(&cmd.data);
            cmd.data = data;
        }
        if cmd.cla & !0x10 != 0 {
            return Response::status(StatusWord::ClaNotSupported);
        }
        // Without Le, answer as if Le were the maximum, as YubiKeys do.
        let le = cmd.le.unwrap_or(if extended { 65536 } else { 256 });
        match self.dispatch(&cmd) {
            Ok(data) => {
                self.session.pending = data;
                self.take_pending(le)
            }
            Err(sw) => Response::status(sw),
        }
    }

    fn take_pending(&mut self, le: usize) -> Response {
        let n = le.min(self.session.pending.len());
        let data: Vec<u8> = self.session.pending.drain(..n).collect();
        let left = self.session.pending.len();
        let sw = if left == 0 {
            StatusWord::Ok
        } else {
            StatusWord::MoreData(left.min(256) as u8)
        };
        Response { data, sw }
    }

    fn dispatch(&mut self, cmd: &Command) -> Reply {
        use ccid::piv::Instruction as I;
        let ins = I::from_byte(cmd.ins).ok_or(StatusWord::InsNotSupported)?;
        if ins == I::Select {
            return self.select(cmd);
        }
        if !self.session.selected {
            return Err(StatusWord::InsNotSupported);
        }
        match ins {
            I::Select => self.select(cmd),
            I::GetData => self.get_data(cmd),
            I::PutData => self.put_data(cmd),
            I::Verify => self.verify(cmd),
            I::ChangeReference => self.change_reference(cmd),
            I::ResetRetryCounter => self.reset_retry_counter(cmd),
            I::GeneralAuthenticate => self.general_authenticate(cmd),
            I::GenerateAsymmetric => self.generate(cmd),
            I::GetVersion => Ok(VERSION.to_vec()),
            I::GetSerial => Ok(self.serial.to_be_bytes().to_vec()),
            I::GetMetadata => self.metadata(cmd),
            I::SetManagementKey => self.put_management_key(cmd),
            I::ImportKey => self.import_key(cmd),
            I::Reset => self.reset(),
            I::SetPinRetries => self.set_pin_retries(cmd),
        }
    }

    /// SELECT by (partial) AID: at least the 5-byte RID+PIX prefix (SP 800-73-4 Part 2 §3.1.1).
    fn select(&mut self, cmd: &Command) -> Reply {
        if cmd.p1 != 0x04 {
            return Err(StatusWord::IncorrectP1P2);
        }
        if cmd.data.len() < 5 || !PIV_AID.starts_with(&cmd.data) {
            self.session.selected = false;
            return Err(StatusWord::NotFound);
        }
        self.session.selected = true;
        let mut apt = Vec::new();
        tlv::write(&mut apt, 0x4F, &PIV_AID[5..]);
        tlv::write(&mut apt, 0x79, &tlv::encode(0x4F, &PIV_AID[..5]));
        let mut algs = Vec::new();
        for a in [
            Algorithm::Tdes,
            Algorithm::Aes128,
            Algorithm::Aes192,
            Algorithm::Aes256,
            Algorithm::Rsa2048,
            Algorithm::EccP256,
        ] {
            tlv::write(&mut algs, 0x80, &[a as u8]);
        }
        tlv::write(&mut algs, 0x06, &[0]);
        tlv::write(&mut apt, 0xAC, &algs);
        Ok(tlv::encode(0x61, &apt))
    }

    fn object_id(data: &[u8]) -> Result<u32, StatusWord> {
        let (t, _) = tlv::read(data).map_err(|_| StatusWord::IncorrectData)?;
        if t.tag != 0x5C || t.value.is_empty() || t.value.len() > 3 {
            return Err(StatusWord::IncorrectData);
        }
        Ok(t.value
            .iter()
            .fold(0u32, |acc, b| (acc << 8) | u32::from(*b)))
    }

    fn get_data(&mut self, cmd: &Command) -> Reply {
        if (cmd.p1, cmd.p2) != (0x3F, 0xFF) {
            return Err(StatusWord::IncorrectP1P2);
        }
        let id = Self::object_id(&cmd.data)?;
        if id == object::DISCOVERY {
            let mut d = tlv::encode(0x4F, &PIV_AID);
            // PIN usage policy: PIV PIN satisfies the access rules (SP 800-73-4 Part 1 §3.3.2).
            tlv::write(&mut d, 0x5F2F, &[0x40, 0x00]);
            return Ok(tlv::encode(0x7E, &d));
        }
        if id == object::PRINTED && !self.session.pin_verified {
            return Err(StatusWord::SecurityStatusNotSatisfied);
        }
        let body = self.objects.get(&id).ok_or(StatusWord::NotFound)?;
        Ok(tlv::encode(0x53, body))
    }

    fn put_data(&mut self, cmd: &Command) -> Reply {
        if (cmd.p1, cmd.p2) != (0x3F, 0xFF) {
            return Err(StatusWord::IncorrectP1P2);
        }
        if !self.session.admin {
            return Err(StatusWord::SecurityStatusNotSatisfied);
        }
        let (t, rest) = tlv::read(&cmd.data).map_err(|_| StatusWord::IncorrectData)?;
        if t.tag != 0x5C {
            return Err(StatusWord::IncorrectData);
        }
        let id = Self::object_id(&cmd.data)?;
        let body = tlv::read_only(rest, 0x53).map_err(|_| StatusWord::IncorrectData)?;
        if body.len() > MAX_OBJECT {
            return Err(StatusWord::NotEnoughMemory);
        }
        if id == object::DISCOVERY || id >> 16 != 0x5F {
            return Err(StatusWord::IncorrectData);
        }
        if body.is_empty() {
            self.objects.remove(&id);
        } else {
            self.objects.insert(id, body.to_vec());
        }
        Ok(Vec::new())
    }

    fn verify(&mut self, cmd: &Command) -> Reply {
        if cmd.p2 != PIN_REF {
            return Err(StatusWord::ReferencedDataNotFound);
        }
        match (cmd.p1, cmd.data.is_empty()) {
            (0xFF, true) => {
                self.session.pin_verified = false;
                Ok(Vec::new())
            }
            (0x00, true) if self.session.pin_verified => Ok(Vec::new()),
            (0x00, true) => Err(self.pin.status()),
            (0x00, false) => {
                self.session.pin_verified = false;
                if cmd.data.len() != 8 {
                    return Err(StatusWord::IncorrectData);
                }
                self.pin.check(&cmd.data)?;
                self.session.pin_verified = true;
                Ok(Vec::new())
            }
            _ => Err(StatusWord::IncorrectP1P2),
        }
    }

    fn change_reference(&mut self, cmd: &Command) -> Reply {
        if cmd.p1 != 0 {
            return Err(StatusWord::IncorrectP1P2);
        }
        if cmd.data.len() != 16 || !valid_padded(&cmd.data[8..]) {
            return Err(StatusWord::IncorrectData);
        }
        let secret = match cmd.p2 {
            PIN_REF => &mut self.pin,
            PUK_REF => &mut self.puk,
            _ => return Err(StatusWord::ReferencedDataNotFound),
        };
        secret.check(&cmd.data[..8])?;
        secret.value.copy_from_slice(&cmd.data[8..]);
        secret.is_default = false;
        Ok(Vec::new())
    }

    fn reset_retry_counter(&mut self, cmd: &Command) -> Reply {
        if (cmd.p1, cmd.p2) != (0, PIN_REF) {
            return Err(StatusWord::IncorrectP1P2);
        }
        if cmd.data.len() != 16 || !valid_padded(&cmd.data[8..]) {
            return Err(StatusWord::IncorrectData);
        }
        self.puk.check(&cmd.data[..8])?;
        self.pin.value.copy_from_slice(&cmd.data[8..]);
        self.pin.left = self.pin.max;
        self.pin.is_default = false;
        Ok(Vec::new())
    }

    fn general_authenticate(&mut self, cmd: &Command) -> Reply {
        let template = tlv::read_only(&cmd.data, 0x7C).map_err(|_| StatusWord::IncorrectData)?;
        let mut fields = BTreeMap::new();
        for t in tlv::iter(template) {
            let t = t.map_err(|_| StatusWord::IncorrectData)?;
            fields.insert(t.tag, t.value);
        }
        if cmd.p2 == MANAGEMENT_KEY_REF {
            return self.authenticate_admin(cmd.p1, &fields);
        }
        let slot = Slot::from_byte(cmd.p2).ok_or(StatusWord::ReferencedDataNotFound)?;
        let stored = self
            .keys
            .get(&cmd.p2)
            .ok_or(StatusWord::ReferencedDataNotFound)?;
        if stored.key.algorithm() as u8 != cmd.p1 {
            return Err(StatusWord::IncorrectP1P2);
        }
        // Card authentication (9E) needs no PIN; the others need it once per session.
        if slot != Slot::CardAuthentication && !self.session.pin_verified {
            return Err(StatusWord::SecurityStatusNotSatisfied);
        }
        match (fields.get(&0x82), fields.get(&0x81)) {
            (Some(&[]), Some(input)) => {
                let sig = stored
                    .key
                    .sign_raw(input)
                    .ok_or(StatusWord::IncorrectData)?;
                Ok(tlv::encode(0x7C, &tlv::encode(0x82, &sig)))
            }
            _ => Err(StatusWord::IncorrectData),
        }
    }

    /// Management-key authentication (SP 800-73-4 Part 2 Appendix A.1 and A.5).
    fn authenticate_admin(&mut self, alg: u8, fields: &BTreeMap<u32, &[u8]>) -> Reply {
        if alg != self.mgmt.algorithm() as u8 {
            return Err(StatusWord::IncorrectP1P2);
        }
        let block = self.mgmt.block_size();
        let random = || {
            let mut r = Zeroizing::new(vec![0u8; block]);
            getrandom::fill(&mut r)
                .map(|_| r)
                .map_err(|_| StatusWord::Unknown)
        };
        match (fields.get(&0x80), fields.get(&0x81), fields.get(&0x82)) {
            // Step 1 of mutual authentication: send an encrypted witness.
            (Some(&[]), None, None) => {
                self.session.admin = false;
                let w = random()?;
                let enc = self.mgmt.encrypt(&w);
                self.session.witness = Some(w);
                Ok(tlv::encode(0x7C, &tlv::encode(0x80, &enc)))
            }
            // Step 2: the host proves it decrypted the witness and challenges us back.
            (Some(w), Some(c), None) => {
                let expected = self
                    .session
                    .witness
                    .take()
                    .ok_or(StatusWord::ConditionsNotSatisfied)?;
                if w.len() != block || c.len() != block || **w != expected[..] {
                    return Err(StatusWord::SecurityStatusNotSatisfied);
                }
                self.session.admin = true;
                Ok(tlv::encode(0x7C, &tlv::encode(0x82, &self.mgmt.encrypt(c))))
            }
            // External authentication, step 1: send a plain challenge.
            (None, Some(&[]), None) => {
                self.session.admin = false;
                let c = random()?;
                let out = tlv::encode(0x7C, &tlv::encode(0x81, &c));
                self.session.challenge = Some(c);
                Ok(out)
            }
            // Step 2: the host returns the challenge encrypted.
            (None, None, Some(r)) => {
                let c = self
                    .session
                    .challenge
                    .take()
                    .ok_or(StatusWord::ConditionsNotSatisfied)?;
                if *r != self.mgmt.encrypt(&c).as_slice() {
                    return Err(StatusWord::SecurityStatusNotSatisfied);
                }
                self.session.admin = true;
                Ok(Vec::new())
            }
            _ => Err(StatusWord::IncorrectData),
        }
    }

    fn generate(&mut self, cmd: &Command) -> Reply {
        if cmd.p1 != 0 {
            return Err(StatusWord::IncorrectP1P2);
        }
        let slot = Slot::from_byte(cmd.p2).ok_or(StatusWord::IncorrectP1P2)?;
        if !self.session.admin {
            return Err(StatusWord::SecurityStatusNotSatisfied);
        }
        let template = tlv::read_only(&cmd.data, 0xAC).map_err(|_| StatusWord::IncorrectData)?;
        let alg = match tlv::find(template, 0x80) {
            Ok(Some(&[a])) => Algorithm::from_byte(a).ok_or(StatusWord::IncorrectData)?,
            _ => return Err(StatusWord::IncorrectData),
        };
        let key = PrivateKey::generate(alg).ok_or(StatusWord::IncorrectData)?;
        let public = key.public_key().to_piv();
        self.keys.insert(
            slot as u8,
            StoredKey {
                key,
                imported: false,
            },
        );
        Ok(tlv::encode(0x7F49, &public))
    }

    /// YubiKey GET METADATA (INS F7), the fields ykman reads.
    fn metadata(&mut self, cmd: &Command) -> Reply {
        let mut out = Vec::new();
        match cmd.p2 {
            PIN_REF | PUK_REF => {
                let s = if cmd.p2 == PIN_REF {
                    &self.pin
                } else {
                    &self.puk
                };
                tlv::write(&mut out, 0x01, &[0xFF]);
                tlv::write(&mut out, 0x05, &[u8::from(s.is_default)]);
                tlv::write(&mut out, 0x06, &[s.max, s.left]);
            }
            MANAGEMENT_KEY_REF => {
                tlv::write(&mut out, 0x01, &[self.mgmt.algorithm() as u8]);
                tlv::write(&mut out, 0x02, &[0x00, 0x01]);
                tlv::write(&mut out, 0x05, &[u8::from(self.mgmt_default)]);
            }
            p2 => {
                let k = self
                    .keys
                    .get(&p2)
                    .ok_or(StatusWord::ReferencedDataNotFound)?;
                tlv::write(&mut out, 0x01, &[k.key.algorithm() as u8]);
                let pin_policy = if p2 == Slot::CardAuthentication as u8 {
                    0x01
                } else {
                    0x02
                };
                tlv::write(&mut out, 0x02, &[pin_policy, 0x01]);
                tlv::write(&mut out, 0x03, &[if k.imported { 0x02 } else { 0x01 }]);
                tlv::write(&mut out, 0x04, &k.key.public_key().to_piv());
            }
        }
        Ok(out)
    }

    /// YubiKey SET MANAGEMENT KEY (INS FF, P1 FF, P2 FF or FE): data `alg 9B len key`.
    fn put_management_key(&mut self, cmd: &Command) -> Reply {
        if cmd.p1 != 0xFF || !matches!(cmd.p2, 0xFF | 0xFE) {
            return Err(StatusWord::IncorrectP1P2);
        }
        if !self.session.admin {
            return Err(StatusWord::SecurityStatusNotSatisfied);
        }
        match cmd.data.as_slice() {
            [alg, MANAGEMENT_KEY_REF, len, key @ ..] if usize::from(*len) == key.len() => {
                let alg = Algorithm::from_byte(*alg).ok_or(StatusWord::IncorrectData)?;
                self.mgmt = ManagementKey::new(alg, key).map_err(|_| StatusWord::IncorrectData)?;
                self.mgmt_default = false;
                Ok(Vec::new())
            }
            _ => Err(StatusWord::IncorrectData),
        }
    }

    /// YubiKey IMPORT ASYMMETRIC KEY (INS FE, P1 algorithm, P2 slot).
    fn import_key(&mut self, cmd: &Command) -> Reply {
        let slot = Slot::from_byte(cmd.p2).ok_or(StatusWord::IncorrectP1P2)?;
        if !self.session.admin {
            return Err(StatusWord::SecurityStatusNotSatisfied);
        }
        let field = |tag| {
            tlv::find(&cmd.data, tag)
                .ok()
                .flatten()
                .ok_or(StatusWord::IncorrectData)
        };
        let mut saved = Vec::new();
        match Algorithm::from_byte(cmd.p1) {
            Some(Algorithm::EccP256) => tlv::write(&mut saved, 0x01, field(0x06)?),
            Some(Algorithm::Rsa2048) => {
                tlv::write(&mut saved, 0x02, field(0x01)?);
                tlv::write(&mut saved, 0x03, field(0x02)?);
                tlv::write(&mut saved, 0x04, &[0x01, 0x00, 0x01]);
            }
            _ => return Err(StatusWord::IncorrectP1P2),
        }
        let key = PrivateKey::restore(&saved).ok_or(StatusWord::IncorrectData)?;
        self.keys.insert(
            slot as u8,
            StoredKey {
                key,
                imported: true,
            },
        );
        Ok(Vec::new())
    }

    /// YubiKey RESET (INS FB): only once both PIN and PUK are blocked.
    fn reset(&mut self) -> Reply {
        if self.pin.left != 0 || self.puk.left != 0 {
            return Err(StatusWord::ConditionsNotSatisfied);
        }
        let serial = self.serial;
        *self = Self::new();
        self.serial = serial;
        Ok(Vec::new())
    }

    /// YubiKey SET PIN RETRIES (INS FA, P1 PIN tries, P2 PUK tries): resets both to defaults.
    fn set_pin_retries(&mut self, cmd: &Command) -> Reply {
        if !self.session.admin || !self.session.pin_verified {
            return Err(StatusWord::SecurityStatusNotSatisfied);
        }
        if cmd.p1 == 0 || cmd.p2 == 0 || cmd.p1 > 15 || cmd.p2 > 15 {
            return Err(StatusWord::IncorrectP1P2);
        }
        self.pin = Secret {
            max: cmd.p1,
            left: cmd.p1,
            ..Secret::new(DEFAULT_PIN)
        };
        self.puk = Secret {
            max: cmd.p2,
            left: cmd.p2,
            ..Secret::new(DEFAULT_PUK)
        };
        Ok(Vec::new())
    }

    /// Persistent state as bytes (keys, PIN/PUK, counters, objects); the session is not saved.
    pub fn save(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(vec![1u8]);
        for (tag, s) in [(0x01, &self.pin), (0x02, &self.puk)] {
            let mut v = s.value.to_vec();
            v.extend_from_slice(&[s.left, s.max, u8::from(s.is_default)]);
            tlv::write(&mut out, tag, &v);
            zeroize::Zeroize::zeroize(&mut v);
        }
        let mut m = vec![self.mgmt.algorithm() as u8, u8::from(self.mgmt_default)];
        m.extend_from_slice(self.mgmt.bytes());
        tlv::write(&mut out, 0x03, &m);
        zeroize::Zeroize::zeroize(&mut m);
        tlv::write(&mut out, 0x04, &self.serial.to_be_bytes());
        for (slot, k) in &self.keys {
            let mut v = Zeroizing::new(vec![*slot, u8::from(k.imported)]);
            v.extend_from_slice(&k.key.save());
            tlv::write(&mut out, 0x05, &v);
        }
        for (id, body) in &self.objects {
            let mut v = id.to_be_bytes()[1..].to_vec();
            v.extend_from_slice(body);
            tlv::write(&mut out, 0x06, &v);
        }
        out
    }

    /// Restores what [`PivApplet::save`] wrote; `None` if the bytes are not such a state.
    pub fn restore(buf: &[u8]) -> Option<Self> {
        let (&version, rest) = buf.split_first()?;
        if version != 1 {
            return None;
        }
        let mut a = Self::new();
        a.keys.clear();
        a.objects.clear();
        for t in tlv::iter(rest) {
            let t = t.ok()?;
            match (t.tag, t.value) {
                (0x01 | 0x02, v) if v.len() == 11 => {
                    let mut value = Zeroizing::new([0u8; 8]);
                    value.copy_from_slice(&v[..8]);
                    let s = Secret {
                        value,
                        left: v[8],
                        max: v[9],
                        is_default: v[10] != 0,
                    };
                    if t.tag == 0x01 {
                        a.pin = s
                    } else {
                        a.puk = s
                    }
                }
                (0x03, [alg, default, key @ ..]) => {
                    a.mgmt = ManagementKey::new(Algorithm::from_byte(*alg)?, key).ok()?;
                    a.mgmt_default = *default != 0;
                }
                (0x04, v) => a.serial = u32::from_be_bytes(v.try_into().ok()?),
                (0x05, [slot, imported, key @ ..]) => {
                    a.keys.insert(
                        *slot,
                        StoredKey {
                            key: PrivateKey::restore(key)?,
                            imported: *imported != 0,
                        },
                    );
                }
                (0x06, v) if v.len() >= 3 => {
                    let id = u32::from_be_bytes([0, v[0], v[1], v[2]]);
                    a.objects.insert(id, v[3..].to_vec());
                }
                _ => return None,
            }
        }
        Some(a)
    }
}

/// A CHUID (SP 800-73-4 Part 1 Table 9) with a FASC-N of "not a government card" and a GUID.
fn default_chuid(serial: &[u8; 4]) -> Vec<u8> {
    let mut d = Vec::new();
    // FASC-N: agency code 9999 (non-federal), everything else zero, BCD-encoded as SP 800-73 shows.
    tlv::write(
        &mut d,
        0x30,
        &[
            0xD4, 0xE7, 0x39, 0xDA, 0x73, 0x9C, 0xED, 0x39, 0xCE, 0x73, 0x9D, 0x83, 0x68, 0x58,
            0x21, 0x08, 0x42, 0x10, 0x84, 0x21, 0xC8, 0x42, 0x10, 0xC3, 0xEB,
        ],
    );
    let mut guid = [0u8; 16];
    guid[..4].copy_from_slice(serial);
    guid[4..13].copy_from_slice(b"certrenew");
    tlv::write(&mut d, 0x34, &guid);
    tlv::write(&mut d, 0x35, b"20401231");
    tlv::write(&mut d, 0x3E, &[]);
    tlv::write(&mut d, 0xFE, &[]);
    d
}

/// A Card Capability Container (SP 800-73-4 Part 1 Table 8), as PIV middleware expects one.
fn default_ccc(serial: &[u8; 4]) -> Vec<u8> {
    let mut id = [0u8; 21];
    id[..5].copy_from_slice(&[0xA0, 0x00, 0x00, 0x01, 0x16]);
    id[17..].copy_from_slice(serial);
    let mut d = Vec::new();
    tlv::write(&mut d, 0xF0, &id);
    tlv::write(&mut d, 0xF1, &[0x21]);
    tlv::write(&mut d, 0xF2, &[0x21]);
    tlv::write(&mut d, 0xF3, &[]);
    tlv::write(&mut d, 0xF4, &[0x00]);
    tlv::write(&mut d, 0xF5, &[0x10]);
    for t in [0xF6, 0xF7, 0xFA, 0xFB, 0xFC, 0xFD, 0xFE] {
        tlv::write(&mut d, t, &[]);
    }
    d
}
