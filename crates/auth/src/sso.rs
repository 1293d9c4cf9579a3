//! Single sign-on: OpenID Connect (Google, Microsoft Entra ID, any issuer)
//! and GitHub's OAuth2 with its user and emails API.
//!
//! [`Sso::start`] builds the provider's authorize URL with a random state,
//! nonce (OIDC) and PKCE challenge, and returns the [`PendingFlow`] the
//! caller keeps (in a short-lived HttpOnly cookie) until the callback.
//! [`Sso::finish`] checks the state, exchanges the code with the PKCE
//! verifier, and, for OIDC, verifies the ID token: signature against the
//! issuer's JWKS, issuer, audience, expiry and nonce. What it returns is an
//! [`ExternalIdentity`]; linking it to an account is the caller's business.

use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use subtle::ConstantTimeEq;
use tokio::sync::RwLock;

/// How long a started sign-in may take before its callback is refused.
pub const FLOW_LIFETIME: Duration = Duration::from_secs(600);

/// What went wrong in a sign-in; the message is safe to show.
#[derive(Debug, thiserror::Error)]
pub enum SsoError {
    /// No provider with this id is configured.
    #[error("no sign-in provider `{0}` is configured")]
    UnknownProvider(String),
    /// The callback does not belong to the sign-in this browser started.
    #[error("the sign-in could not be matched to this browser (state mismatch); start again")]
    StateMismatch,
    /// The sign-in took too long.
    #[error("the sign-in took too long; start again")]
    Expired,
    /// The provider refused or the user cancelled.
    #[error("the provider refused the sign-in: {0}")]
    Refused(String),
    /// The provider could not be reached or answered nonsense.
    #[error("the provider could not be reached: {0}")]
    Unreachable(String),
    /// The ID token failed verification.
    #[error("the provider's ID token is invalid: {0}")]
    InvalidIdToken(String),
    /// The provider gave no email address.
    #[error("the provider did not share an email address")]
    NoEmail,
    /// Bad configuration.
    #[error("sign-in provider misconfigured: {0}")]
    Config(String),
}

/// What kind of provider, and where it lives.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ProviderKind {
    /// An OpenID Connect issuer, found by discovery.
    Oidc {
        /// The issuer URL (`iss`), e.g. `https://accounts.google.com`.
        issuer: String,
    },
    /// GitHub (OAuth2 and its REST API).
    Github {
        /// Where users authorize (`https://github.com/login/oauth/authorize`).
        authorize_url: String,
        /// Where codes are exchanged (`https://github.com/login/oauth/access_token`).
        token_url: String,
        /// The REST API (`https://api.github.com`).
        api_url: String,
    },
}

/// One configured provider.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ProviderConfig {
    /// Path segment and stored provider name: `google`, `microsoft`, `github`, …
    pub id: String,
    /// Button label.
    pub label: String,
    /// Kind and endpoints.
    #[serde(flatten)]
    pub kind: ProviderKind,
    /// OAuth client id.
    pub client_id: String,
    /// OAuth client secret.
    pub client_secret: String,
}

impl ProviderConfig {
    /// Google, by its published issuer.
    pub fn google(client_id: String, client_secret: String) -> Self {
        Self::oidc(
            "google",
            "Google",
            "https://accounts.google.com",
            client_id,
            client_secret,
        )
    }
    /// Microsoft Entra ID for one directory (tenant id or domain): its
    /// tokens carry that directory's issuer, which discovery checks.
    pub fn microsoft(directory: &str, client_id: String, client_secret: String) -> Self {
        let issuer = format!("https://login.microsoftonline.com/{directory}/v2.0");
        Self::oidc("microsoft", "Microsoft", &issuer, client_id, client_secret)
    }
    /// GitHub at its public addresses.
    pub fn github(client_id: String, client_secret: String) -> Self {
        Self::github_at(
            "https://github.com",
            "https://api.github.com",
            client_id,
            client_secret,
        )
    }
    /// GitHub (or GitHub Enterprise, or a simulator) at given addresses.
    pub fn github_at(web: &str, api: &str, client_id: String, client_secret: String) -> Self {
        let web = web.trim_end_matches('/');
        Self {
            id: "github".into(),
            label: "GitHub".into(),
            kind: ProviderKind::Github {
                authorize_url: format!("{web}/login/oauth/authorize"),
                token_url: format!("{web}/login/oauth/access_token"),
                api_url: api.trim_end_matches('/').to_string(),
            },
            client_id,
            client_secret,
        }
    }
    /// Any OpenID Connect issuer.
    pub fn oidc(
        id: &str,
        label: &str,
        issuer: &str,
        client_id: String,
        client_secret: String,
    ) -> Self {
        Self {
            id: id.into(),
            label: label.into(),
            kind: ProviderKind::Oidc {
                issuer: issuer.into(),
            },
            client_id,
            client_secret,
        }
    }
}

/// A sign-in in progress, kept by the browser until the callback.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct PendingFlow {
    /// Provider id.
    pub provider: String,
    /// The state sent; the callback must bring it back.
    pub state: String,
    /// The nonce the ID token must carry (OIDC).
    pub nonce: Option<String>,
    /// The PKCE verifier for the code exchange.
    pub pkce_verifier: String,
    /// Where to go afterwards.
    pub next: String,
    /// Started at (Unix seconds).
    pub started: u64,
}

/// A started sign-in: send the browser to `redirect`, keep `flow`.
pub struct Started {
    /// The provider's authorize URL.
    pub redirect: String,
    /// What the callback needs.
    pub flow: PendingFlow,
}

/// Who the provider says signed in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExternalIdentity {
    /// Provider id.
    pub provider: String,
    /// The provider's stable id for the user (`sub`, or GitHub's user id).
    pub subject: String,
    /// Email address.
    pub email: String,
    /// Whether the provider vouches for the email.
    pub email_verified: bool,
    /// Display name, when given.
    pub name: Option<String>,
}

struct Provider {
    config: ProviderConfig,
    /// Discovered once, on first use; a failed discovery is retried next time.
    metadata: RwLock<Option<CoreProviderMetadata>>,
}

/// The configured providers and the HTTP client they are reached with.
#[derive(Clone)]
pub struct Sso {
    providers: Arc<Vec<Provider>>,
    http: openidconnect::reqwest::Client,
    callback_base: String,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Sso {
    /// Providers reached over HTTP; callbacks go to
    /// `{public_url}/auth/sso/{id}/callback`.
    pub fn new(configs: Vec<ProviderConfig>, public_url: &str) -> Result<Self, SsoError> {
        let http = openidconnect::reqwest::ClientBuilder::new()
            // Redirects are never followed: an SSRF guard the crate asks for.
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| SsoError::Config(e.to_string()))?;
        Ok(Self {
            providers: Arc::new(
                configs
                    .into_iter()
                    .map(|config| Provider {
                        config,
                        metadata: RwLock::new(None),
                    })
                    .collect(),
            ),
            http,
            callback_base: public_url.trim_end_matches('/').to_string(),
        })
    }

    /// No providers: the sign-in page shows none.
    pub fn none() -> Self {
        Self::new(vec![], "http://127.0.0.1").expect("a client without providers builds")
    }

    /// `(id, label)` of each configured provider, in configuration order.
    pub fn providers(&self) -> Vec<(String, String)> {
        self.providers
            .iter()
            .map(|p| (p.config.id.clone(), p.config.label.clone()))
            .collect()
    }

    fn provider(&self, id: &str) -> Result<&Provider, SsoError> {
        self.providers
            .iter()
            .find(|p| p.config.id == id)
            .ok_or_else(|| SsoError::UnknownProvider(id.to_string()))
    }

    fn redirect_url(&self, id: &str) -> Result<RedirectUrl, SsoError> {
        RedirectUrl::new(format!("{}/auth/sso/{id}/callback", self.callback_base))
            .map_err(|e| SsoError::Config(e.to_string()))
    }

    async fn metadata(&self, p: &Provider, issuer: &str) -> Result<CoreProviderMetadata, SsoError> {
        if let Some(m) = p.metadata.read().await.as_ref() {
            return Ok(m.clone());
        }
        let url =
            IssuerUrl::new(issuer.to_string()).map_err(|e| SsoError::Config(e.to_string()))?;
        let m = CoreProviderMetadata::discover_async(url, &self.http)
            .await
            .map_err(|e| SsoError::Unreachable(format!("discovery failed: {e}")))?;
        *p.metadata.write().await = Some(m.clone());
        Ok(m)
    }

    async fn oidc_client(
        &self,
        p: &Provider,
        issuer: &str,
    ) -> Result<
        CoreClient<
            openidconnect::EndpointSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointMaybeSet,
            openidconnect::EndpointMaybeSet,
        >,
        SsoError,
    > {
        let metadata = self.metadata(p, issuer).await?;
        Ok(CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(p.config.client_id.clone()),
            Some(ClientSecret::new(p.config.client_secret.clone())),
        )
        .set_redirect_uri(self.redirect_url(&p.config.id)?))
    }

    fn github_client(
        &self,
        p: &Provider,
        authorize_url: &str,
        token_url: &str,
    ) -> Result<
        oauth2::basic::BasicClient<
            oauth2::EndpointSet,
            oauth2::EndpointNotSet,
            oauth2::EndpointNotSet,
            oauth2::EndpointNotSet,
            oauth2::EndpointSet,
        >,
        SsoError,
    > {
        let bad = |e: oauth2::url::ParseError| SsoError::Config(e.to_string());
        Ok(
            oauth2::basic::BasicClient::new(oauth2::ClientId::new(p.config.client_id.clone()))
                .set_client_secret(oauth2::ClientSecret::new(p.config.client_secret.clone()))
                .set_auth_uri(oauth2::AuthUrl::new(authorize_url.to_string()).map_err(bad)?)
                .set_token_uri(oauth2::TokenUrl::new(token_url.to_string()).map_err(bad)?)
                // GitHub reads the client credentials from the form body.
                .set_auth_type(oauth2::AuthType::RequestBody)
                .set_redirect_uri(
                    oauth2::RedirectUrl::new(self.redirect_url(&p.config.id)?.to_string())
                        .map_err(bad)?,
                ),
        )
    }

    /// Starts a sign-in with provider `id`; `next` is where to land after.
    pub async fn start(&self, id: &str, next: &str) -> Result<Started, SsoError> {
        let p = self.provider(id)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (redirect, state, nonce) = match &p.config.kind {
            ProviderKind::Oidc { issuer } => {
                let client = self.oidc_client(p, issuer).await?;
                let (url, state, nonce) = client
                    .authorize_url(
                        CoreAuthenticationFlow::AuthorizationCode,
                        CsrfToken::new_random,
                        Nonce::new_random,
                    )
                    .add_scope(Scope::new("email".into()))
                    .add_scope(Scope::new("profile".into()))
                    .set_pkce_challenge(challenge)
                    .url();
                (
                    url.to_string(),
                    state.secret().clone(),
                    Some(nonce.secret().clone()),
                )
            }
            ProviderKind::Github {
                authorize_url,
                token_url,
                ..
            } => {
                let client = self.github_client(p, authorize_url, token_url)?;
                let challenge = oauth2::PkceCodeChallenge::from_code_verifier_sha256(
                    &oauth2::PkceCodeVerifier::new(verifier.secret().clone()),
                );
                let (url, state) = client
                    .authorize_url(oauth2::CsrfToken::new_random)
                    .add_scope(oauth2::Scope::new("read:user".into()))
                    .add_scope(oauth2::Scope::new("user:email".into()))
                    .set_pkce_challenge(challenge)
                    .url();
                (url.to_string(), state.secret().clone(), None)
            }
        };
        Ok(Started {
            redirect,
            flow: PendingFlow {
                provider: id.to_string(),
                state,
                nonce,
                pkce_verifier: verifier.secret().clone(),
                next: next.to_string(),
                started: now(),
            },
        })
    }

    /// Completes a sign-in from the callback's `code` and `state`.
    pub async fn finish(
        &self,
        id: &str,
        flow: &PendingFlow,
        code: &str,
        state: &str,
    ) -> Result<ExternalIdentity, SsoError> {
        let p = self.provider(id)?;
        let same_state: bool = flow.state.as_bytes().ct_eq(state.as_bytes()).into();
        if flow.provider != id || !same_state {
            return Err(SsoError::StateMismatch);
        }
        if now().saturating_sub(flow.started) > FLOW_LIFETIME.as_secs() {
            return Err(SsoError::Expired);
        }
        match &p.config.kind {
            ProviderKind::Oidc { issuer } => self.finish_oidc(p, issuer, flow, code).await,
            ProviderKind::Github {
                authorize_url,
                token_url,
                api_url,
            } => {
                let client = self.github_client(p, authorize_url, token_url)?;
                let token = client
                    .exchange_code(oauth2::AuthorizationCode::new(code.to_string()))
                    .set_pkce_verifier(oauth2::PkceCodeVerifier::new(flow.pkce_verifier.clone()))
                    .request_async(&self.http)
                    .await
                    .map_err(|e| refused_or_unreachable(&e))?;
                github_identity(&self.http, api_url, token.access_token().secret()).await
            }
        }
    }

    async fn finish_oidc(
        &self,
        p: &Provider,
        issuer: &str,
        flow: &PendingFlow,
        code: &str,
    ) -> Result<ExternalIdentity, SsoError> {
        let client = self.oidc_client(p, issuer).await?;
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(|e| SsoError::Config(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(flow.pkce_verifier.clone()))
            .request_async(&self.http)
            .await
            .map_err(|e| refused_or_unreachable(&e))?;
        let id_token = response
            .id_token()
            .ok_or_else(|| SsoError::InvalidIdToken("the token response has no ID token".into()))?;
        let nonce = Nonce::new(flow.nonce.clone().unwrap_or_default());
        let claims = id_token
            .claims(&client.id_token_verifier(), &nonce)
            .map_err(|e| SsoError::InvalidIdToken(e.to_string()))?;
        let email = claims
            .email()
            .ok_or(SsoError::NoEmail)?
            .as_str()
            .to_string();
        Ok(ExternalIdentity {
            provider: p.config.id.clone(),
            subject: claims.subject().as_str().to_string(),
            email,
            // An issuer that does not say the email is verified is not trusted to.
            email_verified: claims.email_verified().unwrap_or(false),
            name: claims
                .name()
                .and_then(|n| n.get(None))
                .map(|n| n.as_str().to_string()),
        })
    }
}

fn refused_or_unreachable<RE, T>(e: &oauth2::RequestTokenError<RE, T>) -> SsoError
where
    RE: std::error::Error + 'static,
    T: oauth2::ErrorResponse + 'static,
{
    match e {
        oauth2::RequestTokenError::ServerResponse(r) => SsoError::Refused(r.to_string()),
        oauth2::RequestTokenError::Request(r) => SsoError::Unreachable(r.to_string()),
        other => SsoError::Refused(other.to_string()),
    }
}

#[derive(Deserialize)]
struct GithubUser {
    id: u64,
    login: String,
    name: Option<String>,
}

#[derive(Deserialize)]
struct GithubEmail {
    email: String,
    primary: bool,
    verified: bool,
}

/// The GitHub user behind an access token, with their primary email and
/// whether GitHub has verified it (`GET /user`, `GET /user/emails`).
async fn github_identity(
    http: &openidconnect::reqwest::Client,
    api: &str,
    token: &str,
) -> Result<ExternalIdentity, SsoError> {
    let get = |path: &str| {
        http.get(format!("{api}{path}"))
            .bearer_auth(token)
            .header("accept", "application/vnd.github+json")
            .header("x-github-api-version", "2022-11-28")
            .header("user-agent", "bizosaas")
            .send()
    };
    let unreachable = |e: openidconnect::reqwest::Error| SsoError::Unreachable(e.to_string());
    let res = get("/user").await.map_err(unreachable)?;
    if !res.status().is_success() {
        return Err(SsoError::Refused(format!(
            "GitHub answered {} for the user",
            res.status()
        )));
    }
    let user: GithubUser = res.json().await.map_err(unreachable)?;
    let res = get("/user/emails").await.map_err(unreachable)?;
    if !res.status().is_success() {
        return Err(SsoError::Refused(format!(
            "GitHub answered {} for the emails",
            res.status()
        )));
    }
    let emails: Vec<GithubEmail> = res.json().await.map_err(unreachable)?;
    let primary = emails
        .iter()
        .find(|e| e.primary)
        .or_else(|| emails.first())
        .ok_or(SsoError::NoEmail)?;
    Ok(ExternalIdentity {
        provider: "github".into(),
        subject: user.id.to_string(),
        email: primary.email.clone(),
        email_verified: primary.verified,
        name: user.name.or(Some(user.login)),
    })
}
