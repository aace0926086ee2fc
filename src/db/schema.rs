//! Diesel table definitions, written by hand to match both migration folders.

diesel::table! {
    users (id) {
        id -> BigInt,
        email -> Text,
        name -> Text,
        role -> Text,
        password_hash -> Nullable<Text>,
        active -> Bool,
        created_at -> BigInt,
    }
}

diesel::table! {
    customers (id) {
        id -> BigInt,
        email -> Text,
        name -> Text,
        created_at -> BigInt,
        csat_opt_out -> Bool,
    }
}

diesel::table! {
    groups (id) {
        id -> BigInt,
        name -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    group_members (group_id, user_id) {
        group_id -> BigInt,
        user_id -> BigInt,
    }
}

diesel::table! {
    mailboxes (id) {
        id -> BigInt,
        address -> Text,
        name -> Text,
        group_id -> Nullable<BigInt>,
        ack_enabled -> Bool,
        created_at -> BigInt,
    }
}

diesel::table! {
    tickets (id) {
        id -> BigInt,
        subject -> Text,
        status -> Text,
        priority -> Text,
        group_id -> Nullable<BigInt>,
        assignee_id -> Nullable<BigInt>,
        requester_id -> BigInt,
        escalation_level -> Integer,
        channel -> Text,
        external_id -> Nullable<Text>,
        parent_id -> Nullable<BigInt>,
        mailbox_id -> Nullable<BigInt>,
        created_at -> BigInt,
        updated_at -> BigInt,
        first_responded_at -> Nullable<BigInt>,
        resolved_at -> Nullable<BigInt>,
        closed_at -> Nullable<BigInt>,
        first_response_due_at -> Nullable<BigInt>,
        resolution_due_at -> Nullable<BigInt>,
        sla_policy_id -> Nullable<BigInt>,
        first_response_warn_at -> Nullable<BigInt>,
        first_response_breached_at -> Nullable<BigInt>,
        resolution_warn_at -> Nullable<BigInt>,
        resolution_breached_at -> Nullable<BigInt>,
        resolution_remaining_ms -> Nullable<BigInt>,
        sla_next_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    calendars (id) {
        id -> BigInt,
        name -> Text,
        time_zone -> Text,
        hours -> Text,
        holidays -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    sla_policies (id) {
        id -> BigInt,
        name -> Text,
        group_id -> Nullable<BigInt>,
        calendar_id -> Nullable<BigInt>,
        breach_raise_level -> Bool,
        breach_group_id -> Nullable<BigInt>,
        breach_raise_priority -> Bool,
        breach_notify -> Bool,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    sla_targets (policy_id, priority) {
        policy_id -> BigInt,
        priority -> Text,
        first_response_minutes -> Nullable<BigInt>,
        resolution_minutes -> Nullable<BigInt>,
    }
}

diesel::table! {
    participants (ticket_id, customer_id) {
        ticket_id -> BigInt,
        customer_id -> BigInt,
        created_at -> BigInt,
    }
}

diesel::table! {
    raw_mails (id) {
        id -> BigInt,
        sha256 -> Text,
        size -> BigInt,
        data -> Binary,
        mailbox_id -> Nullable<BigInt>,
        received_at -> BigInt,
        dedupe_key -> Nullable<Text>,
        mail_message_id -> Nullable<Text>,
    }
}

diesel::table! {
    messages (id) {
        id -> BigInt,
        ticket_id -> BigInt,
        kind -> Text,
        author_user_id -> Nullable<BigInt>,
        author_customer_id -> Nullable<BigInt>,
        body_text -> Text,
        body_html -> Nullable<Text>,
        mail_message_id -> Nullable<Text>,
        mail_in_reply_to -> Nullable<Text>,
        raw_mail_id -> Nullable<BigInt>,
        created_at -> BigInt,
    }
}

diesel::table! {
    blobs (sha256) {
        sha256 -> Text,
        size -> BigInt,
        data -> Binary,
        created_at -> BigInt,
    }
}

diesel::table! {
    attachments (id) {
        id -> BigInt,
        message_id -> BigInt,
        blob_sha256 -> Text,
        filename -> Text,
        content_type -> Text,
        content_id -> Nullable<Text>,
        inline -> Bool,
        size -> BigInt,
    }
}

diesel::table! {
    events (id) {
        id -> BigInt,
        ticket_id -> BigInt,
        kind -> Text,
        at -> BigInt,
        actor_user_id -> Nullable<BigInt>,
        actor_customer_id -> Nullable<BigInt>,
        from_value -> Nullable<Text>,
        to_value -> Nullable<Text>,
        data -> Text,
    }
}

diesel::table! {
    outbox (id) {
        id -> BigInt,
        ticket_id -> Nullable<BigInt>,
        message_id -> Nullable<BigInt>,
        kind -> Text,
        to_addrs -> Text,
        cc_addrs -> Text,
        subject -> Text,
        mail_message_id -> Text,
        mail_in_reply_to -> Nullable<Text>,
        mail_references -> Nullable<Text>,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> BigInt,
        last_error -> Nullable<Text>,
        claimed_at -> Nullable<BigInt>,
        created_at -> BigInt,
        sent_at -> Nullable<BigInt>,
        body_text -> Nullable<Text>,
        body_html -> Nullable<Text>,
    }
}

diesel::table! {
    api_tokens (id) {
        id -> BigInt,
        user_id -> BigInt,
        name -> Text,
        token_hash -> Text,
        created_at -> BigInt,
        last_used_at -> Nullable<BigInt>,
        revoked_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    settings (key) {
        key -> Text,
        value -> Text,
        updated_at -> BigInt,
    }
}

diesel::table! {
    sessions (id) {
        id -> BigInt,
        token_hash -> Text,
        user_id -> Nullable<BigInt>,
        customer_id -> Nullable<BigInt>,
        created_at -> BigInt,
        last_seen_at -> BigInt,
        expires_at -> BigInt,
    }
}

diesel::table! {
    login_failures (id) {
        id -> BigInt,
        key -> Text,
        at -> BigInt,
    }
}

diesel::table! {
    portal_links (id) {
        id -> BigInt,
        token_hash -> Text,
        customer_id -> BigInt,
        created_at -> BigInt,
        expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    canned_responses (id) {
        id -> BigInt,
        title -> Text,
        body -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    quarantine (id) {
        id -> BigInt,
        raw_mail_id -> BigInt,
        error -> Text,
        created_at -> BigInt,
        retried_at -> Nullable<BigInt>,
        attempts -> Integer,
        resolved_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    delivery_failures (id) {
        id -> BigInt,
        ticket_id -> Nullable<BigInt>,
        raw_mail_id -> BigInt,
        recipient -> Nullable<Text>,
        status -> Nullable<Text>,
        diagnostic -> Text,
        original_message_id -> Nullable<Text>,
        created_at -> BigInt,
    }
}

diesel::table! {
    imap_folders (id) {
        id -> BigInt,
        account -> Text,
        folder -> Text,
        uidvalidity -> BigInt,
        last_uid -> BigInt,
        acked_uid -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    notification_prefs (user_id, kind) {
        user_id -> BigInt,
        kind -> Text,
        enabled -> Bool,
    }
}

diesel::table! {
    csat_surveys (id) {
        id -> BigInt,
        ticket_id -> BigInt,
        customer_id -> BigInt,
        token_hash -> Nullable<Text>,
        state -> Text,
        due_at -> BigInt,
        sent_at -> Nullable<BigInt>,
        reminded_at -> Nullable<BigInt>,
        expires_at -> Nullable<BigInt>,
        rating -> Nullable<Integer>,
        comment -> Nullable<Text>,
        answered_at -> Nullable<BigInt>,
        followed_up_at -> Nullable<BigInt>,
        followed_up_by -> Nullable<BigInt>,
        created_at -> BigInt,
    }
}

diesel::table! {
    ticket_facts (ticket_id) {
        ticket_id -> BigInt,
        gen -> BigInt,
        dirty -> Bool,
        book -> BigInt,
        created_at -> BigInt,
        channel -> Integer,
        priority -> Integer,
        group_id -> Nullable<BigInt>,
        assignee_id -> Nullable<BigInt>,
        settled_at -> Nullable<BigInt>,
        summary -> Binary,
    }
}

diesel::table! {
    ticket_counts (group_id, assignee_id, status) {
        group_id -> BigInt,
        assignee_id -> BigInt,
        status -> Text,
        n -> BigInt,
    }
}

diesel::table! {
    directory_version (id) {
        id -> Integer,
        n -> BigInt,
    }
}

diesel::joinable!(notification_prefs -> users (user_id));
diesel::joinable!(ticket_facts -> tickets (ticket_id));
diesel::joinable!(csat_surveys -> tickets (ticket_id));
diesel::joinable!(csat_surveys -> customers (customer_id));
diesel::joinable!(sla_targets -> sla_policies (policy_id));
diesel::joinable!(group_members -> groups (group_id));
diesel::joinable!(group_members -> users (user_id));
diesel::joinable!(tickets -> customers (requester_id));
diesel::joinable!(messages -> tickets (ticket_id));
diesel::joinable!(events -> tickets (ticket_id));
diesel::joinable!(participants -> tickets (ticket_id));
diesel::joinable!(participants -> customers (customer_id));
diesel::joinable!(attachments -> messages (message_id));
diesel::joinable!(api_tokens -> users (user_id));
diesel::joinable!(quarantine -> raw_mails (raw_mail_id));
diesel::joinable!(delivery_failures -> raw_mails (raw_mail_id));
diesel::joinable!(delivery_failures -> tickets (ticket_id));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    customers,
    groups,
    group_members,
    mailboxes,
    tickets,
    participants,
    raw_mails,
    messages,
    blobs,
    attachments,
    events,
    outbox,
    api_tokens,
    settings,
    sessions,
    login_failures,
    portal_links,
    canned_responses,
    quarantine,
    delivery_failures,
    imap_folders,
    notification_prefs,
    calendars,
    sla_policies,
    sla_targets,
    csat_surveys,
    ticket_facts,
    ticket_counts,
    directory_version,
);

/// Every table the migrations create, for the schema comparison test.
pub const TABLES: &[&str] = &[
    "users",
    "customers",
    "groups",
    "group_members",
    "mailboxes",
    "tickets",
    "participants",
    "raw_mails",
    "messages",
    "blobs",
    "attachments",
    "events",
    "outbox",
    "api_tokens",
    "settings",
    "sessions",
    "login_failures",
    "portal_links",
    "canned_responses",
    "quarantine",
    "delivery_failures",
    "imap_folders",
    "notification_prefs",
    "calendars",
    "sla_policies",
    "sla_targets",
    "csat_surveys",
    "ticket_facts",
    "ticket_counts",
    "directory_version",
];
