#![cfg(not(loom))]
#[test]
fn smoke() {
    use std::sync::mpsc;
    let mut group = rungroup::Group::new();
    let (tx, rx) = mpsc::channel::<()>();
    group.add(move || { let _ = rx.recv(); Ok(()) }, move |_| drop(tx));
    group.add(|| Err("job failed".into()), |_| {});
    assert_eq!(group.run().unwrap_err().to_string(), "job failed");
}
