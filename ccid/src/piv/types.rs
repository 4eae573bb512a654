//! PIV's vocabulary — slots, algorithms, data objects, instructions — as types both sides share:
//! the client (`piv`) builds commands with them and the virtual token (`token`) dispatches on
//! them. A leaf: it depends on no other module of the crate.

/// PIV application identifier with version (SP 800-73-4 Part 1 §2.2).
pub const PIV_AID: [u8; 11] = [
    0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00,
];

/// Data object identifiers (SP 800-73-4 Part 1 Table 3).
pub mod object {
    pub const CHUID: u32 = 0x5FC102;
    pub const CCC: u32 = 0x5FC107;
    pub const CERT_9A: u32 = 0x5FC105;
    pub const CERT_9C: u32 = 0x5FC10A;
    pub const CERT_9D: u32 = 0x5FC10B;
    pub const CERT_9E: u32 = 0x5FC101;
    pub const PRINTED: u32 = 0x5FC109;
    pub const DISCOVERY: u32 = 0x7E;
    /// YubiKey "admin data" (PIN-protected management key flag), outside the PIV range.
    pub const ADMIN_DATA: u32 = 0x5FFF00;
}

/// Key references (SP 800-78-4 Table 4-1 / SP 800-73-4 Part 1 §3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Slot {
    Authentication = 0x9A,
    Signature = 0x9C,
    KeyManagement = 0x9D,
    CardAuthentication = 0x9E,
}

impl Slot {
    pub const ALL: [Slot; 4] = [
        Slot::Authentication,
        Slot::Signature,
        Slot::KeyManagement,
        Slot::CardAuthentication,
    ];

    pub fn from_byte(b: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|s| *s as u8 == b)
    }

    pub fn certificate_object(self) -> u32 {
        match self {
            Slot::Authentication => object::CERT_9A,
            Slot::Signature => object::CERT_9C,
            Slot::KeyManagement => object::CERT_9D,
            Slot::CardAuthentication => object::CERT_9E,
        }
    }
}

/// Algorithm identifiers (SP 800-78-4 Table 6-2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Algorithm {
    Tdes = 0x03,
    Rsa2048 = 0x07,
    Aes128 = 0x08,
    Aes192 = 0x0A,
    Aes256 = 0x0C,
    EccP256 = 0x11,
}

impl Algorithm {
    pub fn from_byte(b: u8) -> Option<Self> {
        [
            Self::Tdes,
            Self::Rsa2048,
            Self::Aes128,
            Self::Aes192,
            Self::Aes256,
            Self::EccP256,
        ]
        .into_iter()
        .find(|a| *a as u8 == b)
    }
}

/// Reference of the management key (SP 800-73-4 Part 1 §3.1).
pub const MANAGEMENT_KEY_REF: u8 = 0x9B;
/// PIN and PUK references (SP 800-73-4 Part 1 Table 3.1).
pub const PIN_REF: u8 = 0x80;
pub const PUK_REF: u8 = 0x81;

/// Instructions (SP 800-73-4 Part 2 §3, and the YubiKey extensions ykman and yubico-piv-tool use).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Instruction {
    Select = 0xA4,
    GetData = 0xCB,
    PutData = 0xDB,
    Verify = 0x20,
    ChangeReference = 0x24,
    ResetRetryCounter = 0x2C,
    GeneralAuthenticate = 0x87,
    GenerateAsymmetric = 0x47,
    /// YubiKey: firmware version.
    GetVersion = 0xFD,
    /// YubiKey: serial number.
    GetSerial = 0xF8,
    /// YubiKey 5.3+: a key's or PIN's metadata.
    GetMetadata = 0xF7,
    /// YubiKey: set the management key.
    SetManagementKey = 0xFF,
    /// YubiKey: import a private key.
    ImportKey = 0xFE,
    /// YubiKey: reset the application (PIN and PUK blocked first).
    Reset = 0xFB,
    /// YubiKey: set the PIN and PUK retry counts.
    SetPinRetries = 0xFA,
}

impl Instruction {
    pub const ALL: [Instruction; 15] = [
        Self::Select,
        Self::GetData,
        Self::PutData,
        Self::Verify,
        Self::ChangeReference,
        Self::ResetRetryCounter,
        Self::GeneralAuthenticate,
        Self::GenerateAsymmetric,
        Self::GetVersion,
        Self::GetSerial,
        Self::GetMetadata,
        Self::SetManagementKey,
        Self::ImportKey,
        Self::Reset,
        Self::SetPinRetries,
    ];

    pub fn from_byte(b: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|i| *i as u8 == b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_instruction_byte_is_its_own() {
        for i in Instruction::ALL {
            assert_eq!(Instruction::from_byte(i as u8), Some(i));
        }
        let distinct: std::collections::BTreeSet<u8> =
            Instruction::ALL.iter().map(|i| *i as u8).collect();
        assert_eq!(distinct.len(), Instruction::ALL.len());
        assert_eq!(Instruction::from_byte(0x00), None);
    }
}
