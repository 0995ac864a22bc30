pub mod chain;
pub mod pipe;
pub mod verify;
pub mod eth;
pub mod evm;
#[cfg(feature = "python")]
mod py;
