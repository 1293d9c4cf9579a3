//! What model calls cost, from the price table shipped as data
//! (`catalog/prices.json`, dollars per million tokens), which an operator
//! can extend or correct with a file of the same shape (`ai.prices_file`):
//! its entries replace the shipped ones model by model.

use std::collections::HashMap;
use std::sync::OnceLock;

type Table = HashMap<String, HashMap<String, (f64, f64)>>;

static TABLE: OnceLock<Table> = OnceLock::new();

/// Reads a price table: `{"service": {"model": [input, output]}}`, keys
/// starting with `_` being comments.
fn parse(raw: &str) -> Result<Table, String> {
    let raw: HashMap<String, serde_json::Value> =
        serde_json::from_str(raw).map_err(|e| e.to_string())?;
    raw.into_iter()
        .filter(|(k, _)| !k.starts_with('_'))
        .map(|(service, models)| {
            let models: HashMap<String, (f64, f64)> = serde_json::from_value(models)
                .map_err(|e| format!("`{service}`: {e} (each model maps to [input, output] dollars per million tokens)"))?;
            if let Some((m, _)) = models.iter().find(|(_, (i, o))| !(*i >= 0.0 && *o >= 0.0)) {
                return Err(format!("`{service}/{m}`: prices cannot be negative"));
            }
            Ok((service, models))
        })
        .collect()
}

fn shipped() -> Table {
    parse(include_str!("../catalog/prices.json"))
        .expect("the shipped price table is valid (see its test)")
}

fn table() -> &'static Table {
    TABLE.get_or_init(shipped)
}

/// Lays the operator's price table over the shipped one, once, at start-up
/// (before any call is priced). Refuses a file that does not read as a
/// price table, saying where it is wrong.
pub fn load_overrides(raw: &str) -> Result<(), String> {
    let overrides = parse(raw)?;
    let mut t = shipped();
    for (service, models) in overrides {
        t.entry(service).or_default().extend(models);
    }
    TABLE
        .set(t)
        .map_err(|_| "the price table was already in use when the overrides came".to_string())
}

/// The cost of a call in millionths of a US dollar; 0 for a model the
/// table does not list (a self-hosted one, say).
pub fn cost_micros(service: &str, model: &str, input_tokens: u64, output_tokens: u64) -> i64 {
    let Some((input, output)) = table().get(service).and_then(|m| m.get(model)) else {
        return 0;
    };
    // $ per million tokens × tokens = micro-dollars.
    (input * input_tokens as f64 + output * output_tokens as f64).round() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_override_file_that_is_not_a_price_table_says_where() {
        let e = parse(r#"{"openai": {"gpt-x": [1.0]}}"#).unwrap_err();
        assert!(e.contains("`openai`"), "{e}");
        let e = parse(r#"{"openai": {"gpt-x": [-1.0, 2.0]}}"#).unwrap_err();
        assert!(e.contains("negative"), "{e}");
    }

    #[test]
    fn a_listed_model_costs_its_price_and_an_unlisted_one_nothing() {
        // 1,000 in at $0.15/M and 500 out at $0.60/M: 150 + 300 micro-dollars.
        assert_eq!(cost_micros("openai", "gpt-4o-mini", 1000, 500), 450);
        assert_eq!(cost_micros("my-vllm", "llama", 1000, 500), 0);
        assert!(table().len() >= 3);
    }
}
