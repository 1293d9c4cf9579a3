//! The tools an agent may be given, declared with JSON Schema. These are
//! the built-in ones, which need no connector; connector actions join
//! them with the connectors issue.

use domain::llm::ToolSpec;
use serde_json::json;
use std::sync::OnceLock;

/// A tool's declaration.
#[derive(Clone, Debug)]
pub struct ToolInfo {
    /// What the model sees.
    pub spec: ToolSpec,
    /// Whether it changes anything outside the platform (and so waits for
    /// a member's approval before it runs).
    pub changes_outside: bool,
}

/// Every tool.
pub fn all() -> &'static [ToolInfo] {
    static ALL: OnceLock<Vec<ToolInfo>> = OnceLock::new();
    ALL.get_or_init(|| {
        let tool = |name: &str, description: &str, parameters| ToolInfo {
            spec: ToolSpec {
                name: name.into(),
                description: description.into(),
                parameters,
            },
            changes_outside: false,
        };
        vec![
            tool(
                "current_datetime",
                "The current date and time, in UTC or a named IANA time zone.",
                json!({"type": "object", "properties": {
                    "time_zone": {"type": "string", "description": "IANA time zone, e.g. Europe/Paris; UTC if absent"}
                }, "additionalProperties": false}),
            ),
            tool(
                "calculator",
                "Evaluates an arithmetic expression exactly: + - * / ^ % and parentheses.",
                json!({"type": "object", "properties": {
                    "expression": {"type": "string", "description": "e.g. (1200 - 950) / 1200 * 100"}
                }, "required": ["expression"], "additionalProperties": false}),
            ),
            tool(
                "audit_log_search",
                "Searches this workspace's audit log by action and time range.",
                json!({"type": "object", "properties": {
                    "action": {"type": "string", "description": "e.g. token.created"},
                    "since": {"type": "string", "format": "date-time"},
                    "limit": {"type": "integer", "minimum": 1, "maximum": 50}
                }, "additionalProperties": false}),
            ),
        ]
    })
}

/// The tool with this name.
pub fn find(name: &str) -> Option<&'static ToolInfo> {
    all().iter().find(|t| t.spec.name == name)
}
