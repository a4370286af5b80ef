//! Access control (SPEC §16): which scope each request needs, whether
//! access control is on at all, and the failed-authentication rate limit.
//!
//! - **The rule** ([`api_scopes`]): `read` may make every `GET`; `ingest`
//!   may `POST /health` and use `/integrations/*`; `manage` may do
//!   everything. `/tokens` is `manage` only, reads included. The API's one
//!   middleware (in [`crate::app`]) asks this for each request's method and
//!   route template; [`metrics_scopes`] is the rule of `/metrics`.
//! - **Open until the first token** ([`Access::enforced`]): while no token
//!   exists slod is open, the first-run experience. Whether one exists is
//!   asked of the database, which replicas share, and cached for
//!   [`TOKENS_EXIST_TTL`]; creating or revoking a token here forgets the
//!   cached answer at once, and another replica's change is seen within the
//!   TTL. On a non-loopback address without `--insecure-no-auth`, slod
//!   never runs open: start-up refuses while no token exists, and were
//!   every token revoked later, requests would be refused rather than let
//!   in.
//! - **Failed authentication** ([`FailureLimiter`]): a token bucket per
//!   client address, in memory; when a client's bucket is empty its
//!   requests that need authentication get `429` with `Retry-After`.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::Method;
use slod_store::auth::Scope;
use slod_store::Store;

use crate::service::egress::EgressPolicy;
use crate::service::tokens;

/// How long the "does any token exist" answer is trusted.
pub const TOKENS_EXIST_TTL: Duration = Duration::from_secs(2);

/// The access settings `slod serve` takes from its flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessSettings {
    /// Serve a non-loopback address with no token (`--insecure-no-auth`).
    pub insecure_no_auth: bool,
    /// `/metrics` without a token (`--public-metrics`).
    pub public_metrics: bool,
    /// Anyone may read the dashboard; editing still needs a `manage`
    /// session (`--public-dashboard`).
    pub public_dashboard: bool,
    /// Webhooks may not reach loopback or private ranges either
    /// (`--deny-private-webhooks`).
    pub deny_private_webhooks: bool,
    /// Failed authentications a client may make in a burst.
    pub failure_burst: u32,
    /// How often a client earns one more failed authentication.
    pub failure_refill: Duration,
}

impl Default for AccessSettings {
    fn default() -> Self {
        Self {
            insecure_no_auth: false,
            public_metrics: false,
            public_dashboard: false,
            deny_private_webhooks: false,
            failure_burst: 10,
            failure_refill: Duration::from_secs(6),
        }
    }
}

/// What start-up decides about listening on `address` (SPEC §16).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenDecision {
    /// Loopback, or tokens exist: serve.
    Serve,
    /// Non-loopback with no token, allowed by `--insecure-no-auth`: serve,
    /// and say loudly that anyone who can reach it can do anything.
    ServeInsecure,
    /// Non-loopback with no token: refuse to start.
    Refuse,
}

pub fn listen_decision(address: SocketAddr, tokens_exist: bool, insecure: bool) -> ListenDecision {
    if address.ip().is_loopback() || tokens_exist {
        ListenDecision::Serve
    } else if insecure {
        ListenDecision::ServeInsecure
    } else {
        ListenDecision::Refuse
    }
}

/// The scopes that may make an API request, by method and route template
/// (relative to `/api/v1`, as the router names it: `/systems/{id}`).
pub fn api_scopes(method: &Method, route: &str) -> &'static [Scope] {
    const READ: &[Scope] = &[Scope::Read, Scope::Manage];
    const INGEST: &[Scope] = &[Scope::Ingest, Scope::Manage];
    const INGEST_OR_READ: &[Scope] = &[Scope::Read, Scope::Ingest, Scope::Manage];
    const MANAGE: &[Scope] = &[Scope::Manage];
    let reads = *method == Method::GET || *method == Method::HEAD;
    if route == "/tokens" || route.starts_with("/tokens/") {
        MANAGE
    } else if route.starts_with("/integrations/") {
        if reads {
            INGEST_OR_READ
        } else {
            INGEST
        }
    } else if *method == Method::POST && route == "/health" {
        INGEST
    } else if reads {
        READ
    } else {
        MANAGE
    }
}

/// The scopes that may scrape `/metrics`: `None` when anyone may
/// (`--public-metrics`).
pub fn metrics_scopes(public_metrics: bool) -> Option<&'static [Scope]> {
    (!public_metrics).then_some(&[Scope::Read, Scope::Manage])
}

/// The access state one process shares: settings, the cached "tokens
/// exist" answer and the failure buckets.
#[derive(Debug)]
pub struct Access {
    settings: AccessSettings,
    /// May slod run open while no token exists (loopback, or
    /// `--insecure-no-auth`)?
    open_allowed: bool,
    tokens_exist: Mutex<Option<(bool, Instant)>>,
    failures: FailureLimiter,
}

impl Access {
    pub fn new(settings: AccessSettings, listen: SocketAddr) -> Self {
        let open_allowed = listen.ip().is_loopback() || settings.insecure_no_auth;
        let failures = FailureLimiter::new(settings.failure_burst, settings.failure_refill);
        Self { settings, open_allowed, tokens_exist: Mutex::new(None), failures }
    }

    pub fn settings(&self) -> &AccessSettings {
        &self.settings
    }

    pub fn egress(&self) -> EgressPolicy {
        EgressPolicy { deny_private: self.settings.deny_private_webhooks }
    }

    /// Whether requests must authenticate: a token exists, or slod may not
    /// run open here. A database error counts as "yes" (fail closed).
    pub async fn enforced(&self, store: &dyn Store) -> bool {
        if !self.open_allowed {
            return true;
        }
        let cached = *lock(&self.tokens_exist);
        if let Some((exists, at)) = cached {
            if at.elapsed() < TOKENS_EXIST_TTL {
                return exists;
            }
        }
        match tokens::any_token(store).await {
            Ok(exists) => {
                *lock(&self.tokens_exist) = Some((exists, Instant::now()));
                exists
            }
            Err(err) => {
                tracing::error!(error = %err, "cannot tell whether tokens exist; refusing");
                true
            }
        }
    }

    /// Forgets the cached "tokens exist" answer (a token was created or
    /// revoked here).
    pub fn tokens_changed(&self) {
        *lock(&self.tokens_exist) = None;
    }

    /// `Some(retry after)` when `client` has used up its failed
    /// authentications.
    pub fn blocked(&self, client: Option<IpAddr>) -> Option<Duration> {
        client.and_then(|ip| self.failures.blocked(ip, Instant::now()))
    }

    /// Counts a failed authentication against `client`.
    pub fn failed(&self, client: Option<IpAddr>) {
        if let Some(ip) = client {
            self.failures.fail(ip, Instant::now());
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding these locks leaves plain data behind, still
    // valid, so a poisoned lock is used as it is.
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A token bucket per client address: `burst` failures, one more every
/// `refill`. Full buckets are forgotten, so the map holds only clients that
/// failed recently.
#[derive(Debug)]
pub struct FailureLimiter {
    burst: f64,
    refill: Duration,
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

impl FailureLimiter {
    pub fn new(burst: u32, refill: Duration) -> Self {
        Self { burst: f64::from(burst.max(1)), refill, buckets: Mutex::new(HashMap::new()) }
    }

    fn level(&self, tokens: f64, since: Instant, now: Instant) -> f64 {
        let earned = now.saturating_duration_since(since).as_secs_f64()
            / self.refill.as_secs_f64().max(f64::EPSILON);
        (tokens + earned).min(self.burst)
    }

    /// `Some(how long until the next try)` when `ip` has no failure left.
    pub fn blocked(&self, ip: IpAddr, now: Instant) -> Option<Duration> {
        let buckets = lock(&self.buckets);
        let &(tokens, since) = buckets.get(&ip)?;
        let level = self.level(tokens, since, now);
        (level < 1.0).then(|| self.refill.mul_f64(1.0 - level))
    }

    /// Takes one failure from `ip`'s bucket.
    pub fn fail(&self, ip: IpAddr, now: Instant) {
        let mut buckets = lock(&self.buckets);
        let level = match buckets.get(&ip) {
            Some(&(tokens, since)) => self.level(tokens, since, now),
            None => self.burst,
        };
        buckets.insert(ip, ((level - 1.0).max(0.0), now));
        // Keep the map small: forget clients whose bucket has refilled.
        if buckets.len() > 10_000 {
            buckets.retain(|_, &mut (tokens, since)| self.level(tokens, since, now) < self.burst);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_follow_the_spec() {
        let get = Method::GET;
        let post = Method::POST;
        assert_eq!(api_scopes(&get, "/systems"), &[Scope::Read, Scope::Manage]);
        assert_eq!(api_scopes(&post, "/health"), &[Scope::Ingest, Scope::Manage]);
        assert_eq!(api_scopes(&post, "/integrations/prometheus"), &[Scope::Ingest, Scope::Manage]);
        assert_eq!(api_scopes(&Method::PUT, "/systems/{id}"), &[Scope::Manage]);
        assert_eq!(api_scopes(&post, "/objectives"), &[Scope::Manage]);
        assert_eq!(api_scopes(&get, "/tokens"), &[Scope::Manage]);
        assert_eq!(api_scopes(&Method::DELETE, "/tokens/{id}"), &[Scope::Manage]);
        assert_eq!(metrics_scopes(true), None);
        assert_eq!(metrics_scopes(false), Some(&[Scope::Read, Scope::Manage][..]));
    }

    #[test]
    fn only_non_loopback_without_tokens_is_refused() {
        let lo: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let lo6: SocketAddr = "[::1]:8080".parse().unwrap();
        let any: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        assert_eq!(listen_decision(lo, false, false), ListenDecision::Serve);
        assert_eq!(listen_decision(lo6, false, false), ListenDecision::Serve);
        assert_eq!(listen_decision(any, true, false), ListenDecision::Serve);
        assert_eq!(listen_decision(any, false, false), ListenDecision::Refuse);
        assert_eq!(listen_decision(any, false, true), ListenDecision::ServeInsecure);
    }

    #[test]
    fn the_failure_bucket_empties_and_refills() {
        let limiter = FailureLimiter::new(3, Duration::from_secs(10));
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let other: IpAddr = "127.0.0.2".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.blocked(ip, t0), None);
            limiter.fail(ip, t0);
        }
        let wait = limiter.blocked(ip, t0).expect("blocked after the burst");
        assert!(wait <= Duration::from_secs(10) && wait > Duration::from_secs(9), "{wait:?}");
        assert_eq!(limiter.blocked(other, t0), None, "per address");
        assert!(limiter.blocked(ip, t0 + Duration::from_secs(5)).is_some());
        assert_eq!(limiter.blocked(ip, t0 + Duration::from_secs(10)), None, "refilled one");
    }
}
