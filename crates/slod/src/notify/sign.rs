//! Webhook signatures: `X-Slod-Signature: sha256=<hex>`, the HMAC-SHA256 of
//! the exact request body bytes under the channel's secret.
//!
//! A receiver verifies by computing the same HMAC over the raw body it
//! received (before any JSON parsing) and comparing in constant time:
//!
//! ```
//! let header = slod::notify::sign::signature_header(b"s3cret", br#"{"id":"e1"}"#);
//! assert!(header.starts_with("sha256="));
//! assert!(slod::notify::sign::verify(b"s3cret", br#"{"id":"e1"}"#, &header));
//! assert!(!slod::notify::sign::verify(b"other", br#"{"id":"e1"}"#, &header));
//! ```

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The header's name.
pub const SIGNATURE_HEADER: &str = "X-Slod-Signature";

/// `sha256=<lowercase hex HMAC-SHA256 of body under secret>`.
pub fn signature_header(secret: &[u8], body: &[u8]) -> String {
    format!("sha256={}", hex::encode(mac(secret, body).finalize().into_bytes()))
}

/// Whether `header` is the signature of `body` under `secret` (constant-time
/// comparison of the MAC).
pub fn verify(secret: &[u8], body: &[u8], header: &str) -> bool {
    let Some(hex_mac) = header.strip_prefix("sha256=") else { return false };
    let Ok(expected) = hex::decode(hex_mac) else { return false };
    mac(secret, body).verify_slice(&expected).is_ok()
}

fn mac(secret: &[u8], body: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length (RFC 2104 hashes long ones first), so
    // `new_from_slice` never fails; the fallback only avoids a panic path.
    let mut mac = HmacSha256::new_from_slice(secret)
        .unwrap_or_else(|_| <HmacSha256 as hmac::digest::KeyInit>::new(&Default::default()));
    mac.update(body);
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_rfc_4231_test_case_2() {
        // RFC 4231 §4.3: key "Jefe", data "what do ya want for nothing?".
        let header = signature_header(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            header,
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn verification_rejects_tampering() {
        let header = signature_header(b"k", b"body");
        assert!(verify(b"k", b"body", &header));
        assert!(!verify(b"k", b"body ", &header));
        assert!(!verify(b"k", b"body", "sha1=00"));
        assert!(!verify(b"k", b"body", "sha256=zz"));
    }
}
