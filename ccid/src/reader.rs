//! A CCID reader driven over a [`Transport`], implementing [`Card`] (CCID rev 1.1).

use crate::card::{Card, CardError};
use crate::msg::{
    self, chain, pc_to_rdr, rdr_to_pc, ClassDescriptor, CommandStatus, ExchangeLevel, IccStatus,
    Interrupt,
};
use crate::transport::Transport;

/// Replies with another bSeq are dropped, at most this many per command.
pub const MAX_STALE_REPLIES: usize = 16;
/// Time-extension replies waited through per command (each is one block waiting time).
pub const MAX_TIME_EXTENSIONS: usize = 600;
/// Empty bulk-IN transfers (zero-length packets) tolerated while reading one message.
const MAX_EMPTY_READS: usize = 4;
/// Response parts fetched at the extended APDU level (64 KiB + SW in the smallest messages).
const MAX_RESPONSE_PARTS: usize = 2048;

/// A reply from the reader, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub msg_type: u8,
    pub seq: u8,
    pub status: u8,
    pub error: u8,
    pub chain: u8,
    pub data: Vec<u8>,
}

pub struct CcidReader<T> {
    transport: T,
    desc: ClassDescriptor,
    slot: u8,
    seq: u8,
    atr: Option<Vec<u8>>,
}

impl<T: Transport> CcidReader<T> {
    /// Wraps a transport; refuses readers whose exchange level this host does not drive.
    pub fn new(transport: T, desc: ClassDescriptor) -> Result<Self, CardError> {
        match desc.exchange_level() {
            ExchangeLevel::ShortApdu | ExchangeLevel::ExtendedApdu => {}
            ExchangeLevel::Tpdu => {
                return Err(CardError::UnsupportedReader(
                    "TPDU-level reader (T=1 block framing is not implemented)",
                ))
            }
            ExchangeLevel::Character => {
                return Err(CardError::UnsupportedReader("character-level reader"))
            }
        }
        Ok(Self {
            transport,
            desc,
            slot: 0,
            seq: 0,
            atr: None,
        })
    }

    pub fn descriptor(&self) -> &ClassDescriptor {
        &self.desc
    }

    pub fn atr(&self) -> Option<&[u8]> {
        self.atr.as_deref()
    }

    pub fn transport_mut(&mut self) -> &mut T {
        &mut self.transport
    }

    pub fn into_transport(self) -> T {
        self.transport
    }

    /// Powers the card on and returns its ATR.
    pub async fn power_on(&mut self) -> Result<Vec<u8>, CardError> {
        let reply = self
            .command(pc_to_rdr::ICC_POWER_ON, [0, 0, 0], &[])
            .await?;
        self.atr = Some(reply.data.clone());
        Ok(reply.data)
    }

    pub async fn power_off(&mut self) -> Result<(), CardError> {
        self.atr = None;
        self.command(pc_to_rdr::ICC_POWER_OFF, [0, 0, 0], &[])
            .await
            .map(drop)
    }

    /// Whether a card is present (and powered).
    pub async fn slot_status(&mut self) -> Result<IccStatus, CardError> {
        match self
            .command(pc_to_rdr::GET_SLOT_STATUS, [0, 0, 0], &[])
            .await
        {
            Ok(r) => Ok(msg::icc_status(r.status)),
            Err(CardError::NoCard | CardError::Removed) => Ok(IccStatus::Absent),
            Err(e) => Err(e),
        }
    }

    /// Aborts the command in progress (CCID §5.3.1: control request, then PC_to_RDR_Abort).
    pub async fn abort(&mut self) -> Result<(), CardError> {
        let seq = self.seq;
        self.transport.control_abort(self.slot, seq).await?;
        self.command(pc_to_rdr::ABORT, [0, 0, 0], &[])
            .await
            .map(drop)
    }

    /// Waits for the next slot-change notification and tells whether a card is now present.
    pub async fn wait_slot_change(&mut self) -> Result<bool, CardError> {
        loop {
            let buf = self.transport.recv_interrupt().await?;
            match msg::parse_interrupt(&buf) {
                Ok(Interrupt::SlotChange(slots)) => {
                    if let Some(&(present, changed)) = slots.get(usize::from(self.slot)) {
                        if changed {
                            if !present {
                                self.atr = None;
                            }
                            return Ok(present);
                        }
                    }
                }
                Ok(Interrupt::HardwareError { code, .. }) => {
                    return Err(CardError::Slot {
                        code,
                        text: "hardware error",
                    })
                }
                Err(e) => return Err(CardError::Malformed(e.to_string())),
            }
        }
    }

    /// Sends one PC_to_RDR message and returns the matching reply, waiting through time
    /// extensions and dropping stale replies (both bounded).
    async fn command(
        &mut self,
        msg_type: u8,
        specific: [u8; 3],
        data: &[u8],
    ) -> Result<Reply, CardError> {
        let seq = self.seq;
        self.seq = self.seq.wrapping_add(1);
        let out = msg::encode(msg_type, self.slot, seq, specific, data);
        if out.len() > self.desc.max_message_len as usize {
            return Err(CardError::Malformed(format!(
                "message of {} bytes exceeds the reader's maximum",
                out.len()
            )));
        }
        self.transport.send(&out).await?;
        let (mut stale, mut extensions) = (0, 0);
        loop {
            let reply = self.read_reply().await?;
            if reply.seq != seq {
                stale += 1;
                if stale > MAX_STALE_REPLIES {
                    return Err(CardError::Malformed(
                        "too many replies to earlier commands".into(),
                    ));
                }
                continue;
            }
            match msg::command_status(reply.status) {
                CommandStatus::TimeExtension => {
                    extensions += 1;
                    if extensions > MAX_TIME_EXTENSIONS {
                        return Err(CardError::TooManyTimeExtensions(MAX_TIME_EXTENSIONS));
                    }
                }
                CommandStatus::Ok => return Ok(reply),
                CommandStatus::Failed => {
                    return Err(match msg::icc_status(reply.status) {
                        IccStatus::Absent if self.atr.is_some() => {
                            self.atr = None;
                            CardError::Removed
                        }
                        IccStatus::Absent => CardError::NoCard,
                        _ => CardError::Slot {
                            code: reply.error,
                            text: msg::slot_error_text(reply.error),
                        },
                    });
                }
                CommandStatus::Reserved => {
                    return Err(CardError::Malformed("reserved bmCommandStatus".into()))
                }
            }
        }
    }

    /// Reads one whole RDR_to_PC message, reassembling it from bulk-IN transfers.
    async fn read_reply(&mut self) -> Result<Reply, CardError> {
        let max = self.desc.max_message_len as usize;
        let mut buf = Vec::new();
        let mut empty = 0;
        loop {
            let part = self.transport.recv(max - buf.len()).await?;
            if part.is_empty() {
                // A zero-length packet that ended an earlier message: skip a few.
                empty += 1;
                if empty > MAX_EMPTY_READS {
                    return Err(CardError::Malformed("empty transfers".into()));
                }
                continue;
            }
            buf.extend_from_slice(&part);
            if let Some(total) = msg::expected_len(&buf) {
                if total > max {
                    return Err(CardError::Malformed(format!(
                        "reply of {total} bytes exceeds the reader's maximum"
                    )));
                }
                if buf.len() >= total {
                    break;
                }
            }
            if buf.len() >= max {
                break;
            }
        }
        let m = msg::parse(&buf).map_err(|e| CardError::Malformed(e.to_string()))?;
        if !matches!(
            m.msg_type,
            rdr_to_pc::DATA_BLOCK | rdr_to_pc::SLOT_STATUS | rdr_to_pc::PARAMETERS
        ) {
            return Err(CardError::Malformed(format!(
                "unexpected message type {:#04X}",
                m.msg_type
            )));
        }
        Ok(Reply {
            msg_type: m.msg_type,
            seq: m.seq,
            status: m.specific[0],
            error: m.specific[1],
            chain: m.specific[2],
            data: m.data.to_vec(),
        })
    }

    async fn xfr(&mut self, level: u16, data: &[u8]) -> Result<Reply, CardError> {
        let [lo, hi] = level.to_le_bytes();
        let reply = self
            .command(pc_to_rdr::XFR_BLOCK, [0, lo, hi], data)
            .await?;
        if reply.msg_type != rdr_to_pc::DATA_BLOCK {
            return Err(CardError::Malformed(
                "XfrBlock answered without a data block".into(),
            ));
        }
        Ok(reply)
    }
}

impl<T: Transport> Card for CcidReader<T> {
    async fn transmit_raw(&mut self, apdu: &[u8]) -> Result<Vec<u8>, CardError> {
        if self.atr.is_none() {
            self.power_on().await?;
        }
        let room = self.desc.max_message_len as usize - msg::HEADER_LEN;
        let extended = self.desc.exchange_level() == ExchangeLevel::ExtendedApdu;
        let mut reply = if apdu.len() <= room {
            self.xfr(chain::BEGINS_AND_ENDS, apdu).await?
        } else if !extended {
            return Err(CardError::Malformed(
                "APDU larger than the reader accepts".into(),
            ));
        } else {
            // Command chaining at the extended APDU level (§6.1.4): 1, 3, 3, …, 2.
            let mut parts = apdu.chunks(room).peekable();
            let mut level = chain::BEGINS;
            loop {
                let Some(part) = parts.next() else {
                    return Err(CardError::Malformed("empty APDU".into()));
                };
                if parts.peek().is_none() {
                    break self.xfr(chain::ENDS, part).await?;
                }
                let r = self.xfr(level, part).await?;
                if u16::from(r.chain) != chain::CONTINUE_RESPONSE || !r.data.is_empty() {
                    return Err(CardError::Malformed(
                        "reader did not ask for the next command part".into(),
                    ));
                }
                level = chain::CONTINUES;
            }
        };
        let mut out = std::mem::take(&mut reply.data);
        let mut parts = 0;
        while matches!(u16::from(reply.chain), chain::BEGINS | chain::CONTINUES) {
            parts += 1;
            if parts > MAX_RESPONSE_PARTS {
                return Err(CardError::ResponseTooLong);
            }
            reply = self.xfr(chain::CONTINUE_RESPONSE, &[]).await?;
            out.extend_from_slice(&reply.data);
        }
        if !matches!(u16::from(reply.chain), chain::BEGINS_AND_ENDS | chain::ENDS) {
            return Err(CardError::Malformed(format!(
                "bChainParameter {:#04X}",
                reply.chain
            )));
        }
        Ok(out)
    }

    fn extended_apdus(&self) -> bool {
        self.desc.exchange_level() == ExchangeLevel::ExtendedApdu
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::TransportError;
    use proptest::prelude::*;
    use std::collections::VecDeque;

    /// A reader that answers with whatever bytes it is given, then goes silent.
    struct Scripted(VecDeque<Vec<u8>>);

    impl Transport for Scripted {
        async fn send(&mut self, _: &[u8]) -> Result<(), TransportError> {
            Ok(())
        }
        async fn recv(&mut self, max: usize) -> Result<Vec<u8>, TransportError> {
            let mut next = self.0.pop_front().ok_or(TransportError::Timeout)?;
            next.truncate(max);
            Ok(next)
        }
        async fn recv_interrupt(&mut self) -> Result<Vec<u8>, TransportError> {
            self.0.pop_front().ok_or(TransportError::Timeout)
        }
        async fn control_abort(&mut self, _: u8, _: u8) -> Result<(), TransportError> {
            Ok(())
        }
    }

    fn desc() -> ClassDescriptor {
        ClassDescriptor {
            bcd_ccid: 0x110,
            max_slot_index: 0,
            protocols: 2,
            features: 0x0004_00FE,
            max_message_len: 271,
            max_ifsd: 254,
        }
    }

    /// Replies that look like RDR_to_PC messages with random fields, to get past the framing.
    fn reply() -> impl Strategy<Value = Vec<u8>> {
        (
            prop_oneof![Just(0x80u8), Just(0x81), any::<u8>()],
            0u8..3,
            any::<[u8; 3]>(),
            proptest::collection::vec(any::<u8>(), 0..40),
            any::<bool>(),
        )
            .prop_map(|(t, seq, spec, data, honest)| {
                let mut m = msg::encode(t, 0, seq, spec, &data);
                if !honest {
                    m.truncate(m.len() / 2 + 1);
                }
                m
            })
    }

    proptest! {
        #[test]
        fn random_replies_never_panic_or_hang(replies in proptest::collection::vec(reply(), 0..40)) {
            let mut r = CcidReader::new(Scripted(replies.into()), desc()).unwrap();
            let _ = pollster::block_on(async {
                let _ = r.power_on().await;
                let _ = r.wait_slot_change().await;
                crate::card::transmit(&mut r, &crate::apdu::Command::new(0, 0xCB, 0x3F, 0xFF).le(256)).await
            });
        }
    }

    #[test]
    fn endless_time_extensions_end() {
        let ext: VecDeque<Vec<u8>> = (0..MAX_TIME_EXTENSIONS + 5)
            .map(|_| msg::encode(0x80, 0, 0, [0x80, 1, 0], &[]))
            .collect();
        let mut r = CcidReader::new(Scripted(ext), desc()).unwrap();
        assert_eq!(
            pollster::block_on(r.power_on()),
            Err(CardError::TooManyTimeExtensions(MAX_TIME_EXTENSIONS))
        );
    }

    #[test]
    fn endless_response_chains_end() {
        // Every reply says "more follows"; the host gives up after a bounded number of parts.
        let mut replies: VecDeque<Vec<u8>> = VecDeque::new();
        replies.push_back(msg::encode(0x80, 0, 0, [0, 0, 0], &[0x3B]));
        for seq in 1..=(MAX_RESPONSE_PARTS as u32 + 3) {
            replies.push_back(msg::encode(
                0x80,
                0,
                seq as u8,
                [0, 0, chain::CONTINUES as u8],
                &[0; 8],
            ));
        }
        let mut r = CcidReader::new(Scripted(replies), desc()).unwrap();
        let got = pollster::block_on(async {
            r.power_on().await.unwrap();
            r.transmit_raw(&[0, 0xCB, 0x3F, 0xFF, 0]).await
        });
        assert!(matches!(got, Err(CardError::ResponseTooLong)), "{got:?}");
    }
}
