//! The trait every connector implements, and the connection it works on.

use crate::http::{Gate, Http};
use crate::{ConnectorError, ListRequest, Page, Record, Spec};
use domain::secrets::Secret;
use serde_json::{Map, Value};
use std::sync::Arc;

/// One tenant's connection to a provider, opened for a call or a sync.
#[derive(Clone)]
pub struct Connection {
    /// Its id (the gate is per connection).
    pub id: uuid::Uuid,
    /// The non-secret fields it was made with (a site URL, a user name).
    pub settings: Map<String, Value>,
    /// The secret fields, read from the secret store for this call.
    pub secret: Secret,
    /// The shared client, with this connection's rate-limit gate.
    pub http: Http,
    pub(crate) gate: Arc<Gate>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("id", &self.id)
            .field("settings", &self.settings)
            .field("secret", &self.secret)
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// A non-secret setting as text.
    pub fn setting(&self, name: &str) -> Result<&str, ConnectorError> {
        self.settings
            .get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| ConnectorError::BadRequest(format!("the connection has no {name}")))
    }

    /// A secret field.
    pub fn secret(&self, name: &str) -> Result<&secrecy::SecretString, ConnectorError> {
        self.secret
            .get(name)
            .ok_or_else(|| ConnectorError::BadRequest(format!("the connection has no {name}")))
    }

    /// Sends a request built by `build` (again on each attempt) through the
    /// shared machinery: the gate, retries and error normalisation.
    pub async fn send(
        &self,
        provider: &'static str,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, ConnectorError> {
        self.http.send(provider, &self.gate, build).await
    }
}

/// A provider's API, as the platform uses it.
#[async_trait::async_trait]
pub trait Connector: Send + Sync {
    /// What it is, how it connects, what it has.
    fn spec(&self) -> &'static Spec;

    /// Checks the connection with a live call; returns who it signed in as.
    async fn verify(&self, conn: &Connection) -> Result<String, ConnectorError>;

    /// A page of a resource's records.
    async fn list(
        &self,
        conn: &Connection,
        resource: &str,
        req: &ListRequest,
    ) -> Result<Page, ConnectorError>;

    /// One record.
    async fn get(
        &self,
        conn: &Connection,
        resource: &str,
        id: &str,
    ) -> Result<Record, ConnectorError>;

    /// Creates a record from the portal's or an agent's JSON.
    async fn create(
        &self,
        conn: &Connection,
        resource: &str,
        body: &Value,
    ) -> Result<Record, ConnectorError>;

    /// Changes a record.
    async fn update(
        &self,
        conn: &Connection,
        resource: &str,
        id: &str,
        body: &Value,
    ) -> Result<Record, ConnectorError>;

    /// Deletes a record at the provider.
    async fn delete(
        &self,
        conn: &Connection,
        resource: &str,
        id: &str,
    ) -> Result<(), ConnectorError>;
}
