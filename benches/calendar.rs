//! Calendars: parsing and expanding a CalDAV answer of 1,000 events (what each refresh of
//! one calendar costs), and `CALENDAR_BUSY()` on a calendar of 1,000 events, through the
//! function registry as the dialplan calls it. `cargo bench --bench calendar`; the
//! whole-daemon figure with a real Radicale comes from `contrib/bench/calendar_refresh.sh`.

use criterion::{criterion_group, criterion_main, Criterion};
use ferrisk::calendar::config::CalendarConfig;
use ferrisk::calendar::{ical, Calendar, Calendars};
use ferrisk::pbx::channel::NullTech;
use ferrisk::pbx::module::ModuleContext;
use ferrisk::pbx::Channel;
use std::sync::Arc;

/// 1,000 events over the next day, one in ten recurring daily, each with an alarm.
fn feed(now: i64) -> String {
    let fmt = |t: i64| {
        chrono::DateTime::from_timestamp(t, 0)
            .unwrap_or_default()
            .format("%Y%m%dT%H%M%SZ")
            .to_string()
    };
    let mut s = String::from("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:bench\r\n");
    for e in 0..1000i64 {
        let start = now + e * 86_400 / 1000;
        let rrule = if e % 10 == 0 {
            "RRULE:FREQ=DAILY;COUNT=30\r\n"
        } else {
            ""
        };
        s.push_str(&format!(
            "BEGIN:VEVENT\r\nUID:e{e}\r\nSUMMARY:Event {e}\r\nDTSTART:{}\r\nDTEND:{}\r\n{rrule}\
             BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT10M\r\nEND:VALARM\r\nEND:VEVENT\r\n",
            fmt(start),
            fmt(start + 1800)
        ));
    }
    s.push_str("END:VCALENDAR\r\n");
    s
}

fn bench(c: &mut Criterion) {
    let now = chrono::Utc::now().timestamp();
    let text = feed(now);
    let mut g = c.benchmark_group("calendar");
    g.sample_size(20);
    g.bench_function("parse_expand_1000_events", |b| {
        b.iter(|| ical::events_in(&text, now, now + 86_400))
    });

    // CALENDAR_BUSY on a calendar holding those events.
    let pbx = ferrisk::modules::test_pbx();
    let events = ical::events_in(&text, now, now + 86_400).events;
    let mut cfg = CalendarConfig::new(
        "work",
        "caldav",
        "http://127.0.0.1/",
        ferrisk::config::Location::new("calendar.conf", 1, 1),
    );
    cfg.timeframe = 1440;
    let cal = Calendar::new(cfg.clone(), Arc::new(events.clone()));
    g.bench_function("busy_at_1000_events", |b| {
        b.iter(|| cal.busy_at(now + 43_200))
    });
    // The function as the dialplan calls it: res_calendar's service with that calendar.
    let cals = Calendars::new(&pbx);
    cals.configure(vec![cfg]);
    if let Some(c) = cals.find("work") {
        c.replace_events(events);
    }
    let ctx = ModuleContext::new(&pbx, "res_calendar.so");
    ctx.provide(Arc::new(cals));
    ferrisk::calendar::funcs::register(&ctx);
    let Some(func) = pbx.funcs.entry("CALENDAR_BUSY") else {
        return;
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let _g = rt.enter();
    let mut chan = Channel::new(&pbx, "Local/bench@x-00000000;2".into(), Arc::new(NullTech));
    g.bench_function("calendar_busy_function_call", |b| {
        b.iter(|| {
            let r = func.item.read(&mut chan, "work");
            assert!(r.is_ok(), "{r:?}");
            r
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
