//! Calendars (Asterisk's `res_calendar.so`): `calendar.conf` names calendars; back-end
//! modules fetch them (`res_calendar_caldav.so`: a CalDAV `REPORT` calendar-query over the
//! time frame; `res_calendar_icalendar.so`: an `.ics` feed over HTTP) and this module keeps
//! each calendar's events in memory, refreshed in the background every `refresh` minutes.
//! The dialplan functions and the CLI answer from memory, never with a network round trip.
//!
//! - [`config`]: calendar.conf; [`event`]: an occurrence; [`ical`]: iCalendar text to events
//!   (recurrences, time zones, alarms, busy state); [`caldav`] and [`icalfeed`]: the back
//!   ends; [`funcs`]: `CALENDAR_BUSY` and friends; [`cli`]: `calendar show …`.
//! - A fetch that fails keeps the last good events; the next tries back off (5 s doubling up
//!   to the refresh interval). One warning when a calendar stops answering, one notice when
//!   it is back. One unreadable VEVENT is skipped with a warning; the rest of the feed stays.
//! - Parsing runs on the blocking pool.

pub mod caldav;
pub mod cli;
pub mod config;
pub mod event;
pub mod funcs;
pub mod ical;
pub mod icalfeed;
pub mod notify;

use crate::pbx::module::{Module, ModuleContext, ModuleError, ModuleInfo, Reload, SupportLevel};
use crate::pbx::Pbx;
use arc_swap::ArcSwap;
use async_trait::async_trait;
use config::CalendarConfig;
use event::{BusyState, Event};
use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

/// A calendar back end (Asterisk's `ast_calendar_tech`): fetches iCalendar text for a time
/// frame and, where it can, writes an event.
#[async_trait]
pub trait CalendarTech: Send + Sync {
    /// The `type` in calendar.conf (`caldav`).
    fn kind(&self) -> &'static str;
    /// `calendar show types`' description.
    fn description(&self) -> &'static str;
    /// iCalendar text (one or more VCALENDARs) with the events of `[from, to]` (seconds
    /// since the epoch), or why not.
    async fn fetch(&self, cal: &CalendarConfig, from: i64, to: i64) -> Result<String, String>;
    /// Create `ev` on the server (`CALENDAR_WRITE`).
    async fn write(&self, _cal: &CalendarConfig, _ev: &Event) -> Result<(), String> {
        Err(format!("{} calendars cannot be written", self.kind()))
    }
}

/// Fetch state of one calendar.
struct FetchState {
    next_at: Instant,
    backoff: Duration,
    running: bool,
    /// The last fetch failed (a warning was logged).
    down: bool,
    fetched: bool,
}

/// One calendar and its events.
pub struct Calendar {
    pub cfg: CalendarConfig,
    events: ArcSwap<Vec<Event>>,
    state: Mutex<FetchState>,
    /// Reminders already placed: (uid, start, due time).
    notified: Mutex<std::collections::HashSet<(String, i64, i64)>>,
}

impl Calendar {
    /// A calendar holding `events`, as after a fetch (the module, tests and benches).
    pub fn new(cfg: CalendarConfig, events: Arc<Vec<Event>>) -> Calendar {
        Calendar {
            cfg,
            events: ArcSwap::new(events),
            state: Mutex::new(FetchState {
                next_at: Instant::now(),
                backoff: FIRST_BACKOFF,
                running: false,
                down: false,
                fetched: false,
            }),
            notified: Mutex::new(std::collections::HashSet::new()),
        }
    }

    /// The events of the last good fetch, by start.
    pub fn events(&self) -> Arc<Vec<Event>> {
        self.events.load_full()
    }

    /// Whether an event that is not free is going on at `now` (Asterisk's
    /// `calendar_is_busy`).
    pub fn busy_at(&self, now: i64) -> bool {
        self.events
            .load()
            .iter()
            .any(|e| e.busy > BusyState::Free && e.covers(now))
    }

    /// [`Calendar::busy_at`] now.
    pub fn is_busy(&self) -> bool {
        self.busy_at(unix_now())
    }

    /// Replace the events (what a fetch does; tests and benches).
    pub fn replace_events(&self, events: Vec<Event>) {
        self.events.store(Arc::new(events));
    }

    /// Whether a fetch has succeeded since the calendar was configured.
    pub fn fetched(&self) -> bool {
        self.state.lock().fetched
    }
}

/// The first wait after a failed fetch; it doubles up to the refresh interval.
const FIRST_BACKOFF: Duration = Duration::from_secs(5);

/// A back end and the module that registered it.
type OwnedTech = (Arc<dyn CalendarTech>, &'static str);

/// The calendars of `res_calendar.so` and the registered back ends.
pub struct Calendars {
    pbx: Weak<Pbx>,
    cals: ArcSwap<Vec<Arc<Calendar>>>,
    techs: RwLock<HashMap<&'static str, OwnedTech>>,
    /// Wakes the refresh loop (a tech registered, a reload).
    wake: tokio::sync::Notify,
}

impl Calendars {
    /// No calendars yet ([`Calendars::configure`] adds them); `res_calendar.so` provides
    /// one as a service.
    pub fn new(pbx: &Arc<Pbx>) -> Calendars {
        Calendars {
            pbx: Arc::downgrade(pbx),
            cals: ArcSwap::from_pointee(Vec::new()),
            techs: RwLock::new(HashMap::new()),
            wake: tokio::sync::Notify::new(),
        }
    }

    /// Every calendar, in calendar.conf order.
    pub fn list(&self) -> Arc<Vec<Arc<Calendar>>> {
        self.cals.load_full()
    }

    /// The calendar called `name` (case-insensitive, as Asterisk).
    pub fn find(&self, name: &str) -> Option<Arc<Calendar>> {
        self.cals
            .load()
            .iter()
            .find(|c| c.cfg.name.eq_ignore_ascii_case(name.trim()))
            .cloned()
    }

    /// A back end (`res_calendar_caldav.so` registers `caldav`), owned by `owner`.
    pub fn register_tech(&self, tech: Arc<dyn CalendarTech>, owner: &'static str) {
        self.techs.write().insert(tech.kind(), (tech, owner));
        self.wake.notify_one();
    }

    /// Remove the back ends `owner` registered.
    pub fn unregister_owner(&self, owner: &str) {
        self.techs.write().retain(|_, (_, o)| *o != owner);
    }

    /// The back end of `kind`.
    pub fn tech(&self, kind: &str) -> Option<Arc<dyn CalendarTech>> {
        self.techs.read().get(kind).map(|(t, _)| t.clone())
    }

    /// (type, description) of each back end, sorted.
    pub fn types(&self) -> Vec<(&'static str, &'static str)> {
        let mut v: Vec<_> = self
            .techs
            .read()
            .values()
            .map(|(t, _)| (t.kind(), t.description()))
            .collect();
        v.sort();
        v
    }

    /// Take a new calendar.conf. A calendar that stays (same name, type and URL) keeps its
    /// events; it is fetched at once when its options changed or with
    /// `fetch_again_at_reload`. New calendars start empty and are fetched at once.
    pub fn configure(&self, cfgs: Vec<CalendarConfig>) {
        let old = self.cals.load_full();
        let cals = cfgs
            .into_iter()
            .map(|cfg| {
                let prev = old.iter().find(|c| {
                    c.cfg.name.eq_ignore_ascii_case(&cfg.name)
                        && c.cfg.kind == cfg.kind
                        && c.cfg.url == cfg.url
                });
                match prev {
                    Some(p) if p.cfg == cfg && !cfg.fetch_again_at_reload => p.clone(),
                    Some(p) => {
                        let c = Calendar::new(cfg, p.events());
                        c.state.lock().fetched = p.state.lock().fetched;
                        *c.notified.lock() = p.notified.lock().clone();
                        Arc::new(c)
                    }
                    None => Arc::new(Calendar::new(cfg, Arc::new(Vec::new()))),
                }
            })
            .collect();
        self.cals.store(Arc::new(cals));
        self.wake.notify_one();
    }

    /// Fetch `cal` again at once (after `CALENDAR_WRITE`).
    pub fn refresh_soon(&self, cal: &Calendar) {
        cal.state.lock().next_at = Instant::now();
        self.wake.notify_one();
    }

    /// The refresh loop: start every due fetch whose back end is loaded. Runs until the
    /// module stops (the task is aborted).
    async fn run(self: Arc<Self>) {
        loop {
            let now = Instant::now();
            let mut next = now + Duration::from_secs(1);
            if let Some(pbx) = self.pbx.upgrade() {
                let t = unix_now();
                for cal in self.list().iter() {
                    for ev in notify::due(cal, t) {
                        tokio::spawn(notify::notify(pbx.clone(), cal.clone(), ev));
                    }
                }
            }
            for cal in self.list().iter() {
                let Some(tech) = self.tech(&cal.cfg.kind) else {
                    continue;
                };
                let mut st = cal.state.lock();
                if st.running {
                    continue;
                }
                if st.next_at > now {
                    next = next.min(st.next_at);
                    continue;
                }
                st.running = true;
                drop(st);
                let (me, cal) = (self.clone(), cal.clone());
                tokio::spawn(async move { me.refresh(&cal, tech).await });
            }
            tokio::select! {
                _ = tokio::time::sleep_until(next.into()) => {}
                _ = self.wake.notified() => {}
            }
        }
    }

    /// Fetch one calendar and keep what it gave; on failure keep the last events.
    async fn refresh(&self, cal: &Arc<Calendar>, tech: Arc<dyn CalendarTech>) {
        let from = unix_now();
        let to = from + i64::from(cal.cfg.timeframe) * 60;
        let got = tech.fetch(&cal.cfg, from, to).await;
        let pbx = self.pbx.upgrade();
        let parsed = match got {
            Ok(text) => tokio::task::spawn_blocking(move || ical::events_in(&text, from, to))
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e),
        };
        let refresh = Duration::from_secs(u64::from(cal.cfg.refresh) * 60);
        let mut st = cal.state.lock();
        st.running = false;
        match parsed {
            Ok(p) => {
                if let Some(pbx) = &pbx {
                    for e in &p.errors {
                        pbx.warning(&format!("res_calendar.c: calendar '{}': {e}", cal.cfg.name));
                    }
                    if st.down {
                        pbx.notice(&format!(
                            "res_calendar.c: calendar '{}' answers again ({} events)",
                            cal.cfg.name,
                            p.events.len()
                        ));
                    }
                }
                cal.events.store(Arc::new(p.events));
                st.down = false;
                st.fetched = true;
                st.backoff = FIRST_BACKOFF;
                st.next_at = Instant::now() + refresh;
            }
            Err(why) => {
                if !st.down {
                    if let Some(pbx) = &pbx {
                        pbx.warning(&format!(
                            "res_calendar.c: calendar '{}' could not be fetched ({why}); keeping its last {} events, retrying with backoff",
                            cal.cfg.name,
                            cal.events.load().len()
                        ));
                    }
                }
                st.down = true;
                st.next_at = Instant::now() + st.backoff.min(refresh);
                st.backoff = (st.backoff * 2).min(refresh.max(FIRST_BACKOFF));
            }
        }
    }
}

/// Seconds since the epoch.
pub fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The calendars of the loaded `res_calendar.so`.
pub fn of(pbx: &Pbx) -> Option<Arc<Calendars>> {
    pbx.service::<Calendars>()
}

/// Read calendar.conf: the calendars, or the errors (file:line:column).
fn read_config(pbx: &Pbx) -> Result<(Vec<CalendarConfig>, Vec<String>), String> {
    let s = &pbx.settings;
    let cf = crate::config::load(&s.astetcdir, "calendar.conf", &s.load_options())
        .map_err(|e| e.to_string())?;
    config::parse(&cf).map_err(|e| crate::config::join_errors(&e))
}

/// `res_calendar.so`.
pub struct ResCalendar {
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl ResCalendar {
    pub const fn new() -> ResCalendar {
        ResCalendar {
            task: Mutex::new(None),
        }
    }
}

impl Default for ResCalendar {
    fn default() -> Self {
        ResCalendar::new()
    }
}

#[async_trait]
impl Module for ResCalendar {
    fn info(&self) -> ModuleInfo {
        ModuleInfo::new("res_calendar.so", "Asterisk Calendar integration")
            .support(SupportLevel::Extended)
            .configs(&["calendar.conf"])
    }

    fn load(&self, ctx: &ModuleContext) -> Result<(), ModuleError> {
        let pbx = &ctx.pbx;
        if !pbx.settings.astetcdir.join("calendar.conf").exists() {
            return Err(ModuleError::Decline(
                "Unable to load config calendar.conf".into(),
            ));
        }
        let (cfgs, warnings) = read_config(pbx).map_err(ModuleError::Failed)?;
        for w in warnings {
            pbx.warning(&format!("res_calendar.c: {w}"));
        }
        let cals = Arc::new(Calendars::new(pbx));
        cals.configure(cfgs);
        ctx.provide(cals);
        funcs::register(ctx);
        ctx.register_cli_with(cli::register);
        Ok(())
    }

    async fn start(&self, ctx: &ModuleContext) -> Result<(), ModuleError> {
        if let Some(cals) = of(&ctx.pbx) {
            *self.task.lock() = Some(tokio::spawn(cals.run()));
        }
        Ok(())
    }

    async fn stop(&self, _ctx: &ModuleContext) {
        if let Some(t) = self.task.lock().take() {
            t.abort();
        }
    }

    fn reload(&self, ctx: &ModuleContext) -> Reload {
        let Some(cals) = of(&ctx.pbx) else {
            return Reload::NotSupported;
        };
        match read_config(&ctx.pbx) {
            Ok((cfgs, warnings)) => {
                for w in warnings {
                    ctx.pbx.warning(&format!("res_calendar.c: {w}"));
                }
                cals.configure(cfgs);
                Reload::Done(String::new())
            }
            Err(e) => Reload::Failed(e),
        }
    }
}

/// A back-end module: registers its [`CalendarTech`] with `res_calendar.so`.
pub struct TechModule {
    name: &'static str,
    description: &'static str,
    make: fn() -> Arc<dyn CalendarTech>,
}

#[async_trait]
impl Module for TechModule {
    fn info(&self) -> ModuleInfo {
        ModuleInfo::new(self.name, self.description)
            .support(SupportLevel::Extended)
            .requires(&["res_calendar.so"])
    }

    fn load(&self, ctx: &ModuleContext) -> Result<(), ModuleError> {
        let Some(cals) = of(&ctx.pbx) else {
            return Err(ModuleError::Decline(
                "Calendar support disabled, not loading calendar module".into(),
            ));
        };
        cals.register_tech((self.make)(), self.name);
        Ok(())
    }

    async fn stop(&self, ctx: &ModuleContext) {
        if let Some(cals) = of(&ctx.pbx) {
            cals.unregister_owner(self.name);
        }
    }
}

/// `res_calendar_caldav.so`.
pub const RES_CALENDAR_CALDAV: TechModule = TechModule {
    name: "res_calendar_caldav.so",
    description: "Asterisk CalDAV Calendar Integration",
    make: || Arc::new(caldav::CalDav::new()),
};

/// `res_calendar_icalendar.so`.
pub const RES_CALENDAR_ICALENDAR: TechModule = TechModule {
    name: "res_calendar_icalendar.so",
    description: "Asterisk iCalendar .ics file integration",
    make: || Arc::new(icalfeed::IcalFeed::new()),
};
