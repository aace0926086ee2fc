use crate::helpers::{postgres_url, spawn_app};

#[tokio::test]
async fn healthz_reports_ok_and_the_backend() {
    let app = spawn_app().await;
    let r = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    let expected = if postgres_url().is_some() {
        "postgres"
    } else {
        "sqlite"
    };
    assert_eq!(body, serde_json::json!({"status": "ok", "db": expected}));
}

#[tokio::test]
async fn unknown_routes_are_json_404s() {
    let app = spawn_app().await;
    let r = app
        .client
        .get(app.url("/no/such/page"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
}
