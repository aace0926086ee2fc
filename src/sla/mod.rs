//! Service-level agreements: business-hours calendars, policies with
//! targets per priority, the pure clock arithmetic, and the breach job.
//! Ticket rows change only through `tickets::sla` and `tickets::ops`.

pub mod calendar;
pub mod clock;
pub mod job;
pub mod policy;
