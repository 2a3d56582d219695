//! PostgreSQL URLs in words: where a connection goes, never its password.

use ::postgres::config::Host;
use ::postgres::Config;

/// The URL with any password removed, from the user-info part
/// (`user:secret@host`) and from a `password=` query parameter, so that it
/// can be shown in messages and logs.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (before_query, query) = match rest.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (rest, None),
    };
    let (authority, path) = match before_query.find('/') {
        Some(i) => before_query.split_at(i),
        None => (before_query, ""),
    };
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, hosts)) => {
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{user}@{hosts}")
        }
        None => authority.to_string(),
    };
    let mut out = format!("{scheme}://{authority}{path}");
    if let Some(query) = query {
        let kept: Vec<&str> = query
            .split('&')
            .filter(|p| !p.to_ascii_lowercase().starts_with("password="))
            .collect();
        if !kept.is_empty() {
            out.push('?');
            out.push_str(&kept.join("&"));
        }
    }
    out
}

/// "host db.example.org port 5432, database ledger as user issuer": where
/// a connection was going, without the password.
pub(super) fn describe_target(config: &Config) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|h| match h {
            Host::Tcp(name) => name.clone(),
            Host::Unix(path) => format!("socket folder {}", path.display()),
        })
        .collect();
    let hosts = if hosts.is_empty() {
        "localhost".to_string()
    } else {
        hosts.join(", ")
    };
    let port = match config.get_ports() {
        [] => String::new(),
        ports => format!(
            " port {}",
            ports
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let user = config.get_user().unwrap_or("(default user)");
    let db = config.get_dbname().unwrap_or(user);
    format!("host {hosts}{port}, database {db} as user {user}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_url_removes_the_password_wherever_it_is() {
        let cases = [
            (
                "postgres://issuer:s3cret@db.example.org:5432/ledger",
                "postgres://issuer@db.example.org:5432/ledger",
            ),
            (
                "postgresql://issuer:p%40ss:word@db/ledger?sslmode=disable&password=s3cret",
                "postgresql://issuer@db/ledger?sslmode=disable",
            ),
            (
                "postgresql://db/ledger?Password=s3cret",
                "postgresql://db/ledger",
            ),
            ("postgres://issuer@db/ledger", "postgres://issuer@db/ledger"),
        ];
        for (url, want) in cases {
            let got = redact_url(url);
            assert_eq!(got, want);
            assert!(!got.contains("s3cret") && !got.contains("word"), "{got}");
        }
    }
}
