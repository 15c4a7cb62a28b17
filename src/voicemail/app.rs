//! VoiceMail(): a caller leaves a message (app_voicemail's `leave_voicemail`).
//!
//! Greeting (temporary, else busy/unavailable, else one made up from the recorded name or
//! the digits), the instructions, a beep, then the recording until `#`, silence, `maxsecs`
//! or a hang-up. The recording goes to the mailbox's `tmp/` first with its metadata next to
//! it, so a crash mid-call leaves something [`recover`] delivers at the next start; then it
//! is moved into INBOX (or Urgent) and copied to the other mailboxes, each of which gets
//! its email and an MWI update. A caller's recording is never thrown away because mail or
//! a copy failed; only `minsecs` (an admin's explicit choice) discards short ones.

use crate::apps::playback::{stream, Played, ANY_DIGIT};
use crate::apps::record::{record_file, Ended, RecordOpts, Recorded};
use crate::apps::waitexten::wait_digit;
use crate::apps::{args, say, App, AppResult};
use crate::pbx::blocking;
use crate::pbx::{ChanEvent, Channel, Hangup, Pbx};
use crate::voicemail::config::{is_true, Mailbox};
use crate::voicemail::email::NewMessage;
use crate::voicemail::metadata::MessageInfo;
use crate::voicemail::store::{Folder, Greeting, StoreError};
use crate::voicemail::{box_id, Voicemail};
use async_trait::async_trait;
use chrono::Utc;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Parsed `VoiceMail()` options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeaveOpts {
    pub busy: bool,
    pub unavail: bool,
    /// `s`: no instructions.
    pub silent: bool,
    /// `S`: no instructions if the mailbox has a recorded greeting.
    pub silent_if_greeting: bool,
    /// `e`: greetings as early media.
    pub early: bool,
    /// `d([c])`: a digit during the greeting goes to that extension in context c.
    pub dtmf_context: Option<String>,
    /// `U`: urgent, `P`: priority.
    pub urgent: bool,
    pub priority: bool,
    /// `t([x])`: a different tone instead of the beep (empty: none).
    pub tone: Option<String>,
}

/// Split `VoiceMail()`'s data into mailbox specs and options. Accepts the old style too,
/// where `s`, `u`, `b` prefix the first mailbox (`VoiceMail(u100)`).
pub fn parse_args(data: &str) -> (Vec<String>, LeaveOpts) {
    let a = args::split(data, ',');
    let mut boxes: Vec<String> = args::nth(&a, 0)
        .split('&')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    let mut o = LeaveOpts::default();
    for (c, arg) in args::options(args::nth(&a, 1).trim()) {
        match c {
            'b' => o.busy = true,
            'u' => o.unavail = true,
            's' => o.silent = true,
            'S' => o.silent_if_greeting = true,
            'e' => o.early = true,
            'd' => o.dtmf_context = Some(arg.unwrap_or_default()),
            'U' => o.urgent = true,
            'P' => o.priority = true,
            't' => o.tone = Some(arg.unwrap_or_default()),
            _ => {}
        }
    }
    if let Some(first) = boxes.first_mut() {
        while let Some(c) = first
            .chars()
            .next()
            .filter(|c| matches!(c, 's' | 'u' | 'b'))
        {
            match c {
                's' => o.silent = true,
                'u' => o.unavail = true,
                _ => o.busy = true,
            }
            first.remove(0);
        }
    }
    (boxes, o)
}

/// `ast_callerid_merge(name, num, "Unknown")`.
pub fn merged_callerid(name: Option<&str>, num: Option<&str>) -> String {
    let name = name.filter(|s| !s.is_empty());
    let num = num.filter(|s| !s.is_empty());
    match (name, num) {
        (Some(n), Some(d)) => format!("\"{n}\" <{d}>"),
        (Some(n), None) => n.to_string(),
        (None, Some(d)) => d.to_string(),
        (None, None) => "Unknown".to_string(),
    }
}

/// A message id as app_voicemail makes them: time and a counter.
fn msg_id(now: i64) -> String {
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    format!("{now}-{n:08x}")
}

/// Does a sound file (any format) exist at this path without extension? (Looked up on
/// the blocking pool.)
pub(crate) async fn sound_exists(base: &Path) -> bool {
    let base = base.to_path_buf();
    blocking::io(move || {
        Ok(["wav", "WAV", "gsm", "ulaw", "alaw", "sln", "g722"]
            .iter()
            .any(|e| PathBuf::from(format!("{}.{e}", base.display())).is_file()))
    })
    .await
    .unwrap_or(false)
}

/// Play prompts in order; the first digit in `breakon` stops them all.
async fn play_all(
    chan: &mut Channel,
    prompts: &[String],
    breakon: &str,
) -> Result<Option<char>, Hangup> {
    for p in prompts {
        if let Played::Digit(d) = stream(chan, p, breakon).await? {
            return Ok(Some(d));
        }
    }
    Ok(None)
}

fn ext_exists(chan: &Channel, ctx: &str, exten: &str) -> bool {
    chan.pbx
        .dialplan()
        .exists(ctx, exten, 1, chan.caller.num.as_deref(), Utc::now())
}

/// Where `0`/`*` send the caller: the mailbox's `exitcontext`, else the current context.
fn exit_context(chan: &Channel, vm: &Voicemail, mb: &Mailbox) -> String {
    vm.config()
        .opt(mb, "exitcontext")
        .filter(|c| !c.trim().is_empty())
        .map(|c| c.trim().to_string())
        .unwrap_or_else(|| chan.context.clone())
}

/// Leave the app for extension `exten` (priority 1) with VMSTATUS=USEREXIT.
fn user_exit(chan: &mut Channel, ctx: &str, exten: &str) -> AppResult {
    chan.set_var("VMSTATUS", "USEREXIT");
    chan.goto(ctx, exten, 1);
    Ok(())
}

pub struct VoiceMailApp;

#[async_trait]
impl App for VoiceMailApp {
    fn name(&self) -> &'static str {
        "VoiceMail"
    }
    fn synopsis(&self) -> &'static str {
        "Leave a Voicemail message."
    }
    fn syntax(&self) -> &'static str {
        "VoiceMail(mailbox1[@context][&mailbox2[@context][&...]][,options])"
    }
    fn description(&self) -> &'static str {
        "Lets the caller leave a message for the mailboxes given (from voicemail.conf; context default when omitted). The greeting comes from the first mailbox: its temporary greeting if recorded, else with b its busy greeting, with u its unavailable greeting, or a greeting made of its recorded name (or the mailbox number) and 'is on the phone'/'is unavailable'. Then the instructions, a beep, and the recording until #, silence (maxsilence), maxsecs or a hang-up. Options: b — busy greeting; u — unavailable greeting; s — skip the instructions; S — skip them only if a greeting was recorded; e — play greetings as early media, answer just before recording; d([c]) — a digit pressed during the greeting goes to that one-digit extension in context c (default: the current one); U — mark urgent (Urgent folder); P — mark priority; t([x]) — play x instead of the beep. During the greeting, * goes to extension a and 0 (with operator=yes) to extension o, in exitcontext or the current context. Sets VMSTATUS to SUCCESS, USEREXIT or FAILED. Dialplan execution stops if the mailbox does not exist."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let (boxes, o) = parse_args(data);
        if boxes.is_empty() {
            chan.pbx
                .warning("app_voicemail.c: VoiceMail requires an argument (extension)");
            chan.set_var("VMSTATUS", "FAILED");
            return Err(Hangup);
        }
        let pbx = chan.pbx.clone();
        let vm = &crate::voicemail::of(&pbx);
        let Some(first) = vm.find(&pbx, &boxes[0]).await else {
            pbx.warning(&format!(
                "app_voicemail.c: No entry in voicemail config file for '{}'",
                boxes[0]
            ));
            chan.set_var("VMSTATUS", "FAILED");
            return Err(Hangup);
        };
        let cfg = vm.config();
        let mut others: Vec<Mailbox> = Vec::new();
        for spec in &boxes[1..] {
            match vm.find(&pbx, spec).await {
                Some(m) if m != first && !others.contains(&m) => others.push(m),
                Some(_) => {}
                None => pbx.warning(&format!(
                    "app_voicemail.c: No entry in voicemail config file for '{spec}'"
                )),
            }
        }
        let fb = box_id(&first);
        if let Err(e) = vm.store().ensure(&fb).await {
            pbx.warning(&format!(
                "app_voicemail.c: Unable to create mailbox {fb}: {e}"
            ));
            chan.set_var("VMSTATUS", "FAILED");
            return Ok(());
        }

        if !chan.is_up() {
            if o.early {
                chan.indicate(ChanEvent::Progress);
            } else {
                chan.answer();
            }
        }

        // Keys that leave the greeting/instructions.
        let exitctx = exit_context(chan, vm, &first);
        let operator = cfg.flag(&first, "operator", false) && ext_exists(chan, &exitctx, "o");
        let attendant = ext_exists(chan, &exitctx, "a");
        let mut ecodes = String::from("#");
        if operator {
            ecodes.push('0');
        }
        if attendant {
            ecodes.push('*');
        }
        let dctx = o.dtmf_context.as_ref().map(|c| {
            if c.is_empty() {
                chan.context.clone()
            } else {
                c.clone()
            }
        });
        if let Some(dc) = &dctx {
            for d in "0123456789".chars() {
                if !ecodes.contains(d) && ext_exists(chan, dc, &d.to_string()) {
                    ecodes.push(d);
                }
            }
        }

        // Greeting.
        let store = vm.store().clone();
        // IMAP greetings: the server's copies first.
        store.sync_greetings(&fb).await;
        let temp = store.greeting(&fb, Greeting::Temp);
        let prefile = if sound_exists(&temp).await {
            Some(temp)
        } else if o.busy {
            Some(store.greeting(&fb, Greeting::Busy))
        } else if o.unavail {
            Some(store.greeting(&fb, Greeting::Unavail))
        } else {
            None
        };
        let mut silent = o.silent;
        let mut key = None;
        if let Some(pf) = &prefile {
            if sound_exists(pf).await {
                silent |= o.silent_if_greeting;
                key = play_all(chan, &[pf.display().to_string()], &ecodes).await?;
            } else {
                let name = store.greeting(&fb, Greeting::Name);
                let mut prompts = if sound_exists(&name).await {
                    vec![name.display().to_string()]
                } else {
                    let mut v = vec!["vm-theperson".to_string()];
                    v.extend(say::digits_prompts(&first.mailbox));
                    v
                };
                prompts.push(
                    if o.busy {
                        "vm-isonphone"
                    } else {
                        "vm-isunavail"
                    }
                    .to_string(),
                );
                key = play_all(chan, &prompts, &ecodes).await?;
            }
        }
        if key == Some('#') {
            silent = true;
            key = None;
        }
        if key.is_none() && !silent {
            key = play_all(chan, &["vm-intro".to_string()], &ecodes).await?;
            if key == Some('#') {
                key = None;
            }
        }
        match key {
            Some('*') => return user_exit(chan, &exitctx, "a"),
            Some('0') if operator => {
                stream(chan, "transfer", "").await?;
                return user_exit(chan, &exitctx, "o");
            }
            Some(d) => {
                if let Some(dc) = &dctx {
                    return user_exit(chan, dc, &d.to_string());
                }
            }
            None => {}
        }

        // Room for one more?
        let folder = if o.urgent {
            Folder::Urgent
        } else {
            Folder::Inbox
        };
        let maxmsg = cfg.num(&first, "maxmsg");
        let have = store.count(&fb, folder).await.unwrap_or(0);
        if have >= maxmsg.clamp(1, crate::voicemail::store::MAX_MSG_LIMIT) {
            stream(chan, "vm-mailboxfull", "").await?;
            pbx.warning("app_voicemail.c: No more messages possible");
            chan.set_var("VMSTATUS", "FAILED");
            return Ok(());
        }

        if o.early && !chan.is_up() {
            chan.answer();
        }
        match o.tone.as_deref() {
            Some("") => {}
            Some(t) => {
                stream(chan, t, "").await?;
            }
            None => {
                stream(chan, "beep", "").await?;
            }
        }

        // Record into tmp/, metadata alongside for crash recovery.
        let now = Utc::now().timestamp();
        let mut info = MessageInfo {
            origmailbox: first.mailbox.clone(),
            context: chan.context.clone(),
            macrocontext: chan.get_var("MACRO_CONTEXT").unwrap_or_default(),
            exten: chan.exten.clone(),
            rdnis: "unknown".to_string(),
            priority: chan.priority,
            callerchan: chan.name().to_string(),
            callerid: merged_callerid(chan.caller.name.as_deref(), chan.caller.num.as_deref()),
            origtime: now,
            category: chan.get_var("VM_CATEGORY").unwrap_or_default(),
            msg_id: msg_id(now),
            flag: if o.urgent {
                "Urgent".into()
            } else if o.priority {
                "PRIORITY".into()
            } else {
                String::new()
            },
            duration: 0,
        };
        let scratch = store.scratch_dir(&fb);
        let base = scratch.join(format!("{}-{}", info.msg_id, chan.uniqueid()));
        let wav = PathBuf::from(format!("{}.wav", base.display()));
        let sidecar = PathBuf::from(format!("{}.txt", base.display()));
        let (dir, file, text) = (scratch.clone(), sidecar.clone(), info.render());
        let written = blocking::io(move || {
            let _ = std::fs::create_dir_all(&dir);
            std::fs::write(&file, text)
        })
        .await;
        if let Err(e) = written {
            pbx.warning(&format!(
                "app_voicemail.c: Unable to write {}: {e}",
                sidecar.display()
            ));
        }
        let g = &cfg.general;
        let secs = |n: u32| (n > 0).then(|| Duration::from_secs(n as u64));
        let ro = RecordOpts {
            terminator: Some('#'),
            operator,
            trim_silence: true,
            silence: secs(g.maxsilence),
            max: secs(cfg.num(&first, "maxsecs")),
            silence_threshold: Some(g.silencethreshold),
            ..Default::default()
        };
        pbx.verbose_line(3, "Recording the message");
        let recorded = match record_file(chan, &wav, "wav", &ro).await {
            Ok(r) if cfg.flag(&first, "review", false) => {
                review(chan, r, &wav, &ro, operator).await
            }
            other => other,
        };
        let rec = match recorded {
            Ok(r) => r,
            Err(e) => {
                pbx.warning(&format!(
                    "app_voicemail.c: Error recording {}: {e} (kept in {})",
                    wav.display(),
                    scratch.display()
                ));
                chan.set_var("VMSTATUS", "FAILED");
                return if chan.check_hangup() {
                    Err(Hangup)
                } else {
                    Ok(())
                };
            }
        };
        match rec.ended {
            Ended::Dtmf => pbx.verbose_line(3, "User ended message by pressing #"),
            Ended::Operator => pbx.verbose_line(3, "User cancelled by pressing 0"),
            Ended::Hangup => pbx.verbose_line(3, "User hung up"),
            _ => {}
        }
        info.duration = rec.secs();
        let minsecs = cfg.num(&first, "minsecs");
        let status = if info.duration < minsecs {
            pbx.verbose_line(
                3,
                &format!(
                    "Recording was {} seconds long but needs to be at least {minsecs} - abandoning",
                    info.duration
                ),
            );
            blocking::remove_files(vec![wav.clone(), sidecar.clone()]).await;
            "FAILED"
        } else {
            // Rewrite the sidecar with the duration before delivering.
            let (file, text) = (sidecar.clone(), info.render());
            let _ = blocking::io(move || std::fs::write(file, text)).await;
            match deliver_all(&pbx, &first, &others, folder, &wav, &info).await {
                Ok(()) => {
                    blocking::remove_files(vec![sidecar.clone()]).await;
                    "SUCCESS"
                }
                Err(e) => {
                    pbx.error(&format!(
                        "app_voicemail.c: Unable to store the message for {fb}: {e}; the recording stays in {}",
                        scratch.display()
                    ));
                    "FAILED"
                }
            }
        };
        chan.set_var("VMSTATUS", status);
        match rec.ended {
            Ended::Hangup => Err(Hangup),
            Ended::Timeout => {
                stream(chan, "vm-goodbye", "").await?;
                Ok(())
            }
            Ended::Operator => {
                if status == "SUCCESS" {
                    stream(chan, "vm-msgsaved", "").await?;
                }
                stream(chan, "transfer", "").await?;
                user_exit(chan, &exitctx, "o")
            }
            _ => Ok(()),
        }
    }
}

/// `review=yes`: after the recording the caller may listen to it (2), record it again (3),
/// accept it (1) or, with the operator allowed, leave for `o` (0). No answer three times,
/// or a hang-up, keeps the message as it is (as app_voicemail does for callers).
pub(crate) async fn review(
    chan: &mut Channel,
    mut rec: Recorded,
    wav: &Path,
    ro: &RecordOpts,
    operator: bool,
) -> Result<Recorded, crate::media::wav::WavError> {
    let mut misses = 0;
    while matches!(rec.ended, Ended::Dtmf | Ended::Silence | Ended::Timeout) {
        let mut key = match stream(chan, "vm-review", ANY_DIGIT).await {
            Ok(Played::Digit(d)) => Some(d),
            Ok(_) => wait_digit(chan, Duration::from_secs(6))
                .await
                .ok()
                .flatten(),
            Err(Hangup) => return Ok(rec),
        };
        loop {
            match key {
                Some('1') => return Ok(rec),
                Some('2') => {
                    chan.pbx.verbose_line(3, "Reviewing the message");
                    let name = wav.with_extension("").display().to_string();
                    key = match stream(chan, &name, ANY_DIGIT).await {
                        Ok(Played::Digit(d)) => Some(d),
                        Ok(_) => None,
                        Err(Hangup) => return Ok(rec),
                    };
                    if key.is_some() {
                        continue;
                    }
                }
                Some('3') => {
                    chan.pbx.verbose_line(3, "Re-recording the message");
                    if stream(chan, "beep", "").await.is_err() {
                        return Ok(rec);
                    }
                    rec = record_file(chan, wav, "wav", ro).await?;
                }
                Some('0') if operator => {
                    rec.ended = Ended::Operator;
                    return Ok(rec);
                }
                None => {
                    misses += 1;
                    if misses >= 3 {
                        return Ok(rec);
                    }
                }
                Some(_) => {}
            }
            break;
        }
        if chan.check_hangup() {
            return Ok(rec);
        }
    }
    Ok(rec)
}

/// Store the recording for the first mailbox and copy it to the others; each mailbox gets
/// its notification and MWI update. Fails only if the first delivery fails (the recording
/// is then still at `wav`).
pub async fn deliver_all(
    pbx: &Arc<Pbx>,
    first: &Mailbox,
    others: &[Mailbox],
    folder: Folder,
    wav: &Path,
    info: &MessageInfo,
) -> Result<(), StoreError> {
    let vm = &crate::voicemail::of(pbx);
    let cfg = vm.config();
    let fb = box_id(first);
    let n = vm
        .store()
        .deliver(&fb, folder, wav, info, cfg.num(first, "maxmsg"))
        .await?;
    pbx.verbose_line(
        3,
        &format!(
            "Saved message {} in mailbox {fb} ({} seconds)",
            n + 1,
            info.duration
        ),
    );
    announce(pbx, first, folder, n, info).await;
    for m in others {
        let ob = box_id(m);
        let _ = vm.store().ensure(&ob).await;
        match vm
            .store()
            .copy(&fb, folder, n, &ob, folder, cfg.num(m, "maxmsg"))
            .await
        {
            Ok(k) => announce(pbx, m, folder, k, info).await,
            Err(e) => pbx.warning(&format!(
                "app_voicemail.c: Unable to copy message to {ob}: {e}"
            )),
        }
    }
    Ok(())
}

/// Email/pager notification and MWI for a stored message.
async fn announce(pbx: &Arc<Pbx>, mb: &Mailbox, folder: Folder, n: u32, info: &MessageInfo) {
    let vm = &crate::voicemail::of(pbx);
    let id = box_id(mb);
    let cfg = vm.config();
    match vm.store().audio(&id, folder, n).await {
        Ok(base) => {
            let audio = PathBuf::from(format!("{}.wav", base.display()));
            // Rendering reads the audio it attaches, queuing writes and fsyncs the mail:
            // both on the blocking pool.
            let (mailer, p, c) = (vm.mailer.clone(), pbx.clone(), cfg.clone());
            let (mailbox, info) = (mb.clone(), info.clone());
            let queued = tokio::task::spawn_blocking(move || {
                let msg = NewMessage {
                    mailbox: &mailbox,
                    folder,
                    msgnum: n,
                    info: &info,
                    audio: &audio,
                };
                mailer.notify(&p, &c, &msg)
            })
            .await
            .unwrap_or_else(|e| Err(e.to_string()));
            if let Err(e) = queued {
                pbx.warning(&format!(
                    "app_voicemail.c: Unable to queue the notification for {id}: {e}"
                ));
            }
        }
        Err(e) => pbx.warning(&format!("app_voicemail.c: {id}: {e}")),
    }
    // `delete=yes`: the message only goes out by email.
    if cfg.opt(mb, "delete").is_some_and(is_true) {
        let _ = vm.store().remove(&id, folder, n).await;
    }
    vm.changed(&id).await;
}

/// A recording a crash left in a mailbox's `tmp/`: its sidecar, its audio and the
/// metadata (duration taken from the audio's size).
struct Interrupted {
    txt: PathBuf,
    wav: PathBuf,
    info: MessageInfo,
}

/// The recordings left in the scratch directory `dir` (each `.txt` with its `.wav`), in
/// name order, their WAV headers repaired. File work: call it on the blocking pool.
fn interrupted_in(dir: &Path) -> Vec<Interrupted> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut txts: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    txts.sort();
    let mut out = Vec::new();
    for txt in txts {
        let wav = txt.with_extension("wav");
        let Ok(text) = std::fs::read_to_string(&txt) else {
            continue;
        };
        if !wav.is_file() {
            continue;
        }
        let mut info = MessageInfo::parse(&text);
        if let Ok(md) = std::fs::metadata(&wav) {
            // 8 kHz 16-bit: 16,000 bytes a second after the 44-byte header.
            info.duration = (md.len().saturating_sub(44) / 16_000) as u32;
        }
        // Repair the header a crash left unfinished.
        let _ = crate::media::wav::repair(&wav);
        out.push(Interrupted { txt, wav, info });
    }
    out
}

/// Deliver recordings a crash left in mailboxes' `tmp/` (a `.wav` with its `.txt`), at
/// start. Returns how many were recovered.
pub async fn recover(pbx: &Arc<Pbx>) -> usize {
    let vm = &crate::voicemail::of(pbx);
    let cfg = vm.config();
    let mut n = 0;
    for m in cfg.mailboxes.values() {
        let id = box_id(m);
        let dir = vm.store().scratch_dir(&id);
        let found = blocking::io(move || Ok(interrupted_in(&dir)))
            .await
            .unwrap_or_default();
        for Interrupted { txt, wav, info } in found {
            let folder = if info.flag == "Urgent" {
                Folder::Urgent
            } else {
                Folder::Inbox
            };
            match deliver_all(pbx, m, &[], folder, &wav, &info).await {
                Ok(()) => {
                    blocking::remove_files(vec![txt]).await;
                    pbx.notice(&format!(
                        "app_voicemail.c: Recovered an interrupted message for {id} ({} seconds)",
                        info.duration
                    ));
                    n += 1;
                }
                Err(e) => pbx.warning(&format!(
                    "app_voicemail.c: Unable to recover {}: {e}",
                    wav.display()
                )),
            }
        }
    }
    n
}

/// VMSayName(): the recorded name of a mailbox's owner (its `greet`), else "extension"
/// and the mailbox number spelled; a key stops it and is dialed as in BackGround().
pub struct VmSayName;

#[async_trait]
impl App for VmSayName {
    fn name(&self) -> &'static str {
        "VMSayName"
    }
    fn synopsis(&self) -> &'static str {
        "Play the name of a voicemail user"
    }
    fn syntax(&self) -> &'static str {
        "VMSayName(mailbox[@context])"
    }
    fn description(&self) -> &'static str {
        "This application will say the recorded name of the voicemail user specified as the argument to this application. If no context is provided, default is assumed. Similar to the Background() application, playback of the recorded name can be interrupted by entering an extension, which will be searched for in the current context. Without a recorded name, vm-extension and the mailbox number are played."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let spec = data.trim();
        let (mailbox, context) = spec.split_once('@').unwrap_or((spec, ""));
        if mailbox.is_empty() {
            chan.pbx
                .warning("app_voicemail.c: VMSayName requires argument mailbox@context");
            return Err(Hangup);
        }
        let fb = crate::voicemail::store::BoxId::new(mailbox, context);
        let store = crate::voicemail::of(&chan.pbx).store().clone();
        store.sync_greetings(&fb).await;
        let name = store.greeting(&fb, Greeting::Name);
        let prompts: Vec<String> = if sound_exists(&name).await {
            vec![name.display().to_string()]
        } else {
            std::iter::once("vm-extension".to_string())
                .chain(say::alpha_prompts(mailbox))
                .collect()
        };
        for p in &prompts {
            if let Played::Digit(d) = stream(chan, p, ANY_DIGIT).await? {
                return crate::apps::waitexten::dial_extension(chan, d).await;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_new_and_old_style() {
        let (b, o) = parse_args("100@default&200,bs");
        assert_eq!(b, vec!["100@default", "200"]);
        assert!(o.busy && o.silent && !o.unavail);
        let (b, o) = parse_args("101@shifteight,b|u");
        assert_eq!(b, vec!["101@shifteight"]);
        assert!(o.busy && o.unavail);
        let (b, o) = parse_args("su100");
        assert_eq!(b, vec!["100"]);
        assert!(o.silent && o.unavail);
        let (_, o) = parse_args("100,d(menu)Ut()");
        assert_eq!(o.dtmf_context.as_deref(), Some("menu"));
        assert!(o.urgent);
        assert_eq!(o.tone.as_deref(), Some(""));
    }

    #[test]
    fn callerid_merge() {
        assert_eq!(
            merged_callerid(Some("Alice"), Some("1001")),
            "\"Alice\" <1001>"
        );
        assert_eq!(merged_callerid(None, Some("1001")), "1001");
        assert_eq!(merged_callerid(Some("Alice"), None), "Alice");
        assert_eq!(merged_callerid(None, Some("")), "Unknown");
    }

    #[test]
    fn interrupted_recordings_are_found_with_their_metadata_and_repaired() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path();
        assert!(interrupted_in(&dir.join("missing")).is_empty());
        // Two seconds of audio whose header a crash left at zero sizes.
        let mut wav = crate::media::wav::wav_bytes(&[5; 16_000]);
        wav[4..8].copy_from_slice(&[0; 4]);
        wav[40..44].copy_from_slice(&[0; 4]);
        let info = MessageInfo {
            flag: "Urgent".into(),
            callerid: "1001".into(),
            ..Default::default()
        };
        for stem in ["b", "a"] {
            std::fs::write(dir.join(format!("{stem}.wav")), &wav).unwrap();
            std::fs::write(dir.join(format!("{stem}.txt")), info.render()).unwrap();
        }
        // A sidecar without audio, and audio without a sidecar, are left alone.
        std::fs::write(dir.join("c.txt"), info.render()).unwrap();
        std::fs::write(dir.join("d.wav"), &wav).unwrap();
        let found = interrupted_in(dir);
        let names: Vec<_> = found.iter().map(|f| f.wav.clone()).collect();
        assert_eq!(names, [dir.join("a.wav"), dir.join("b.wav")]);
        assert_eq!(found[0].txt, dir.join("a.txt"));
        assert_eq!(found[0].info.duration, 2);
        assert_eq!(found[0].info.flag, "Urgent");
        assert_eq!(found[0].info.callerid, "1001");
        assert_eq!(
            crate::media::wav::read_wav(&found[0].wav).unwrap().len(),
            16_000
        );
    }
}
