//! Is this the vendor's server? The host key it presented, judged against
//! the operator's OpenSSH `known_hosts` file, read as OpenSSH reads it:
//! `[host]:port` names for ports other than 22, comma-separated patterns
//! with `*`, `?` and `!` negations, hashed `|1|salt|hash` names
//! (`HashKnownHosts`), `@revoked` keys; `@cert-authority` lines are not
//! used (host certificates are not accepted).

use russh::keys::{Algorithm, PublicKey};

/// One key line of a `known_hosts` file that names our server.
#[derive(Clone, Debug)]
pub(super) struct KnownKey {
    /// Line number in the file, from 1.
    line: usize,
    revoked: bool,
    key: PublicKey,
}

/// What `known_hosts` says about the key a server presented.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum HostVerdict {
    Known,
    Unknown,
    Changed { lines: Vec<usize> },
    Revoked { line: usize },
}

/// The keys `known_hosts` text records for `name` (`host` or
/// `[host]:port`). `@cert-authority` lines are skipped (host certificates
/// are not used); lines whose key cannot be parsed (a type this program does
/// not know) are skipped, as OpenSSH skips them.
pub(super) fn known_keys(text: &str, name: &str) -> Vec<KnownKey> {
    let mut keys = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let mut fields = line.split_whitespace();
        let Some(mut first) = fields.next() else {
            continue;
        };
        if first.starts_with('#') {
            continue;
        }
        let mut revoked = false;
        if first.starts_with('@') {
            match first {
                "@revoked" => revoked = true,
                _ => continue,
            }
            let Some(next) = fields.next() else {
                continue;
            };
            first = next;
        }
        let (Some(_type), Some(blob)) = (fields.next(), fields.next()) else {
            continue;
        };
        if !host_matches(first, name) {
            continue;
        }
        if let Ok(key) = russh::keys::parse_public_key_base64(blob) {
            keys.push(KnownKey {
                line: i + 1,
                revoked,
                key,
            });
        }
    }
    keys
}

/// Does a `known_hosts` host field (comma-separated patterns, `!`
/// negations, `*`/`?` wildcards, hashed `|1|salt|hash` entries) name
/// `name`? As in OpenSSH, a matching negation wins over any other match.
fn host_matches(patterns: &str, name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    let mut matched = false;
    for pattern in patterns.split(',') {
        if let Some(negated) = pattern.strip_prefix('!') {
            if glob(&negated.to_ascii_lowercase(), &name) {
                return false;
            }
        } else if pattern.starts_with("|1|") {
            matched |= hashed_matches(pattern, &name);
        } else {
            matched |= glob(&pattern.to_ascii_lowercase(), &name);
        }
    }
    matched
}

/// `|1|base64(salt)|base64(HMAC-SHA1(salt, name))`, OpenSSH's
/// `HashKnownHosts` form.
fn hashed_matches(entry: &str, name: &str) -> bool {
    use base64::Engine as _;
    use hmac::{KeyInit as _, Mac as _};
    let mut parts = entry.split('|').skip(2);
    let b64 = base64::engine::general_purpose::STANDARD;
    let (Some(Ok(salt)), Some(Ok(hash))) = (
        parts.next().map(|p| b64.decode(p)),
        parts.next().map(|p| b64.decode(p)),
    ) else {
        return false;
    };
    let Ok(mac) = hmac::Hmac::<sha1::Sha1>::new_from_slice(&salt) else {
        return false;
    };
    mac.chain_update(name.as_bytes())
        .verify_slice(&hash)
        .is_ok()
}

/// `*` (any run of characters) and `?` (one character) glob matching.
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Judges the key a server presented against the keys recorded for it: a
/// revoked key is refused; any recorded key equal to it admits it (a host
/// may have several); recorded keys that all differ mean it changed.
pub(super) fn judge(known: &[KnownKey], presented: &PublicKey) -> HostVerdict {
    let same = |k: &KnownKey| k.key.key_data() == presented.key_data();
    if let Some(k) = known.iter().find(|k| k.revoked && same(k)) {
        return HostVerdict::Revoked { line: k.line };
    }
    let recorded: Vec<&KnownKey> = known.iter().filter(|k| !k.revoked).collect();
    if recorded.iter().any(|k| same(k)) {
        HostVerdict::Known
    } else if recorded.is_empty() {
        HostVerdict::Unknown
    } else {
        HostVerdict::Changed {
            lines: recorded.iter().map(|k| k.line).collect(),
        }
    }
}

/// Host key algorithms to offer, those `known_hosts` records for the server
/// first (as OpenSSH does), so a server with several keys presents the one
/// on file rather than a new one that would look changed.
pub(super) fn preferred_host_key_algorithms(known: &[KnownKey]) -> Vec<Algorithm> {
    let defaults = russh::Preferred::DEFAULT.key;
    let mut order: Vec<Algorithm> = Vec::new();
    for k in known.iter().filter(|k| !k.revoked) {
        let alg = k.key.algorithm();
        for d in defaults.iter() {
            // An RSA key serves rsa-sha2-512, rsa-sha2-256 and ssh-rsa.
            let fits = match (&alg, d) {
                (Algorithm::Rsa { .. }, Algorithm::Rsa { .. }) => true,
                _ => *d == alg,
            };
            if fits && !order.contains(d) {
                order.push(d.clone());
            }
        }
    }
    for d in defaults.iter() {
        if !order.contains(d) {
            order.push(d.clone());
        }
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_A: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIJdD7y3aLq454yWBdwLWbieU1ebz9/cu7/QEXn9OIeZJ";
    const KEY_B: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIA6rWI3G1sz07DnfFlrouTcysQlj2P+jpNSOEWD9OJ3X";

    fn key(b64: &str) -> PublicKey {
        russh::keys::parse_public_key_base64(b64).unwrap()
    }

    fn verdict(text: &str, name: &str, presented: &str) -> HostVerdict {
        judge(&known_keys(text, name), &key(presented))
    }

    #[test]
    fn a_recorded_key_is_known_on_its_port_only() {
        let text = format!("[127.0.0.1]:2222 ssh-ed25519 {KEY_A}\n");
        assert_eq!(
            verdict(&text, "[127.0.0.1]:2222", KEY_A),
            HostVerdict::Known
        );
        assert_eq!(
            verdict(&text, "[127.0.0.1]:2223", KEY_A),
            HostVerdict::Unknown
        );
        assert_eq!(verdict(&text, "127.0.0.1", KEY_A), HostVerdict::Unknown);
        let plain = format!("127.0.0.1 ssh-ed25519 {KEY_A}\n");
        assert_eq!(
            verdict(&plain, "[127.0.0.1]:2222", KEY_A),
            HostVerdict::Unknown
        );
        assert_eq!(verdict(&plain, "127.0.0.1", KEY_A), HostVerdict::Known);
    }

    #[test]
    fn another_key_for_the_host_is_a_change() {
        let text = format!(
            "# comment\n\nother.example ssh-ed25519 {KEY_B}\n\
             vendor.example,10.0.0.9\tssh-ed25519   {KEY_A} a comment\n"
        );
        assert_eq!(
            verdict(&text, "vendor.example", KEY_B),
            HostVerdict::Changed { lines: vec![4] }
        );
        assert_eq!(verdict(&text, "10.0.0.9", KEY_A), HostVerdict::Known);
        assert_eq!(verdict(&text, "VENDOR.example", KEY_A), HostVerdict::Known);
        // Either of two recorded keys admits the server.
        let two = format!("{text}vendor.example ssh-ed25519 {KEY_B}\n");
        assert_eq!(verdict(&two, "vendor.example", KEY_B), HostVerdict::Known);
    }

    #[test]
    fn hashed_entries_match() {
        // From russh's own known_hosts test: hashes "example.com".
        let text = format!(
            "|1|O33ESRMWPVkMYIwJ1Uw+n877jTo=|nuuC5vEqXlEZ/8BXQR7m619W6Ak= ssh-ed25519 {KEY_A}\n"
        );
        assert_eq!(verdict(&text, "example.com", KEY_A), HostVerdict::Known);
        assert_eq!(verdict(&text, "example.org", KEY_A), HostVerdict::Unknown);
        assert_eq!(
            verdict(&text, "example.com", KEY_B),
            HostVerdict::Changed { lines: vec![1] }
        );
    }

    #[test]
    fn wildcards_and_negations() {
        let text = format!("*.vendor.example,!bad.vendor.example ssh-ed25519 {KEY_A}\n");
        assert_eq!(
            verdict(&text, "sftp.vendor.example", KEY_A),
            HostVerdict::Known
        );
        assert_eq!(
            verdict(&text, "bad.vendor.example", KEY_A),
            HostVerdict::Unknown
        );
        assert_eq!(
            verdict(&text, "vendor.example", KEY_A),
            HostVerdict::Unknown
        );
        assert!(glob("h?st", "host"));
        assert!(!glob("h?st", "hst"));
        assert!(glob("*", ""));
        assert!(glob("a*b*c", "aXbYbc"));
        assert!(!glob("a*b", "aXbc"));
    }

    #[test]
    fn revoked_keys_are_refused_and_cert_authorities_skipped() {
        let text = format!(
            "@cert-authority *.example ssh-ed25519 {KEY_B}\n\
             @revoked vendor.example ssh-ed25519 {KEY_B}\n\
             vendor.example ssh-ed25519 {KEY_A}\n"
        );
        assert_eq!(
            verdict(&text, "vendor.example", KEY_B),
            HostVerdict::Revoked { line: 2 }
        );
        assert_eq!(verdict(&text, "vendor.example", KEY_A), HostVerdict::Known);
        // The CA line does not make the host known.
        let ca = format!("@cert-authority *.example ssh-ed25519 {KEY_B}\n");
        assert_eq!(verdict(&ca, "vendor.example", KEY_B), HostVerdict::Unknown);
    }

    #[test]
    fn unparseable_lines_are_skipped() {
        let text = format!(
            "vendor.example ssh-unknown AAAAnotakey\nvendor.example\n\
             vendor.example ssh-ed25519 {KEY_A}\n"
        );
        assert_eq!(verdict(&text, "vendor.example", KEY_A), HostVerdict::Known);
    }

    #[test]
    fn host_key_algorithms_on_file_come_first() {
        let known = known_keys(&format!("h ssh-ed25519 {KEY_A}\n"), "h");
        let order = preferred_host_key_algorithms(&known);
        assert_eq!(order[0], Algorithm::Ed25519);
        assert_eq!(order.len(), russh::Preferred::DEFAULT.key.len());
    }
}
