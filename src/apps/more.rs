//! More of Asterisk's small applications: `UserEvent` (app_userevent.so), `ChanIsAvail`
//! (app_chanisavail.so), `SayCountedNoun`/`SayCountedAdj` (app_saycounted.so), `RetryDial`
//! (app_dial.so), `MacroIf` and `MacroExclusive`
//! (app_macro.so), `ClearHash` (func_strings.so), `StreamEcho` (app_echo.so) and the
//! built-in `SetAMAFlags`.

use super::{args, App, AppResult};
use crate::pbx::devstate::{self, DeviceState};
use crate::pbx::events::{ChanSnapshot, Event, Topic};
use crate::pbx::exec;
use crate::pbx::module::{Family, ModuleContext, ModuleInfo, SupportLevel};
use crate::pbx::{Channel, Hangup};
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;

pub static MODULES: &[Family] = &[
    Family {
        info: ModuleInfo::new("app_userevent.so", "Custom User Event Application"),
        register: |ctx| ctx.register_app(Arc::new(UserEvent)),
    },
    Family {
        info: ModuleInfo::new("app_chanisavail.so", "Check channel availability")
            .support(SupportLevel::Extended),
        register: |ctx| ctx.register_app(Arc::new(ChanIsAvail)),
    },
    Family {
        info: ModuleInfo::new(
            "app_saycounted.so",
            "Decline words according to channel language",
        ),
        register: |ctx| {
            ctx.register_app(Arc::new(SayCounted { adjective: false }));
            ctx.register_app(Arc::new(SayCounted { adjective: true }));
        },
    },
    Family {
        info: ModuleInfo::new("pbx_builtins_more", "Built-in dialplan applications").builtin(),
        register: |ctx| ctx.register_app(Arc::new(SetAmaFlags)),
    },
];

/// What app_dial.so registers from this file.
pub fn register_retrydial(ctx: &ModuleContext) {
    ctx.register_app(Arc::new(RetryDial));
}

/// What app_macro.so registers from this file.
pub fn register_macro_apps(ctx: &ModuleContext) {
    ctx.register_app(Arc::new(MacroIf));
    ctx.register_app(Arc::new(MacroExclusive));
}

/// What func_strings.so registers from this file.
pub fn register_clearhash(ctx: &ModuleContext) {
    ctx.register_app(Arc::new(ClearHash));
}

/// What app_echo.so registers from this file.
pub fn register_streamecho(ctx: &ModuleContext) {
    ctx.register_app(Arc::new(StreamEcho));
}

// ---------------------------------------------------------------------------------------
// UserEvent

struct UserEvent;
#[async_trait]
impl App for UserEvent {
    app_meta!(
        "UserEvent",
        "Send an arbitrary user-defined event to parties interested in a channel (AMI users and relevant res_stasis applications).",
        "UserEvent(eventname[,body])",
        "Sends an arbitrary event to interested parties, with an Event header of UserEvent, a UserEvent header of eventname and the channel's fields; body is a comma-separated list of 'Key: Value' headers added to the event."
    );
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let a = args::split(data, ',');
        let name = args::nth(&a, 0).trim().to_string();
        if name.is_empty() {
            chan.pbx.warning(
                "app_userevent.c: UserEvent requires an argument (eventname,optional event body)",
            );
            return Err(Hangup);
        }
        if !chan.pbx.events.wants(Topic::User) {
            return Ok(());
        }
        let headers = a[1..]
            .iter()
            .filter_map(|h| {
                let (k, v) = h.split_once(':')?;
                Some((k.trim().to_string(), v.trim().to_string()))
            })
            .collect();
        chan.pbx.events.publish(Event::UserEvent {
            chan: ChanSnapshot::of(chan),
            name,
            headers,
        });
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// ChanIsAvail

struct ChanIsAvail;
#[async_trait]
impl App for ChanIsAvail {
    app_meta!(
        "ChanIsAvail",
        "Check channel availability.",
        "ChanIsAvail(Technology/Resource[&Technology2/Resource2...][,options])",
        "Checks the listed channels in order and sets AVAILCHAN to the first available one's channel name (AVAILORIGCHAN: as listed), AVAILSTATUS to its device state number and AVAILCAUSECODE to the cause of the last failed request. Options: a — check all and list every available one (&-separated); s — a channel in use counts as unavailable (by its device state); t — only the device state is checked, no channel is requested."
    );
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let a = args::split(data, ',');
        let list = args::nth(&a, 0).trim().to_string();
        if list.is_empty() {
            chan.pbx
                .warning("app_chanisavail.c: ChanIsAvail requires an argument (DAHDI/1&DAHDI/2)");
            return Ok(());
        }
        let opts = args::nth(&a, 1);
        let (all, by_state, state_only) =
            (opts.contains('a'), opts.contains('s'), opts.contains('t'));
        let mut avail: Vec<String> = Vec::new();
        let mut orig: Vec<String> = Vec::new();
        let mut statuses: Vec<String> = Vec::new();
        let mut cause = 0;
        for dev in list.split('&').map(str::trim).filter(|d| !d.is_empty()) {
            let pbx = chan.pbx.clone();
            let d = dev.to_string();
            let state = crate::pbx::blocking::run(move || devstate::device_state(&pbx, &d))
                .await
                .unwrap_or(DeviceState::Unknown);
            let up = !matches!(state, DeviceState::Invalid | DeviceState::Unavailable);
            let free = !matches!(
                state,
                DeviceState::InUse
                    | DeviceState::Busy
                    | DeviceState::RingInUse
                    | DeviceState::Ringing
                    | DeviceState::OnHold
            );
            if !up || ((by_state || state_only) && !free) {
                continue;
            }
            let name = if state_only {
                dev.to_string()
            } else {
                crate::pbx::tech::prepare(&chan.pbx, dev).await;
                match crate::pbx::tech::request(&chan.pbx, dev, Some(chan)) {
                    Ok(mut out) => {
                        let n = out.chan.name().to_string();
                        out.chan.destroy();
                        n
                    }
                    Err(e) => {
                        cause = e.cause;
                        continue;
                    }
                }
            };
            avail.push(name);
            orig.push(dev.to_string());
            statuses.push((state as i32).to_string());
            if !all {
                break;
            }
        }
        chan.vars.set_or_unset("AVAILCHAN", &avail.join("&"));
        chan.vars.set_or_unset("AVAILORIGCHAN", &orig.join("&"));
        chan.vars.set_or_unset("AVAILSTATUS", &statuses.join("&"));
        chan.vars.set_or_unset(
            "AVAILCAUSECODE",
            &if avail.is_empty() {
                cause.to_string()
            } else {
                String::new()
            },
        );
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// RetryDial

struct RetryDial;
#[async_trait]
impl App for RetryDial {
    app_meta!(
        "RetryDial",
        "Place a call, retrying on failure allowing an optional exit extension.",
        "RetryDial(announce,sleep,retries,dialargs)",
        "Attempts to place a call with Dial(dialargs). If no channel can be reached (DIALSTATUS not ANSWER), plays announce, waits sleep seconds (default 10) and tries again, up to retries times (0: forever). While waiting, a digit that is a one-digit extension of EXITCONTEXT (or of the current context) ends it there."
    );
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let a = args::split_raw(data, ',');
        if a.len() < 4 {
            chan.pbx
                .warning("app_dial.c: RetryDial requires an argument!");
            return Ok(());
        }
        let announce = a[0].trim().to_string();
        let sleep = a[1].trim().parse::<u64>().unwrap_or(10).max(1);
        let retries = a[2].trim().parse::<i64>().unwrap_or(0);
        let dialargs = a[3..].join(",");
        let ctx = chan
            .get_var("EXITCONTEXT")
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| chan.context.clone());
        let mut left = if retries <= 0 { i64::MAX } else { retries };
        loop {
            exec::exec_app(chan, "Dial", &dialargs).await?;
            if chan.get_var("DIALSTATUS").as_deref() == Some("ANSWER") || left <= 1 {
                return Ok(());
            }
            left -= 1;
            if !announce.is_empty() {
                exec::exec_app(chan, "Playback", &announce).await?;
            }
            if let Some(d) = super::waitexten::wait_digit(chan, Duration::from_secs(sleep)).await? {
                let exten = d.to_string();
                let dp = chan.pbx.dialplan();
                let cid = chan.caller.num.as_deref();
                if dp.exists(&ctx, &exten, 1, cid, chrono::Utc::now()) {
                    drop(dp);
                    chan.goto(&ctx, &exten, 1);
                    return Ok(());
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// MacroIf, MacroExclusive

struct MacroIf;
#[async_trait]
impl App for MacroIf {
    app_meta!(
        "MacroIf",
        "Conditional Macro implementation.",
        "MacroIf(expr?macroiftrue[,...][:macroiffalse[,...]])",
        "Executes macro defined in macroiftrue if expr is true (otherwise macroiffalse if provided). Deprecated in Asterisk: prefer GosubIf."
    );
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let Some((cond, branches)) = data.split_once('?') else {
            chan.pbx
                .warning("app_macro.c: Invalid Syntax: MacroIf(expr?macroiftrue[:macroiffalse])");
            return Ok(());
        };
        let (t, f) = branches.split_once(':').unwrap_or((branches, ""));
        let pick = if crate::funcs::logic::checkcondition(cond.trim()) {
            t
        } else {
            f
        };
        if pick.trim().is_empty() {
            return Ok(());
        }
        let a = args::split(pick, ',');
        let name = a[0].trim().to_string();
        super::flow::run_macro(chan, &name, &a[1..]).await
    }
}

/// The one macro run exclusively at a time (MacroExclusive).
#[derive(Default)]
struct MacroLock(tokio::sync::Mutex<()>);

struct MacroExclusive;
#[async_trait]
impl App for MacroExclusive {
    app_meta!(
        "MacroExclusive",
        "Exclusive Macro Implementation.",
        "MacroExclusive(name[,arg1[,arg2[,...]]])",
        "Executes macro defined in the context macro-name. Only one call at a time may run any MacroExclusive macro; others wait. Deprecated in Asterisk."
    );
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let a = args::split(data, ',');
        let name = args::nth(&a, 0).trim().to_string();
        if name.is_empty() {
            chan.pbx
                .warning("app_macro.c: Invalid Syntax: MacroExclusive requires arguments");
            return Ok(());
        }
        let lock = chan
            .pbx
            .services
            .get_or_insert_with("app_macro.so", MacroLock::default);
        let _held = lock.0.lock().await;
        super::flow::run_macro(chan, &name, &a[1..]).await
    }
}

// ---------------------------------------------------------------------------------------
// ClearHash

struct ClearHash;
#[async_trait]
impl App for ClearHash {
    app_meta!(
        "ClearHash",
        "Clear the keys from a specified hashname.",
        "ClearHash(hashname)",
        "Clears all keys out of the specified hashname."
    );
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let prefix = format!("~HASH~{}~", data.trim());
        let names: Vec<String> = chan
            .vars
            .iter()
            .filter(|(k, _)| k.starts_with(&prefix))
            .map(|(k, _)| k.to_string())
            .collect();
        for n in names {
            chan.vars.remove(&n);
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// StreamEcho

struct StreamEcho;
#[async_trait]
impl App for StreamEcho {
    app_meta!(
        "StreamEcho",
        "Echo media, up to 'N' streams of a type, and DTMF back to the calling party.",
        "StreamEcho([num[,type]])",
        "Echoes back any media or DTMF frames read from the calling channel back to itself; ferrisk's channels carry one audio stream, so this is Echo()."
    );
    async fn exec(&self, chan: &mut Channel, _data: &str) -> AppResult {
        exec::exec_app(chan, "Echo", "").await
    }
}

// ---------------------------------------------------------------------------------------
// SayCountedNoun, SayCountedAdj

/// Russian, Ukrainian and Polish decline counted words; every other language is English.
fn slavic(lang: &str) -> bool {
    let l = lang.get(..2).unwrap_or("").to_ascii_lowercase();
    matches!(l.as_str(), "ru" | "ua" | "pl")
}

/// say.c's `ast_say_counted_noun` file name: `noun`, `nouns` (English), or the Slavic
/// `nounx1` (2–4) / `nounx2` forms.
pub fn counted_noun(lang: &str, num: i64, noun: &str) -> String {
    let ending = if slavic(lang) {
        let mut n = num.abs() % 100;
        if n >= 20 {
            n %= 10;
        }
        match n {
            1 => "",
            2..=4 => "x1",
            _ => "x2",
        }
    } else if num == 1 || num == -1 {
        ""
    } else {
        "s"
    };
    format!("{noun}{ending}")
}

/// say.c's `ast_say_counted_adjective` file name: English adjectives do not change; the
/// Slavic singular takes the gender suffix, the plural `x`.
pub fn counted_adjective(lang: &str, num: i64, adj: &str, gender: &str) -> String {
    if !slavic(lang) {
        return adj.to_string();
    }
    let mut n = num.abs() % 100;
    if n >= 20 {
        n %= 10;
    }
    format!("{adj}{}", if n == 1 { gender } else { "x" })
}

struct SayCounted {
    adjective: bool,
}

#[async_trait]
impl App for SayCounted {
    fn name(&self) -> &'static str {
        if self.adjective {
            "SayCountedAdj"
        } else {
            "SayCountedNoun"
        }
    }
    fn synopsis(&self) -> &'static str {
        if self.adjective {
            "Say a adjective in declined form in order to count things"
        } else {
            "Say a noun in declined form in order to count things"
        }
    }
    fn syntax(&self) -> &'static str {
        if self.adjective {
            "SayCountedAdj(number,filename[,gender])"
        } else {
            "SayCountedNoun(number,filename)"
        }
    }
    fn description(&self) -> &'static str {
        "Selects and plays the proper singular or plural form of a noun (or adjective) when saying things such as \"five calls\": English adds s to a noun unless the number is 1; Russian, Ukrainian and Polish use the x1/x2 (nouns) and gender/x (adjectives) file suffixes. The number itself is not said (use SayNumber)."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let a = args::split(data, ',');
        let name = self.name();
        let max = if self.adjective { 3 } else { 2 };
        if a.len() < 2 || a.len() > max || args::nth(&a, 1).trim().is_empty() {
            chan.pbx
                .warning(&format!("app_saycounted.c: {name} requires two arguments"));
            return Err(Hangup);
        }
        let Ok(num) = args::nth(&a, 0).trim().parse::<i64>() else {
            chan.pbx.warning(
                "app_saycounted.c: First argument must be a number between 0 and 2,147,483,647.",
            );
            return Err(Hangup);
        };
        let word = args::nth(&a, 1).trim();
        let file = if self.adjective {
            counted_adjective(&chan.language, num, word, args::nth(&a, 2).trim())
        } else {
            counted_noun(&chan.language, num, word)
        };
        exec::exec_app(chan, "Playback", &file).await
    }
}

// ---------------------------------------------------------------------------------------
// SetAMAFlags

struct SetAmaFlags;
#[async_trait]
impl App for SetAmaFlags {
    app_meta!(
        "SetAMAFlags",
        "Set the AMA Flags.",
        "SetAMAFlags([flag])",
        "This application will set the channel's AMA Flags for billing purposes: OMIT, BILLING, DOCUMENTATION (default). Deprecated: use CHANNEL(amaflags)."
    );
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        chan.pbx.warning(
            "pbx_builtins.c: SetAMAFlags is deprecated, please use CHANNEL(amaflags) instead.",
        );
        let flag = match data.trim().to_ascii_uppercase().as_str() {
            "OMIT" | "1" => "OMIT",
            "BILLING" | "2" => "BILLING",
            "DOCUMENTATION" | "3" | "" => "DOCUMENTATION",
            other => {
                chan.pbx
                    .warning(&format!("pbx_builtins.c: Invalid AMA flag: {other}"));
                return Ok(());
            }
        };
        chan.cdr.amaflags = flag.to_string();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::pbx::tests::{get, pbx_with, run};

    #[tokio::test]
    async fn clearhash_macroif_amaflags_chanisavail() {
        let pbx = pbx_with(
            "[t]\nexten => s,1,Set(HASH(h,a)=1)\n same => n,Set(HASH(h,b)=2)\n\
             same => n,Set(HASH(k,a)=3)\n same => n,ClearHash(h)\n\
             same => n,Set(H=${HASHKEYS(h)}/${HASHKEYS(k)})\n\
             same => n,MacroIf(1?m1,x:m2,y)\n same => n,MacroIf(0?m1,x:m2,y)\n\
             same => n,MacroIf(0?m1)\n same => n,MacroExclusive(m1,z)\n\
             same => n,SetAMAFlags(billing)\n same => n,Set(AMA=${CDR(amaflags)})\n\
             same => n,ChanIsAvail(Local/900@t&Local/901@t,a)\n\
             same => n,Set(AO=${AVAILORIGCHAN})\n same => n,Set(AC=${AVAILCHAN})\n\
             same => n,ChanIsAvail(Nope/1)\n same => n,Set(N=x${AVAILCHAN})\n\
             same => n,UserEvent(Hello,Key: value)\n\
             exten => 900,1,NoOp()\nexten => 901,1,NoOp()\n\
             [macro-m1]\nexten => s,1,Set(__M=${M}1${ARG1})\n\
             [macro-m2]\nexten => s,1,Set(__M=${M}2${ARG1})\n",
        );
        let mut bus = pbx.events.subscribe(crate::pbx::events::Topic::User);
        let v = run(&pbx, "t", "s").await;
        assert_eq!(get(&v, "H"), Some("/a"));
        assert_eq!(get(&v, "M"), Some("1x2y1z"));
        assert_eq!(get(&v, "AMA"), Some("BILLING"));
        assert_eq!(get(&v, "AO"), Some("Local/900@t&Local/901@t"));
        let ac = get(&v, "AC").unwrap_or("");
        assert!(
            ac.starts_with("Local/900@t-") && ac.contains("&Local/901@t-"),
            "{ac}"
        );
        assert_eq!(get(&v, "N"), Some("x"));
        let ev = bus.try_recv().expect("a UserEvent");
        let f = ev.fields();
        assert!(f.contains(&("UserEvent".into(), "Hello".into())), "{f:?}");
        assert!(f.contains(&("Key".into(), "value".into())), "{f:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn retrydial_tries_again_then_gives_up() {
        let pbx = pbx_with(
            "[t]\nexten => s,1,RetryDial(,1,2,Local/busy@t,5)\n same => n,Set(S=${DIALSTATUS})\n\
             exten => busy,1,Set(GLOBAL(TRIES)=$[${TRIES}+1])\n same => n,Busy()\n",
        );
        pbx.set_global("TRIES", "0");
        let v = run(&pbx, "t", "s").await;
        assert_eq!(get(&v, "S"), Some("BUSY"));
        assert_eq!(pbx.get_global("TRIES").as_deref(), Some("2"));
    }

    #[test]
    fn counted_words() {
        use super::{counted_adjective, counted_noun};
        assert_eq!(counted_noun("en", 1, "call"), "call");
        assert_eq!(counted_noun("en", 5, "call"), "calls");
        assert_eq!(counted_noun("en", 0, "call"), "calls");
        assert_eq!(counted_noun("ru", 21, "zvonok"), "zvonok");
        assert_eq!(counted_noun("ru", 3, "zvonok"), "zvonokx1");
        assert_eq!(counted_noun("ru", 12, "zvonok"), "zvonokx2");
        assert_eq!(counted_noun("pl_PL", 24, "x"), "xx1");
        assert_eq!(counted_adjective("en", 5, "new", "m"), "new");
        assert_eq!(counted_adjective("ru", 1, "novy", "m"), "novym");
        assert_eq!(counted_adjective("ua", 7, "novy", "m"), "novyx");
    }
}
