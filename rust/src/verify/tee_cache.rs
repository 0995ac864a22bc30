//! Attestation caching: an enclave's attestation document is checked in full (structure,
//! chain, COSE signature: four P-384 verifications and the parsing of three certificates) the
//! first time it is seen, and what that established is kept, keyed by the SHA-256 of the
//! document's bytes. Each answer the document vouches for then costs one secp256k1 recovery
//! (the response signature) and a few comparisons: the root, the certificates' validity at
//! `now`, the PCRs expected for this answer's model, freshness, and the request/output binding.
//!
//! The verdict is the full check's, reason and detail: `verify_tee_cached` runs the same
//! `check_answer` on the same `Attested` as `verify_tee` does. A changed document (a new key,
//! new measurements, a re-attestation, one tampered byte) has another hash, misses, and gets
//! the full check; a document whose checks fail is not kept.
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use alloy_primitives::B256;
use sha2::{Digest, Sha256};

use super::tee::{attest, check_answer, Attested, TeeEvidence, TeePolicy, TeeRejection, TeeVerified};

/// How many documents a cache keeps unless told otherwise: a devnet has a few enclaves, each
/// with one document per model it serves (and a new one every few minutes).
pub const DEFAULT_CAPACITY: usize = 256;

/// Attested documents by the SHA-256 of their bytes, at most `capacity`, the oldest evicted
/// first. Shared between threads: lookups take a lock only to clone an `Arc`.
#[derive(Debug)]
pub struct AttestationCache {
    capacity: usize,
    state: Mutex<CacheState>,
}

#[derive(Debug, Default)]
struct CacheState {
    entries: HashMap<B256, Arc<Attested>>,
    /// Keys in insertion order, oldest first.
    order: VecDeque<B256>,
    hits: u64,
    misses: u64,
    evictions: u64,
}

/// What a cache has done so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct CacheStats {
    /// Answers checked against a document already attested.
    pub hits: u64,
    /// Documents checked in full (those rejected included).
    pub misses: u64,
    pub entries: usize,
    pub capacity: usize,
    pub evictions: u64,
}

impl Default for AttestationCache {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY)
    }
}

impl AttestationCache {
    /// A cache of at most `capacity` documents (at least one).
    pub fn new(capacity: usize) -> Self {
        Self { capacity: capacity.max(1), state: Mutex::new(CacheState::default()) }
    }

    /// The key of a document: SHA-256 of its bytes as given.
    pub fn key(attestation: &[u8]) -> B256 {
        B256::from_slice(&Sha256::digest(attestation))
    }

    fn lock(&self) -> MutexGuard<'_, CacheState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The attested document of `key`, counting a hit or a miss.
    fn lookup(&self, key: &B256) -> Option<Arc<Attested>> {
        let mut s = self.lock();
        let found = s.entries.get(key).cloned();
        if found.is_some() {
            s.hits += 1;
        } else {
            s.misses += 1;
        }
        found
    }

    fn insert(&self, key: B256, attested: Arc<Attested>) {
        let mut s = self.lock();
        if s.entries.insert(key, attested).is_some() {
            return; // another thread attested the same document meanwhile
        }
        s.order.push_back(key);
        while s.order.len() > self.capacity {
            let oldest = s.order.pop_front().expect("over capacity");
            s.entries.remove(&oldest);
            s.evictions += 1;
        }
    }

    pub fn stats(&self) -> CacheStats {
        let s = self.lock();
        CacheStats { hits: s.hits, misses: s.misses, entries: s.entries.len(), capacity: self.capacity, evictions: s.evictions }
    }

    /// Forgets every document (the counters stay).
    pub fn clear(&self) {
        let mut s = self.lock();
        s.entries.clear();
        s.order.clear();
    }
}

/// `verify_tee`, with each document's own checks made once: the same verdict, reason and
/// detail, for the same arguments.
pub fn verify_tee_cached(
    cache: &AttestationCache,
    evidence: &TeeEvidence,
    expected_pcrs: &[Vec<u8>],
    policy: &TeePolicy,
    now_ms: u64,
    delivered_request_hash: B256,
    delivered_output_hash: B256,
) -> Result<TeeVerified, TeeRejection> {
    let key = AttestationCache::key(&evidence.attestation);
    let attested = match cache.lookup(&key) {
        Some(attested) => attested,
        None => {
            let attested = Arc::new(attest(&evidence.attestation, policy, now_ms)?);
            cache.insert(key, attested.clone());
            attested
        }
    };
    check_answer(&attested, evidence, expected_pcrs, policy, now_ms, delivered_request_hash, delivered_output_hash)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::verify_tee;
    use coset::{CborSerializable, CoseSign1, TaggedCborSerializable};

    const DAY_MS: u64 = 86_400_000;

    use crate::verify::tee::tests::{vector, Vector};

    /// The cached verdict, checked equal (reason and detail) to the full check's.
    fn check(cache: &AttestationCache, v: &Vector, now: u64, delivered: (B256, B256)) -> Result<TeeVerified, TeeRejection> {
        let full = verify_tee(&v.evidence, &v.pcrs, &v.policy, now, delivered.0, delivered.1);
        let cached = verify_tee_cached(cache, &v.evidence, &v.pcrs, &v.policy, now, delivered.0, delivered.1);
        assert_eq!(cached, full, "the cached path and the full path disagree");
        cached
    }

    fn reason(r: Result<TeeVerified, TeeRejection>) -> &'static str {
        r.map(|_| "accepted").unwrap_or_else(|e| e.reason)
    }

    fn honest(v: &Vector) -> (B256, B256) {
        (v.evidence.request_hash, v.evidence.output_hash)
    }

    #[test]
    fn a_document_is_attested_once_and_then_each_answer_is_checked_against_it() {
        let cache = AttestationCache::new(8);
        let v = vector();
        let t = v.evidence.timestamp_ms;
        let first = check(&cache, &v, t, honest(&v)).unwrap();
        assert_eq!((first.module_id.as_str(), first.attestation_timestamp_ms), ("node-0", t));
        assert_eq!((cache.stats().misses, cache.stats().hits, cache.stats().entries), (1, 0, 1));
        assert_eq!(check(&cache, &v, t + 1_000, honest(&v)).unwrap(), first);
        assert_eq!((cache.stats().misses, cache.stats().hits), (1, 1));
    }

    #[test]
    fn a_hit_gives_the_full_verdict_on_tampered_answers() {
        let cache = AttestationCache::new(8);
        let v = vector();
        let t = v.evidence.timestamp_ms;
        check(&cache, &v, t, honest(&v)).unwrap();
        let hits = |c: &AttestationCache| c.stats().hits;

        let mut bad = vector();
        bad.evidence.response_signature[0] ^= 1;
        assert_eq!(reason(check(&cache, &bad, t, honest(&v))), "bad_response_signature");
        let mut bad = vector();
        bad.evidence.response_signature.truncate(64);
        assert_eq!(reason(check(&cache, &bad, t, honest(&v))), "bad_response_signature");
        let mut unsigned = vector();
        unsigned.evidence.timestamp_ms += 1; // a time the enclave did not sign
        assert_eq!(reason(check(&cache, &unsigned, t, honest(&v))), "bad_response_signature");
        assert_eq!(reason(check(&cache, &v, t, (v.evidence.request_hash, B256::ZERO))), "output_mismatch");
        assert_eq!(reason(check(&cache, &v, t, (B256::ZERO, v.evidence.output_hash))), "request_mismatch");
        // The cached document measured one model: an answer for another is refused.
        let mut other_model = vector();
        other_model.pcrs[2] = sha2::Sha384::digest(b"another model").to_vec();
        assert_eq!(reason(check(&cache, &other_model, t, honest(&v))), "pcr_mismatch");
        let mut other_image = vector();
        other_image.pcrs[0][5] ^= 1;
        assert_eq!(reason(check(&cache, &other_image, t, honest(&v))), "pcr_mismatch");
        // A policy with another root does not trust what was attested under this one.
        let mut other_root = vector();
        other_root.policy.root_der[40] ^= 1;
        assert_eq!(reason(check(&cache, &other_root, t, honest(&v))), "unknown_root");
        assert_eq!(hits(&cache), 8, "each of these was a hit");
        assert_eq!(cache.stats().misses, 1);
    }

    #[test]
    fn a_cached_document_still_expires_and_goes_stale() {
        let cache = AttestationCache::new(8);
        let v = vector();
        let t = v.evidence.timestamp_ms;
        check(&cache, &v, t, honest(&v)).unwrap();
        // The enclave certificate is valid for a day: two days on, the cached chain is expired.
        let expired = check(&cache, &v, t + 2 * DAY_MS, honest(&v)).unwrap_err();
        assert_eq!(expired.reason, "expired_certificate");
        assert!(expired.detail.contains("enclave"), "{}", expired.detail);
        // A response long after the attestation (the policy's max age is 10 minutes).
        let mut late = vector();
        late.evidence.timestamp_ms = t + 600_001;
        assert_eq!(reason(check(&cache, &late, t + 600_001, honest(&v))), "stale_attestation");
        // A response from the future.
        assert_eq!(reason(check(&cache, &v, t - 10_000, honest(&v))), "stale_attestation");
        // Judged as of an earlier time (as settlement does), the document is still good.
        assert!(check(&cache, &v, t, honest(&v)).is_ok());
        assert_eq!((cache.stats().misses, cache.stats().hits), (1, 4), "no document was checked again");
    }

    #[test]
    fn a_tampered_document_misses_and_gets_the_full_rejection() {
        let cache = AttestationCache::new(8);
        let v = vector();
        let t = v.evidence.timestamp_ms;
        check(&cache, &v, t, honest(&v)).unwrap();
        let n = v.evidence.attestation.len();
        let mut flipped = vector();
        flipped.evidence.attestation[n - 5] ^= 1; // inside the COSE signature
        assert_eq!(reason(check(&cache, &flipped, t, honest(&v))), "bad_signature");
        // Expired and badly signed: named expired, as the full check always has.
        assert_eq!(reason(check(&cache, &flipped, t + 2 * DAY_MS, honest(&v))), "expired_certificate");
        let mut truncated = vector();
        truncated.evidence.attestation.truncate(20);
        assert_eq!(reason(check(&cache, &truncated, t, honest(&v))), "malformed_attestation");
        let mut other_root = vector();
        other_root.policy.root_der[40] ^= 1;
        other_root.evidence.attestation[n - 5] ^= 1;
        assert_eq!(reason(check(&cache, &other_root, t, honest(&v))), "unknown_root");
        let stats = cache.stats();
        assert_eq!((stats.misses, stats.hits, stats.entries), (5, 0, 1), "rejected documents are not kept");
        // Asked again, a rejected document is checked in full again, and refused again.
        assert_eq!(reason(check(&cache, &flipped, t, honest(&v))), "bad_signature");
        assert_eq!(cache.stats().misses, 6);
    }

    #[test]
    fn the_cache_is_bounded_and_evicts_the_oldest() {
        let cache = AttestationCache::new(1);
        let tagged = vector();
        let mut untagged = vector();
        let sign1 = CoseSign1::from_tagged_slice(&tagged.evidence.attestation).unwrap();
        untagged.evidence.attestation = sign1.to_vec().unwrap();
        assert_ne!(untagged.evidence.attestation, tagged.evidence.attestation);
        let t = tagged.evidence.timestamp_ms;
        check(&cache, &tagged, t, honest(&tagged)).unwrap();
        check(&cache, &untagged, t, honest(&tagged)).unwrap();
        check(&cache, &untagged, t, honest(&tagged)).unwrap();
        check(&cache, &tagged, t, honest(&tagged)).unwrap();
        let stats = cache.stats();
        assert_eq!((stats.misses, stats.hits, stats.entries, stats.evictions), (3, 1, 1, 2));
        cache.clear();
        check(&cache, &tagged, t, honest(&tagged)).unwrap();
        assert_eq!(cache.stats().misses, 4);
    }

    #[test]
    fn threads_share_a_cache() {
        let cache = Arc::new(AttestationCache::new(8));
        let v = Arc::new(vector());
        let t = v.evidence.timestamp_ms;
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (cache, v) = (cache.clone(), v.clone());
                std::thread::spawn(move || (0..5).all(|_| check(&cache, &v, t, honest(&v)).is_ok()))
            })
            .collect();
        assert!(threads.into_iter().all(|h| h.join().unwrap()));
        let stats = cache.stats();
        assert_eq!((stats.hits + stats.misses, stats.entries), (20, 1));
    }
}
