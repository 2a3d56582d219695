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
