//! What JSON-RPC clients rely on: EIP-1559 base fees from block to block, the pending block,
//! fee history, blocks by hash, genesis code and storage, signing.
use alloy_primitives::{address, b256, Address, B256, U256};

use super::*;
use crate::eth::keys::UnsignedFields;

const GWEI: u128 = 1_000_000_000;
const T0: u64 = 1_700_000_000_000;
/// Room for exactly four transfers: a block with four is full, with two at the target.
const SMALL_GAS_LIMIT: u64 = 84_000;

fn chain_with(edit: impl FnOnce(&mut Genesis)) -> Chain {
    let mut g = Genesis::new(T0);
    edit(&mut g);
    Chain::new(&g, MiningMode::Manual).unwrap()
}

fn small_chain() -> Chain {
    chain_with(|g| g.gas_limit = SMALL_GAS_LIMIT)
}

fn transfer(c: &Chain, from: usize, nonce: u64, max_fee: u128, tip: u128) -> SignedTx {
    let fields = UnsignedFields {
        chain_id: c.chain_id(),
        nonce,
        to: Some(address!("00000000000000000000000000000000000000aa")),
        value: U256::from(1),
        data: Default::default(),
        gas: 21_000,
        gas_price: None,
        max_fee_per_gas: max_fee,
        max_priority_fee_per_gas: tip,
    };
    SignedTx::from_envelope(c.keys().sign(c.keys().addresses()[from], fields).unwrap()).unwrap()
}

fn mine(c: &mut Chain, n: u64) -> u64 {
    let number = c.seal_block(T0 + n * 1000).unwrap().header.number;
    c.publish(number).unwrap();
    number
}

fn fill_block(c: &mut Chain, nonce: u64) {
    for from in 0..4 {
        c.submit(transfer(c, from, nonce, 10 * GWEI, GWEI)).unwrap();
    }
}

#[test]
fn a_full_block_raises_the_base_fee_and_empty_ones_bring_it_back_to_the_floor() {
    let mut c = small_chain();
    assert_eq!(c.base_fee(), GWEI as u64, "an empty genesis block cannot go below the 1 gwei floor");
    fill_block(&mut c, 0);
    mine(&mut c, 1);
    assert_eq!(c.block(BlockTag::Latest).unwrap().unwrap().header.gas_used, SMALL_GAS_LIMIT);
    let raised = (GWEI + GWEI / 8) as u64;
    assert_eq!(c.base_fee(), raised, "+12.5 % after a full block");
    // The next block is charged at its own base fee.
    let a0 = c.keys().addresses()[0];
    let before = c.account(&a0, BlockTag::Latest).unwrap().balance;
    c.submit(transfer(&c, 0, 1, 10 * GWEI, GWEI)).unwrap();
    mine(&mut c, 2);
    let block = c.block(BlockTag::Latest).unwrap().unwrap();
    assert_eq!(block.header.base_fee, raised);
    assert_eq!(block.receipts[0].effective_gas_price, raised as u128 + GWEI);
    let paid = before - c.account(&a0, BlockTag::Latest).unwrap().balance;
    assert_eq!(paid, U256::from(21_000 * (raised as u128 + GWEI) + 1));
    // One transfer of four: below target, so it falls, but not below the floor.
    assert!(c.base_fee() < raised && c.base_fee() >= GWEI as u64);
    mine(&mut c, 3);
    assert_eq!(c.base_fee(), GWEI as u64);
}

#[test]
fn a_transaction_below_the_next_base_fee_is_refused_and_a_fixed_base_fee_never_moves() {
    let mut c = small_chain();
    fill_block(&mut c, 0);
    mine(&mut c, 1);
    let err = c.submit(transfer(&c, 0, 1, GWEI, 0)).unwrap_err();
    assert!(matches!(err, ChainError::FeeTooLow { base_fee, .. } if base_fee == GWEI + GWEI / 8), "{err:?}");

    let mut fixed = chain_with(|g| {
        g.gas_limit = SMALL_GAS_LIMIT;
        g.base_fee_change = false;
        g.base_fee = 7 * GWEI as u64;
    });
    fill_block(&mut fixed, 0);
    mine(&mut fixed, 1);
    mine(&mut fixed, 2);
    assert_eq!(fixed.base_fee(), 7 * GWEI as u64);
}

#[test]
fn a_high_initial_base_fee_falls_by_an_eighth_per_empty_block_down_to_1_gwei() {
    let mut c = chain_with(|g| g.base_fee = 8 * GWEI as u64);
    assert_eq!(c.base_fee(), 7 * GWEI as u64);
    for n in 1..40 {
        mine(&mut c, n);
    }
    assert_eq!(c.base_fee(), GWEI as u64);
}

#[test]
fn a_restored_chain_takes_its_base_fees_from_the_stored_headers() {
    let mut c = small_chain();
    fill_block(&mut c, 0);
    mine(&mut c, 1);
    let stored: Vec<StoredBlock> = (0..=c.head()).map(|n| c.block(BlockTag::Number(n)).unwrap().unwrap().to_stored()).collect();
    let g = Genesis { gas_limit: SMALL_GAS_LIMIT, ..Genesis::new(T0) };
    let restored = Chain::restore(&g, MiningMode::Manual, stored, c.accounts()).unwrap();
    assert_eq!(restored.base_fee(), c.base_fee());
    assert_eq!(restored.base_fee_rule(), c.base_fee_rule());
}

#[test]
fn the_pending_block_holds_what_the_next_block_would_and_changes_nothing() {
    let mut c = small_chain();
    mine(&mut c, 1);
    for from in 0..5 {
        c.submit(transfer(&c, from, 0, 10 * GWEI, (from as u128 + 1) * GWEI)).unwrap();
    }
    let pending = c.pending_block();
    assert_eq!(pending.header.number, 2);
    assert_eq!(pending.header.parent_hash, c.block(BlockTag::Latest).unwrap().unwrap().hash);
    assert_eq!(pending.header.base_fee, c.base_fee());
    // Four fit; the best tips first.
    assert_eq!(pending.transactions.len(), 4);
    assert_eq!(pending.header.gas_used, SMALL_GAS_LIMIT);
    assert_eq!(pending.transactions[0].sender, c.keys().addresses()[4]);
    assert_eq!(c.head(), 1);
    assert_eq!(c.pool_counts(), (5, 0));
    // Sealing gives the same block.
    let sealed = c.seal_block(T0 + 2000).unwrap();
    let hashes = |b: &Block| b.transactions.iter().map(|t| t.hash).collect::<Vec<_>>();
    assert_eq!(hashes(sealed), hashes(&pending));
    assert_eq!(sealed.header.state_root, pending.header.state_root);
    // While it awaits its commit, it is the pending block.
    assert_eq!(c.pending_block().hash, c.staged_hash().unwrap());
}

#[test]
fn fee_history_reports_base_fees_ratios_and_tips_weighted_by_gas() {
    let mut c = small_chain();
    // Tips of 1, 2, 3 and 4 gwei: each a quarter of the gas.
    for from in 0..4 {
        c.submit(transfer(&c, from, 0, 10 * GWEI, (from as u128 + 1) * GWEI)).unwrap();
    }
    mine(&mut c, 1);
    mine(&mut c, 2);
    let h = c.fee_history(3, BlockTag::Latest, &[0.0, 25.0, 50.0, 100.0]).unwrap();
    assert_eq!(h.oldest_block, 0);
    let raised = GWEI as u64 + GWEI as u64 / 8;
    // After the empty block 2 it would fall by an eighth, but not below the 1 gwei floor.
    assert_eq!(h.base_fee_per_gas, vec![GWEI as u64, GWEI as u64, raised, GWEI as u64]);
    assert_eq!(h.gas_used_ratio, vec![0.0, 1.0, 0.0]);
    let reward = h.reward.unwrap();
    assert_eq!(reward[0], vec![0; 4], "an empty block rewards 0");
    assert_eq!(reward[1], vec![GWEI, GWEI, 2 * GWEI, 4 * GWEI]);
    assert!(c.fee_history(2, BlockTag::Latest, &[]).unwrap().reward.is_none());
    // With "pending", the pending block ends the history.
    c.submit(transfer(&c, 0, 1, 10 * GWEI, 5 * GWEI)).unwrap();
    let h = c.fee_history(2, BlockTag::Pending, &[50.0]).unwrap();
    assert_eq!(h.oldest_block, 2);
    assert_eq!(h.reward.unwrap()[1], vec![5 * GWEI]);
}

#[test]
fn blocks_are_found_by_hash_and_an_unknown_hash_is_not_found() {
    let mut c = small_chain();
    mine(&mut c, 1);
    let hash = c.block(BlockTag::Number(1)).unwrap().unwrap().hash;
    assert_eq!(c.resolve(BlockTag::Hash(hash)).unwrap(), 1);
    assert_eq!(c.block(BlockTag::Hash(hash)).unwrap().unwrap().header.number, 1);
    let a0 = c.keys().addresses()[0];
    assert_eq!(c.account(&a0, BlockTag::Hash(hash)).unwrap(), c.account(&a0, BlockTag::Number(1)).unwrap());
    let unknown = B256::repeat_byte(0x42);
    assert!(matches!(c.account(&a0, BlockTag::Hash(unknown)), Err(ChainError::BlockNotFound(h)) if h == unknown));
    assert!(c.block(BlockTag::Hash(unknown)).unwrap().is_none());
    assert!(c.block(BlockTag::Pending).unwrap().is_none(), "the pending block is built, not stored");
}

#[test]
fn genesis_code_and_storage_run_on_the_evm() {
    let contract = address!("00000000000000000000000000000000000000c0");
    let g = Genesis::new(T0)
        .apply_json(
            r#"{"alloc":{"00000000000000000000000000000000000000c0":{"balance":"0x10","nonce":"0x3",
            "code":"0x600160005500","storage":{"0x00":"0x2a"}}}}"#,
        )
        .unwrap();
    let c = Chain::new(&g, MiningMode::Manual).unwrap();
    assert_eq!(c.code(&contract, BlockTag::Latest).unwrap().as_ref(), &[0x60, 0x01, 0x60, 0x00, 0x55, 0x00]);
    assert_eq!(c.storage(&contract, &B256::ZERO, BlockTag::Number(0)).unwrap(), B256::with_last_byte(0x2a));
    assert_eq!(c.storage(&contract, &B256::with_last_byte(1), BlockTag::Latest).unwrap(), B256::ZERO);
    let account = c.account(&contract, BlockTag::Latest).unwrap();
    assert_eq!((account.balance, account.nonce), (U256::from(16), 3));
    let plain = Chain::new(&Genesis::new(T0), MiningMode::Manual).unwrap();
    assert_ne!(c.block(BlockTag::Earliest).unwrap().unwrap().header.state_root, plain.block(BlockTag::Earliest).unwrap().unwrap().header.state_root);
    // The genesis code runs: SSTORE(0, 1) costs more than a transfer.
    let req = TxRequest { from: Some(c.keys().addresses()[0]), to: Some(contract), ..Default::default() };
    let gas = c.estimate_gas(&req).unwrap();
    assert!(gas > 21_000 + 2_000, "{gas}");
    assert_eq!(c.call(&req, BlockTag::Latest).unwrap(), Bytes::new());
    let mut c = c;
    let tx = super::tests::sign_with(&c, 0, 0, |f| {
        f.to = Some(contract);
        f.gas = gas;
    });
    let h = c.submit(tx).unwrap();
    super::tests::mine(&mut c, T0 + 1000);
    let (block, i) = c.receipt(&h).unwrap().unwrap();
    assert!(block.receipts[i].status);
    assert_eq!(c.storage(&contract, &B256::ZERO, BlockTag::Latest).unwrap(), B256::with_last_byte(1));
    assert_eq!(c.storage(&contract, &B256::ZERO, BlockTag::Number(0)).unwrap(), B256::with_last_byte(0x2a));
}

#[test]
fn signs_eip_712_typed_data_as_the_eip_example_hashes_it() {
    let c = small_chain();
    let signer = c.keys().addresses()[0];
    // The "Mail" example of EIP-712, whose signing hash the EIP gives.
    let typed = r#"{
        "types": {
            "EIP712Domain": [{"name":"name","type":"string"},{"name":"version","type":"string"},
                             {"name":"chainId","type":"uint256"},{"name":"verifyingContract","type":"address"}],
            "Person": [{"name":"name","type":"string"},{"name":"wallet","type":"address"}],
            "Mail": [{"name":"from","type":"Person"},{"name":"to","type":"Person"},{"name":"contents","type":"string"}]
        },
        "primaryType": "Mail",
        "domain": {"name":"Ether Mail","version":"1","chainId":1,"verifyingContract":"0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC"},
        "message": {
            "from": {"name":"Cow","wallet":"0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826"},
            "to": {"name":"Bob","wallet":"0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB"},
            "contents": "Hello, Bob!"
        }
    }"#;
    let sig = c.sign_typed_data(signer, typed).unwrap();
    let hash = b256!("be609aee343fb3c4b28e1df9e632fca64fcfaede20f02e86244efddf30957bd2");
    assert_eq!(sig.recover_address_from_prehash(&hash).unwrap(), signer);
    assert!(matches!(c.sign_typed_data(signer, "{}"), Err(ChainError::InvalidArgument(_))));
    assert!(matches!(c.sign_typed_data(Address::ZERO, typed), Err(ChainError::UnknownAccount(_))));
}

#[test]
fn sign_transaction_fills_in_like_send_transaction_without_pooling() {
    let mut c = small_chain();
    let from = c.keys().addresses()[1];
    let req = TxRequest { from: Some(from), to: Some(Address::repeat_byte(7)), value: Some(U256::from(5)), ..Default::default() };
    let signed = c.sign_transaction(&req).unwrap();
    assert_eq!((signed.sender, signed.nonce(), signed.gas_limit()), (from, 0, 21_000));
    assert_eq!(signed.max_fee_per_gas(), 2 * c.base_fee() as u128 + SUGGESTED_TIP);
    assert_eq!(c.pool_counts(), (0, 0));
    // The same bytes are accepted as a raw transaction.
    assert_eq!(c.submit_raw(&signed.raw()).unwrap(), signed.hash);
}
