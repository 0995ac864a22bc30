//! Running one transaction on revm: environment in, [`Executed`] (outcome, logs, state
//! diff) out. The state is never written here; the caller applies the diff.
use alloy_primitives::{Address, Bytes, TxKind, U256};
use revm::context::{BlockEnv as RevmBlock, CfgEnv, Context, Evm, FrameStack, Journal, TxEnv};
use revm::context_interface::result::{EVMError, ExecResultAndState, ExecutionResult};
use revm::database_interface::WrapDatabaseRef;
use revm::handler::instructions::EthInstructions;
use revm::handler::{EthFrame, ExecuteEvm};
use revm::interpreter::interpreter::EthInterpreter;
use revm::primitives::hardfork::SpecId;

use super::db::ViewDb;
use super::host::InferenceHost;
use super::precompiles::Natives;
use super::{BlockEnv, Executed, InvalidTx, Outcome, StateDiff, StateView, TxInput};
use crate::chain::Account;

pub type EvmContext<'a> = Context<RevmBlock, TxEnv, CfgEnv, WrapDatabaseRef<ViewDb<'a>>, Journal<WrapDatabaseRef<ViewDb<'a>>>, ()>;
type NativeEvm<'a, 'h, I> = Evm<EvmContext<'a>, I, EthInstructions<EthInterpreter, EvmContext<'a>>, Natives<'h>, EthFrame<EthInterpreter>>;

/// Which checks an execution makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExecOptions {
    /// Nonce, balance and base fee are checked and fees charged (a real transaction).
    pub checked: bool,
    /// Fees are charged (a simulation of a real transaction), checks or not.
    pub charge_fees: bool,
}

impl ExecOptions {
    /// A transaction in a block.
    pub fn transaction() -> Self {
        ExecOptions { checked: true, charge_fees: true }
    }
    /// A pooled transaction simulated to record its inference calls: as in a block, but
    /// its nonce and balance are the pool's business.
    pub fn simulation() -> Self {
        ExecOptions { checked: false, charge_fees: true }
    }
    /// `eth_call`: no checks, no fees.
    pub fn call() -> Self {
        ExecOptions { checked: false, charge_fees: false }
    }
    /// `eth_estimateGas`: as a call.
    pub fn estimate() -> Self {
        Self::call()
    }
}

pub(super) fn context<'a>(view: &'a dyn StateView, block: &BlockEnv, options: ExecOptions) -> EvmContext<'a> {
    let mut ctx: EvmContext<'a> = Context::new(WrapDatabaseRef(ViewDb { view }), block.spec);
    // Gas costs follow the spec too (setting `spec` alone would keep the default fork's).
    ctx.cfg.set_spec_and_mainnet_gas_params(block.spec);
    ctx.cfg.chain_id = block.chain_id;
    ctx.cfg.disable_nonce_check = !options.checked;
    ctx.cfg.disable_balance_check = !options.checked;
    ctx.cfg.disable_base_fee = !options.checked;
    ctx.cfg.disable_fee_charge = !options.charge_fees;
    ctx.cfg.disable_priority_fee_check = !options.checked;
    // A call may come "from" a contract (EIP-3607 refuses that for signed transactions only).
    ctx.cfg.disable_eip3607 = !options.checked;
    // The block's gas limit is the chain's business (the pool checks it).
    ctx.cfg.disable_block_gas_limit = true;
    ctx.block = RevmBlock {
        number: U256::from(block.number),
        beneficiary: block.coinbase,
        timestamp: U256::from(block.timestamp),
        gas_limit: block.gas_limit,
        basefee: block.base_fee,
        ..Default::default()
    };
    ctx
}

pub(super) fn tx_env(tx: &TxInput, chain_id: u64) -> TxEnv {
    let mut env = TxEnv {
        tx_type: tx.tx_type,
        caller: tx.caller,
        gas_limit: tx.gas_limit,
        gas_price: tx.max_fee_per_gas,
        kind: tx.to.map(TxKind::Call).unwrap_or(TxKind::Create),
        value: tx.value,
        data: tx.data.clone(),
        nonce: tx.nonce.unwrap_or_default(),
        chain_id: Some(chain_id),
        gas_priority_fee: tx.max_priority_fee_per_gas,
        ..Default::default()
    };
    env.access_list = revm::context::transaction::AccessList(
        tx.access_list
            .iter()
            .map(|(address, keys)| revm::context::transaction::AccessListItem { address: *address, storage_keys: keys.clone() })
            .collect(),
    );
    env
}

pub(super) fn evm<'a, 'h, I>(ctx: EvmContext<'a>, host: &'h mut dyn InferenceHost, inspector: I, spec: SpecId) -> NativeEvm<'a, 'h, I> {
    Evm {
        ctx,
        inspector,
        instruction: EthInstructions::new_mainnet_with_spec(spec),
        precompiles: Natives::new(spec, host),
        frame_stack: FrameStack::new_prealloc(8),
    }
}

/// Executes `tx` in `block` over `view`. An `Err` is a transaction the EVM refuses to run
/// (nothing changes); a revert or halt is an `Ok` with that outcome.
pub fn execute(
    view: &dyn StateView,
    block: &BlockEnv,
    tx: &TxInput,
    host: &mut dyn InferenceHost,
    options: ExecOptions,
) -> Result<Executed, InvalidTx> {
    let mut machine = evm(context(view, block, options), host, (), block.spec);
    let result = machine.transact(tx_env(tx, block.chain_id));
    executed(result)
}

pub(super) type TransactResult = Result<ExecResultAndState<ExecutionResult>, EVMError<std::convert::Infallible>>;

pub(super) fn executed(result: TransactResult) -> Result<Executed, InvalidTx> {
    let ExecResultAndState { result, state } = result.map_err(|e| InvalidTx(e.to_string()))?;
    let gas_used = result.tx_gas_used();
    let created = result.created_address();
    let (outcome, output, logs) = match result {
        ExecutionResult::Success { output, logs, .. } => (Outcome::Success, output.into_data(), logs),
        ExecutionResult::Revert { output, .. } => (Outcome::Revert(output.clone()), output, vec![]),
        ExecutionResult::Halt { reason, .. } => (Outcome::Halt(halt_reason(&reason)), Bytes::new(), vec![]),
    };
    let mut diff = StateDiff::default();
    let mut addresses: Vec<&Address> = state.keys().collect();
    addresses.sort();
    for address in addresses {
        let account = &state[address];
        if !account.is_touched() {
            continue;
        }
        if account.is_selfdestructed() {
            diff.accounts.push((*address, Account::default()));
            diff.code.push((*address, Bytes::new()));
            for (slot, _) in account.storage.iter() {
                diff.storage.push((*address, *slot, U256::ZERO));
            }
            continue;
        }
        diff.accounts.push((*address, Account { balance: account.info.balance, nonce: account.info.nonce }));
        if account.is_created() {
            let code = account.info.code.as_ref().map(|c| c.original_bytes()).unwrap_or_default();
            diff.code.push((*address, code));
        }
        let mut slots: Vec<(U256, U256)> =
            account.storage.iter().filter(|(_, s)| s.is_changed()).map(|(k, s)| (*k, s.present_value)).collect();
        slots.sort();
        diff.storage.extend(slots.into_iter().map(|(k, v)| (*address, k, v)));
    }
    Ok(Executed { outcome, gas_used, output, logs, created, diff })
}

fn halt_reason(reason: &revm::context_interface::result::HaltReason) -> String {
    use revm::context_interface::result::HaltReason as H;
    match reason {
        H::OutOfGas(_) => "out of gas".into(),
        H::OpcodeNotFound | H::InvalidFEOpcode => "invalid opcode".into(),
        H::CreateContractSizeLimit => {
            format!("contract code size exceeds the limit of {} bytes (EIP-170)", super::MAX_CODE_SIZE)
        }
        H::CreateInitCodeSizeLimit => {
            format!("initcode size exceeds the limit of {} bytes (EIP-3860)", super::MAX_INITCODE_SIZE)
        }
        other => other.to_string(),
    }
}
