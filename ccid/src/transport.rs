//! The `Transport` seam: whole CCID messages over a USB bulk pipe pair (and the interrupt pipe).

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    #[error("the device was disconnected")]
    Disconnected,
    #[error("the browser refuses access to this device's smart-card interface (protected class)")]
    ProtectedClass,
    #[error("the device is in use by another program or an operating-system driver: {0}")]
    Busy(String),
    #[error("no CCID interface on this device")]
    NoCcidInterface,
    #[error("the endpoint stalled")]
    Stall,
    #[error("USB transfer failed: {0}")]
    Io(String),
    #[error("the reader stopped answering")]
    Timeout,
}

/// Bytes to and from a CCID reader. A `recv` returns one bulk-IN transfer: up to `max` bytes,
/// ending at a short or zero-length packet, so one CCID message may take several calls.
#[allow(async_fn_in_trait)]
pub trait Transport {
    async fn send(&mut self, data: &[u8]) -> Result<(), TransportError>;
    async fn recv(&mut self, max: usize) -> Result<Vec<u8>, TransportError>;
    /// Reads one interrupt-IN transfer (NotifySlotChange, HardwareError).
    async fn recv_interrupt(&mut self) -> Result<Vec<u8>, TransportError>;
    /// The class-specific ABORT control request (CCID §5.3.1), sent before PC_to_RDR_Abort.
    async fn control_abort(&mut self, slot: u8, seq: u8) -> Result<(), TransportError>;
}
