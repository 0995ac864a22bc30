//! The TEE registry at 0x703c…Abda6: the enclaves of the simulated nodes, answered in the
//! SDK's `TEERegistry.abi`. A TEE's id is keccak256 of its response-signing key (SPKI DER).
use alloy_primitives::{keccak256, Address, Bytes, B256, U256};
use alloy_sol_types::SolCall;
use serde::Deserialize;

use crate::eth::abi::tee_registry as abi;

#[derive(Debug, Clone, Deserialize)]
pub struct EnclaveRecord {
    pub owner: Address,
    pub endpoint: String,
    /// Response-signing key, SubjectPublicKeyInfo DER.
    pub public_key: Bytes,
    /// The enclave's leaf certificate, DER.
    pub certificate: Bytes,
    /// keccak256(PCR0 ‖ PCR1 ‖ PCR2) of what the enclave runs.
    pub pcr_hash: B256,
    pub tee_type: u8,
    pub registered_at_ms: u64,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

impl EnclaveRecord {
    pub fn id(&self) -> B256 {
        keccak256(&self.public_key)
    }

    fn info(&self, heartbeat_ms: u64) -> abi::TEEInfo {
        abi::TEEInfo {
            owner: self.owner,
            paymentAddress: self.owner,
            endpoint: self.endpoint.clone(),
            publicKey: self.public_key.clone(),
            tlsCertificate: self.certificate.clone(),
            pcrHash: self.pcr_hash,
            teeType: self.tee_type,
            enabled: self.enabled,
            registeredAt: U256::from(self.registered_at_ms / 1000),
            lastHeartbeatAt: U256::from(heartbeat_ms / 1000),
            ohttpConfig: abi::OHTTPConfig {
                keyId: 0,
                kemId: 0,
                kdfId: 0,
                aeadId: 0,
                publicKey: Bytes::new(),
                keyConfig: Bytes::new(),
                registeredAt: U256::ZERO,
            },
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct TeeRegistry {
    enclaves: Vec<EnclaveRecord>,
}

impl TeeRegistry {
    pub fn register(&mut self, record: EnclaveRecord) {
        let id = record.id();
        self.enclaves.retain(|e| e.id() != id);
        self.enclaves.push(record);
    }

    /// The enclave with id `id` (keccak256 of its key), as registered now.
    pub fn get(&self, id: &B256) -> Option<&EnclaveRecord> {
        self.enclaves.iter().find(|e| e.id() == *id)
    }

    /// Answers an `eth_call`; the error is a revert reason.
    pub fn call(&self, data: &[u8], now_ms: u64) -> Result<Vec<u8>, String> {
        let selector: [u8; 4] = data.get(..4).and_then(|s| s.try_into().ok()).ok_or("calldata is shorter than a selector")?;
        let bad = |e: alloy_sol_types::Error| format!("malformed call arguments: {e}");
        let of_type = |t: u8| self.enclaves.iter().filter(move |e| e.tee_type == t);
        let find = |id: &B256| self.enclaves.iter().find(|e| e.id() == *id);
        Ok(match selector {
            abi::getActiveTEEsCall::SELECTOR => {
                let t = abi::getActiveTEEsCall::abi_decode(data).map_err(bad)?.teeType;
                abi::getActiveTEEsCall::abi_encode_returns(&of_type(t).filter(|e| e.enabled).map(|e| e.info(now_ms)).collect())
            }
            abi::getEnabledTEEsCall::SELECTOR => {
                let t = abi::getEnabledTEEsCall::abi_decode(data).map_err(bad)?.teeType;
                abi::getEnabledTEEsCall::abi_encode_returns(&of_type(t).filter(|e| e.enabled).map(EnclaveRecord::id).collect())
            }
            abi::getTEEsByTypeCall::SELECTOR => {
                let t = abi::getTEEsByTypeCall::abi_decode(data).map_err(bad)?.teeType;
                abi::getTEEsByTypeCall::abi_encode_returns(&of_type(t).map(EnclaveRecord::id).collect())
            }
            abi::getTEECall::SELECTOR => {
                let id = abi::getTEECall::abi_decode(data).map_err(bad)?.teeId;
                let e = find(&id).ok_or_else(|| format!("no TEE with id {id}"))?;
                abi::getTEECall::abi_encode_returns(&e.info(now_ms))
            }
            abi::isTEEActiveCall::SELECTOR => {
                let id = abi::isTEEActiveCall::abi_decode(data).map_err(bad)?.teeId;
                abi::isTEEActiveCall::abi_encode_returns(&find(&id).is_some_and(|e| e.enabled))
            }
            abi::isTEEEnabledCall::SELECTOR => {
                let id = abi::isTEEEnabledCall::abi_decode(data).map_err(bad)?.teeId;
                abi::isTEEEnabledCall::abi_encode_returns(&find(&id).is_some_and(|e| e.enabled))
            }
            other => return Err(format!("unknown function selector 0x{} for the TEE registry", alloy_primitives::hex::encode(other))),
        })
    }
}
