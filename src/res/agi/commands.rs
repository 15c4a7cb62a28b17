//! The AGI commands: each one acts on the channel with ferrisk's building blocks (prompt
//! playback, digit collection, recording, Say, the AstDB, the application registry,
//! Gosub) and writes res_agi's reply. The result codes follow res_agi.c (and app_stack.c
//! for GOSUB): a digit is answered with its character code, a hangup during the command
//! with `result=-1` and [`CmdResult::Failure`].

use super::protocol::{digit_code, CmdResult, CommandSpec};
use super::run::Link;
use super::say;
use crate::apps::playback::{load_prompt, poll_digit, stream, Played};
use crate::apps::read::{get_data, GetData};
use crate::apps::record::{record_file, Ended, RecordOpts};
use crate::apps::waitexten::wait_digit;
use crate::funcs::channel::digit_timeout_ms;
use crate::pbx::channel::{CallerId, ChanState};
use crate::pbx::exec::{self, End};
use crate::pbx::{Channel, Hangup};
use chrono::{DateTime, Utc};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use CmdResult::{Failure, ShowUsage, Success};

/// Samples in one 20 ms frame at 8 kHz.
const FRAME_SAMPLES: i64 = 160;

/// [`play_from`]'s position when the script's next command stopped the prompt (with
/// `Played::Missing`, which a played prompt never reports otherwise).
const NEW_COMMAND: i64 = -1;

/// Run the command `spec` names with the words `argv` (the command's own words first).
pub async fn run(
    link: &mut Link,
    chan: &mut Channel,
    spec: &CommandSpec,
    argv: &[String],
) -> CmdResult {
    let a: Vec<&str> = argv.iter().map(String::as_str).collect();
    let argc = a.len();
    let name = spec.words.join(" ");
    match name.as_str() {
        "answer" => {
            if chan.state != ChanState::Up {
                chan.answer();
            }
            link.send(chan, "200 result=0\n").await;
            Success
        }
        "asyncagi break" => {
            link.send(chan, "200 result=0\n").await;
            Success
        }
        "channel status" => channel_status(link, chan, &a).await,
        "control stream file" => control_stream_file(link, chan, &a).await,
        "database del" | "database deltree" | "database get" | "database put" => {
            database(link, chan, &name, &a).await
        }
        "exec" => exec_app(link, chan, &a).await,
        "get data" => get_data_cmd(link, chan, &a).await,
        "get full variable" => {
            if argc != 4 && argc != 5 {
                return ShowUsage;
            }
            let own = argc == 4 || a[4] == chan.name();
            if own {
                let v = exec::substitute_async(chan, a[3]).await;
                link.send(chan, &format!("200 result=1 ({v})\n")).await;
            } else {
                // Another channel's variables live in its own task: not reachable here.
                link.send(chan, "200 result=0\n").await;
            }
            Success
        }
        "get option" => get_option(link, chan, &a).await,
        "get variable" => {
            if argc != 3 {
                return ShowUsage;
            }
            let v = read_variable(chan, a[2]).await;
            match v {
                Some(v) => link.send(chan, &format!("200 result=1 ({v})\n")).await,
                None => link.send(chan, "200 result=0\n").await,
            }
            Success
        }
        "gosub" => gosub(link, chan, &a).await,
        "hangup" => match argc {
            1 => {
                chan.shared
                    .request_hangup(crate::pbx::channel::cause::NORMAL_CLEARING);
                link.send(chan, "200 result=1\n").await;
                Success
            }
            2 => {
                let found = chan.pbx.channels.get(a[1]);
                match found {
                    Some(c) => {
                        c.request_hangup(crate::pbx::channel::cause::NORMAL_CLEARING);
                        link.send(chan, "200 result=1\n").await;
                    }
                    None => link.send(chan, "200 result=-1\n").await,
                }
                Success
            }
            _ => ShowUsage,
        },
        "noop" => {
            link.send(chan, "200 result=0\n").await;
            Success
        }
        "receive char" | "receive text" => {
            if argc != 3 {
                return ShowUsage;
            }
            // No channel driver of ferrisk carries text frames: wait for the timeout.
            let ms: i64 = atoi(a[2]);
            let hung_up = if ms > 0 {
                chan.sleep(Duration::from_millis(ms as u64)).await.is_err()
            } else if ms < 0 {
                chan.wait_hangup(None).await;
                true
            } else {
                chan.check_hangup()
            };
            if name == "receive text" {
                link.send(chan, "200 result=-1\n").await;
                Success
            } else if hung_up {
                link.send(chan, "200 result=-1 (hangup)\n").await;
                Failure
            } else {
                link.send(chan, "200 result=0 (timeout)\n").await;
                Success
            }
        }
        "record file" => record(link, chan, &a).await,
        "say alpha" | "say digits" | "say number" | "say phonetic" | "say date" | "say time"
        | "say datetime" => say_cmd(link, chan, &name, &a).await,
        "send image" => {
            if argc != 3 {
                return ShowUsage;
            }
            // Images are not supported by any driver: 0 unless the channel is gone.
            let r = if chan.check_hangup() { -1 } else { 0 };
            link.send(chan, &format!("200 result={r}\n")).await;
            result_of(r)
        }
        "send text" => {
            if argc != 3 {
                return ShowUsage;
            }
            let r = if chan.check_hangup() { -1 } else { 0 };
            link.send(chan, &format!("200 result={r}\n")).await;
            result_of(r)
        }
        "set autohangup" => {
            if argc != 3 {
                return ShowUsage;
            }
            let Ok(t) = a[2].trim().parse::<f64>() else {
                return ShowUsage;
            };
            chan.absolute_deadline = if t.is_finite() && t > 0.0 {
                Instant::now().checked_add(Duration::from_secs_f64(t.min(1e9)))
            } else {
                None
            };
            link.send(chan, "200 result=0\n").await;
            Success
        }
        "set callerid" => {
            if let Some(s) = a.get(2) {
                let cid = CallerId::parse(s);
                chan.caller.num = cid.num.map(|n| shrink_number(&n)).filter(|n| !n.is_empty());
                chan.caller.name = cid.name;
                let snap = chan.caller.clone();
                chan.shared.snapshot.lock().caller = snap;
            }
            link.send(chan, "200 result=1\n").await;
            Success
        }
        "set context" | "set extension" => {
            if argc != 3 {
                return ShowUsage;
            }
            if name == "set context" {
                chan.context = a[2].to_string();
            } else {
                chan.exten = a[2].to_string();
            }
            link.send(chan, "200 result=0\n").await;
            Success
        }
        "set music" => {
            if argc < 3 {
                return ShowUsage;
            }
            let v = a[2].to_ascii_lowercase();
            if v.starts_with("on") {
                chan.stop_background();
                if let Some(q) = chan.media.as_ref().map(|m| m.to_far.clone()) {
                    let class = a.get(3).copied().unwrap_or("");
                    let pbx = chan.pbx.clone();
                    chan.background = crate::pbx::hold::start(&pbx, class, q).await;
                }
            } else if v.starts_with("off") {
                chan.stop_background();
            }
            link.send(chan, "200 result=0\n").await;
            Success
        }
        "set priority" => {
            if argc != 3 {
                return ShowUsage;
            }
            let pri = match a[2].trim().parse::<i32>() {
                Ok(p) => p,
                Err(_) => {
                    let dp = chan.pbx.dialplan();
                    match dp.find_label(
                        &chan.context,
                        &chan.exten,
                        a[2],
                        chan.caller.num.as_deref(),
                        Utc::now(),
                    ) {
                        Some(p) if p >= 1 => p,
                        _ => return ShowUsage,
                    }
                }
            };
            let (c, e) = (chan.context.clone(), chan.exten.clone());
            chan.goto(&c, &e, pri);
            link.send(chan, "200 result=0\n").await;
            Success
        }
        "set variable" => {
            if argc != 4 {
                return ShowUsage;
            }
            if a[2].ends_with(')') {
                exec::write_func_async(chan, a[2], a[3]).await;
            } else {
                chan.set_var(a[2], a[3]);
            }
            link.send(chan, "200 result=1\n").await;
            Success
        }
        "stream file" => stream_file(link, chan, &a).await,
        "tdd mode" => {
            if argc != 3 {
                return ShowUsage;
            }
            // No channel is TDD-capable.
            link.send(chan, "200 result=0\n").await;
            Success
        }
        "verbose" => {
            if argc < 2 {
                return ShowUsage;
            }
            let level = a.get(2).map(|l| atoi(l)).unwrap_or(0).clamp(0, 255) as u8;
            let data = chan.shared.snapshot.lock().data.clone();
            chan.pbx.verbose_line(level, &format!("{data}: {}", a[1]));
            link.send(chan, "200 result=1\n").await;
            Success
        }
        "wait for digit" => {
            if argc != 4 {
                return ShowUsage;
            }
            let Some(ms) = scan_int(a[3]) else {
                return ShowUsage;
            };
            // Negative: "forever" (a year at a time keeps timers in range).
            let wait = match ms {
                ms if ms < 0 => Duration::from_secs(365 * 86_400),
                ms => Duration::from_millis(ms as u64),
            };
            let r = tokio::select! {
                d = wait_digit(chan, wait) => match d {
                    Ok(Some(d)) => digit_code(d),
                    Ok(None) => 0,
                    Err(Hangup) => -1,
                },
                // The script's next command ends the wait with 1, as ast_waitfordigit_full.
                () = link.wait_command() => 1,
            };
            if r == 1 {
                chan.pbx.warning(
                    "channel.c: The FD we were waiting for has something waiting. Waitfordigit returning numeric 1",
                );
            }
            link.send(chan, &format!("200 result={r}\n")).await;
            result_of(r)
        }
        _ => {
            link.send(chan, super::protocol::INVALID).await;
            Success
        }
    }
}

fn result_of(r: i32) -> CmdResult {
    if r >= 0 {
        Success
    } else {
        Failure
    }
}

/// C's `atoi`: leading blanks, a sign, digits; anything else ends the number (0 if none).
pub fn atoi(s: &str) -> i64 {
    let s = s.trim_start();
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut n: i64 = 0;
    for b in digits.bytes() {
        if !b.is_ascii_digit() {
            break;
        }
        n = n.saturating_mul(10).saturating_add(i64::from(b - b'0'));
    }
    if neg {
        -n
    } else {
        n
    }
}

/// `sscanf("%d")`: like [`atoi`] but at least one digit is required.
fn scan_int(s: &str) -> Option<i64> {
    let t = s.trim_start();
    let t = t.strip_prefix(['-', '+']).unwrap_or(t);
    t.starts_with(|c: char| c.is_ascii_digit()).then(|| atoi(s))
}

/// `ast_shrink_phone_number`: drop the punctuation of a number (`(`, `)`, `-`, `.`, blanks).
fn shrink_number(n: &str) -> String {
    n.chars()
        .filter(|c| !matches!(c, '(' | ')' | '-' | '.' | ' '))
        .collect()
}

async fn channel_status(link: &mut Link, chan: &mut Channel, a: &[&str]) -> CmdResult {
    match a.len() {
        2 => {
            let code = chan.state.code();
            link.send(chan, &format!("200 result={code}\n")).await;
        }
        3 => {
            let state = chan.pbx.channels.get(a[2]).map(|c| c.state());
            match state {
                Some(s) => link.send(chan, &format!("200 result={}\n", s.code())).await,
                None => link.send(chan, "200 result=-1\n").await,
            }
        }
        _ => return ShowUsage,
    }
    Success
}

/// A variable, or a function call when the name ends with `)`.
async fn read_variable(chan: &mut Channel, name: &str) -> Option<String> {
    if name.ends_with(')') {
        let (fname, args) = crate::pbx::func::split_call(name)?;
        let f = chan.pbx.funcs.get(fname)?;
        let r = if f.is_async() {
            f.read_async(chan, args).await
        } else {
            f.read(chan, args)
        };
        r.ok()
    } else {
        exec::get_var(chan, name)
    }
}

async fn database(link: &mut Link, chan: &mut Channel, name: &str, a: &[&str]) -> CmdResult {
    let argc = a.len();
    let ok = match name {
        "database get" | "database del" => argc == 4,
        "database put" => argc == 5,
        _ => (3..=4).contains(&argc),
    };
    if !ok {
        return ShowUsage;
    }
    let owned: Vec<String> = a.iter().map(|s| s.to_string()).collect();
    let pbx = chan.pbx.clone();
    let op = name.to_string();
    let reply = crate::pbx::blocking::run(move || {
        let db = &pbx.astdb;
        match op.as_str() {
            "database get" => match db.get(&owned[2], &owned[3]) {
                Some(v) => format!("200 result=1 ({v})\n"),
                None => "200 result=0\n".into(),
            },
            "database put" => {
                let ok = db.put(&owned[2], &owned[3], &owned[4]).is_ok();
                format!("200 result={}\n", u8::from(ok))
            }
            "database del" => {
                let ok = matches!(db.del(&owned[2], &owned[3]), Ok(true));
                format!("200 result={}\n", u8::from(ok))
            }
            _ => {
                let n = db
                    .deltree(Some(&owned[2]), owned.get(3).map(String::as_str))
                    .unwrap_or(0);
                // res_agi answers 0 when something was deleted (its documentation says 1).
                format!("200 result={}\n", if n > 0 { '0' } else { '1' })
            }
        }
    })
    .await
    .unwrap_or_else(|| "200 result=-1\n".into());
    link.send(chan, &reply).await;
    Success
}

async fn exec_app(link: &mut Link, chan: &mut Channel, a: &[&str]) -> CmdResult {
    if a.len() < 2 {
        return ShowUsage;
    }
    let opts = a.get(2).copied().unwrap_or("");
    chan.pbx.verbose_line(
        3,
        &format!(
            "AGI Script Executing Application: ({}) Options: ({opts})",
            a[1]
        ),
    );
    let res = if chan.pbx.apps.entry(a[1]).is_some() {
        let full = chan
            .get_var("AGIEXECFULL")
            .is_some_and(|v| crate::config::is_true(&v));
        let data = if full {
            exec::substitute_async(chan, opts).await
        } else {
            opts.to_string()
        };
        let (app, data) = (a[1].to_string(), data);
        match exec::exec_app(chan, &app, &data).await {
            Ok(()) => 0,
            Err(Hangup) => -1,
        }
    } else {
        chan.pbx
            .warning(&format!("res_agi.c: Could not find application ({})", a[1]));
        -2
    };
    link.send(chan, &format!("200 result={res}\n")).await;
    // res_agi passes the application's result on as the command's: never a failure.
    Success
}

async fn get_data_cmd(link: &mut Link, chan: &mut Channel, a: &[&str]) -> CmdResult {
    if a.len() < 3 {
        return ShowUsage;
    }
    let timeout = a.get(3).map(|t| atoi(t)).unwrap_or(0);
    let max = a.get(4).map(|m| atoi(m)).unwrap_or(1024).clamp(1, 1024) as usize;
    let timeout = (timeout > 0).then(|| Duration::from_millis(timeout as u64));
    let res = get_data(chan, a[2], max, timeout, "#").await;
    let reply = match res {
        Ok((d, GetData::Timeout)) => format!("200 result={d} (timeout)\n"),
        Ok((d, _)) => format!("200 result={d}\n"),
        Err(Hangup) => "200 result=-1\n".into(),
    };
    link.send(chan, &reply).await;
    Success
}

/// Play `name` from sample `offset`, stopping on a digit in `escape`, or when the script
/// sends its next command (res_agi's `ast_waitstream_full` on the AGI descriptor: that
/// command then gets no reply). `Ok((played, endpos))`; `None` when the file cannot be
/// opened.
async fn play_from(
    link: &mut Link,
    chan: &mut Channel,
    name: &str,
    escape: &str,
    offset: i64,
) -> Option<Result<(Played, i64), Hangup>> {
    let lang = chan.language.clone();
    let mut prompt = load_prompt(chan, name, &lang).await?;
    let total = prompt.frames() as i64 * FRAME_SAMPLES;
    if offset > 0 {
        prompt.seek_frame((offset / FRAME_SAMPLES) as usize);
    }
    let res = async {
        while let Some(f) = prompt.next_frame().await {
            while let Some(d) = poll_digit(chan) {
                if escape.contains(d) {
                    let pos = prompt.frame_index() as i64 * FRAME_SAMPLES;
                    return Ok((Played::Digit(d), pos));
                }
            }
            if link.command_waiting() {
                return Ok((Played::Missing, NEW_COMMAND));
            }
            chan.write_frame(f).await?;
        }
        chan.flush_output().await?;
        Ok((Played::Done, total))
    }
    .await;
    Some(res)
}

async fn stream_file(link: &mut Link, chan: &mut Channel, a: &[&str]) -> CmdResult {
    if !(4..=5).contains(&a.len()) {
        return ShowUsage;
    }
    let offset = match a.get(4) {
        Some(o) => match scan_int(o) {
            Some(o) => o.max(0),
            None => return ShowUsage,
        },
        None => 0,
    };
    chan.stop_background();
    match play_from(link, chan, a[2], a[3], offset).await {
        // The next command stopped the prompt: res_agi sends no reply.
        Some(Ok((Played::Missing, NEW_COMMAND))) => Success,
        None => {
            link.send(chan, &format!("200 result=-1 endpos={offset}\n"))
                .await;
            Failure
        }
        Some(Err(Hangup)) => {
            link.send(chan, &format!("200 result=-1 endpos={offset}\n"))
                .await;
            chan.set_var("PLAYBACKSTATUS", "FAILED");
            Failure
        }
        Some(Ok((played, pos))) => {
            let r = match played {
                Played::Digit(d) => digit_code(d),
                _ => 0,
            };
            link.send(chan, &format!("200 result={r} endpos={pos}\n"))
                .await;
            chan.set_var("PLAYBACKSTATUS", if r != 0 { "FAILED" } else { "SUCCESS" });
            Success
        }
    }
}

async fn get_option(link: &mut Link, chan: &mut Channel, a: &[&str]) -> CmdResult {
    if !(4..=5).contains(&a.len()) {
        return ShowUsage;
    }
    let timeout = match a.get(4) {
        Some(t) => atoi(t),
        None => digit_timeout_ms(chan) as i64,
    };
    let (r, pos) = match play_from(link, chan, a[2], a[3], 0).await {
        Some(Ok((Played::Missing, NEW_COMMAND))) => return Success,
        None => {
            chan.pbx
                .warning(&format!("res_agi.c: Unable to open {}", a[2]));
            link.send(chan, "200 result=-1 endpos=0\n").await;
            return Failure;
        }
        Some(Err(Hangup)) => (-1, 0),
        Some(Ok((Played::Digit(d), pos))) => (digit_code(d), pos),
        Some(Ok((_, pos))) => {
            // A negative timeout waits "forever" (a year at a time).
            let wait = match timeout {
                t if t < 0 => Duration::from_secs(365 * 86_400),
                t => Duration::from_millis(t as u64),
            };
            match wait_digit(chan, wait).await {
                Ok(Some(d)) if a[3].contains(d) => (digit_code(d), pos),
                Ok(_) => (0, pos),
                Err(Hangup) => (-1, pos),
            }
        }
    };
    link.send(chan, &format!("200 result={r} endpos={pos}\n"))
        .await;
    result_of(r)
}

/// CONTROL STREAM FILE: play with stop keys, fast-forward and rewind keys (by `skipms`)
/// and a pause key; the reply's `endpos` is in milliseconds.
async fn control_stream_file(link: &mut Link, chan: &mut Channel, a: &[&str]) -> CmdResult {
    if !(5..=10).contains(&a.len()) {
        return ShowUsage;
    }
    let stop = a[4];
    let skipms = match a.get(5) {
        Some(s) => match scan_int(s) {
            Some(v) => v,
            None => return ShowUsage,
        },
        None => 3000,
    };
    let nonempty = |i: usize, d: &'static str| -> String {
        a.get(i)
            .filter(|s| !s.is_empty())
            .map(|s| s.to_string())
            .unwrap_or_else(|| d.to_string())
    };
    let (fwd, rev, pause) = (nonempty(6, "#"), nonempty(7, "*"), nonempty(8, ""));
    let offsetms = match a.get(9) {
        Some(s) => match scan_int(s) {
            Some(v) => v.max(0),
            None => return ShowUsage,
        },
        None => 0,
    };
    let lang = chan.language.clone();
    let Some(mut prompt) = load_prompt(chan, a[3], &lang).await else {
        chan.set_var("CPLAYBACKSTATUS", "ERROR");
        chan.set_var("CPLAYBACKOFFSET", &offsetms.to_string());
        link.send(chan, &format!("200 result=-1 endpos={offsetms}\n"))
            .await;
        return Failure;
    };
    let frames = prompt.frames();
    prompt.seek_frame((offsetms / 20) as usize);
    let skip = (skipms.max(0) / 20) as usize;
    let mut paused = false;
    let res: Result<Option<char>, Hangup> = async {
        loop {
            while let Some(d) = poll_digit(chan) {
                if stop.contains(d) {
                    return Ok(Some(d));
                }
                if !pause.is_empty() && pause.contains(d) {
                    paused = !paused;
                } else if fwd.contains(d) {
                    prompt.seek_frame((prompt.frame_index() + skip).min(frames));
                } else if rev.contains(d) {
                    prompt.seek_frame(prompt.frame_index().saturating_sub(skip));
                }
            }
            if paused {
                if let Some(d) = wait_digit(chan, Duration::from_millis(100)).await? {
                    if stop.contains(d) {
                        return Ok(Some(d));
                    }
                    if pause.contains(d) {
                        paused = false;
                    }
                }
                continue;
            }
            match prompt.next_frame().await {
                Some(f) => chan.write_frame(f).await?,
                None => {
                    chan.flush_output().await?;
                    return Ok(None);
                }
            }
        }
    }
    .await;
    let pos_ms = prompt.frame_index() as i64 * 20;
    let r = match res {
        Ok(Some(d)) => {
            chan.set_var("CPLAYBACKSTATUS", "USERSTOPPED");
            chan.set_var("CPLAYBACKSTOPKEY", &d.to_string());
            digit_code(d)
        }
        Ok(None) => {
            chan.set_var("CPLAYBACKSTATUS", "SUCCESS");
            0
        }
        Err(Hangup) => {
            chan.set_var("CPLAYBACKSTATUS", "ERROR");
            -1
        }
    };
    chan.set_var("CPLAYBACKOFFSET", &pos_ms.to_string());
    link.send(chan, &format!("200 result={r} endpos={pos_ms}\n"))
        .await;
    result_of(r)
}

/// Play prompts one after another as `ast_say_*` does: a digit in `escape` stops (its
/// code), a missing prompt or a hangup is -1; `None` when the script's next command
/// stopped it (no reply then).
async fn say_prompts(
    link: &mut Link,
    chan: &mut Channel,
    prompts: &[String],
    escape: &str,
) -> Option<i32> {
    for p in prompts {
        match play_from(link, chan, p, escape, 0).await {
            Some(Ok((Played::Missing, NEW_COMMAND))) => return None,
            Some(Ok((Played::Digit(d), _))) => return Some(digit_code(d)),
            Some(Ok(_)) => {}
            None | Some(Err(Hangup)) => return Some(-1),
        }
    }
    Some(0)
}

/// SAY ALPHA's prompts with its case sensitivity (`a`ll, `l`ower, `u`pper, `n`one).
fn alpha_with_case(s: &str, case: char) -> Vec<String> {
    let mut v = Vec::new();
    for c in s.chars() {
        let prefix = match case {
            'a' if c.is_ascii_uppercase() => Some("letters/uppercase"),
            'a' if c.is_ascii_lowercase() => Some("letters/lowercase"),
            'u' if c.is_ascii_uppercase() => Some("letters/uppercase"),
            'l' if c.is_ascii_lowercase() => Some("letters/lowercase"),
            _ => None,
        };
        if let Some(p) = prefix {
            v.push(p.to_string());
        }
        v.extend(crate::apps::say::alpha_prompts(&c.to_string()));
    }
    v
}

fn local_time(unix: i64, zone: Option<&str>) -> Option<chrono::NaiveDateTime> {
    let utc = DateTime::<Utc>::from_timestamp(unix, 0)?;
    match zone.and_then(|z| z.parse::<chrono_tz::Tz>().ok()) {
        Some(tz) => Some(utc.with_timezone(&tz).naive_local()),
        None => Some(utc.with_timezone(&chrono::Local).naive_local()),
    }
}

async fn say_cmd(link: &mut Link, chan: &mut Channel, name: &str, a: &[&str]) -> CmdResult {
    let argc = a.len();
    let prompts: Vec<String> = match name {
        "say alpha" => {
            if !(4..=5).contains(&argc) {
                return ShowUsage;
            }
            let case = match a.get(4).and_then(|c| c.chars().next()) {
                None => 'n',
                Some(c) if "aAlLnNuU".contains(c) => c.to_ascii_lowercase(),
                Some(_) => return ShowUsage,
            };
            alpha_with_case(a[2], case)
        }
        "say digits" => {
            if argc != 4 || scan_int(a[2]).is_none() {
                return ShowUsage;
            }
            crate::apps::say::digits_prompts(a[2])
        }
        "say number" => {
            if !(4..=5).contains(&argc) {
                return ShowUsage;
            }
            let Some(n) = scan_int(a[2]) else {
                return ShowUsage;
            };
            match crate::apps::say::number_prompts_en(n.clamp(i32::MIN.into(), i32::MAX.into())) {
                Some(p) => p,
                None => {
                    link.send(chan, "200 result=-1\n").await;
                    return Failure;
                }
            }
        }
        "say phonetic" => {
            if argc != 4 {
                return ShowUsage;
            }
            say::phonetic(a[2])
        }
        "say date" | "say time" => {
            if argc != 4 {
                return ShowUsage;
            }
            let Some(t) = scan_int(a[2]).and_then(|n| local_time(n, None)) else {
                return ShowUsage;
            };
            if name == "say date" {
                say::date(&t)
            } else {
                say::time(&t)
            }
        }
        _ => {
            if argc < 4 {
                return ShowUsage;
            }
            let format = match a.get(4) {
                Some(f) => f.to_string(),
                None if chan.language.eq_ignore_ascii_case("de") => "A dBY HMS".into(),
                None => "ABdY 'digits/at' IMp".into(),
            };
            let zone = a.get(5).copied().filter(|z| !z.is_empty());
            let Some(t) = a[2]
                .trim()
                .parse::<i64>()
                .ok()
                .and_then(|n| local_time(n, zone))
            else {
                return ShowUsage;
            };
            say::with_format(&t, &format)
        }
    };
    let Some(r) = say_prompts(link, chan, &prompts, a[3]).await else {
        return Success;
    };
    link.send(chan, &format!("200 result={r}\n")).await;
    result_of(r)
}

async fn record(link: &mut Link, chan: &mut Channel, a: &[&str]) -> CmdResult {
    let argc = a.len();
    if argc < 6 {
        return ShowUsage;
    }
    let Some(ms) = scan_int(a[5]) else {
        return ShowUsage;
    };
    let silence_arg = a[6.min(argc)..]
        .iter()
        .take(3)
        .find_map(|s| s.find('s').map(|i| &s[i..]));
    let silence = silence_arg
        .and_then(|s| s.strip_prefix("s="))
        .filter(|s| !s.is_empty())
        .map(atoi)
        .filter(|s| *s > 0);
    let offset = a.get(6).and_then(|s| scan_int(s)).unwrap_or(0).max(0);
    let beep = (argc > 6 && scan_int(a[6]).is_none() && !a[6].starts_with("s="))
        || (argc > 7 && !a[7].starts_with("s="));
    let escape = a[4];
    if beep {
        match stream(chan, "beep", escape).await {
            Ok(Played::Digit(d)) => {
                let r = digit_code(d);
                link.send(
                    chan,
                    &format!("200 result={r} (randomerror) endpos={offset}\n"),
                )
                .await;
                return Success;
            }
            Err(Hangup) => {
                link.send(
                    chan,
                    &format!("200 result=-1 (randomerror) endpos={offset}\n"),
                )
                .await;
                return Failure;
            }
            _ => {}
        }
    }
    let path = record_path(&chan.pbx.settings.astdatadir, a[2], a[3]);
    let opts = RecordOpts {
        append: offset > 0,
        keep_on_hangup: true,
        terminator: None,
        stop_digits: escape.to_string(),
        silence: silence.map(|s| Duration::from_secs(s as u64)),
        max: (ms >= 0).then(|| Duration::from_millis(ms as u64)),
        trim_silence: true,
        ..Default::default()
    };
    match record_file(chan, &path, &a[3].to_ascii_lowercase(), &opts).await {
        Err(e) => {
            chan.pbx.warning(&format!(
                "res_agi.c: Unable to write {}: {e}",
                path.display()
            ));
            link.send(chan, "200 result=-1 (writefile)\n").await;
            Failure
        }
        Ok(rec) => {
            let end = offset + rec.samples as i64;
            match rec.ended {
                Ended::Dtmf | Ended::Operator => {
                    let r = rec.digit.map(digit_code).unwrap_or(0);
                    link.send(chan, &format!("200 result={r} (dtmf) endpos={end}\n"))
                        .await;
                    Success
                }
                Ended::Hangup => {
                    link.send(chan, &format!("200 result=-1 (hangup) endpos={end}\n"))
                        .await;
                    Failure
                }
                Ended::Silence | Ended::Timeout => {
                    link.send(chan, &format!("200 result=0 (timeout) endpos={end}\n"))
                        .await;
                    Success
                }
            }
        }
    }
}

/// Where RECORD FILE writes `name.format`: absolute, or under `<astdatadir>/sounds`.
fn record_path(datadir: &Path, name: &str, format: &str) -> PathBuf {
    let file = format!("{name}.{format}");
    if Path::new(name).is_absolute() {
        PathBuf::from(file)
    } else {
        datadir.join("sounds").join(file)
    }
}

async fn gosub(link: &mut Link, chan: &mut Channel, a: &[&str]) -> CmdResult {
    if !(4..=5).contains(&a.len()) {
        return ShowUsage;
    }
    let (ctx, exten) = (a[1], a[2]);
    let cid = chan.caller.num.clone();
    let dp = chan.pbx.dialplan();
    let priority = match a[3].trim().parse::<i32>() {
        Ok(p) if p >= 1 => Some(p),
        _ => dp.find_label(ctx, exten, a[3], cid.as_deref(), Utc::now()),
    };
    let Some(priority) = priority.filter(|p| dp.exists(ctx, exten, *p, cid.as_deref(), Utc::now()))
    else {
        if priority.is_none() {
            chan.pbx.error(&format!(
                "app_stack.c: Priority '{}' not found in '{exten}@{ctx}'",
                a[3]
            ));
        }
        link.send(chan, "200 result=-1 Gosub label not found\n")
            .await;
        return Failure;
    };
    let args: Vec<String> = a
        .get(4)
        .map(|s| crate::apps::args::split(s, ','))
        .unwrap_or_default();
    let shown = match a.get(4) {
        Some(s) => format!("{ctx},{exten},{priority}({s})"),
        None => format!("{ctx},{exten},{priority}"),
    };
    link.send(chan, "100 result=0 Trying...\n").await;
    let end = exec::run_sub(chan, ctx, exten, priority, &args).await;
    let normal = end == End::Returned;
    let name = chan.name().to_string();
    if normal {
        let ret = chan.get_var("GOSUB_RETVAL").unwrap_or_default();
        chan.pbx.verbose_line(
            3,
            &format!("{name} AGI Gosub({shown}) complete GOSUB_RETVAL={ret}"),
        );
    } else {
        chan.pbx.notice(&format!(
            "app_stack.c: {name} Abnormal AGI Gosub({shown}) exit.  Popping routine return locations."
        ));
        chan.set_var("GOSUB_RETVAL", "");
    }
    let tail = if normal { "" } else { " (abnormal exit)" };
    link.send(chan, &format!("200 result=0 Gosub complete{tail}\n"))
        .await;
    Success
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::res::agi::protocol::{find_command, parse_args};
    use tokio::io::AsyncReadExt;

    /// Run one command line on `chan`: (what the script would read, the result).
    async fn ask(chan: &mut Channel, line: &str) -> (String, CmdResult) {
        let (a, mut b) = tokio::io::duplex(1 << 16);
        let (_tx, rx) = tokio::sync::mpsc::channel(1);
        let mut link = Link::new(Box::new(a), Default::default(), rx);
        let argv = parse_args(line);
        let spec = find_command(&argv).expect("a known command");
        let r = run(&mut link, chan, spec, &argv).await;
        drop(link);
        let mut s = String::new();
        b.read_to_string(&mut s).await.expect("reply");
        (s, r)
    }

    async fn reply(chan: &mut Channel, line: &str) -> String {
        ask(chan, line).await.0
    }

    #[tokio::test]
    async fn database_commands() {
        let mut c = crate::testutil::test_channel();
        assert_eq!(
            reply(&mut c, "DATABASE PUT fam k \"a b\"").await,
            "200 result=1\n"
        );
        assert_eq!(
            reply(&mut c, "DATABASE GET fam k").await,
            "200 result=1 (a b)\n"
        );
        assert_eq!(reply(&mut c, "DATABASE DEL fam k").await, "200 result=1\n");
        assert_eq!(reply(&mut c, "DATABASE DEL fam k").await, "200 result=0\n");
        assert_eq!(reply(&mut c, "DATABASE GET fam k").await, "200 result=0\n");
        reply(&mut c, "DATABASE PUT fam x 1").await;
        // res_agi's inverted answer: 0 when something was deleted.
        assert_eq!(
            reply(&mut c, "DATABASE DELTREE fam").await,
            "200 result=0\n"
        );
        assert_eq!(
            reply(&mut c, "DATABASE DELTREE fam").await,
            "200 result=1\n"
        );
        assert_eq!(ask(&mut c, "DATABASE GET fam").await.1, ShowUsage);
        assert_eq!(ask(&mut c, "DATABASE PUT a b c d").await.1, ShowUsage);
    }

    #[tokio::test]
    async fn variables_and_functions() {
        let mut c = crate::testutil::test_channel();
        assert_eq!(
            reply(&mut c, "SET VARIABLE X \"1 2\"").await,
            "200 result=1\n"
        );
        assert_eq!(
            reply(&mut c, "GET VARIABLE X").await,
            "200 result=1 (1 2)\n"
        );
        assert_eq!(reply(&mut c, "GET VARIABLE NOPE").await, "200 result=0\n");
        assert_eq!(
            reply(&mut c, "GET VARIABLE LEN(hello)").await,
            "200 result=1 (5)\n"
        );
        assert_eq!(
            reply(&mut c, "GET FULL VARIABLE ${X}-${LEN(abc)}").await,
            "200 result=1 (1 2-3)\n"
        );
        assert_eq!(
            reply(&mut c, "GET FULL VARIABLE ${X} Other/9").await,
            "200 result=0\n"
        );
        reply(&mut c, "SET VARIABLE CALLERID(num) 555").await;
        assert_eq!(c.caller.num.as_deref(), Some("555"));
        assert_eq!(ask(&mut c, "SET VARIABLE X").await.1, ShowUsage);
        assert_eq!(ask(&mut c, "GET VARIABLE").await.1, ShowUsage);
    }

    #[tokio::test]
    async fn channel_commands() {
        let mut c = crate::testutil::test_channel();
        assert_eq!(
            reply(&mut c, "SET CALLERID \"\\\"Bob\\\" <(555) 12-3>\"").await,
            "200 result=1\n"
        );
        assert_eq!(c.caller.name.as_deref(), Some("Bob"));
        assert_eq!(c.caller.num.as_deref(), Some("555123"));
        assert_eq!(reply(&mut c, "CHANNEL STATUS").await, "200 result=0\n");
        assert_eq!(
            reply(&mut c, "CHANNEL STATUS Nope/1").await,
            "200 result=-1\n"
        );
        assert_eq!(reply(&mut c, "ANSWER").await, "200 result=0\n");
        assert_eq!(reply(&mut c, "CHANNEL STATUS").await, "200 result=6\n");
        assert_eq!(reply(&mut c, "SET CONTEXT other").await, "200 result=0\n");
        assert_eq!(reply(&mut c, "SET EXTENSION 123").await, "200 result=0\n");
        assert_eq!((c.context.as_str(), c.exten.as_str()), ("other", "123"));
        assert_eq!(reply(&mut c, "SET PRIORITY 5").await, "200 result=0\n");
        assert!(c.jumped && c.priority == 5);
        assert_eq!(ask(&mut c, "SET PRIORITY nolabel").await.1, ShowUsage);
        assert_eq!(reply(&mut c, "SET AUTOHANGUP 10").await, "200 result=0\n");
        assert!(c.absolute_deadline.is_some());
        reply(&mut c, "SET AUTOHANGUP 0").await;
        assert!(c.absolute_deadline.is_none());
        assert_eq!(reply(&mut c, "TDD MODE on").await, "200 result=0\n");
        assert_eq!(reply(&mut c, "SEND TEXT \"hi\"").await, "200 result=0\n");
        assert_eq!(reply(&mut c, "SEND IMAGE logo").await, "200 result=0\n");
        assert_eq!(reply(&mut c, "NOOP").await, "200 result=0\n");
        assert_eq!(reply(&mut c, "ASYNCAGI BREAK").await, "200 result=0\n");
        assert_eq!(reply(&mut c, "EXEC NoSuchApp x").await, "200 result=-2\n");
        assert_eq!(reply(&mut c, "EXEC Set Y=7").await, "200 result=0\n");
        assert_eq!(c.get_var("Y").as_deref(), Some("7"));
        assert_eq!(reply(&mut c, "HANGUP Nope/1").await, "200 result=-1\n");
        assert!(!c.check_hangup());
        assert_eq!(reply(&mut c, "HANGUP").await, "200 result=1\n");
        assert!(c.check_hangup());
        // The channel is gone: waiting for a digit fails at once.
        assert_eq!(
            ask(&mut c, "WAIT FOR DIGIT 1000").await,
            ("200 result=-1\n".to_string(), Failure)
        );
    }

    #[tokio::test]
    async fn missing_prompts() {
        let mut c = crate::testutil::test_channel();
        assert_eq!(
            ask(&mut c, "STREAM FILE no-such-prompt \"\" 80").await,
            ("200 result=-1 endpos=80\n".to_string(), Failure)
        );
        assert_eq!(ask(&mut c, "SAY DIGITS abc \"\"").await.1, ShowUsage);
        assert_eq!(ask(&mut c, "SAY ALPHA abc # x").await.1, ShowUsage);
        assert_eq!(ask(&mut c, "STREAM FILE x").await.1, ShowUsage);
        assert_eq!(ask(&mut c, "STREAM FILE x # notanumber").await.1, ShowUsage);
    }

    #[test]
    fn c_number_parsing() {
        assert_eq!(atoi(" 42abc"), 42);
        assert_eq!(atoi("-7"), -7);
        assert_eq!(atoi("x"), 0);
        assert_eq!(atoi("99999999999999999999999"), i64::MAX);
        assert_eq!(scan_int("12"), Some(12));
        assert_eq!(scan_int("-1"), Some(-1));
        assert_eq!(scan_int("abc"), None);
        assert_eq!(scan_int(""), None);
    }

    #[test]
    fn helpers() {
        assert_eq!(shrink_number("(555) 123-4.5"), "55512345");
        assert_eq!(
            alpha_with_case("aB", 'a'),
            [
                "letters/lowercase",
                "letters/a",
                "letters/uppercase",
                "letters/b"
            ]
        );
        assert_eq!(alpha_with_case("aB", 'n'), ["letters/a", "letters/b"]);
        assert_eq!(
            record_path(Path::new("/d"), "x/y", "wav"),
            PathBuf::from("/d/sounds/x/y.wav")
        );
        assert_eq!(
            record_path(Path::new("/d"), "/tmp/r", "wav"),
            PathBuf::from("/tmp/r.wav")
        );
    }
}
