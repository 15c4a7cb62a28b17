//! `MINIVMACCOUNT(account:item)` reads an account's settings; `MINIVMCOUNTER(account:name)`
//! reads and `Set(MINIVMCOUNTER(account:name:operand)=n)` changes a counter kept as a text
//! file (`NAME.counter`) in the account's (or the domain's) directory. Counter changes are
//! atomic: one at a time, the new value written to a temporary file and renamed. File work
//! runs on the blocking pool.

use super::config::split_address;
use crate::pbx::func::{Func, FuncError};
use crate::pbx::{blocking, Channel};
use async_trait::async_trait;
use std::path::{Path, PathBuf};

pub struct MinivmAccount;

impl Func for MinivmAccount {
    fn name(&self) -> &'static str {
        "MINIVMACCOUNT"
    }
    fn synopsis(&self) -> &'static str {
        "Gets MiniVoicemail account information."
    }
    fn syntax(&self) -> &'static str {
        "MINIVMACCOUNT(account:item)"
    }
    fn description(&self) -> &'static str {
        "account is username@domain. Items: path (the account's directory, also for a temporary account), hasaccount (1 if the account is in minivm.conf, else 0), fullname, email (username@domain when not set), pager, etemplate, ptemplate (email-default when not set), accountcode, pincode, timezone, language, or the name of a variable set with setvar in the account. Without :item, path."
    }
    fn read(&self, chan: &mut Channel, args: &str) -> Result<String, FuncError> {
        let (account, item) = args.split_once(':').unwrap_or((args, "path"));
        let (username, domain) = split_address(account);
        if username.is_empty() || domain.is_empty() {
            return Err(FuncError::Usage(
                "This function needs a username and a domain: username@domain".into(),
            ));
        }
        let mvm = super::of(&chan.pbx);
        let cfg = mvm.config();
        let Some(a) = cfg.find_account(username, domain, true) else {
            return Ok(String::new());
        };
        let or_default = |s: &str| {
            if s.is_empty() {
                "email-default".to_string()
            } else {
                s.to_string()
            }
        };
        Ok(match item.trim().to_ascii_lowercase().as_str() {
            "hasaccount" => if a.temporary { "0" } else { "1" }.to_string(),
            "fullname" => a.fullname,
            "email" => a.email_address(),
            "pager" => a.pager,
            "etemplate" => or_default(&a.etemplate),
            "ptemplate" => or_default(&a.ptemplate),
            "language" => a.language,
            "timezone" => a.zonetag,
            "accountcode" => a.accountcode,
            "pincode" => a.pincode,
            "path" => mvm.dir(&a.domain, &a.username, "").display().to_string(),
            _ => a
                .chanvars
                .iter()
                .find(|(n, _)| n == item.trim())
                .map(|(_, v)| v.clone())
                .unwrap_or_default(),
        })
    }
}

pub struct MinivmCounter;

/// How a write changes a counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CounterOp {
    Read,
    Set(i64),
    Change(i64),
}

/// Counters change one at a time in this process.
static COUNTER_LOCK: parking_lot::Mutex<()> = parking_lot::Mutex::new(());

/// Read, set or change the counter `name` in `dir` (created when missing); the new value.
/// Never below zero. Blocking.
pub fn access_counter(dir: &Path, name: &str, op: CounterOp) -> std::io::Result<i64> {
    let _g = COUNTER_LOCK.lock();
    std::fs::create_dir_all(dir)?;
    let file = dir.join(format!("{name}.counter"));
    let old = std::fs::read_to_string(&file)
        .ok()
        .and_then(|s| atoi(s.lines().next().unwrap_or("")))
        .unwrap_or(0);
    let new = match op {
        CounterOp::Read => return Ok(old),
        CounterOp::Set(v) => v,
        CounterOp::Change(d) => (old + d).max(0),
    };
    let tmp = dir.join(format!(".{name}.counter.tmp"));
    std::fs::write(&tmp, format!("{new}\n\n"))?;
    std::fs::rename(&tmp, &file)?;
    Ok(new)
}

/// C's `atoi`: leading blanks, an optional sign, the digits that follow.
fn atoi(s: &str) -> Option<i64> {
    let s = s.trim_start();
    let (neg, rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let n: i64 = digits.parse().ok()?;
    Some(if neg { -n } else { n })
}

impl MinivmCounter {
    /// The counter directory for `account` (`user@domain` or a domain): `Err` for bad
    /// arguments, `Ok(None)` when the account does not exist (an error is logged).
    fn dir(chan: &Channel, account: &str) -> Result<Option<PathBuf>, FuncError> {
        let (user, domain) = split_address(account);
        if user.is_empty() && domain.is_empty() {
            return Err(FuncError::Usage("No account given".into()));
        }
        // A bare name is a domain.
        let (user, domain) = if domain.is_empty() {
            ("", user)
        } else {
            (user, domain)
        };
        let mvm = super::of(&chan.pbx);
        if !user.is_empty() && mvm.config().account(user, domain).is_none() {
            chan.pbx.error(&format!(
                "app_minivm.c: Minivm account does not exist: {user}@{domain}"
            ));
            return Ok(None);
        }
        Ok(Some(mvm.dir(domain, user, "")))
    }
}

#[async_trait]
impl Func for MinivmCounter {
    fn name(&self) -> &'static str {
        "MINIVMCOUNTER"
    }
    fn synopsis(&self) -> &'static str {
        "Reads or sets counters for MiniVoicemail message."
    }
    fn syntax(&self) -> &'static str {
        "MINIVMCOUNTER(account:name[:operand])"
    }
    fn description(&self) -> &'static str {
        "account is username@domain (the account must exist) or a domain. Reading gives the counter's value (0 when it was never set). Writing needs an operand: i — increment by the value, d — decrement by the value, s — set to the value. Counters never go below zero. They are kept as NAME.counter text files in the account's or domain's minivm directory; a change is atomic."
    }
    fn read(&self, _chan: &mut Channel, _args: &str) -> Result<String, FuncError> {
        Err(FuncError::Other(
            "MINIVMCOUNTER reads a file: not available here".into(),
        ))
    }
    fn writable(&self) -> bool {
        true
    }
    fn is_async(&self) -> bool {
        true
    }
    async fn read_async(&self, chan: &mut Channel, args: &str) -> Result<String, FuncError> {
        let (account, name) = args.split_once(':').unwrap_or((args, ""));
        let name = name.split(':').next().unwrap_or("").trim();
        if name.is_empty() {
            return Err(FuncError::Usage(
                "This function needs two arguments: Account:countername".into(),
            ));
        }
        let Some(dir) = Self::dir(chan, account)? else {
            return Ok(String::new());
        };
        let name = name.to_string();
        match blocking::io(move || access_counter(&dir, &name, CounterOp::Read)).await {
            Ok(n) => Ok(n.to_string()),
            Err(e) => Err(FuncError::Other(e.to_string())),
        }
    }
    async fn write_async(
        &self,
        chan: &mut Channel,
        args: &str,
        value: &str,
    ) -> Result<(), FuncError> {
        let mut parts = args.splitn(3, ':');
        let account = parts.next().unwrap_or("");
        let name = parts.next().unwrap_or("").trim().to_string();
        let operand = parts.next().unwrap_or("").trim();
        if name.is_empty() || operand.is_empty() {
            return Err(FuncError::Usage(
                "Writing to this function requires three arguments: Account:countername:operand"
                    .into(),
            ));
        }
        let change = atoi(value).unwrap_or(0);
        let op = match operand.chars().next() {
            Some('i') => CounterOp::Change(change),
            Some('d') => CounterOp::Change(-change),
            Some('s') => CounterOp::Set(change),
            _ => return Err(FuncError::Usage(format!("Unknown operator: {operand}"))),
        };
        let Some(dir) = Self::dir(chan, account)? else {
            return Ok(());
        };
        let file = dir.join(format!("{name}.counter"));
        blocking::io(move || access_counter(&dir, &name, op))
            .await
            .map(|_| ())
            .map_err(|e| {
                FuncError::Other(format!(
                    "Could not open counter file for writing : {} - {e}",
                    file.display()
                ))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pbx::tests::{get, pbx_with, run};

    #[test]
    fn counters_change_and_never_go_below_zero() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("example.com/anita");
        assert_eq!(access_counter(&d, "calls", CounterOp::Read).unwrap(), 0);
        assert_eq!(
            access_counter(&d, "calls", CounterOp::Change(3)).unwrap(),
            3
        );
        assert_eq!(
            access_counter(&d, "calls", CounterOp::Change(-5)).unwrap(),
            0
        );
        assert_eq!(access_counter(&d, "calls", CounterOp::Set(7)).unwrap(), 7);
        assert_eq!(
            std::fs::read_to_string(d.join("calls.counter")).unwrap(),
            "7\n\n"
        );
        assert_eq!(atoi(" 12abc"), Some(12));
        assert_eq!(atoi("-4"), Some(-4));
        assert_eq!(atoi("x"), None);
    }

    #[tokio::test]
    async fn account_items_and_counter_through_the_dialplan() {
        let t = tempfile::tempdir().unwrap();
        let pbx = pbx_with(
            "[t]\nexten => s,1,Set(A=${MINIVMACCOUNT(anita@example.com:fullname)})\n\
             same => n,Set(B=${MINIVMACCOUNT(bob@example.com:hasaccount)}${MINIVMACCOUNT(anita@example.com:hasaccount)})\n\
             same => n,Set(C=${MINIVMACCOUNT(bob@example.com:email)},${MINIVMACCOUNT(bob@example.com:etemplate)})\n\
             same => n,Set(D=${MINIVMACCOUNT(anita@example.com:customerclass)})\n\
             same => n,Set(MINIVMCOUNTER(anita@example.com:msgs:i)=2)\n\
             same => n,Set(MINIVMCOUNTER(anita@example.com:msgs:i)=1)\n\
             same => n,Set(MINIVMCOUNTER(example.com:dom:s)=9)\n\
             same => n,Set(E=${MINIVMCOUNTER(anita@example.com:msgs)}/${MINIVMCOUNTER(example.com:dom)})\n\
             same => n,Set(F=${MINIVMACCOUNT(anita@example.com)})\n",
        );
        let mvm = std::sync::Arc::new(super::super::Minivm::new(t.path().to_path_buf()));
        pbx.services.insert("app_minivm.so", mvm.clone());
        let (c, _) = super::super::config::parse_str(
            "[anita@example.com]\nfullname=Anita Borg\nsetvar=customerclass=gold\n",
        )
        .unwrap();
        mvm.set_config(c);
        let v = run(&pbx, "t", "s").await;
        assert_eq!(get(&v, "A"), Some("Anita Borg"));
        assert_eq!(get(&v, "B"), Some("01"));
        assert_eq!(get(&v, "C"), Some("bob@example.com,email-default"));
        assert_eq!(get(&v, "D"), Some("gold"));
        assert_eq!(get(&v, "E"), Some("3/9"));
        let path = t.path().join("example.com/anita").display().to_string();
        assert_eq!(get(&v, "F"), Some(path.as_str()));
    }
}
