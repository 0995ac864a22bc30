//! revm's `Database` over a [`StateView`]: reads only, never fails.
use std::convert::Infallible;

use alloy_primitives::{Address, B256, U256};
use revm::bytecode::Bytecode;
use revm::database_interface::DatabaseRef;
use revm::state::AccountInfo;

use super::StateView;

pub struct ViewDb<'a> {
    pub view: &'a dyn StateView,
}

impl DatabaseRef for ViewDb<'_> {
    type Error = Infallible;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, Infallible> {
        let account = self.view.account(&address);
        let code = self.view.code(&address);
        if account == Default::default() && code.is_none() {
            return Ok(None);
        }
        let (code_hash, code) = match code {
            Some((hash, code)) => (hash, Some(Bytecode::new_raw(code))),
            None => (revm::primitives::KECCAK_EMPTY, None),
        };
        Ok(Some(AccountInfo { balance: account.balance, nonce: account.nonce, code_hash, code, ..Default::default() }))
    }

    fn code_by_hash_ref(&self, _hash: B256) -> Result<Bytecode, Infallible> {
        // Code always comes with its account (`basic_ref`), so revm never asks by hash.
        Ok(Bytecode::default())
    }

    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, Infallible> {
        Ok(self.view.storage(&address, index))
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, Infallible> {
        Ok(self.view.block_hash(number))
    }
}
