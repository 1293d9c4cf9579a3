//! The connectors this build has, and the machinery they share.

use crate::http::{Gate, Http};
use crate::{Connection, Connector, Spec};
use domain::secrets::Secret;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Every connector by id, the shared client, and a gate per connection.
#[derive(Clone)]
pub struct Registry {
    connectors: Arc<Vec<Arc<dyn Connector>>>,
    http: Http,
    gates: Arc<Mutex<HashMap<uuid::Uuid, Arc<Gate>>>>,
}

impl Registry {
    /// The built-in connectors over `http`.
    pub fn builtin(http: Http) -> Self {
        Self::new(http, vec![Arc::new(crate::wordpress::WordPress)])
    }

    /// These connectors over `http`.
    pub fn new(http: Http, connectors: Vec<Arc<dyn Connector>>) -> Self {
        Self {
            connectors: Arc::new(connectors),
            http,
            gates: Arc::default(),
        }
    }

    /// Where calls may go.
    pub fn policy(&self) -> &outbound::Policy {
        self.http.policy()
    }

    /// Every connector's description, in registration order.
    pub fn specs(&self) -> impl Iterator<Item = &'static Spec> + '_ {
        self.connectors.iter().map(|c| c.spec())
    }

    /// The connector with this id.
    pub fn get(&self, id: &str) -> Option<&Arc<dyn Connector>> {
        self.connectors.iter().find(|c| c.spec().id == id)
    }

    /// Opens a connection for calls: its settings, its secret, and the gate
    /// it shares with every other call of the same connection here.
    pub fn open(&self, id: uuid::Uuid, settings: Map<String, Value>, secret: Secret) -> Connection {
        let gate = self
            .gates
            .lock()
            .expect("the gate map is never poisoned")
            .entry(id)
            .or_default()
            .clone();
        Connection {
            id,
            settings,
            secret,
            http: self.http.clone(),
            gate,
        }
    }

    /// Forgets a connection's gate (it was disconnected).
    pub fn close(&self, id: uuid::Uuid) {
        self.gates
            .lock()
            .expect("the gate map is never poisoned")
            .remove(&id);
    }
}
