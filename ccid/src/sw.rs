//! ISO 7816-4 §5.1.3 status words, and the one place they become errors.

/// A status word returned by a card. Unknown codes keep their value in [`StatusWord::Other`].
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusWord {
    /// `0x9000` normal processing.
    Ok,
    /// `0x61xx` more data available; `xx` bytes (0 = 256 or more) with GET RESPONSE.
    MoreData(u8),
    /// `0x6281` part of returned data may be corrupted.
    CorruptedData,
    /// `0x63Cx` verification failed, `x` tries left.
    VerifyFailed { tries_left: u8 },
    /// `0x6581` memory failure.
    MemoryFailure,
    /// `0x6700` wrong length.
    WrongLength,
    /// `0x6882` secure messaging not supported.
    SecureMessagingNotSupported,
    /// `0x6883` last command of the chain expected.
    LastCommandExpected,
    /// `0x6884` command chaining not supported.
    ChainingNotSupported,
    /// `0x6982` security status not satisfied (PIN or management key needed).
    SecurityStatusNotSatisfied,
    /// `0x6983` authentication method blocked (PIN or PUK blocked).
    AuthenticationBlocked,
    /// `0x6984` reference data not usable.
    ReferenceDataNotUsable,
    /// `0x6985` conditions of use not satisfied.
    ConditionsNotSatisfied,
    /// `0x6A80` incorrect parameters in the command data field.
    IncorrectData,
    /// `0x6A81` function not supported.
    FunctionNotSupported,
    /// `0x6A82` file or application not found.
    NotFound,
    /// `0x6A84` not enough memory.
    NotEnoughMemory,
    /// `0x6A86` incorrect P1 or P2.
    IncorrectP1P2,
    /// `0x6A88` referenced data (key) not found.
    ReferencedDataNotFound,
    /// `0x6Cxx` wrong Le; `xx` is the exact length.
    WrongLe(u8),
    /// `0x6D00` instruction not supported.
    InsNotSupported,
    /// `0x6E00` class not supported.
    ClaNotSupported,
    /// `0x6F00` no precise diagnosis.
    Unknown,
    /// Any other code.
    Other(u16),
}

impl From<u16> for StatusWord {
    fn from(sw: u16) -> Self {
        let [hi, lo] = sw.to_be_bytes();
        match (hi, lo) {
            (0x90, 0x00) => Self::Ok,
            (0x61, n) => Self::MoreData(n),
            (0x62, 0x81) => Self::CorruptedData,
            (0x63, n) if n & 0xF0 == 0xC0 => Self::VerifyFailed {
                tries_left: n & 0x0F,
            },
            (0x65, 0x81) => Self::MemoryFailure,
            (0x67, 0x00) => Self::WrongLength,
            (0x68, 0x82) => Self::SecureMessagingNotSupported,
            (0x68, 0x83) => Self::LastCommandExpected,
            (0x68, 0x84) => Self::ChainingNotSupported,
            (0x69, 0x82) => Self::SecurityStatusNotSatisfied,
            (0x69, 0x83) => Self::AuthenticationBlocked,
            (0x69, 0x84) => Self::ReferenceDataNotUsable,
            (0x69, 0x85) => Self::ConditionsNotSatisfied,
            (0x6A, 0x80) => Self::IncorrectData,
            (0x6A, 0x81) => Self::FunctionNotSupported,
            (0x6A, 0x82) => Self::NotFound,
            (0x6A, 0x84) => Self::NotEnoughMemory,
            (0x6A, 0x86) => Self::IncorrectP1P2,
            (0x6A, 0x88) => Self::ReferencedDataNotFound,
            (0x6C, n) => Self::WrongLe(n),
            (0x6D, 0x00) => Self::InsNotSupported,
            (0x6E, 0x00) => Self::ClaNotSupported,
            (0x6F, 0x00) => Self::Unknown,
            _ => Self::Other(sw),
        }
    }
}

impl From<StatusWord> for u16 {
    fn from(sw: StatusWord) -> u16 {
        match sw {
            StatusWord::Ok => 0x9000,
            StatusWord::MoreData(n) => 0x6100 | u16::from(n),
            StatusWord::CorruptedData => 0x6281,
            StatusWord::VerifyFailed { tries_left } => 0x63C0 | u16::from(tries_left & 0x0F),
            StatusWord::MemoryFailure => 0x6581,
            StatusWord::WrongLength => 0x6700,
            StatusWord::SecureMessagingNotSupported => 0x6882,
            StatusWord::LastCommandExpected => 0x6883,
            StatusWord::ChainingNotSupported => 0x6884,
            StatusWord::SecurityStatusNotSatisfied => 0x6982,
            StatusWord::AuthenticationBlocked => 0x6983,
            StatusWord::ReferenceDataNotUsable => 0x6984,
            StatusWord::ConditionsNotSatisfied => 0x6985,
            StatusWord::IncorrectData => 0x6A80,
            StatusWord::FunctionNotSupported => 0x6A81,
            StatusWord::NotFound => 0x6A82,
            StatusWord::NotEnoughMemory => 0x6A84,
            StatusWord::IncorrectP1P2 => 0x6A86,
            StatusWord::ReferencedDataNotFound => 0x6A88,
            StatusWord::WrongLe(n) => 0x6C00 | u16::from(n),
            StatusWord::InsNotSupported => 0x6D00,
            StatusWord::ClaNotSupported => 0x6E00,
            StatusWord::Unknown => 0x6F00,
            StatusWord::Other(v) => v,
        }
    }
}

impl StatusWord {
    pub fn to_bytes(self) -> [u8; 2] {
        u16::from(self).to_be_bytes()
    }
}

impl core::fmt::Display for StatusWord {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{:04X}", u16::from(*self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips() {
        for v in 0..=u16::MAX {
            assert_eq!(u16::from(StatusWord::from(v)), v, "{v:04X}");
        }
    }

    #[test]
    fn tries_left_is_decoded() {
        assert_eq!(
            StatusWord::from(0x63C2),
            StatusWord::VerifyFailed { tries_left: 2 }
        );
        assert_eq!(StatusWord::from(0x6300), StatusWord::Other(0x6300));
    }
}
