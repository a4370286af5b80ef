//! Where webhook channels may send (SPEC §16): never to link-local
//! addresses (`169.254.0.0/16`, `fe80::/10`: cloud metadata services live
//! there), and with `--deny-private-webhooks` not to loopback or private
//! ranges either, for deployments where the people who write channels are
//! not trusted with the internal network.
//!
//! The check is on addresses, not names: a name is resolved and *every*
//! address it resolves to must pass, and the delivery client connects only
//! to addresses that passed (its resolver is [`resolve_checked`]), so a
//! name that resolves elsewhere at send time than when the channel was
//! saved (DNS rebinding) is still refused. Addresses written as such in the
//! URL never reach a resolver and are checked by [`check_url`] directly.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use slod_core::model::ValidationError;

/// Which targets webhook channels may reach.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EgressPolicy {
    /// Also refuse loopback and private ranges (`--deny-private-webhooks`).
    pub deny_private: bool,
}

/// Why `ip` may not be a webhook target under `policy`, or `None` when it
/// may.
pub fn refusal(ip: IpAddr, policy: EgressPolicy) -> Option<&'static str> {
    // An IPv4 address written as IPv6 (`::ffff:169.254.169.254`) is the
    // IPv4 address.
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    if is_link_local(ip) {
        return Some("a link-local address (such as a cloud metadata service)");
    }
    if ip.is_unspecified() {
        return Some("an unspecified address");
    }
    if policy.deny_private {
        if ip.is_loopback() {
            return Some("a loopback address (refused with --deny-private-webhooks)");
        }
        if is_private(ip) {
            return Some("a private address (refused with --deny-private-webhooks)");
        }
    }
    None
}

fn is_link_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80,
    }
}

fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_private() || is_shared(v4),
        IpAddr::V6(v6) => is_unique_local(v6),
    }
}

/// `100.64.0.0/10`, carrier-grade NAT: private in all but name.
fn is_shared(v4: Ipv4Addr) -> bool {
    let [a, b, ..] = v4.octets();
    a == 100 && (b & 0xc0) == 64
}

/// `fc00::/7`.
fn is_unique_local(v6: Ipv6Addr) -> bool {
    (v6.segments()[0] & 0xfe00) == 0xfc00
}

/// A refused target, said without the URL (which may be a credential).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the channel's host resolves to {address}, {reason}; slod does not send there")]
pub struct Refused {
    pub address: IpAddr,
    pub reason: &'static str,
}

/// Checks every address in `addresses`; the first refused one is the error.
pub fn check_all(
    addresses: impl IntoIterator<Item = IpAddr>,
    policy: EgressPolicy,
) -> Result<(), Refused> {
    for address in addresses {
        if let Some(reason) = refusal(address, policy) {
            return Err(Refused { address, reason });
        }
    }
    Ok(())
}

/// Resolves `host` (for any port) and checks every address it resolves to;
/// the addresses when all pass.
pub async fn resolve_checked(host: &str, policy: EgressPolicy) -> std::io::Result<Vec<SocketAddr>> {
    let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host, 0)).await?.collect();
    check_all(addresses.iter().map(SocketAddr::ip), policy)
        .map_err(|refused| std::io::Error::new(std::io::ErrorKind::PermissionDenied, refused))?;
    Ok(addresses)
}

/// Checks a channel URL's host: an address literal directly, a name by
/// resolving it now. A name that does not resolve (yet) passes: it is
/// checked again, like every name, at each send.
pub async fn check_url(
    url: &str,
    policy: EgressPolicy,
    field: &str,
) -> Result<(), ValidationError> {
    check_literal_host(url, policy)
        .map_err(|refused| ValidationError::new(field, refused.to_string()))?;
    let Ok(parsed) = reqwest::Url::parse(url) else { return Ok(()) };
    let Some(host) = parsed.host_str() else { return Ok(()) };
    if literal_address(host).is_some() {
        return Ok(());
    }
    match resolve_checked(host, policy).await {
        Err(err) if err.kind() == std::io::ErrorKind::PermissionDenied => {
            Err(ValidationError::new(field, err.to_string()))
        }
        _ => Ok(()),
    }
}

/// The address a URL's host names literally (`127.0.0.1`, `[::1]`).
fn literal_address(host: &str) -> Option<IpAddr> {
    host.trim_start_matches('[').trim_end_matches(']').parse().ok()
}

/// Checks a URL whose host is an address literal (no resolver sees those);
/// a URL naming its host by name passes here and is checked when resolved.
pub fn check_literal_host(url: &str, policy: EgressPolicy) -> Result<(), Refused> {
    let Ok(parsed) = reqwest::Url::parse(url) else { return Ok(()) };
    match parsed.host_str().and_then(literal_address) {
        Some(address) => check_all([address], policy),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(raw: &str) -> IpAddr {
        raw.parse().unwrap()
    }

    const OPEN: EgressPolicy = EgressPolicy { deny_private: false };
    const STRICT: EgressPolicy = EgressPolicy { deny_private: true };

    #[test]
    fn link_local_is_always_refused() {
        for raw in
            ["169.254.169.254", "169.254.0.1", "fe80::1", "febf::1", "::ffff:169.254.169.254"]
        {
            assert!(refusal(ip(raw), OPEN).is_some(), "{raw}");
            assert!(refusal(ip(raw), STRICT).is_some(), "{raw}");
        }
        assert!(refusal(ip("0.0.0.0"), OPEN).is_some());
    }

    #[test]
    fn private_and_loopback_are_refused_only_when_asked() {
        for raw in [
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.254",
            "192.168.1.1",
            "127.0.0.1",
            "127.8.9.10",
            "::1",
            "fc00::1",
            "fd12:3456::1",
            "::ffff:10.0.0.1",
            "100.64.0.1",
        ] {
            assert_eq!(refusal(ip(raw), OPEN), None, "{raw}");
            assert!(refusal(ip(raw), STRICT).is_some(), "{raw}");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for raw in
            ["93.184.216.34", "8.8.8.8", "172.32.0.1", "169.255.0.1", "2606:4700::1111", "fec0::1"]
        {
            assert_eq!(refusal(ip(raw), OPEN), None, "{raw}");
            assert_eq!(refusal(ip(raw), STRICT), None, "{raw}");
        }
    }

    #[test]
    fn address_literals_in_urls_are_checked_without_a_resolver() {
        assert!(check_literal_host("http://169.254.169.254/latest/meta-data", OPEN).is_err());
        assert!(check_literal_host("http://[fe80::1]:8080/", OPEN).is_err());
        assert!(check_literal_host("http://[::1]:8080/", STRICT).is_err());
        assert!(check_literal_host("http://[::1]:8080/", OPEN).is_ok());
        assert!(check_literal_host("https://hooks.example.com/x", STRICT).is_ok());
    }

    #[test]
    fn one_refused_address_refuses_them_all() {
        let err = check_all([ip("93.184.216.34"), ip("169.254.169.254")], OPEN).unwrap_err();
        assert_eq!(err.address, ip("169.254.169.254"));
        assert!(check_all([ip("93.184.216.34"), ip("8.8.8.8")], STRICT).is_ok());
    }
}
