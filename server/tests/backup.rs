#![allow(clippy::unwrap_used)]
//! Backups taken while renewals go on: restored into a fresh directory, the server opens there,
//! its invariants hold, and the last renewal confirmed before the backup is in it.

mod common;

use common::*;

async fn renew_once(s: &Server) -> String {
    renew_auto_approved(s).await.0
}

#[tokio::test]
async fn a_backup_under_load_restores_into_a_working_server() {
    let s = std::sync::Arc::new(Server::start("sqlite", |c| c.auto_approve = true).await);
    let last_before = renew_once(&s).await;
    // Renewals go on while the copy is taken.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load: Vec<_> = (0..4)
        .map(|_| {
            let (s, stop) = (s.clone(), stop.clone());
            tokio::spawn(async move {
                let mut n = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    renew_once(&s).await;
                    n += 1;
                }
                n
            })
        })
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let out = std::env::temp_dir().join(format!(
        "certrenew-backup-{}",
        certrenew_server::random_id(6)
    ));
    let _cleanup = TempDir(out.clone());
    let m = certrenew_server::backup::backup(&s.state, &out.join("b"))
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut during = 0;
    for l in load {
        during += l.await.unwrap();
    }
    assert!(during >= 4, "renewals went on around the backup ({during})");
    let names: Vec<&str> = m.files.iter().map(|(n, _)| n.as_str()).collect();
    for f in ["certrenew.db", "ca.crt", "ca.key", "management-keys.kek"] {
        assert!(names.contains(&f), "{f} in {names:?}");
    }
    #[cfg(unix)]
    for (name, _) in &m.files {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(out.join("b").join(name))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{name}");
    }
    // Restored into a fresh directory: a server opens there and finds everything in order.
    let restored = out.join("restored");
    certrenew_server::backup::restore(&out.join("b"), &restored).unwrap();
    let (state, _) = certrenew_server::AppState::open(certrenew_server::Config::new(
        restored.clone(),
        "http://127.0.0.1:1".into(),
    ))
    .await
    .unwrap();
    assert_eq!(
        certrenew_server::store::check::invariants(&state.db)
            .await
            .unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(
        state.db.order(&last_before).await.unwrap().unwrap().status,
        api::OrderStatus::Installed
    );
    let last = m.last_installed.clone().unwrap();
    assert!(last >= last_before, "{last} < {last_before}");
    assert_eq!(
        state.db.order(&last).await.unwrap().unwrap().status,
        api::OrderStatus::Installed
    );
    assert_eq!(
        std::fs::read(restored.join("ca.crt")).unwrap(),
        std::fs::read(s.state.config.data_dir.join("ca.crt")).unwrap()
    );
    // Not into a directory in use, and not from a copy that changed.
    assert!(certrenew_server::backup::restore(&out.join("b"), &restored)
        .unwrap_err()
        .to_string()
        .contains("not empty"));
    std::fs::write(out.join("b").join("ca.crt"), b"changed").unwrap();
    let e = certrenew_server::backup::restore(&out.join("b"), &out.join("again"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("ca.crt"), "{e}");
    assert!(
        !out.join("again").exists(),
        "nothing laid down from a bad backup"
    );
}
