//! Directory() (`app_directory.so`): the dial-by-name directory of the mailboxes in
//! `voicemail.conf`. The caller spells the first letters of a last (or first) name on the
//! keypad; each match is announced (its recorded name, else its name spelled) and `1`
//! selects it. The file is read at each call, on the blocking pool, as app_directory
//! does, so `c(file)` can name another one. It never writes anything.

use super::args;
use super::playback::{stream, Played, ANY_DIGIT};
use super::read::read_digits;
use super::readexten::exten_exists;
use super::say::alpha_prompts;
use super::waitexten::wait_digit;
use super::{App, AppResult};
use crate::pbx::module::{Family, ModuleContext, ModuleInfo};
use crate::pbx::{blocking, Channel, Hangup};
use crate::voicemail::config::{parse_voicemail_conf, VoicemailConfig};
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// The module of this file (`module show`).
pub static MODULES: &[Family] = &[Family {
    info: ModuleInfo::new("app_directory.so", "Extension Directory"),
    register: register_app_directory,
}];

fn register_app_directory(ctx: &ModuleContext) {
    ctx.register_app(Arc::new(Directory));
}

/// The keypad digit of a letter or of a digit 1-9 (`0` is not one in app_directory).
fn keypad(c: char) -> Option<char> {
    crate::funcs::strings::keypad_digit(c).filter(|d| *d != '0')
}

/// Whether `text` starts with letters whose keypad digits are `typed`, as app_directory
/// compares: blanks, control characters and non-ASCII bytes in the name are skipped, any
/// other character that is not a letter or a digit 1-9 ends the match.
pub fn spells(text: &str, typed: &str) -> bool {
    if text.is_empty() {
        return false;
    }
    let mut chars = text.chars();
    for want in typed.chars() {
        loop {
            let Some(c) = chars.next() else {
                return false;
            };
            match keypad(c) {
                Some(d) if d == want => break,
                Some(_) => return false,
                None if c <= ' ' || !c.is_ascii() => continue,
                None => return false,
            }
        }
    }
    true
}

/// One mailbox the caller's digits matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub context: String,
    pub exten: String,
    pub name: String,
    /// What entries are sorted by: `Last First` when the last name matched, else the name.
    key: String,
}

/// Search modes: by last name, by first name, or both, plus aliases.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Mode {
    pub last: bool,
    pub first: bool,
    pub alias: bool,
}

/// `fullname` matched by last name (the part after its first blank; the whole name when it
/// has none) or, with `first`, from its start.
fn check(fullname: &str, typed: &str, first: bool) -> Option<String> {
    if fullname.is_empty() {
        return None;
    }
    let key = if first {
        fullname
    } else {
        fullname.split_once(' ').map_or(fullname, |(_, l)| l)
    };
    if !spells(key, typed) {
        return None;
    }
    Some(if key.len() == fullname.len() {
        key.to_string()
    } else {
        // Last name first, then the first name, to sort "Last, First".
        let first_part = &fullname[..fullname.len() - key.len() - 1];
        format!("{key}{first_part}")
    })
}

/// The mailboxes of `contexts` whose names (or aliases) the digits `typed` spell, sorted by
/// last name (or name) without regard to case, as app_directory lists them.
pub fn search(cfg: &VoicemailConfig, contexts: &[String], typed: &str, mode: Mode) -> Vec<Entry> {
    let mut out: Vec<Entry> = Vec::new();
    for ctx in contexts {
        for m in cfg
            .mailboxes
            .values()
            .filter(|m| m.context.eq_ignore_ascii_case(ctx))
        {
            if m.option("hidefromdir").is_some_and(crate::config::is_true) || m.fullname.is_empty()
            {
                continue;
            }
            let mut key = None;
            if mode.last {
                key = check(&m.fullname, typed, false);
            }
            if key.is_none() && mode.first {
                key = check(&m.fullname, typed, true);
            }
            if key.is_none() && mode.alias {
                key = m
                    .options
                    .iter()
                    .filter(|(n, _)| n == "alias")
                    .find_map(|(_, a)| check(a, typed, true));
            }
            if let Some(key) = key {
                out.push(Entry {
                    context: ctx.clone(),
                    exten: m.mailbox.clone(),
                    name: m.fullname.clone(),
                    key,
                });
            }
        }
    }
    // A stable sort: equal keys keep the file's order.
    out.sort_by_key(|e| e.key.to_ascii_lowercase());
    out
}

/// The voicemail contexts searched: the one given, else every context with
/// `searchcontexts=yes`, else `default`.
fn contexts(cfg: &VoicemailConfig, vmcontext: &str) -> Vec<String> {
    if !vmcontext.is_empty() {
        return vec![vmcontext.to_string()];
    }
    if cfg
        .general
        .other("searchcontexts")
        .is_some_and(crate::config::is_true)
    {
        let mut v: Vec<String> = Vec::new();
        for m in cfg.mailboxes.values() {
            if !v.contains(&m.context) {
                v.push(m.context.clone());
            }
        }
        v
    } else {
        vec!["default".to_string()]
    }
}

/// What a step of the directory ended with (app_directory's `res`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Res {
    /// Nothing pressed, keep going.
    Zero,
    /// A key that ends the step (or the operator/assistant/exit keys).
    Key(char),
    /// An entry was selected.
    Selected,
    /// The selected extension does not exist, or the configuration is unreadable.
    Failed,
}

struct Call<'a> {
    cfg: &'a VoicemailConfig,
    vmcontext: String,
    dialcontext: String,
    mode: Mode,
    opts: BTreeMap<char, Option<String>>,
}

impl Call<'_> {
    fn has(&self, o: char) -> bool {
        self.opts.contains_key(&o)
    }
}

/// Play `name`; any digit stops it and is returned.
async fn play(chan: &mut Channel, name: &str) -> Result<Res, Hangup> {
    Ok(match stream(chan, name, ANY_DIGIT).await? {
        Played::Digit(d) => Res::Key(d),
        _ => Res::Zero,
    })
}

async fn wait(chan: &mut Channel, ms: u64) -> Result<Res, Hangup> {
    Ok(match wait_digit(chan, Duration::from_millis(ms)).await? {
        Some(d) => Res::Key(d),
        None => Res::Zero,
    })
}

/// Spell `s` letter by letter; a digit stops it.
async fn spell(chan: &mut Channel, s: &str) -> Result<Res, Hangup> {
    for p in alpha_prompts(s) {
        let r = play(chan, &p).await?;
        if r != Res::Zero {
            return Ok(r);
        }
    }
    Ok(Res::Zero)
}

/// The mailbox owner's recorded name (`greet` in the mailbox's spool folder), else the
/// name spelled; with `e`, then "extension" and the number.
async fn play_owner(chan: &mut Channel, call: &Call<'_>, e: &Entry) -> Result<Res, Hangup> {
    // The recorded name where app_voicemail keeps it (the spool, or the IMAP server's copy).
    let fb = crate::voicemail::store::BoxId::new(&e.exten, &e.context);
    let store = crate::voicemail::of(&chan.pbx).store().clone();
    store.sync_greetings(&fb).await;
    let greet = store.greeting(&fb, crate::voicemail::store::Greeting::Name);
    let recorded = crate::voicemail::app::sound_exists(&greet).await;
    let say_ext = call.has('e');
    if recorded {
        let r = play(chan, &greet.to_string_lossy()).await?;
        if r != Res::Zero {
            return Ok(r);
        }
        if say_ext {
            let r = play(chan, "vm-extension").await?;
            if r != Res::Zero {
                return Ok(r);
            }
            return spell(chan, &e.exten).await;
        }
        return Ok(Res::Zero);
    }
    let r = spell(chan, if e.name.is_empty() { &e.exten } else { &e.name }).await?;
    if r != Res::Zero {
        return Ok(r);
    }
    if !e.name.is_empty() && say_ext {
        let r = play(chan, "vm-extension").await?;
        if r != Res::Zero {
            return Ok(r);
        }
        return spell(chan, &e.exten).await;
    }
    Ok(Res::Zero)
}

/// Jump to `exten` (priority 1) in the dial context (else the current one); false when it
/// does not exist.
fn goto_exten(chan: &mut Channel, dialcontext: &str, exten: &str) -> bool {
    let ctx = if dialcontext.is_empty() {
        chan.context.clone()
    } else {
        dialcontext.to_string()
    };
    if exten_exists(chan, &ctx, exten) {
        chan.goto(&ctx, exten, 1);
        true
    } else {
        false
    }
}

/// The caller chose `e`: go there (or with `s` only set `DIRECTORY_EXTEN`).
fn select(chan: &mut Channel, call: &Call<'_>, e: &Entry) -> Res {
    if call.has('s') {
        chan.set_var("DIRECTORY_EXTEN", &e.exten);
    } else {
        let ctx = if call.dialcontext.is_empty() {
            e.context.clone()
        } else {
            call.dialcontext.clone()
        };
        if !exten_exists(chan, &ctx, &e.exten) {
            chan.pbx.warning(&format!(
                "app_directory.c: Can't find extension '{}' in context '{ctx}'.  Did you pass the wrong context to Directory?",
                e.exten
            ));
            return Res::Failed;
        }
        chan.goto(&ctx, &e.exten, 1);
    }
    chan.set_var("DIRECTORY_RESULT", "SELECTED");
    Res::Selected
}

/// `p(n)`: wait up to n ms (at most 3 s) for an early key.
async fn pause(chan: &mut Channel, call: &Call<'_>) -> Result<Res, Hangup> {
    match call
        .opts
        .get(&'p')
        .and_then(|n| n.as_deref()?.trim().parse::<u64>().ok())
    {
        Some(ms) if ms > 0 => wait(chan, ms.min(3000)).await,
        _ => Ok(Res::Zero),
    }
}

/// Offer the matches one by one: each up to three times, `1` selects, `*` skips, `#` ends,
/// `0` goes to the operator.
async fn select_seq(chan: &mut Channel, call: &Call<'_>, items: &[Entry]) -> Result<Res, Hangup> {
    let mut res = pause(chan, call).await?;
    for item in items {
        for _ in 0..3 {
            if res == Res::Zero {
                res = play_owner(chan, call, item).await?;
            }
            if res == Res::Zero {
                res = play(chan, "dir-instr").await?;
            }
            if res == Res::Zero {
                res = wait(chan, 3000).await?;
            }
            match res {
                Res::Key('0') => {
                    goto_exten(chan, &call.dialcontext, "o");
                    chan.set_var("DIRECTORY_RESULT", "OPERATOR");
                    return Ok(Res::Key('0'));
                }
                Res::Key('1') => return Ok(select(chan, call, item)),
                Res::Key('*') => break,
                Res::Key('#') => {
                    chan.set_var("DIRECTORY_RESULT", "USEREXIT");
                    return Ok(Res::Key('#'));
                }
                _ => {}
            }
            res = Res::Zero;
        }
        res = Res::Zero;
    }
    Ok(Res::Zero)
}

/// `m`: menus of up to 8 matches ("press 1 for …"), `9` for the next 8.
async fn select_menu(chan: &mut Channel, call: &Call<'_>, items: &[Entry]) -> Result<Res, Hangup> {
    pause(chan, call).await?;
    for block in items.chunks(8) {
        let more = block.as_ptr_range().end != items.as_ptr_range().end;
        let mut res = Res::Zero;
        for (i, item) in block.iter().enumerate() {
            if res != Res::Zero {
                break;
            }
            res = play(chan, "dir-multi1").await?;
            if res == Res::Zero {
                res = play(chan, &format!("digits/{}", i + 1)).await?;
            }
            if res == Res::Zero {
                res = play(chan, "dir-multi2").await?;
            }
            if res == Res::Zero {
                res = play_owner(chan, call, item).await?;
            }
            if res == Res::Zero {
                res = wait(chan, 800).await?;
            }
        }
        if res == Res::Zero && more {
            res = play(chan, "dir-multi9").await?;
        }
        if res == Res::Zero {
            res = wait(chan, 3000).await?;
        }
        if let Res::Key(d) = res {
            if let Some(n) = d.to_digit(10) {
                let n = n as usize;
                if n >= 1 && n <= block.len() {
                    chan.set_var("DIRECTORY_RESULT", "SELECTED");
                    return Ok(select(chan, call, &block[n - 1]));
                }
            }
        }
    }
    Ok(Res::Zero)
}

/// After the first key `digit`: read the rest of the name's digits and offer the matches.
/// `Ok(Some(prompt))` is a prompt to play before the next search (`dir-nomatch`,
/// `dir-nomore`).
async fn do_directory(
    chan: &mut Channel,
    call: &Call<'_>,
    digit: char,
    digits: usize,
) -> Result<(Res, Option<&'static str>), Hangup> {
    if digit == '0' && goto_exten(chan, &call.dialcontext, "o") {
        chan.set_var("DIRECTORY_RESULT", "OPERATOR");
        return Ok((Res::Key('0'), None));
    }
    if digit == '*' && goto_exten(chan, &call.dialcontext, "a") {
        chan.set_var("DIRECTORY_RESULT", "ASSISTANT");
        return Ok((Res::Key('*'), None));
    }
    let three = Duration::from_secs(3);
    let (typed, _) = if digits > 1 {
        read_digits(chan, Some(digit), digits, three, three, "#").await?
    } else {
        (digit.to_string(), super::read::GetData::Complete)
    };
    let contexts = contexts(call.cfg, &call.vmcontext);
    let items = search(call.cfg, &contexts, &typed, call.mode);
    if items.is_empty() {
        return Ok((Res::Zero, Some("dir-nomatch")));
    }
    let res = if call.has('m') {
        select_menu(chan, call, &items).await?
    } else {
        select_seq(chan, call, &items).await?
    };
    Ok(match res {
        Res::Zero => (Res::Zero, Some("dir-nomore")),
        r => (r, None),
    })
}

/// Read the voicemail configuration file `name` from the configuration directory.
async fn load_config(chan: &Channel, name: &str) -> Option<VoicemailConfig> {
    let settings = chan.pbx.settings.clone();
    let name = name.to_string();
    blocking::run(move || {
        let cf = crate::config::load(&settings.astetcdir, &name, &settings.load_options()).ok()?;
        parse_voicemail_conf(&cf).ok().map(|(c, _)| c)
    })
    .await
    .flatten()
}

/// The main loop (directory_exec after the configuration is read).
async fn run(
    chan: &mut Channel,
    call: &Call<'_>,
    digits: usize,
    which: &str,
) -> Result<Res, Hangup> {
    let intro = call
        .cfg
        .general
        .other("directoryintro")
        .unwrap_or("")
        .to_string();
    let mut res = Res::Zero;
    loop {
        if res == Res::Zero {
            if !intro.is_empty() {
                res = play(chan, &intro).await?;
            } else {
                for p in [
                    "dir-welcome",
                    "dir-pls-enter",
                    &format!("digits/{digits}"),
                    which,
                    "dir-usingkeypad",
                ] {
                    res = play(chan, p).await?;
                    if res != Res::Zero {
                        break;
                    }
                }
            }
        }
        if res == Res::Zero {
            res = wait(chan, 5000).await?;
        }
        let Res::Key(d) = res else {
            chan.set_var("DIRECTORY_RESULT", "TIMEOUT");
            return Ok(Res::Zero);
        };
        let (r, prompt) = do_directory(chan, call, d, digits).await?;
        if r != Res::Zero {
            return Ok(r);
        }
        res = match prompt {
            Some(p) => play(chan, p).await?,
            None => Res::Zero,
        };
    }
}

struct Directory;

#[async_trait]
impl App for Directory {
    fn name(&self) -> &'static str {
        "Directory"
    }
    fn synopsis(&self) -> &'static str {
        "Provide directory of voicemail extensions."
    }
    fn syntax(&self) -> &'static str {
        "Directory([vm-context][,dial-context[,options]])"
    }
    fn description(&self) -> &'static str {
        "This application will present the calling channel with a directory of extensions from which they can search by name. The list of names and corresponding extensions is retrieved from the voicemail configuration file, voicemail.conf, or from the specified filename. vm-context: the context within voicemail.conf to use (default: default, or every context with searchcontexts=yes). dial-context: the dialplan context of the selected extension and of the o and a extensions (default: the current context). Options: e — also read the extension number; f(n) — search by first name (n digits, default 3); l(n) — by last name (the default); b(n) — by either; a — also match aliases (alias= mailbox options); m — a menu of up to 8 names instead of one by one; n — read digits even if the channel is not answered; p(n) — pause n ms (at most 3000) after the digits are typed; c(filename) — read that file instead of voicemail.conf; s — skip calling the extension, set DIRECTORY_EXTEN instead. 0 jumps to the o extension and * to the a extension, if they exist. Sets DIRECTORY_RESULT to OPERATOR, ASSISTANT, TIMEOUT, HANGUP, SELECTED, USEREXIT or FAILED."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let a = args::split(data, ',');
        let opts = args::options(args::nth(&a, 2));
        let file = match opts.get(&'c') {
            Some(Some(f)) if !f.is_empty() => f.clone(),
            _ => "voicemail.conf".to_string(),
        };
        let Some(cfg) = load_config(chan, &file).await else {
            chan.pbx
                .error("app_directory.c: Unable to read the configuration data!");
            return Err(Hangup);
        };
        let (first, last) = (opts.contains_key(&'f'), opts.contains_key(&'l'));
        let both = opts.contains_key(&'b') || (first && last);
        let (n, which, mode) = if both {
            (opts.get(&'b'), "dir-firstlast", (true, true))
        } else if first {
            (opts.get(&'f'), "dir-first", (false, true))
        } else {
            (opts.get(&'l'), "dir-last", (true, false))
        };
        let digits = match n.and_then(|n| n.as_deref()?.trim().parse::<i64>().ok()) {
            Some(d) if d > 9 => 9,
            Some(d) if d >= 1 => d as usize,
            _ => 3,
        };
        let call = Call {
            cfg: &cfg,
            vmcontext: args::nth(&a, 0).trim().to_string(),
            dialcontext: args::nth(&a, 1).trim().to_string(),
            mode: Mode {
                last: mode.0,
                first: mode.1,
                alias: opts.contains_key(&'a'),
            },
            opts,
        };
        if !chan.is_up() && !call.has('n') {
            chan.answer();
        }
        match run(chan, &call, digits, which).await {
            Err(h) => {
                chan.set_var("DIRECTORY_RESULT", "HANGUP");
                Err(h)
            }
            Ok(Res::Failed) => {
                chan.set_var("DIRECTORY_RESULT", "FAILED");
                Err(Hangup)
            }
            Ok(_) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::voicemail::config::parse_voicemail_str;

    const CONF: &str = "[general]\n\
        [default]\n\
        1001 => 1234,Alice Smith,,,alias=Ali\n\
        1002 => 1234,Bob Smithers\n\
        1003 => 1234,Carol Jones,,,hidefromdir=yes\n\
        1004 => 1234,Dave\n\
        1005 => 1234\n\
        [sales]\n\
        2001 => 1234,Sam Smit\n";

    fn cfg() -> VoicemailConfig {
        parse_voicemail_str(CONF).unwrap().0
    }

    fn found(typed: &str, mode: Mode, ctxs: &[&str]) -> Vec<String> {
        let ctxs: Vec<String> = ctxs.iter().map(|s| s.to_string()).collect();
        search(&cfg(), &ctxs, typed, mode)
            .into_iter()
            .map(|e| format!("{}@{}", e.exten, e.context))
            .collect()
    }

    #[test]
    fn keypad_spelling_skips_punctuation_and_stops_at_other_characters() {
        assert!(spells("Smith", "764"));
        assert!(spells("O'Neil", "6"));
        assert!(!spells("O'Neil", "66"), "an apostrophe ends the match");
        assert!(spells("Mc Donald", "6236"), "blanks are skipped");
        assert!(spells("Smith", "76484"));
        assert!(!spells("Smith", "765"));
        assert!(!spells("Sm", "764"), "shorter than the digits");
        assert!(!spells("", "7"));
        assert!(spells("anything", ""));
    }

    #[test]
    fn last_name_search_sorts_and_hides() {
        let last = Mode {
            last: true,
            ..Default::default()
        };
        // SMI: Alice Smith and Bob Smithers (by last name, sorted), not hidden Carol.
        assert_eq!(
            found("764", last, &["default"]),
            ["1001@default", "1002@default"]
        );
        // A name without a blank is its own last name.
        assert_eq!(found("328", last, &["default"]), ["1004@default"]);
        // Carol Jones is hidden from the directory.
        assert!(found("566", last, &["default"]).is_empty());
        // Other contexts only when searched.
        assert_eq!(
            found("764", last, &["default", "sales"]),
            ["1001@default", "1002@default", "2001@sales"]
        );
    }

    #[test]
    fn first_name_and_alias_search() {
        let first = Mode {
            first: true,
            ..Default::default()
        };
        assert_eq!(found("254", first, &["default"]), ["1001@default"]);
        assert!(found(
            "254",
            Mode {
                last: true,
                ..Default::default()
            },
            &["default"]
        )
        .is_empty());
        let alias = Mode {
            last: true,
            alias: true,
            ..Default::default()
        };
        assert_eq!(found("254", alias, &["default"]), ["1001@default"]);
    }

    #[test]
    fn contexts_follow_searchcontexts() {
        let c = cfg();
        assert_eq!(contexts(&c, ""), ["default"]);
        assert_eq!(contexts(&c, "sales"), ["sales"]);
        let c =
            parse_voicemail_str(&CONF.replace("[general]\n", "[general]\nsearchcontexts=yes\n"))
                .unwrap()
                .0;
        assert_eq!(contexts(&c, ""), ["default", "sales"]);
    }
}
