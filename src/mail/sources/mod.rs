//! Where mail comes from. The MTA pipe is `helpdesk ingest` (src/cli);
//! maildirs and IMAP accounts are read here, all through the same pipeline.

pub mod imap;
pub mod maildir;
