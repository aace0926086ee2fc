//! Where mail comes from. The MTA pipe is `helpdesk ingest` (src/cli);
//! maildirs are read here; IMAP lands on top of the same pipeline.

pub mod maildir;
