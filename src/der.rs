//! Reading DER, one tag-length-value element at a time (ITU-T X.690,
//! <https://www.itu.int/rec/T-REC-X.690>, section 8.1: identifier, length and
//! contents octets; section 10.1: definite lengths only).
//!
//! Owns: [`element`], which splits one element off a byte slice, checking its
//! length against what is there, and [`Reader`], a cursor over a sequence of
//! them. Used for the DPoP key documents and the certificate names `doctor`
//! shows. Pure.
//! Refuses: indefinite lengths, lengths of more than 4 octets, and a length
//! longer than the bytes left. It reads the identifier as one octet (no
//! high tag numbers, section 8.1.2.4) and does not check that a length is
//! minimally encoded.

/// The tag of a `SEQUENCE` (X.690 section 8.9; universal 16, constructed).
pub(crate) const SEQUENCE: u8 = 0x30;
/// The tag of a `SET` (X.690 section 8.11; universal 17, constructed).
pub(crate) const SET: u8 = 0x31;
/// The tag of an `INTEGER` (X.690 section 8.3; universal 2).
pub(crate) const INTEGER: u8 = 0x02;
/// The tag of an `OCTET STRING` (X.690 section 8.7; universal 4).
pub(crate) const OCTET_STRING: u8 = 0x04;
/// The tag of an `OBJECT IDENTIFIER` (X.690 section 8.19; universal 6).
pub(crate) const OID: u8 = 0x06;

/// The first element of `der`: its tag (the identifier octet), its contents,
/// and the bytes after it. `None` when `der` does not start with a whole
/// element.
pub(crate) fn element(der: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = der.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        // Short form (section 8.1.3.4).
        (usize::from(first), rest)
    } else {
        // Long form (section 8.1.3.5); 0x80 alone is the indefinite form.
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// A cursor over the elements of a byte slice, in order.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    /// A cursor at the start of `der`.
    pub(crate) fn new(der: &'a [u8]) -> Self {
        Reader(der)
    }

    /// True when no bytes are left.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The next element's tag and contents; `None` (the cursor unmoved) when
    /// no whole element is left.
    pub(crate) fn next(&mut self) -> Option<(u8, &'a [u8])> {
        let (tag, content, rest) = element(self.0)?;
        self.0 = rest;
        Some((tag, content))
    }

    /// The next element's contents when its tag is `tag`; `None` otherwise
    /// (an element of another tag is still read past).
    pub(crate) fn expect(&mut self, tag: u8) -> Option<&'a [u8]> {
        match self.next()? {
            (t, content) if t == tag => Some(content),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_long_form_lengths() {
        assert_eq!(
            element(&[0x02, 0x01, 0x05, 0xff]),
            Some((0x02, &[0x05][..], &[0xff][..]))
        );
        assert_eq!(element(&[0x04, 0x00]), Some((0x04, &[][..], &[][..])));
        let mut long = vec![0x04, 0x81, 0x80];
        long.extend([7u8; 0x80]);
        assert_eq!(element(&long), Some((0x04, &long[3..], &[][..])));
        let mut longer = vec![0x04, 0x82, 0x01, 0x00];
        longer.extend([7u8; 0x100]);
        longer.push(0x30);
        assert_eq!(
            element(&longer),
            Some((0x04, &longer[4..0x104], &[0x30][..]))
        );
    }

    #[test]
    fn what_is_not_a_whole_element_is_refused() {
        for der in [
            &[][..],
            &[0x30],
            &[0x30, 0x02, 0x01],                   // contents cut short
            &[0x30, 0x80, 0x00, 0x00],             // indefinite length
            &[0x04, 0x85, 0, 0, 0, 0, 1, 0],       // a 5-octet length
            &[0x04, 0x82, 0x01],                   // the length cut short
            &[0x30, 0x84, 0xff, 0xff, 0xff, 0xff], // longer than what is there
        ] {
            assert_eq!(element(der), None, "{der:02x?}");
        }
    }

    #[test]
    fn the_reader_walks_a_sequence_and_checks_tags() {
        // SEQUENCE { INTEGER 1, OCTET STRING 'ab' }
        let der = [0x30, 0x07, 0x02, 0x01, 0x01, 0x04, 0x02, b'a', b'b'];
        let mut outer = Reader::new(&der);
        let mut inner = Reader::new(outer.expect(SEQUENCE).unwrap());
        assert!(outer.is_empty());
        assert_eq!(inner.expect(OCTET_STRING), None, "the INTEGER comes first");
        assert_eq!(inner.expect(OCTET_STRING), Some(&b"ab"[..]));
        assert!(inner.is_empty());
        assert_eq!(inner.next(), None);
    }
}
