//! The token behind a CCID slot (device side of USB CCID rev 1.1), reachable through the host's
//! [`Transport`] so that the host CCID code runs exactly as it does over WebUSB.

use crate::applet::PivApplet;
use crate::ATR;
use ccid::msg::{self, chain, pc_to_rdr, rdr_to_pc, ClassDescriptor};
use ccid::transport::{Transport, TransportError};
use std::collections::VecDeque;

/// Full-speed bulk packet size.
pub const PACKET: usize = 64;

/// Faults a test can make the reader produce.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// Time-extension replies sent before each data block.
    pub time_extensions: usize,
    /// Replies with an old bSeq sent before each real reply.
    pub stale_replies: usize,
    /// Pull the card out when the next XfrBlock arrives (it is not executed).
    pub remove_on_next_xfr: bool,
}

pub struct VirtualReader {
    pub applet: PivApplet,
    desc: ClassDescriptor,
    present: bool,
    powered: bool,
    pub faults: Faults,
    /// Whole messages waiting for bulk-IN, and how far the current one has been read.
    out: VecDeque<Vec<u8>>,
    read_pos: usize,
    zlp_due: bool,
    interrupts: VecDeque<Vec<u8>>,
    command_chain: Vec<u8>,
    response_chain: VecDeque<Vec<u8>>,
    last_seq: u8,
    /// Bulk transfers seen, for the traffic benchmark.
    pub transfers: u64,
}

impl VirtualReader {
    /// A reader at the extended APDU exchange level, as a YubiKey 5 describes itself.
    pub fn new(applet: PivApplet) -> Self {
        Self::with_descriptor(
            applet,
            ClassDescriptor {
                bcd_ccid: 0x0110,
                max_slot_index: 0,
                protocols: 2,
                features: 0x0004_00FE,
                max_message_len: 3072,
                max_ifsd: 254,
            },
        )
    }

    pub fn with_descriptor(applet: PivApplet, desc: ClassDescriptor) -> Self {
        Self {
            applet,
            desc,
            present: true,
            powered: false,
            faults: Faults::default(),
            out: VecDeque::new(),
            read_pos: 0,
            zlp_due: false,
            interrupts: VecDeque::new(),
            command_chain: Vec::new(),
            response_chain: VecDeque::new(),
            last_seq: 0,
            transfers: 0,
        }
    }

    pub fn descriptor(&self) -> &ClassDescriptor {
        &self.desc
    }

    /// Takes the card out: the applet loses its session, the host gets NotifySlotChange.
    pub fn remove_card(&mut self) {
        self.present = false;
        self.powered = false;
        self.applet.power_cycle();
        self.interrupts
            .push_back(vec![rdr_to_pc::NOTIFY_SLOT_CHANGE, 0b10]);
    }

    pub fn insert_card(&mut self) {
        self.present = true;
        self.interrupts
            .push_back(vec![rdr_to_pc::NOTIFY_SLOT_CHANGE, 0b11]);
    }

    fn icc_status(&self) -> u8 {
        match (self.present, self.powered) {
            (false, _) => 2,
            (true, false) => 1,
            (true, true) => 0,
        }
    }

    fn reply(
        &mut self,
        msg_type: u8,
        seq: u8,
        status: u8,
        error: u8,
        chain_param: u8,
        data: &[u8],
    ) {
        for i in 0..self.faults.stale_replies {
            let stale = self.last_seq.wrapping_sub(1 + i as u8);
            self.out.push_back(msg::encode(
                msg_type,
                0,
                stale,
                [self.icc_status(), 0, 0],
                &[],
            ));
        }
        self.out.push_back(msg::encode(
            msg_type,
            0,
            seq,
            [status, error, chain_param],
            data,
        ));
    }

    fn failed(&mut self, msg_type: u8, seq: u8, error: u8) {
        let status = 0x40 | self.icc_status();
        self.reply(msg_type, seq, status, error, 0, &[]);
    }

    fn handle(&mut self, buf: &[u8]) {
        let Ok(m) = msg::parse(buf) else {
            // A malformed message cannot be answered by bSeq; real readers stall. Answer with
            // seq from the header when there is one, so the host sees an error, not silence.
            if let Some(&seq) = buf.get(6) {
                self.failed(rdr_to_pc::SLOT_STATUS, seq, 0x01);
            }
            return;
        };
        self.last_seq = m.seq;
        if m.slot > self.desc.max_slot_index {
            return self.failed(rdr_to_pc::SLOT_STATUS, m.seq, 0x05);
        }
        match m.msg_type {
            pc_to_rdr::ICC_POWER_ON => {
                if !self.present {
                    return self.failed(rdr_to_pc::DATA_BLOCK, m.seq, 0xFE);
                }
                self.powered = true;
                self.applet.power_cycle();
                self.command_chain.clear();
                self.response_chain.clear();
                self.reply(rdr_to_pc::DATA_BLOCK, m.seq, 0, 0, 0, &ATR);
            }
            pc_to_rdr::ICC_POWER_OFF => {
                self.powered = false;
                self.applet.power_cycle();
                let s = self.icc_status();
                self.reply(rdr_to_pc::SLOT_STATUS, m.seq, s, 0, 0, &[]);
            }
            pc_to_rdr::GET_SLOT_STATUS => {
                let s = self.icc_status();
                self.reply(rdr_to_pc::SLOT_STATUS, m.seq, s, 0, 0, &[]);
            }
            pc_to_rdr::GET_PARAMETERS => {
                if !self.present {
                    return self.failed(rdr_to_pc::PARAMETERS, m.seq, 0xFE);
                }
                // T=1 parameters (§6.2.3): Fi/Di, TCCKS, guard time, BWI/CWI, clock stop, IFSC, NAD.
                let s = self.icc_status();
                self.reply(
                    rdr_to_pc::PARAMETERS,
                    m.seq,
                    s,
                    0,
                    1,
                    &[0x11, 0x10, 0x00, 0x45, 0x00, 0xFE, 0x00],
                );
            }
            pc_to_rdr::ABORT => {
                self.command_chain.clear();
                self.response_chain.clear();
                let s = self.icc_status();
                self.reply(rdr_to_pc::SLOT_STATUS, m.seq, s, 0, 0, &[]);
            }
            pc_to_rdr::XFR_BLOCK => self.xfr(
                m.seq,
                u16::from_le_bytes([m.specific[1], m.specific[2]]),
                m.data,
            ),
            _ => self.failed(rdr_to_pc::SLOT_STATUS, m.seq, 0x00),
        }
    }

    fn xfr(&mut self, seq: u8, level: u16, data: &[u8]) {
        if std::mem::take(&mut self.faults.remove_on_next_xfr) {
            self.remove_card();
        }
        if !self.present || !self.powered {
            return self.failed(rdr_to_pc::DATA_BLOCK, seq, 0xFE);
        }
        let room = self.desc.max_message_len as usize - msg::HEADER_LEN;
        match level {
            chain::CONTINUE_RESPONSE => {
                let Some(part) = self.response_chain.pop_front() else {
                    return self.failed(rdr_to_pc::DATA_BLOCK, seq, 0x08);
                };
                let param = if self.response_chain.is_empty() {
                    chain::ENDS
                } else {
                    chain::CONTINUES
                };
                return self.reply(rdr_to_pc::DATA_BLOCK, seq, 0, 0, param as u8, &part);
            }
            chain::BEGINS | chain::CONTINUES => {
                if level == chain::BEGINS {
                    self.command_chain.clear();
                }
                if self.command_chain.len() + data.len() > 70_000 {
                    self.command_chain.clear();
                    return self.failed(rdr_to_pc::DATA_BLOCK, seq, 0x08);
                }
                self.command_chain.extend_from_slice(data);
                return self.reply(
                    rdr_to_pc::DATA_BLOCK,
                    seq,
                    0,
                    0,
                    chain::CONTINUE_RESPONSE as u8,
                    &[],
                );
            }
            chain::ENDS | chain::BEGINS_AND_ENDS => {}
            _ => return self.failed(rdr_to_pc::DATA_BLOCK, seq, 0x08),
        }
        let mut apdu = std::mem::take(&mut self.command_chain);
        if level == chain::BEGINS_AND_ENDS {
            apdu.clear();
        }
        apdu.extend_from_slice(data);
        for _ in 0..self.faults.time_extensions {
            self.out.push_back(msg::encode(
                rdr_to_pc::DATA_BLOCK,
                0,
                seq,
                [0x80, 1, 0],
                &[],
            ));
        }
        let resp = self.applet.process(&apdu);
        if resp.len() <= room {
            return self.reply(rdr_to_pc::DATA_BLOCK, seq, 0, 0, 0, &resp);
        }
        let mut parts: VecDeque<Vec<u8>> = resp.chunks(room).map(<[u8]>::to_vec).collect();
        let first = parts.pop_front().unwrap_or_default();
        self.response_chain = parts;
        self.reply(
            rdr_to_pc::DATA_BLOCK,
            seq,
            0,
            0,
            chain::BEGINS as u8,
            &first,
        );
    }
}

impl Transport for VirtualReader {
    async fn send(&mut self, data: &[u8]) -> Result<(), TransportError> {
        self.transfers += 1;
        self.handle(data);
        Ok(())
    }

    /// Like a USB device: a transfer ends at a short packet; a message that fills whole packets
    /// is followed by a zero-length packet.
    async fn recv(&mut self, max: usize) -> Result<Vec<u8>, TransportError> {
        self.transfers += 1;
        if self.zlp_due {
            self.zlp_due = false;
            return Ok(Vec::new());
        }
        let Some(current) = self.out.front() else {
            return Err(TransportError::Timeout);
        };
        let room = (max / PACKET).max(1) * PACKET;
        let end = (self.read_pos + room).min(current.len());
        let part = current[self.read_pos..end].to_vec();
        if end == current.len() {
            self.zlp_due = current.len() % PACKET == 0;
            self.out.pop_front();
            self.read_pos = 0;
        } else {
            self.read_pos = end;
        }
        Ok(part)
    }

    async fn recv_interrupt(&mut self) -> Result<Vec<u8>, TransportError> {
        self.interrupts.pop_front().ok_or(TransportError::Timeout)
    }

    async fn control_abort(&mut self, _slot: u8, _seq: u8) -> Result<(), TransportError> {
        self.command_chain.clear();
        self.response_chain.clear();
        Ok(())
    }
}
