//! Signed transactions: EIP-2718 decoding (legacy EIP-155, EIP-2930, EIP-1559), sender
//! recovery over secp256k1 and the keccak hash exactly as Ethereum computes them.
use alloy_consensus::transaction::SignerRecoverable;
use alloy_consensus::{Transaction, TxEnvelope};
use alloy_eips::eip2718::{Decodable2718, Encodable2718};
use alloy_primitives::{Address, Bytes, TxKind, B256, U256};

use crate::chain::ChainError;

/// A transaction whose signature has been checked and whose sender is known.
#[derive(Debug, Clone)]
pub struct SignedTx {
    pub envelope: TxEnvelope,
    pub sender: Address,
    pub hash: B256,
}

/// Fields of a transaction a dev account asks the node to sign (`eth_sendTransaction`),
/// or of a call to estimate. Missing fields are filled by the chain.
#[derive(Debug, Clone, Default)]
pub struct TxRequest {
    pub from: Option<Address>,
    pub to: Option<Address>,
    pub value: Option<U256>,
    pub data: Option<Bytes>,
    pub gas: Option<u64>,
    pub gas_price: Option<u128>,
    pub max_fee_per_gas: Option<u128>,
    pub max_priority_fee_per_gas: Option<u128>,
    pub nonce: Option<u64>,
}

/// Decodes a raw signed transaction as sent to `eth_sendRawTransaction` and recovers its
/// sender. `chain_id` is checked here so a foreign-chain tx never reaches the mempool.
pub fn decode_raw_transaction(raw: &[u8], chain_id: u64) -> Result<SignedTx, ChainError> {
    if raw.is_empty() {
        return Err(ChainError::MalformedTransaction("empty transaction bytes".into()));
    }
    let mut buf = raw;
    let envelope = TxEnvelope::decode_2718(&mut buf)
        .map_err(|e| ChainError::MalformedTransaction(e.to_string()))?;
    if !buf.is_empty() {
        return Err(ChainError::MalformedTransaction(format!(
            "{} trailing bytes after the transaction",
            buf.len()
        )));
    }
    match &envelope {
        TxEnvelope::Legacy(_) | TxEnvelope::Eip2930(_) | TxEnvelope::Eip1559(_) => {}
        other => return Err(ChainError::UnsupportedTxType(other.tx_type() as u8)),
    }
    match envelope.chain_id() {
        Some(id) if id == chain_id => {}
        got => return Err(ChainError::WrongChainId { expected: chain_id, got }),
    }
    let sender = match impersonated_sender(envelope.signature()) {
        Some(sender) => sender,
        None => envelope.recover_signer().map_err(|e| ChainError::InvalidSignature(e.to_string()))?,
    };
    let hash = *envelope.tx_hash();
    Ok(SignedTx { envelope, sender, hash })
}

/// Transactions per recovery thread below which a batch is not split further: one recovery
/// takes ~30 us.
const MIN_PER_THREAD: usize = 16;
/// Transactions a thread takes at a time from a batch being recovered in parallel.
const STEP: usize = 4;

/// [`decode_raw_transaction`] for each of `raws`, in order, each on its own (one's error does
/// not touch the others). Senders are recovered in parallel on the available cores when the
/// batch is large enough (see [`recovery`]).
pub fn decode_raw_transactions<T: AsRef<[u8]> + Sync>(raws: &[T], chain_id: u64) -> Vec<Result<SignedTx, ChainError>> {
    let helpers = recovery::helper_count().min(raws.len() / MIN_PER_THREAD);
    if helpers == 0 {
        return raws.iter().map(|r| decode_raw_transaction(r.as_ref(), chain_id)).collect();
    }
    recovery::decode(raws.iter().map(|r| r.as_ref().to_vec()).collect(), chain_id, helpers)
}

/// Parallel recovery: one parked helper thread per further core, started once. The calling
/// thread works too, and every thread takes `STEP` transactions at a time, so the caller
/// never waits for a helper that got no core (a busy machine): it waits only for the steps
/// a helper has taken. A panic while decoding resumes on the caller's thread.
mod recovery {
    use std::any::Any;
    use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc::{channel, Sender};
    use std::sync::{Arc, Condvar, Mutex, OnceLock};

    use super::{decode_raw_transaction, SignedTx, STEP};
    use crate::chain::ChainError;

    type Decoded = Result<SignedTx, ChainError>;

    struct Job {
        raws: Vec<Vec<u8>>,
        chain_id: u64,
        next: AtomicUsize,
        /// The decoded transactions by index, and how many are in.
        results: Mutex<(Vec<Option<Decoded>>, usize)>,
        all_done: Condvar,
        panic: Mutex<Option<Box<dyn Any + Send>>>,
    }

    impl Job {
        fn work(&self) {
            let len = self.raws.len();
            loop {
                let start = self.next.fetch_add(STEP, Ordering::Relaxed);
                if start >= len {
                    return;
                }
                let end = (start + STEP).min(len);
                let decoded = catch_unwind(AssertUnwindSafe(|| {
                    (start..end).map(|i| decode_raw_transaction(&self.raws[i], self.chain_id)).collect::<Vec<_>>()
                }));
                let decoded = decoded.unwrap_or_else(|panic| {
                    self.panic.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert(panic);
                    (start..end).map(|_| Err(ChainError::MalformedTransaction("decoding panicked".into()))).collect()
                });
                let mut results = self.results.lock().unwrap_or_else(|p| p.into_inner());
                for (slot, tx) in results.0[start..end].iter_mut().zip(decoded) {
                    *slot = Some(tx);
                }
                results.1 += end - start;
                if results.1 == len {
                    self.all_done.notify_all();
                }
            }
        }
    }

    pub(super) fn helper_count() -> usize {
        helpers().len()
    }

    /// The helpers' job queues: one per core beyond the first.
    fn helpers() -> &'static [Sender<Arc<Job>>] {
        static HELPERS: OnceLock<Vec<Sender<Arc<Job>>>> = OnceLock::new();
        HELPERS.get_or_init(|| {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            (1..cores)
                .filter_map(|i| {
                    let (tx, rx) = channel::<Arc<Job>>();
                    let spawned = std::thread::Builder::new().name(format!("og-recover-{i}")).spawn(move || {
                        for job in rx {
                            job.work();
                        }
                    });
                    spawned.ok().map(|_| tx)
                })
                .collect()
        })
    }

    pub(super) fn decode(raws: Vec<Vec<u8>>, chain_id: u64, helpers: usize) -> Vec<Decoded> {
        let len = raws.len();
        let job = Arc::new(Job {
            raws,
            chain_id,
            next: AtomicUsize::new(0),
            results: Mutex::new(((0..len).map(|_| None).collect(), 0)),
            all_done: Condvar::new(),
            panic: Mutex::new(None),
        });
        for helper in &self::helpers()[..helpers] {
            let _ = helper.send(job.clone()); // a helper gone (after a fork): the caller works alone
        }
        job.work();
        let mut results = job.results.lock().unwrap_or_else(|p| p.into_inner());
        while results.1 < len {
            results = job.all_done.wait(results).unwrap_or_else(|p| p.into_inner());
        }
        if let Some(panic) = job.panic.lock().unwrap_or_else(|p| p.into_inner()).take() {
            drop(results);
            resume_unwind(panic);
        }
        std::mem::take(&mut results.0).into_iter().map(|tx| tx.expect("every transaction was decoded")).collect()
    }
}

/// The top 12 bytes of `r` in the signature of a transaction sent for an impersonated
/// account (`anvil_impersonateAccount`): "og-devnet-im". Its low 20 bytes are the sender.
const IMPERSONATION_TAG: [u8; 12] = *b"og-devnet-im";

/// The stand-in signature of a transaction sent as `sender` without its key: unique per
/// sender (so equal fields from two senders hash apart), never a valid secp256k1 signature.
pub fn impersonation_signature(sender: Address) -> alloy_primitives::Signature {
    let mut r = [0u8; 32];
    r[..12].copy_from_slice(&IMPERSONATION_TAG);
    r[12..].copy_from_slice(sender.as_slice());
    alloy_primitives::Signature::new(alloy_primitives::U256::from_be_bytes(r), alloy_primitives::U256::from(1), false)
}

/// The sender a stand-in signature names (None for a real signature). The chain accepts
/// such a transaction only while that sender is impersonated.
pub fn impersonated_sender(sig: &alloy_primitives::Signature) -> Option<Address> {
    let r = sig.r().to_be_bytes::<32>();
    (r[..12] == IMPERSONATION_TAG && sig.s() == alloy_primitives::U256::from(1)).then(|| Address::from_slice(&r[12..]))
}

impl SignedTx {
    /// Whether this transaction carries a stand-in signature (impersonation).
    pub fn is_impersonated(&self) -> bool {
        impersonated_sender(self.envelope.signature()).is_some()
    }
}

impl SignedTx {
    pub fn from_envelope(envelope: TxEnvelope) -> Result<Self, ChainError> {
        let sender = match impersonated_sender(envelope.signature()) {
            Some(sender) => sender,
            None => envelope.recover_signer().map_err(|e| ChainError::InvalidSignature(e.to_string()))?,
        };
        let hash = *envelope.tx_hash();
        Ok(SignedTx { envelope, sender, hash })
    }
    pub fn raw(&self) -> Bytes {
        self.envelope.encoded_2718().into()
    }
    pub fn nonce(&self) -> u64 {
        self.envelope.nonce()
    }
    pub fn gas_limit(&self) -> u64 {
        self.envelope.gas_limit()
    }
    pub fn to(&self) -> Option<Address> {
        match self.envelope.kind() {
            TxKind::Call(a) => Some(a),
            TxKind::Create => None,
        }
    }
    pub fn value(&self) -> U256 {
        self.envelope.value()
    }
    pub fn input(&self) -> &Bytes {
        self.envelope.input()
    }
    /// The most the sender will pay per unit of gas (gasPrice for legacy txs).
    pub fn max_fee_per_gas(&self) -> u128 {
        self.envelope.max_fee_per_gas()
    }
    /// The tip on top of the base fee the sender offers at most.
    pub fn max_priority_fee_per_gas(&self) -> u128 {
        self.envelope
            .max_priority_fee_per_gas()
            .unwrap_or_else(|| self.envelope.max_fee_per_gas())
    }
    /// Price per gas actually paid at `base_fee`.
    pub fn effective_gas_price(&self, base_fee: u128) -> u128 {
        self.envelope.effective_gas_price(Some(base_fee as u64))
    }
    /// Tip per gas that goes to the block's coinbase at `base_fee`.
    pub fn effective_tip(&self, base_fee: u128) -> u128 {
        self.effective_gas_price(base_fee).saturating_sub(base_fee)
    }
    pub fn tx_type(&self) -> u8 {
        self.envelope.tx_type() as u8
    }
    pub fn intrinsic_gas(&self) -> u64 {
        let (addresses, keys) = self
            .envelope
            .access_list()
            .map(|l| (l.len() as u64, l.iter().map(|i| i.storage_keys.len() as u64).sum()))
            .unwrap_or((0, 0));
        intrinsic_gas(self.input(), self.to().is_none(), addresses, keys)
    }
}

/// Gas every transaction pays before any execution (Yellow Paper G_transaction, calldata
/// costs as in EIP-2028, access-list costs as in EIP-2930).
pub fn intrinsic_gas(data: &[u8], create: bool, al_addresses: u64, al_keys: u64) -> u64 {
    let zero = data.iter().filter(|b| **b == 0).count() as u64;
    let nonzero = data.len() as u64 - zero;
    let base = if create { 53_000 } else { 21_000 };
    // EIP-3860: creation pays 2 gas per 32-byte word of initcode.
    let initcode = if create { 2 * (data.len() as u64).div_ceil(32) } else { 0 };
    base + zero * 4 + nonzero * 16 + initcode + al_addresses * 2_400 + al_keys * 1_900
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{address, hex};

    // The signed transaction given as the example in EIP-155 (chain id 1).
    const EIP155_EXAMPLE: &str = "f86c098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a76400008025a028ef61340bd939bc2195fe537567866003e1a15d3c71ff63e1590620aa636276a067cbe9d8997f761aecb703304b3800ccf555c9f3dc64214b297fb1966a3b6d83";

    #[test]
    fn decodes_eip155_example_and_recovers_sender() {
        let raw = hex::decode(EIP155_EXAMPLE).unwrap();
        let tx = decode_raw_transaction(&raw, 1).unwrap();
        // The EIP-155 spec's example: private key 0x4646..46 signs this transaction.
        assert_eq!(tx.sender, address!("9d8A62f656a8d1615C1294fd71e9CFb3E4855A4F"));
        assert_eq!(tx.nonce(), 9);
        assert_eq!(tx.gas_limit(), 21_000);
        assert_eq!(tx.to(), Some(address!("3535353535353535353535353535353535353535")));
        assert_eq!(
            tx.hash,
            alloy_primitives::keccak256(&raw),
            "legacy tx hash is keccak of its RLP"
        );
        assert_eq!(tx.raw().as_ref(), raw.as_slice());
    }

    #[test]
    fn rejects_wrong_chain_id() {
        let raw = hex::decode(EIP155_EXAMPLE).unwrap();
        let err = decode_raw_transaction(&raw, 10742).unwrap_err();
        assert!(matches!(err, ChainError::WrongChainId { expected: 10742, got: Some(1) }));
    }

    #[test]
    fn rejects_malformed_rlp_and_trailing_bytes() {
        assert!(matches!(
            decode_raw_transaction(&[0xf8, 0x01], 1),
            Err(ChainError::MalformedTransaction(_))
        ));
        assert!(matches!(
            decode_raw_transaction(&[], 1),
            Err(ChainError::MalformedTransaction(_))
        ));
        let mut raw = hex::decode(EIP155_EXAMPLE).unwrap();
        raw.push(0);
        assert!(matches!(
            decode_raw_transaction(&raw, 1),
            Err(ChainError::MalformedTransaction(_))
        ));
    }

    #[test]
    fn rejects_bad_signature() {
        let mut raw = hex::decode(EIP155_EXAMPLE).unwrap();
        // r := 2^256 - 1 is above the curve order: no public key can be recovered.
        let r_start = raw.len() - 65;
        for b in &mut raw[r_start..r_start + 32] {
            *b = 0xff;
        }
        let err = decode_raw_transaction(&raw, 1).unwrap_err();
        assert!(matches!(err, ChainError::InvalidSignature(_)), "{err:?}");
    }

    #[test]
    fn batch_decoding_keeps_order_and_errors_per_transaction() {
        use crate::eth::keys::{UnsignedFields, DEFAULT_MNEMONIC};
        let keys = crate::eth::keys::DevKeys::from_mnemonic(DEFAULT_MNEMONIC, 3).unwrap();
        let mut raws: Vec<Vec<u8>> = (0..100u64)
            .map(|i| {
                let from = keys.addresses()[(i % 3) as usize];
                let fields = UnsignedFields {
                    chain_id: 7,
                    nonce: i,
                    to: Some(Address::ZERO),
                    value: U256::from(i),
                    data: Default::default(),
                    gas: 21_000,
                    gas_price: None,
                    max_fee_per_gas: 10,
                    max_priority_fee_per_gas: 1,
                };
                keys.sign(from, fields).unwrap().encoded_2718()
            })
            .collect();
        raws[10] = vec![0xf8, 0x01];
        raws[57] = hex::decode(EIP155_EXAMPLE).unwrap(); // chain 1, not 7
        raws[99].push(0);
        let batch = decode_raw_transactions(&raws, 7);
        assert_eq!(batch.len(), raws.len());
        for (i, (got, raw)) in batch.iter().zip(&raws).enumerate() {
            match (got, decode_raw_transaction(raw, 7)) {
                (Ok(a), Ok(b)) => {
                    assert_eq!((a.hash, a.sender, a.nonce()), (b.hash, b.sender, b.nonce()));
                    assert_eq!(a.sender, keys.addresses()[i % 3]);
                    assert_eq!(a.nonce(), i as u64);
                }
                (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "tx {i}"),
                (a, b) => panic!("tx {i}: batch {a:?}, single {b:?}"),
            }
        }
        assert!(matches!(batch[10], Err(ChainError::MalformedTransaction(_))));
        assert!(matches!(batch[57], Err(ChainError::WrongChainId { expected: 7, got: Some(1) })));
        assert!(matches!(batch[99], Err(ChainError::MalformedTransaction(_))));
        assert!(decode_raw_transactions::<Vec<u8>>(&[], 7).is_empty());
        // The parallel path itself, whatever the cores here (the caller alone with none).
        let parallel = recovery::decode(raws.clone(), 7, recovery::helper_count());
        let hashes = |v: &[Result<SignedTx, ChainError>]| v.iter().map(|r| r.as_ref().map(|t| t.hash).map_err(|e| e.to_string())).collect::<Vec<_>>();
        assert_eq!(hashes(&parallel), hashes(&batch));
    }

    #[test]
    fn intrinsic_gas_counts_calldata() {
        assert_eq!(intrinsic_gas(&[], false, 0, 0), 21_000);
        assert_eq!(intrinsic_gas(&[0, 1, 2], false, 0, 0), 21_000 + 4 + 32);
        assert_eq!(intrinsic_gas(&[], true, 1, 2), 53_000 + 2_400 + 3_800);
    }
}
