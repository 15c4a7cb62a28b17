//! A calendar event as res_calendar keeps it: one occurrence (a recurring event is one
//! [`Event`] per instance in the time frame), times in seconds since the epoch.

/// Asterisk's busy states (`CALENDAR_EVENT(busystate)`: 0, 1, 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum BusyState {
    /// TRANSP:TRANSPARENT, or STATUS:CANCELLED.
    Free = 0,
    /// STATUS:TENTATIVE.
    Tentative = 1,
    /// Everything else (an opaque, confirmed or unspecified event).
    #[default]
    Busy = 2,
}

impl BusyState {
    /// `calendar show calendar`'s words.
    pub fn describe(self) -> &'static str {
        match self {
            BusyState::Free => "Free",
            BusyState::Tentative => "Busy (Tentative)",
            BusyState::Busy => "Busy",
        }
    }

    /// From `CALENDAR_WRITE`'s `busystate` (0, 1, 2; anything else is busy).
    pub fn from_number(n: &str) -> BusyState {
        match n.trim() {
            "0" => BusyState::Free,
            "1" => BusyState::Tentative,
            _ => BusyState::Busy,
        }
    }
}

/// One occurrence of an event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Event {
    pub uid: String,
    pub summary: String,
    pub description: String,
    pub organizer: String,
    pub location: String,
    pub categories: String,
    pub priority: i64,
    /// Start and end (seconds since the epoch; all-day and floating times in local time).
    pub start: i64,
    pub end: i64,
    /// When the reminder is due (from the first VALARM), if there is one.
    pub alarm: Option<i64>,
    pub busy: BusyState,
    pub attendees: Vec<String>,
}

impl Event {
    /// The key an occurrence is known by across refreshes: its UID and start.
    pub fn key(&self) -> (String, i64) {
        (self.uid.clone(), self.start)
    }

    /// Whether it is going on at `now` (Asterisk counts both ends).
    pub fn covers(&self, now: i64) -> bool {
        now >= self.start && now <= self.end
    }

    /// The value of a `CALENDAR_EVENT`/`CALENDAR_QUERY_RESULT` field (`calendar` is the
    /// calendar's name); `None` for an unknown field.
    pub fn field(&self, field: &str, calendar: &str) -> Option<String> {
        Some(match field.trim().to_ascii_lowercase().as_str() {
            "summary" => self.summary.clone(),
            "description" => self.description.clone(),
            "organizer" => self.organizer.clone(),
            "location" => self.location.clone(),
            "categories" => self.categories.clone(),
            "priority" => self.priority.to_string(),
            "calendar" => calendar.to_string(),
            "uid" => self.uid.clone(),
            "start" => self.start.to_string(),
            "end" => self.end.to_string(),
            "busystate" => (self.busy as i32).to_string(),
            "attendees" => self.attendees.join(","),
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_and_busy_states() {
        let e = Event {
            uid: "u1".into(),
            summary: "Standup".into(),
            priority: 3,
            start: 100,
            end: 200,
            busy: BusyState::Tentative,
            ..Default::default()
        };
        assert_eq!(e.field("SUMMARY", "work").as_deref(), Some("Standup"));
        assert_eq!(e.field("calendar", "work").as_deref(), Some("work"));
        assert_eq!(e.field("busystate", "work").as_deref(), Some("1"));
        assert_eq!(e.field("start", "work").as_deref(), Some("100"));
        assert_eq!(e.field("nope", "work"), None);
        assert!(e.covers(100) && e.covers(200) && !e.covers(201));
        assert_eq!(BusyState::from_number("0"), BusyState::Free);
        assert_eq!(BusyState::from_number("x"), BusyState::Busy);
        assert_eq!(BusyState::Tentative.describe(), "Busy (Tentative)");
    }
}
