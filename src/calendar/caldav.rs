//! `res_calendar_caldav.so`: CalDAV (RFC 4791) over HTTP(S) with basic auth.
//!
//! - Fetch: a `REPORT` (Depth 1) calendar-query on the calendar collection for VEVENTs in
//!   the time frame, asking the server to expand recurrences (`C:expand`), as Asterisk's
//!   res_calendar_caldav does; the `calendar-data` of every response is iCalendar text.
//! - Write (`CALENDAR_WRITE`): `PUT <url>/<uid>.ics` with a VEVENT (UTC times, STATUS from
//!   the busy state).

use super::config::CalendarConfig;
use super::event::{BusyState, Event};
use super::CalendarTech;
use async_trait::async_trait;
use quick_xml::events::Event as XmlEvent;
use quick_xml::Reader;
use std::time::Duration;

/// The whole request (connect, send, read) must finish in this time.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(30);

/// The CalDAV back end.
pub struct CalDav {
    http: reqwest::Client,
}

impl CalDav {
    pub fn new() -> CalDav {
        CalDav { http: client() }
    }
}

impl Default for CalDav {
    fn default() -> Self {
        CalDav::new()
    }
}

/// An HTTP client with ferrisk's time limit.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(HTTP_TIMEOUT)
        .user_agent(concat!("ferrisk/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_default()
}

/// `20261206T101500Z`.
pub fn ical_utc(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .unwrap_or_default()
        .format("%Y%m%dT%H%M%SZ")
        .to_string()
}

/// The calendar-query body for `[from, to]`.
pub fn query_body(from: i64, to: i64) -> String {
    let (s, e) = (ical_utc(from), ical_utc(to));
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\" ?>\n\
         <C:calendar-query xmlns:D=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:caldav\">\n\
         \x20 <D:prop>\n\
         \x20   <C:calendar-data>\n\
         \x20     <C:expand start=\"{s}\" end=\"{e}\"/>\n\
         \x20   </C:calendar-data>\n\
         \x20 </D:prop>\n\
         \x20 <C:filter>\n\
         \x20   <C:comp-filter name=\"VCALENDAR\">\n\
         \x20     <C:comp-filter name=\"VEVENT\">\n\
         \x20       <C:time-range start=\"{s}\" end=\"{e}\"/>\n\
         \x20     </C:comp-filter>\n\
         \x20   </C:comp-filter>\n\
         \x20 </C:filter>\n\
         </C:calendar-query>\n"
    )
}

/// The text of every `calendar-data` element of a multistatus answer.
pub fn calendar_data(xml: &str) -> Result<Vec<String>, String> {
    let mut r = Reader::from_str(xml);
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    loop {
        match r.read_event() {
            Ok(XmlEvent::Start(e)) if e.local_name().as_ref() == b"calendar-data" => {
                current = Some(String::new());
            }
            Ok(XmlEvent::End(e)) if e.local_name().as_ref() == b"calendar-data" => {
                if let Some(c) = current.take() {
                    out.push(c);
                }
            }
            Ok(XmlEvent::Text(t)) => {
                if let Some(c) = current.as_mut() {
                    c.push_str(&t.unescape().map_err(|e| e.to_string())?);
                }
            }
            Ok(XmlEvent::CData(t)) => {
                if let Some(c) = current.as_mut() {
                    c.push_str(&String::from_utf8_lossy(&t));
                }
            }
            Ok(XmlEvent::Eof) => break,
            Ok(_) => {}
            Err(e) => return Err(format!("bad XML in the answer: {e}")),
        }
    }
    Ok(out)
}

/// The iCalendar text `CALENDAR_WRITE` sends for `ev`.
pub fn event_ical(ev: &Event) -> String {
    let mut out = String::from(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//ferrisk//res_calendar_caldav//EN\r\nBEGIN:VEVENT\r\n",
    );
    let mut line = |name: &str, value: &str| {
        out.push_str(&fold(&format!("{name}:{value}")));
    };
    line("DTSTAMP", &ical_utc(super::unix_now()));
    line("UID", &escape(&ev.uid));
    line("DTSTART", &ical_utc(ev.start));
    line("DTEND", &ical_utc(ev.end));
    if !ev.organizer.is_empty() {
        line("ORGANIZER", &ev.organizer);
    }
    for (name, v) in [
        ("SUMMARY", &ev.summary),
        ("DESCRIPTION", &ev.description),
        ("LOCATION", &ev.location),
        ("CATEGORIES", &ev.categories),
    ] {
        if !v.is_empty() {
            line(name, &escape(v));
        }
    }
    if ev.priority > 0 {
        line("PRIORITY", &ev.priority.to_string());
    }
    match ev.busy {
        BusyState::Busy => line("STATUS", "CONFIRMED"),
        BusyState::Tentative => line("STATUS", "TENTATIVE"),
        BusyState::Free => line("TRANSP", "TRANSPARENT"),
    }
    out.push_str("END:VEVENT\r\nEND:VCALENDAR\r\n");
    out
}

/// RFC 5545 §3.3.11 text escaping.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace(';', "\\;")
        .replace(',', "\\,")
        .replace('\n', "\\n")
}

/// RFC 5545 §3.1 line folding at 75 octets, with CRLF.
fn fold(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + 8);
    let mut width = 0;
    for ch in line.chars() {
        let n = ch.len_utf8();
        if width + n > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(ch);
        width += n;
    }
    out.push_str("\r\n");
    out
}

fn with_auth(req: reqwest::RequestBuilder, cal: &CalendarConfig) -> reqwest::RequestBuilder {
    if cal.user.is_empty() {
        req
    } else {
        req.basic_auth(&cal.user, Some(&cal.secret))
    }
}

#[async_trait]
impl CalendarTech for CalDav {
    fn kind(&self) -> &'static str {
        "caldav"
    }
    fn description(&self) -> &'static str {
        "CalDAV calendars"
    }

    async fn fetch(&self, cal: &CalendarConfig, from: i64, to: i64) -> Result<String, String> {
        let method = reqwest::Method::from_bytes(b"REPORT").map_err(|e| e.to_string())?;
        let req = self
            .http
            .request(method, &cal.url)
            .header("Depth", "1")
            .header("Content-Type", "text/xml; charset=utf-8")
            .body(query_body(from, to));
        let resp = with_auth(req, cal)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = resp.status();
        let body = resp.text().await.map_err(|e| e.to_string())?;
        if !status.is_success() {
            return Err(format!("{} answered {status}", cal.url));
        }
        Ok(calendar_data(&body)?.concat())
    }

    async fn write(&self, cal: &CalendarConfig, ev: &Event) -> Result<(), String> {
        let url = format!(
            "{}{}{}.ics",
            cal.url,
            if cal.url.ends_with('/') { "" } else { "/" },
            urlencode(&ev.uid)
        );
        let req = self
            .http
            .put(&url)
            .header("Content-Type", "text/calendar; charset=utf-8")
            .body(event_ical(ev));
        let resp = with_auth(req, cal)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = resp.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("PUT {url} answered {status}"))
        }
    }
}

/// Percent-encode a path segment.
fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multistatus_gives_every_calendar_data() {
        let xml = r#"<?xml version="1.0"?>
<multistatus xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
 <response><href>/u/c/a.ics</href><propstat><prop>
  <C:calendar-data>BEGIN:VCALENDAR&#13;
VERSION:2.0&#13;
END:VCALENDAR&#13;
</C:calendar-data></prop><status>HTTP/1.1 200 OK</status></propstat></response>
 <response><href>/u/c/b.ics</href><propstat><prop>
  <C:calendar-data><![CDATA[BEGIN:VCALENDAR
END:VCALENDAR
]]></C:calendar-data></prop></propstat></response>
</multistatus>"#;
        let d = calendar_data(xml).unwrap();
        assert_eq!(d.len(), 2);
        assert!(d[0].starts_with("BEGIN:VCALENDAR\r\nVERSION:2.0"));
        assert!(d[1].contains("END:VCALENDAR"));
        assert!(calendar_data("<a><b></a>").is_err());
    }

    #[test]
    fn query_and_written_event() {
        let q = query_body(0, 3600);
        assert!(q.contains("<C:expand start=\"19700101T000000Z\" end=\"19700101T010000Z\"/>"));
        assert!(q.contains("<C:time-range start=\"19700101T000000Z\""));
        let ev = Event {
            uid: "abc".into(),
            summary: "Call, with; care".into(),
            start: 0,
            end: 60,
            busy: BusyState::Tentative,
            priority: 2,
            ..Default::default()
        };
        let t = event_ical(&ev);
        assert!(t.contains("\r\nSUMMARY:Call\\, with\\; care\r\n"), "{t}");
        assert!(t.contains("\r\nSTATUS:TENTATIVE\r\n"));
        assert!(t.contains("\r\nDTEND:19700101T000100Z\r\n"));
        assert!(t.contains("\r\nPRIORITY:2\r\n"));
        // It reads back as the same event.
        let p = crate::calendar::ical::events_in(&t, 0, 60);
        assert_eq!(p.events.len(), 1, "{:?}", p.errors);
        assert_eq!(p.events[0].summary, "Call, with; care");
        assert_eq!(p.events[0].busy, BusyState::Tentative);
        let long = fold(&"X".repeat(200));
        assert!(long.split("\r\n").all(|l| l.len() <= 75));
    }
}
