//! Reminder calls (res_calendar's notifications). A calendar with `channel` set calls it
//! for each event with an alarm: at the alarm (the first VALARM's trigger) or, with
//! `autoreminder`, that many minutes before the start. An alarm found already past while
//! the event has not started yet rings at once (as Asterisk: "send the notification if we
//! missed it"). An event without alarm (and no `autoreminder`) rings nobody, as Asterisk's
//! documentation says.
//!
//! The call: a `Calendar/<calendar>-<random>` channel carries the event (so
//! `CALENDAR_EVENT()` works there) and the `setvar` variables (substituted on it, in
//! order: `CALLERID(name)=${CALENDAR_EVENT(summary)}` is what the phone shows); it
//! requests `channel`, whose leg inherits the event; after `waittime` seconds without an
//! answer the call is dropped. The answered leg runs `app(appdata)` or the dialplan at
//! `context`,`extension`,1.

use super::funcs::{Notification, EVENT_NOTIFICATION};
use super::{Calendar, Event};
use crate::pbx::channel::NullTech;
use crate::pbx::originate::{answer_and_run, Target};
use crate::pbx::{exec, tech, Channel, Pbx};
use std::sync::Arc;
use std::time::Duration;

/// When `ev`'s reminder is due for `cal` (None: no reminder).
pub fn due_at(cal: &Calendar, ev: &Event) -> Option<i64> {
    if cal.cfg.channel.is_empty() {
        None
    } else if cal.cfg.autoreminder > 0 {
        Some(ev.start - i64::from(cal.cfg.autoreminder) * 60)
    } else {
        ev.alarm
    }
}

/// The reminders due at `now` that have not rung yet; marks them rung.
pub fn due(cal: &Calendar, now: i64) -> Vec<Event> {
    if cal.cfg.channel.is_empty() {
        return Vec::new();
    }
    let events = cal.events();
    let mut rung = cal.notified.lock();
    // Forget reminders of events that started long ago.
    rung.retain(|(_, start, _)| *start > now - 86_400);
    let mut out = Vec::new();
    for ev in events.iter() {
        let Some(at) = due_at(cal, ev) else {
            continue;
        };
        if now >= at && now <= ev.start && rung.insert((ev.uid.clone(), ev.start, at)) {
            out.push(ev.clone());
        }
    }
    out
}

/// A 32-hex-digit random name, as res_calendar's `generate_random_string`.
fn random_name() -> String {
    let v: [u32; 4] = rand::random();
    format!("{:08x}{:08x}{:08x}{:08x}", v[0], v[1], v[2], v[3])
}

/// Place the reminder call for `ev`.
pub async fn notify(pbx: Arc<Pbx>, cal: Arc<Calendar>, ev: Event) {
    let c = &cal.cfg;
    if !c.channel.contains('/') {
        pbx.warning(&format!(
            "res_calendar.c: Channel should be in form Tech/Dest (was '{}')",
            c.channel
        ));
        return;
    }
    let note = Notification {
        event: ev,
        calendar: c.name.clone(),
    };
    let mut req = Channel::new(
        &pbx,
        format!("Calendar/{}-{}", c.name, random_name()),
        Arc::new(NullTech),
    );
    req.cdr.disabled = true;
    req.datastores.insert(EVENT_NOTIFICATION, note.clone());
    for (name, value) in &c.setvars {
        let v = exec::substitute_async(&mut req, value).await;
        assign(&mut req, name, &v).await;
    }
    pbx.verbose_line(
        3,
        &format!(
            "Dialing {} for notification on calendar {}",
            c.channel, c.name
        ),
    );
    tech::prepare(&pbx, &c.channel).await;
    let out = match tech::request(&pbx, &c.channel, Some(&req)) {
        Ok(o) => o,
        Err(e) => {
            pbx.warning(&format!("res_calendar.c: {}", e.msg));
            pbx.verbose_line(
                3,
                &format!("Notification call for {} was not completed", c.name),
            );
            req.destroy();
            return;
        }
    };
    let mut callee = out.chan;
    // The event goes with the call (Asterisk's DATASTORE_INHERIT_FOREVER).
    callee.datastores.insert(EVENT_NOTIFICATION, note);
    (out.call)();
    let target = if c.app.is_empty() {
        Target::Exten {
            context: c.context.clone(),
            exten: c.extension.clone(),
            priority: 1,
        }
    } else {
        Target::App {
            app: c.app.clone(),
            data: c.appdata.clone(),
        }
    };
    let wait = Duration::from_secs(u64::from(c.waittime.max(1)));
    let callee_name = callee.name().to_string();
    let status = answer_and_run(callee, Some(wait), target).await;
    if status == "SUCCESS" {
        pbx.verbose_line(3, &format!("{callee_name} answered {}", req.name()));
    } else {
        pbx.verbose_line(
            3,
            &format!("Notification call for {} was not completed", c.name),
        );
    }
    req.destroy();
}

/// `name=value` on the Calendar channel: a function (`CALLERID(name)`) or a variable.
async fn assign(chan: &mut Channel, name: &str, value: &str) {
    let name = name.trim();
    if name.contains('(') {
        exec::write_func_async(chan, name, value).await;
    } else {
        chan.set_var(name, value);
    }
}
