//! The server answers on port 0 over a fresh demo database.

use crate::harness::{TestServer, get};

#[tokio::test]
async fn home_lists_the_2019_cases() {
    let srv = TestServer::start_demo().await;
    let (status, body) = get(&srv.url("/")).await;
    assert_eq!(status, 200);
    for title in [
        "改元に伴うシステム変更トラブルへの対応",
        "クラウド型メールサービスに対する不正ログイン",
    ] {
        assert!(body.contains(title), "missing {title}");
    }
    let (status, _) = get(&srv.url("/healthz")).await;
    assert_eq!(status, 200);
}
