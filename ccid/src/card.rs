//! The `Card` seam: one APDU in, one response out. Chaining, GET RESPONSE and 6Cxx live here, once.

use crate::apdu::{ApduError, Command, Response, SHORT_MAX_DATA, SHORT_MAX_LE};
use crate::sw::StatusWord;
use crate::transport::TransportError;

/// Bounds on loops the card drives.
const MAX_GET_RESPONSE: usize = 512;
const MAX_RESPONSE_BYTES: usize = 128 * 1024;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CardError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error("no card in the reader")]
    NoCard,
    #[error("the card was removed")]
    Removed,
    #[error("malformed APDU: {0}")]
    Apdu(#[from] ApduError),
    #[error("the card keeps sending data (more than {MAX_RESPONSE_BYTES} bytes)")]
    ResponseTooLong,
    #[error("unsupported reader: {0}")]
    UnsupportedReader(&'static str),
    #[error("the reader reported an error: {text} (bError {code:#04X})")]
    Slot { code: u8, text: &'static str },
    #[error("malformed reply from the reader: {0}")]
    Malformed(String),
    #[error("the card took too long (more than {0} time extensions)")]
    TooManyTimeExtensions(usize),
}

/// Something that exchanges APDUs with a card: a CCID reader, the Web Smart Card API, or a token
/// implementation in memory. Futures are not `Send`: in the browser everything is one thread.
#[allow(async_fn_in_trait)]
pub trait Card {
    /// Sends one encoded command APDU and returns the encoded response (data + SW1 SW2).
    async fn transmit_raw(&mut self, apdu: &[u8]) -> Result<Vec<u8>, CardError>;

    /// Whether extended-length APDUs reach the card (reader exchange level and card both allow it).
    fn extended_apdus(&self) -> bool {
        false
    }
}

/// Sends `cmd`, chaining its data when it does not fit one APDU and collecting the whole response
/// (61xx GET RESPONSE, 6Cxx retry). This is the only place those mechanics exist.
pub async fn transmit<C: Card + ?Sized>(
    card: &mut C,
    cmd: &Command,
) -> Result<Response, CardError> {
    let extended = card.extended_apdus();
    let max_chunk = if extended {
        crate::apdu::EXTENDED_MAX - 1
    } else {
        SHORT_MAX_DATA
    };
    let default_le = if extended {
        crate::apdu::EXTENDED_MAX
    } else {
        SHORT_MAX_LE
    };
    let mut chunks = cmd.data.chunks(max_chunk).peekable();
    let mut resp = loop {
        let chunk = chunks.next().unwrap_or_default();
        let last = chunks.peek().is_none();
        let mut part = Command {
            data: chunk.to_vec(),
            ..cmd.clone()
        };
        if !last {
            part.cla |= 0x10;
            part.le = None;
        } else if part.le.is_some_and(|le| le > default_le) {
            part.le = Some(default_le);
        }
        let mut resp = Response::parse(&card.transmit_raw(&part.encode(extended)?).await?)?;
        if let StatusWord::WrongLe(n) = resp.sw {
            // Once only: a card that keeps answering 6Cxx is broken.
            part.le = Some(if n == 0 { SHORT_MAX_LE } else { usize::from(n) });
            resp = Response::parse(&card.transmit_raw(&part.encode(extended)?).await?)?;
        }
        if last || resp.sw != StatusWord::Ok {
            break resp;
        }
    };
    let mut rounds = 0;
    while let StatusWord::MoreData(n) = resp.sw {
        rounds += 1;
        if rounds > MAX_GET_RESPONSE || resp.data.len() > MAX_RESPONSE_BYTES {
            return Err(CardError::ResponseTooLong);
        }
        let le = if n == 0 { SHORT_MAX_LE } else { usize::from(n) };
        let more = Command::new(cmd.cla & !0x10, 0xC0, 0, 0).le(le);
        let next = Response::parse(&card.transmit_raw(&more.encode(extended)?).await?)?;
        resp.data.extend_from_slice(&next.data);
        resp.sw = next.sw;
    }
    Ok(resp)
}

/// Borrowing a card is using it: lets a short-lived `Piv` run over a reader kept elsewhere.
impl<C: Card + ?Sized> Card for &mut C {
    async fn transmit_raw(&mut self, apdu: &[u8]) -> Result<Vec<u8>, CardError> {
        (**self).transmit_raw(apdu).await
    }

    fn extended_apdus(&self) -> bool {
        (**self).extended_apdus()
    }
}
