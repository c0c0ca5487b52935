//! Base64, as RFC 4648 defines it (<https://www.rfc-editor.org/rfc/rfc4648>).
//!
//! Owns: [`STANDARD`] (section 4, padded with `=`: MCP's header-value
//! sentinel, PEM bodies) and [`URL_SAFE_NO_PAD`] (section 5 without padding:
//! JWS), each encoding bytes and decoding text. Pure.
//! Refuses: any byte outside the alphabet when decoding, and data after `=`
//! padding; it skips whitespace (PEM line breaks) and does not check the
//! padding's length or the last character's unused bits.

use p256::elliptic_curve::zeroize::Zeroize;

/// One of RFC 4648's Base64 alphabets, and whether encoding pads with `=`.
#[derive(Debug)]
pub(crate) struct Base64 {
    alphabet: &'static [u8; 64],
    pad: bool,
}

/// Standard Base64 with `=` padding (RFC 4648 section 4,
/// <https://www.rfc-editor.org/rfc/rfc4648#section-4>).
pub(crate) const STANDARD: Base64 = Base64 {
    alphabet: b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
    pad: true,
};

/// Base64url without padding (RFC 4648 section 5,
/// <https://www.rfc-editor.org/rfc/rfc4648#section-5>; section 3.2 allows
/// leaving the padding out), as JWS writes it (RFC 7515 section 2).
pub(crate) const URL_SAFE_NO_PAD: Base64 = Base64 {
    alphabet: b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
    pad: false,
};

impl Base64 {
    /// `data` as Base64 text: 4 characters for each 3 bytes, the last group
    /// padded with `=` to 4 when this alphabet pads.
    pub(crate) fn encode(&self, data: &[u8]) -> String {
        let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
        for chunk in data.chunks(3) {
            let b = [
                chunk[0],
                chunk.get(1).copied().unwrap_or(0),
                chunk.get(2).copied().unwrap_or(0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(char::from(self.alphabet[(n >> (18 - 6 * i)) as usize & 63]));
                } else if self.pad {
                    out.push('=');
                }
            }
        }
        out
    }

    /// The bytes `text` encodes, skipping ASCII whitespace and ignoring `=`
    /// padding at the end; `None` for a byte outside this alphabet or data
    /// after padding.
    pub(crate) fn decode(&self, text: &str) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(text.len() / 4 * 3);
        let mut acc: u32 = 0;
        let mut bits = 0;
        let mut padding = false;
        for b in text.bytes() {
            if b.is_ascii_whitespace() {
                continue;
            }
            if b == b'=' {
                padding = true;
                continue;
            }
            if padding {
                return None;
            }
            let v = self.alphabet.iter().position(|c| *c == b)? as u32;
            acc = (acc << 6) | v;
            bits += 6;
            if bits >= 8 {
                bits -= 8;
                out.push((acc >> bits) as u8);
                acc &= (1 << bits) - 1;
            }
        }
        // What is left may be the last bits of a key.
        acc.zeroize();
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4648 section 10's test vectors.
    const VECTORS: [(&str, &str); 7] = [
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="),
        ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ];

    #[test]
    fn standard_matches_rfc_4648_section_10() {
        for (plain, encoded) in VECTORS {
            assert_eq!(STANDARD.encode(plain.as_bytes()), encoded, "{plain:?}");
            assert_eq!(STANDARD.decode(encoded).unwrap(), plain.as_bytes());
        }
    }

    #[test]
    fn url_safe_matches_rfc_4648_section_10_without_padding() {
        for (plain, encoded) in VECTORS {
            let unpadded = encoded.trim_end_matches('=');
            assert_eq!(URL_SAFE_NO_PAD.encode(plain.as_bytes()), unpadded);
            assert_eq!(URL_SAFE_NO_PAD.decode(unpadded).unwrap(), plain.as_bytes());
        }
    }

    #[test]
    fn the_alphabets_differ_in_their_last_two_characters() {
        assert_eq!(URL_SAFE_NO_PAD.encode(&[0xfb, 0xff]), "-_8");
        assert_eq!(STANDARD.encode(&[0xfb, 0xff]), "+/8=");
        assert_eq!(URL_SAFE_NO_PAD.decode("-_8"), Some(vec![0xfb, 0xff]));
        assert_eq!(STANDARD.decode("-_8"), None);
        assert_eq!(URL_SAFE_NO_PAD.decode("+/8"), None);
    }

    #[test]
    fn decoding_skips_line_breaks_and_refuses_what_is_not_base64() {
        assert_eq!(STANDARD.decode("Zm9v\nYg==\r\n"), Some(b"foob".to_vec()));
        assert_eq!(STANDARD.decode("Zm9v*"), None);
        assert_eq!(STANDARD.decode("Zg==Zg"), None);
        assert_eq!(STANDARD.decode("Zm9vé"), None);
    }
}
