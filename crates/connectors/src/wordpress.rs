//! WordPress, through its REST API (`/wp-json/wp/v2`) with an application
//! password: pages, posts and media.
//!
//! Listings page with `per_page` (at most 100) and `page`, ordered by id so
//! that pages do not shift while a sync walks them; `X-WP-TotalPages` says
//! where they end. `modified_after` makes a sync incremental, and
//! `context=edit` returns raw content (what an editor changes) and drafts.
//! WordPress does not report deletions; a full sync finds them by the ids it
//! no longer lists.

use crate::paging::{header_number, page_number};
use crate::{
    AuthKind, Category, Connection, Connector, ConnectorError, Field, FieldError, FieldKind,
    ListRequest, Page, Record, ResourceSpec, Spec, Writes,
};
use base64::Engine;
use chrono::{DateTime, NaiveDateTime, Utc};
use reqwest::{Method, Response, StatusCode};
use secrecy::ExposeSecret;
use serde_json::{json, Map, Value};

const PROVIDER: &str = "WordPress";
/// The REST API's largest page.
const MAX_PAGE: u32 = 100;

static SPEC: Spec = Spec {
    id: "wordpress",
    name: "WordPress",
    category: Category::Cms,
    description: "Pages, posts and the media library of a WordPress site (5.6 or later).",
    auth: AuthKind::Fields {
        fields: &[
            Field {
                name: "site_url",
                label: "Site URL",
                kind: FieldKind::Url,
                secret: false,
                help: "The address of the site, e.g. https://example.com",
            },
            Field {
                name: "username",
                label: "User name",
                kind: FieldKind::Text,
                secret: false,
                help: "A user who may edit pages, posts and media.",
            },
            Field {
                name: "application_password",
                label: "Application password",
                kind: FieldKind::Password,
                secret: true,
                help: "Users › Profile › Application Passwords in the WordPress admin.",
            },
        ],
    },
    resources: &[
        ResourceSpec {
            name: "pages",
            label: "Pages",
            writes: Writes::ALL,
            incremental: true,
        },
        ResourceSpec {
            name: "posts",
            label: "Posts",
            writes: Writes::ALL,
            incremental: true,
        },
        ResourceSpec {
            name: "media",
            label: "Media",
            writes: Writes::ALL,
            incremental: true,
        },
    ],
};

/// The WordPress connector.
pub struct WordPress;

impl WordPress {
    fn url(conn: &Connection, path: &str) -> Result<String, ConnectorError> {
        let site = conn.setting("site_url")?.trim_end_matches('/');
        Ok(format!("{site}/wp-json/wp/v2/{path}"))
    }

    fn auth(conn: &Connection) -> Result<String, ConnectorError> {
        let user = conn.setting("username")?;
        let password = conn.secret("application_password")?.expose_secret();
        Ok(format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        ))
    }

    /// Sends a call and returns the body of a successful answer, or the
    /// normalised error of a refused one.
    async fn call(
        &self,
        conn: &Connection,
        method: Method,
        url: &str,
        body: Body<'_>,
    ) -> Result<(Value, reqwest::header::HeaderMap), ConnectorError> {
        let auth = Self::auth(conn)?;
        let resp = conn
            .send(PROVIDER, |http| {
                let req = http
                    .request(method.clone(), url)
                    .header(reqwest::header::AUTHORIZATION, &auth)
                    .header(reqwest::header::ACCEPT, "application/json");
                match &body {
                    Body::None => req,
                    Body::Json(v) => req.json(v),
                    Body::File {
                        name,
                        content_type,
                        bytes,
                    } => req
                        .header(reqwest::header::CONTENT_TYPE, *content_type)
                        .header(
                            reqwest::header::CONTENT_DISPOSITION,
                            format!("attachment; filename=\"{name}\""),
                        )
                        .body(bytes.to_vec()),
                }
            })
            .await?;
        answer(resp).await
    }

    fn resource(resource: &str) -> Result<&'static str, ConnectorError> {
        SPEC.resource(resource).map(|r| r.name).ok_or_else(|| {
            ConnectorError::BadRequest(format!("WordPress has no resource `{resource}`"))
        })
    }
}

enum Body<'a> {
    None,
    Json(&'a Value),
    File {
        name: &'a str,
        content_type: &'a str,
        bytes: &'a [u8],
    },
}

#[async_trait::async_trait]
impl Connector for WordPress {
    fn spec(&self) -> &'static Spec {
        &SPEC
    }

    async fn verify(&self, conn: &Connection) -> Result<String, ConnectorError> {
        let url = Self::url(conn, "users/me?context=edit")?;
        let (me, _) = self.call(conn, Method::GET, &url, Body::None).await.map_err(|e| match e {
            ConnectorError::NotFound { .. } => ConnectorError::BadRequest(format!(
                "no WordPress REST API at {} (is it WordPress 5.6 or later, with pretty permalinks?)",
                conn.setting("site_url").unwrap_or_default()
            )),
            other => other,
        })?;
        Ok(me
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string())
    }

    async fn list(
        &self,
        conn: &Connection,
        resource: &str,
        req: &ListRequest,
    ) -> Result<Page, ConnectorError> {
        let resource = Self::resource(resource)?;
        let page = page_number(req.cursor.as_deref()).map_err(ConnectorError::BadRequest)?;
        let per_page = req.page_size.unwrap_or(MAX_PAGE).clamp(1, MAX_PAGE);
        let mut url = url::Url::parse(&Self::url(conn, resource)?)
            .map_err(|e| ConnectorError::BadRequest(format!("bad site URL: {e}")))?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("context", "edit")
                .append_pair("per_page", &per_page.to_string())
                .append_pair("page", &page.to_string())
                .append_pair("orderby", "id")
                .append_pair("order", "asc");
            if resource != "media" {
                // Drafts, pending and private ones too, not only published.
                q.append_pair("status", "any");
            }
            if let Some(since) = req.updated_since {
                q.append_pair(
                    "modified_after",
                    &since.format("%Y-%m-%dT%H:%M:%S").to_string(),
                );
            }
        }
        let (body, headers) = match self.call(conn, Method::GET, url.as_str(), Body::None).await {
            Ok(ok) => ok,
            // Asking past the last page (the listing shrank meanwhile).
            Err(ConnectorError::Invalid { message, .. }) if message.contains("page number") => {
                return Ok(Page::default())
            }
            Err(e) => return Err(e),
        };
        let items = body.as_array().ok_or_else(|| ConnectorError::Upstream {
            provider: PROVIDER,
            message: "a listing that is not a JSON array".into(),
        })?;
        let records = items
            .iter()
            .map(|v| record(resource, v))
            .collect::<Result<Vec<_>, _>>()?;
        let pages = header_number(&headers, "x-wp-totalpages").unwrap_or(0);
        Ok(Page {
            records,
            next: (u64::from(page) < pages).then(|| (page + 1).to_string()),
            total: header_number(&headers, "x-wp-total"),
        })
    }

    async fn get(
        &self,
        conn: &Connection,
        resource: &str,
        id: &str,
    ) -> Result<Record, ConnectorError> {
        let resource = Self::resource(resource)?;
        let url = Self::url(
            conn,
            &format!("{resource}/{}?context=edit", numeric_id(id)?),
        )?;
        let (v, _) = self.call(conn, Method::GET, &url, Body::None).await?;
        record(resource, &v)
    }

    async fn create(
        &self,
        conn: &Connection,
        resource: &str,
        body: &Value,
    ) -> Result<Record, ConnectorError> {
        let resource = Self::resource(resource)?;
        let fields = object(body)?;
        if resource == "media" {
            return self.upload(conn, fields).await;
        }
        let url = Self::url(conn, &format!("{resource}?context=edit"))?;
        let (v, _) = self
            .call(conn, Method::POST, &url, Body::Json(body))
            .await?;
        record(resource, &v)
    }

    async fn update(
        &self,
        conn: &Connection,
        resource: &str,
        id: &str,
        body: &Value,
    ) -> Result<Record, ConnectorError> {
        let resource = Self::resource(resource)?;
        object(body)?;
        let url = Self::url(
            conn,
            &format!("{resource}/{}?context=edit", numeric_id(id)?),
        )?;
        let (v, _) = self
            .call(conn, Method::POST, &url, Body::Json(body))
            .await?;
        record(resource, &v)
    }

    async fn delete(
        &self,
        conn: &Connection,
        resource: &str,
        id: &str,
    ) -> Result<(), ConnectorError> {
        let resource = Self::resource(resource)?;
        // `force`: deleted for good, as media must be, rather than trashed.
        let url = Self::url(conn, &format!("{resource}/{}?force=true", numeric_id(id)?))?;
        self.call(conn, Method::DELETE, &url, Body::None).await?;
        Ok(())
    }
}

impl WordPress {
    /// Uploads a file to the media library: the raw bytes with
    /// `Content-Disposition`, then its title and alt text if given.
    async fn upload(
        &self,
        conn: &Connection,
        fields: &Map<String, Value>,
    ) -> Result<Record, ConnectorError> {
        let text = |name: &str| fields.get(name).and_then(Value::as_str);
        let invalid = |field: &str, message: &str| ConnectorError::Invalid {
            provider: PROVIDER,
            message: format!("{field}: {message}"),
            fields: vec![FieldError {
                field: field.into(),
                message: message.into(),
            }],
        };
        let name =
            text("filename").ok_or_else(|| invalid("filename", "a file name is required"))?;
        if name.is_empty() || name.contains(['"', '/', '\\', '\r', '\n']) {
            return Err(invalid(
                "filename",
                "a plain file name without quotes or slashes",
            ));
        }
        let data = text("data_base64")
            .ok_or_else(|| invalid("data_base64", "the file's bytes in base64 are required"))?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|_| invalid("data_base64", "not valid base64"))?;
        let content_type = text("content_type").unwrap_or("application/octet-stream");
        let url = Self::url(conn, "media?context=edit")?;
        let (created, _) = self
            .call(
                conn,
                Method::POST,
                &url,
                Body::File {
                    name,
                    content_type,
                    bytes: &bytes,
                },
            )
            .await?;
        let mut details = Map::new();
        for key in ["title", "alt_text", "caption", "description"] {
            if let Some(v) = fields.get(key) {
                details.insert(key.into(), v.clone());
            }
        }
        if details.is_empty() {
            return record("media", &created);
        }
        let id = created
            .get("id")
            .and_then(Value::as_u64)
            .unwrap_or_default();
        let url = Self::url(conn, &format!("media/{id}?context=edit"))?;
        let (v, _) = self
            .call(
                conn,
                Method::POST,
                &url,
                Body::Json(&Value::Object(details)),
            )
            .await?;
        record("media", &v)
    }
}

fn object(body: &Value) -> Result<&Map<String, Value>, ConnectorError> {
    body.as_object()
        .ok_or_else(|| ConnectorError::BadRequest("the record must be a JSON object".into()))
}

fn numeric_id(id: &str) -> Result<u64, ConnectorError> {
    id.parse()
        .map_err(|_| ConnectorError::BadRequest(format!("`{id}` is not a WordPress id")))
}

/// The body of a successful answer, or its error normalised. WordPress
/// errors are `{code, message, data: {status, params?, details?}}`.
async fn answer(resp: Response) -> Result<(Value, reqwest::header::HeaderMap), ConnectorError> {
    let status = resp.status();
    let headers = resp.headers().clone();
    let text = resp.text().await.map_err(|e| ConnectorError::Unreachable {
        provider: PROVIDER,
        message: format!("the answer broke off: {e}"),
    })?;
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    if status.is_success() {
        if body.is_null() {
            return Err(ConnectorError::Upstream {
                provider: PROVIDER,
                message: format!(
                    "an answer that is not JSON: {}",
                    crate::http::excerpt(&text)
                ),
            });
        }
        return Ok((body, headers));
    }
    let message = body
        .get("message")
        .and_then(Value::as_str)
        .map(strip_tags)
        .unwrap_or_else(|| format!("{status}: {}", crate::http::excerpt(&text)));
    Err(match status {
        StatusCode::UNAUTHORIZED => ConnectorError::Unauthorized {
            provider: PROVIDER,
            message,
        },
        StatusCode::FORBIDDEN => ConnectorError::Forbidden {
            provider: PROVIDER,
            message,
        },
        StatusCode::NOT_FOUND | StatusCode::GONE => ConnectorError::NotFound {
            provider: PROVIDER,
            what: message,
        },
        s if s.is_client_error() => ConnectorError::Invalid {
            provider: PROVIDER,
            fields: field_errors(&body),
            message,
        },
        _ => ConnectorError::Upstream {
            provider: PROVIDER,
            message,
        },
    })
}

/// `data.params` (and the richer `data.details`) of a `rest_invalid_param`.
fn field_errors(body: &Value) -> Vec<FieldError> {
    let Some(params) = body.pointer("/data/params").and_then(Value::as_object) else {
        return Vec::new();
    };
    params
        .iter()
        .map(|(field, m)| FieldError {
            field: field.clone(),
            message: m.as_str().map(strip_tags).unwrap_or_else(|| m.to_string()),
        })
        .collect()
}

/// WordPress puts HTML in some messages (`<strong>Error:</strong>`).
fn strip_tags(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_tag = false;
    for c in s.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.trim().to_string()
}

/// A post, page or media item as a record.
fn record(resource: &str, v: &Value) -> Result<Record, ConnectorError> {
    let id = v
        .get("id")
        .and_then(Value::as_u64)
        .ok_or_else(|| ConnectorError::Upstream {
            provider: PROVIDER,
            message: format!("a {resource} item without an id"),
        })?;
    let text = |ptr: &str| {
        v.pointer(ptr)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let title = match v.pointer("/title/raw") {
        Some(Value::String(s)) => s.clone(),
        _ => strip_tags(&text("/title/rendered")),
    };
    let mut fields = Map::new();
    fields.insert("title".into(), json!(title));
    fields.insert("slug".into(), json!(text("/slug")));
    fields.insert("link".into(), json!(text("/link")));
    fields.insert("date".into(), json!(text("/date_gmt")));
    if resource == "media" {
        fields.insert("mime_type".into(), json!(text("/mime_type")));
        fields.insert("source_url".into(), json!(text("/source_url")));
        fields.insert("alt_text".into(), json!(text("/alt_text")));
    } else {
        fields.insert("excerpt".into(), json!(text("/excerpt/raw")));
    }
    let status = v.get("status").and_then(Value::as_str).map(str::to_string);
    if let Some(s) = &status {
        fields.insert("status".into(), json!(s));
    }
    Ok(Record {
        external_id: id.to_string(),
        title,
        status,
        updated_at: gmt(&text("/modified_gmt")),
        fields,
        raw: v.clone(),
    })
}

/// WordPress's `*_gmt` times carry no zone: they are UTC.
fn gmt(s: &str) -> Option<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S")
        .ok()
        .map(|t| t.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_post_becomes_a_record_with_its_raw_title_and_gmt_time() {
        let v = json!({
            "id": 7, "status": "draft", "slug": "hello",
            "title": {"raw": "Hello & welcome", "rendered": "Hello &amp; welcome"},
            "modified_gmt": "2026-12-07T10:11:12", "excerpt": {"raw": "x"}
        });
        let r = record("posts", &v).unwrap();
        assert_eq!(r.external_id, "7");
        assert_eq!(r.title, "Hello & welcome");
        assert_eq!(r.status.as_deref(), Some("draft"));
        assert_eq!(
            r.updated_at.unwrap().to_rfc3339(),
            "2026-12-07T10:11:12+00:00"
        );
    }

    #[test]
    fn invalid_params_become_field_errors_without_html() {
        let body = json!({"code": "rest_invalid_param", "message": "Invalid parameter(s): status",
            "data": {"status": 400, "params": {"status": "status is not one of <b>publish</b>, draft."}}});
        assert_eq!(
            field_errors(&body),
            vec![FieldError {
                field: "status".into(),
                message: "status is not one of publish, draft.".into()
            }]
        );
    }
}
