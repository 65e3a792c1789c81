//! Values that must never be printed: credentials, their verifiers, signing keys.
//!
//! A [`Secret`] prints as a redaction through `Debug`, so a struct that holds one can derive
//! `Debug` and be logged whole. It has no `Display` and no `Serialize`: `format!("{secret}")` or
//! a log field `%secret` does not compile (rather than printing a placeholder where the value was
//! meant, or the value where it was not), and what must send it somewhere (a database column, a
//! response, a signature, a page) reads it with [`Secret::expose`], in plain sight.

use std::fmt;

use serde::Deserialize;
use subtle::ConstantTimeEq;

/// A secret string: printed (`{:?}`) as `Secret(…)`, read only through [`Secret::expose`],
/// compared in constant time.
#[derive(Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself. Each call is a place the secret leaves this type: keep them few.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(value.to_string())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// Constant time in the contents, so a comparison does not tell how much of a guess was right
/// (the length may show: every secret of one kind has the same length).
impl PartialEq for Secret {
    fn eq(&self, other: &Secret) -> bool {
        self.0.len() == other.0.len() && bool::from(self.0.as_bytes().ct_eq(other.0.as_bytes()))
    }
}

impl Eq for Secret {}

/// For `#[serde(serialize_with = "epay_domain::secret::serialize_exposed")]` on a field that
/// must go out in clear (an access token in the response that issues it).
pub fn serialize_exposed<S: serde::Serializer>(secret: &Secret, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(secret.expose())
}

/// A database URL. Its password (in the user part, or a `password` query parameter) is a
/// secret: `Debug` and `Display` show `***` in its place.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct DatabaseUrl(Secret);

impl DatabaseUrl {
    pub fn new(url: impl Into<String>) -> DatabaseUrl {
        DatabaseUrl(Secret::new(url))
    }

    /// The whole URL, password included: for connecting, nothing else.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }

    /// The URL with every password replaced by `***`, for messages and logs.
    pub fn redacted(&self) -> String {
        redact_url(self.expose())
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DatabaseUrl").field(&self.redacted()).finish()
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// `scheme://user:password@host/db?password=x` → `scheme://user:***@host/db?password=***`.
/// Errs on the side of hiding: everything up to the last `@` counts as the user part, so a
/// password holding an unescaped `@` or `/` is hidden whole.
pub fn redact_url(url: &str) -> String {
    let (before_query, query) = match url.split_once('?') {
        Some((head, query)) => (head, Some(query)),
        None => (url, None),
    };
    let mut out = match before_query.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((userinfo, host)) => match userinfo.split_once(':') {
                Some((user, _password)) => format!("{scheme}://{user}:***@{host}"),
                None => before_query.to_string(),
            },
            None => before_query.to_string(),
        },
        None => before_query.to_string(),
    };
    if let Some(query) = query {
        let params: Vec<String> = query
            .split('&')
            .map(|param| match param.split_once('=') {
                Some((name, _)) if name.to_ascii_lowercase().contains("password") => format!("{name}=***"),
                _ => param.to_string(),
            })
            .collect();
        out.push('?');
        out.push_str(&params.join("&"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_never_prints() {
        let secret = Secret::new("hunter2-hunter2");
        assert_eq!(format!("{secret:?}"), "Secret(…)");
        assert_eq!(format!("{:?}", Some(secret.clone())), "Some(Secret(…))");
        assert_eq!(secret.expose(), "hunter2-hunter2");
    }

    #[test]
    fn secrets_compare_by_contents() {
        assert_eq!(Secret::from("abc"), Secret::new("abc".to_string()));
        assert_ne!(Secret::from("abc"), Secret::from("abd"));
        assert_ne!(Secret::from("abc"), Secret::from("abcd"));
        assert_eq!(Secret::default(), Secret::from(""));
    }

    #[test]
    fn a_secret_reads_from_configuration_files() {
        #[derive(Deserialize)]
        struct File {
            token: Secret,
        }
        let file: File = serde_json::from_str(r#"{"token": "metrics-token-1234"}"#).unwrap();
        assert_eq!(file.token.expose(), "metrics-token-1234");
    }

    #[test]
    fn a_database_url_hides_its_password() {
        let url = DatabaseUrl::new("postgres://epay:hunter2@db.internal:5432/epay?sslmode=require&password=hunter3");
        for shown in [format!("{url:?}"), format!("{url}"), url.redacted()] {
            assert!(!shown.contains("hunter2") && !shown.contains("hunter3"), "{shown}");
            assert!(
                shown.contains("postgres://epay:***@db.internal:5432/epay?sslmode=require&password=***"),
                "{shown}"
            );
        }
        assert!(url.expose().contains("hunter2"));
        // A password with an unescaped '@' is hidden whole.
        assert_eq!(redact_url("postgres://u:p@ss@h/db"), "postgres://u:***@h/db");
        // Nothing to hide: shown as given.
        for plain in ["postgres://postgres@127.0.0.1:5432/postgres", "sqlite://./data/epay.sqlite", "sqlite::memory:"] {
            assert_eq!(redact_url(plain), plain);
        }
    }
}
