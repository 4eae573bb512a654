//! USB CCID rev 1.1 messages (§6) and the class descriptor (§5.1), as plain codecs over bytes.

/// Size of every CCID message header (§6.1, §6.2).
pub const HEADER_LEN: usize = 10;

/// PC_to_RDR message types (§6.1).
pub mod pc_to_rdr {
    pub const ICC_POWER_ON: u8 = 0x62;
    pub const ICC_POWER_OFF: u8 = 0x63;
    pub const GET_SLOT_STATUS: u8 = 0x65;
    pub const XFR_BLOCK: u8 = 0x6F;
    pub const GET_PARAMETERS: u8 = 0x6C;
    pub const ABORT: u8 = 0x72;
}

/// RDR_to_PC message types (§6.2, §6.3).
pub mod rdr_to_pc {
    pub const DATA_BLOCK: u8 = 0x80;
    pub const SLOT_STATUS: u8 = 0x81;
    pub const PARAMETERS: u8 = 0x82;
    pub const NOTIFY_SLOT_CHANGE: u8 = 0x50;
    pub const HARDWARE_ERROR: u8 = 0x51;
}

/// wLevelParameter / bChainParameter values at the extended APDU exchange level (§6.1.4, §6.2.1).
pub mod chain {
    pub const BEGINS_AND_ENDS: u16 = 0x0000;
    pub const BEGINS: u16 = 0x0001;
    pub const ENDS: u16 = 0x0002;
    pub const CONTINUES: u16 = 0x0003;
    /// Empty message: the host asks for the next part of a response.
    pub const CONTINUE_RESPONSE: u16 = 0x0010;
}

/// Builds a PC_to_RDR message. `specific` are the three message-specific header bytes.
pub fn encode(msg_type: u8, slot: u8, seq: u8, specific: [u8; 3], data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + data.len());
    out.push(msg_type);
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(&[slot, seq]);
    out.extend_from_slice(&specific);
    out.extend_from_slice(data);
    out
}

/// XfrBlock with a wLevelParameter (0 at the short APDU level).
pub fn xfr_block(slot: u8, seq: u8, level: u16, data: &[u8]) -> Vec<u8> {
    let [lo, hi] = level.to_le_bytes();
    encode(pc_to_rdr::XFR_BLOCK, slot, seq, [0, lo, hi], data)
}

/// A parsed message header (either direction) and its data field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message<'a> {
    pub msg_type: u8,
    pub slot: u8,
    pub seq: u8,
    pub specific: [u8; 3],
    pub data: &'a [u8],
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MsgError {
    #[error("CCID message shorter than its header")]
    Truncated,
    #[error("CCID message length field ({declared}) does not match its size ({actual})")]
    BadLength { declared: u32, actual: usize },
    #[error("CCID message larger than the reader's maximum")]
    TooLong,
}

/// How many bytes a whole message will have, once the header is in (for reassembly).
pub fn expected_len(header: &[u8]) -> Option<usize> {
    let len = header.get(1..5)?;
    let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]);
    usize::try_from(len).ok()?.checked_add(HEADER_LEN)
}

/// Parses exactly one message; trailing bytes are an error.
pub fn parse(buf: &[u8]) -> Result<Message<'_>, MsgError> {
    let (h, data) = buf
        .split_at_checked(HEADER_LEN)
        .ok_or(MsgError::Truncated)?;
    let declared = u32::from_le_bytes([h[1], h[2], h[3], h[4]]);
    if usize::try_from(declared).ok() != Some(data.len()) {
        return Err(MsgError::BadLength {
            declared,
            actual: data.len(),
        });
    }
    Ok(Message {
        msg_type: h[0],
        slot: h[5],
        seq: h[6],
        specific: [h[7], h[8], h[9]],
        data,
    })
}

/// bmICCStatus, bits 1–0 of bStatus (§6.2.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IccStatus {
    Active,
    PresentInactive,
    Absent,
    Reserved,
}

/// bmCommandStatus, bits 7–6 of bStatus (§6.2.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommandStatus {
    Ok,
    Failed,
    TimeExtension,
    Reserved,
}

pub fn icc_status(b_status: u8) -> IccStatus {
    match b_status & 0x03 {
        0 => IccStatus::Active,
        1 => IccStatus::PresentInactive,
        2 => IccStatus::Absent,
        _ => IccStatus::Reserved,
    }
}

pub fn command_status(b_status: u8) -> CommandStatus {
    match b_status >> 6 {
        0 => CommandStatus::Ok,
        1 => CommandStatus::Failed,
        2 => CommandStatus::TimeExtension,
        _ => CommandStatus::Reserved,
    }
}

/// bError slot error codes (§6.2.6, table 6.2-2).
pub fn slot_error_text(b_error: u8) -> &'static str {
    match b_error {
        0xFF => "command aborted",
        0xFE => "card mute (no answer, or removed)",
        0xFD => "parity error",
        0xFC => "overrun",
        0xFB => "hardware error",
        0xF8 => "bad ATR TS",
        0xF7 => "bad ATR TCK",
        0xF6 => "card protocol not supported",
        0xF5 => "card class not supported",
        0xF4 => "procedure byte conflict",
        0xF3 => "deactivated protocol",
        0xF2 => "busy with automatic sequence",
        0xF0 => "PIN timeout",
        0xEF => "PIN cancelled",
        0xE0 => "slot busy",
        0x00 => "command not supported",
        _ => "bad parameter in the command",
    }
}

/// Exchange level from dwFeatures bits 19–16 (§5.1, table 5.1-1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExchangeLevel {
    Character,
    Tpdu,
    ShortApdu,
    ExtendedApdu,
}

/// The fields of the CCID class descriptor the host relies on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassDescriptor {
    pub bcd_ccid: u16,
    pub max_slot_index: u8,
    pub protocols: u32,
    pub features: u32,
    pub max_message_len: u32,
    pub max_ifsd: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DescriptorError {
    #[error("no CCID class descriptor (type 0x21, 54 bytes) found")]
    Missing,
    #[error("CCID class descriptor truncated")]
    Truncated,
    #[error("dwMaxCCIDMessageLength {0} is too small to carry an APDU")]
    MessageLengthTooSmall(u32),
}

fn le32(b: &[u8], at: usize) -> Result<u32, DescriptorError> {
    let s = b.get(at..at + 4).ok_or(DescriptorError::Truncated)?;
    Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

impl ClassDescriptor {
    /// Parses the 54-byte functional descriptor (bDescriptorType 0x21).
    pub fn parse(b: &[u8]) -> Result<Self, DescriptorError> {
        if b.len() < 54 || b[0] < 54 {
            return Err(DescriptorError::Truncated);
        }
        if b[1] != 0x21 {
            return Err(DescriptorError::Missing);
        }
        let max_message_len = le32(b, 44)?;
        // Header plus the smallest APDU plus SW; anything smaller cannot work.
        if max_message_len < (HEADER_LEN + 5) as u32 {
            return Err(DescriptorError::MessageLengthTooSmall(max_message_len));
        }
        Ok(Self {
            bcd_ccid: u16::from_le_bytes([b[2], b[3]]),
            max_slot_index: b[4],
            protocols: le32(b, 6)?,
            max_ifsd: le32(b, 28)?,
            features: le32(b, 40)?,
            max_message_len,
        })
    }

    /// Finds the class descriptor inside a full configuration descriptor (a chain of descriptors).
    /// The walk is bounded by the buffer: every step advances by at least one byte.
    pub fn find_in_configuration(config: &[u8]) -> Result<Self, DescriptorError> {
        let mut rest = config;
        while let [len, kind, ..] = *rest {
            let len = usize::from(len);
            if len < 2 {
                return Err(DescriptorError::Truncated);
            }
            let d = rest.get(..len).ok_or(DescriptorError::Truncated)?;
            if kind == 0x21 && len >= 54 {
                return Self::parse(d);
            }
            rest = &rest[len..];
        }
        Err(DescriptorError::Missing)
    }

    pub fn exchange_level(&self) -> ExchangeLevel {
        if self.features & 0x0004_0000 != 0 {
            ExchangeLevel::ExtendedApdu
        } else if self.features & 0x0002_0000 != 0 {
            ExchangeLevel::ShortApdu
        } else if self.features & 0x0001_0000 != 0 {
            ExchangeLevel::Tpdu
        } else {
            ExchangeLevel::Character
        }
    }

    pub fn supports_t1(&self) -> bool {
        self.protocols & 0x2 != 0
    }

    /// Encodes a descriptor with these fields (used by device emulations and tests).
    pub fn encode(&self) -> [u8; 54] {
        let mut d = [0u8; 54];
        d[0] = 54;
        d[1] = 0x21;
        d[2..4].copy_from_slice(&self.bcd_ccid.to_le_bytes());
        d[4] = self.max_slot_index;
        d[5] = 0x07; // 5 V, 3 V, 1.8 V
        d[6..10].copy_from_slice(&self.protocols.to_le_bytes());
        d[10..14].copy_from_slice(&4000u32.to_le_bytes());
        d[14..18].copy_from_slice(&4000u32.to_le_bytes());
        d[19..23].copy_from_slice(&9600u32.to_le_bytes());
        d[23..27].copy_from_slice(&9600u32.to_le_bytes());
        d[28..32].copy_from_slice(&self.max_ifsd.to_le_bytes());
        d[40..44].copy_from_slice(&self.features.to_le_bytes());
        d[44..48].copy_from_slice(&self.max_message_len.to_le_bytes());
        d[48] = 0xFF;
        d[49] = 0xFF;
        d[53] = 1;
        d
    }
}

/// A NotifySlotChange or HardwareError from the interrupt endpoint (§6.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Interrupt {
    /// One entry per slot reported: (present, changed).
    SlotChange(Vec<(bool, bool)>),
    HardwareError {
        slot: u8,
        seq: u8,
        code: u8,
    },
}

pub fn parse_interrupt(buf: &[u8]) -> Result<Interrupt, MsgError> {
    match buf {
        [rdr_to_pc::NOTIFY_SLOT_CHANGE, bits @ ..] if !bits.is_empty() => {
            Ok(Interrupt::SlotChange(
                // Four slots per byte, two bits each; bounded by the buffer length.
                bits.iter()
                    .flat_map(|b| {
                        (0..4).map(move |i| ((b >> (2 * i)) & 1 != 0, (b >> (2 * i + 1)) & 1 != 0))
                    })
                    .collect(),
            ))
        }
        [rdr_to_pc::HARDWARE_ERROR, slot, seq, code] => Ok(Interrupt::HardwareError {
            slot: *slot,
            seq: *seq,
            code: *code,
        }),
        _ => Err(MsgError::Truncated),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hex_literal::hex;
    use proptest::prelude::*;

    /// Class descriptors as real devices report them (libccid readers/*.txt, lsusb -v).
    fn descriptor(features: u32, max_msg: u32, protocols: u32) -> [u8; 54] {
        ClassDescriptor {
            bcd_ccid: 0x0110,
            max_slot_index: 0,
            protocols,
            features,
            max_message_len: max_msg,
            max_ifsd: 254,
        }
        .encode()
    }

    #[test]
    fn real_readers() {
        // (name, dwFeatures, dwMaxCCIDMessageLength, dwProtocols, level)
        let readers = [
            (
                "YubiKey 5",
                0x0004_00FE,
                3072,
                2,
                ExchangeLevel::ExtendedApdu,
            ),
            (
                "Nitrokey 3",
                0x0004_0840,
                3072,
                2,
                ExchangeLevel::ExtendedApdu,
            ),
            (
                "Feitian ePass2003",
                0x0004_0840,
                1024,
                2,
                ExchangeLevel::ExtendedApdu,
            ),
            (
                "Gemalto PC Twin (TPDU)",
                0x0001_0230,
                271,
                3,
                ExchangeLevel::Tpdu,
            ),
            (
                "SCM SCR3310 (short APDU)",
                0x0002_00BA,
                271,
                3,
                ExchangeLevel::ShortApdu,
            ),
            (
                "Omnikey 3121 (TPDU)",
                0x0001_04BE,
                271,
                3,
                ExchangeLevel::Tpdu,
            ),
        ];
        for (name, features, max_msg, protocols, level) in readers {
            let d = ClassDescriptor::parse(&descriptor(features, max_msg, protocols)).unwrap();
            assert_eq!(d.exchange_level(), level, "{name}");
            assert_eq!(d.max_message_len, max_msg, "{name}");
            assert!(d.supports_t1(), "{name}");
        }
    }

    #[test]
    fn yubikey_descriptor_bytes() {
        // Field by field as a YubiKey 5 reports it (bcdCCID 1.00, T=1, 3072-byte messages).
        let d = hex!("36 21 0001 00 07 02000000 a00f0000 a00f0000 00 00000000 00000000 00 fe000000 00000000 00000000 fe000400 000c0000 ff ff 0000 00 01");
        let d = ClassDescriptor::parse(&d).unwrap();
        assert_eq!(d.features, 0x000400FE);
        assert_eq!(d.max_message_len, 3072);
        assert_eq!(d.exchange_level(), ExchangeLevel::ExtendedApdu);
    }

    #[test]
    fn finds_descriptor_in_configuration() {
        let mut config = hex!("09 02 5d00 01 01 00 80 fa  09 04 00 00 03 0b 00 00 00").to_vec();
        config.extend_from_slice(&descriptor(0x000400FE, 3072, 2));
        config.extend_from_slice(&hex!("07 05 01 02 4000 00"));
        assert_eq!(
            ClassDescriptor::find_in_configuration(&config)
                .unwrap()
                .max_message_len,
            3072
        );
        assert_eq!(
            ClassDescriptor::find_in_configuration(&config[..20]),
            Err(DescriptorError::Truncated)
        );
        assert_eq!(
            ClassDescriptor::find_in_configuration(&hex!("09 02 1200 01 01 00 80 fa")),
            Err(DescriptorError::Missing)
        );
        assert_eq!(
            ClassDescriptor::find_in_configuration(&hex!("00 02 00")),
            Err(DescriptorError::Truncated)
        );
    }

    #[test]
    fn message_round_trip() {
        let m = xfr_block(0, 7, chain::CONTINUE_RESPONSE, &[]);
        assert_eq!(m, hex!("6F 00000000 00 07 00 1000"));
        let p = parse(&m).unwrap();
        assert_eq!((p.msg_type, p.seq, p.specific), (0x6F, 7, [0, 0x10, 0]));
        assert!(matches!(parse(&m[..9]), Err(MsgError::Truncated)));
        assert!(matches!(
            parse(&hex!("80 02000000 00 00 00 00 00 01")),
            Err(MsgError::BadLength { .. })
        ));
    }

    #[test]
    fn interrupts() {
        assert_eq!(
            parse_interrupt(&hex!("50 03")).unwrap(),
            Interrupt::SlotChange(vec![
                (true, true),
                (false, false),
                (false, false),
                (false, false)
            ])
        );
        assert_eq!(
            parse_interrupt(&hex!("50 02")).unwrap(),
            Interrupt::SlotChange(vec![
                (false, true),
                (false, false),
                (false, false),
                (false, false)
            ])
        );
        assert!(parse_interrupt(&hex!("50")).is_err());
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(buf in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse(&buf);
            let _ = expected_len(&buf);
            let _ = ClassDescriptor::parse(&buf);
            let _ = ClassDescriptor::find_in_configuration(&buf);
            let _ = parse_interrupt(&buf);
        }
    }
}
