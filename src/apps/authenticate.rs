//! Authenticate() (`app_authenticate.so`) and DISA() (`app_disa.so`): a caller proves it
//! knows a password (a fixed one, one line of a file, or an AstDB key), and DISA gives an
//! authenticated caller a dial tone to dial an extension of a context. Password files are
//! read on the blocking pool.

use super::indications::play_tones;
use super::playback::stream;
use super::read::get_data;
use super::readexten::{exten_can_grow, exten_exists};
use super::waitexten::wait_digit;
use super::{args, App, AppResult};
use crate::funcs::channel::{digit_timeout_ms, response_timeout_ms};
use crate::pbx::channel::{CallerId, ChanEvent};
use crate::pbx::module::{Family, ModuleContext, ModuleInfo};
use crate::pbx::{blocking, Channel, Hangup};
use async_trait::async_trait;
use md5::{Digest, Md5};
use std::sync::Arc;
use std::time::Duration;

/// The modules of this file (`module show`).
pub static MODULES: &[Family] = &[
    Family {
        info: ModuleInfo::new("app_authenticate.so", "Authentication Application"),
        register: register_app_authenticate,
    },
    Family {
        info: ModuleInfo::new(
            "app_disa.so",
            "DISA (Direct Inward System Access) Application",
        ),
        register: register_app_disa,
    },
];

fn register_app_authenticate(ctx: &ModuleContext) {
    ctx.register_app(Arc::new(Authenticate));
}

fn register_app_disa(ctx: &ModuleContext) {
    ctx.register_app(Arc::new(Disa));
}

/// What a password file's line that matched says: the account code it gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileMatch {
    /// No line matched.
    None,
    /// The line (the password itself, or with `m` the account code before the `:`).
    Line(String),
}

/// Look `entered` up in the lines of an Authenticate password file: each line a password,
/// or with `md5` `account:md5-of-the-password`.
pub fn match_password_file(text: &str, entered: &str, md5: bool) -> FileMatch {
    let hash = md5.then(|| {
        Md5::digest(entered.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    });
    for line in text.lines() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        match &hash {
            Some(h) => {
                if let Some((acct, secret)) = line.split_once(':') {
                    if secret == h {
                        return FileMatch::Line(acct.to_string());
                    }
                }
            }
            None if line == entered => return FileMatch::Line(line.to_string()),
            None => {}
        }
    }
    FileMatch::None
}

struct Authenticate;

#[async_trait]
impl App for Authenticate {
    fn name(&self) -> &'static str {
        "Authenticate"
    }
    fn synopsis(&self) -> &'static str {
        "Authenticate a user"
    }
    fn syntax(&self) -> &'static str {
        "Authenticate(password[,options[,maxdigits[,prompt]]])"
    }
    fn description(&self) -> &'static str {
        "This application asks the caller to enter a given password in order to continue dialplan execution. If the password begins with the / character, it is interpreted as a file which contains a list of valid passwords, listed 1 password per line in the file. Options: a — set the channel's account code to the password that is entered; d — interpret the given path as database key, not a literal file (password /pin authenticates a caller entering 100 when /pin/100 exists in AstDB); m — the file lists account codes and password MD5 hashes as account:hash, one per line: the account code of the matching line is set; r — remove the database key upon successful entry (with d). maxdigits: stop reading after that many digits (default: no limit, # ends). prompt: replaces agent-pass. Users have three attempts (the prompt becomes auth-incorrect) before vm-goodbye is played and the channel is hung up; on success auth-thankyou is played."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        if data.trim().is_empty() {
            chan.pbx
                .warning("app_authenticate.c: Authenticate requires an argument(password)");
            return Err(Hangup);
        }
        if !chan.is_up() {
            chan.answer();
        }
        let a = args::split(data, ',');
        let password = args::nth(&a, 0).to_string();
        let opts = args::options(args::nth(&a, 1));
        let (account, database, multiple, remove) = (
            opts.contains_key(&'a'),
            opts.contains_key(&'d'),
            opts.contains_key(&'m'),
            opts.contains_key(&'r'),
        );
        let max = match args::nth(&a, 2).trim().parse::<i64>() {
            Ok(n) if (1..=254).contains(&n) => n as usize,
            _ => 254,
        };
        let mut prompt = match args::nth(&a, 3).trim() {
            "" => "agent-pass".to_string(),
            p => p.to_string(),
        };
        for _ in 0..3 {
            let (entered, _) = get_data(chan, &prompt, max, None, "#").await?;
            let ok = if !password.starts_with('/') {
                entered == password
            } else if database {
                let (pbx, family, key) =
                    (chan.pbx.clone(), password[1..].to_string(), entered.clone());
                blocking::run(move || {
                    let found = pbx.astdb.get(&family, &key).is_some();
                    if found && remove {
                        let _ = pbx.astdb.del(&family, &key);
                    }
                    found
                })
                .await
                .unwrap_or(false)
            } else {
                let path = password.clone();
                let Some(Ok(text)) = blocking::run(move || std::fs::read_to_string(path)).await
                else {
                    chan.pbx.warning(&format!(
                        "app_authenticate.c: Unable to open file '{password}' for authentication"
                    ));
                    continue;
                };
                match match_password_file(&text, &entered, multiple) {
                    FileMatch::Line(code) => {
                        if account {
                            chan.accountcode = code;
                        }
                        true
                    }
                    FileMatch::None => false,
                }
            };
            if ok {
                if account && !multiple {
                    chan.accountcode = entered;
                }
                stream(chan, "auth-thankyou", "").await?;
                return Ok(());
            }
            prompt = "auth-incorrect".into();
        }
        stream(chan, "vm-goodbye", "").await?;
        Err(Hangup)
    }
}

/// One line of a DISA passcode file: `passcode[,context[,cid[,mailbox]]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisaEntry {
    pub passcode: String,
    pub context: String,
    pub cid: String,
    pub mailbox: String,
}

/// The line of a DISA passcode file whose (numeric) passcode is `entered`; blank lines and
/// comments (`#`, `;`) are skipped.
pub fn disa_file_entry(text: &str, entered: &str) -> Option<DisaEntry> {
    text.lines()
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with(';'))
        .map(|l| args::split(l, ','))
        .find(|f| {
            let p = args::nth(f, 0);
            leading_int(p) && p == entered
        })
        .map(|f| DisaEntry {
            passcode: args::nth(&f, 0).to_string(),
            context: args::nth(&f, 1).to_string(),
            cid: args::nth(&f, 2).to_string(),
            mailbox: args::nth(&f, 3).to_string(),
        })
}

/// `sscanf("%d")` would read a number at the start of `s`.
fn leading_int(s: &str) -> bool {
    let t = s.trim_start();
    let t = t.strip_prefix(['-', '+']).unwrap_or(t);
    t.starts_with(|c: char| c.is_ascii_digit())
}

struct Disa;

#[async_trait]
impl App for Disa {
    fn name(&self) -> &'static str {
        "DISA"
    }
    fn synopsis(&self) -> &'static str {
        "Direct Inward System Access."
    }
    fn syntax(&self) -> &'static str {
        "DISA(passcode|filename[,context[,cid[,mailbox[@context][,options]]]])"
    }
    fn description(&self) -> &'static str {
        "The DISA, Direct Inward System Access, application allows someone from outside the telephone switch (PBX) to obtain an internal system dialtone and to place calls from it as if they were placing a call from within the switch. DISA plays a dialtone. The user enters their numeric passcode, followed by the pound sign #. If the passcode is correct, the user is then given system dialtone within context (default disa) on which a call may be placed. If the user enters an invalid extension and extension i exists in the specified context, it will be used. passcode no-password skips the passcode. A filename instead of a passcode names a file of lines passcode[,context[,cid[,mailbox]]] (blank lines and comments starting with # or ; are skipped). cid: a new caller ID for the call. mailbox: a stutter dial tone (dialrecall) when it has new messages. Options: n — do not answer initially; p — the extension is complete when # is entered. The first digit waits TIMEOUT(response), the next ones TIMEOUT(digit); on a time-out or a bad passcode the caller hears congestion for 10 seconds and the channel is hung up."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        if data.trim().is_empty() {
            chan.pbx
                .warning("app_disa.c: DISA requires an argument (passcode/passcode file)");
            return Err(Hangup);
        }
        let a = args::split(data, ',');
        let mut entry = DisaEntry {
            passcode: args::nth(&a, 0).to_string(),
            context: args::nth(&a, 1).to_string(),
            cid: args::nth(&a, 2).to_string(),
            mailbox: args::nth(&a, 3).to_string(),
        };
        let opts = args::options(args::nth(&a, 4));
        if !opts.contains_key(&'n') && !chan.is_up() {
            chan.answer();
        }
        if entry.context.is_empty() {
            entry.context = "disa".into();
        }
        let mut authed = entry.passcode.eq_ignore_ascii_case("no-password");
        let first_wait = Duration::from_millis(response_timeout_ms(chan));
        let next_wait = Duration::from_millis(digit_timeout_ms(chan));
        dial_tone(chan, &entry.mailbox).await;
        let mut exten = String::new();
        let mut acctcode = String::new();
        let mut got_digit = false;
        loop {
            let wait = if got_digit { next_wait } else { first_wait };
            let Some(d) = wait_digit(chan, wait).await? else {
                chan.pbx.verbose_line(
                    3,
                    &format!(
                        "DISA {} entry timeout on chan {}",
                        if authed { "extension" } else { "password" },
                        chan.name()
                    ),
                );
                break;
            };
            if exten.is_empty() {
                got_digit = true;
                chan.stop_background();
            }
            if !authed {
                if d != '#' {
                    exten.push(d);
                    continue;
                }
                if !leading_int(&entry.passcode) {
                    let path = entry.passcode.clone();
                    let Some(Ok(text)) = blocking::run(move || std::fs::read_to_string(path)).await
                    else {
                        chan.pbx.warning(&format!(
                            "app_disa.c: DISA password file {} not found on chan {}",
                            entry.passcode,
                            chan.name()
                        ));
                        return Err(Hangup);
                    };
                    if let Some(e) = disa_file_entry(&text, &exten) {
                        entry = DisaEntry {
                            context: if e.context.is_empty() {
                                "disa".into()
                            } else {
                                e.context
                            },
                            ..e
                        };
                    }
                }
                if exten != entry.passcode {
                    chan.pbx.warning(&format!(
                        "app_disa.c: DISA on chan {} got bad password {exten}",
                        chan.name()
                    ));
                    return reorder(chan).await;
                }
                dial_tone(chan, &entry.mailbox).await;
                authed = true;
                acctcode = exten.chars().take(19).collect();
                exten.clear();
                continue;
            }
            if d == '#'
                && !(exten.is_empty()
                    && (exten_can_grow(chan, &entry.context, "#")
                        || exten_exists(chan, &entry.context, "#")))
            {
                break;
            }
            exten.push(d);
            if d == '#' && opts.contains_key(&'p') {
                exten.pop();
                break;
            }
            if !exten_can_grow(chan, &entry.context, &exten) || exten.len() >= 79 {
                break;
            }
        }
        if authed && got_digit {
            let ctx = entry.context.clone();
            let mut target = exten.clone();
            if !exten_exists(chan, &ctx, &target) {
                chan.set_var("INVALID_EXTEN", &exten);
                target = "i".into();
            }
            if exten_exists(chan, &ctx, &target) {
                chan.stop_background();
                if !entry.cid.is_empty() {
                    let cid = CallerId::parse(&entry.cid);
                    chan.caller.ani.clone_from(&cid.num);
                    chan.caller.name = cid.name;
                    chan.caller.num = cid.num;
                }
                if !acctcode.is_empty() {
                    chan.accountcode = acctcode;
                }
                chan.goto(&ctx, &target, 1);
                return Ok(());
            }
        }
        reorder(chan).await
    }
}

/// DISA's dial tone: `dialrecall` (stutter) when `mailbox` has new messages, else `dial`.
async fn dial_tone(chan: &mut Channel, mailbox: &str) {
    let mut tone = "dial";
    if !mailbox.is_empty() {
        let (mb, ctx) = mailbox.split_once('@').unwrap_or((mailbox, "default"));
        if chan.pbx.mailbox_counts(mb, ctx).await.new > 0 {
            tone = "dialrecall";
        }
    }
    play_tones(chan, tone);
}

/// Congestion for 10 s, then hang up.
async fn reorder(chan: &mut Channel) -> AppResult {
    chan.indicate(ChanEvent::Congestion);
    play_tones(chan, "congestion");
    let r = chan.sleep(Duration::from_secs(10)).await;
    chan.stop_background();
    r?;
    Err(Hangup)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_files() {
        let text = "1234\n\n5678\r\n";
        assert_eq!(
            match_password_file(text, "5678", false),
            FileMatch::Line("5678".into())
        );
        assert_eq!(match_password_file(text, "999", false), FileMatch::None);
        // md5("1234") = 81dc9bdb52d04dc20036dbd8313ed055
        let text = "sales:81dc9bdb52d04dc20036dbd8313ed055\nbroken\n";
        assert_eq!(
            match_password_file(text, "1234", true),
            FileMatch::Line("sales".into())
        );
        assert_eq!(match_password_file(text, "4321", true), FileMatch::None);
    }

    #[test]
    fn disa_files() {
        let text = "; comment\n# another\n\nabc,x\n1234,internal,\"Boss\" <100>,100@default\n99\n";
        assert_eq!(
            disa_file_entry(text, "1234"),
            Some(DisaEntry {
                passcode: "1234".into(),
                context: "internal".into(),
                cid: "Boss <100>".into(),
                mailbox: "100@default".into()
            })
        );
        assert_eq!(
            disa_file_entry(text, "99").map(|e| e.context),
            Some(String::new())
        );
        assert_eq!(disa_file_entry(text, "abc"), None, "passcodes are numeric");
        assert_eq!(disa_file_entry(text, "5"), None);
    }
}
