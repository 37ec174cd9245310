//! Entry points for the fuzz targets in `fuzz/`; not a stable API.

use crate::relay::{Endian, Framing, LengthPrefixed};

/// Run a database's byte stream through the relay's length-prefixed framing, whole and split at a
/// point the input chooses, for each protocol's header shape: never panics, and where a message ends
/// does not depend on how the bytes arrived.
pub fn length_prefixed(data: &[u8]) {
    let Some((&split, bytes)) = data.split_first() else {
        return;
    };
    let shapes = [
        LengthPrefixed::postgres(),
        LengthPrefixed::new(4, 0, 3, Endian::Little, 4),
        LengthPrefixed::new(4, 0, 4, Endian::Little, 0),
        LengthPrefixed::new(9, 5, 4, Endian::Big, 9),
    ];
    for shape in shapes {
        let at = usize::from(split).min(bytes.len());
        let (a, b) = bytes.split_at(at);
        let mut whole = shape.clone();
        whole.advance(bytes);
        let mut pieces = shape.clone();
        pieces.advance(a);
        pieces.advance(b);
        assert_eq!(
            whole.rest_of_message(&[]),
            pieces.rest_of_message(&[]),
            "framing depends on the split"
        );
        let mut first = shape.clone();
        first.advance(a);
        if let Some(end) = first.rest_of_message(b) {
            assert!(end <= b.len(), "a message end past the bytes given");
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn smoke() {
        super::length_prefixed(&[]);
        super::length_prefixed(&[3, b'Z', 0, 0, 0, 5, b'I', b'D', 0xff, 0xff]);
        super::length_prefixed(&[200; 300]);
    }
}
