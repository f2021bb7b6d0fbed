//! The server answers on port 0 over a fresh demo database, over a real connection.

use kizuki_testkit::TestApp;

#[tokio::test]
async fn home_lists_the_2019_cases() {
    let t = TestApp::demo().await;
    let srv = t.serve().await;
    let mut c = srv.anonymous();
    let r = c.get("/").await;
    assert_eq!(r.status, 200);
    for title in [
        "改元に伴うシステム変更トラブルへの対応",
        "クラウド型メールサービスに対する不正ログイン",
    ] {
        assert!(r.body.contains(title), "missing {title}");
    }
    let r = c.get("/healthz").await;
    assert_eq!(r.status, 200);
}
