//! `PERIODIC_HOOK(context,extension,interval)` (func_periodic_hook.so): every `interval`
//! seconds (the first time at once) run `extension@context` on a new Local channel whose
//! audio is barged into the call of the channel the hook is set on; the read returns the
//! hook id, and `Set(PERIODIC_HOOK(id)=off|on)` pauses and resumes it.
//!
//! As in Asterisk, the hook runs on the `;1` half of `Local/…@__func_periodic_hook_context__`
//! (with `HOOK_CHANNEL` and `HOOK_ID` set) while the `;2` half runs `ChanSpy(channel,qEB)`
//! from that context, which this module adds to the dialplan (with Asterisk's `beep`
//! extension: `PERIODIC_HOOK(__func_periodic_hook_context__,beep,N)` beeps every N s).
//! ferrisk's Local halves do not share variables, so each hook gets its own
//! `hook-<id>` extension there that sets them before the recipe.
//!
//! The schedule ([`Schedule`]) is pure; one task per hook follows it while the channel
//! lives and then removes the hook's extension.

use super::{Func, FuncError};
use crate::pbx::extens::ModuleExten;
use crate::pbx::module::{Family, ModuleContext, ModuleInfo};
use crate::pbx::originate::{self, Request, Target};
use crate::pbx::{Channel, Pbx};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

/// The context Asterisk's func_periodic_hook adds.
pub const HOOK_CONTEXT: &str = "__func_periodic_hook_context__";
const REGISTRAR: &str = "func_periodic_hook";

/// The modules of this file (`module show`).
pub static MODULES: &[Family] = &[Family {
    info: ModuleInfo::new("func_periodic_hook.so", "Periodic dialplan hooks."),
    register: register_func_periodic_hook,
}];

fn register_func_periodic_hook(ctx: &ModuleContext) {
    let ext = |exten: &str, priority: i32, app: &str, data: &str| ModuleExten {
        registrar: REGISTRAR.into(),
        context: HOOK_CONTEXT.into(),
        exten: exten.into(),
        priority,
        app: app.into(),
        data: data.into(),
    };
    ctx.pbx.add_extensions(vec![
        ext("beep", 1, "Answer", ""),
        ext("beep", 2, "Playback", "beep"),
        ext("beep", 3, "Hangup", ""),
    ]);
    ctx.register_func(Arc::new(PeriodicHook));
}

/// When a hook runs: the first time at once, then when more than `interval` passed since
/// the last run; never while disabled.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub interval: Duration,
    pub last: Option<Instant>,
}

impl Schedule {
    /// Whether the hook runs at `now` (and if so, `now` becomes the last run).
    pub fn due(&mut self, now: Instant, disabled: bool) -> bool {
        if disabled {
            return false;
        }
        let due = self
            .last
            .is_none_or(|l| now.saturating_duration_since(l) > self.interval);
        if due {
            self.last = Some(now);
        }
        due
    }
}

/// One hook: the channel it is on and whether it is paused.
struct Hook {
    channel: String,
    disabled: AtomicBool,
}

static NEXT_ID: AtomicU32 = AtomicU32::new(0);
static HOOKS: LazyLock<Mutex<HashMap<u32, Arc<Hook>>>> = LazyLock::new(Default::default);

/// The priorities of hook `id`'s spy extension (Asterisk's recipe, after setting the
/// variables the Local half would have inherited).
fn spy_extension(id: u32, channel: &str) -> Vec<ModuleExten> {
    let steps = [
        ("Set", format!("HOOK_CHANNEL={channel}")),
        ("Set", format!("HOOK_ID={id}")),
        ("Set", "EncodedChannel=${HOOK_CHANNEL}".to_string()),
        ("Set", "GROUP_NAME=${EncodedChannel}${HOOK_ID}".to_string()),
        ("Set", "GROUP(periodic-hook)=${GROUP_NAME}".to_string()),
        (
            "ExecIf",
            "$[${GROUP_COUNT(${GROUP_NAME}@periodic-hook)} > 1]?Hangup()".to_string(),
        ),
        ("Set", "ChannelToSpy=${EncodedChannel}".to_string()),
        ("ChanSpy", "${ChannelToSpy},qEB".to_string()),
    ];
    steps
        .into_iter()
        .zip(1..)
        .map(|((app, data), priority)| ModuleExten {
            registrar: format!("{REGISTRAR}/{id}"),
            context: HOOK_CONTEXT.into(),
            exten: format!("hook-{id}"),
            priority,
            app: app.into(),
            data,
        })
        .collect()
}

/// Follow the hook's schedule while its channel lives.
async fn run_hook(
    pbx: Arc<Pbx>,
    id: u32,
    hook: Arc<Hook>,
    target: (String, String),
    every: Duration,
) {
    let mut sched = Schedule {
        interval: every,
        last: None,
    };
    while pbx.channels.get(&hook.channel).is_some() {
        if sched.due(Instant::now(), hook.disabled.load(Ordering::Relaxed)) {
            let req = Request {
                dest: format!("Local/hook-{id}@{HOOK_CONTEXT}"),
                timeout: Some(Duration::from_secs(60)),
                vars: vec![
                    ("HOOK_CHANNEL".into(), hook.channel.clone()),
                    ("HOOK_ID".into(), id.to_string()),
                ],
                caller: None,
            };
            let t = Target::Exten {
                context: target.0.clone(),
                exten: target.1.clone(),
                priority: 1,
            };
            let p = pbx.clone();
            tokio::spawn(async move { originate::originate(&p, req, t, None).await });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    HOOKS.lock().remove(&id);
    let registrar = format!("{REGISTRAR}/{id}");
    pbx.remove_extensions(|r| r == registrar);
}

pub struct PeriodicHook;

impl Func for PeriodicHook {
    fn name(&self) -> &'static str {
        "PERIODIC_HOOK"
    }
    fn synopsis(&self) -> &'static str {
        "Execute a periodic dialplan hook into the audio of a call."
    }
    fn syntax(&self) -> &'static str {
        "PERIODIC_HOOK(context,extension,interval,hook_id)"
    }
    fn description(&self) -> &'static str {
        "For example, you could use this function to enable playing a periodic beep sound in a call. To turn on: Set(BEEPID=${PERIODIC_HOOK(hooks,beep,180)}); to turn off: Set(PERIODIC_HOOK(${BEEPID})=off); to turn back on again later: Set(PERIODIC_HOOK(${BEEPID})=on). The hook does not run on the channel itself: it runs asynchronously on a new channel, and any audio generated by the hook gets injected into the call for the channel PERIODIC_HOOK() was set on. The hook dialplan has two variables available: HOOK_CHANNEL, the channel the hook is enabled on, and HOOK_ID, the hook ID for enabling or disabling the hook. context, extension and interval (whole seconds) are for reading; hook_id is for writing."
    }
    fn writable(&self) -> bool {
        true
    }
    fn read(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        let mut it = a.splitn(3, ',').map(str::trim);
        let (context, exten, interval) = (
            it.next().unwrap_or(""),
            it.next().unwrap_or(""),
            it.next().unwrap_or(""),
        );
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let secs = match interval.parse::<u32>() {
            Ok(n) if n > 0 => n,
            _ => {
                return Err(FuncError::Other(format!(
                    "Invalid hook interval: '{interval}'"
                )))
            }
        };
        if context.is_empty() || exten.is_empty() {
            return Err(FuncError::Other(
                "A context and extension are required for PERIODIC_HOOK().".into(),
            ));
        }
        let name = chan.name().to_string();
        chan.pbx.log(
            crate::logger::Level::Debug,
            &format!(
            "func_periodic_hook.c: hook to {exten}@{context} enabled on {name} with interval of {secs} seconds"
            ),
        );
        let hook = Arc::new(Hook {
            channel: name.clone(),
            disabled: AtomicBool::new(false),
        });
        HOOKS.lock().insert(id, hook.clone());
        chan.pbx.add_extensions(spy_extension(id, &name));
        tokio::spawn(run_hook(
            chan.pbx.clone(),
            id,
            hook,
            (context.to_string(), exten.to_string()),
            Duration::from_secs(u64::from(secs)),
        ));
        Ok(id.to_string())
    }
    fn write(&self, chan: &mut Channel, a: &str, value: &str) -> Result<(), FuncError> {
        let on = if crate::config::is_false(value) {
            false
        } else if crate::config::is_true(value) {
            true
        } else {
            return Err(FuncError::Other(format!(
                "Invalid value for PERIODIC_HOOK function: '{value}'"
            )));
        };
        let id = a.trim();
        let hook = id
            .parse::<u32>()
            .ok()
            .and_then(|n| HOOKS.lock().get(&n).cloned())
            .filter(|h| h.channel == chan.name());
        match hook {
            Some(h) => {
                h.disabled.store(!on, Ordering::Relaxed);
                Ok(())
            }
            None => Err(FuncError::Other(format!(
                "Hook with ID '{id}' not found on channel '{}'",
                chan.name()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_run_is_at_once_then_after_more_than_the_interval() {
        let t0 = Instant::now();
        let mut s = Schedule {
            interval: Duration::from_secs(5),
            last: None,
        };
        assert!(!s.due(t0, true), "disabled");
        assert!(s.due(t0, false));
        assert!(!s.due(t0 + Duration::from_secs(5), false));
        assert!(s.due(t0 + Duration::from_millis(5001), false));
        assert!(!s.due(t0 + Duration::from_secs(7), false));
    }

    #[test]
    fn the_spy_extension_sets_the_variables_then_barges_in() {
        let e = spy_extension(7, "SIP/a-1");
        assert_eq!(e[0].data, "HOOK_CHANNEL=SIP/a-1");
        assert_eq!(e[1].data, "HOOK_ID=7");
        assert!(e
            .iter()
            .all(|x| x.exten == "hook-7" && x.context == HOOK_CONTEXT));
        let last = e.last().unwrap();
        assert_eq!(
            (last.app.as_str(), last.data.as_str()),
            ("ChanSpy", "${ChannelToSpy},qEB")
        );
        assert_eq!(last.priority, 8);
    }

    #[tokio::test]
    async fn read_checks_the_arguments_and_write_finds_the_hook_on_its_channel() {
        let pbx = crate::modules::test_pbx();
        let mut c = Channel::new(
            &pbx,
            "SIP/ph-1".into(),
            Arc::new(crate::pbx::channel::NullTech),
        );
        let f = PeriodicHook;
        assert!(f.read(&mut c, "ctx,beep,0").is_err());
        assert!(f.read(&mut c, ",beep,5").is_err());
        let id = f.read(&mut c, "ctx,beep,60").unwrap();
        assert!(f.write(&mut c, &id, "off").is_ok());
        assert!(f.write(&mut c, &id, "on").is_ok());
        assert!(f.write(&mut c, &id, "maybe").is_err());
        assert!(f.write(&mut c, "99999", "off").is_err());
        let mut other = Channel::new(
            &pbx,
            "SIP/ph-2".into(),
            Arc::new(crate::pbx::channel::NullTech),
        );
        assert!(
            f.write(&mut other, &id, "off").is_err(),
            "another channel's hook"
        );
    }
}
