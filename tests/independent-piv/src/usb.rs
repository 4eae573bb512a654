//! A USB device in memory: usbd-ccid + apdu-dispatch + an application, on mock-usb-bus, polled on
//! the calling thread while the host code runs on another and talks to it through the bulk pipes.

use std::thread;
use std::time::Duration;

use apdu_dispatch::dispatch::ApduDispatch;
use apdu_dispatch::App;
use ccid::transport::{Transport, TransportError};
use crossbeam::channel::{Receiver, RecvTimeoutError, Sender};
use mock_usb_bus::{Bus, EndpointType, UsbDirection};
use usb_device::bus::UsbBusAllocator;
use usb_device::device::{UsbDeviceBuilder, UsbVidPid};
use usbd_ccid::{Ccid, Status};

/// Full-speed bulk packets.
pub const PACKET: usize = 64;

/// The CCID class descriptor usbd-ccid reports (as a Nitrokey 3 does): single slot, T=1,
/// dwFeatures 0x00040840 (short and extended APDU level), dwMaxCCIDMessageLength 3072.
/// mock-usb-bus cannot carry control transfers, so the host reads it from here.
pub const NITROKEY3_CCID_DESCRIPTOR: [u8; 54] = [
    0x36, 0x21, 0x10, 0x01, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0xFC, 0x0D, 0x00, 0x00, 0xFC, 0x0D,
    0x00, 0x00, 0x00, 0x80, 0x25, 0x00, 0x00, 0x80, 0x25, 0x00, 0x00, 0x00, 0xFE, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x40, 0x08, 0x04, 0x00, 0x00, 0x0C, 0x00, 0x00,
    0xFF, 0xFF, 0x00, 0x00, 0x00, 0x01,
];

/// How long the host waits for one packet before calling the device dead.
const PACKET_TIMEOUT: Duration = Duration::from_secs(30);

/// The host's end of the bulk pipes, with what crossed them.
pub struct UsbPipes {
    out: Sender<Vec<u8>>,
    inp: Receiver<Vec<u8>>,
    /// Bulk-IN packets received, of them zero-length ones, and time-extension replies.
    pub packets_in: usize,
    pub zero_length_packets: usize,
    pub time_extensions: usize,
    /// Reply messages whose bChainParameter said more parts follow (CCID-level response chaining).
    pub chained_replies: usize,
    /// Command APDUs sent with the chaining bit (CLA 0x10), and GET RESPONSE commands.
    pub chained_commands: usize,
    pub get_responses: usize,
    pub bytes_out: usize,
}

impl std::fmt::Display for UsbPipes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} bytes out ({} chained commands, {} GET RESPONSE); {} packets in ({} zero-length, \
             {} time extensions, {} chained replies)",
            self.bytes_out,
            self.chained_commands,
            self.get_responses,
            self.packets_in,
            self.zero_length_packets,
            self.time_extensions,
            self.chained_replies
        )
    }
}

impl Transport for UsbPipes {
    async fn send(&mut self, data: &[u8]) -> Result<(), TransportError> {
        self.bytes_out += data.len();
        if data.len() >= 12 && data[0] == 0x6F {
            let apdu = &data[10..];
            self.chained_commands += usize::from(apdu[0] & 0x10 != 0);
            self.get_responses += usize::from(apdu[1] == 0xC0);
        }
        // A bulk-OUT transfer: full packets, then the rest. The CCID header gives the length, so
        // no zero-length packet follows a message that fills whole packets.
        for packet in data.chunks(PACKET) {
            self.out
                .send_timeout(packet.to_vec(), PACKET_TIMEOUT)
                .map_err(|_| TransportError::Disconnected)?;
        }
        Ok(())
    }

    async fn recv(&mut self, max: usize) -> Result<Vec<u8>, TransportError> {
        // A bulk-IN transfer ends at a short (or zero-length) packet or after `max` bytes.
        let mut buf = Vec::new();
        loop {
            let packet = match self.inp.recv_timeout(PACKET_TIMEOUT) {
                Ok(p) => p,
                Err(RecvTimeoutError::Timeout) => return Err(TransportError::Timeout),
                Err(RecvTimeoutError::Disconnected) => return Err(TransportError::Disconnected),
            };
            self.packets_in += 1;
            if packet.is_empty() {
                self.zero_length_packets += 1;
            }
            if buf.is_empty() && packet.len() >= 10 && packet[0] == 0x80 {
                if packet[7] >> 6 == 2 {
                    self.time_extensions += 1;
                } else if matches!(packet[9], 0x01 | 0x03) {
                    self.chained_replies += 1;
                }
            }
            let short = packet.len() < PACKET;
            buf.extend_from_slice(&packet);
            if short || buf.len() >= max {
                return Ok(buf);
            }
        }
    }

    async fn recv_interrupt(&mut self) -> Result<Vec<u8>, TransportError> {
        // usbd-ccid has no interrupt endpoint (see its class constructor).
        Err(TransportError::Io("no interrupt endpoint".into()))
    }

    async fn control_abort(&mut self, _slot: u8, _seq: u8) -> Result<(), TransportError> {
        Err(TransportError::Io(
            "mock-usb-bus carries no control transfers".into(),
        ))
    }
}

/// Builds the device around `app`, runs `host` on its own thread with the pipes, and polls the
/// device until `host` returns. With `time_extension`, the device asks for more time (a CCID time
/// extension reply) at the start of every command, as firmware does for slow operations.
pub fn with_usb_device<A, R>(
    app: &mut A,
    time_extension: bool,
    host: impl FnOnce(UsbPipes) -> R + Send,
) -> R
where
    A: App,
    R: Send,
{
    let bus = UsbBusAllocator::new(Bus::new());
    let contact = interchange::Channel::new();
    let contactless = interchange::Channel::new();
    let (requester, responder) = contact.split().unwrap();
    let mut ccid: Ccid<'_, '_, _, 3072> = Ccid::new(&bus, requester, None);
    let mut dispatch = ApduDispatch::new(responder, contactless.split().unwrap().1);
    let mut device = UsbDeviceBuilder::new(&bus, UsbVidPid(0x20A0, 0x42B2)).build();

    let bulk = |dir| {
        device
            .bus()
            .endpoints()
            .find(|e| e.ty == EndpointType::Bulk && e.address.direction() == dir)
            .unwrap()
            .address
    };
    let pipes = UsbPipes {
        out: device.bus().endpoint_tx(bulk(UsbDirection::Out)).unwrap(),
        inp: device.bus().endpoint_rx(bulk(UsbDirection::In)).unwrap(),
        packets_in: 0,
        zero_length_packets: 0,
        time_extensions: 0,
        chained_replies: 0,
        chained_commands: 0,
        get_responses: 0,
        bytes_out: 0,
    };

    thread::scope(|s| {
        let host = s.spawn(move || host(pipes));
        while !host.is_finished() {
            ccid.check_for_app_response();
            device.poll(&mut [&mut ccid]);
            if time_extension && matches!(ccid.did_start_processing(), Status::ReceivedData(_)) {
                ccid.send_wait_extension();
            }
            dispatch.poll(&mut [app as &mut dyn App]);
            thread::sleep(Duration::from_micros(50));
        }
        host.join().unwrap()
    })
}
