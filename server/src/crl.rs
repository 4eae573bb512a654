//! The CRL, signed once and served until a revocation (or `FRESH_SECS`) makes it stale: a GET
//! costs no signature and no table read. Every revocation is on it — nothing is cut off.

use crate::fault::Error;
use crate::State;
use std::sync::Arc;

/// How long a CRL is served before it is made again: revocations through another server sharing
/// the database appear within this; those through this one at once.
pub const FRESH_SECS: i64 = 60;
/// nextUpdate, from thisUpdate.
pub const NEXT_UPDATE_SECS: i64 = 86_400;

#[derive(Default)]
pub struct Cache {
    current: std::sync::Mutex<Current>,
    /// One rebuild at a time: a flood on a stale CRL waits for one signature, not one each.
    rebuild: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct Current {
    crl: Option<(i64, Arc<[u8]>)>,
    /// The last CRL number handed out: numbers only grow, even within one second.
    number: u64,
    /// Counts the clears: a CRL built from rows read before a revocation is not kept after it.
    generation: u64,
}

impl Cache {
    fn current(&self) -> std::sync::MutexGuard<'_, Current> {
        self.current.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn fresh(&self, now: i64) -> Option<Arc<[u8]>> {
        match &self.current().crl {
            Some((made, der)) if (0..FRESH_SECS).contains(&(now - made)) => Some(der.clone()),
            _ => None,
        }
    }

    /// After a revocation: the next GET gets a CRL that lists it.
    pub fn clear(&self) {
        let mut c = self.current();
        c.crl = None;
        c.generation += 1;
    }

    /// The CRL to serve now: the cached one, or a new one of every revoked certificate.
    pub async fn get(&self, s: &State, now: i64) -> Result<Arc<[u8]>, Error> {
        if let Some(der) = self.fresh(now) {
            return Ok(der);
        }
        let _one = self.rebuild.lock().await;
        if let Some(der) = self.fresh(now) {
            return Ok(der);
        }
        let generation = self.current().generation;
        let revoked = revoked(s).await?;
        let number = {
            let mut c = self.current();
            c.number = c.number.saturating_add(1).max(now.max(0) as u64);
            c.number
        };
        let der: Arc<[u8]> = s.ca.crl(&revoked, number, now, NEXT_UPDATE_SECS)?.into();
        let mut c = self.current();
        if c.generation == generation {
            c.crl = Some((now, der.clone()));
        }
        Ok(der)
    }
}

/// Every certificate this CA revoked: (serial, when, reason code).
async fn revoked(s: &State) -> Result<Vec<(Vec<u8>, i64, u8)>, Error> {
    let rows = s.db.revocations().await.map_err(Error::store)?;
    let mut out = Vec::with_capacity(rows.len());
    for (serial, at, reason) in rows {
        let bytes = crate::ca::decode_hex(&serial)
            .ok_or_else(|| Error::Store(format!("stored serial {serial} is not hex")))?;
        out.push((
            bytes,
            at,
            reason.and_then(|c| u8::try_from(c).ok()).unwrap_or(0),
        ));
    }
    Ok(out)
}
