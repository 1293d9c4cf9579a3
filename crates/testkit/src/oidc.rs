//! A local identity provider for tests: an OpenID Connect issuer (discovery,
//! JWKS with RS256 keys it generates, authorize and token endpoints) and
//! GitHub's OAuth endpoints and REST API (`/login/oauth/*`, `/user`,
//! `/user/emails`), on 127.0.0.1.
//!
//! The authorize endpoints approve at once as the user the test set with
//! [`IdentityProvider::sign_in_as`], as a provider would after its login
//! screen. Codes are single-use, bound to the client, redirect URI and PKCE
//! challenge; errors follow RFC 6749 (and GitHub's 200-with-`error` habit).

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use chrono::{TimeDelta, Utc};
use openidconnect::core::{
    CoreIdToken, CoreIdTokenClaims, CoreJsonWebKeySet, CoreJwsSigningAlgorithm,
    CoreRsaPrivateSigningKey,
};
use openidconnect::{
    Audience, EmptyAdditionalClaims, EndUserEmail, EndUserName, IssuerUrl, JsonWebKeyId, Nonce,
    PrivateSigningKey, StandardClaims, SubjectIdentifier,
};
use rsa::pkcs1::EncodeRsaPrivateKey;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// The client the app is registered as.
pub const CLIENT_ID: &str = "bizosaas-test-client";
/// Its secret.
pub const CLIENT_SECRET: &str = "bizosaas-test-secret";

/// Who approves the next sign-in.
#[derive(Clone, Debug)]
pub struct SimUser {
    /// Stable subject (`sub`, or GitHub's numeric id).
    pub subject: String,
    /// Email address.
    pub email: String,
    /// Whether the provider vouches for it.
    pub email_verified: bool,
    /// Display name.
    pub name: String,
}

impl SimUser {
    /// A user with a verified email.
    pub fn verified(subject: &str, email: &str) -> Self {
        Self {
            subject: subject.into(),
            email: email.into(),
            email_verified: true,
            name: "Sam Sso".into(),
        }
    }
}

/// How the next ID token is spoiled, to test that the app notices.
#[derive(Clone, Debug, Default)]
pub struct Spoil {
    /// Already expired.
    pub expired: bool,
    /// Signed with a key that is not in the JWKS.
    pub foreign_key: bool,
    /// Carries this nonce instead of the one asked for.
    pub nonce: Option<String>,
}

struct Grant {
    redirect_uri: String,
    challenge: Option<String>,
    nonce: Option<String>,
    user: SimUser,
    used: bool,
}

#[derive(Default)]
struct Sim {
    user: Option<SimUser>,
    spoil: Spoil,
    codes: HashMap<String, Grant>,
    github_tokens: HashMap<String, SimUser>,
}

#[derive(Clone)]
struct Ctx {
    issuer: String,
    sim: Arc<Mutex<Sim>>,
}

/// A running simulated provider.
pub struct IdentityProvider {
    /// Its base URL (the OIDC issuer, and GitHub's web and API base).
    pub base: String,
    sim: Arc<Mutex<Sim>>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

fn keys() -> &'static (CoreRsaPrivateSigningKey, CoreRsaPrivateSigningKey) {
    static KEYS: OnceLock<(CoreRsaPrivateSigningKey, CoreRsaPrivateSigningKey)> = OnceLock::new();
    KEYS.get_or_init(|| {
        let make = |kid: &str| {
            let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).expect("RSA key");
            let pem = key.to_pkcs1_pem(rsa::pkcs8::LineEnding::LF).expect("PEM");
            CoreRsaPrivateSigningKey::from_pem(&pem, Some(JsonWebKeyId::new(kid.into())))
                .expect("signing key")
        };
        (make("sim-key-1"), make("foreign-key"))
    })
}

impl IdentityProvider {
    /// Starts the provider on a free loopback port.
    pub async fn start() -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let sim = Arc::new(Mutex::new(Sim::default()));
        let ctx = Ctx {
            issuer: base.clone(),
            sim: sim.clone(),
        };
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .route("/login/oauth/authorize", get(authorize))
            .route("/login/oauth/access_token", post(github_token))
            .route("/user", get(github_user))
            .route("/user/emails", get(github_emails))
            .with_state(ctx);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await;
        });
        keys();
        Ok(Self {
            base,
            sim,
            _stop: stop,
        })
    }

    /// The user the next authorize request approves as.
    pub fn sign_in_as(&self, user: SimUser) {
        self.sim.lock().unwrap().user = Some(user);
    }

    /// Spoils the ID tokens issued from now on.
    pub fn spoil(&self, spoil: Spoil) {
        self.sim.lock().unwrap().spoil = spoil;
    }

    /// This provider as a generic OIDC issuer of the app's configuration.
    pub fn oidc_config(&self, id: &str) -> auth::sso::ProviderConfig {
        auth::sso::ProviderConfig::oidc(
            id,
            "Test IdP",
            &self.base,
            CLIENT_ID.into(),
            CLIENT_SECRET.into(),
        )
    }

    /// This provider as GitHub.
    pub fn github_config(&self) -> auth::sso::ProviderConfig {
        auth::sso::ProviderConfig::github_at(
            &self.base,
            &self.base,
            CLIENT_ID.into(),
            CLIENT_SECRET.into(),
        )
    }
}

async fn discovery(State(ctx): State<Ctx>) -> Json<serde_json::Value> {
    let i = &ctx.issuer;
    Json(json!({
        "issuer": i,
        "authorization_endpoint": format!("{i}/authorize"),
        "token_endpoint": format!("{i}/token"),
        "jwks_uri": format!("{i}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "email", "profile"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nonce", "email", "email_verified", "name"],
        "code_challenge_methods_supported": ["S256"],
        "grant_types_supported": ["authorization_code"],
    }))
}

async fn jwks() -> Json<CoreJsonWebKeySet> {
    Json(CoreJsonWebKeySet::new(vec![keys().0.as_verification_key()]))
}

#[derive(Deserialize)]
struct AuthorizeQuery {
    client_id: Option<String>,
    redirect_uri: Option<String>,
    state: Option<String>,
    nonce: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    response_type: Option<String>,
}

async fn authorize(State(ctx): State<Ctx>, Query(q): Query<AuthorizeQuery>) -> Response {
    let Some(redirect_uri) = q.redirect_uri else {
        return (StatusCode::BAD_REQUEST, "redirect_uri is required").into_response();
    };
    if q.client_id.as_deref() != Some(CLIENT_ID) {
        return (StatusCode::BAD_REQUEST, "unknown client_id").into_response();
    }
    let state = q.state.unwrap_or_default();
    let sep = if redirect_uri.contains('?') { '&' } else { '?' };
    let fail = |error: &str| {
        Redirect::to(&format!("{redirect_uri}{sep}error={error}&state={state}")).into_response()
    };
    if q.response_type.as_deref().is_some_and(|t| t != "code") {
        return fail("unsupported_response_type");
    }
    if q.code_challenge.is_some() && q.code_challenge_method.as_deref() != Some("S256") {
        return fail("invalid_request");
    }
    let mut sim = ctx.sim.lock().unwrap();
    let Some(user) = sim.user.clone() else {
        return fail("access_denied");
    };
    let code = random();
    sim.codes.insert(
        code.clone(),
        Grant {
            redirect_uri: redirect_uri.clone(),
            challenge: q.code_challenge,
            nonce: q.nonce,
            user,
            used: false,
        },
    );
    Redirect::to(&format!("{redirect_uri}{sep}code={code}&state={state}")).into_response()
}

fn random() -> String {
    let bytes: [u8; 24] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[derive(Deserialize)]
struct TokenForm {
    grant_type: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(json!({ "error": error, "error_description": description })),
    )
        .into_response()
}

/// Client credentials from HTTP Basic or the form (RFC 6749 §2.3.1).
fn client_of(headers: &HeaderMap, form: &TokenForm) -> Option<(String, String)> {
    let basic = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| {
            let (id, secret) = s.split_once(':')?;
            let dec = |v: &str| {
                form_urlencoded::parse(format!("v={v}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
            };
            Some((dec(id)?, dec(secret)?))
        });
    basic.or_else(|| Some((form.client_id.clone()?, form.client_secret.clone()?)))
}

/// An OAuth error: status, `error` code, description.
type OAuthError = (StatusCode, &'static str, String);

/// Checks the code grant and consumes the code; gives the user and nonce.
fn redeem(
    ctx: &Ctx,
    headers: &HeaderMap,
    f: &TokenForm,
) -> Result<(SimUser, Option<String>), OAuthError> {
    let bad = |e: &'static str, d: &str| (StatusCode::BAD_REQUEST, e, d.to_string());
    if f.grant_type
        .as_deref()
        .is_some_and(|g| g != "authorization_code")
    {
        return Err(bad("unsupported_grant_type", "only authorization_code"));
    }
    match client_of(headers, f) {
        Some((id, secret)) if id == CLIENT_ID && secret == CLIENT_SECRET => {}
        _ => {
            return Err((
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "client authentication failed".into(),
            ))
        }
    }
    let code = f.code.clone().unwrap_or_default();
    let mut sim = ctx.sim.lock().unwrap();
    let Some(grant) = sim.codes.get_mut(&code) else {
        return Err(bad("invalid_grant", "unknown authorization code"));
    };
    if grant.used {
        return Err(bad(
            "invalid_grant",
            "the authorization code was already used",
        ));
    }
    grant.used = true;
    if f.redirect_uri.as_deref() != Some(grant.redirect_uri.as_str()) {
        return Err(bad(
            "invalid_grant",
            "redirect_uri does not match the authorization request",
        ));
    }
    if let Some(challenge) = &grant.challenge {
        let verifier = f.code_verifier.clone().unwrap_or_default();
        let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(Sha256::digest(verifier.as_bytes()));
        if &computed != challenge {
            return Err(bad("invalid_grant", "PKCE verification failed"));
        }
    }
    Ok((grant.user.clone(), grant.nonce.clone()))
}

async fn token(State(ctx): State<Ctx>, headers: HeaderMap, Form(f): Form<TokenForm>) -> Response {
    let (user, nonce) = match redeem(&ctx, &headers, &f) {
        Ok(g) => g,
        Err((status, error, description)) => return oauth_error(status, error, &description),
    };
    let spoil = ctx.sim.lock().unwrap().spoil.clone();
    let now = Utc::now();
    let (iat, exp) = if spoil.expired {
        (now - TimeDelta::hours(2), now - TimeDelta::hours(1))
    } else {
        (now, now + TimeDelta::minutes(10))
    };
    let mut name = openidconnect::LocalizedClaim::new();
    name.insert(None, EndUserName::new(user.name.clone()));
    let claims = CoreIdTokenClaims::new(
        IssuerUrl::new(ctx.issuer.clone()).expect("issuer"),
        vec![Audience::new(CLIENT_ID.into())],
        exp,
        iat,
        StandardClaims::new(SubjectIdentifier::new(user.subject.clone()))
            .set_email(Some(EndUserEmail::new(user.email.clone())))
            .set_email_verified(Some(user.email_verified))
            .set_name(Some(name)),
        EmptyAdditionalClaims {},
    )
    .set_nonce(spoil.nonce.or(nonce).map(Nonce::new));
    let key = if spoil.foreign_key {
        &keys().1
    } else {
        &keys().0
    };
    let id_token = CoreIdToken::new(
        claims,
        key,
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        None,
        None,
    )
    .expect("ID token signs");
    let access = random();
    ctx.sim
        .lock()
        .unwrap()
        .github_tokens
        .insert(access.clone(), user);
    Json(json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": 600,
        "scope": "openid email profile",
        "id_token": id_token,
    }))
    .into_response()
}

/// GitHub answers token errors with 200 and an `error` field.
async fn github_token(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    Form(f): Form<TokenForm>,
) -> Response {
    match redeem(&ctx, &headers, &f) {
        Ok((user, _)) => {
            let access = format!("gho_{}", random());
            ctx.sim
                .lock()
                .unwrap()
                .github_tokens
                .insert(access.clone(), user);
            Json(json!({ "access_token": access, "token_type": "bearer", "scope": "read:user,user:email" })).into_response()
        }
        Err((_, error, description)) => {
            let error = if error == "invalid_grant" {
                "bad_verification_code"
            } else {
                error
            };
            Json(json!({ "error": error, "error_description": description, "error_uri": "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors" })).into_response()
        }
    }
}

fn github_caller(ctx: &Ctx, headers: &HeaderMap) -> Result<SimUser, Box<Response>> {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("token "))
        })
        .unwrap_or("");
    if headers.get("user-agent").is_none() {
        return Err(Box::new((StatusCode::FORBIDDEN, "Request forbidden by administrative rules. Please make sure your request has a User-Agent header").into_response()));
    }
    ctx.sim.lock().unwrap().github_tokens.get(token).cloned().ok_or_else(|| {
        Box::new((
            StatusCode::UNAUTHORIZED,
            Json(json!({ "message": "Bad credentials", "documentation_url": "https://docs.github.com/rest", "status": "401" })),
        )
            .into_response())
    })
}

async fn github_user(State(ctx): State<Ctx>, headers: HeaderMap) -> Response {
    match github_caller(&ctx, &headers) {
        Ok(u) => Json(json!({
            "login": u.email.split('@').next().unwrap_or("user"),
            "id": u.subject.parse::<u64>().unwrap_or(1),
            "name": u.name,
            "email": null,
            "type": "User",
        }))
        .into_response(),
        Err(r) => *r,
    }
}

async fn github_emails(State(ctx): State<Ctx>, headers: HeaderMap) -> Response {
    match github_caller(&ctx, &headers) {
        Ok(u) => Json(json!([
            { "email": u.email, "primary": true, "verified": u.email_verified, "visibility": "private" },
            { "email": format!("{}@users.noreply.github.com", u.subject), "primary": false, "verified": true, "visibility": null },
        ]))
        .into_response(),
        Err(r) => *r,
    }
}
