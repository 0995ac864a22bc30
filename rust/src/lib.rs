pub mod chain;
pub mod eth;
#[cfg(feature = "python")]
mod py;
