//! The tools an agent may be given, declared with JSON Schema: the
//! built-in ones, which need no connector, and connector actions, offered
//! only to agents whose workspace has the connection. The two that need
//! nothing of the platform run here ([`run_pure`]); the rest run in the
//! application layer, which holds the caller's scope.
//!
//! Names use `_` where the connector framework's names use `.`
//! (`wordpress_create_post` for `wordpress.create_post`): OpenAI and
//! Anthropic both accept only `[a-zA-Z0-9_-]` in a tool's name.

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
    /// The connector it acts through, if any: offered only while the
    /// workspace has that connection.
    pub connector: Option<&'static str>,
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
            connector: None,
        };
        let wordpress = |name: &str, description: &str, changes_outside, parameters| ToolInfo {
            changes_outside,
            connector: Some("wordpress"),
            ..tool(name, description, parameters)
        };
        vec![
            tool(
                "current_datetime",
                "The current date and time, in UTC or at a UTC offset.",
                json!({"type": "object", "properties": {
                    "utc_offset": {"type": "string", "description": "e.g. +02:00 or -05:30; UTC if absent"}
                }, "additionalProperties": false}),
            ),
            tool(
                "calculator",
                "Evaluates an arithmetic expression: + - * / ^ % and parentheses, in 64-bit floating point.",
                json!({"type": "object", "properties": {
                    "expression": {"type": "string", "description": "e.g. (1200 - 950) / 1200 * 100"}
                }, "required": ["expression"], "additionalProperties": false}),
            ),
            ToolInfo {
                changes_outside: true,
                ..tool(
                    "send_email",
                    "Sends a plain-text email from the workspace. Waits for the member's approval unless the agent may act without asking.",
                    json!({"type": "object", "properties": {
                        "to": {"type": "string", "format": "email", "description": "the recipient's address"},
                        "subject": {"type": "string", "maxLength": 200},
                        "body": {"type": "string", "description": "plain text"}
                    }, "required": ["to", "subject", "body"], "additionalProperties": false}),
                )
            },
            tool(
                "audit_log_search",
                "Searches this workspace's audit log by action and time range.",
                json!({"type": "object", "properties": {
                    "action": {"type": "string", "description": "e.g. token.created"},
                    "since": {"type": "string", "format": "date-time"},
                    "limit": {"type": "integer", "minimum": 1, "maximum": 50}
                }, "additionalProperties": false}),
            ),
            wordpress(
                "wordpress_list_posts",
                "Lists the posts of the workspace's WordPress site (as last synced), newest first: id, title, status, link.",
                false,
                json!({"type": "object", "properties": {
                    "search": {"type": "string", "description": "words in the title or excerpt"},
                    "status": {"type": "string", "enum": ["publish", "draft", "pending", "private", "future"]},
                    "limit": {"type": "integer", "minimum": 1, "maximum": 50}
                }, "additionalProperties": false}),
            ),
            wordpress(
                "wordpress_create_post",
                "Creates a post on the workspace's WordPress site, as a draft unless told otherwise. Waits for the member's approval unless the agent may act without asking.",
                true,
                json!({"type": "object", "properties": {
                    "title": {"type": "string", "maxLength": 300},
                    "content": {"type": "string", "description": "HTML"},
                    "excerpt": {"type": "string"},
                    "status": {"type": "string", "enum": ["draft", "publish", "pending", "private"]}
                }, "required": ["title", "content"], "additionalProperties": false}),
            ),
            wordpress(
                "wordpress_update_post",
                "Changes a post on the workspace's WordPress site: its title, content, excerpt or status. Waits for the member's approval unless the agent may act without asking.",
                true,
                json!({"type": "object", "properties": {
                    "id": {"type": "string", "description": "the post's id, from wordpress_list_posts"},
                    "title": {"type": "string", "maxLength": 300},
                    "content": {"type": "string", "description": "HTML"},
                    "excerpt": {"type": "string"},
                    "status": {"type": "string", "enum": ["draft", "publish", "pending", "private"]}
                }, "required": ["id"], "additionalProperties": false}),
            ),
        ]
    })
}

/// The tool with this name.
pub fn find(name: &str) -> Option<&'static ToolInfo> {
    all().iter().find(|t| t.spec.name == name)
}

/// Runs a built-in tool that needs nothing of the platform; `None` if the
/// tool is not one of those. The result is text for the model; a bad
/// argument is an error text the model can correct.
pub fn run_pure(name: &str, args: &serde_json::Value) -> Option<Result<String, String>> {
    Some(match name {
        "calculator" => match args["expression"].as_str() {
            Some(e) => calc::evaluate(e).map(format_number),
            None => Err("`expression` is required".into()),
        },
        "current_datetime" => now_at(args["utc_offset"].as_str()),
        _ => return None,
    })
}

fn format_number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

fn now_at(offset: Option<&str>) -> Result<String, String> {
    let now = chrono::Utc::now();
    let Some(raw) = offset.filter(|o| !o.trim().is_empty()) else {
        return Ok(now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    };
    let bad = || format!("`{raw}` is not a UTC offset like +02:00");
    let (sign, rest) = match raw.trim().split_at(1) {
        ("+", r) => (1, r),
        ("-", r) => (-1, r),
        _ => return Err(bad()),
    };
    let (h, m) = rest.split_once(':').unwrap_or((rest, "0"));
    let (h, m): (i32, i32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if h > 14 || m > 59 {
        return Err(bad());
    }
    let tz = chrono::FixedOffset::east_opt(sign * (h * 3600 + m * 60)).ok_or_else(bad)?;
    Ok(now
        .with_timezone(&tz)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, false))
}

/// A small arithmetic evaluator (recursive descent), so a model's sums
/// are computed, not guessed.
mod calc {
    pub fn evaluate(src: &str) -> Result<f64, String> {
        if src.len() > 500 {
            return Err("the expression is longer than 500 characters".into());
        }
        let mut p = Parser {
            chars: src.chars().filter(|c| !c.is_whitespace()).collect(),
            at: 0,
            depth: 0,
        };
        let v = p.sum()?;
        if p.at != p.chars.len() {
            return Err(format!("unexpected `{}`", p.chars[p.at]));
        }
        if v.is_finite() {
            Ok(v)
        } else {
            Err("the result is not a finite number (division by zero?)".into())
        }
    }

    struct Parser {
        chars: Vec<char>,
        at: usize,
        depth: u32,
    }

    impl Parser {
        fn peek(&self) -> Option<char> {
            self.chars.get(self.at).copied()
        }
        fn sum(&mut self) -> Result<f64, String> {
            let mut v = self.product()?;
            while let Some(op @ ('+' | '-')) = self.peek() {
                self.at += 1;
                let r = self.product()?;
                v = if op == '+' { v + r } else { v - r };
            }
            Ok(v)
        }
        fn product(&mut self) -> Result<f64, String> {
            let mut v = self.power()?;
            while let Some(op @ ('*' | '/' | '%')) = self.peek() {
                self.at += 1;
                let r = self.power()?;
                v = match op {
                    '*' => v * r,
                    '/' => v / r,
                    _ => v % r,
                };
            }
            Ok(v)
        }
        fn power(&mut self) -> Result<f64, String> {
            let base = self.unary()?;
            if self.peek() == Some('^') {
                self.at += 1;
                let exp = self.power()?;
                return Ok(base.powf(exp));
            }
            Ok(base)
        }
        fn unary(&mut self) -> Result<f64, String> {
            match self.peek() {
                Some('-') => {
                    self.at += 1;
                    Ok(-self.unary()?)
                }
                Some('+') => {
                    self.at += 1;
                    self.unary()
                }
                _ => self.atom(),
            }
        }
        fn atom(&mut self) -> Result<f64, String> {
            match self.peek() {
                Some('(') => {
                    self.depth += 1;
                    if self.depth > 50 {
                        return Err("too many nested parentheses".into());
                    }
                    self.at += 1;
                    let v = self.sum()?;
                    if self.peek() != Some(')') {
                        return Err("a `(` is not closed".into());
                    }
                    self.at += 1;
                    self.depth -= 1;
                    Ok(v)
                }
                Some(c) if c.is_ascii_digit() || c == '.' => {
                    let start = self.at;
                    while self.peek().is_some_and(|c| c.is_ascii_digit() || c == '.') {
                        self.at += 1;
                    }
                    let text: String = self.chars[start..self.at].iter().collect();
                    text.parse()
                        .map_err(|_| format!("`{text}` is not a number"))
                }
                Some(c) => Err(format!("unexpected `{c}`")),
                None => Err("the expression ends too early".into()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_calculator_respects_precedence_and_parentheses() {
        let run = |e: &str| run_pure("calculator", &json!({ "expression": e })).unwrap();
        assert_eq!(run("6*7"), Ok("42".into()));
        assert!(run("(1200 - 950) / 1200 * 100")
            .unwrap()
            .starts_with("20.8333333"));
        assert_eq!(run("2^3^2 - -1"), Ok("513".into()));
        assert_eq!(run("10 % 4 + 0.5"), Ok("2.5".into()));
        assert!(run("1/0").is_err());
        assert!(run("2 +").is_err());
        assert!(run("rm -rf /").is_err());
    }

    #[test]
    fn the_time_comes_at_the_offset_asked_for() {
        let at = |o: &str| run_pure("current_datetime", &json!({ "utc_offset": o })).unwrap();
        assert!(at("+02:00").unwrap().ends_with("+02:00"));
        assert!(at("Mars/Olympus").is_err());
        let utc = run_pure("current_datetime", &json!({})).unwrap().unwrap();
        assert!(utc.ends_with('Z'), "{utc}");
    }

    #[test]
    fn tools_of_the_platform_do_not_run_here() {
        assert!(run_pure("audit_log_search", &json!({})).is_none());
    }
}
