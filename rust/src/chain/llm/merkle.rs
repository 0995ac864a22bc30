//! The keccak Merkle tree an LLM batch publishes (`LLMBatchSettled.root`), in the EVM's hash
//! so a contract can check an inclusion proof.
//!
//! - leaf = keccak256(request_hash ‖ output_hash ‖ keccak256(signature)), one per answer that
//!   verified and is not `private`, in the batch's order; `leaf_index` is its position there.
//! - Positional binary tree: level by level, parent = keccak256(left ‖ right) of neighbours
//!   (0,1), (2,3), …; an odd last node moves up unchanged (it is not paired with itself, so a
//!   tree with a duplicated last leaf has another root).
//! - One leaf: the root is the leaf. No leaf: the root is zero.
//!
//! A proof is the sibling at each level where there is one, bottom up; the index's bits say
//! left or right (see [`verify_proof`]).
use alloy_primitives::{keccak256, B256};

/// The leaf of one answer.
pub fn leaf(request_hash: &B256, output_hash: &B256, signature: &[u8]) -> B256 {
    keccak256([request_hash.as_slice(), output_hash.as_slice(), keccak256(signature).as_slice()].concat())
}

fn parent(left: &B256, right: &B256) -> B256 {
    keccak256([left.as_slice(), right.as_slice()].concat())
}

fn next_level(level: &[B256]) -> Vec<B256> {
    level.chunks(2).map(|pair| if let [l, r] = pair { parent(l, r) } else { pair[0] }).collect()
}

pub fn root(leaves: &[B256]) -> B256 {
    if leaves.is_empty() {
        return B256::ZERO;
    }
    let mut level = leaves.to_vec();
    while level.len() > 1 {
        level = next_level(&level);
    }
    level[0]
}

/// The siblings that take leaf `index` to the root, bottom up (levels where it moves up
/// unpaired have none).
pub fn proof(leaves: &[B256], mut index: usize) -> Vec<B256> {
    let mut level = leaves.to_vec();
    let mut siblings = Vec::new();
    while level.len() > 1 {
        let sibling = index ^ 1;
        if sibling < level.len() {
            siblings.push(level[sibling]);
        }
        level = next_level(&level);
        index /= 2;
    }
    siblings
}

/// Whether `leaf` at `index` of a tree of `count` leaves hashes up to `root` with `siblings`.
pub fn verify_proof(root: &B256, leaf: B256, mut index: usize, mut count: usize, siblings: &[B256]) -> bool {
    let (mut node, mut next) = (leaf, siblings.iter());
    while count > 1 {
        if index ^ 1 < count {
            let Some(s) = next.next() else { return false };
            node = if index % 2 == 0 { parent(&node, s) } else { parent(s, &node) };
        }
        (index, count) = (index / 2, count.div_ceil(2));
    }
    next.next().is_none() && node == *root && index == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: u8) -> Vec<B256> {
        (0..n).map(B256::repeat_byte).collect()
    }

    #[test]
    fn small_trees_by_hand() {
        assert_eq!(root(&[]), B256::ZERO);
        let l = leaves(3);
        assert_eq!(root(&l[..1]), l[0]);
        assert_eq!(root(&l[..2]), parent(&l[0], &l[1]));
        // The odd leaf moves up unpaired.
        assert_eq!(root(&l), parent(&parent(&l[0], &l[1]), &l[2]));
        assert_ne!(root(&l), root(&[l.clone(), vec![l[2]]].concat()), "a duplicated last leaf changes the root");
        assert_ne!(root(&[l[1], l[0]]), root(&l[..2]), "positional, not sorted");
    }

    #[test]
    fn every_proof_verifies_and_no_other_leaf_or_index_does() {
        for n in 1..=9u8 {
            let l = leaves(n);
            let r = root(&l);
            for i in 0..l.len() {
                let p = proof(&l, i);
                assert!(verify_proof(&r, l[i], i, l.len(), &p), "n={n} i={i}");
                assert!(!verify_proof(&r, B256::repeat_byte(0xee), i, l.len(), &p));
                if l.len() > 1 {
                    assert!(!verify_proof(&r, l[i], (i + 1) % l.len(), l.len(), &p), "n={n} i={i}: another index");
                }
            }
        }
    }
}
