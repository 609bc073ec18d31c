//! Secret values that must never leave the process in a log line.
//!
//! The engine's own messages never contain secrets, but the AWS SDK's do: at DEBUG it prints
//! the access key id of the credentials that sign each request, and at TRACE the request and
//! response bodies (an AssumeRole call's external id, the temporary credentials STS returns).
//! Whatever forwards the engine's `tracing` events (the JVM bridge does) passes each line
//! through [`redact`], which replaces every secret the engine knows with `<redacted>`.

use crate::config::{Config, Secret};
use aws_credential_types::Credentials;
use std::borrow::Cow;
use std::collections::VecDeque;
use std::sync::{PoisonError, RwLock};

/// What replaces a secret.
pub const REDACTED: &str = "<redacted>";
/// Shorter values are not looked for (they would mangle ordinary words); real keys are longer.
const MIN_LENGTH: usize = 6;
/// Temporary credentials remembered (each refresh adds some; older ones expired long ago).
const TEMPORARY_KEPT: usize = 64;

#[derive(Default)]
struct Secrets {
    /// From the configuration; kept for the life of the process.
    configured: Vec<String>,
    /// From loaded temporary credentials, newest last.
    temporary: VecDeque<String>,
    /// Both, longest first, so that a secret containing another one is replaced whole.
    longest_first: Vec<String>,
}

impl Secrets {
    fn reorder(&mut self) {
        self.longest_first = self.configured.iter().chain(self.temporary.iter()).cloned().collect();
        self.longest_first.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }
}

static SECRETS: RwLock<Secrets> =
    RwLock::new(Secrets { configured: Vec::new(), temporary: VecDeque::new(), longest_first: Vec::new() });

/// `text` with every known secret (as written, and URL-encoded) replaced by `<redacted>`.
pub fn redact(text: &str) -> Cow<'_, str> {
    let secrets = SECRETS.read().unwrap_or_else(PoisonError::into_inner);
    let mut out = Cow::Borrowed(text);
    for secret in &secrets.longest_first {
        if out.contains(secret.as_str()) {
            out = Cow::Owned(out.replace(secret.as_str(), REDACTED));
        }
    }
    out
}

/// Remembers the secret options of `config`: keys, external id and the proxy's credentials.
pub(crate) fn register_config(config: &Config) {
    let secrets = [
        &config.access_key,
        &config.secret_key,
        &config.metrics_access_key,
        &config.metrics_secret_key,
        &config.external_id,
    ];
    let mut values: Vec<String> = secrets.into_iter().flatten().map(|s| s.expose().to_owned()).collect();
    if let Some(proxy) = config.proxy.as_ref().map(Secret::expose) {
        values.extend(proxy_credentials(proxy));
    }
    let mut all = SECRETS.write().unwrap_or_else(PoisonError::into_inner);
    for value in values {
        for form in forms(&value) {
            if !all.configured.contains(&form) {
                all.configured.push(form);
            }
        }
    }
    all.reorder();
}

/// Remembers the secret parts of loaded credentials that may be temporary (an STS session,
/// instance or container credentials): the secret key and the session token.
pub(crate) fn register_loaded(credentials: &Credentials) {
    let values = [Some(credentials.secret_access_key()), credentials.session_token()];
    let mut all = SECRETS.write().unwrap_or_else(PoisonError::into_inner);
    for value in values.into_iter().flatten() {
        for form in forms(value) {
            if all.configured.contains(&form) || all.temporary.contains(&form) {
                continue;
            }
            if all.temporary.len() == TEMPORARY_KEPT {
                all.temporary.pop_front();
            }
            all.temporary.push_back(form);
        }
    }
    all.reorder();
}

/// `user:password` and `password` of a proxy URL's user info.
fn proxy_credentials(url: &str) -> Vec<String> {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let Some((user_info, _)) = authority.rsplit_once('@') else {
        return Vec::new();
    };
    let mut values = vec![user_info.to_owned()];
    if let Some((_, password)) = user_info.split_once(':') {
        values.push(password.to_owned());
    }
    values
}

/// A value as written and URL-encoded (as in a form body or query string), if long enough.
fn forms(value: &str) -> Vec<String> {
    if value.len() < MIN_LENGTH {
        return Vec::new();
    }
    let encoded = url_encode(value);
    if encoded == value {
        vec![value.to_owned()]
    } else {
        vec![value.to_owned(), encoded]
    }
}

fn url_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configured_secrets_are_redacted_as_written_and_url_encoded() {
        let config = Config::from_json(
            r#"{"access_key": "AKIAREDACTIONTEST1", "secret_key": "redaction/secret+1",
                "metrics_access_key": "AKIAREDACTIONMETRICS", "metrics_secret_key": "tiny",
                "role_arn": "arn:aws:iam::123456789012:role/r", "external_id": "ext-redaction-1",
                "proxy": "http://shipper:proxy-redaction-pw@proxy.local:3128"}"#,
        )
        .expect("valid");
        register_config(&config);
        let line =
            "Credentials { access_key_id: \"AKIAREDACTIONTEST1\" } body=Action=AssumeRole&ExternalId=ext-redaction-1 \
                    key=redaction%2Fsecret%2B1 raw=redaction/secret+1 metrics=AKIAREDACTIONMETRICS \
                    proxy=shipper:proxy-redaction-pw pw=proxy-redaction-pw tiny-word";
        let redacted = redact(line);
        for secret in [
            "AKIAREDACTIONTEST1",
            "ext-redaction-1",
            "redaction%2Fsecret%2B1",
            "redaction/secret+1",
            "proxy-redaction-pw",
        ] {
            assert!(!redacted.contains(secret), "{redacted}");
        }
        assert!(redacted.contains("access_key_id: \"<redacted>\"") && redacted.contains("tiny-word"), "{redacted}");
        assert!(matches!(redact("nothing secret here"), Cow::Borrowed(_)));
    }

    #[test]
    fn temporary_credentials_are_redacted_and_only_the_newest_kept() {
        let first = Credentials::new("ASIAFIRST", "temporary-secret-0", Some("session-token-0".into()), None, "test");
        register_loaded(&first);
        assert_eq!(redact("key temporary-secret-0 token session-token-0"), "key <redacted> token <redacted>");
        for n in 1..=TEMPORARY_KEPT {
            let next = Credentials::new("ASIANEXT", format!("temporary-secret-{n}"), None, None, "test");
            register_loaded(&next);
        }
        assert_eq!(redact("temporary-secret-0"), "temporary-secret-0", "the oldest was forgotten");
        assert_eq!(redact(&format!("temporary-secret-{TEMPORARY_KEPT}")), REDACTED);
    }

    #[test]
    fn proxy_user_info() {
        assert_eq!(proxy_credentials("http://u:p4ssw0rd@h:1"), vec!["u:p4ssw0rd".to_owned(), "p4ssw0rd".to_owned()]);
        assert_eq!(proxy_credentials("http://h:1/"), Vec::<String>::new());
        assert_eq!(url_encode("a/b+c=d e"), "a%2Fb%2Bc%3Dd%20e");
    }
}
