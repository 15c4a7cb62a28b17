//! The Mini-Voicemail applications: MinivmRecord, MinivmGreet, MinivmNotify, MinivmDelete,
//! MinivmAccMess and MinivmMWI, with app_minivm's arguments, prompts and status variables.
//! Recording uses Record()'s machinery (`apps::record::record_file`) and, with
//! `review=yes`, VoiceMail()'s review menu; prompts play through `apps::playback`.

use super::config::{split_address, Account};
use super::mail::{self, MsgType, Notice};
use crate::apps::playback::{stream, Played};
use crate::apps::record::{record_file, Ended, RecordOpts, Recorded};
use crate::apps::waitexten::wait_digit;
use crate::apps::{args, say, App, AppResult};
use crate::media::wav::Encoding;
use crate::pbx::events::{ChanSnapshot, Event};
use crate::pbx::mwi::{MwiState, PublishedStates};
use crate::pbx::{blocking, Channel, Hangup, Pbx};
use crate::voicemail::app::{merged_callerid, review, sound_exists};
use async_trait::async_trait;
use chrono::{Local, Utc};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Split `username@domain` from the first argument; logs and `None` when either is empty.
fn account_arg(chan: &Channel, arg: &str) -> Option<(String, String)> {
    let (u, d) = split_address(arg);
    if u.is_empty() || d.is_empty() {
        chan.pbx.error(&format!(
            "app_minivm.c: Need username@domain as argument. Sorry. Argument 0 {arg}"
        ));
        return None;
    }
    Some((u.to_string(), d.to_string()))
}

fn no_args(chan: &Channel) -> AppResult {
    chan.pbx
        .error("app_minivm.c: Minivm needs at least an account argument");
    Err(Hangup)
}

/// A format the recorder writes (`wav`, `sln`, `ulaw`, `alaw`, …); anything else (`wav49`,
/// `gsm`) is recorded as `wav`.
fn recordable(pbx: &Pbx, fmt: &str) -> String {
    if fmt.eq_ignore_ascii_case("wav") {
        return "wav".into();
    }
    if Encoding::from_extension(fmt).is_some() {
        return fmt.to_string();
    }
    pbx.warning(&format!(
        "app_minivm.c: format '{fmt}' cannot be recorded by ferrisk; recording wav instead"
    ));
    "wav".into()
}

fn secs(n: u32) -> Option<Duration> {
    (n > 0).then(|| Duration::from_secs(u64::from(n)))
}

/// `path` plus `.ext`.
fn with_ext(base: &Path, ext: &str) -> PathBuf {
    PathBuf::from(format!("{}.{ext}", base.display()))
}

/// Every media file `base.*` next to `base` (blocking).
fn media_files(base: &Path) -> Vec<PathBuf> {
    let (Some(dir), Some(stem)) = (base.parent(), base.file_name()) else {
        return Vec::new();
    };
    let prefix = format!("{}.", stem.to_string_lossy());
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with(&prefix))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A new empty file `dir/XXXXXX` (six random characters), as `mkstemp` (blocking).
fn make_temp(dir: &Path) -> std::io::Result<PathBuf> {
    use rand::Rng;
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    for _ in 0..100 {
        let name: String = (0..6)
            .map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char)
            .collect();
        let p = dir.join(name);
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&p)
        {
            Ok(_) => return Ok(p),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other("no unique temporary name"))
}

pub struct MinivmRecord;

#[async_trait]
impl App for MinivmRecord {
    app_meta!(
        "MinivmRecord",
        "Receive Mini-Voicemail and forward via e-mail.",
        "MinivmRecord(username@domain[,options])",
        "Records a message for the account (from minivm.conf, or a temporary account with the defaults) in the configured format after a beep, until #, silence (maxsilence), maxmessage seconds or a hang-up; with operator=yes 0 ends it (the caller may keep the message with 1), with review=yes the caller may listen to it and record it again. Messages shorter than minmessage are discarded. The file goes to the account's tmp folder when it exists, else to voicemail/0000_minivm_temp/mediafiles. Sets MVM_FILENAME (the file without extension), MVM_DURATION (seconds), MVM_FORMAT and MVM_RECORD_STATUS (SUCCESS, USEREXIT or FAILED). A caller who hangs up still leaves the message: notify and clean up in the h extension. Options: g(gain) — accepted (the gain is not applied)."
    );
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        if !chan.is_up() {
            chan.answer();
        }
        if data.trim().is_empty() {
            return no_args(chan);
        }
        let a = args::split(data, ',');
        let opts = args::options(args::nth(&a, 1));
        if let Some(g) = opts.get(&'g') {
            if g.as_deref().unwrap_or("").trim().parse::<i32>().is_err() {
                chan.pbx.warning(&format!(
                    "app_minivm.c: Invalid value '{}' provided for record gain option",
                    g.as_deref().unwrap_or("")
                ));
                return Err(Hangup);
            }
        }
        let mvm = super::of(&chan.pbx);
        let cfg = mvm.config();
        let (user, domain) = split_address(args::nth(&a, 0));
        let Some(acct) = cfg.find_account(user, domain, true) else {
            chan.pbx.error(&format!(
                "app_minivm.c: Can't allocate temporary account for '{user}@{domain}'"
            ));
            chan.set_var("MVM_RECORD_STATUS", "FAILED");
            return Ok(());
        };
        let g = &cfg.general;
        let wanted = if acct.attachfmt.is_empty() {
            g.format.clone()
        } else {
            acct.attachfmt.clone()
        };
        let fmt = recordable(&chan.pbx, &wanted);
        let userdir = mvm.dir(&acct.domain, user, "tmp");
        let fallback = mvm.dir("0000_minivm_temp", "mediafiles", "");
        let made = blocking::io(move || {
            let dir = if userdir.is_dir() {
                userdir
            } else {
                std::fs::create_dir_all(&fallback)?;
                fallback
            };
            make_temp(&dir)
        })
        .await;
        let base = match made {
            Ok(b) => b,
            Err(e) => {
                chan.pbx
                    .error(&format!("app_minivm.c: Unable to create message file: {e}"));
                stream(chan, "vm-mailboxfull", "").await?;
                chan.set_var("MVM_RECORD_STATUS", "FAILED");
                return Ok(());
            }
        };
        stream(chan, "beep", "").await?;
        let media = with_ext(&base, &fmt);
        let ro = RecordOpts {
            terminator: Some('#'),
            operator: g.operator,
            trim_silence: true,
            silence: (g.maxsilence_ms > 0)
                .then(|| Duration::from_millis(u64::from(g.maxsilence_ms))),
            max: secs(g.maxmessage),
            silence_threshold: Some(g.silencethreshold),
            ..Default::default()
        };
        chan.pbx.verbose_line(3, "Recording the message");
        let recorded = match record_file(chan, &media, &fmt, &ro).await {
            Ok(r) if g.review => review(chan, r, &media, &ro, g.operator).await,
            other => other,
        };
        let rec = match recorded {
            Ok(r) => r,
            Err(e) => {
                chan.pbx.warning(&format!(
                    "app_minivm.c: Error recording {}: {e}",
                    media.display()
                ));
                blocking::remove_files(vec![base.clone(), media]).await;
                chan.set_var("MVM_RECORD_STATUS", "FAILED");
                return if chan.check_hangup() {
                    Err(Hangup)
                } else {
                    Ok(())
                };
            }
        };
        let mut kept = true;
        if rec.ended == Ended::Operator {
            kept = operator_exit(chan, &rec).await;
            if !kept {
                blocking::remove_files(vec![media.clone()]).await;
            }
        }
        let duration = rec.secs();
        let line = log_line(chan, user, duration, g.minmessage, &acct);
        let (b, logfile, l) = (base.clone(), g.logfile.clone(), line.clone());
        let _ = blocking::io(move || {
            std::fs::write(&b, &l)?;
            if let Some(f) = logfile {
                use std::io::Write;
                let mut f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(f)?;
                f.write_all(l.as_bytes())?;
            }
            Ok(())
        })
        .await;
        let hung_up = rec.ended == Ended::Hangup || chan.check_hangup();
        let result = if hung_up { Err(Hangup) } else { Ok(()) };
        if duration < g.minmessage {
            chan.pbx.verbose_line(
                3,
                &format!(
                    "Recording was {duration} seconds long but needs to be at least {} - abandoning",
                    g.minmessage
                ),
            );
            blocking::remove_files(vec![base, media]).await;
            chan.set_var("MVM_RECORD_STATUS", "FAILED");
            return result;
        }
        if !kept {
            blocking::remove_files(vec![base]).await;
            chan.set_var("MVM_RECORD_STATUS", "FAILED");
            return result;
        }
        chan.set_var("MVM_FILENAME", &base.display().to_string());
        chan.set_var("MVM_DURATION", &duration.to_string());
        chan.set_var("MVM_FORMAT", &fmt);
        mvm.received();
        chan.set_var("MVM_RECORD_STATUS", "SUCCESS");
        result
    }
}

/// `0` with `operator=yes`: "press 1 to save" (`vm-saveoper`); whether the message stays.
async fn operator_exit(chan: &mut Channel, _rec: &Recorded) -> bool {
    let key = match stream(chan, "vm-saveoper", "1").await {
        Ok(Played::Digit(d)) => Some(d),
        Ok(_) => wait_digit(chan, Duration::from_secs(3))
            .await
            .ok()
            .flatten(),
        Err(Hangup) => None,
    };
    if key == Some('1') {
        let _ = stream(chan, "vm-msgsaved", "").await;
        true
    } else {
        let _ = stream(chan, "vm-deleted", "").await;
        false
    }
}

/// The message's log line, app_minivm's
/// `username:context:macrocontext:exten:priority:callerchan:callerid:origdate:origtime:duration:durationstatus:accountcode`.
fn log_line(chan: &Channel, user: &str, duration: u32, min: u32, a: &Account) -> String {
    let now = Local::now();
    format!(
        "{user}:{}::{}:{}:{}:{}:{}:{}:{duration}:{}:{}\n",
        chan.context,
        chan.exten,
        chan.priority,
        chan.name(),
        merged_callerid(chan.caller.name.as_deref(), chan.caller.num.as_deref()),
        now.format("%a %b %e %r %Z %Y"),
        now.format("%H:%M:%S"),
        if duration < min { "IGNORED" } else { "OK" },
        a.accountcode
    )
}

pub struct MinivmGreet;

/// Whether extension `exten` exists at priority 1 in `ctx`.
fn ext_exists(chan: &Channel, ctx: &str, exten: &str) -> bool {
    chan.pbx
        .dialplan()
        .exists(ctx, exten, 1, chan.caller.num.as_deref(), Utc::now())
}

#[async_trait]
impl App for MinivmGreet {
    app_meta!(
        "MinivmGreet",
        "Play Mini-Voicemail prompts.",
        "MinivmGreet(username@domain[,options])",
        "Plays the account's greeting: its temporary greeting if one was recorded (MinivmAccMess t), else with b its busy and with u its unavailable greeting, else a greeting made of its recorded name (or 'the person at extension' and the digits of a numeric username, or 'the extension') and 'is on the phone' / 'is unavailable'. Then the instructions (vm-intro) unless s is given or # was pressed. * goes to extension a in the current context, and with operator=yes 0 goes to extension o; both set MVM_GREET_STATUS=USEREXIT. Otherwise MVM_GREET_STATUS is SUCCESS, or FAILED on a hang-up. Options: b — busy greeting; u — unavailable greeting; s — skip the instructions."
    );
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        if data.trim().is_empty() {
            return no_args(chan);
        }
        let a = args::split(data, ',');
        let opts = args::options(args::nth(&a, 1));
        let Some((user, domain)) = account_arg(chan, args::nth(&a, 0)) else {
            return Err(Hangup);
        };
        let mvm = super::of(&chan.pbx);
        let cfg = mvm.config();
        let Some(acct) = cfg.find_account(&user, &domain, true) else {
            return Err(Hangup);
        };
        if !chan.is_up() {
            chan.answer();
        }
        let busy = opts.contains_key(&'b');
        let mut silent = opts.contains_key(&'s');
        let dir = mvm.dir(&acct.domain, &user, "");
        // The temporary greeting overrides busy and unavailable.
        let mut prefile = None;
        let mut candidates = vec!["temp"];
        if busy {
            candidates.push("busy");
        } else if opts.contains_key(&'u') {
            candidates.extend(["unavailable", "unavail"]);
        }
        for c in candidates {
            if sound_exists(&dir.join(c)).await {
                prefile = Some(dir.join(c));
                break;
            }
        }
        let ctx = chan.context.clone();
        let mut ecodes = String::from("#");
        let operator = cfg.general.operator && ext_exists(chan, &ctx, "o");
        if operator {
            ecodes.push('0');
        }
        if ext_exists(chan, &ctx, "a") {
            ecodes.push('*');
        }
        let played = match prefile {
            Some(p) => match stream(chan, &p.display().to_string(), &ecodes).await {
                Ok(Played::Digit(d)) => Ok(Some(d)),
                Ok(_) => Ok(None),
                Err(h) => Err(h),
            },
            None => invent_message(chan, &dir, &user, busy, &ecodes).await,
        };
        let mut key = match played {
            Ok(k) => k,
            Err(Hangup) => {
                chan.set_var("MVM_GREET_STATUS", "FAILED");
                return Err(Hangup);
            }
        };
        if key == Some('#') {
            silent = true;
            key = None;
        }
        if key.is_none() && !silent {
            match stream(chan, "vm-intro", &ecodes).await {
                Ok(Played::Digit('#')) => {}
                Ok(Played::Digit(d)) => key = Some(d),
                Ok(_) => {}
                Err(Hangup) => {
                    chan.set_var("MVM_GREET_STATUS", "FAILED");
                    return Err(Hangup);
                }
            }
        }
        match key {
            Some('*') => {
                chan.set_var("MVM_GREET_STATUS", "USEREXIT");
                chan.goto(&ctx, "a", 1);
            }
            Some('0') if operator => {
                stream(chan, "transfer", "").await?;
                chan.set_var("MVM_GREET_STATUS", "USEREXIT");
                chan.goto(&ctx, "o", 1);
            }
            _ => chan.set_var("MVM_GREET_STATUS", "SUCCESS"),
        }
        Ok(())
    }
}

/// The greeting made up when the account has none of its own: its recorded name
/// (`greet`), else "the person at extension" + the digits of a numeric username, else "the
/// extension"; then "is on the phone" or "is unavailable". The key that stopped it.
async fn invent_message(
    chan: &mut Channel,
    dir: &Path,
    user: &str,
    busy: bool,
    ecodes: &str,
) -> Result<Option<char>, Hangup> {
    let greet = dir.join("greet");
    let mut prompts: Vec<String> = Vec::new();
    if sound_exists(&greet).await {
        prompts.push(greet.display().to_string());
    } else if !user.is_empty() && user.chars().all(|c| c.is_ascii_digit()) {
        prompts.push("vm-theperson".into());
        prompts.extend(say::digits_prompts(user));
    } else {
        prompts.push("vm-theextensionis".into());
    }
    prompts.push(if busy { "vm-isonphone" } else { "vm-isunavail" }.into());
    for p in prompts {
        if let Played::Digit(d) = stream(chan, &p, ecodes).await? {
            return Ok(Some(d));
        }
    }
    Ok(None)
}

pub struct MinivmNotify;

#[async_trait]
impl App for MinivmNotify {
    app_meta!(
        "MinivmNotify",
        "Notify voicemail owner about new messages.",
        "MinivmNotify(username@domain[,template])",
        "Mails the message MinivmRecord left (MVM_FILENAME, MVM_FORMAT, MVM_DURATION) to the account's email address (username@domain for an account without one or a temporary account) with the account's etemplate, else the template given, else email-default; then, if the account has a pager address, the pager notification with its ptemplate or pager-default. The templates' subject, body and sender are substituted with MVM_NAME, MVM_DUR, MVM_DOMAIN, MVM_USERNAME, MVM_MAILBOX, MVM_CALLERID, MVM_CIDNAME, MVM_CIDNUM, MVM_DATE, MVM_COUNTER (from the channel variable MVM_COUNTER, also used in the attachment's name) and the account's setvar variables. Mail goes through SMTP (smtp_host) or mailcmd. Raises the MiniVoiceMail manager event and runs externnotify. Sets MVM_NOTIFY_STATUS to SUCCESS or FAILED."
    );
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        if data.trim().is_empty() {
            return no_args(chan);
        }
        let a = args::split(data, ',');
        let Some((user, domain)) = account_arg(chan, args::nth(&a, 0)) else {
            return Err(Hangup);
        };
        let template = args::nth(&a, 1).trim().to_string();
        let mvm = super::of(&chan.pbx);
        let cfg = mvm.config();
        let Some(acct) = cfg.find_account(&user, &domain, true) else {
            chan.set_var("MVM_NOTIFY_STATUS", "FAILED");
            return Err(Hangup);
        };
        let filename = chan.get_var("MVM_FILENAME").unwrap_or_default();
        let mut ok = true;
        if !filename.is_empty() {
            ok = notify_new_message(chan, &cfg, &template, acct, filename).await;
        }
        chan.set_var("MVM_NOTIFY_STATUS", if ok { "SUCCESS" } else { "FAILED" });
        Ok(())
    }
}

/// Mail the message (and page), raise MiniVoiceMail, run externnotify. Whether the mails
/// went out.
async fn notify_new_message(
    chan: &mut Channel,
    cfg: &Arc<super::config::MinivmConfig>,
    template: &str,
    acct: Account,
    filename: String,
) -> bool {
    let pbx = chan.pbx.clone();
    let mut format = chan.get_var("MVM_FORMAT").unwrap_or_default();
    if !acct.attachfmt.is_empty() {
        if format.contains(&acct.attachfmt) {
            format = acct.attachfmt.clone();
        } else {
            pbx.warning(&format!(
                "app_minivm.c: Attachment format '{}' is not one of the recorded formats '{format}'.  Falling back to default format for '{}@{}'.",
                acct.attachfmt, acct.username, acct.domain
            ));
        }
    }
    let format = format.split('|').next().unwrap_or("").to_string();
    let counter = chan.get_var("MVM_COUNTER").filter(|c| !c.is_empty());
    let duration = chan
        .get_var("MVM_DURATION")
        .and_then(|d| d.trim().parse().ok())
        .unwrap_or(0);
    let etemplate = cfg
        .template(&acct.etemplate)
        .or_else(|| cfg.template(template))
        .or_else(|| cfg.template("email-default"))
        .cloned()
        .unwrap_or_else(|| super::config::Template::new("email-default"));
    let notice = Notice {
        account: acct.clone(),
        cidnum: chan.caller.num.clone(),
        cidname: chan.caller.name.clone(),
        filename,
        format,
        duration,
        counter: counter.clone(),
    };
    let mut res = mail::send(&pbx, cfg, &etemplate, &notice, MsgType::Email).await;
    if res.is_ok() && !acct.pager.is_empty() {
        let ptemplate = cfg
            .template(&acct.ptemplate)
            .or_else(|| cfg.template("pager-default"))
            .cloned()
            .unwrap_or_else(|| super::config::Template::new("pager-default"));
        res = mail::send(&pbx, cfg, &ptemplate, &notice, MsgType::Page).await;
    }
    if let Err(e) = &res {
        pbx.warning(&format!("app_minivm.c: {e}"));
    }
    if pbx.events.wants(crate::pbx::events::Topic::Channel) {
        pbx.events.publish(Event::ChannelNotice {
            name: "MiniVoiceMail",
            chan: ChanSnapshot::of(chan),
            headers: vec![
                ("Action".into(), "SentNotification".into()),
                (
                    "Mailbox".into(),
                    format!("{}@{}", acct.username, acct.domain),
                ),
                ("Counter".into(), counter.unwrap_or_default()),
            ],
        });
    }
    run_externnotify(chan, cfg, &acct);
    res.is_ok()
}

/// `externnotify` (the account's, else `[general]`'s): `<cmd> <username@domain>
/// [<callerid name>] [<callerid number>]`, in the background on a thread of its own.
fn run_externnotify(chan: &Channel, cfg: &super::config::MinivmConfig, a: &Account) {
    let cmd = if a.externnotify.is_empty() {
        cfg.general.externnotify.clone()
    } else {
        a.externnotify.clone()
    };
    if cmd.trim().is_empty() {
        return;
    }
    let mut argv = vec![format!("{}@{}", a.username, a.domain)];
    argv.extend(chan.caller.name.clone().filter(|s| !s.is_empty()));
    argv.extend(chan.caller.num.clone().filter(|s| !s.is_empty()));
    let started = std::thread::Builder::new()
        .name("externnotify".into())
        .spawn(move || {
            match std::process::Command::new(cmd.trim())
                .args(&argv)
                .stdin(std::process::Stdio::null())
                .spawn()
            {
                Ok(mut child) => {
                    let _ = child.wait();
                }
                Err(e) => tracing::warn!("minivm externnotify {cmd}: {e}"),
            }
        });
    if let Err(e) = started {
        tracing::warn!("minivm externnotify: {e}");
    }
}

pub struct MinivmDelete;

#[async_trait]
impl App for MinivmDelete {
    app_meta!(
        "MinivmDelete",
        "Delete Mini-Voicemail voicemail messages.",
        "MinivmDelete([filename])",
        "Deletes the message file given (without extension), or the one in MVM_FILENAME: its media files in every format and its text file. Sets MVM_DELETE_STATUS to SUCCESS, or FAILED when there is no such file or it cannot be removed."
    );
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let filename = if data.trim().is_empty() {
            chan.get_var("MVM_FILENAME").unwrap_or_default()
        } else {
            data.trim().to_string()
        };
        if filename.is_empty() {
            chan.pbx.error(
                "app_minivm.c: No filename given in application arguments or channel variable MVM_FILENAME",
            );
            return Ok(());
        }
        let base = PathBuf::from(&filename);
        let deleted = blocking::io(move || {
            let media = media_files(&base);
            if media.is_empty() {
                return Ok(None);
            }
            let mut ok = true;
            for f in media {
                ok &= std::fs::remove_file(f).is_ok();
            }
            if base.is_file() {
                ok &= std::fs::remove_file(&base).is_ok();
            }
            Ok(Some(ok))
        })
        .await
        .unwrap_or(Some(false));
        let status = match deleted {
            Some(true) => {
                chan.pbx
                    .verbose_line(4, &format!("Deleted voicemail file :: {filename}"));
                "SUCCESS"
            }
            Some(false) => {
                chan.pbx
                    .warning(&format!("app_minivm.c: Can't delete file: {filename}"));
                "FAILED"
            }
            None => "FAILED",
        };
        chan.set_var("MVM_DELETE_STATUS", status);
        Ok(())
    }
}

pub struct MinivmAccMess;

#[async_trait]
impl App for MinivmAccMess {
    app_meta!(
        "MinivmAccMess",
        "Record account specific messages.",
        "MinivmAccMess(username@domain,option)",
        "Records one of the account's messages, after its prompt and a beep, until #, silence or maxgreet seconds; then the owner may accept it (1), listen to it (2) or record it again (3). The account's directory is created if missing. Option (exactly one): u — the unavailable greeting (vm-rec-unv); b — the busy greeting (vm-rec-busy); t — the temporary greeting, which MinivmGreet plays instead of the others (vm-rec-temp); n — the account's name (vm-rec-name). Sets MVM_ACCMESS_STATUS to SUCCESS, or FAILED for bad arguments or a file that cannot be created."
    );
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let a = args::split(data, ',');
        let option = args::nth(&a, 1).trim().to_string();
        let fail = |chan: &mut Channel, msg: String| {
            chan.pbx.error(&format!("app_minivm.c: {msg}"));
            chan.set_var("MVM_ACCMESS_STATUS", "FAILED");
            Err(Hangup)
        };
        if data.trim().is_empty() || a.len() < 2 {
            return fail(
                chan,
                "MinivmAccmess needs at least two arguments: account and option".into(),
            );
        }
        if option.chars().count() != 1 {
            return fail(
                chan,
                format!("MinivmAccmess can only handle one option at a time. Bad option string: {option}"),
            );
        }
        let (message, prompt) = match option.as_str() {
            "b" => ("busy", "vm-rec-busy"),
            "u" => ("unavailable", "vm-rec-unv"),
            "t" => ("temp", "vm-rec-temp"),
            "n" => ("greet", "vm-rec-name"),
            o => return fail(chan, format!("Can't parse option {o}")),
        };
        let Some((user, domain)) = account_arg(chan, args::nth(&a, 0)) else {
            chan.set_var("MVM_ACCMESS_STATUS", "FAILED");
            return Err(Hangup);
        };
        let mvm = super::of(&chan.pbx);
        let cfg = mvm.config();
        let Some(acct) = cfg.find_account(&user, &domain, true) else {
            chan.set_var("MVM_ACCMESS_STATUS", "FAILED");
            return Err(Hangup);
        };
        if !chan.is_up() {
            chan.answer();
        }
        let dir = mvm.dir(&acct.domain, &acct.username, "");
        let base = dir.join(message);
        let fmt = recordable(&chan.pbx, &cfg.general.format);
        let file = with_ext(&base, &fmt);
        if let Err(e) = blocking::io(move || std::fs::create_dir_all(dir)).await {
            return fail(chan, format!("Cannot create the account directory: {e}"));
        }
        stream(chan, prompt, "").await?;
        stream(chan, "beep", "").await?;
        let ro = RecordOpts {
            terminator: Some('#'),
            trim_silence: true,
            silence: (cfg.general.maxsilence_ms > 0)
                .then(|| Duration::from_millis(u64::from(cfg.general.maxsilence_ms))),
            max: secs(cfg.general.maxgreet),
            silence_threshold: Some(cfg.general.silencethreshold),
            ..Default::default()
        };
        let rec = match record_file(chan, &file, &fmt, &ro).await {
            Ok(r) => review(chan, r, &file, &ro, false).await,
            Err(e) => Err(e),
        };
        match rec {
            Ok(r) => {
                chan.pbx.verbose_line(
                    4,
                    &format!(
                        "Recorded new {message} message in {} (duration {})",
                        base.display(),
                        r.secs()
                    ),
                );
                chan.set_var("MVM_ACCMESS_STATUS", "SUCCESS");
            }
            Err(e) => {
                chan.pbx.warning(&format!(
                    "app_minivm.c: Error recording {}: {e}",
                    file.display()
                ));
                chan.set_var("MVM_ACCMESS_STATUS", "FAILED");
            }
        }
        if chan.check_hangup() {
            Err(Hangup)
        } else {
            Ok(())
        }
    }
}

pub struct MinivmMwi;

/// C's `atoi` for counts: the leading digits, else 0.
fn count(s: &str) -> u32 {
    let d: String = s.trim().chars().take_while(char::is_ascii_digit).collect();
    d.parse().unwrap_or(0)
}

#[async_trait]
impl App for MinivmMwi {
    app_meta!(
        "MinivmMWI",
        "Send Message Waiting Notification to subscriber(s) of mailbox.",
        "MinivmMWI(username@domain,urgent,new,old)",
        "Tells the devices subscribed to the mailbox username@domain (a SIP peer's mailbox=username@domain) that it has new + urgent new and old messages: chan_sip sends them a NOTIFY, and the manager gets a MessageWaiting event."
    );
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        if data.trim().is_empty() {
            return no_args(chan);
        }
        let a = args::split(data, ',');
        if a.len() < 4 {
            chan.pbx.error(&format!(
                "app_minivm.c: {} arguments passed to MiniVM_MWI, need 4.",
                a.len()
            ));
            return Err(Hangup);
        }
        let (user, domain) = split_address(&a[0]);
        if user.is_empty() || domain.is_empty() {
            chan.pbx.error(&format!(
                "app_minivm.c: Need mailbox@context as argument. Sorry. Argument 0 {}",
                a[0]
            ));
            return Err(Hangup);
        }
        let (urgent, new, old) = (count(&a[1]), count(&a[2]), count(&a[3]));
        let state = MwiState {
            mailbox: user.to_string(),
            context: domain.to_string(),
            new: new + urgent,
            old,
            urgent_new: urgent,
            urgent_old: 0,
        };
        // Kept by the core, so phones that ask for the counts later (chan_sip) get them.
        chan.pbx
            .services
            .get_or_insert_with("core", PublishedStates::default)
            .set(state.clone());
        chan.pbx.events.publish(Event::MessageWaiting(state));
        Ok(())
    }
}
