//! The calendar dialplan functions, with Asterisk's arguments and answers:
//!
//! - `CALENDAR_BUSY(cal)`: `1` while an event that is not free is going on, else `0`.
//! - `CALENDAR_QUERY(cal[,start[,end]])`: keeps the events overlapping `[start, end]`
//!   (seconds since the epoch; the whole fetched frame by default) on the channel and
//!   returns an id for `CALENDAR_QUERY_RESULT(id,field[,entry])` (`getnum`: how many;
//!   `entry` counts from 1).
//! - `CALENDAR_EVENT(field)`: the event a reminder call is about.
//! - `Set(CALENDAR_WRITE(cal,field,…)=value,…)`: creates an event on the server; sets
//!   `CALENDAR_SUCCESS` to `1` or `0`.
//!
//! Fields: summary, description, organizer, location, categories, priority, calendar, uid,
//! start, end, busystate (0 free, 1 tentative, 2 busy), attendees.

use super::event::{BusyState, Event};
use crate::apps::args;
use crate::pbx::func::{Func, FuncError};
use crate::pbx::module::ModuleContext;
use crate::pbx::Channel;
use async_trait::async_trait;
use std::sync::Arc;

/// The datastore name of the event a reminder channel carries.
pub const EVENT_NOTIFICATION: &str = "EventNotification";

/// What a reminder channel carries: the event and its calendar's name.
#[derive(Debug, Clone)]
pub struct Notification {
    pub event: Event,
    pub calendar: String,
}

/// A `CALENDAR_QUERY` result kept on the channel.
struct QueryResult {
    calendar: String,
    events: Vec<Event>,
}

pub fn register(ctx: &ModuleContext) {
    ctx.register_func(Arc::new(CalendarBusy));
    ctx.register_func(Arc::new(CalendarEvent));
    ctx.register_func(Arc::new(CalendarQuery));
    ctx.register_func(Arc::new(CalendarQueryResult));
    ctx.register_func(Arc::new(CalendarWrite));
}

fn calendars(chan: &Channel) -> Result<Arc<super::Calendars>, FuncError> {
    super::of(&chan.pbx).ok_or_else(|| FuncError::Other("res_calendar is not loaded".into()))
}

struct CalendarBusy;

#[async_trait]
impl Func for CalendarBusy {
    fn name(&self) -> &'static str {
        "CALENDAR_BUSY"
    }
    fn synopsis(&self) -> &'static str {
        "Determine if the calendar is marked busy at this time."
    }
    fn syntax(&self) -> &'static str {
        "CALENDAR_BUSY(calendar)"
    }
    fn description(&self) -> &'static str {
        "Check the specified calendar's current busy status."
    }
    fn read(&self, chan: &mut Channel, args: &str) -> Result<String, FuncError> {
        let name = args.trim();
        if name.is_empty() {
            return Err(FuncError::Usage(
                "CALENDAR_BUSY requires an argument: CALENDAR_BUSY(<calendar_name>)".into(),
            ));
        }
        let cal = calendars(chan)?
            .find(name)
            .ok_or_else(|| FuncError::Other(format!("Could not find calendar '{name}'")))?;
        Ok(if cal.is_busy() { "1" } else { "0" }.into())
    }
}

struct CalendarEvent;

#[async_trait]
impl Func for CalendarEvent {
    fn name(&self) -> &'static str {
        "CALENDAR_EVENT"
    }
    fn synopsis(&self) -> &'static str {
        "Get calendar event notification data from a notification call."
    }
    fn syntax(&self) -> &'static str {
        "CALENDAR_EVENT(field)"
    }
    fn description(&self) -> &'static str {
        "Whenever a calendar event notification call is made, the event data may be accessed with this function. Fields: summary, description, organizer, location, categories, priority, calendar, uid, start, end, busystate (0=FREE, 1=TENTATIVE, 2=BUSY), attendees."
    }
    fn read(&self, chan: &mut Channel, args: &str) -> Result<String, FuncError> {
        if args.trim().is_empty() {
            return Err(FuncError::Usage(
                "CALENDAR_EVENT requires an argument".into(),
            ));
        }
        let n = chan
            .datastores
            .get::<Notification>(EVENT_NOTIFICATION)
            .ok_or_else(|| {
                FuncError::Other(format!(
                    "There is no event notification datastore on '{}'!",
                    chan.name()
                ))
            })?;
        Ok(n.event.field(args, &n.calendar).unwrap_or_default())
    }
}

struct CalendarQuery;

#[async_trait]
impl Func for CalendarQuery {
    fn name(&self) -> &'static str {
        "CALENDAR_QUERY"
    }
    fn synopsis(&self) -> &'static str {
        "Query a calendar server and store the data on a channel"
    }
    fn syntax(&self) -> &'static str {
        "CALENDAR_QUERY(calendar[,start[,end]])"
    }
    fn description(&self) -> &'static str {
        "Get a list of events in the currently accessible timeframe of the calendar. The function returns the id for accessing the result with CALENDAR_QUERY_RESULT()."
    }
    fn read(&self, chan: &mut Channel, args: &str) -> Result<String, FuncError> {
        let a = args::split(args, ',');
        let name = args::nth(&a, 0).trim().to_string();
        if name.is_empty() {
            return Err(FuncError::Usage(
                "CALENDAR_QUERY requires a calendar argument".into(),
            ));
        }
        let cal = calendars(chan)?
            .find(&name)
            .ok_or_else(|| FuncError::Other(format!("Unknown calendar '{name}'")))?;
        let num = |s: &str, dflt: i64| -> i64 {
            let s = s.trim();
            if s.is_empty() {
                dflt
            } else {
                atoi(s)
            }
        };
        let start = num(args::nth(&a, 1), i64::from(i32::MIN));
        let end = num(args::nth(&a, 2), i64::from(i32::MAX));
        let mut events: Vec<Event> = cal
            .events()
            .iter()
            .filter(|e| !(start > e.end || end < e.start))
            .cloned()
            .collect();
        events.sort_by_key(|e| e.start);
        let id = query_id();
        chan.datastores.insert(
            format!("CalendarEventList/{id}"),
            QueryResult {
                calendar: cal.cfg.name.clone(),
                events,
            },
        );
        Ok(id)
    }
}

/// C's `atoi`: leading digits (with a sign), 0 when none.
fn atoi(s: &str) -> i64 {
    let s = s.trim();
    let (neg, digits) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let n: i64 = digits
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap_or(0);
    if neg {
        -n
    } else {
        n
    }
}

/// A random UUID, as Asterisk's `ast_uuid_generate_str`.
fn query_id() -> String {
    crate::funcs::vars::uuid_v4()
}

struct CalendarQueryResult;

#[async_trait]
impl Func for CalendarQueryResult {
    fn name(&self) -> &'static str {
        "CALENDAR_QUERY_RESULT"
    }
    fn synopsis(&self) -> &'static str {
        "Retrieve data from a previously run CALENDAR_QUERY() call"
    }
    fn syntax(&self) -> &'static str {
        "CALENDAR_QUERY_RESULT(id,field[,entry])"
    }
    fn description(&self) -> &'static str {
        "After running CALENDAR_QUERY and getting a result id, calling CALENDAR_QUERY_RESULT with that id and a field will return the data for that field (getnum: the number of events). If multiple events matched the query, and entry is provided, information from that event will be returned."
    }
    fn read(&self, chan: &mut Channel, args: &str) -> Result<String, FuncError> {
        let a = args::split(args, ',');
        let (id, field) = (args::nth(&a, 0).trim(), args::nth(&a, 1).trim());
        if id.is_empty() || field.is_empty() {
            return Err(FuncError::Usage(
                "CALENDAR_QUERY_RESULT requires an id and a field".into(),
            ));
        }
        let q = chan
            .datastores
            .get::<QueryResult>(&format!("CalendarEventList/{id}"))
            .ok_or_else(|| {
                FuncError::Other(format!(
                    "There is no event notification datastore with id '{id}' on '{}'!",
                    chan.name()
                ))
            })?;
        if field.eq_ignore_ascii_case("getnum") {
            return Ok(q.events.len().to_string());
        }
        let entry = match args::nth(&a, 2).trim() {
            "" => 1,
            e => atoi(e),
        };
        let Some(ev) = usize::try_from(entry - 1)
            .ok()
            .and_then(|i| q.events.get(i))
        else {
            return Ok(String::new());
        };
        ev.field(field, &q.calendar)
            .ok_or_else(|| FuncError::Other(format!("Unknown field '{field}'")))
    }
}

struct CalendarWrite;

#[async_trait]
impl Func for CalendarWrite {
    fn name(&self) -> &'static str {
        "CALENDAR_WRITE"
    }
    fn synopsis(&self) -> &'static str {
        "Write an event to a calendar"
    }
    fn syntax(&self) -> &'static str {
        "CALENDAR_WRITE(calendar,field[,...])"
    }
    fn description(&self) -> &'static str {
        "Set(CALENDAR_WRITE(calendar,field1,field2,field3)=val1,val2,val3) creates an event on the calendar's server. Fields: summary, description, organizer, location, categories, priority, uid, start, end (seconds since the epoch; now when missing), busystate. CALENDAR_SUCCESS is 1 when the event was written, 0 when it was not."
    }
    fn read(&self, _chan: &mut Channel, _args: &str) -> Result<String, FuncError> {
        Err(FuncError::WriteOnly)
    }
    fn writable(&self) -> bool {
        true
    }
    fn is_async(&self) -> bool {
        true
    }
    fn write(&self, _chan: &mut Channel, _args: &str, _value: &str) -> Result<(), FuncError> {
        Err(FuncError::Other(
            "CALENDAR_WRITE talks to the server: it runs only where the dialplan can wait".into(),
        ))
    }
    async fn write_async(
        &self,
        chan: &mut Channel,
        args: &str,
        value: &str,
    ) -> Result<(), FuncError> {
        let fields = args::split(args, ',');
        let values = args::split(value, ',');
        let name = args::nth(&fields, 0).trim().to_string();
        if name.is_empty() {
            return Err(FuncError::Usage(
                "CALENDAR_WRITE requires a calendar name!".into(),
            ));
        }
        let cals = calendars(chan)?;
        let cal = cals
            .find(&name)
            .ok_or_else(|| FuncError::Other(format!("Couldn't find calendar '{name}'")))?;
        let Some(tech) = cals.tech(&cal.cfg.kind) else {
            return Err(FuncError::Other(format!(
                "Calendar '{}' has no write function!",
                cal.cfg.name
            )));
        };
        if fields.len() - 1 != values.len() {
            return Err(FuncError::Usage(format!(
                "CALENDAR_WRITE should have the same number of fields ({}) and values ({})!",
                fields.len() - 1,
                values.len()
            )));
        }
        let mut ev = Event {
            busy: BusyState::Busy,
            ..Default::default()
        };
        for (f, v) in fields[1..].iter().zip(values.iter()) {
            let v = v.trim().to_string();
            match f.trim().to_ascii_lowercase().as_str() {
                "summary" => ev.summary = v,
                "description" => ev.description = v,
                "organizer" => ev.organizer = v,
                "location" => ev.location = v,
                "categories" => ev.categories = v,
                "priority" => ev.priority = atoi(&v),
                "uid" => ev.uid = v,
                "start" => ev.start = atoi(&v),
                "end" => ev.end = atoi(&v),
                "busystate" => ev.busy = BusyState::from_number(&v),
                other => chan.pbx.warning(&format!(
                    "res_calendar.c: Unknown calendar event field '{other}'"
                )),
            }
        }
        let now = super::unix_now();
        if ev.start == 0 {
            ev.start = now;
        }
        if ev.end == 0 {
            ev.end = now;
        }
        if ev.uid.is_empty() {
            ev.uid = query_id();
        }
        match tech.write(&cal.cfg, &ev).await {
            Ok(()) => {
                chan.set_var("CALENDAR_SUCCESS", "1");
                cals.refresh_soon(&cal);
            }
            Err(e) => {
                chan.pbx.warning(&format!(
                    "res_calendar.c: Writing event to calendar '{}' failed! ({e})",
                    cal.cfg.name
                ));
                chan.set_var("CALENDAR_SUCCESS", "0");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atoi_and_ids() {
        assert_eq!(atoi("123abc"), 123);
        assert_eq!(atoi("-5"), -5);
        assert_eq!(atoi("x"), 0);
        let id = query_id();
        assert_eq!(id.len(), 36);
        assert_ne!(id, query_id());
    }
}
