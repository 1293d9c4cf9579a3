//! The one outbound HTTP client for every URL a tenant gives (LLM endpoints
//! now, connectors and webhooks next), guarded against server-side request
//! forgery where it counts: at the address actually connected to.
//!
//! - Names are resolved by [`GuardedResolver`], which refuses loopback,
//!   private, link-local, CGNAT, unspecified, multicast and IPv4-mapped
//!   IPv6 forms of them; the connection can only go to an address it let
//!   through, so a name that changes its answer (DNS rebinding) gains
//!   nothing.
//! - URLs with an address instead of a name (`http://2130706433/`,
//!   `http://[::ffff:127.0.0.1]/`) never reach a resolver; they are checked
//!   before the request and at every redirect.
//! - Environment proxies are ignored: a proxy would make the connection in
//!   our place, to wherever it was told.

use ipnet::IpNet;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// Redirects followed before giving up.
const MAX_REDIRECTS: usize = 5;

/// Which destinations are allowed.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    /// Allow every private and loopback address (a development machine, or
    /// a deployment whose tenants are trusted).
    pub allow_private: bool,
    /// Private networks allowed anyway (an on-premises model server).
    pub allowed_networks: Vec<IpNet>,
}

/// A destination refused by the policy.
#[derive(Debug, thiserror::Error)]
#[error("{host} is a loopback, private or otherwise internal address ({addr}), which this server does not call")]
pub struct Refused {
    /// The host as given.
    pub host: String,
    /// The address it is or resolved to.
    pub addr: IpAddr,
}

impl Policy {
    /// Whether a connection to `addr` is allowed.
    pub fn allows(&self, addr: IpAddr) -> bool {
        let addr = canonical(addr);
        self.allow_private
            || is_public(addr)
            || self.allowed_networks.iter().any(|n| n.contains(&addr))
    }

    /// Refuses a URL whose host is an address the policy does not allow.
    /// Names are left to the resolver, which sees what they resolve to.
    pub fn check_url(&self, url: &url::Url) -> Result<(), Refused> {
        let addr = match url.host() {
            Some(url::Host::Ipv4(v4)) => IpAddr::V4(v4),
            Some(url::Host::Ipv6(v6)) => IpAddr::V6(v6),
            _ => return Ok(()),
        };
        if self.allows(addr) {
            Ok(())
        } else {
            Err(Refused {
                host: url.host_str().unwrap_or_default().to_string(),
                addr,
            })
        }
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:127.0.0.1`) are the IPv4 address.
fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
        v4 => v4,
    }
}

/// Globally routable unicast, as far as a server should call out to.
fn is_public(addr: IpAddr) -> bool {
    match addr {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(v4: Ipv4Addr) -> bool {
    let [a, b, ..] = v4.octets();
    !(v4.is_loopback()
        || v4.is_private()
        || v4.is_link_local()
        || v4.is_unspecified()
        || v4.is_broadcast()
        || v4.is_multicast()
        || v4.is_documentation()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // CGNAT 100.64.0.0/10
        || (a == 192 && b == 0 && v4.octets()[2] == 0) // IETF protocol assignments
        || (a == 198 && (18..20).contains(&b)) // benchmarking 198.18.0.0/15
        || a >= 240) // reserved
}

fn is_public_v6(v6: Ipv6Addr) -> bool {
    let first = v6.segments()[0];
    !(v6.is_loopback()
        || v6.is_unspecified()
        || v6.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (first & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (first & 0xffc0) == 0xfec0 // site-local (deprecated) fec0::/10
        || v6.segments()[..6] == [0, 0, 0, 0, 0, 0] // IPv4-compatible ::a.b.c.d
        || (first == 0x64 && v6.segments()[1] == 0xff9b) // NAT64 64:ff9b::/96
        || first == 0x2001 && v6.segments()[1] == 0x0db8) // documentation
}

/// Resolves names with the system resolver and lets through only the
/// addresses the policy allows; none left is an error naming the host.
#[derive(Clone, Debug)]
pub struct GuardedResolver {
    policy: Arc<Policy>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            // Any internal answer refuses the name: a name that mixes public
            // and internal addresses is not one to trust.
            if let Some(bad) = found.iter().find(|a| !policy.allows(a.ip())) {
                return Err(Box::new(Refused {
                    host,
                    addr: bad.ip(),
                })
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(found.into_iter()) as Addrs)
        })
    }
}

/// The guarded client and its policy. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Outbound {
    http: reqwest::Client,
    policy: Arc<Policy>,
}

/// Why a request got no answer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The destination, or one it redirected to, is not allowed.
    #[error(transparent)]
    Refused(Refused),
    /// It could not be reached, or answered nothing readable.
    #[error("{0}")]
    Transport(reqwest::Error),
}

impl Outbound {
    /// A client that calls only what `policy` allows, each request bounded
    /// by `timeout`.
    pub fn new(policy: Policy, timeout: Duration) -> Self {
        let policy = Arc::new(policy);
        let for_redirects = policy.clone();
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver {
                policy: policy.clone(),
            }))
            .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() >= MAX_REDIRECTS {
                    return attempt.error("too many redirects");
                }
                match for_redirects.check_url(attempt.url()) {
                    Ok(()) => attempt.follow(),
                    Err(refused) => attempt.error(refused),
                }
            }))
            .build()
            .expect("a client with a resolver and a timeout builds");
        Self { http, policy }
    }

    /// The client, to build requests with; send them with [`Outbound::send`].
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Sends a request: its host is checked first, and a refusal anywhere
    /// (the URL, a redirect, a resolved name) comes back as
    /// [`Error::Refused`] rather than a transport error.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Result<reqwest::Response, Error> {
        let request = request.build().map_err(Error::Transport)?;
        self.policy
            .check_url(request.url())
            .map_err(Error::Refused)?;
        self.http
            .execute(request)
            .await
            .map_err(|e| match refusal(&e) {
                Some(r) => Error::Refused(Refused {
                    host: r.host.clone(),
                    addr: r.addr,
                }),
                None => Error::Transport(e),
            })
    }
}

/// The refusal inside a transport error, if the policy caused it.
fn refusal(e: &reqwest::Error) -> Option<&Refused> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(r) = s.downcast_ref::<Refused>() {
            return Some(r);
        }
        source = s.source();
    }
    None
}
