//! iCalendar text to [`Event`]s in a time frame (RFC 5545, parsed and expanded by
//! `calcard`): recurring events (RRULE, RDATE, EXDATE, overridden instances), time zones
//! (VTIMEZONE, TZID, Windows names), all-day and floating times (local time, as Asterisk),
//! the first VALARM's trigger (relative to the start, or the end with `RELATED=END`, or
//! absolute), the busy state from TRANSP and STATUS, categories, priority, organizer,
//! attendees and location.
//!
//! A feed that cannot be parsed whole is parsed one VEVENT at a time (with the feed's time
//! zones), so one broken event never drops the others; what could not be read comes back
//! in [`Parsed::errors`].

use super::event::{BusyState, Event};
use calcard::common::timezone::Tz;
use calcard::icalendar::dates::TimeOrDelta;
use calcard::icalendar::{
    ICalendar, ICalendarComponent, ICalendarComponentType, ICalendarDuration,
    ICalendarParameterName, ICalendarParameterValue, ICalendarProperty, ICalendarRelated,
    ICalendarStatus, ICalendarTransparency, ICalendarValue,
};
use chrono::{DateTime, NaiveDateTime, TimeZone};

/// At most this many occurrences are expanded per feed (an endless daily rule that started
/// years ago still fits).
const MAX_OCCURRENCES: usize = 200_000;

/// What a feed gave.
#[derive(Debug, Default)]
pub struct Parsed {
    pub events: Vec<Event>,
    /// One line per event (or feed) that could not be read.
    pub errors: Vec<String>,
}

/// The events of `text` (one or more VCALENDARs) that overlap `[from, to]` (seconds since
/// the epoch), sorted by start.
pub fn events_in(text: &str, from: i64, to: i64) -> Parsed {
    let mut out = Parsed::default();
    let calendars = split_calendars(text);
    if calendars.is_empty() && !text.trim().is_empty() {
        out.errors.push("no VCALENDAR in the data".into());
    }
    for cal in calendars {
        match ICalendar::parse(cal) {
            Ok(ical) => collect(&ical, from, to, &mut out),
            Err(e) => salvage(cal, from, to, &format!("{e:?}"), &mut out),
        }
    }
    out.events
        .sort_by(|a, b| (a.start, &a.uid).cmp(&(b.start, &b.uid)));
    out
}

/// Each `BEGIN:VCALENDAR … END:VCALENDAR` of `text`.
fn split_calendars(text: &str) -> Vec<&str> {
    blocks(text, "VCALENDAR")
}

/// The `BEGIN:<name>` … `END:<name>` blocks of `text` (outermost, case-insensitive), each
/// with its END line.
fn blocks<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
    let begin = format!("BEGIN:{name}");
    let end = format!("END:{name}");
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    let mut depth = 0usize;
    let mut pos = 0usize;
    for line in text.split_inclusive('\n') {
        let t = line.trim_end_matches(['\r', '\n']).trim();
        if t.eq_ignore_ascii_case(&begin) {
            if depth == 0 {
                start = Some(pos);
            }
            depth += 1;
        } else if t.eq_ignore_ascii_case(&end) && depth > 0 {
            depth -= 1;
            if depth == 0 {
                if let Some(s) = start.take() {
                    out.push(&text[s..pos + line.len()]);
                }
            }
        }
        pos += line.len();
    }
    out
}

/// A VCALENDAR that did not parse: try each VEVENT alone, with the calendar's time zones.
fn salvage(cal: &str, from: i64, to: i64, why: &str, out: &mut Parsed) {
    let zones: String = blocks(cal, "VTIMEZONE").concat();
    let events = blocks(cal, "VEVENT");
    if events.is_empty() {
        out.errors.push(format!("unreadable calendar data ({why})"));
        return;
    }
    for ev in events {
        let one = format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n{zones}{ev}END:VCALENDAR\r\n");
        match ICalendar::parse(&one) {
            Ok(ical) => collect(&ical, from, to, out),
            Err(e) => {
                let uid = ev
                    .lines()
                    .find_map(|l| l.trim().strip_prefix("UID:"))
                    .unwrap_or("?");
                out.errors
                    .push(format!("skipping unreadable VEVENT (UID {uid}): {e:?}"));
            }
        }
    }
}

/// Expand `ical` and keep the VEVENT occurrences overlapping `[from, to]`.
fn collect(ical: &ICalendar, from: i64, to: i64, out: &mut Parsed) {
    let expanded = ical.expand_dates(Tz::Floating, MAX_OCCURRENCES);
    for e in &expanded.errors {
        let uid = ical
            .component_by_id(e.comp_id)
            .and_then(|c| c.uid())
            .unwrap_or("?");
        out.errors
            .push(format!("skipping VEVENT (UID {uid}): {}", e.error));
    }
    for occ in &expanded.events {
        let Some(comp) = ical.component_by_id(occ.comp_id) else {
            continue;
        };
        if comp.component_type != ICalendarComponentType::VEvent {
            continue;
        }
        let start = epoch(&occ.start);
        let end = match &occ.end {
            TimeOrDelta::Time(t) => epoch(t),
            TimeOrDelta::Delta(d) => start + d.num_seconds(),
        }
        .max(start);
        // Overlapping the frame (an instant event at the frame's start counts).
        if start > to || end < from || (end == from && start < from) {
            continue;
        }
        out.events.push(event(ical, occ.comp_id, comp, start, end));
    }
}

/// Seconds since the epoch; floating times (and dates) are local time.
fn epoch(t: &DateTime<Tz>) -> i64 {
    if t.timezone().is_floating() {
        local(&t.naive_local())
    } else {
        t.timestamp()
    }
}

fn local(n: &NaiveDateTime) -> i64 {
    chrono::Local
        .from_local_datetime(n)
        .earliest()
        .map(|d| d.timestamp())
        .unwrap_or_else(|| n.and_utc().timestamp())
}

fn text(c: &ICalendarComponent, p: ICalendarProperty) -> String {
    c.property(&p)
        .map(|e| {
            e.values
                .iter()
                .filter_map(|v| v.as_text())
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default()
}

fn event(ical: &ICalendar, id: u32, c: &ICalendarComponent, start: i64, end: i64) -> Event {
    let summary = text(c, ICalendarProperty::Summary);
    let uid = match c.uid() {
        Some(u) if !u.is_empty() => u.to_string(),
        // As Asterisk: without a UID, the summary (or the start) stands in.
        _ if !summary.is_empty() => summary.clone(),
        _ => start.to_string(),
    };
    let categories = c
        .properties(&ICalendarProperty::Categories)
        .flat_map(|e| e.values.iter().filter_map(|v| v.as_text()))
        .collect::<Vec<_>>()
        .join(",");
    let priority = c
        .property(&ICalendarProperty::Priority)
        .and_then(|e| e.values.first())
        .and_then(|v| v.as_integer())
        .unwrap_or(0);
    let busy = match (c.transparency(), c.status()) {
        (Some(ICalendarTransparency::Transparent), _) => BusyState::Free,
        (_, Some(ICalendarStatus::Cancelled)) => BusyState::Free,
        (_, Some(ICalendarStatus::Tentative)) => BusyState::Tentative,
        _ => BusyState::Busy,
    };
    let attendees = c
        .properties(&ICalendarProperty::Attendee)
        .filter_map(|e| e.values.first().and_then(|v| v.as_text()))
        .filter(|a| !a.is_empty())
        .map(str::to_string)
        .collect();
    Event {
        uid,
        summary,
        description: text(c, ICalendarProperty::Description),
        organizer: text(c, ICalendarProperty::Organizer),
        location: text(c, ICalendarProperty::Location),
        categories,
        priority,
        start,
        end,
        alarm: ical.alarms_for_id(id).find_map(|a| trigger(a, start, end)),
        busy,
        attendees,
    }
}

/// When a VALARM fires for an occurrence `[start, end]`.
fn trigger(alarm: &ICalendarComponent, start: i64, end: i64) -> Option<i64> {
    let t = alarm.property(&ICalendarProperty::Trigger)?;
    match t.values.first()? {
        ICalendarValue::Duration(d) => {
            let from_end = t.params.iter().any(|p| {
                p.name == ICalendarParameterName::Related
                    && matches!(
                        p.value,
                        ICalendarParameterValue::Related(ICalendarRelated::End)
                    )
            });
            Some(if from_end { end } else { start } + seconds(d))
        }
        ICalendarValue::PartialDateTime(dt) => {
            let r = dt.to_date_time()?;
            Some(match r.offset {
                Some(off) => (r.date_time - off).and_utc().timestamp(),
                None => local(&r.date_time),
            })
        }
        _ => None,
    }
}

fn seconds(d: &ICalendarDuration) -> i64 {
    let s = (i64::from(d.weeks) * 7 + i64::from(d.days)) * 86_400
        + i64::from(d.hours) * 3_600
        + i64::from(d.minutes) * 60
        + i64::from(d.seconds);
    if d.neg {
        -s
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, Utc};

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> i64 {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0)
            .unwrap()
            .timestamp()
    }

    const FEED: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:test\r\n\
BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nBEGIN:STANDARD\r\nDTSTART:19701025T030000\r\n\
TZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:STANDARD\r\n\
BEGIN:DAYLIGHT\r\nDTSTART:19700329T020000\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\n\
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\n\
BEGIN:VEVENT\r\nUID:standup\r\nSUMMARY:Standup\r\nDTSTART;TZID=Europe/Berlin:20261201T090000\r\n\
DTEND;TZID=Europe/Berlin:20261201T091500\r\nRRULE:FREQ=DAILY;COUNT=10\r\n\
EXDATE;TZID=Europe/Berlin:20261203T090000\r\nCATEGORIES:work,daily\r\nPRIORITY:3\r\n\
ORGANIZER:mailto:boss@example.com\r\nATTENDEE:mailto:a@example.com\r\nATTENDEE:mailto:b@example.com\r\n\
BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT10M\r\nEND:VALARM\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:standup\r\nRECURRENCE-ID;TZID=Europe/Berlin:20261204T090000\r\n\
SUMMARY:Standup (moved)\r\nDTSTART;TZID=Europe/Berlin:20261204T110000\r\n\
DTEND;TZID=Europe/Berlin:20261204T111500\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:lunch\r\nSUMMARY:Lunch\r\nDTSTART:20261202T110000Z\r\nDURATION:PT1H\r\n\
TRANSP:TRANSPARENT\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:maybe\r\nSUMMARY:Maybe\r\nDTSTART:20261202T130000Z\r\nDTEND:20261202T140000Z\r\n\
STATUS:TENTATIVE\r\nLOCATION:Room 1\r\nBEGIN:VALARM\r\nACTION:AUDIO\r\nTRIGGER;VALUE=DATE-TIME:20261202T124500Z\r\n\
END:VALARM\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:off\r\nSUMMARY:Holiday\r\nDTSTART;VALUE=DATE:20261205\r\nDTEND;VALUE=DATE:20261206\r\n\
STATUS:CANCELLED\r\nEND:VEVENT\r\n\
END:VCALENDAR\r\n";

    #[test]
    fn recurrences_zones_overrides_alarms_and_busy_states() {
        let p = events_in(FEED, utc(2026, 12, 1, 0, 0), utc(2026, 12, 6, 0, 0));
        assert!(p.errors.is_empty(), "{:?}", p.errors);
        let standups: Vec<&Event> = p.events.iter().filter(|e| e.uid == "standup").collect();
        // 1, 2, 4 (moved), 5 December: the 3rd is excluded.
        assert_eq!(standups.len(), 4, "{standups:#?}");
        // 09:00 Berlin (UTC+1 in December) = 08:00 UTC.
        assert_eq!(standups[0].start, utc(2026, 12, 1, 8, 0));
        assert_eq!(standups[0].end, utc(2026, 12, 1, 8, 15));
        assert_eq!(standups[0].alarm, Some(utc(2026, 12, 1, 7, 50)));
        assert_eq!(standups[0].categories, "work,daily");
        assert_eq!(standups[0].priority, 3);
        assert_eq!(standups[0].organizer, "mailto:boss@example.com");
        assert_eq!(standups[0].attendees.len(), 2);
        assert_eq!(standups[0].busy, BusyState::Busy);
        assert!(!standups.iter().any(|e| e.start == utc(2026, 12, 3, 8, 0)));
        let moved = standups
            .iter()
            .find(|e| e.summary == "Standup (moved)")
            .unwrap();
        assert_eq!(moved.start, utc(2026, 12, 4, 10, 0));
        let lunch = p.events.iter().find(|e| e.uid == "lunch").unwrap();
        assert_eq!(lunch.busy, BusyState::Free);
        assert_eq!(lunch.end - lunch.start, 3600);
        let maybe = p.events.iter().find(|e| e.uid == "maybe").unwrap();
        assert_eq!(maybe.busy, BusyState::Tentative);
        assert_eq!(maybe.alarm, Some(utc(2026, 12, 2, 12, 45)));
        assert_eq!(maybe.location, "Room 1");
        // All day, local time.
        let off = p.events.iter().find(|e| e.uid == "off").unwrap();
        assert_eq!(off.busy, BusyState::Free);
        let local_midnight = chrono::Local
            .from_local_datetime(
                &NaiveDate::from_ymd_opt(2026, 12, 5)
                    .unwrap()
                    .and_hms_opt(0, 0, 0)
                    .unwrap(),
            )
            .earliest()
            .unwrap()
            .timestamp();
        assert_eq!(off.start, local_midnight);
        assert_eq!(off.end - off.start, 86_400);
        // Sorted by start.
        assert!(p.events.windows(2).all(|w| w[0].start <= w[1].start));
    }

    #[test]
    fn the_frame_limits_what_comes_back() {
        let p = events_in(FEED, utc(2026, 12, 2, 0, 0), utc(2026, 12, 2, 12, 0));
        let uids: Vec<&str> = p.events.iter().map(|e| e.uid.as_str()).collect();
        assert_eq!(uids, ["standup", "lunch"]);
        // An event going on at the frame's start is in it.
        let p = events_in(FEED, utc(2026, 12, 2, 11, 30), utc(2026, 12, 2, 11, 40));
        assert_eq!(p.events.len(), 1);
        assert_eq!(p.events[0].uid, "lunch");
    }

    #[test]
    fn a_broken_event_does_not_drop_the_others() {
        let feed = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n\
BEGIN:VEVENT\r\nUID:good\r\nSUMMARY:Good\r\nDTSTART:20261202T100000Z\r\nDTEND:20261202T110000Z\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:bad\r\nSUMMARY:No start\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:worse\r\nSUMMARY:Garbage\r\nDTSTART:notadate\r\nRRULE:FREQ=SOMETIMES\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:good2\r\nSUMMARY:Good too\r\nDTSTART:20261202T120000Z\r\nDTEND:20261202T130000Z\r\nEND:VEVENT\r\n\
END:VCALENDAR\r\n";
        let p = events_in(feed, utc(2026, 12, 2, 0, 0), utc(2026, 12, 3, 0, 0));
        let uids: Vec<&str> = p.events.iter().map(|e| e.uid.as_str()).collect();
        assert_eq!(uids, ["good", "good2"], "{:?}", p.errors);
        // Unterminated: salvaged event by event.
        let cut = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:a\r\nDTSTART:20261202T100000Z\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:b\r\nDTSTART:20261202T110000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\nBEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\n";
        let p = events_in(cut, utc(2026, 12, 2, 0, 0), utc(2026, 12, 3, 0, 0));
        assert_eq!(p.events.len(), 2, "{:?}", p.errors);
        assert!(events_in("garbage", 0, 1).errors.len() == 1);
    }
}
