pub mod chain;
pub mod pipe;
pub mod verify;
pub mod eth;
#[cfg(feature = "python")]
mod py;
