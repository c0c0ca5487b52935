//! SHA-1 (FIPS 180-4 §6.1), used only to name IAM Identity Center token cache files.
//!
//! Owns: the one hash the AWS CLI uses for `~/.aws/sso/cache/<hex>.json` file
//! names — lower-case hex SHA-1 of the `sso_session` name or, for legacy
//! profiles, of `sso_start_url`, as Rust `aws-config` (`src/sso/cache.rs`) and
//! botocore (`utils.py`, `SSOTokenLoader`) name them.
//! Refuses: being used for anything that needs a secure hash. SHA-1 is broken
//! for collision resistance; here it only has to match the file names that
//! `aws sso login` writes. Kept in-house so that naming a file does not add a
//! dependency.

/// The initial hash value H(0), FIPS 180-4 §5.3.1.
const H0: [u32; 5] = [
    0x6745_2301,
    0xEFCD_AB89,
    0x98BA_DCFE,
    0x1032_5476,
    0xC3D2_E1F0,
];

/// Lower-case hex SHA-1 of `data`: 40 characters.
///
/// Not for security. It exists only to name SSO token cache files exactly as
/// the AWS CLI and SDKs do: `sha1_hex(b"my-sso")` is
/// `0ad374308c5a4e22f723adf10145eafad7c4031c`.
pub fn sha1_hex(data: &[u8]) -> String {
    hex::encode(sha1(data))
}

/// The 20-byte SHA-1 digest of `data` (FIPS 180-4 §6.1.2).
fn sha1(data: &[u8]) -> [u8; 20] {
    let mut h = H0;
    let mut blocks = data.chunks_exact(64);
    for block in blocks.by_ref() {
        compress(&mut h, block);
    }
    // Padding (§5.1.1): 0x80, zeros, then the message length in bits as a
    // 64-bit big-endian integer, filling one or two final blocks.
    let rest = blocks.remainder();
    let mut tail = [0u8; 128];
    tail[..rest.len()].copy_from_slice(rest);
    tail[rest.len()] = 0x80;
    let tail_len = if rest.len() < 56 { 64 } else { 128 };
    let bits = (data.len() as u64).wrapping_mul(8);
    tail[tail_len - 8..tail_len].copy_from_slice(&bits.to_be_bytes());
    for block in tail[..tail_len].chunks_exact(64) {
        compress(&mut h, block);
    }
    let mut out = [0u8; 20];
    for (chunk, word) in out.chunks_exact_mut(4).zip(h) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    out
}

/// Processes one 64-byte block (§6.1.2 steps 1–4).
fn compress(h: &mut [u32; 5], block: &[u8]) {
    let mut w = [0u32; 80];
    for (t, word) in block.chunks_exact(4).enumerate() {
        w[t] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
    }
    for t in 16..80 {
        w[t] = (w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16]).rotate_left(1);
    }
    let [mut a, mut b, mut c, mut d, mut e] = *h;
    for (t, wt) in w.iter().enumerate() {
        // f_t and K_t, §4.1.1 and §4.2.1.
        let (f, k) = match t {
            0..=19 => ((b & c) | (!b & d), 0x5A82_7999),
            20..=39 => (b ^ c ^ d, 0x6ED9_EBA1),
            40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC),
            _ => (b ^ c ^ d, 0xCA62_C1D6),
        };
        let temp = a
            .rotate_left(5)
            .wrapping_add(f)
            .wrapping_add(e)
            .wrapping_add(k)
            .wrapping_add(*wt);
        e = d;
        d = c;
        c = b.rotate_left(30);
        b = a;
        a = temp;
    }
    for (hi, v) in h.iter_mut().zip([a, b, c, d, e]) {
        *hi = hi.wrapping_add(v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // NIST CSRC "Cryptographic Standards and Guidelines: Examples with
    // Intermediate Values", SHA-1 (SHA1.pdf), and FIPS 180-2 Appendix A.
    #[test]
    fn nist_abc() {
        assert_eq!(sha1_hex(b"abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
    }

    #[test]
    fn nist_empty_message() {
        assert_eq!(sha1_hex(b""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    }

    #[test]
    fn nist_448_bit_message_needs_a_second_padding_block() {
        assert_eq!(
            sha1_hex(b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "84983e441c3bd26ebaae4aa1f95129e5e54670f1"
        );
    }

    #[test]
    fn nist_896_bit_message() {
        assert_eq!(
            sha1_hex(
                b"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"
            ),
            "a49b2446a02c645bf419f995b67091253a04a259"
        );
    }

    #[test]
    fn nist_one_million_a() {
        assert_eq!(
            sha1_hex(&vec![b'a'; 1_000_000]),
            "34aa973cd4c4daa4f61eeb2bdbad27316534016f"
        );
    }

    #[test]
    fn block_boundaries() {
        // Lengths around the 55/56/64-byte padding edges, checked with
        // `printf %s … | sha1sum` (GNU coreutils).
        assert_eq!(
            sha1_hex(&[b'a'; 55]),
            "c1c8bbdc22796e28c0e15163d20899b65621d65a"
        );
        assert_eq!(
            sha1_hex(&[b'a'; 56]),
            "c2db330f6083854c99d4b5bfb6e8f29f201be699"
        );
        assert_eq!(
            sha1_hex(&[b'a'; 64]),
            "0098ba824b5c16427bd7a1122a5a442a25ec644d"
        );
    }

    #[test]
    fn sso_cache_names_from_the_spec() {
        // The names `aws sso login` writes for these inputs (also
        // `printf %s my-sso | sha1sum`).
        assert_eq!(
            sha1_hex(b"my-sso"),
            "0ad374308c5a4e22f723adf10145eafad7c4031c"
        );
        assert_eq!(
            sha1_hex(b"https://d-abc123.awsapps.com/start"),
            "40a89917e3175433e361b710a9d43528d7f1890a"
        );
    }
}
