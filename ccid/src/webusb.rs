//! WebUSB transport (browser only). Finds the CCID interface and its endpoints from the device's
//! descriptors, and maps browser refusals to errors a user can act on.

use crate::msg::ClassDescriptor;
use crate::transport::{Transport, TransportError};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{
    UsbControlTransferParameters, UsbDevice, UsbDirection, UsbEndpointType, UsbRecipient,
    UsbRequestType, UsbTransferStatus,
};

/// USB interface classes a CCID function uses: smart card (protected in Chromium) and vendor.
pub const CLASS_SMART_CARD: u8 = 0x0B;
pub const CLASS_VENDOR: u8 = 0xFF;

pub struct WebUsb {
    device: UsbDevice,
    interface: u8,
    ep_in: u8,
    ep_out: u8,
    ep_int: Option<u8>,
}

/// Maps a rejected WebUSB promise to a transport error (WebUSB spec §6; Chromium's messages).
fn js_error(e: JsValue, during: &str) -> TransportError {
    let name = e
        .dyn_ref::<web_sys::DomException>()
        .map(|d| d.name())
        .unwrap_or_default();
    let message = e
        .dyn_ref::<web_sys::DomException>()
        .map(|d| d.message())
        .unwrap_or_else(|| format!("{e:?}"));
    match name.as_str() {
        // claimInterface on a protected class (smart card 0x0B) from an ordinary page.
        "SecurityError" => TransportError::ProtectedClass,
        // open()/claimInterface() fail this way when an OS driver holds the device.
        "NetworkError" | "InvalidStateError" if during != "transfer" => {
            TransportError::Busy(message)
        }
        "NotFoundError" => TransportError::Disconnected,
        "NetworkError" => TransportError::Disconnected,
        _ => TransportError::Io(format!("{during}: {name} {message}")),
    }
}

fn status_ok(status: UsbTransferStatus) -> Result<(), TransportError> {
    match status {
        UsbTransferStatus::Ok => Ok(()),
        UsbTransferStatus::Stall => Err(TransportError::Stall),
        _ => Err(TransportError::Io("babble".into())),
    }
}

impl WebUsb {
    /// Opens the device, finds its CCID interface (smart-card or vendor class carrying a CCID
    /// class descriptor), claims it and returns the transport with the class descriptor.
    pub async fn open(device: UsbDevice) -> Result<(Self, ClassDescriptor), TransportError> {
        if !device.opened() {
            device.open().await.map_err(|e| js_error(e, "open"))?;
        }
        if device.configuration().is_none() {
            device
                .select_configuration(1)
                .await
                .map_err(|e| js_error(e, "open"))?;
        }
        let config = device
            .configuration()
            .ok_or(TransportError::NoCcidInterface)?;
        // The class descriptor is only in the raw configuration descriptor: GET_DESCRIPTOR.
        let setup = UsbControlTransferParameters::new(
            0,
            UsbRecipient::Device,
            6,
            UsbRequestType::Standard,
            0x0200,
        );
        let raw = device
            .control_transfer_in(&setup, 1024)
            .await
            .map_err(|e| js_error(e, "open"))?;
        status_ok(raw.status())?;
        let raw = in_data(&raw);
        let desc = ClassDescriptor::find_in_configuration(&raw)
            .map_err(|_| TransportError::NoCcidInterface)?;
        let mut found = None;
        for iface in config.interfaces().iter() {
            let alt = iface.alternate();
            if !matches!(alt.interface_class(), CLASS_SMART_CARD | CLASS_VENDOR) {
                continue;
            }
            let (mut ep_in, mut ep_out, mut ep_int) = (None, None, None);
            for ep in alt.endpoints().iter() {
                match (ep.type_(), ep.direction()) {
                    (UsbEndpointType::Bulk, UsbDirection::In) => ep_in = Some(ep.endpoint_number()),
                    (UsbEndpointType::Bulk, UsbDirection::Out) => {
                        ep_out = Some(ep.endpoint_number())
                    }
                    (UsbEndpointType::Interrupt, UsbDirection::In) => {
                        ep_int = Some(ep.endpoint_number())
                    }
                    _ => {}
                }
            }
            if let (Some(i), Some(o)) = (ep_in, ep_out) {
                found = Some((iface.interface_number(), i, o, ep_int));
                break;
            }
        }
        let (interface, ep_in, ep_out, ep_int) = found.ok_or(TransportError::NoCcidInterface)?;
        device
            .claim_interface(interface)
            .await
            .map_err(|e| js_error(e, "claim"))?;
        Ok((
            Self {
                device,
                interface,
                ep_in,
                ep_out,
                ep_int,
            },
            desc,
        ))
    }

    pub fn device(&self) -> &UsbDevice {
        &self.device
    }
}

fn in_data(r: &web_sys::UsbInTransferResult) -> Vec<u8> {
    // Copy out of the DataView at once; the buffer belongs to the browser.
    r.data()
        .map(|d| {
            js_sys::Uint8Array::new_with_byte_offset_and_length(
                &d.buffer(),
                d.byte_offset() as u32,
                d.byte_length() as u32,
            )
            .to_vec()
        })
        .unwrap_or_default()
}

impl Transport for WebUsb {
    async fn send(&mut self, data: &[u8]) -> Result<(), TransportError> {
        // A JS-owned copy: the browser may read the buffer after this call returns.
        let copy = js_sys::Uint8Array::from(data);
        let p = self
            .device
            .transfer_out_with_buffer_source(self.ep_out, &copy)
            .map_err(|e| js_error(e, "transfer"))?;
        let r = p.await.map_err(|e| js_error(e, "transfer"))?;
        status_ok(r.status())
    }

    async fn recv(&mut self, max: usize) -> Result<Vec<u8>, TransportError> {
        let r = self
            .device
            .transfer_in(self.ep_in, max as u32)
            .await
            .map_err(|e| js_error(e, "transfer"))?;
        status_ok(r.status())?;
        Ok(in_data(&r))
    }

    async fn recv_interrupt(&mut self) -> Result<Vec<u8>, TransportError> {
        let ep = self
            .ep_int
            .ok_or(TransportError::Io("no interrupt endpoint".into()))?;
        let r = self
            .device
            .transfer_in(ep, 8)
            .await
            .map_err(|e| js_error(e, "transfer"))?;
        status_ok(r.status())?;
        Ok(in_data(&r))
    }

    async fn control_abort(&mut self, slot: u8, seq: u8) -> Result<(), TransportError> {
        let value = (u16::from(seq) << 8) | u16::from(slot);
        let setup = UsbControlTransferParameters::new(
            u16::from(self.interface),
            UsbRecipient::Interface,
            0x01,
            UsbRequestType::Class,
            value,
        );
        let r = self
            .device
            .control_transfer_out(&setup)
            .await
            .map_err(|e| js_error(e, "transfer"))?;
        status_ok(r.status())
    }
}
