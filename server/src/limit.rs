//! Per-client rate limits for the endpoints that cost the server work before any proof
//! (challenges, applications): a token bucket per IP address, bounded in memory. Behind reverse
//! proxies (`--trusted-proxy`), the client's address comes from X-Forwarded-For.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

pub struct RateLimiter<K = IpAddr> {
    per_minute: f64,
    burst: f64,
    buckets: Mutex<HashMap<K, (f64, Instant)>>,
}

/// Beyond this many tracked clients the least recently seen are dropped (memory stays bounded,
/// and a flood of fresh addresses cannot wipe the buckets of clients being limited).
pub const MAX_CLIENTS: usize = 100_000;

/// What a client is limited as: its IPv4 address, or its IPv6 /64 — one subscriber's network
/// (RFC 6177), in which it picks any address it likes.
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
        v4 => v4,
    }
}

impl RateLimiter<IpAddr> {
    /// One request from `ip` (by `client_key`): false when its bucket is empty.
    pub fn allow(&self, ip: IpAddr) -> bool {
        self.allow_key(client_key(ip))
    }
}

impl<K: std::hash::Hash + Eq + Clone> RateLimiter<K> {
    /// `per_minute` = 0 disables the limit.
    pub fn new(per_minute: u32, burst: u32) -> Self {
        Self {
            per_minute: f64::from(per_minute),
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    pub fn allow_key(&self, key: K) -> bool {
        if self.per_minute == 0.0 {
            return true;
        }
        let now = Instant::now();
        let Ok(mut b) = self.buckets.lock() else {
            return true;
        };
        if b.len() >= MAX_CLIENTS && !b.contains_key(&key) {
            self.evict(&mut b, now);
        }
        let (tokens, last) = b.entry(key).or_insert((self.burst, now));
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * self.per_minute / 60.0)
            .min(self.burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Makes room: first the buckets that have refilled (a full bucket is the same as none),
    /// then, if every client is active, the least recently seen half — amortized over the
    /// insertions that refill the map.
    fn evict(&self, b: &mut HashMap<K, (f64, Instant)>, now: Instant) {
        let refill = self.burst * 60.0 / self.per_minute;
        b.retain(|_, (tokens, last)| {
            *tokens + now.duration_since(*last).as_secs_f64() * self.per_minute / 60.0 < self.burst
                && now.duration_since(*last).as_secs_f64() < refill
        });
        if b.len() >= MAX_CLIENTS / 2 {
            let mut seen: Vec<Instant> = b.values().map(|(_, last)| *last).collect();
            let cut = seen.len() / 2;
            seen.select_nth_unstable(cut);
            let oldest_kept = seen[cut];
            b.retain(|_, (_, last)| *last >= oldest_kept);
        }
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.buckets.lock().map(|b| b.len()).unwrap_or(0)
    }
}

/// A network in CIDR notation (`10.0.0.0/8`, `fd00::/8`, or one address): the reverse proxies
/// whose X-Forwarded-For is believed (`--trusted-proxy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    prefix: u32,
}

impl std::str::FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let net: IpAddr = addr
            .trim()
            .parse()
            .map_err(|_| format!("{s}: not an IP address or network"))?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{s}: the prefix length must be 0–{max}"))?,
        };
        Ok(Self { net, prefix })
    }
}

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        // An IPv4 peer on a dual-stack socket shows as ::ffff:a.b.c.d.
        let (net, ip, bits) = match (self.net, ip.to_canonical()) {
            (IpAddr::V4(n), IpAddr::V4(a)) => (u32::from(n).into(), u32::from(a).into(), 32),
            (IpAddr::V6(n), IpAddr::V6(a)) => (u128::from(n), u128::from(a), 128),
            _ => return false,
        };
        let shift = bits - self.prefix;
        net.checked_shr(shift).unwrap_or(0) == ip.checked_shr(shift).unwrap_or(0)
    }
}

/// At most this many X-Forwarded-For entries are looked at, right to left (a chain of proxies
/// is a few hops; the rest is whatever the client wrote).
const MAX_HOPS: usize = 16;

/// The client's address: the peer's, unless the peer is a trusted proxy — then the nearest
/// X-Forwarded-For entry that is not a trusted proxy, walking from the right (each proxy appends
/// the address it saw; entries further left are the client's own say and may be forged). An
/// entry that is not an address stops the walk at the last proxy.
pub fn client_ip(peer: IpAddr, headers: &axum::http::HeaderMap, trusted: &[Cidr]) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|c| c.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let mut lines = Vec::new();
    for v in headers.get_all("x-forwarded-for") {
        match v.to_str() {
            Ok(v) => lines.push(v),
            Err(_) => return peer,
        }
    }
    let mut client = peer;
    for entry in lines
        .iter()
        .rev()
        .flat_map(|l| l.rsplit(','))
        .take(MAX_HOPS)
    {
        let Ok(ip) = entry.trim().parse::<IpAddr>() else {
            break;
        };
        client = ip.to_canonical();
        if !is_trusted(client) {
            break;
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_empties_and_is_per_client() {
        let l = RateLimiter::new(60, 3);
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        assert!((0..3).all(|_| l.allow(a)));
        assert!(!l.allow(a));
        assert!(l.allow(b));
        assert!(RateLimiter::new(0, 0).allow(a));
    }

    fn headers(lines: &[&str]) -> axum::http::HeaderMap {
        let mut h = axum::http::HeaderMap::new();
        for l in lines {
            h.append("x-forwarded-for", l.parse().unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ipv6_clients_are_limited_by_their_64() {
        let l = RateLimiter::new(60, 2);
        // Before: each address of the /64 had a fresh bucket.
        assert!(l.allow(ip("2001:db8:1:2::1")) && l.allow(ip("2001:db8:1:2::ffff:1")));
        assert!(!l.allow(ip("2001:db8:1:2:8000::9")), "same /64");
        assert!(l.allow(ip("2001:db8:1:3::1")), "another /64");
        assert_eq!(client_key(ip("::ffff:192.0.2.1")), ip("192.0.2.1"));
    }

    #[test]
    fn a_flood_of_new_clients_does_not_free_a_limited_one() {
        let l = RateLimiter::new(1, 1);
        let limited = ip("192.0.2.1");
        assert!(l.allow(limited) && !l.allow(limited));
        // Before: at MAX_CLIENTS every bucket was wiped, the limited client's included.
        // A limited client keeps trying while the flood goes on.
        for n in 0..(MAX_CLIENTS as u32 + 10) {
            l.allow(IpAddr::V4((0x0a00_0000 + n).into()));
            if n % 1000 == 0 {
                assert!(!l.allow(limited));
            }
        }
        assert!(l.tracked() <= MAX_CLIENTS);
        assert!(!l.allow(limited), "still limited after the flood");
    }

    #[test]
    fn networks_parse_and_match() {
        let lan: Cidr = "10.0.0.0/8".parse().unwrap();
        assert!(lan.contains(ip("10.200.3.4")));
        assert!(
            lan.contains(ip("::ffff:10.1.2.3")),
            "IPv4 on a dual-stack socket"
        );
        assert!(!lan.contains(ip("11.0.0.1")));
        assert!(!lan.contains(ip("fd00::1")));
        let one: Cidr = "192.0.2.7".parse().unwrap();
        assert!(one.contains(ip("192.0.2.7")) && !one.contains(ip("192.0.2.8")));
        let v6: Cidr = "fd00::/8".parse().unwrap();
        assert!(v6.contains(ip("fd12::1")) && !v6.contains(ip("fe80::1")));
        let all: Cidr = "::/0".parse().unwrap();
        assert!(all.contains(ip("2001:db8::1")));
        assert!("0.0.0.0/0".parse::<Cidr>().unwrap().contains(ip("8.8.8.8")));
        for bad in [
            "10.0.0.0/33",
            "fd00::/129",
            "proxy",
            "10.0.0.0/",
            "/8",
            "10.0.0.0/-1",
        ] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_client_is_the_nearest_address_no_trusted_proxy_added() {
        let trusted: Vec<Cidr> = vec!["10.0.0.0/8".parse().unwrap(), "::1".parse().unwrap()];
        let proxy = ip("10.0.0.5");
        // Straight from the internet: its X-Forwarded-For is whatever it says, ignored.
        assert_eq!(
            client_ip(ip("203.0.113.9"), &headers(&["198.51.100.1"]), &trusted),
            ip("203.0.113.9")
        );
        // Through one proxy.
        assert_eq!(
            client_ip(proxy, &headers(&["203.0.113.9"]), &trusted),
            ip("203.0.113.9")
        );
        // The client forged entries to the left; two proxies appended theirs, one per line.
        assert_eq!(
            client_ip(
                proxy,
                &headers(&["1.1.1.1, 203.0.113.9, 10.0.0.7", "10.0.0.6"]),
                &trusted
            ),
            ip("203.0.113.9")
        );
        // IPv6 and a dual-stack IPv4 client.
        assert_eq!(
            client_ip(ip("::1"), &headers(&["2001:db8::5"]), &trusted),
            ip("2001:db8::5")
        );
        assert_eq!(
            client_ip(proxy, &headers(&["::ffff:203.0.113.9"]), &trusted),
            ip("203.0.113.9")
        );
        // Garbage stops the walk at the last proxy; no header leaves the proxy's address.
        assert_eq!(
            client_ip(proxy, &headers(&["unknown, 10.0.0.9"]), &trusted),
            ip("10.0.0.9")
        );
        assert_eq!(client_ip(proxy, &headers(&[]), &trusted), proxy);
        // No trusted proxies configured: the peer, always.
        assert_eq!(client_ip(proxy, &headers(&["203.0.113.9"]), &[]), proxy);
    }

    proptest::proptest! {
        /// Whatever a proxy passes on, the answer is the peer or an address from the header,
        /// without panicking.
        #[test]
        fn any_forwarded_for_is_survived(lines in proptest::collection::vec("[ -~]{0,80}", 0..4)) {
            let trusted: Vec<Cidr> = vec!["10.0.0.0/8".parse().unwrap()];
            let mut h = axum::http::HeaderMap::new();
            for l in &lines {
                if let Ok(v) = l.parse() {
                    h.append("x-forwarded-for", v);
                }
            }
            let got = client_ip(ip("10.0.0.1"), &h, &trusted);
            proptest::prop_assert!(got == ip("10.0.0.1") || lines.iter().any(|l| l.contains(&got.to_string()) || l.contains("::ffff:")));
        }
    }
}
