//! A job's number tensors as the inference nodes feed them to a model: each (value, decimals)
//! pair of the payload as the float64 nearest value / 10^decimals, decoded here without the
//! GIL instead of in Python (parsing 256 string pairs cost a node ~50 µs, converting them ~100).
//!
//! The floats are bit for bit what the nodes' Python computed (`_floats_from_fixed`): where the
//! value and 10^decimals are both exact float64s (|value| < 2^53, 0 ≤ decimals ≤ 22: every
//! float32 the SDK sends) one IEEE division, which rounds the exact quotient; otherwise the
//! decimal literal "{value}e{-decimals}" parsed, which Rust, like Python's float(), rounds
//! correctly. A tensor with any value that is not a plain integer literal is left as it was.
use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::value::RawValue;

/// 10^0 .. 10^22: each exactly a float64.
const EXACT_POWERS_OF_TEN: [f64; 23] =
    [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22];

/// A payload with its decoded tensors taken out.
#[derive(Debug, Clone, PartialEq)]
pub struct SplitJob {
    /// The payload, each decoded tensor's `values` replaced by `"f64": i` (its index in
    /// `floats`); everything else as it was.
    pub light: String,
    pub floats: Vec<Vec<f64>>,
}

fn plain_integer(s: &str) -> bool {
    let digits = s.strip_prefix('-').unwrap_or(s);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// value / 10^decimals as the nodes round it; None unless both are plain integer literals.
pub fn fixed_to_f64(value: &str, decimals: &str) -> Option<f64> {
    if !plain_integer(value) || !plain_integer(decimals) {
        return None;
    }
    let d: i64 = decimals.parse().ok()?;
    if let (Ok(v), Ok(i)) = (value.parse::<i64>(), usize::try_from(d)) {
        if v.unsigned_abs() < 1 << 53 && i < EXACT_POWERS_OF_TEN.len() {
            return Some(v as f64 / EXACT_POWERS_OF_TEN[i]);
        }
    }
    // Leading zeros and "-0" as Python's int() reads them (-0 is 0: the float is +0.0).
    let (sign, digits) = value.strip_prefix('-').map_or(("", value), |d| ("-", d));
    let digits = digits.trim_start_matches('0');
    let (sign, digits) = if digits.is_empty() { ("", "0") } else { (sign, digits) };
    let literal = format!("{sign}{digits}e{}", -(d as i128));
    literal.parse().ok()
}

/// A tensor's pairs as borrowed strings: no allocation per value. The core writes them without
/// escapes; a pair with one is not a plain integer literal anyway, and the tensor stays as it was.
#[derive(Deserialize)]
struct Pairs<'a>(#[serde(borrow)] Vec<(&'a str, &'a str)>);

fn decode(values: &RawValue) -> Option<Vec<f64>> {
    let Pairs(pairs) = serde_json::from_str(values.get()).ok()?;
    pairs.iter().map(|(v, d)| fixed_to_f64(v, d)).collect()
}

/// Takes the decodable number tensors out of a job payload (JSON). Err if it is not JSON.
/// Only the `numbers` tensors are parsed into values; the rest of the payload is copied as
/// it came (key order aside).
pub fn split_job(payload: &str) -> Result<SplitJob, serde_json::Error> {
    let mut job: BTreeMap<Cow<'_, str>, &RawValue> = serde_json::from_str(payload)?;
    let mut floats = Vec::new();
    let Some(numbers) = job.remove("numbers") else {
        return Ok(SplitJob { light: serde_json::to_string(&job)?, floats });
    };
    let tensors: Vec<BTreeMap<Cow<'_, str>, &RawValue>> = match serde_json::from_str(numbers.get()) {
        Ok(tensors) => tensors,
        Err(_) => {
            job.insert("numbers".into(), numbers); // not a list of objects: as it was
            return Ok(SplitJob { light: serde_json::to_string(&job)?, floats });
        }
    };
    let mut list = Vec::with_capacity(tensors.len());
    for mut tensor in tensors {
        match tensor.get("values").and_then(|v| decode(v)) {
            Some(decoded) => {
                tensor.remove("values");
                list.push(with_field(serde_json::to_string(&tensor)?, "f64", &floats.len().to_string()));
                floats.push(decoded);
            }
            None => list.push(serde_json::to_string(&tensor)?),
        }
    }
    let light = with_field(serde_json::to_string(&job)?, "numbers", &format!("[{}]", list.join(",")));
    Ok(SplitJob { light, floats })
}

/// `object` (JSON of an object) with `"key": value` (JSON) added at its end.
fn with_field(mut object: String, key: &str, value: &str) -> String {
    object.pop(); // the closing brace
    if object.len() > 1 {
        object.push(',');
    }
    object.push_str(&format!("\"{key}\":{value}}}"));
    object
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn exact_operands_take_one_division_and_the_rest_the_literal() {
        assert_eq!(fixed_to_f64("34558418", "8"), Some(0.34558418));
        assert_eq!(fixed_to_f64("-13031572", "7"), Some(-1.3031572));
        assert_eq!(fixed_to_f64("5", "0"), Some(5.0));
        assert_eq!(fixed_to_f64("5", "-3"), Some(5000.0));
        assert_eq!(fixed_to_f64("007", "1"), Some(0.7));
        // int("-0") is 0: +0.0 either way, as Python has it.
        assert_eq!(fixed_to_f64("-0", "2").map(f64::to_bits), Some(0));
        assert_eq!(fixed_to_f64("-00", "30").map(f64::to_bits), Some(0));
        // Beyond 2^53 or 10^22: the correctly rounded literal.
        assert_eq!(fixed_to_f64("9007199254740993", "0"), Some(9007199254740992.0));
        assert_eq!(fixed_to_f64("170141183460469231731687303715884105727", "30"), Some(170141183.46046925)); // Python: float("1701...727e-30")
        assert_eq!(fixed_to_f64("1", "400"), Some(0.0));
        assert_eq!(fixed_to_f64("1", "-400"), Some(f64::INFINITY));
        for (v, d) in [("1.5", "0"), ("+1", "0"), ("1_0", "0"), ("", "0"), ("1", "x"), ("-", "1"), ("1", "1e3")] {
            assert_eq!(fixed_to_f64(v, d), None, "{v} {d}");
        }
    }

    #[test]
    fn a_payload_keeps_what_it_cannot_decode() {
        let payload = r#"{"kind":"model","model_id":"m","mode":0,"numbers":[
            {"name":"x","shape":[1,2],"values":[["15","1"],["-2","0"]]},
            {"name":"y","shape":[1],"values":[["1.5","0"]]}],"strings":[{"name":"s","values":["a"]}]}"#;
        let split = split_job(payload).unwrap();
        assert_eq!(split.floats, vec![vec![1.5, -2.0]]);
        let light: Value = serde_json::from_str(&split.light).unwrap();
        assert_eq!(light["numbers"][0], serde_json::json!({"name": "x", "shape": [1, 2], "f64": 0}));
        assert_eq!(light["numbers"][1]["values"], serde_json::json!([["1.5", "0"]]));
        assert_eq!((light["model_id"].as_str(), &light["strings"][0]["values"][0]), (Some("m"), &Value::from("a")));
        assert!(split_job("{not json").is_err());
        assert_eq!(split_job(r#"{"kind":"chat"}"#).unwrap().floats, Vec::<Vec<f64>>::new());
    }
}
