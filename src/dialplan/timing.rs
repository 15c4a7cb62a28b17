//! Time conditions `times,weekdays,mdays,months[,timezone]` (placeholder API; being written).
use chrono::{DateTime, Utc};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeSpec {
    pub raw: String,
}

impl TimeSpec {
    /// Parse `09:00-17:00,mon-fri,*,*[,tz]` (also `|` separated, as old Asterisk).
    pub fn parse(s: &str) -> Result<TimeSpec, String> {
        Ok(TimeSpec { raw: s.to_string() })
    }
    /// Does `now` fall inside the condition (evaluated in the spec's timezone or local time)?
    pub fn matches(&self, _now: DateTime<Utc>) -> bool {
        true
    }
}
