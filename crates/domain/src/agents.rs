//! AI agents: what a tenant configures (the plan's §2.2).

use crate::roles::Role;
use crate::validation::FieldError;
use serde::{Deserialize, Serialize};

/// Most fine-tuning instructions an agent keeps.
pub const MAX_INSTRUCTIONS: usize = 50;
/// Longest system prompt, in characters.
pub const MAX_PROMPT_CHARS: usize = 32_000;
/// Longest instruction, in characters.
pub const MAX_INSTRUCTION_CHARS: usize = 4_000;
/// Most tokens an agent may ask a model for in one answer.
pub const MAX_TOKENS_LIMIT: u32 = 200_000;

/// Who may use and change an agent, as the least role of each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentPermissions {
    /// The least role that may chat with the agent.
    pub chat: Role,
    /// The least role that may change it.
    pub edit: Role,
}

impl Default for AgentPermissions {
    fn default() -> Self {
        Self {
            chat: Role::Member,
            edit: Role::Admin,
        }
    }
}

/// An agent's configuration: one document, audited whole when it changes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// The instructions that frame every conversation.
    pub system_prompt: String,
    /// Fine-tuning instructions, appended to the system prompt in order.
    #[serde(default)]
    pub instructions: Vec<String>,
    /// Sampling temperature, 0–2.
    pub temperature: f32,
    /// Most tokens per answer.
    pub max_tokens: u32,
    /// The BYOK service whose key and provider it uses: `openai`,
    /// `anthropic`, `openrouter`, or a compatible service's name.
    pub provider: String,
    /// The provider's model name.
    pub model: String,
    /// The tools it may call, by name.
    #[serde(default)]
    pub tools: Vec<String>,
    /// Run tools that change something outside the platform (sending
    /// email, connector actions) without asking the member first.
    #[serde(default)]
    pub run_without_approval: bool,
    /// Who may chat with it and change it.
    #[serde(default)]
    pub permissions: AgentPermissions,
    /// Knowledge bases it searches, by id.
    #[serde(default)]
    pub knowledge_bases: Vec<String>,
}

impl AgentConfig {
    /// The system prompt with the fine-tuning instructions after it.
    pub fn full_prompt(&self) -> String {
        let mut prompt = self.system_prompt.clone();
        for i in &self.instructions {
            prompt.push_str("\n\n");
            prompt.push_str(i);
        }
        prompt
    }

    /// Every problem with the configuration, each naming its field;
    /// `tool_exists` says which tool names are known.
    pub fn problems(&self, tool_exists: impl Fn(&str) -> bool) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let mut bad = |field: &str, message: String| errors.push(FieldError::new(field, message));
        if self.system_prompt.trim().is_empty() {
            bad("system_prompt", "must not be empty".into());
        } else if self.system_prompt.chars().count() > MAX_PROMPT_CHARS {
            bad(
                "system_prompt",
                format!("must be at most {MAX_PROMPT_CHARS} characters"),
            );
        }
        if self.instructions.len() > MAX_INSTRUCTIONS {
            bad(
                "instructions",
                format!("at most {MAX_INSTRUCTIONS} instructions"),
            );
        }
        for (i, text) in self.instructions.iter().enumerate() {
            if text.trim().is_empty() {
                bad(&format!("instructions[{i}]"), "must not be empty".into());
            } else if text.chars().count() > MAX_INSTRUCTION_CHARS {
                bad(
                    &format!("instructions[{i}]"),
                    format!("must be at most {MAX_INSTRUCTION_CHARS} characters"),
                );
            }
        }
        if !(0.0..=2.0).contains(&self.temperature) || self.temperature.is_nan() {
            bad("temperature", "must be between 0 and 2".into());
        }
        if self.max_tokens == 0 || self.max_tokens > MAX_TOKENS_LIMIT {
            bad(
                "max_tokens",
                format!("must be between 1 and {MAX_TOKENS_LIMIT}"),
            );
        }
        let service_ok = !self.provider.is_empty()
            && self.provider.len() <= 64
            && self
                .provider
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if !service_ok {
            bad(
                "provider",
                "must be a BYOK service name: lowercase letters, digits, `-` or `_`".into(),
            );
        }
        if self.model.trim().is_empty()
            || self.model.len() > 200
            || self.model.chars().any(char::is_control)
        {
            bad(
                "model",
                "must be a model name of 1 to 200 characters".into(),
            );
        }
        for (i, tool) in self.tools.iter().enumerate() {
            if !tool_exists(tool) {
                bad(
                    &format!("tools[{i}]"),
                    format!("there is no tool named `{tool}`"),
                );
            }
        }
        let mut seen = std::collections::HashSet::new();
        for (i, tool) in self.tools.iter().enumerate() {
            if !seen.insert(tool) {
                bad(&format!("tools[{i}]"), format!("`{tool}` is listed twice"));
            }
        }
        errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> AgentConfig {
        AgentConfig {
            system_prompt: "You write.".into(),
            instructions: vec!["Be brief.".into(), "Use British spelling.".into()],
            temperature: 0.7,
            max_tokens: 1024,
            provider: "openai".into(),
            model: "gpt-4o-mini".into(),
            tools: vec!["calculator".into()],
            run_without_approval: false,
            permissions: AgentPermissions::default(),
            knowledge_bases: vec![],
        }
    }

    #[test]
    fn instructions_follow_the_prompt_in_order() {
        assert_eq!(
            config().full_prompt(),
            "You write.\n\nBe brief.\n\nUse British spelling."
        );
    }

    #[test]
    fn a_sound_config_has_no_problems() {
        assert!(config().problems(|t| t == "calculator").is_empty());
    }

    #[test]
    fn each_problem_names_its_field() {
        let c = AgentConfig {
            temperature: 2.5,
            max_tokens: 0,
            provider: "Open AI".into(),
            model: "".into(),
            tools: vec!["teleport".into()],
            ..config()
        };
        let fields: Vec<_> = c.problems(|_| false).into_iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            ["temperature", "max_tokens", "provider", "model", "tools[0]"]
        );
    }
}
