//! Which of the tenant's providers a gateway model name goes to:
//! `openai/gpt-4o-mini` is OpenAI's `gpt-4o-mini`; `openrouter/…` keeps
//! the rest (`anthropic/claude-…`) as OpenRouter's model name.

use crate::AppError;

/// A model name split into the service that serves it and its own name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route<'a> {
    /// The BYOK service (`openai`, `anthropic`, `openrouter`, `local`, or a
    /// compatible endpoint's name).
    pub service: &'a str,
    /// The provider's model name.
    pub model: &'a str,
}

/// Splits `provider/model`, or says how the name must look.
pub fn parse(name: &str) -> Result<Route<'_>, AppError> {
    match name.split_once('/') {
        Some((service, model)) if !service.is_empty() && !model.is_empty() => {
            Ok(Route { service, model })
        }
        _ => Err(AppError::field(
            "model",
            format!(
                "`{name}` names no provider: write it as `provider/model`, e.g. `openai/gpt-4o-mini`, `anthropic/claude-3-5-haiku-latest`, `openrouter/meta-llama/llama-3.1-8b-instruct` or `local/qwen2.5-coder-0.5b` (GET /v1/models lists them)"
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_slash_separates_the_provider() {
        let r = parse("openrouter/meta-llama/llama-3.1-8b-instruct").unwrap();
        assert_eq!(r.service, "openrouter");
        assert_eq!(r.model, "meta-llama/llama-3.1-8b-instruct");
    }

    #[test]
    fn a_bare_model_name_is_refused_with_the_expected_form() {
        let e = parse("gpt-4o-mini").unwrap_err();
        assert!(e.to_string().contains("provider/model"), "{e}");
        assert!(parse("/gpt").is_err() && parse("openai/").is_err());
    }
}
