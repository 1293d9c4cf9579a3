//! What model calls cost, from the price table shipped as data
//! (`catalog/prices.json`, dollars per million tokens).

use std::collections::HashMap;
use std::sync::OnceLock;

type Table = HashMap<String, HashMap<String, (f64, f64)>>;

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        let raw: HashMap<String, serde_json::Value> =
            serde_json::from_str(include_str!("../catalog/prices.json"))
                .expect("the shipped price table is valid (see its test)");
        raw.into_iter()
            .filter(|(k, _)| !k.starts_with('_'))
            .map(|(service, models)| {
                let models =
                    serde_json::from_value(models).expect("models map to [input, output] prices");
                (service, models)
            })
            .collect()
    })
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
    fn a_listed_model_costs_its_price_and_an_unlisted_one_nothing() {
        // 1,000 in at $0.15/M and 500 out at $0.60/M: 150 + 300 micro-dollars.
        assert_eq!(cost_micros("openai", "gpt-4o-mini", 1000, 500), 450);
        assert_eq!(cost_micros("my-vllm", "llama", 1000, 500), 0);
        assert!(table().len() >= 3);
    }
}
