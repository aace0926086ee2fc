//! The staff pages: sign-in, the queue, the ticket page and its actions.

use crate::helpers::{spawn_app, staff, Browser};
use helpdesk::tickets::Role;

#[tokio::test]
async fn agent_signs_in_sees_the_queue_and_acts_on_a_ticket() {
    let app = spawn_app().await;
    staff(&app.db, "agent@example.com", Role::Agent, &["Support"]);
    let id = app.create_ticket("Printer on fire", Some("Support")).await;
    let mut b = Browser::new(&app);

    let p = b.get("/tickets").await;
    assert_eq!(p.status, 303);
    assert_eq!(p.location.as_deref(), Some("/login?next=%2Ftickets"));

    b.login("agent@example.com").await;
    let p = b.get("/tickets").await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert!(p.content_type.starts_with("text/html"));
    assert!(p.body.contains("Printer on fire"));

    let p = b.get(&format!("/tickets/{id}")).await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert!(p.body.contains("Please help."));

    let p = b
        .post_multipart(
            &format!("/tickets/{id}/reply"),
            &[("body", "Unplug it."), ("then", "pending")],
            &[],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let p = b.get(&format!("/tickets/{id}?done=reply")).await;
    assert!(p.body.contains("Unplug it."));
    assert!(p.body.contains("Reply queued for sending."));
}
