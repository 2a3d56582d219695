use super::*;

#[test]
fn remote_names_carry_the_batch_id_once() {
    let b = "2026-11-25-406734";
    assert_eq!(
        remote_name(b, "print/2026-11-25-406734-001.pdf"),
        "2026-11-25-406734-001.pdf"
    );
    assert_eq!(
        remote_name(b, "manifest.csv"),
        "2026-11-25-406734.manifest.csv"
    );
    assert_eq!(
        remote_name(b, "letters/IOE0912345601-01.pdf"),
        "2026-11-25-406734.IOE0912345601-01.pdf"
    );
    assert_eq!(ready_name(b), "2026-11-25-406734.ready");
    assert_eq!(control_name(b), "2026-11-25-406734.control.json");
}

#[test]
fn specimen_letters_never_go_to_a_production_press() {
    assert!(!may_deliver(KeyMode::Test, VendorKind::Production));
    assert!(may_deliver(KeyMode::Test, VendorKind::Test));
}

#[test]
fn production_letters_go_to_either_vendor() {
    assert!(may_deliver(KeyMode::Production, VendorKind::Production));
    assert!(may_deliver(KeyMode::Production, VendorKind::Test));
}
