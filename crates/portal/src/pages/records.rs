//! The data tabs of connected tools (Content: WordPress's pages, posts and
//! media): the local copy with search, status filter, sort and paging;
//! create, edit and delete written through to the tool first; media
//! uploads. One module for every tab, each tab a line of [`TABS`].

use crate::nav;
use crate::origin::Origin;
use crate::render::{inline_problem, page, status_of, Chrome, PageError};
use crate::session::{CheckedForm, Csrf, CsrfGuard, NoFields, SignedIn};
use app::connectors::{self, Change, DataQuery, RecordView};
use app::App;
use askama::Template;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use domain::tokens::Scope;
use domain::validation::FieldError;
use serde::Deserialize;
use serde_json::{json, Value};

/// What a tab shows and allows.
pub struct Tab {
    /// Its address.
    pub href: &'static str,
    /// Its navigation section.
    section: &'static str,
    /// The connector and resource it shows.
    connector: &'static str,
    resource: &'static str,
    /// One record, in words (`post`).
    singular: &'static str,
    /// Records are written here with a title, content and status form;
    /// otherwise (media) with an upload.
    editable: bool,
}

/// Every data tab.
pub const TABS: &[Tab] = &[
    Tab {
        href: "/content/pages",
        section: "content",
        connector: "wordpress",
        resource: "pages",
        singular: "page",
        editable: true,
    },
    Tab {
        href: "/content/posts",
        section: "content",
        connector: "wordpress",
        resource: "posts",
        singular: "post",
        editable: true,
    },
    Tab {
        href: "/content/media",
        section: "content",
        connector: "wordpress",
        resource: "media",
        singular: "media item",
        editable: false,
    },
];

fn tab_at(path: &str) -> Result<&'static Tab, PageError> {
    let path = path.trim_end_matches('/');
    TABS.iter()
        .find(|t| path == t.href || path.starts_with(&format!("{}/", t.href)))
        .ok_or(PageError::NotFound)
}

/// A row of the listing.
struct Row {
    id: String,
    title: String,
    status: String,
    updated: String,
    link: String,
    detail: String,
}

impl From<RecordView> for Row {
    fn from(r: RecordView) -> Self {
        let text = |k: &str| {
            r.fields
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        Self {
            title: if r.title.is_empty() {
                format!("#{}", r.external_id)
            } else {
                r.title.clone()
            },
            status: r.status.clone().unwrap_or_default(),
            updated: r
                .remote_updated_at
                .unwrap_or(r.synced_at)
                .format("%Y-%m-%d %H:%M")
                .to_string(),
            link: match text("source_url") {
                s if !s.is_empty() => s,
                _ => text("link"),
            },
            detail: text("mime_type"),
            id: r.external_id,
        }
    }
}

#[derive(Template)]
#[template(path = "records.html")]
struct RecordsPage {
    chrome: Chrome,
    section_label: &'static str,
    pages: &'static [nav::Page],
    here: &'static str,
    tab: &'static Tab,
    connector_name: String,
    connected: bool,
    rows: Vec<Row>,
    q: String,
    status: String,
    sort: String,
    next: Option<String>,
    can_write: bool,
    notice: Option<String>,
    message: Option<String>,
    errors: Vec<FieldError>,
    form_title: String,
    form_content: String,
    form_status: String,
}

/// Listing parameters from the address.
#[derive(Default, Deserialize)]
pub struct ListParams {
    #[serde(default)]
    q: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    sort: String,
    #[serde(default)]
    cursor: String,
}

async fn records_page(
    state: &App,
    user: &SignedIn,
    csrf: &Csrf,
    tab: &'static Tab,
    params: ListParams,
) -> Result<RecordsPage, PageError> {
    let (section, here) = nav::page_at(tab.href).ok_or(PageError::NotFound)?;
    let shown = connectors::data(
        state,
        &user.principal,
        tab.connector,
        tab.resource,
        DataQuery {
            q: Some(params.q.clone()).filter(|s| !s.trim().is_empty()),
            status: Some(params.status.clone()).filter(|s| !s.is_empty()),
            sort: Some(params.sort.clone()).filter(|s| !s.is_empty()),
            cursor: Some(params.cursor.clone()).filter(|s| !s.is_empty()),
            limit: Some(50),
            deleted: None,
        },
    )
    .await;
    let (connected, rows, next, message) = match shown {
        Ok(p) => (
            true,
            p.items.into_iter().map(Row::from).collect(),
            p.next_cursor,
            None,
        ),
        Err(app::AppError::NotFound(_)) => (false, vec![], None, None),
        Err(app::AppError::Validation { detail, .. }) => (true, vec![], None, Some(detail)),
        Err(e) => return Err(e.into()),
    };
    let connector_name = nav::connector(tab.connector).map_or(tab.connector, |c| c.name);
    Ok(RecordsPage {
        chrome: Chrome::new(here.label, &csrf.0, Some(user.profile.clone()), tab.section),
        section_label: section.label,
        pages: section.pages,
        here: here.href,
        tab,
        connector_name: connector_name.into(),
        connected,
        rows,
        q: params.q,
        status: params.status,
        sort: params.sort,
        next,
        can_write: user.principal.has_scope(Scope::Write),
        notice: None,
        message,
        errors: vec![],
        form_title: String::new(),
        form_content: String::new(),
        form_status: "draft".into(),
    })
}

/// `GET` of a tab.
pub async fn list(
    State(state): State<App>,
    uri: Uri,
    user: SignedIn,
    csrf: Csrf,
    Query(params): Query<ListParams>,
) -> Result<Response, PageError> {
    let tab = tab_at(uri.path())?;
    Ok(page(
        StatusCode::OK,
        &records_page(&state, &user, &csrf, tab, params).await?,
    ))
}

/// The create and edit form of pages and posts.
#[derive(Deserialize)]
pub struct RecordForm {
    #[serde(default)]
    title: String,
    #[serde(default)]
    content: String,
    #[serde(default)]
    status: String,
}

impl RecordForm {
    fn body(&self) -> Value {
        json!({ "title": self.title, "content": self.content, "status": self.status })
    }
}

/// `POST` of an editable tab: creates a record in the tool, then here.
pub async fn create(
    State(state): State<App>,
    uri: Uri,
    user: SignedIn,
    csrf: Csrf,
    Origin(origin): Origin,
    CheckedForm(f): CheckedForm<RecordForm>,
) -> Result<Response, PageError> {
    let tab = tab_at(uri.path())?;
    let done = connectors::change(
        &state,
        &user.principal,
        origin,
        tab.connector,
        tab.resource,
        Change::Create(&f.body()),
    )
    .await;
    let mut p = records_page(&state, &user, &csrf, tab, ListParams::default()).await?;
    match done {
        Ok(r) => {
            let title = r.map(|r| r.title).unwrap_or_default();
            p.notice = Some(format!(
                "The {} “{title}” is saved in {}.",
                tab.singular, p.connector_name
            ));
            Ok(page(StatusCode::CREATED, &p))
        }
        Err(e) => {
            let problem = inline_problem(e)?;
            p.message = Some(format!("Not saved: {}", problem.detail));
            p.errors = problem.errors;
            p.form_title = f.title;
            p.form_content = f.content;
            p.form_status = f.status;
            Ok(page(status_of(problem.status), &p))
        }
    }
}

/// `POST /content/media`: a file uploaded to the media library.
pub async fn upload(
    State(state): State<App>,
    user: SignedIn,
    csrf: Csrf,
    guard: CsrfGuard,
    Origin(origin): Origin,
    mut form: Multipart,
) -> Result<Response, PageError> {
    let tab = tab_at("/content/media")?;
    let (mut token, mut file, mut title) = (String::new(), None, String::new());
    while let Some(field) = form.next_field().await.map_err(|e| {
        PageError::Refused(
            StatusCode::BAD_REQUEST,
            format!("the upload broke off: {e}"),
        )
    })? {
        match field.name().unwrap_or_default() {
            "csrf" => token = field.text().await.unwrap_or_default(),
            "title" => title = field.text().await.unwrap_or_default(),
            "file" => {
                let name = field.file_name().unwrap_or_default().to_string();
                let kind = field
                    .content_type()
                    .unwrap_or("application/octet-stream")
                    .to_string();
                let bytes = field.bytes().await.map_err(|e| {
                    PageError::Refused(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        format!("the file could not be read: {e}"),
                    )
                })?;
                file = Some((name, kind, bytes));
            }
            _ => {}
        }
    }
    guard.check(&token)?;
    let done = match file.filter(|(name, _, bytes)| !name.is_empty() && !bytes.is_empty()) {
        None => Err(app::AppError::field("file", "choose a file to upload")),
        Some((name, kind, bytes)) => {
            let mut body = json!({
                "filename": name,
                "content_type": kind,
                "data_base64": base64::engine::general_purpose::STANDARD.encode(&bytes),
            });
            if !title.trim().is_empty() {
                body["title"] = json!(title.trim());
            }
            connectors::change(
                &state,
                &user.principal,
                origin,
                tab.connector,
                tab.resource,
                Change::Create(&body),
            )
            .await
        }
    };
    let mut p = records_page(&state, &user, &csrf, tab, ListParams::default()).await?;
    match done {
        Ok(r) => {
            p.notice = Some(format!(
                "“{}” is uploaded to the {} media library.",
                r.map(|r| r.title).unwrap_or_default(),
                p.connector_name
            ));
            Ok(page(StatusCode::CREATED, &p))
        }
        Err(e) => {
            let problem = inline_problem(e)?;
            p.message = Some(format!("Not uploaded: {}", problem.detail));
            p.errors = problem.errors;
            Ok(page(status_of(problem.status), &p))
        }
    }
}

#[derive(Template)]
#[template(path = "record.html")]
struct RecordPage {
    chrome: Chrome,
    tab: &'static Tab,
    record: RecordView,
    content: String,
    can_write: bool,
    notice: Option<String>,
    message: Option<String>,
    errors: Vec<FieldError>,
}

async fn record_page(
    state: &App,
    user: &SignedIn,
    csrf: &Csrf,
    tab: &'static Tab,
    id: &str,
) -> Result<RecordPage, PageError> {
    let record =
        connectors::record(state, &user.principal, tab.connector, tab.resource, id).await?;
    let content = record
        .raw
        .as_ref()
        .and_then(|r| r.pointer("/content/raw"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    Ok(RecordPage {
        chrome: Chrome::new(
            record.title.clone(),
            &csrf.0,
            Some(user.profile.clone()),
            tab.section,
        ),
        tab,
        record,
        content,
        can_write: user.principal.has_scope(Scope::Write),
        notice: None,
        message: None,
        errors: vec![],
    })
}

/// `GET` of one record.
pub async fn show(
    State(state): State<App>,
    uri: Uri,
    user: SignedIn,
    csrf: Csrf,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let tab = tab_at(uri.path())?;
    Ok(page(
        StatusCode::OK,
        &record_page(&state, &user, &csrf, tab, &id).await?,
    ))
}

/// `POST` of one record: its changes written to the tool, then here.
pub async fn save(
    State(state): State<App>,
    uri: Uri,
    user: SignedIn,
    csrf: Csrf,
    Origin(origin): Origin,
    Path(id): Path<String>,
    CheckedForm(f): CheckedForm<RecordForm>,
) -> Result<Response, PageError> {
    let tab = tab_at(uri.path())?;
    let done = connectors::change(
        &state,
        &user.principal,
        origin,
        tab.connector,
        tab.resource,
        Change::Update(&id, &f.body()),
    )
    .await;
    let mut p = record_page(&state, &user, &csrf, tab, &id).await?;
    match done {
        Ok(_) => {
            p.notice = Some(format!(
                "Saved in {}.",
                nav::connector(tab.connector).map_or("the tool", |c| c.name)
            ));
            Ok(page(StatusCode::OK, &p))
        }
        Err(e) => {
            let problem = inline_problem(e)?;
            p.message = Some(format!("Not saved: {}", problem.detail));
            p.errors = problem.errors;
            p.content = f.content;
            Ok(page(status_of(problem.status), &p))
        }
    }
}

/// `POST …/{id}/delete`: deleted in the tool, then marked deleted here.
pub async fn delete(
    State(state): State<App>,
    uri: Uri,
    user: SignedIn,
    Origin(origin): Origin,
    Path(id): Path<String>,
    CheckedForm(_): CheckedForm<NoFields>,
) -> Result<Response, PageError> {
    let tab = tab_at(uri.path())?;
    connectors::change(
        &state,
        &user.principal,
        origin,
        tab.connector,
        tab.resource,
        Change::Delete(&id),
    )
    .await?;
    Ok(Redirect::to(tab.href).into_response())
}
