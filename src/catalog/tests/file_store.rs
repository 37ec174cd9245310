//! The file store: what it keeps survives reopening (a restart), names are unique, changes publish.

use crate::catalog::store::{FileStore, ResourceStore, StoreError};

#[tokio::test]
async fn kept_across_a_restart_and_published_on_change() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("databases.json");
    let store = FileStore::open(&path).unwrap();
    let mut rx = store.watch();
    assert!(rx.borrow().loaded && rx.borrow().resources.is_empty());

    store.create("orders", "kind: db # orders").await.unwrap();
    store.create("ledger", "kind: db # ledger").await.unwrap();
    assert!(rx.has_changed().unwrap());
    assert_eq!(rx.borrow_and_update().resources.len(), 2);
    assert!(matches!(
        store.create("orders", "again").await,
        Err(StoreError::Exists { name }) if name == "orders"
    ));
    assert!(store.delete("ledger").await.unwrap());
    assert!(!store.delete("ledger").await.unwrap());
    drop(store);

    // A new process reads what the last one kept.
    let reopened = FileStore::open(&path).unwrap();
    let state = reopened.watch().borrow().clone();
    assert_eq!(
        state.resources.iter().collect::<Vec<_>>(),
        [(&"orders".to_owned(), &"kind: db # orders".to_owned())]
    );
    assert!(!dir.path().join("databases.json.tmp").exists());
    assert!(reopened.describe().starts_with("file "));
}

#[tokio::test]
async fn a_file_that_is_not_a_store_is_refused_and_limits_hold() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("databases.json");
    std::fs::write(&path, b"not json").unwrap();
    assert!(FileStore::open(&path).is_err());

    let store = FileStore::open(&dir.path().join("other.json")).unwrap();
    let big = "x".repeat(crate::catalog::store::MAX_DOCUMENT + 1);
    assert!(matches!(
        store.create("big", &big).await,
        Err(StoreError::Limit { .. })
    ));
    assert!(store.watch().borrow().resources.is_empty());
}
