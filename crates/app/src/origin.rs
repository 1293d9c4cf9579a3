//! Where a request came from, for the audit log and the sign-in throttle.
//!
//! Behind a reverse proxy the peer is the proxy; the client's address is in
//! `Forwarded` or `X-Forwarded-For`. Those headers are believed only when
//! the peer is one of the operator's trusted proxies, and only as far back
//! as the chain stays within them: anything else could be typed by the
//! client itself.

use domain::audit::RequestOrigin;
use ipnet::IpNet;
use std::net::IpAddr;

/// What an edge knows of a request's origin, as it arrived.
#[derive(Clone, Copy, Debug, Default)]
pub struct Arrival<'a> {
    /// The connected peer.
    pub peer: Option<IpAddr>,
    /// The `Forwarded` header (RFC 7239), if any.
    pub forwarded: Option<&'a str>,
    /// The `X-Forwarded-For` header, if any.
    pub x_forwarded_for: Option<&'a str>,
    /// The `User-Agent` header, if any.
    pub user_agent: Option<&'a str>,
}

/// The request's origin: the client address as far as trusted proxies vouch
/// for it, and the user agent (cut to 512 characters).
pub fn resolve(arrival: Arrival<'_>, trusted: &[IpNet]) -> RequestOrigin {
    let ip = arrival.peer.map(|peer| client_ip(peer, &arrival, trusted));
    RequestOrigin {
        ip: ip.map(|ip| ip.to_string()),
        user_agent: arrival.user_agent.map(|s| s.chars().take(512).collect()),
    }
}

fn client_ip(peer: IpAddr, arrival: &Arrival<'_>, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(&canonical(*ip)));
    if !is_trusted(&peer) {
        return peer;
    }
    let hops: Vec<Option<IpAddr>> = match (arrival.forwarded, arrival.x_forwarded_for) {
        (Some(f), _) => forwarded_for(f),
        (None, Some(x)) => x.split(',').map(|h| parse_hop(h.trim())).collect(),
        (None, None) => return peer,
    };
    // Right to left: each trusted proxy vouches for the hop before it.
    let mut client = peer;
    for hop in hops.into_iter().rev() {
        match hop {
            Some(ip) => {
                client = ip;
                if !is_trusted(&ip) {
                    break;
                }
            }
            // An unreadable or hidden hop ends what can be known.
            None => break,
        }
    }
    client
}

/// The `for=` values of a `Forwarded` header, in order.
fn forwarded_for(header: &str) -> Vec<Option<IpAddr>> {
    header
        .split(',')
        .filter_map(|element| {
            element.split(';').find_map(|pair| {
                let (k, v) = pair.trim().split_once('=')?;
                k.trim()
                    .eq_ignore_ascii_case("for")
                    .then(|| parse_hop(v.trim().trim_matches('"')))
            })
        })
        .collect()
}

/// One hop: `203.0.113.7`, `203.0.113.7:4711`, `[2001:db8::1]` or `[2001:db8::1]:4711`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse() {
        return Some(canonical(ip));
    }
    if let Some(rest) = hop.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok().map(canonical);
    }
    let (host, port) = hop.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    host.parse().ok().map(canonical)
}

/// IPv4-mapped IPv6 addresses compare as the IPv4 address they carry.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies() -> Vec<IpNet> {
        vec!["10.0.0.0/8".parse().unwrap()]
    }

    fn ip_of(arrival: Arrival<'_>) -> Option<String> {
        resolve(arrival, &proxies()).ip
    }

    #[test]
    fn forwarded_headers_from_an_untrusted_peer_are_ignored() {
        let a = Arrival {
            peer: Some("198.51.100.9".parse().unwrap()),
            x_forwarded_for: Some("203.0.113.7"),
            forwarded: Some("for=203.0.113.8"),
            ..Default::default()
        };
        assert_eq!(ip_of(a).as_deref(), Some("198.51.100.9"));
    }

    #[test]
    fn a_trusted_proxy_vouches_for_the_client_in_x_forwarded_for() {
        let a = Arrival {
            peer: Some("10.1.2.3".parse().unwrap()),
            x_forwarded_for: Some("203.0.113.7"),
            ..Default::default()
        };
        assert_eq!(ip_of(a).as_deref(), Some("203.0.113.7"));
    }

    #[test]
    fn a_client_cannot_prepend_an_address_past_the_first_untrusted_hop() {
        let a = Arrival {
            peer: Some("10.1.2.3".parse().unwrap()),
            x_forwarded_for: Some("1.2.3.4, 203.0.113.7, 10.9.9.9"),
            ..Default::default()
        };
        assert_eq!(ip_of(a).as_deref(), Some("203.0.113.7"));
    }

    #[test]
    fn forwarded_takes_precedence_and_reads_quoted_ipv6_with_ports() {
        let a = Arrival {
            peer: Some("10.1.2.3".parse().unwrap()),
            forwarded: Some(r#"for="[2001:db8::1]:4711";proto=https, for=10.2.2.2"#),
            x_forwarded_for: Some("203.0.113.7"),
            ..Default::default()
        };
        assert_eq!(ip_of(a).as_deref(), Some("2001:db8::1"));
    }

    #[test]
    fn an_obfuscated_hop_stops_at_the_last_known_proxy() {
        let a = Arrival {
            peer: Some("10.1.2.3".parse().unwrap()),
            forwarded: Some("for=_hidden"),
            ..Default::default()
        };
        assert_eq!(ip_of(a).as_deref(), Some("10.1.2.3"));
    }

    #[test]
    fn the_user_agent_is_cut_to_512_characters() {
        let ua = "x".repeat(600);
        let a = Arrival {
            user_agent: Some(&ua),
            ..Default::default()
        };
        assert_eq!(resolve(a, &[]).user_agent.map(|u| u.len()), Some(512));
    }
}
