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
    app.stop().await;
    assert!(
        reqwest::Client::new()
            .get(app.url("/healthz"))
            .send()
            .await
            .is_err(),
        "a stopped server answers nothing"
    );
}

#[tokio::test]
async fn unknown_routes_are_404s_json_under_the_api_and_html_elsewhere() {
    let app = spawn_app().await;
    for path in ["/api/v1/no/such/thing", "/api/nothing"] {
        let r = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 404, "{path}");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "not_found", "{path}");
    }
    let r = app
        .client
        .get(app.url("/no/such/page"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(r.text().await.unwrap().contains("Not found"));
}
