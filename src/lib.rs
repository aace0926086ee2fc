//! helpdesk: a help-desk ticketing server. See ARCHITECTURE.md for the shape.

pub mod auth;
pub mod background;
pub mod canned;
pub mod cli;
pub mod config;
pub mod csat;
pub mod db;
pub mod import;
pub mod mail;
pub mod mailboxes;
pub mod people;
pub mod reports;
pub mod settings;
pub mod sla;
pub mod telemetry;
pub mod tickets;
pub mod time;
pub mod web;
