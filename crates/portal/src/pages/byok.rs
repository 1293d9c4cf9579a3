//! `/ai-agents/byok`: the workspace's own LLM provider keys. Add (checked
//! with the provider, with its reason when it refuses), test, revoke after
//! confirmation. A key is never shown again once saved, not even on a
//! failed form.

use crate::origin::Origin;
use crate::render::{inline_problem, page, Chrome, PageError};
use crate::session::{CheckedForm, Csrf, NoFields, SignedIn};
use app::keys::{self, AddKey, KeyView};
use app::App;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use domain::validation::FieldError;
use serde::Deserialize;

/// The providers offered by name, with where their keys are made.
const KNOWN: [(&str, &str, &str); 3] = [
    ("openai", "OpenAI", "https://platform.openai.com/api-keys"),
    (
        "anthropic",
        "Anthropic",
        "https://console.anthropic.com/settings/keys",
    ),
    (
        "openrouter",
        "OpenRouter",
        "https://openrouter.ai/settings/keys",
    ),
];

/// One row: a provider and its key, if one is stored.
struct Row {
    service: String,
    label: String,
    console: Option<&'static str>,
    key: Option<KeyView>,
}

#[derive(Template)]
#[template(path = "byok.html")]
struct ByokPage {
    chrome: Chrome,
    rows: Vec<Row>,
    notice: Option<String>,
    message: Option<String>,
    errors: Vec<FieldError>,
    provider: String,
    name: String,
    base_url: String,
}

async fn byok_page(state: &App, user: &SignedIn, csrf: &Csrf) -> Result<ByokPage, PageError> {
    let mut stored: Vec<KeyView> = keys::list(state, &user.principal)
        .await?
        .into_iter()
        .collect();
    let mut rows: Vec<Row> = KNOWN
        .iter()
        .map(|(service, label, console)| Row {
            service: service.to_string(),
            label: label.to_string(),
            console: Some(console),
            key: stored
                .iter()
                .position(|k| k.service == *service)
                .map(|i| stored.remove(i)),
        })
        .collect();
    rows.extend(stored.into_iter().map(|k| Row {
        service: k.service.clone(),
        label: format!("{} (OpenAI-compatible)", k.service),
        console: None,
        key: Some(k),
    }));
    Ok(ByokPage {
        chrome: Chrome::new(
            "LLM keys (BYOK)",
            &csrf.0,
            Some(user.profile.clone()),
            "agents",
        ),
        rows,
        notice: None,
        message: None,
        errors: vec![],
        provider: "openai".into(),
        name: String::new(),
        base_url: String::new(),
    })
}

/// `GET /ai-agents/byok`.
pub async fn list(
    State(state): State<App>,
    user: SignedIn,
    csrf: Csrf,
) -> Result<Response, PageError> {
    Ok(page(
        StatusCode::OK,
        &byok_page(&state, &user, &csrf).await?,
    ))
}

/// The add form.
#[derive(Deserialize)]
pub struct AddForm {
    provider: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    base_url: String,
    #[serde(default)]
    api_key: String,
    validate: Option<String>,
}

/// `POST /ai-agents/byok`: stores a key, checked with its provider unless unticked.
pub async fn add(
    State(state): State<App>,
    user: SignedIn,
    csrf: Csrf,
    Origin(origin): Origin,
    CheckedForm(f): CheckedForm<AddForm>,
) -> Result<Response, PageError> {
    let compatible = f.provider == "compatible";
    let service = if compatible {
        f.name.trim().to_string()
    } else {
        f.provider.clone()
    };
    let body = AddKey {
        api_key: f.api_key.into(),
        base_url: compatible.then(|| f.base_url.trim().to_string()),
    };
    let validate = f.validate.is_some();
    let saved = keys::add(&state, &user.principal, origin, &service, validate, body).await;
    let mut p = byok_page(&state, &user, &csrf).await?;
    match saved {
        Ok(view) => {
            p.notice = Some(format!(
                "The {} key ending in {} is saved in the secret store. It will not be shown again.",
                view.provider,
                view.masked_key.trim_start_matches('…')
            ));
            Ok(page(StatusCode::CREATED, &p))
        }
        Err(e) => {
            let problem = inline_problem(e)?;
            p.provider = f.provider;
            p.name = f.name;
            p.base_url = f.base_url;
            // A field error on the service name belongs to the name input.
            p.errors = problem
                .errors
                .into_iter()
                .map(|mut e| {
                    if e.field == "service" {
                        e.field = "name".into();
                    }
                    e
                })
                .collect();
            // Summarised at the top too: the key field is below the fold.
            p.message = Some(format!("Not saved: {}", problem.detail));
            Ok(page(crate::render::status_of(problem.status), &p))
        }
    }
}

/// `POST /ai-agents/byok/{service}/test`.
pub async fn test(
    State(state): State<App>,
    user: SignedIn,
    csrf: Csrf,
    Origin(origin): Origin,
    Path(service): Path<String>,
    CheckedForm(_): CheckedForm<NoFields>,
) -> Result<Response, PageError> {
    let key = keys::test(&state, &user.principal, origin, &service).await?;
    let mut p = byok_page(&state, &user, &csrf).await?;
    let outcome = key.last_test_detail.unwrap_or_default();
    if key.last_test_ok == Some(true) {
        p.notice = Some(outcome);
    } else {
        p.message = Some(outcome);
    }
    Ok(page(StatusCode::OK, &p))
}

/// `POST /ai-agents/byok/{service}/revoke`.
pub async fn revoke(
    State(state): State<App>,
    user: SignedIn,
    csrf: Csrf,
    Origin(origin): Origin,
    Path(service): Path<String>,
    CheckedForm(_): CheckedForm<NoFields>,
) -> Result<Response, PageError> {
    keys::revoke(&state, &user.principal, origin, &service).await?;
    let mut p = byok_page(&state, &user, &csrf).await?;
    p.notice = Some(format!(
        "The {service} key was revoked and destroyed in the secret store."
    ));
    Ok(page(StatusCode::OK, &p))
}
