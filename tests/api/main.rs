//! The integration suite: runs on SQLite by default and on PostgreSQL when
//! HELPDESK_TEST_DATABASE_URL is set (a fresh database per test).

mod admin;
mod authorization;
mod cli;
mod corpus;
mod counts;
mod csat;
mod directory;
mod dovecot;
mod faults;
mod fuzz_seeds;
mod health;
mod helpers;
mod hostile_mail;
mod id_list;
mod imap;
mod import;
mod ingest;
mod ingest_cli;
mod ingest_web;
mod lifecycle;
mod notifications;
mod outbound;
mod portal;
mod queue_list;
mod rate_limits;
mod reports;
mod reports_page;
mod schema;
mod security_headers;
mod sla;
mod sla_admin;
mod tickets_api;
mod web_ui;
