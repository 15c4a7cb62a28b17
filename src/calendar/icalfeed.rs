//! `res_calendar_icalendar.so`: an iCalendar (`.ics`) file fetched whole over HTTP(S) with
//! `GET` (basic auth when `user` is set); recurrences are expanded here (see
//! [`super::ical`]). Read only, as in Asterisk.

use super::caldav::client;
use super::config::CalendarConfig;
use super::CalendarTech;
use async_trait::async_trait;

/// The `.ics` back end.
pub struct IcalFeed {
    http: reqwest::Client,
}

impl IcalFeed {
    pub fn new() -> IcalFeed {
        IcalFeed { http: client() }
    }
}

impl Default for IcalFeed {
    fn default() -> Self {
        IcalFeed::new()
    }
}

#[async_trait]
impl CalendarTech for IcalFeed {
    fn kind(&self) -> &'static str {
        "ical"
    }
    fn description(&self) -> &'static str {
        "iCalendar .ics calendars"
    }

    async fn fetch(&self, cal: &CalendarConfig, _from: i64, _to: i64) -> Result<String, String> {
        let mut req = self.http.get(&cal.url);
        if !cal.user.is_empty() {
            req = req.basic_auth(&cal.user, Some(&cal.secret));
        }
        let resp = req.send().await.map_err(|e| e.to_string())?;
        let status = resp.status();
        if !status.is_success() {
            return Err(format!("{} answered {status}", cal.url));
        }
        resp.text().await.map_err(|e| e.to_string())
    }
}
