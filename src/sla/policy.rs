//! SLA policies and calendars as stored, their validation, and the `Book`
//! that answers "which policy, targets and calendar does this ticket get".

use diesel::prelude::*;

use super::calendar::{self, Calendar};
use crate::db::schema::{calendars, groups, sla_policies, sla_targets, tickets};
use crate::db::DbConn;
use crate::people::is_unique_violation;
use crate::tickets::Priority;

pub const MAX_NAME_CHARS: usize = 120;
/// A year of business minutes is more than any sensible target.
pub const MAX_TARGET_MINUTES: i64 = 366 * 24 * 60;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = calendars)]
pub struct CalendarRow {
    pub id: i64,
    pub name: String,
    pub time_zone: String,
    pub hours: String,
    pub holidays: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl CalendarRow {
    /// Rows are validated on save; a hand-edited row that no longer parses
    /// falls back to around-the-clock rather than stopping every clock.
    pub fn calendar(&self) -> Calendar {
        match Calendar::from_stored(&self.time_zone, &self.hours, &self.holidays) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(calendar = self.id, error = %e, "stored calendar is invalid; using 24/7");
                Calendar::always()
            }
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = sla_policies)]
pub struct Policy {
    pub id: i64,
    pub name: String,
    pub group_id: Option<i64>,
    pub calendar_id: Option<i64>,
    pub breach_raise_level: bool,
    pub breach_group_id: Option<i64>,
    pub breach_raise_priority: bool,
    pub breach_notify: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Business minutes per target; `None`: no target.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Target {
    pub first_response_minutes: Option<i64>,
    pub resolution_minutes: Option<i64>,
}

/// A policy with its targets (in `Priority::ALL` order) and calendar.
#[derive(Debug, Clone)]
pub struct Rules {
    pub policy: Policy,
    pub targets: [Target; 4],
    pub calendar: Calendar,
}

impl Rules {
    pub fn target(&self, p: Priority) -> Target {
        self.targets[priority_index(p)]
    }
}

pub fn priority_index(p: Priority) -> usize {
    Priority::ALL.iter().position(|&x| x == p).unwrap_or(1)
}

/// Every policy, loaded once for work over many tickets (a handful of rows).
#[derive(Debug, Clone, Default)]
pub struct Book {
    rules: Vec<Rules>,
}

impl Book {
    pub fn load(conn: &mut DbConn) -> QueryResult<Book> {
        let policies: Vec<Policy> = sla_policies::table
            .order(sla_policies::id)
            .select(Policy::as_select())
            .load(conn)?;
        Self::with(conn, policies)
    }

    /// Only what a ticket in `group_id` can use: its group's policy and the default.
    pub fn for_group(conn: &mut DbConn, group_id: Option<i64>) -> QueryResult<Book> {
        let mut q = sla_policies::table
            .filter(sla_policies::group_id.is_null())
            .into_boxed();
        if let Some(g) = group_id {
            q = q.or_filter(sla_policies::group_id.eq(g));
        }
        let policies = q.select(Policy::as_select()).load(conn)?;
        Self::with(conn, policies)
    }

    fn with(conn: &mut DbConn, policies: Vec<Policy>) -> QueryResult<Book> {
        if policies.is_empty() {
            return Ok(Book::default());
        }
        let ids: Vec<i64> = policies.iter().map(|p| p.id).collect();
        let targets: Vec<(i64, String, Option<i64>, Option<i64>)> = sla_targets::table
            .filter(sla_targets::policy_id.eq_any(&ids))
            .select((
                sla_targets::policy_id,
                sla_targets::priority,
                sla_targets::first_response_minutes,
                sla_targets::resolution_minutes,
            ))
            .load(conn)?;
        let cal_ids: Vec<i64> = policies.iter().filter_map(|p| p.calendar_id).collect();
        let cals: Vec<CalendarRow> = if cal_ids.is_empty() {
            Vec::new()
        } else {
            calendars::table
                .filter(calendars::id.eq_any(&cal_ids))
                .select(CalendarRow::as_select())
                .load(conn)?
        };
        let rules = policies
            .into_iter()
            .map(|policy| {
                let mut t = [Target::default(); 4];
                for (pid, prio, fr, res) in &targets {
                    if *pid == policy.id {
                        if let Ok(p) = prio.parse::<Priority>() {
                            t[priority_index(p)] = Target {
                                first_response_minutes: *fr,
                                resolution_minutes: *res,
                            };
                        }
                    }
                }
                let calendar = policy
                    .calendar_id
                    .and_then(|c| cals.iter().find(|r| r.id == c))
                    .map(CalendarRow::calendar)
                    .unwrap_or_else(Calendar::always);
                Rules {
                    policy,
                    targets: t,
                    calendar,
                }
            })
            .collect();
        Ok(Book { rules })
    }

    /// The group's own policy, else the default one.
    pub fn rules_for(&self, group_id: Option<i64>) -> Option<&Rules> {
        group_id
            .and_then(|g| self.rules.iter().find(|r| r.policy.group_id == Some(g)))
            .or_else(|| self.rules.iter().find(|r| r.policy.group_id.is_none()))
    }

    pub fn by_id(&self, policy_id: i64) -> Option<&Rules> {
        self.rules.iter().find(|r| r.policy.id == policy_id)
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Changes whenever anything the clocks and business times depend on
    /// changes (which policy a group gets, its targets, its calendar), so
    /// values computed with an older book can be told apart (stored report
    /// facts). SHA-256, so it is the same across builds.
    pub fn fingerprint(&self) -> i64 {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        for r in &self.rules {
            let what = (r.policy.id, r.policy.group_id, r.targets, &r.calendar);
            h.update(format!("{what:?};").as_bytes());
        }
        let d = h.finalize();
        i64::from_le_bytes(d[..8].try_into().unwrap_or_default())
    }
}

/// The calendar of the ticket's policy (reports measure business time with it).
pub fn calendar_of_policy(conn: &mut DbConn, policy_id: Option<i64>) -> QueryResult<Calendar> {
    let Some(pid) = policy_id else {
        return Ok(Calendar::always());
    };
    let row: Option<CalendarRow> = sla_policies::table
        .inner_join(calendars::table.on(sla_policies::calendar_id.eq(calendars::id.nullable())))
        .filter(sla_policies::id.eq(pid))
        .select(CalendarRow::as_select())
        .first(conn)
        .optional()?;
    Ok(row.map(|r| r.calendar()).unwrap_or_else(Calendar::always))
}

// ---- calendars: list, validate, save, delete ----

pub fn calendars(conn: &mut DbConn) -> QueryResult<Vec<CalendarRow>> {
    calendars::table
        .order(calendars::name)
        .select(CalendarRow::as_select())
        .load(conn)
}

pub fn find_calendar(conn: &mut DbConn, id: i64) -> QueryResult<Option<CalendarRow>> {
    calendars::table
        .find(id)
        .select(CalendarRow::as_select())
        .first(conn)
        .optional()
}

/// A calendar as typed into the form: one text per weekday.
#[derive(Debug, Clone, Default)]
pub struct CalendarInput {
    pub name: String,
    pub time_zone: String,
    pub days: [String; 7],
    pub holidays: String,
}

impl CalendarInput {
    /// Monday to Friday `hours`, closed at weekends (the usual office).
    pub fn weekdays(name: &str, time_zone: &str, hours: &str, holidays: &str) -> CalendarInput {
        CalendarInput {
            name: name.into(),
            time_zone: time_zone.into(),
            days: std::array::from_fn(|d| if d < 5 { hours } else { "closed" }.to_string()),
            holidays: holidays.into(),
        }
    }
}

/// What is wrong, per form field (`name`, `time_zone`, `day0`..`day6`, `holidays`, `hours`).
pub type FieldProblems = Vec<(String, String)>;

fn check_name(name: &str, problems: &mut FieldProblems) -> String {
    let n = name.trim();
    if n.is_empty() {
        problems.push(("name".into(), "a name is required".into()));
    } else if n.chars().count() > MAX_NAME_CHARS {
        problems.push((
            "name".into(),
            format!("a name is at most {MAX_NAME_CHARS} characters"),
        ));
    }
    n.to_string()
}

/// The stored form (time zone, hours text, holidays text), or every problem.
pub fn validate_calendar(
    input: &CalendarInput,
) -> Result<(String, String, String, String), FieldProblems> {
    let mut problems = FieldProblems::new();
    let name = check_name(&input.name, &mut problems);
    let tz = input.time_zone.trim().to_string();
    if tz.parse::<chrono_tz::Tz>().is_err() {
        problems.push((
            "time_zone".into(),
            format!("{tz:?} is not an IANA time zone (e.g. Europe/Berlin)"),
        ));
    }
    let mut week: [Vec<calendar::Interval>; 7] = Default::default();
    for (i, text) in input.days.iter().enumerate() {
        match calendar::parse_day_hours(text) {
            Ok(d) => week[i] = d,
            Err(e) => problems.push((format!("day{i}"), e)),
        }
    }
    let holidays = match calendar::parse_holidays(&input.holidays) {
        Ok(h) => Some(h),
        Err(e) => {
            problems.push(("holidays".into(), e));
            None
        }
    };
    if !problems.is_empty() {
        return Err(problems);
    }
    let holidays = holidays.unwrap_or_default();
    let hours = calendar::stored_hours(&week);
    if let Err(e) = Calendar::new(&tz, week, holidays.iter().map(|h| h.0)) {
        problems.push(("hours".into(), e));
        return Err(problems);
    }
    let holidays_text = holidays
        .iter()
        .map(|(d, n)| {
            if n.is_empty() {
                d.to_string()
            } else {
                format!("{d} {n}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    Ok((name, tz, hours, holidays_text))
}

/// Inserts (`id` None) or updates a calendar. Returns its id.
pub fn save_calendar(
    conn: &mut DbConn,
    id: Option<i64>,
    input: &CalendarInput,
    at: i64,
) -> QueryResult<Result<i64, FieldProblems>> {
    let (name, tz, hours, holidays) = match validate_calendar(input) {
        Ok(v) => v,
        Err(p) => return Ok(Err(p)),
    };
    let saved = match id {
        None => diesel::insert_into(calendars::table)
            .values((
                calendars::name.eq(&name),
                calendars::time_zone.eq(&tz),
                calendars::hours.eq(&hours),
                calendars::holidays.eq(&holidays),
                calendars::created_at.eq(at),
                calendars::updated_at.eq(at),
            ))
            .returning(calendars::id)
            .get_result(conn),
        Some(id) => diesel::update(calendars::table.find(id))
            .set((
                calendars::name.eq(&name),
                calendars::time_zone.eq(&tz),
                calendars::hours.eq(&hours),
                calendars::holidays.eq(&holidays),
                calendars::updated_at.eq(at),
            ))
            .returning(calendars::id)
            .get_result(conn),
    };
    match saved {
        Ok(id) => Ok(Ok(id)),
        Err(e) if is_unique_violation(&e) => Ok(Err(vec![(
            "name".into(),
            format!("a calendar named {name:?} exists already"),
        )])),
        Err(e) => Err(e),
    }
}

/// Deletes a calendar no policy uses; otherwise names the policies.
pub fn delete_calendar(conn: &mut DbConn, id: i64) -> QueryResult<Result<(), String>> {
    let users: Vec<String> = sla_policies::table
        .filter(sla_policies::calendar_id.eq(id))
        .select(sla_policies::name)
        .load(conn)?;
    if !users.is_empty() {
        return Ok(Err(format!(
            "the calendar is used by {}; pick another calendar there first",
            users.join(", ")
        )));
    }
    diesel::delete(calendars::table.find(id)).execute(conn)?;
    Ok(Ok(()))
}

// ---- policies ----

pub fn policies(conn: &mut DbConn) -> QueryResult<Vec<Policy>> {
    sla_policies::table
        .order(sla_policies::name)
        .select(Policy::as_select())
        .load(conn)
}

pub fn find_policy(conn: &mut DbConn, id: i64) -> QueryResult<Option<Policy>> {
    sla_policies::table
        .find(id)
        .select(Policy::as_select())
        .first(conn)
        .optional()
}

/// The policy's targets in `Priority::ALL` order.
pub fn targets(conn: &mut DbConn, policy_id: i64) -> QueryResult<[Target; 4]> {
    let rows: Vec<(String, Option<i64>, Option<i64>)> = sla_targets::table
        .filter(sla_targets::policy_id.eq(policy_id))
        .select((
            sla_targets::priority,
            sla_targets::first_response_minutes,
            sla_targets::resolution_minutes,
        ))
        .load(conn)?;
    let mut t = [Target::default(); 4];
    for (prio, fr, res) in rows {
        if let Ok(p) = prio.parse::<Priority>() {
            t[priority_index(p)] = Target {
                first_response_minutes: fr,
                resolution_minutes: res,
            };
        }
    }
    Ok(t)
}

/// How many open tickets a policy currently times.
pub fn open_tickets(conn: &mut DbConn, policy_id: i64) -> QueryResult<i64> {
    tickets::table
        .filter(tickets::sla_policy_id.eq(policy_id))
        .filter(tickets::status.eq_any(["new", "open", "pending"]))
        .count()
        .get_result(conn)
}

/// A policy as typed into the form. Targets are duration texts ("4h", "30m",
/// "1h 30m", "90"); empty means no target.
#[derive(Debug, Clone, Default)]
pub struct PolicyInput {
    pub name: String,
    /// Empty: the default policy for groups without their own.
    pub group_id: Option<i64>,
    /// Empty: around the clock (UTC).
    pub calendar_id: Option<i64>,
    /// First response, then resolution, per priority in `Priority::ALL` order.
    pub first_response: [String; 4],
    pub resolution: [String; 4],
    pub breach_raise_level: bool,
    pub breach_group_id: Option<i64>,
    pub breach_raise_priority: bool,
    pub breach_notify: bool,
}

/// "4h", "30m", "1h 30m", "1h30m", "90" (minutes) → minutes. Empty → None.
pub fn parse_minutes(s: &str) -> Result<Option<i64>, String> {
    let t = s.trim().to_ascii_lowercase();
    if t.is_empty() {
        return Ok(None);
    }
    let bad = || {
        format!(
            "{:?} is not a duration: write minutes (90), hours (4h) or both (1h 30m)",
            s.trim()
        )
    };
    let mut total: i64 = 0;
    let mut digits = String::new();
    let mut saw_unit = false;
    for ch in t.chars() {
        match ch {
            '0'..='9' => digits.push(ch),
            'h' | 'm' => {
                let n: i64 = digits.parse().map_err(|_| bad())?;
                digits.clear();
                let mins = if ch == 'h' {
                    n.checked_mul(60)
                } else {
                    Some(n)
                };
                total = mins.and_then(|m| total.checked_add(m)).ok_or_else(bad)?;
                saw_unit = true;
            }
            ' ' => {
                if !digits.is_empty() && saw_unit {
                    return Err(bad());
                }
            }
            _ => return Err(bad()),
        }
    }
    if !digits.is_empty() {
        if saw_unit {
            return Err(bad());
        }
        total = digits.parse().map_err(|_| bad())?;
    }
    if total <= 0 {
        return Err(format!(
            "{:?}: a target must be at least one minute",
            s.trim()
        ));
    }
    if total > MAX_TARGET_MINUTES {
        return Err(format!("{:?}: a target is at most 366 days", s.trim()));
    }
    Ok(Some(total))
}

/// `90` → "1h 30m", for the form.
pub fn format_minutes(m: Option<i64>) -> String {
    match m {
        None => String::new(),
        Some(m) if m % 60 == 0 => format!("{}h", m / 60),
        Some(m) if m < 60 => format!("{m}m"),
        Some(m) => format!("{}h {}m", m / 60, m % 60),
    }
}

/// Inserts or updates a policy with its targets (one transaction). Returns
/// its id, or the problems per field (`name`, `group`, `calendar`,
/// `fr0`..`fr3`, `res0`..`res3`, `targets`, `breach_group`).
pub fn save_policy(
    conn: &mut DbConn,
    id: Option<i64>,
    input: &PolicyInput,
    at: i64,
) -> QueryResult<Result<i64, FieldProblems>> {
    let mut problems = FieldProblems::new();
    let name = check_name(&input.name, &mut problems);
    let mut targets = [Target::default(); 4];
    for (i, t) in targets.iter_mut().enumerate() {
        match parse_minutes(&input.first_response[i]) {
            Ok(m) => t.first_response_minutes = m,
            Err(e) => problems.push((format!("fr{i}"), e)),
        }
        match parse_minutes(&input.resolution[i]) {
            Ok(m) => t.resolution_minutes = m,
            Err(e) => problems.push((format!("res{i}"), e)),
        }
    }
    if problems.iter().all(|(f, _)| f == "name")
        && targets
            .iter()
            .all(|t| t.first_response_minutes.is_none() && t.resolution_minutes.is_none())
    {
        problems.push((
            "targets".into(),
            "set at least one first-response or resolution target".into(),
        ));
    }
    let group_exists = |conn: &mut DbConn, g: i64| -> QueryResult<bool> {
        groups::table
            .find(g)
            .count()
            .get_result::<i64>(conn)
            .map(|n| n > 0)
    };
    if let Some(g) = input.group_id {
        if !group_exists(conn, g)? {
            problems.push(("group".into(), format!("there is no group {g}")));
        }
    }
    if let Some(g) = input.breach_group_id {
        if !group_exists(conn, g)? {
            problems.push(("breach_group".into(), format!("there is no group {g}")));
        }
    }
    if let Some(c) = input.calendar_id {
        if find_calendar(conn, c)?.is_none() {
            problems.push(("calendar".into(), format!("there is no calendar {c}")));
        }
    }
    let mut same_scope = sla_policies::table
        .filter(sla_policies::id.ne(id.unwrap_or(0)))
        .select(sla_policies::name)
        .into_boxed();
    same_scope = match input.group_id {
        Some(g) => same_scope.filter(sla_policies::group_id.eq(g)),
        None => same_scope.filter(sla_policies::group_id.is_null()),
    };
    if let Some(other) = same_scope.first::<String>(conn).optional()? {
        let whose = if input.group_id.is_some() {
            "this group"
        } else {
            "groups without their own policy"
        };
        problems.push((
            "group".into(),
            format!("{other:?} is already the policy for {whose}"),
        ));
    }
    if !problems.is_empty() {
        return Ok(Err(problems));
    }
    let result = conn.transaction(|conn| {
        let values = (
            sla_policies::name.eq(&name),
            sla_policies::group_id.eq(input.group_id),
            sla_policies::calendar_id.eq(input.calendar_id),
            sla_policies::breach_raise_level.eq(input.breach_raise_level),
            sla_policies::breach_group_id.eq(input.breach_group_id),
            sla_policies::breach_raise_priority.eq(input.breach_raise_priority),
            sla_policies::breach_notify.eq(input.breach_notify),
            sla_policies::updated_at.eq(at),
        );
        let pid: i64 = match id {
            None => diesel::insert_into(sla_policies::table)
                .values((values, sla_policies::created_at.eq(at)))
                .returning(sla_policies::id)
                .get_result(conn)?,
            Some(id) => diesel::update(sla_policies::table.find(id))
                .set(values)
                .returning(sla_policies::id)
                .get_result(conn)?,
        };
        diesel::delete(sla_targets::table.filter(sla_targets::policy_id.eq(pid))).execute(conn)?;
        for (i, t) in targets.iter().enumerate() {
            if t.first_response_minutes.is_none() && t.resolution_minutes.is_none() {
                continue;
            }
            diesel::insert_into(sla_targets::table)
                .values((
                    sla_targets::policy_id.eq(pid),
                    sla_targets::priority.eq(Priority::ALL[i].as_str()),
                    sla_targets::first_response_minutes.eq(t.first_response_minutes),
                    sla_targets::resolution_minutes.eq(t.resolution_minutes),
                ))
                .execute(conn)?;
        }
        Ok(pid)
    });
    match result {
        Ok(pid) => Ok(Ok(pid)),
        Err(e) if is_unique_violation(&e) => Ok(Err(vec![(
            "name".into(),
            format!("a policy named {name:?} exists already (or this group has one)"),
        )])),
        Err(e) => Err(e),
    }
}

pub fn delete_policy(conn: &mut DbConn, id: i64) -> QueryResult<()> {
    diesel::delete(sla_policies::table.find(id))
        .execute(conn)
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_clear_errors() {
        assert_eq!(parse_minutes(""), Ok(None));
        assert_eq!(parse_minutes("90"), Ok(Some(90)));
        assert_eq!(parse_minutes("4h"), Ok(Some(240)));
        assert_eq!(parse_minutes("1h 30m"), Ok(Some(90)));
        assert_eq!(parse_minutes(" 1H30M "), Ok(Some(90)));
        assert_eq!(parse_minutes("30m"), Ok(Some(30)));
        for bad in [
            "4 hours",
            "h",
            "1h 30",
            "-5",
            "1.5h",
            "0",
            "0m",
            "99999999999999999999",
        ] {
            let e = parse_minutes(bad).unwrap_err();
            assert!(e.contains(bad.trim()) || e.contains("minute"), "{bad}: {e}");
        }
        assert!(parse_minutes("600000h").unwrap_err().contains("366 days"));
        for m in [1, 45, 60, 90, 600, 1441] {
            assert_eq!(parse_minutes(&format_minutes(Some(m))), Ok(Some(m)));
        }
        assert_eq!(format_minutes(None), "");
    }
}
