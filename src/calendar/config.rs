//! `calendar.conf`: one section per calendar (`[general]` is skipped, as in Asterisk).
//!
//! | Option | Meaning (default) |
//! |---|---|
//! | `type` | `caldav` or `ical` (`exchange`, `ews`: not supported, warned and skipped) |
//! | `url`, `user`, `secret` | where the calendar is, HTTP basic credentials |
//! | `refresh` | minutes between fetches (60) |
//! | `timeframe` | minutes of events fetched from now (60) |
//! | `fetch_again_at_reload` | fetch at once on `module reload` (no) |
//! | `autoreminder` | call this many minutes before each busy event instead of its alarm |
//! | `channel` | who the reminder calls (`SIP/1001`) |
//! | `context` + `extension`, or `app` + `appdata` | what the answered reminder runs |
//! | `waittime` | seconds the reminder rings (30) |
//! | `setvar` | `name=value` set on the reminder channel, in order (repeatable) |

use crate::config::{is_true, ConfigError, ConfigFile, Location};

/// One calendar of calendar.conf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarConfig {
    pub name: String,
    /// `caldav` or `ical`.
    pub kind: String,
    pub url: String,
    pub user: String,
    pub secret: String,
    /// Minutes.
    pub refresh: u32,
    /// Minutes.
    pub timeframe: u32,
    pub fetch_again_at_reload: bool,
    /// Minutes before the start (0: use the event's alarm).
    pub autoreminder: u32,
    pub channel: String,
    pub context: String,
    pub extension: String,
    pub app: String,
    pub appdata: String,
    /// Seconds.
    pub waittime: u32,
    /// `setvar` lines: (name, value) in order.
    pub setvars: Vec<(String, String)>,
    pub loc: Location,
}

impl CalendarConfig {
    /// A calendar with calendar.conf's defaults.
    pub fn new(name: &str, kind: &str, url: &str, loc: Location) -> CalendarConfig {
        CalendarConfig {
            name: name.to_string(),
            kind: kind.to_string(),
            url: url.to_string(),
            user: String::new(),
            secret: String::new(),
            refresh: 60,
            timeframe: 60,
            fetch_again_at_reload: false,
            autoreminder: 0,
            channel: String::new(),
            context: String::new(),
            extension: String::new(),
            app: String::new(),
            appdata: String::new(),
            waittime: 30,
            setvars: Vec::new(),
            loc,
        }
    }
}

/// The calendar types ferrisk has.
pub const KINDS: &[&str] = &["caldav", "ical"];

/// Read calendar.conf: the calendars, and warnings for what was skipped. Errors (a value
/// that is no number) name file:line:column.
pub fn parse(cf: &ConfigFile) -> Result<(Vec<CalendarConfig>, Vec<String>), Vec<ConfigError>> {
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    let mut errors = Vec::new();
    for sec in &cf.sections {
        if sec.is_template || sec.name.eq_ignore_ascii_case("general") {
            continue;
        }
        let mut c = CalendarConfig::new(&sec.name, "", "", sec.loc.clone());
        for e in &sec.entries {
            let v = e.value.trim();
            let mut num = |what: &str| -> u32 {
                match v.parse::<u32>() {
                    Ok(n) => n,
                    Err(_) => {
                        errors.push(ConfigError::at(
                            &e.loc,
                            format!("{what} must be a number of minutes or seconds, not '{v}'"),
                        ));
                        0
                    }
                }
            };
            match e.key.to_ascii_lowercase().as_str() {
                "type" => c.kind = v.to_ascii_lowercase(),
                "url" => c.url = v.to_string(),
                "user" => c.user = v.to_string(),
                "secret" => c.secret = v.to_string(),
                "refresh" => c.refresh = num("refresh"),
                "timeframe" => c.timeframe = num("timeframe"),
                "autoreminder" => c.autoreminder = num("autoreminder"),
                "waittime" => c.waittime = num("waittime"),
                "fetch_again_at_reload" => c.fetch_again_at_reload = is_true(v),
                "channel" => c.channel = v.to_string(),
                "context" => c.context = v.to_string(),
                "extension" => c.extension = v.to_string(),
                "app" => c.app = v.to_string(),
                "appdata" => c.appdata = v.to_string(),
                "setvar" => match v.split_once('=') {
                    Some((n, val)) if !n.trim().is_empty() => c
                        .setvars
                        .push((n.trim().to_string(), val.trim().to_string())),
                    _ => warnings.push(format!(
                        "{}: Malformed argument. Should be 'setvar: variable=value'",
                        e.loc
                    )),
                },
                other => warnings.push(format!(
                    "{}: unknown calendar option '{other}' ignored",
                    e.loc
                )),
            }
        }
        if c.kind.is_empty() {
            warnings.push(format!(
                "{}: calendar '{}' has no type; skipped",
                sec.loc, c.name
            ));
            continue;
        }
        if !KINDS.contains(&c.kind.as_str()) {
            warnings.push(format!(
                "{}: calendar '{}': type '{}' is not supported (ferrisk has caldav and ical); skipped",
                sec.loc, c.name, c.kind
            ));
            continue;
        }
        if c.url.is_empty() {
            warnings.push(format!(
                "{}: No URL was specified for calendar '{}' - skipping.",
                sec.loc, c.name
            ));
            continue;
        }
        if c.refresh == 0 {
            warnings.push(format!(
                "{}: calendar '{}': refresh must be at least 1 minute; using 1",
                sec.loc, c.name
            ));
            c.refresh = 1;
        }
        if c.autoreminder > 0 && c.channel.is_empty() {
            warnings.push(format!(
                "You have set 'autoreminder' but not 'channel' for calendar '{}.' Notifications will not occur.",
                c.name
            ));
        }
        out.push(c);
    }
    if errors.is_empty() {
        Ok((out, warnings))
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<(Vec<CalendarConfig>, Vec<String>), Vec<ConfigError>> {
        let cf = crate::config::load_str(
            std::path::Path::new("/tmp"),
            "calendar.conf",
            text,
            &Default::default(),
        )
        .expect("loads");
        parse(&cf)
    }

    #[test]
    fn calendars_with_defaults_and_skips() {
        let (cals, warnings) = load(
            "[general]\n\n[work]\ntype = caldav\nurl = http://127.0.0.1:5232/u/work/\nuser = u\nsecret = s\n\
             refresh = 15\ntimeframe = 120\nautoreminder = 10\nchannel = SIP/1001\ncontext = default\n\
             extension = 123\nwaittime = 20\nsetvar = CALLERID(name)=${CALENDAR_EVENT(summary)}\n\
             setvar = X=1\n\n[feed]\ntype = ical\nurl = http://example.com/a.ics\n\n\
             [ex]\ntype = exchange\nurl = http://x\n\n[nourl]\ntype = caldav\n",
        )
        .expect("parses");
        assert_eq!(cals.len(), 2);
        let w = &cals[0];
        assert_eq!((w.name.as_str(), w.kind.as_str()), ("work", "caldav"));
        assert_eq!(
            (w.refresh, w.timeframe, w.autoreminder, w.waittime),
            (15, 120, 10, 20)
        );
        assert_eq!(w.setvars[0].0, "CALLERID(name)");
        assert_eq!(w.setvars[0].1, "${CALENDAR_EVENT(summary)}");
        assert_eq!(w.setvars.len(), 2);
        let f = &cals[1];
        assert_eq!((f.refresh, f.timeframe, f.waittime), (60, 60, 30));
        assert!(warnings
            .iter()
            .any(|w| w.contains("type 'exchange' is not supported")));
        assert!(warnings
            .iter()
            .any(|w| w.contains("No URL was specified for calendar 'nourl'")));
    }

    #[test]
    fn a_bad_number_names_its_place() {
        let errs = load("[work]\ntype = caldav\nurl = http://x/\nrefresh = soon\n").unwrap_err();
        assert_eq!(
            errs[0].to_string(),
            "calendar.conf:4:1: refresh must be a number of minutes or seconds, not 'soon'"
        );
    }
}
