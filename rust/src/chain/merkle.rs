//! blake3 binary Merkle roots for transactions, receipts and state.
use alloy_primitives::B256;

/// Root of a binary Merkle tree: leaves are blake3(item), an inner node is
/// blake3(0x01 ‖ left ‖ right), an odd node is promoted. The empty tree's root is zero.
pub fn root<'a>(items: impl IntoIterator<Item = &'a [u8]>) -> B256 {
    let mut level: Vec<[u8; 32]> = items
        .into_iter()
        .map(|item| {
            let mut h = blake3::Hasher::new();
            h.update(&[0x00]);
            h.update(item);
            *h.finalize().as_bytes()
        })
        .collect();
    if level.is_empty() {
        return B256::ZERO;
    }
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| match pair {
                [l, r] => {
                    let mut h = blake3::Hasher::new();
                    h.update(&[0x01]);
                    h.update(l);
                    h.update(r);
                    *h.finalize().as_bytes()
                }
                [single] => *single,
                _ => unreachable!(),
            })
            .collect();
    }
    B256::from(level[0])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_depends_on_every_leaf_and_order() {
        let a = root([b"a".as_slice(), b"b", b"c"]);
        assert_ne!(a, root([b"a".as_slice(), b"c", b"b"]));
        assert_ne!(a, root([b"a".as_slice(), b"b"]));
        assert_eq!(a, root([b"a".as_slice(), b"b", b"c"]));
        assert_eq!(root(std::iter::empty()), B256::ZERO);
        // Domain separation: a leaf never equals an inner node of the same bytes.
        assert_ne!(root([b"x".as_slice()]), B256::ZERO);
    }
}
