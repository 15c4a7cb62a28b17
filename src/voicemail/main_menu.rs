//! VoiceMailMain() and VMAuthenticate(): the mailbox owner's side of voicemail, with
//! app_voicemail's English key map and core prompts (`vm-*`, `digits/*`).
//!
//! Login asks for the mailbox (`vm-login`) and password (`vm-password`) up to `maxlogins`
//! times; the main menu then plays, moves, deletes and saves messages, and `0` reaches
//! the mailbox options (greetings, name, temporary greeting, password). Bookkeeping is
//! pure code ([`View`], [`close_plan`], [`rewrite_password`]); the store is only touched
//! when a folder is closed: on leaving it, on exit and on hang-up alike, so a hang-up never
//! loses the caller's deletions or a message that was not deleted.
//!
//! Never: play or record outside the channel's task, or keep a mailbox lock while talking.

use super::vmsay;
use crate::apps::playback::{load_prompt, poll_digit, stream, Played, ANY_DIGIT};
use crate::apps::read::read_digits;
use crate::apps::record::{record_file, Ended, RecordOpts};
use crate::apps::waitexten::wait_digit;
use crate::apps::{args, App, AppResult};
use crate::pbx::{blocking, Channel, Hangup};
use crate::voicemail::box_id;
use crate::voicemail::config::{Mailbox, VoicemailConfig};
use crate::voicemail::metadata::MessageInfo;
use crate::voicemail::store::{BoxId, Folder, Greeting, StoreError};
use async_trait::async_trait;
use chrono::{TimeZone, Utc};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// `ast_readstring` timeouts app_voicemail uses: first digit, then between digits.
const FIRST_DIGIT: Duration = Duration::from_secs(10);
const NEXT_DIGIT: Duration = Duration::from_secs(2);
/// How long a menu waits for a key after its prompts.
const MENU_WAIT: Duration = Duration::from_secs(6);

// ---------------------------------------------------------------------------------------
// Pure bookkeeping

/// One open folder: how many messages, which one is current, and what the caller did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View {
    pub folder: Folder,
    pub count: u32,
    /// Current message (0-based; meaningful when `count > 0`).
    pub cur: u32,
    pub deleted: Vec<bool>,
    pub heard: Vec<bool>,
    /// No message played yet (the menu offers "press 1 for …").
    pub starting: bool,
}

impl View {
    pub fn new(folder: Folder, count: u32) -> View {
        View {
            folder,
            count,
            cur: 0,
            deleted: vec![false; count as usize],
            heard: vec![false; count as usize],
            starting: true,
        }
    }

    pub fn last(&self) -> u32 {
        self.count.saturating_sub(1)
    }

    pub fn is_deleted(&self) -> bool {
        self.deleted
            .get(self.cur as usize)
            .copied()
            .unwrap_or(false)
    }

    /// Toggle deletion of the current message; returns whether it is now deleted.
    pub fn toggle_delete(&mut self) -> bool {
        match self.deleted.get_mut(self.cur as usize) {
            Some(d) => {
                *d = !*d;
                *d
            }
            None => false,
        }
    }

    pub fn mark_heard(&mut self) {
        if let Some(h) = self.heard.get_mut(self.cur as usize) {
            *h = true;
        }
        self.starting = false;
    }
}

/// What closing a folder does to the store: remove `remove` (numbers as they are now), then
/// move `to_old` (numbers after that removal, ascending) to Old.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClosePlan {
    pub remove: Vec<u32>,
    pub to_old: Vec<u32>,
}

/// app_voicemail's `close_mailbox`: deleted messages go, heard new (INBOX/Urgent) ones
/// move to Old unless `moveheard=no`; everything else stays.
pub fn close_plan(v: &View, moveheard: bool) -> ClosePlan {
    let mut plan = ClosePlan::default();
    let moves = moveheard && matches!(v.folder, Folder::Inbox | Folder::Urgent);
    let mut removed = 0u32;
    for i in 0..v.count {
        if v.deleted.get(i as usize).copied().unwrap_or(false) {
            plan.remove.push(i);
            removed += 1;
        } else if moves && v.heard.get(i as usize).copied().unwrap_or(false) {
            plan.to_old.push(i - removed);
        }
    }
    plan
}

/// Replace the password (first field) of `mailbox` in section `[context]` of a
/// voicemail.conf text; every other byte stays. `hint`: the 1-based line the mailbox was
/// read from, tried first. `None` when the line is not found.
pub fn rewrite_password(
    text: &str,
    hint: Option<u32>,
    context: &str,
    mailbox: &str,
    password: &str,
) -> Option<String> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let key_of = |l: &str| -> Option<(usize, usize)> {
        // (start of value, end of password field) in bytes.
        let (k, sep) = match (l.find("=>"), l.find('=')) {
            (Some(a), Some(b)) if a <= b => (a, 2),
            (_, Some(b)) => (b, 1),
            _ => return None,
        };
        if l[..k].trim() != mailbox {
            return None;
        }
        let vstart = k + sep;
        let rest = &l[vstart..];
        let lead = rest.len() - rest.trim_start().len();
        let start = vstart + lead;
        let body = &l[start..];
        let end = body.find([',', '\r', '\n', ';']).unwrap_or(body.len());
        let field = &body[..end];
        let field_end = start + field.trim_end().len();
        Some((start, field_end))
    };
    let mut section = String::new();
    let mut target = None;
    for (i, l) in lines.iter().enumerate() {
        let t = l.trim();
        if let Some(rest) = t.strip_prefix('[') {
            if let Some(end) = rest.find(']') {
                section = rest[..end].trim().to_string();
            }
            continue;
        }
        if t.starts_with(';') || section != context {
            continue;
        }
        if let Some(r) = key_of(l) {
            let line_no = i as u32 + 1;
            if hint == Some(line_no) {
                target = Some((i, r));
                break;
            }
            if target.is_none() || hint.is_none() {
                // The last definition wins, as the loader does.
                target = Some((i, r));
            }
        }
    }
    let (i, (start, end)) = target?;
    let mut out = String::with_capacity(text.len() + password.len());
    for (j, l) in lines.iter().enumerate() {
        if j == i {
            out.push_str(&l[..start]);
            out.push_str(password);
            out.push_str(&l[end..]);
        } else {
            out.push_str(l);
        }
    }
    Some(out)
}

/// Write `text` to `path` atomically (temporary file in the same directory, fsync,
/// rename), keeping the file's permissions.
fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "voicemail.conf".into());
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
    }
    if let Ok(meta) = std::fs::metadata(path) {
        let _ = std::fs::set_permissions(&tmp, meta.permissions());
    }
    if let Err(e) = std::fs::rename(&tmp, path) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// The folder's name prompt followed by "messages" (`vm_play_folder_name`, English).
fn folder_name(f: Folder) -> Vec<String> {
    vec![format!("vm-{}", f.name()), "vm-messages".into()]
}

/// The main menu (`vm_instructions`, English): what the caller may press now; `full`
/// (after `*`) names the folder again and leaves out the advanced options.
pub fn instructions(v: &View, full: bool, more_after: bool) -> Vec<String> {
    let mut p = Vec::new();
    if v.starting {
        if v.count > 0 {
            p.push(if full { "vm-onefor-full" } else { "vm-onefor" }.to_string());
            p.extend(folder_name(v.folder));
        }
        p.push(if full { "vm-opts-full" } else { "vm-opts" }.to_string());
    } else {
        if full {
            p.push("vm-onefor-full".into());
            p.extend(folder_name(v.folder));
            p.push("vm-opts-full".into());
        }
        if v.cur > 0 {
            p.push("vm-prev".into());
        }
        if !full {
            p.push("vm-advopts".into());
        }
        p.push("vm-repeat".into());
        if v.cur < v.last() || more_after {
            p.push("vm-next".into());
        }
        p.push(
            if v.is_deleted() {
                "vm-undelete"
            } else {
                "vm-delete"
            }
            .into(),
        );
        p.push("vm-toforward".into());
        p.push("vm-savemessage".into());
    }
    p.push("vm-helpexit".into());
    p
}

/// "First message" / "last message" / "message N" (`play_message`, English).
pub fn message_number(v: &View, urgent: bool) -> Vec<String> {
    let mut p = Vec::new();
    if v.cur == 0 {
        p.push("vm-first".to_string());
    } else if v.cur == v.last() {
        p.push("vm-last".to_string());
    }
    if urgent {
        p.push("vm-Urgent".into());
    }
    p.push("vm-message".into());
    if v.cur != 0 && v.cur != v.last() {
        p.extend(vmsay::number(v.cur as i64 + 1));
    }
    p
}

// ---------------------------------------------------------------------------------------
// Channel helpers

/// Play prompts; any digit stops them and is returned.
async fn play(chan: &mut Channel, prompts: &[String]) -> Result<Option<char>, Hangup> {
    for p in prompts {
        if let Played::Digit(d) = stream(chan, p, ANY_DIGIT).await? {
            return Ok(Some(d));
        }
    }
    Ok(None)
}

async fn play1(chan: &mut Channel, prompt: &str) -> Result<Option<char>, Hangup> {
    play(chan, &[prompt.to_string()]).await
}

/// Play a prompt to its end (digits are ignored, as `ast_waitstream(chan, "")`).
async fn play_whole(chan: &mut Channel, prompt: &str) -> Result<(), Hangup> {
    stream(chan, prompt, "").await.map(|_| ())
}

/// Play prompts, then wait `wait` for a key.
async fn ask(
    chan: &mut Channel,
    prompts: &[String],
    wait: Duration,
) -> Result<Option<char>, Hangup> {
    match play(chan, prompts).await? {
        Some(d) => Ok(Some(d)),
        None => wait_digit(chan, wait).await,
    }
}

/// Collect digits to `#` after a prompt (its interrupting digit is the first one).
async fn read_after(chan: &mut Channel, prompt: &str) -> Result<String, Hangup> {
    let pending = play1(chan, prompt).await?;
    if pending == Some('#') {
        return Ok(String::new());
    }
    Ok(read_digits(chan, pending, 80, FIRST_DIGIT, NEXT_DIGIT, "#")
        .await?
        .0)
}

// ---------------------------------------------------------------------------------------
// Login

enum Login {
    Ok(Box<Mailbox>),
    /// `maxlogins` failures, or no mailbox entered: goodbye and hang up.
    Failed,
    /// `*` entered and an `a` extension exists: continue there.
    JumpA,
}

fn a_exists(chan: &Channel) -> bool {
    chan.pbx.dialplan().exists(
        &chan.context,
        "a",
        1,
        chan.caller.num.as_deref(),
        Utc::now(),
    )
}

/// app_voicemail's `vm_authenticate`. `given`: the mailbox named in the arguments (only
/// the password is asked then); `prefix` goes in front of what the caller enters.
async fn authenticate(
    chan: &mut Channel,
    given: Option<Given>,
    context: &str,
    prefix: &str,
    silent: bool,
    maxlogins: u32,
) -> Result<Login, Hangup> {
    let skipuser = given.is_some();
    let mut prompt: Option<&str> = (!skipuser && !silent).then_some("vm-login");
    let mut tries = 0u32;
    loop {
        let (mbox, entered) = match &given {
            Some(g) => (g.mailbox.clone(), g.name.clone()),
            None => {
                let pending = match prompt.take() {
                    Some(p) => play1(chan, p).await?,
                    None => None,
                };
                let mut digits = read_digits(chan, pending, 80, FIRST_DIGIT, NEXT_DIGIT, "#")
                    .await?
                    .0;
                if digits.is_empty() {
                    match chan.caller.num.clone().filter(|n| !n.is_empty()) {
                        Some(n) => digits = n,
                        None => {
                            chan.pbx.verbose_line(3, "Username not entered");
                            return Ok(Login::Failed);
                        }
                    }
                }
                if digits.starts_with('*') && a_exists(chan) {
                    chan.pbx.verbose_line(
                        4,
                        "Mailbox begins with '*', attempting jump to extension 'a'",
                    );
                    return Ok(Login::JumpA);
                }
                let full = format!("{prefix}{digits}");
                let pbx = chan.pbx.clone();
                let m = crate::voicemail::of(&pbx)
                    .find(&pbx, &format!("{full}@{context}"))
                    .await;
                (m, full)
            }
        };
        let password = match &mbox {
            Some(m) if m.password.is_empty() || m.password == "-" => String::new(),
            _ => read_after(chan, "vm-password").await?,
        };
        if password.starts_with('*') && a_exists(chan) {
            chan.pbx.verbose_line(
                4,
                "Password begins with '*', attempting jump to extension 'a'",
            );
            return Ok(Login::JumpA);
        }
        if let Some(m) = mbox.filter(|m| m.password.trim_start_matches('-') == password) {
            return Ok(Login::Ok(Box::new(m)));
        }
        chan.pbx.notice(&format!(
            "app_voicemail.c: Incorrect password '{password}' for user '{entered}' (context = {context})"
        ));
        tries += 1;
        if skipuser || tries >= maxlogins {
            play_whole(chan, "vm-incorrect").await?;
        } else {
            play_whole(chan, "vm-incorrect-mailbox").await?;
        }
        if tries >= maxlogins {
            play_whole(chan, "vm-goodbye").await?;
            return Ok(Login::Failed);
        }
    }
}

/// How asking for a new password went.
enum NewPassword {
    Ok(String),
    /// Refused (logged); the key that interrupted the refusal prompt, if any.
    Refused(Option<char>),
}

/// A mailbox named in the arguments (it may not exist: then no password is right).
struct Given {
    mailbox: Option<Mailbox>,
    name: String,
}

/// `mailbox[@context]` split, context `default` when absent.
fn split_spec(spec: &str) -> (String, String) {
    match spec.trim().split_once('@') {
        Some((m, c)) if !c.trim().is_empty() => (m.trim().to_string(), c.trim().to_string()),
        Some((m, _)) => (m.trim().to_string(), "default".into()),
        None => (spec.trim().to_string(), "default".into()),
    }
}

// ---------------------------------------------------------------------------------------
// The session

struct Session {
    mb: Mailbox,
    id: BoxId,
    cfg: Arc<VoicemailConfig>,
    view: View,
    in_urgent: bool,
    new: u32,
}

impl Session {
    fn flag(&self, name: &str, default: bool) -> bool {
        self.cfg.flag(&self.mb, name, default)
    }

    fn maxmsg(&self) -> u32 {
        self.cfg.num(&self.mb, "maxmsg")
    }

    async fn open(&mut self, chan: &Channel, folder: Folder) {
        let count = crate::voicemail::of(&chan.pbx)
            .store()
            .count(&self.id, folder)
            .await
            .unwrap_or(0);
        self.view = View::new(folder, count);
    }

    /// Apply the current folder's deletions and moves; the folder is then empty in
    /// memory (count 0) so a second close does nothing.
    async fn close(&mut self, chan: &Channel) {
        let plan = close_plan(&self.view, self.flag("moveheard", true));
        let store = crate::voicemail::of(&chan.pbx).store().clone();
        let f = self.view.folder;
        if !plan.remove.is_empty() {
            if let Err(e) = store.remove_many(&self.id, f, &plan.remove).await {
                chan.pbx.warning(&format!(
                    "app_voicemail.c: Unable to delete messages in {}/{}: {e}",
                    self.id,
                    f.name()
                ));
            }
        }
        let mut moved = 0;
        for n in &plan.to_old {
            match store
                .move_to(&self.id, f, n - moved, Folder::Old, self.maxmsg())
                .await
            {
                Ok(_) => moved += 1,
                Err(e) => chan.pbx.warning(&format!(
                    "app_voicemail.c: Unable to move message {} of {}/{} to Old: {e}",
                    n - moved,
                    self.id,
                    f.name()
                )),
            }
        }
        let changed = !plan.remove.is_empty() || moved > 0;
        self.view = View::new(f, 0);
        if changed {
            crate::voicemail::of(&chan.pbx).changed(&self.id).await;
        }
    }

    fn zone(&self) -> Option<(String, String)> {
        let tz = self.cfg.opt(&self.mb, "tz")?;
        let z = self.cfg.zones.iter().find(|z| z.name == tz)?;
        Some((z.timezone.clone(), z.format.clone()))
    }

    fn date_prompts(&self, origtime: i64) -> Vec<String> {
        let Some(t) = Utc.timestamp_opt(origtime, 0).single() else {
            return Vec::new();
        };
        let now = Utc::now();
        if let Some((tz, fmt)) = self.zone() {
            if let Ok(tz) = tz.parse::<chrono_tz::Tz>() {
                return vmsay::date_prompts(&fmt, &t.with_timezone(&tz), &now.with_timezone(&tz));
            }
        }
        vmsay::date_prompts(
            vmsay::DEFAULT_DATE_FORMAT,
            &t.with_timezone(&chrono::Local),
            &now.with_timezone(&chrono::Local),
        )
    }

    fn caller_prompts(info: &MessageInfo) -> Vec<String> {
        match info.caller_name_number().1 {
            Some(num) => {
                let mut v = vec!["vm-from-phonenumber".to_string()];
                v.extend(crate::apps::say::digits_prompts(&num));
                v
            }
            None => vec!["vm-unknown-caller".into()],
        }
    }

    async fn info(&self, chan: &Channel) -> Option<MessageInfo> {
        crate::voicemail::of(&chan.pbx)
            .store()
            .info(&self.id, self.view.folder, self.view.cur)
            .await
            .ok()
    }

    /// `play_message`: number, envelope, caller, duration, then the audio.
    async fn play_message(&mut self, chan: &mut Channel) -> Result<Option<char>, Hangup> {
        let info = self.info(chan).await.unwrap_or_default();
        self.view.starting = false;
        let mut p = message_number(&self.view, info.flag.eq_ignore_ascii_case("urgent"));
        if !info.category.is_empty() {
            p.push(info.category.clone());
        }
        if self.flag("envelope", true) {
            p.extend(self.date_prompts(info.origtime));
        }
        if self.flag("saycid", false) {
            p.extend(Self::caller_prompts(&info));
        }
        if self.flag("sayduration", true) {
            let min = self
                .cfg
                .opt(&self.mb, "saydurationm")
                .and_then(|v| v.trim().parse::<u32>().ok())
                .unwrap_or(2);
            let mins = info.duration / 60;
            if mins >= min {
                p.push("vm-duration".into());
                p.extend(vmsay::number(mins as i64));
                p.push("vm-minutes".into());
            }
        }
        // 1 during the announcements skips to the message itself.
        match play(chan, &p).await? {
            Some('1') | None => {}
            Some(d) => return Ok(Some(d)),
        }
        let audio = crate::voicemail::of(&chan.pbx)
            .store()
            .audio(&self.id, self.view.folder, self.view.cur)
            .await;
        let path = match audio {
            Ok(path) => path,
            Err(e) => {
                chan.pbx
                    .warning(&format!("app_voicemail.c: Unable to play message: {e}"));
                return Ok(None);
            }
        };
        let lang = chan.language.clone();
        let Some(prompt) = load_prompt(chan, &path.to_string_lossy(), &lang).await else {
            // Nothing was played (file.c's warning says why): the message stays new, it is
            // not moved to Old and the lamp stays on.
            return Ok(None);
        };
        // Heard once its audio starts, as app_voicemail (a hang-up while it plays counts).
        self.view.mark_heard();
        let skipms = self
            .cfg
            .opt(&self.mb, "skipms")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(3000);
        play_controlled(chan, prompt, skipms).await
    }

    /// The "no messages in this folder" phrase.
    async fn say_empty(&self, chan: &mut Channel) -> Result<Option<char>, Hangup> {
        let p = vec![
            "vm-youhave".to_string(),
            "vm-no".into(),
            format!("vm-{}", self.view.folder.name()),
            "vm-messages".into(),
        ];
        play(chan, &p).await
    }

    fn more_after(&self) -> bool {
        self.in_urgent && self.new > 0
    }

    /// Go to the next message (6, and after 7/9 with `nextaftercmd`).
    async fn next(&mut self, chan: &mut Channel) -> Result<Option<char>, Hangup> {
        if self.view.count > 0 && self.view.cur < self.view.last() {
            self.view.cur += 1;
            return self.play_message(chan).await;
        }
        if self.more_after() {
            self.close(chan).await;
            self.in_urgent = false;
            self.open(chan, Folder::Inbox).await;
            if self.view.count > 0 {
                return self.play_message(chan).await;
            }
        }
        if self.flag("messagewrap", false) && self.view.count > 1 {
            self.view.cur = 0;
            return self.play_message(chan).await;
        }
        play1(chan, "vm-nomore").await
    }

    /// After delete/save: `nextaftercmd` moves on.
    async fn after_cmd(
        &mut self,
        chan: &mut Channel,
        cmd: Option<char>,
    ) -> Result<Option<char>, Hangup> {
        if cmd.is_some() || !self.flag("nextaftercmd", false) {
            return Ok(cmd);
        }
        if self.view.cur < self.view.last() || self.more_after() {
            return self.next(chan).await;
        }
        play1(chan, "vm-nomore").await
    }

    /// `get_folder`: "press 0 for INBOX messages, 1 for Old messages, …, or # to cancel".
    async fn folder_list(chan: &mut Channel, start: usize) -> Result<Option<char>, Hangup> {
        if let Some(d) = play1(chan, "vm-press").await? {
            return Ok(Some(d));
        }
        for x in start..5 {
            let Some(f) = Folder::from_index(x) else {
                continue;
            };
            let mut p = vmsay::number(x as i64);
            p.push("vm-for".into());
            p.extend(folder_name(f));
            if let Some(d) = play(chan, &p).await? {
                return Ok(Some(d));
            }
            if let Some(d) = wait_digit(chan, Duration::from_millis(500)).await? {
                return Ok(Some(d));
            }
        }
        ask(chan, &["vm-tocancel".to_string()], Duration::from_secs(4)).await
    }

    /// `get_folder2`: a folder digit, or `#` (cancel, also after four silent rounds).
    async fn choose_folder(chan: &mut Channel, prompt: &str, start: usize) -> Result<char, Hangup> {
        let mut res = play1(chan, prompt).await?;
        let mut loops = 0;
        loop {
            match res {
                Some(d) if d.is_ascii_digit() || d == '#' => return Ok(d),
                _ if loops >= 4 => return Ok('#'),
                _ => {
                    res = Self::folder_list(chan, start).await?;
                    loops += 1;
                }
            }
        }
    }

    /// Key 9: save the current message to another folder.
    async fn save(&mut self, chan: &mut Channel) -> Result<Option<char>, Hangup> {
        if self.view.count == 0 {
            return Ok(None);
        }
        let d = Self::choose_folder(chan, "vm-savefolder", 1).await?;
        let Some(to) = d.to_digit(10).and_then(|i| Folder::from_index(i as usize)) else {
            return Ok(None);
        };
        if to != self.view.folder {
            let store = crate::voicemail::of(&chan.pbx).store().clone();
            let r = store
                .copy(
                    &self.id,
                    self.view.folder,
                    self.view.cur,
                    &self.id,
                    to,
                    self.maxmsg(),
                )
                .await;
            match r {
                Ok(_) => {
                    if let Some(x) = self.view.deleted.get_mut(self.view.cur as usize) {
                        *x = true;
                    }
                }
                Err(StoreError::Full(_)) => return play1(chan, "vm-mailboxfull").await,
                Err(e) => {
                    chan.pbx
                        .warning(&format!("app_voicemail.c: Unable to save message: {e}"));
                    return play1(chan, "vm-mailboxfull").await;
                }
            }
        }
        let mut p = vec!["vm-message".to_string()];
        p.extend(vmsay::number(self.view.cur as i64 + 1));
        p.push("vm-savedto".into());
        p.extend(folder_name(to));
        let cmd = play(chan, &p).await?;
        self.after_cmd(chan, cmd).await
    }

    /// Key 8 (`forward_message`): mailbox numbers of this context (`*` between several),
    /// each said back, then the forward options (1 prepend, 2 forward as is, * cancel;
    /// prepending is not offered yet: 1 forwards as 2), then the copies.
    async fn forward(&mut self, chan: &mut Channel) -> Result<Option<char>, Hangup> {
        let mut prompts = 0;
        let targets: Vec<Mailbox> = loop {
            prompts += 1;
            if prompts > 4 {
                return Ok(None);
            }
            let entered = read_after(chan, "vm-extension").await?;
            if entered.is_empty() {
                continue;
            }
            let mut found = Vec::new();
            let mut ok = true;
            for x in entered.split('*') {
                let m = if x == self.mb.mailbox {
                    None
                } else {
                    let pbx = chan.pbx.clone();
                    crate::voicemail::of(&pbx)
                        .find(&pbx, &format!("{x}@{}", self.mb.context))
                        .await
                };
                let Some(m) = m else {
                    chan.pbx
                        .notice(&format!("app_voicemail.c: '{x}' is not a valid mailbox"));
                    play_whole(chan, "pbx-invalid").await?;
                    ok = false;
                    break;
                };
                let to = box_id(&m);
                let store = &crate::voicemail::of(&chan.pbx).store();
                let have = store.count(&to, Folder::Inbox).await.unwrap_or(0)
                    + store.count(&to, Folder::Old).await.unwrap_or(0);
                let cap = self.cfg.num(&m, "maxmsg");
                if have >= cap {
                    chan.pbx.notice(&format!(
                        "app_voicemail.c: Mailbox '{x}' is full with capacity of {cap}, prompting for another extension."
                    ));
                    play_whole(chan, "vm-mailboxfull").await?;
                    ok = false;
                    break;
                }
                // The recorded name, else the number.
                let greet = with_ext(&store.greeting(&to, Greeting::Name), "wav");
                if blocking::exists(&greet).await {
                    let name = greet.with_extension("").to_string_lossy().to_string();
                    stream(chan, &name, "#").await?;
                } else {
                    for d in crate::apps::say::digits_prompts(x) {
                        if let Played::Digit(_) = stream(chan, &d, "#").await? {
                            break;
                        }
                    }
                }
                found.push(m);
            }
            if ok && !found.is_empty() {
                break found;
            }
        };
        let mut retries = 0;
        loop {
            let p = ["vm-forwardoptions".to_string(), "vm-starmain".into()];
            match ask(chan, &p, MENU_WAIT).await? {
                Some('1') | Some('2') => break,
                Some('*') => return Ok(None),
                _ => {
                    retries += 1;
                    if retries > 3 {
                        return Ok(None);
                    }
                }
            }
        }
        let store = crate::voicemail::of(&chan.pbx).store().clone();
        let mut all_ok = true;
        for t in &targets {
            let to = box_id(t);
            let _ = store.ensure(&to).await;
            let r = store
                .copy(
                    &self.id,
                    self.view.folder,
                    self.view.cur,
                    &to,
                    Folder::Inbox,
                    self.cfg.num(t, "maxmsg"),
                )
                .await;
            match r {
                Ok(_) => crate::voicemail::of(&chan.pbx).changed(&to).await,
                Err(e) => {
                    all_ok = false;
                    chan.pbx.warning(&format!(
                        "app_voicemail.c: Unable to forward message to {to}: {e}"
                    ));
                }
            }
        }
        play1(
            chan,
            if all_ok {
                "vm-msgsaved"
            } else {
                "vm-mailboxfull"
            },
        )
        .await
    }

    /// Key 2: change folder.
    async fn change_folder(&mut self, chan: &mut Channel) -> Result<Option<char>, Hangup> {
        let d = Self::choose_folder(chan, "vm-changeto", 0).await?;
        let Some(to) = d.to_digit(10).and_then(|i| Folder::from_index(i as usize)) else {
            return Ok(None);
        };
        self.close(chan).await;
        self.in_urgent = false;
        self.open(chan, to).await;
        play(chan, &folder_name(to)).await
    }

    /// Key 3: advanced options (3 = envelope; reply, callback, dial-out and sending a
    /// message are not offered yet: "sorry").
    async fn advanced(&mut self, chan: &mut Channel) -> Result<Option<char>, Hangup> {
        let mut repeats = 0;
        let mut cmd: Option<char> = None;
        loop {
            match cmd {
                Some('3') => {
                    if self.view.count > 0 && !self.view.starting {
                        let info = self.info(chan).await.unwrap_or_default();
                        let mut p = self.date_prompts(info.origtime);
                        p.extend(Self::caller_prompts(&info));
                        return play(chan, &p).await;
                    }
                    return play1(chan, "vm-sorry").await;
                }
                Some('1') | Some('2') | Some('4') | Some('5') => {
                    return play1(chan, "vm-sorry").await;
                }
                Some('*') => return Ok(None),
                Some('#') => return Ok(None),
                _ => {
                    let mut p = Vec::new();
                    if !self.view.starting {
                        p.push("vm-toreply".to_string());
                        p.push("vm-tohearenv".to_string());
                    }
                    p.push("vm-starmain".into());
                    cmd = ask(chan, &p, MENU_WAIT).await?;
                    if cmd.is_none() {
                        repeats += 1;
                        if repeats > 3 {
                            return Ok(None);
                        }
                    }
                }
            }
        }
    }

    /// Key 0: mailbox options.
    async fn options(&mut self, chan: &mut Channel) -> Result<Option<char>, Hangup> {
        let mut retries = 0;
        let mut cmd = None;
        loop {
            match cmd {
                Some('1') => {
                    self.record_greeting(chan, Greeting::Unavail, "vm-rec-unv")
                        .await?;
                    cmd = None;
                }
                Some('2') => {
                    self.record_greeting(chan, Greeting::Busy, "vm-rec-busy")
                        .await?;
                    cmd = None;
                }
                Some('3') => {
                    self.record_greeting(chan, Greeting::Name, "vm-rec-name")
                        .await?;
                    cmd = None;
                }
                Some('4') => {
                    self.temp_greeting(chan).await?;
                    cmd = None;
                }
                Some('5') => {
                    cmd = self.change_password(chan).await?;
                }
                Some('*') => return Ok(None),
                _ => {
                    let temp = crate::voicemail::of(&chan.pbx)
                        .store()
                        .greeting(&self.id, Greeting::Temp);
                    let mut p = Vec::new();
                    if blocking::exists(with_ext(&temp, "wav")).await {
                        p.push("vm-tmpexists".to_string());
                    }
                    p.push("vm-options".into());
                    cmd = ask(chan, &p, MENU_WAIT).await?;
                    if cmd.is_none() {
                        retries += 1;
                        if retries > 3 {
                            return Ok(None);
                        }
                    }
                }
            }
        }
    }

    /// `vm_tempgreeting`: record one, or with one present, 1 re-record / 2 erase.
    async fn temp_greeting(&mut self, chan: &mut Channel) -> Result<(), Hangup> {
        let base = crate::voicemail::of(&chan.pbx)
            .store()
            .greeting(&self.id, Greeting::Temp);
        let mut retries = 0;
        loop {
            if !blocking::exists(with_ext(&base, "wav")).await {
                return self
                    .record_greeting(chan, Greeting::Temp, "vm-rec-temp")
                    .await;
            }
            let cmd = ask(chan, &["vm-tempgreeting2".to_string()], MENU_WAIT).await?;
            match cmd {
                Some('1') => {
                    return self
                        .record_greeting(chan, Greeting::Temp, "vm-rec-temp")
                        .await;
                }
                Some('2') => {
                    blocking::remove_files(vec![with_ext(&base, "wav")]).await;
                    crate::voicemail::of(&chan.pbx)
                        .store()
                        .greeting_changed(&self.id, Greeting::Temp)
                        .await;
                    play_whole(chan, "vm-tempremoved").await?;
                    return Ok(());
                }
                Some('*') => return Ok(()),
                _ => {
                    retries += 1;
                    if retries > 3 {
                        return Ok(());
                    }
                }
            }
        }
    }

    /// `play_record_review` for the owner's recordings: prompt, beep, record to `#` or
    /// silence, then 1 accept / 2 listen / 3 re-record. The recording replaces the old
    /// one only when accepted.
    async fn record_greeting(
        &mut self,
        chan: &mut Channel,
        which: Greeting,
        prompt: &str,
    ) -> Result<(), Hangup> {
        let store = crate::voicemail::of(&chan.pbx).store().clone();
        let _ = store.ensure(&self.id).await;
        let target = with_ext(&store.greeting(&self.id, which), "wav");
        let tmp =
            store
                .scratch_dir(&self.id)
                .join(format!("{}-{}.wav", which.file(), chan.uniqueid()));
        let g = &self.cfg.general;
        let opts = RecordOpts {
            terminator: Some('#'),
            silence: (g.maxsilence > 0).then(|| Duration::from_secs(g.maxsilence as u64)),
            max: match self.cfg.num(&self.mb, "maxsecs") {
                0 => None,
                s => Some(Duration::from_secs(s as u64)),
            },
            silence_threshold: Some(g.silencethreshold),
            trim_silence: true,
            ..Default::default()
        };
        let mut cmd = Some('3');
        let mut exists = false;
        let mut recorded = false;
        let mut attempts = 0;
        let res = loop {
            match cmd {
                Some('1') if exists => {
                    chan.pbx.verbose_line(3, "Saving message as is");
                    let (from, to) = (tmp.clone(), target.clone());
                    let saved = blocking::io(move || {
                        if let Some(dir) = to.parent() {
                            let _ = std::fs::create_dir_all(dir);
                        }
                        std::fs::rename(from, to)
                    })
                    .await;
                    if let Err(e) = saved {
                        chan.pbx.warning(&format!(
                            "app_voicemail.c: Unable to save {}: {e}",
                            target.display()
                        ));
                    } else {
                        store.greeting_changed(&self.id, which).await;
                    }
                    break play_whole(chan, "vm-msgsaved").await;
                }
                Some('1') | Some('3') => {
                    chan.pbx.verbose_line(
                        3,
                        if recorded {
                            "Re-recording the message"
                        } else {
                            "Recording the message"
                        },
                    );
                    recorded = true;
                    if let Err(h) = play_whole(chan, prompt).await {
                        break Err(h);
                    }
                    if let Err(h) = play_whole(chan, "beep").await {
                        break Err(h);
                    }
                    match record_file(chan, &tmp, "wav", &opts).await {
                        Ok(r) if r.ended == Ended::Hangup => break Err(Hangup),
                        Ok(r) => {
                            exists = r.samples > 0;
                            cmd = None;
                        }
                        Err(e) => {
                            chan.pbx.warning(&format!(
                                "app_voicemail.c: Unable to record {}: {e}",
                                tmp.display()
                            ));
                            break Ok(());
                        }
                    }
                }
                Some('2') if exists => {
                    chan.pbx.verbose_line(3, "Reviewing the message");
                    let name = tmp.with_extension("").to_string_lossy().to_string();
                    cmd = match play1(chan, &name).await {
                        Ok(d) => d,
                        Err(h) => break Err(h),
                    };
                }
                Some('*') | Some('#') if !exists => break Ok(()),
                _ => {
                    let p = if exists { "vm-review" } else { "vm-torerecord" };
                    cmd = match ask(chan, &[p.to_string()], MENU_WAIT).await {
                        Ok(d) => d,
                        Err(h) => break Err(h),
                    };
                    if cmd.is_none() {
                        attempts += 1;
                        if attempts > 3 {
                            break Ok(());
                        }
                    }
                }
            }
        };
        blocking::remove_files(vec![tmp]).await;
        res
    }

    /// Ask for a new password twice (`vm-newpassword`, `vm-reenterpassword`); the
    /// refusals are logged and their prompt played.
    async fn new_password(&self, chan: &mut Channel) -> Result<NewPassword, Hangup> {
        let first = play1(chan, "vm-newpassword").await?;
        let new = match first {
            Some('#') => String::new(),
            d => {
                read_digits(chan, d, 80, FIRST_DIGIT, NEXT_DIGIT, "#")
                    .await?
                    .0
            }
        };
        let min = self.cfg.num(&self.mb, "minpassword") as usize;
        if new.is_empty() || new.len() < min || new.starts_with('*') {
            chan.pbx.notice(&format!(
                "app_voicemail.c: Invalid password for user {} ({new})",
                self.mb.mailbox
            ));
            return Ok(NewPassword::Refused(
                play1(chan, "vm-invalid-password").await?,
            ));
        }
        let again = read_after(chan, "vm-reenterpassword").await?;
        if again != new {
            chan.pbx.notice(&format!(
                "app_voicemail.c: Password mismatch for user {} ({new} != {again})",
                self.mb.mailbox
            ));
            return Ok(NewPassword::Refused(play1(chan, "vm-mismatch").await?));
        }
        Ok(NewPassword::Ok(new))
    }

    /// Store the new password (voicemail.conf) and say so.
    async fn set_password(
        &mut self,
        chan: &mut Channel,
        new: String,
    ) -> Result<Option<char>, Hangup> {
        match save_password(&chan.pbx, &self.mb, &new).await {
            Ok(()) => {
                self.mb.password = new;
                self.cfg = crate::voicemail::of(&chan.pbx).config();
                play1(chan, "vm-passchanged").await
            }
            Err(e) => {
                chan.pbx.warning(&format!(
                    "app_voicemail.c: Unable to change the password of {}: {e}",
                    self.id
                ));
                play1(chan, "vm-sorry").await
            }
        }
    }

    /// Key 0,5: new password twice, then saved to voicemail.conf.
    async fn change_password(&mut self, chan: &mut Channel) -> Result<Option<char>, Hangup> {
        if self.mb.password.starts_with('-') {
            return play1(chan, "vm-no").await;
        }
        match self.new_password(chan).await? {
            NewPassword::Ok(new) => self.set_password(chan, new).await,
            NewPassword::Refused(Some(d)) => Ok(Some(d)),
            NewPassword::Refused(None) => play1(chan, "vm-pls-try-again").await,
        }
    }

    /// `vm_newuser`: with `forcename`/`forcegreetings` and the password still equal to the
    /// mailbox number, the owner must choose a password (3 tries, else hang-up), then record
    /// the name and/or greetings that are missing.
    async fn new_user(&mut self, chan: &mut Channel) -> Result<(), Hangup> {
        play_whole(chan, "vm-newuser").await?;
        let mut tries = 0;
        let new = loop {
            match self.new_password(chan).await? {
                NewPassword::Ok(new) => break new,
                NewPassword::Refused(_) => {
                    tries += 1;
                    if tries == 3 {
                        return Err(Hangup);
                    }
                    play_whole(chan, "vm-pls-try-again").await?;
                }
            }
        };
        self.set_password(chan, new).await?;
        let store = crate::voicemail::of(&chan.pbx).store().clone();
        let missing = |g| {
            let path = with_ext(&store.greeting(&self.id, g), "wav");
            async move { !blocking::exists(path).await }
        };
        let mut todo = Vec::new();
        if self.flag("forcename", false) && missing(Greeting::Name).await {
            todo.push((Greeting::Name, "vm-rec-name"));
        }
        if self.flag("forcegreetings", false) {
            if missing(Greeting::Unavail).await {
                todo.push((Greeting::Unavail, "vm-rec-unv"));
            }
            if missing(Greeting::Busy).await {
                todo.push((Greeting::Busy, "vm-rec-busy"));
            }
        }
        for (g, prompt) in todo {
            self.record_greeting(chan, g, prompt).await?;
        }
        Ok(())
    }

    /// The main menu loop; returns when the caller exits (`#` or no key three times).
    async fn run(&mut self, chan: &mut Channel, mut cmd: Option<char>) -> Result<(), Hangup> {
        let mut repeats = 0;
        loop {
            let c = match cmd.take() {
                Some(c) => c,
                None => {
                    let full = false;
                    let p = instructions(&self.view, full, self.more_after());
                    match ask(chan, &p, MENU_WAIT).await? {
                        Some(c) => {
                            repeats = 0;
                            c
                        }
                        None => {
                            repeats += 1;
                            if repeats > 2 {
                                return Ok(());
                            }
                            continue;
                        }
                    }
                }
            };
            cmd = match c {
                '1' => {
                    self.view.cur = 0;
                    if self.view.count > 0 {
                        self.play_message(chan).await?
                    } else {
                        self.say_empty(chan).await?
                    }
                }
                '5' => {
                    if self.view.count > 0 {
                        self.play_message(chan).await?
                    } else {
                        self.say_empty(chan).await?
                    }
                }
                '2' => self.change_folder(chan).await?,
                '3' => self.advanced(chan).await?,
                '4' => {
                    if self.view.count > 0 && self.view.cur > 0 {
                        self.view.cur -= 1;
                        self.play_message(chan).await?
                    } else if self.flag("messagewrap", false) && self.view.count > 1 {
                        self.view.cur = self.view.last();
                        self.play_message(chan).await?
                    } else {
                        play1(chan, "vm-nomore").await?
                    }
                }
                '6' => self.next(chan).await?,
                '7' => {
                    if self.view.count > 0 {
                        let p = if self.view.toggle_delete() {
                            "vm-deleted"
                        } else {
                            "vm-undeleted"
                        };
                        let d = play1(chan, p).await?;
                        if self.view.is_deleted() {
                            self.after_cmd(chan, d).await?
                        } else {
                            d
                        }
                    } else {
                        None
                    }
                }
                '8' => {
                    if self.view.count > 0 {
                        self.forward(chan).await?
                    } else {
                        play1(chan, "vm-nomore").await?
                    }
                }
                '9' => self.save(chan).await?,
                '*' if self.view.starting => None,
                '*' => {
                    let mut p = vec!["vm-onefor".to_string()];
                    p.extend(folder_name(self.view.folder));
                    p.push("vm-opts".into());
                    p.extend(instructions(&self.view, true, self.more_after()));
                    ask(chan, &p, MENU_WAIT).await?
                }
                '0' => self.options(chan).await?,
                '#' => return Ok(()),
                _ => None,
            };
        }
    }
}

fn with_ext(base: &Path, ext: &str) -> PathBuf {
    let mut s = base.as_os_str().to_owned();
    s.push(".");
    s.push(ext);
    PathBuf::from(s)
}

/// Play a message file with app_voicemail's listening keys: `*` back and `#` ahead by
/// `skipms`, `2` from the start, `0` pause (any key resumes); other keys stop it and are
/// returned as the next command.
async fn play_controlled(
    chan: &mut Channel,
    mut prompt: crate::media::prompt::Prompt,
    skipms: u64,
) -> Result<Option<char>, Hangup> {
    let skip = (skipms / 20).max(1) as usize;
    loop {
        if let Some(d) = poll_digit(chan) {
            let i = prompt.frame_index();
            match d {
                '*' => prompt.seek_frame(i.saturating_sub(skip)),
                '#' => prompt.seek_frame(i + skip),
                '2' => prompt.seek_frame(0),
                '0' => {
                    // Paused until a key; that key is consumed.
                    loop {
                        if wait_digit(chan, Duration::from_secs(3600)).await?.is_some() {
                            break;
                        }
                    }
                }
                d => return Ok(Some(d)),
            }
            continue;
        }
        let Some(f) = prompt.next_frame().await else {
            break;
        };
        chan.write_frame(f).await?;
    }
    chan.flush_output().await?;
    Ok(poll_digit(chan))
}

/// Store a new password: in realtime storage for a realtime mailbox (app_voicemail's
/// `change_password_realtime`, keyed by context and mailbox), else in the mailbox's
/// voicemail.conf line (on the blocking pool), reloading the config.
async fn save_password(pbx: &Arc<crate::pbx::Pbx>, mb: &Mailbox, new: &str) -> Result<(), String> {
    if mb.realtime.is_some() {
        if mb.password == new {
            return Ok(());
        }
        let lookup = crate::pbx::realtime::fields(&[
            ("context", mb.context.as_str()),
            ("mailbox", mb.mailbox.as_str()),
        ]);
        let set = crate::pbx::realtime::fields(&[("password", new)]);
        return match pbx.realtime.update2("voicemail", &lookup, &set).await {
            Ok(n) if n > 0 => Ok(()),
            Ok(_) => Err("realtime storage updated no row".into()),
            Err(e) => Err(e.to_string()),
        };
    }
    let (pbx, mb, new) = (pbx.clone(), mb.clone(), new.to_string());
    tokio::task::spawn_blocking(move || save_password_file(&pbx, &mb, &new))
        .await
        .map_err(|e| e.to_string())?
}

/// Rewrite the mailbox's password in its voicemail.conf line and reload the config.
fn save_password_file(pbx: &Arc<crate::pbx::Pbx>, mb: &Mailbox, new: &str) -> Result<(), String> {
    let settings = &pbx.settings;
    let file = Path::new(&*mb.loc.file);
    // The loader records the path it read (also for #include'd files).
    let path = if file.is_absolute() || file.is_file() {
        file.to_path_buf()
    } else if file.as_os_str().is_empty() {
        settings.astetcdir.join("voicemail.conf")
    } else {
        settings.astetcdir.join(file)
    };
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let out = rewrite_password(&text, Some(mb.loc.line), &mb.context, &mb.mailbox, new)
        .ok_or_else(|| {
            format!(
                "{}: no line for mailbox {}@{}",
                path.display(),
                mb.mailbox,
                mb.context
            )
        })?;
    write_atomically(&path, &out).map_err(|e| format!("{}: {e}", path.display()))?;
    pbx.verbose_line(
        4,
        &format!(
            "Writing voicemail password to file {}: {}@{}",
            path.display(),
            mb.mailbox,
            mb.context
        ),
    );
    crate::voicemail::of(pbx)
        .reload(settings)
        .map(|_| ())
        .map_err(|e| {
            e.iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join("; ")
        })
}

// ---------------------------------------------------------------------------------------
// The applications

pub struct VoiceMailMain;

#[async_trait]
impl App for VoiceMailMain {
    fn name(&self) -> &'static str {
        "VoiceMailMain"
    }
    fn synopsis(&self) -> &'static str {
        "Check Voicemail messages."
    }
    fn syntax(&self) -> &'static str {
        "VoiceMailMain([mailbox][@context][,options])"
    }
    fn description(&self) -> &'static str {
        "This application allows the calling party to check voicemail messages. A specific mailbox, and optional corresponding context, may be specified. If a mailbox is not provided, the calling party will be prompted to enter one. If a context is not specified, the 'default' context will be used. Entering * as mailbox or password jumps to the 'a' extension of the current context when it exists. Options: p — the mailbox argument is a prefix to the mailbox the caller enters; s — skip checking the password; a(folder) — start in this folder (0 INBOX, 1 Old, 2 Work, 3 Family, 4 Friends, 5-9 Cust1-5). Keys: 1 first message, 2 change folder, 3 advanced options (3 envelope), 4 previous, 5 repeat, 6 next, 7 delete/undelete, 8 forward, 9 save, * help, # exit, 0 mailbox options (1 unavailable greeting, 2 busy greeting, 3 name, 4 temporary greeting, 5 password). After vm-goodbye (exit with #, or maxlogins failed logins) the dialplan continues."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let a = args::split(data, ',');
        let mut opts = args::options(args::nth(&a, 1).trim());
        if !chan.is_up() {
            chan.answer();
        }
        let cfg = crate::voicemail::of(&chan.pbx).config();
        let mut first_arg = args::nth(&a, 0).trim();
        if a.len() < 2 {
            // The old form: option letters s and p in front of the mailbox.
            while let Some(c) = first_arg.chars().next().filter(|c| *c == 's' || *c == 'p') {
                opts.insert(c, None);
                first_arg = &first_arg[1..];
            }
        }
        let (mbox_arg, context) = split_spec(first_arg);
        let prefix_mode = opts.contains_key(&'p');
        let given = if prefix_mode || mbox_arg.is_empty() {
            None
        } else {
            let pbx = chan.pbx.clone();
            crate::voicemail::of(&pbx)
                .find(&pbx, &format!("{mbox_arg}@{context}"))
                .await
        };
        let prefix = if prefix_mode {
            mbox_arg.clone()
        } else {
            String::new()
        };
        let mb = match (&given, opts.contains_key(&'s')) {
            (Some(m), true) => m.clone(),
            _ => {
                let max = cfg.general.maxlogins.max(1);
                let given = given.map(|m| Given {
                    name: m.mailbox.clone(),
                    mailbox: Some(m),
                });
                match authenticate(chan, given, &context, &prefix, false, max).await? {
                    Login::Ok(m) => *m,
                    // app_voicemail returns 0 here: the dialplan goes on (vm-goodbye played).
                    Login::Failed => return Ok(()),
                    Login::JumpA => {
                        let ctx = chan.context.clone();
                        chan.goto(&ctx, "a", 1);
                        return Ok(());
                    }
                }
            }
        };
        let id = box_id(&mb);
        let store = crate::voicemail::of(&chan.pbx).store().clone();
        if let Err(e) = store.ensure(&id).await {
            chan.pbx.warning(&format!(
                "app_voicemail.c: Unable to create {}: {e}",
                store.mailbox_dir(&id).display()
            ));
        }
        let count = |f| {
            let store = store.clone();
            let id = id.clone();
            async move { store.count(&id, f).await.unwrap_or(0) }
        };
        let (new, old, urgent) = (
            count(Folder::Inbox).await,
            count(Folder::Old).await,
            count(Folder::Urgent).await,
        );
        let mut s = Session {
            mb,
            id,
            cfg,
            view: View::new(Folder::Inbox, 0),
            in_urgent: false,
            new,
        };
        let start = opts.get(&'a').and_then(|v| v.as_deref()).and_then(|v| {
            let v = v.trim();
            v.parse::<usize>()
                .ok()
                .and_then(Folder::from_index)
                .or_else(|| Folder::from_name(v))
        });
        let first = match start {
            Some(_) if urgent > 0 => {
                s.in_urgent = true;
                Folder::Urgent
            }
            Some(f) => f,
            None if urgent > 0 => {
                s.in_urgent = true;
                Folder::Urgent
            }
            None if new == 0 && old > 0 => Folder::Old,
            None => Folder::Inbox,
        };
        s.open(chan, first).await;
        // IMAP greetings: the server's copies before any greeting is looked at.
        store.sync_greetings(&s.id).await;
        let newuser = s.mb.password == s.mb.mailbox
            && (s.flag("forcename", false) || s.flag("forcegreetings", false));
        if newuser {
            if let Err(h) = s.new_user(chan).await {
                s.close(chan).await;
                return Err(h);
            }
        }
        // Part of the introduction (vm_intro), so not with a(folder).
        if start.is_none() && s.flag("tempgreetwarn", false) {
            let temp = with_ext(&store.greeting(&s.id, Greeting::Temp), "wav");
            if blocking::exists(temp).await {
                if let Err(h) = play_whole(chan, "vm-tempgreetactive").await {
                    s.close(chan).await;
                    return Err(h);
                }
            }
        }
        let res = if start.is_some() {
            // a(folder): no introduction, the first message plays at once; an empty
            // folder is announced and the session ends.
            if s.view.count == 0 {
                s.say_empty(chan).await.map(|_| ())
            } else {
                s.run(chan, Some('1')).await
            }
        } else {
            match play(chan, &vmsay::intro_prompts(urgent, new, old)).await {
                Ok(cmd) => s.run(chan, cmd).await,
                Err(h) => Err(h),
            }
        };
        // Deletions and heard messages are applied however the session ended.
        s.close(chan).await;
        crate::voicemail::of(&chan.pbx).changed(&s.id).await;
        res?;
        // As app_voicemail: goodbye, then the dialplan continues (usually to Hangup()).
        play_whole(chan, "vm-goodbye").await?;
        Ok(())
    }
}

pub struct VmAuthenticate;

#[async_trait]
impl App for VmAuthenticate {
    fn name(&self) -> &'static str {
        "VMAuthenticate"
    }
    fn synopsis(&self) -> &'static str {
        "Authenticate with Voicemail passwords."
    }
    fn syntax(&self) -> &'static str {
        "VMAuthenticate([mailbox][@context][,options])"
    }
    fn description(&self) -> &'static str {
        "This application behaves the same way as the Authenticate application, but the passwords are taken from voicemail.conf. If the mailbox is specified, only that mailbox's password will be considered valid. If the mailbox is not specified, the channel variable AUTH_MAILBOX will be set with the authenticated mailbox. The channel variable AUTH_CONTEXT is set too. Entering * as mailbox or password jumps to the 'a' extension of the current context when it exists. Options: s — skip playing the initial prompts. Hangs up after 3 failed tries."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let a = args::split(data, ',');
        let opts = args::options(args::nth(&a, 1).trim());
        if !chan.is_up() {
            chan.answer();
        }
        let (mbox_arg, context) = split_spec(args::nth(&a, 0));
        let given = if mbox_arg.is_empty() {
            None
        } else {
            let pbx = chan.pbx.clone();
            Some(Given {
                mailbox: crate::voicemail::of(&pbx)
                    .find(&pbx, &format!("{mbox_arg}@{context}"))
                    .await,
                name: mbox_arg.clone(),
            })
        };
        // app_voicemail's VMAuthenticate allows 3 tries whatever maxlogins says.
        let max = 3;
        let silent = opts.contains_key(&'s');
        match authenticate(chan, given, &context, "", silent, max).await? {
            Login::Ok(m) => {
                chan.set_var("AUTH_MAILBOX", &m.mailbox);
                chan.set_var("AUTH_CONTEXT", &m.context);
                play_whole(chan, "auth-thankyou").await?;
                Ok(())
            }
            Login::Failed => Err(Hangup),
            Login::JumpA => {
                let ctx = chan.context.clone();
                chan.goto(&ctx, "a", 1);
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_plan_removes_deleted_and_moves_heard_new() {
        let mut v = View::new(Folder::Inbox, 4);
        v.heard = vec![true, true, false, true];
        v.deleted = vec![false, true, false, false];
        let p = close_plan(&v, true);
        assert_eq!(p.remove, [1]);
        // After removing 1: old 0 → 0, old 3 → 2.
        assert_eq!(p.to_old, [0, 2]);
        assert_eq!(close_plan(&v, false).to_old, Vec::<u32>::new());
        let mut old = View::new(Folder::Old, 2);
        old.heard = vec![true, true];
        assert_eq!(close_plan(&old, true), ClosePlan::default());
    }

    #[test]
    fn cursor_and_menu() {
        let mut v = View::new(Folder::Inbox, 3);
        assert_eq!(
            instructions(&v, false, false),
            [
                "vm-onefor",
                "vm-INBOX",
                "vm-messages",
                "vm-opts",
                "vm-helpexit"
            ]
        );
        assert_eq!(message_number(&v, false), ["vm-first", "vm-message"]);
        v.mark_heard();
        v.cur = 1;
        assert_eq!(message_number(&v, false), ["vm-message", "digits/2"]);
        assert!(v.toggle_delete());
        assert_eq!(
            instructions(&v, false, false),
            [
                "vm-prev",
                "vm-advopts",
                "vm-repeat",
                "vm-next",
                "vm-undelete",
                "vm-toforward",
                "vm-savemessage",
                "vm-helpexit"
            ]
        );
        assert!(!v.toggle_delete());
        // After *: the folder again, no advanced options.
        assert_eq!(
            instructions(&v, true, false)[..4],
            ["vm-onefor-full", "vm-INBOX", "vm-messages", "vm-opts-full"]
        );
        assert!(!instructions(&v, true, false).contains(&"vm-advopts".to_string()));
        v.cur = 2;
        assert_eq!(message_number(&v, false), ["vm-last", "vm-message"]);
        assert!(!instructions(&v, false, false).contains(&"vm-next".to_string()));
        let empty = View::new(Folder::Old, 0);
        assert_eq!(
            instructions(&empty, false, false),
            ["vm-opts", "vm-helpexit"]
        );
    }

    #[test]
    fn password_rewrite_keeps_everything_else() {
        let text = "[general]\nmaxlogins=3\n\n[default]\n; 100 => 1111,commented\n100 => 1234,Jane Doe,jane@example.com,,attach=no|tz=central\r\n101=>9999\n\n[other]\n100 => 1234,Other\n";
        let out = rewrite_password(text, Some(6), "default", "100", "4321").expect("found");
        assert_eq!(
            out,
            text.replacen("100 => 1234,Jane", "100 => 4321,Jane", 1)
        );
        let out = rewrite_password(text, None, "default", "101", "55").expect("found");
        assert!(out.contains("101=>55\n"), "{out}");
        let out = rewrite_password(text, None, "other", "100", "0").expect("found");
        assert!(out.ends_with("100 => 0,Other\n"), "{out}");
        assert!(out.contains("100 => 1234,Jane"));
        assert_eq!(rewrite_password(text, None, "default", "102", "1"), None);
    }

    #[test]
    fn specs() {
        assert_eq!(split_spec("100@sales"), ("100".into(), "sales".into()));
        assert_eq!(split_spec("100"), ("100".into(), "default".into()));
        assert_eq!(split_spec("@x"), ("".into(), "x".into()));
    }

    #[tokio::test]
    async fn closing_applies_to_the_store() {
        use crate::voicemail::store::{FileStore, MessageStore};
        let t = tempfile::tempdir().expect("tmp");
        let st = FileStore::new(t.path().join("voicemail"));
        let mb = BoxId::parse("100@default");
        st.ensure(&mb).await.expect("ensure");
        for i in 0..3u32 {
            let p = st.scratch_dir(&mb).join(format!("r{i}.wav"));
            std::fs::write(&p, [i as u8; 4]).expect("write");
            let info = MessageInfo {
                duration: i,
                ..Default::default()
            };
            st.deliver(&mb, Folder::Inbox, &p, &info, 100)
                .await
                .expect("deliver");
        }
        let mut v = View::new(Folder::Inbox, 3);
        v.heard = vec![true, true, true];
        v.deleted = vec![false, true, false];
        let plan = close_plan(&v, true);
        st.remove_many(&mb, Folder::Inbox, &plan.remove)
            .await
            .expect("remove");
        for (moved, n) in plan.to_old.iter().enumerate() {
            st.move_to(&mb, Folder::Inbox, n - moved as u32, Folder::Old, 100)
                .await
                .expect("move");
        }
        assert_eq!(st.count(&mb, Folder::Inbox).await.expect("count"), 0);
        assert_eq!(st.count(&mb, Folder::Old).await.expect("count"), 2);
        assert_eq!(
            st.info(&mb, Folder::Old, 0).await.expect("info").duration,
            0
        );
        assert_eq!(
            st.info(&mb, Folder::Old, 1).await.expect("info").duration,
            2
        );
    }

    // ---- Whole sessions through a channel whose media the test controls: keys are
    // queued before the application runs, prompts are drained as fast as they are
    // written, and timeouts run on tokio's paused clock.

    struct Rig {
        chan: Channel,
        media: crate::pbx::media::MediaHandle,
        dir: tempfile::TempDir,
    }

    fn rig() -> Rig {
        use crate::pbx::media::{MediaHandle, NativeFormat};
        let dir = tempfile::tempdir().expect("tempdir");
        let mut settings =
            crate::config::settings::Settings::defaults_for(Path::new("/nonexistent/ferrisk.conf"));
        settings.astdatadir = dir.path().join("data");
        settings.astspooldir = dir.path().join("spool");
        settings.astetcdir = dir.path().to_path_buf();
        let db = crate::astdb::AstDb::open_in_memory().expect("astdb");
        let pbx = crate::pbx::Pbx::new(settings, db);
        crate::modules::load_for_tests(&pbx);
        let text = "[general]\nmaxlogins=3\n[default]\n100 => 1234,Test User\n";
        std::fs::write(dir.path().join("voicemail.conf"), text).expect("conf");
        if let Err(e) = crate::voicemail::of(&pbx).reload(&pbx.settings) {
            panic!("voicemail.conf: {e:?}");
        }
        let mut chan = Channel::new(
            &pbx,
            "Test/vm-0001".into(),
            Arc::new(crate::pbx::channel::NullTech),
        );
        chan.context = "t".into();
        let media = MediaHandle::new(NativeFormat::Ulaw);
        chan.media = Some(media.clone());
        let q = media.to_far.clone();
        tokio::spawn(async move { while q.pop().await.is_some() {} });
        Rig { chan, media, dir }
    }

    impl Rig {
        fn keys(&self, s: &str) {
            for d in s.chars() {
                self.media
                    .from_far
                    .push_lossy(crate::pbx::media::Frame::Dtmf(
                        d,
                        Duration::from_millis(100),
                    ));
            }
        }
        fn inbox(&self) -> PathBuf {
            self.dir.path().join("spool/voicemail/default/100/INBOX")
        }
        fn count(&self, folder: &str) -> usize {
            std::fs::read_dir(
                self.dir
                    .path()
                    .join("spool/voicemail/default/100")
                    .join(folder),
            )
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .filter(|e| e.file_name().to_string_lossy().ends_with(".txt"))
                    .count()
            })
            .unwrap_or(0)
        }
        fn message(&self, n: u32) {
            std::fs::create_dir_all(self.inbox()).expect("inbox");
            std::fs::write(
                self.inbox().join(format!("msg{n:04}.wav")),
                crate::media::wav::wav_bytes(&[100; 1600]),
            )
            .expect("wav");
            let info = MessageInfo {
                origmailbox: "100".into(),
                callerid: format!("<20{n:02}>"),
                origtime: 1_700_000_000,
                duration: 1,
                ..Default::default()
            };
            std::fs::write(self.inbox().join(format!("msg{n:04}.txt")), info.render())
                .expect("txt");
        }
        async fn run(&mut self, data: &str) -> AppResult {
            VoiceMailMain.exec(&mut self.chan, data).await
        }
    }

    #[tokio::test(start_paused = true)]
    async fn seven_then_pound_deletes_and_the_dialplan_continues() {
        let mut r = rig();
        r.message(0);
        r.message(1);
        // Password, 7 on the first message (interrupting "first message"), exit.
        r.keys("1234#7#");
        assert!(r.run("100@default").await.is_ok(), "goodbye, then on");
        assert_eq!(r.count("INBOX"), 1);
        assert_eq!(r.count("Old"), 0, "the other message was not heard");
        let left = std::fs::read_to_string(r.inbox().join("msg0000.txt")).expect("txt");
        assert!(left.contains("callerid=<2001>"), "{left}");
    }

    #[tokio::test(start_paused = true)]
    async fn heard_message_moves_to_old_when_the_caller_goes_quiet() {
        let mut r = rig();
        r.message(0);
        r.keys("1234#1");
        // Three silent menus end the session as # does.
        assert!(r.run("100@default").await.is_ok());
        assert_eq!((r.count("INBOX"), r.count("Old")), (0, 1));
    }

    #[tokio::test(start_paused = true)]
    async fn hang_up_mid_session_still_applies_the_changes() {
        let mut r = rig();
        r.message(0);
        r.message(1);
        // Delete the first, hear the second, then the line goes away in the menu.
        r.keys("1234#1765");
        let shared = r.chan.shared.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(3)).await;
            shared.request_hangup(16);
        });
        assert!(
            r.run("100@default").await.is_err(),
            "a hang-up ends the app"
        );
        assert_eq!((r.count("INBOX"), r.count("Old")), (0, 1));
        let old = std::fs::read_to_string(
            r.dir
                .path()
                .join("spool/voicemail/default/100/Old/msg0000.txt"),
        )
        .expect("txt");
        assert!(old.contains("callerid=<2001>"), "{old}");
    }

    #[tokio::test(start_paused = true)]
    async fn wrong_passwords_end_after_maxlogins() {
        let mut r = rig();
        r.message(0);
        // Keys pressed during vm-incorrect are dropped as Asterisk drops them, so only
        // the first attempt is typed; the other two time out (empty passwords).
        r.keys("9999#");
        assert!(
            r.run("100@default").await.is_ok(),
            "vm-goodbye, then the dialplan"
        );
        assert_eq!(r.count("INBOX"), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn urgent_first_then_new_and_mwi_is_told() {
        let mut r = rig();
        r.message(0);
        let urgent = r.dir.path().join("spool/voicemail/default/100/Urgent");
        std::fs::create_dir_all(&urgent).expect("urgent");
        for ext in ["wav", "txt"] {
            std::fs::rename(
                r.inbox().join(format!("msg0000.{ext}")),
                urgent.join(format!("msg0000.{ext}")),
            )
            .expect("move");
        }
        r.message(0);
        let mut mwi = crate::voicemail::of(&r.chan.pbx).events.subscribe_mwi();
        // 1 plays the urgent message; 6 (typed during the menu) goes on to the new one.
        r.keys("1234#1");
        let q = r.media.from_far.clone();
        tokio::spawn(async move {
            for k in ['6', '#'] {
                tokio::time::sleep(Duration::from_secs(1)).await;
                q.push_lossy(crate::pbx::media::Frame::Dtmf(
                    k,
                    Duration::from_millis(100),
                ));
            }
        });
        assert!(r.run("100@default").await.is_ok());
        assert_eq!(
            (r.count("Urgent"), r.count("INBOX"), r.count("Old")),
            (0, 0, 2)
        );
        let mut last = None;
        while let Ok(st) = mwi.try_recv() {
            last = Some(st);
        }
        let last = last.expect("an MWI update");
        assert_eq!((last.new, last.old), (0, 2));
    }
}
