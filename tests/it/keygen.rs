//! `access-letters keygen --to FILE`: a new production key, private to its
//! owner, never overwriting one, never printed.

use std::fs;

use crate::support::*;

/// The secret in a key file (`secret = "<hex>"`).
fn secret_of(key_file: &str) -> String {
    key_file
        .lines()
        .find_map(|l| l.trim().strip_prefix("secret"))
        .map(|rest| {
            rest.trim_start_matches([' ', '='])
                .trim()
                .trim_matches('"')
                .to_string()
        })
        .expect("a secret line")
}

#[test]
fn keygen_writes_a_private_key_and_never_prints_it() {
    let wd = Workdir::new();
    let path = wd.path("prod.key");
    let out = wd.cmd(["keygen", "--to", path.to_str().unwrap()]);
    out.expect_code(EXIT_OK);
    assert_eq!(mode(&path), 0o600);
    let text = fs::read_to_string(&path).unwrap();
    let secret = secret_of(&text);
    assert_eq!(secret.len(), 64, "32 bytes in hex");
    assert!(secret.chars().all(|c| c.is_ascii_hexdigit()));
    assert!(text.contains("key_id = \"prod-"), "{text}");
    assert!(out.stdout.contains("prod-"), "names the key id:{out:?}");
    assert!(out.stdout.contains("prod.key"), "{out:?}");
    // The search finds the secret where it belongs: in the key file.
    assert!(contains_bytes(text.as_bytes(), secret.as_bytes()));
    let forms = [
        secret.clone(),
        secret.to_uppercase(),
        secret[..16].to_string(),
    ];
    assert_none_in(
        &forms,
        out.all().as_bytes(),
        &format!("the output of keygen:{out:?}"),
    );

    // A second key is a different key.
    let other = wd.path("other.key");
    wd.cmd(["keygen", "--to", other.to_str().unwrap()])
        .expect_code(EXIT_OK);
    assert_ne!(secret_of(&fs::read_to_string(&other).unwrap()), secret);
}

#[test]
fn keygen_refuses_to_overwrite_a_file() {
    let wd = Workdir::new();
    let path = wd.production_key("prod.key");
    let before = fs::read(&path).unwrap();
    let secret = secret_of(&String::from_utf8(before.clone()).unwrap());

    let out = wd.cmd(["keygen", "--to", path.to_str().unwrap()]);
    out.expect_code(EXIT_FAILED);
    assert!(out.stderr.contains("already exists"), "{out:?}");
    assert!(
        contains_bytes(&before, secret.as_bytes()),
        "control: the secret is in the key"
    );
    assert_none_in(
        &[secret],
        out.all().as_bytes(),
        &format!("the output:{out:?}"),
    );
    assert_eq!(fs::read(&path).unwrap(), before, "the key is untouched");

    // Nor any other file.
    let notes = wd.write("notes.txt", "keep me");
    wd.cmd(["keygen", "--to", notes.to_str().unwrap()])
        .expect_code(EXIT_FAILED);
    assert_eq!(fs::read_to_string(&notes).unwrap(), "keep me");
}

#[test]
fn keygen_takes_a_key_id() {
    let wd = Workdir::new();
    let path = wd.path("k.key");
    wd.cmd([
        "keygen",
        "--to",
        path.to_str().unwrap(),
        "--id",
        "prod-2026-q4",
    ])
    .expect_code(EXIT_OK);
    let out = wd.run_fixtures_with_key(&path);
    out.expect_code(EXIT_REJECTS);
    let batch = Batch::new(wd.path(out.batch_dir()));
    assert_eq!(batch.summary()["key_id"], "prod-2026-q4");
    assert_eq!(batch.summary()["mode"], "production");
}

#[test]
fn a_key_others_can_read_is_refused_with_a_chmod_hint() {
    use std::os::unix::fs::PermissionsExt;
    let wd = Workdir::new();
    let path = wd.production_key("prod.key");
    let secret = secret_of(&fs::read_to_string(&path).unwrap());
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();

    let out = wd.run_fixtures_with_key(&path);
    out.expect_code(EXIT_FAILED);
    assert!(
        out.stderr
            .contains(&format!("chmod 600 {}", path.display())),
        "{out:?}"
    );
    let key_text = fs::read(&path).unwrap();
    assert!(
        contains_bytes(&key_text, secret.as_bytes()),
        "control: the secret is in the key"
    );
    assert_none_in(
        std::slice::from_ref(&secret),
        out.all().as_bytes(),
        &format!("the output:{out:?}"),
    );
    assert!(!wd.out().exists(), "nothing was written");

    // Fixed as the message says, it works.
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
    wd.run_fixtures_with_key(&path).expect_code(EXIT_REJECTS);
}

#[test]
fn keygen_still_takes_the_old_out_spelling() {
    let wd = Workdir::new();
    let path = wd.path("old-style.key");
    wd.cmd(["keygen", "--out", path.to_str().unwrap()])
        .expect_code(EXIT_OK);
    assert_eq!(mode(&path), 0o600);
    let help = wd.cmd(["keygen", "--help"]);
    assert!(help.stdout.contains("--to <FILE>"), "{help:?}");
    assert!(
        !help.stdout.contains("--out"),
        "the old spelling is hidden:{help:?}"
    );
}
