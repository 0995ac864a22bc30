//! What the chain knows of each registered model: enough to validate a request and a result
//! without the model itself (the files and runtimes live on the Python side).
use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::chain::ChainError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    /// A classic ML model run by onnxruntime: `run(modelId, mode, ModelInput)`.
    Onnx,
    /// A language model run by llama.cpp: `runLLMCompletion` / `runLLMChat`.
    Gguf,
    /// A tensor model run by torch (a `torch.export` program or TorchScript): `run`, as ONNX.
    Torch,
}

impl ModelKind {
    pub fn is_language_model(self) -> bool {
        self == ModelKind::Gguf
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TensorSpec {
    pub name: String,
    /// onnxruntime's element type without the `tensor()` wrapper: float, double, int64, string, ...
    pub dtype: String,
    /// -1 for a dimension of any size.
    pub shape: Vec<i64>,
    /// The program records no shape at all (TorchScript): any shape is accepted, and `shape`
    /// is empty.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub any_shape: bool,
}

impl TensorSpec {
    pub fn is_string(&self) -> bool {
        self.dtype == "string"
    }
    pub fn is_integer(&self) -> bool {
        self.dtype.starts_with("int") || self.dtype.starts_with("uint") || self.dtype == "bool"
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelSpec {
    /// Content id: blake3 of the model file, hex.
    pub id: String,
    pub name: String,
    pub kind: ModelKind,
    #[serde(default)]
    pub inputs: Vec<TensorSpec>,
    #[serde(default)]
    pub outputs: Vec<TensorSpec>,
    /// Verification modes the model can be run in (InferenceMode numbers).
    pub modes: Vec<u8>,
    /// Language models: tokens of context.
    #[serde(default)]
    pub context_length: u32,
    /// Why a mode is not (yet) available, by mode number: "ZKML circuit set-up in progress".
    #[serde(default)]
    pub unsupported: std::collections::BTreeMap<u8, String>,
}

pub use crate::pipe::Mode;

/// The names of the modes by number (the table is [`Mode`]'s).
pub const MODE_NAMES: [&str; Mode::ALL.len()] = {
    let mut names = [""; Mode::ALL.len()];
    let mut i = 0;
    while i < names.len() {
        names[i] = Mode::ALL[i].name();
        i += 1;
    }
    names
};

/// A mode number's name ("mode 7" for a number that is no mode).
pub fn mode_name(mode: u8) -> String {
    Mode::from_number(mode).map(|m| m.name().to_string()).unwrap_or_else(|| format!("mode {mode}"))
}

#[derive(Debug, Clone, Default)]
pub struct ModelRegistry {
    models: HashMap<String, ModelSpec>,
}

impl ModelRegistry {
    pub fn register(&mut self, spec: ModelSpec) -> Result<(), ChainError> {
        if spec.id.is_empty() || spec.modes.iter().any(|m| *m as usize >= MODE_NAMES.len()) {
            return Err(ChainError::InvalidArgument(format!("invalid model spec for {:?}", spec.id)));
        }
        self.models.insert(spec.id.clone(), spec);
        Ok(())
    }

    pub fn get(&self, id: &str) -> Option<&ModelSpec> {
        self.models.get(id)
    }

    pub fn all(&self) -> Vec<&ModelSpec> {
        let mut v: Vec<&ModelSpec> = self.models.values().collect();
        v.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
        v
    }
}

#[cfg(test)]
impl ModelSpec {
    /// A float32 ONNX model with one input and one output, for tests.
    pub fn test_onnx(id: &str, input: (&str, Vec<i64>), output: (&str, Vec<i64>), modes: Vec<u8>) -> Self {
        let tensor = |(name, shape): (&str, Vec<i64>)| TensorSpec { name: name.into(), dtype: "float".into(), shape, any_shape: false };
        ModelSpec {
            id: id.into(),
            name: id.into(),
            kind: ModelKind::Onnx,
            inputs: vec![tensor(input)],
            outputs: vec![tensor(output)],
            modes,
            context_length: 0,
            unsupported: Default::default(),
        }
    }
}
