//! Identifiers and jitter without a random-number crate.
//!
//! Owns: [`random_id`], a UUID-v4-shaped identifier mixed with SHA-256 from the
//! process's randomly seeded hasher keys, the clock and a counter, and
//! [`unit()`], a number in [0, 1) for backoff jitter. Unpredictable enough for a
//! routing id (an AgentCore runtime session), for jitter, and for a value that
//! only has to be unique (a DPoP proof's `jti`, RFC 9449 §4.2: the Sign-In
//! server refuses a replayed one); never used as a key, a signature nonce or
//! anything whose secrecy protects something (ECDSA nonces come from RFC 6979
//! or ring's own generator).
//! Refuses: anything whose security rests on secrecy.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

/// A random identifier: 36 characters in the UUID version 4 layout
/// (RFC 9562 §5.4), e.g. `3f2b…-…`.
pub fn random_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = Sha256::new();
    for _ in 0..4 {
        let mut h = RandomState::new().build_hasher();
        h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        hasher.update(h.finish().to_le_bytes());
    }
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    hasher.update(nanos.to_le_bytes());
    hasher.update(std::process::id().to_le_bytes());
    let mut b: [u8; 16] = hasher.finalize()[..16].try_into().expect("16 bytes");
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// A number in [0, 1) that differs between calls, for backoff jitter.
pub fn unit() -> f64 {
    let id = random_id();
    let n = u64::from_str_radix(&id[..8], 16).unwrap_or(0);
    n as f64 / (f64::from(u32::MAX) + 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_ids_look_like_uuid_v4_and_differ() {
        let a = random_id();
        let b = random_id();
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(a.as_bytes()[14], b'4');
        assert!(matches!(a.as_bytes()[19], b'8' | b'9' | b'a' | b'b'));
        assert_eq!(a.matches('-').count(), 4);
    }
    #[test]
    fn unit_is_in_range() {
        for _ in 0..1000 {
            let u = unit();
            assert!((0.0..1.0).contains(&u), "{u}");
        }
    }
}
