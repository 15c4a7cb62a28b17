//! `func_enum.so`: `ENUMLOOKUP()`, `ENUMQUERY()`, `ENUMRESULT()` and `TXTCIDNAME()`, over
//! NAPTR and TXT queries of our stub resolver (`net/dns.rs`), with Asterisk's ENUM core
//! (`main/enum.c`) rules: the number's digits reversed under a zone suffix (default
//! `e164.arpa`), ISN (`s`, or a `*` in the number), infrastructure ENUM (`i`, with
//! `enum.conf` `[ienum] branchlabel` and `ebl_alg` = `cc`, `txt` or `ebl`) and direct
//! (`d`) look-ups, NAPTR records sorted by order then preference, each record's regexp
//! applied to the number (`\1`…`\9` back-references, a trailing `i` for case-blind).
//!
//! `enum.conf` `[general]`: Asterisk 20 ignores `search` and `h323driver` (the suffix is the
//! functions' argument) and so do we; `dnsservers` (a ferrisk option: `ip[:port]`, comma
//! separated) names the servers to ask instead of `/etc/resolv.conf`'s.
//!
//! The pure part (names, NAPTR rewriting, selection) is unit tested; DNS runs on the
//! blocking pool.

use super::{Func, FuncError};
use crate::apps::args;
use crate::config::{ConfigError, ConfigFile};
use crate::net::dns::{Naptr, Resolver};
use crate::pbx::module::{Module, ModuleContext, ModuleError, ModuleInfo, Reload};
use crate::pbx::Channel;
use async_trait::async_trait;
use parking_lot::RwLock;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

/// The module.
pub struct FuncEnum;

impl Module for FuncEnum {
    fn info(&self) -> ModuleInfo {
        ModuleInfo::new("func_enum.so", "ENUM related dialplan functions").configs(&["enum.conf"])
    }
    fn load(&self, ctx: &ModuleContext) -> Result<(), ModuleError> {
        let conf = Arc::new(EnumSettings(RwLock::new(
            read_conf(ctx).map_err(|e| ModuleError::Failed(e.to_string()))?,
        )));
        ctx.provide(conf.clone());
        ctx.register_func(Arc::new(EnumLookup(conf.clone())));
        ctx.register_func(Arc::new(EnumQuery(conf.clone())));
        ctx.register_func(Arc::new(EnumResult));
        ctx.register_func(Arc::new(TxtCidName(conf)));
        Ok(())
    }
    fn reload(&self, ctx: &ModuleContext) -> Reload {
        match (read_conf(ctx), ctx.pbx.services.get::<EnumSettings>()) {
            (Ok(c), Some(cur)) => {
                *cur.0.write() = c;
                Reload::Done(String::new())
            }
            (Err(e), _) => Reload::Failed(e.to_string()),
            (_, None) => Reload::Failed("func_enum.so is not loaded".into()),
        }
    }
}

/// How an infrastructure ENUM look-up finds its branch (`[ienum] ebl_alg`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BranchAlg {
    /// After the country code.
    Cc,
    /// A TXT record at `<branchlabel>.<cc reversed>.<suffix>` holds the digit count.
    Txt,
    /// An EBL record there holds the position, separator and apex.
    Ebl,
}

/// What `enum.conf` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnumConf {
    pub branchlabel: String,
    pub ebl_alg: BranchAlg,
    pub dnsservers: Vec<SocketAddr>,
}

impl Default for EnumConf {
    fn default() -> Self {
        EnumConf {
            branchlabel: "i".into(),
            ebl_alg: BranchAlg::Cc,
            dnsservers: Vec::new(),
        }
    }
}

impl EnumConf {
    /// The name servers to ask.
    pub fn resolver(&self) -> Resolver {
        if self.dnsservers.is_empty() {
            Resolver::system()
        } else {
            Resolver {
                servers: self.dnsservers.clone(),
            }
        }
    }
}

/// The running configuration (a service, so `module reload func_enum.so` replaces it).
pub struct EnumSettings(pub RwLock<EnumConf>);

/// Interpret a loaded enum.conf.
pub fn parse_conf(cf: &ConfigFile) -> Result<EnumConf, ConfigError> {
    let mut c = EnumConf::default();
    if let Some(s) = cf.section("ienum") {
        if let Some(v) = s.get("branchlabel") {
            c.branchlabel = v.to_string();
        }
        if let Some(e) = s.get_all("ebl_alg").last() {
            c.ebl_alg = match e.value.to_ascii_lowercase().as_str() {
                "txt" => BranchAlg::Txt,
                "ebl" => BranchAlg::Ebl,
                "cc" => BranchAlg::Cc,
                _ => {
                    return Err(ConfigError::at(
                        &e.loc,
                        format!("ebl_alg expects cc, txt or ebl, not '{}'", e.value),
                    ))
                }
            };
        }
    }
    if let Some(s) = cf.section("general") {
        for e in s.get_all("dnsservers") {
            c.dnsservers.clear();
            for item in e.value.split(',').filter(|i| !i.trim().is_empty()) {
                let a =
                    crate::net::dns::parse_server(item).map_err(|m| ConfigError::at(&e.loc, m))?;
                c.dnsservers.push(a);
            }
        }
    }
    Ok(c)
}

fn read_conf(ctx: &ModuleContext) -> Result<EnumConf, ConfigError> {
    let s = &ctx.pbx.settings;
    if !s.astetcdir.join("enum.conf").exists() {
        return Ok(EnumConf::default());
    }
    parse_conf(&crate::config::load(
        &s.astetcdir,
        "enum.conf",
        &s.load_options(),
    )?)
}

// ---------------------------------------------------------------------------------------
// The pure ENUM rules

/// The options letters of ENUMLOOKUP.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EnumOptions {
    pub count: bool,
    pub isn: bool,
    pub ienum: bool,
    pub direct: bool,
}

impl EnumOptions {
    /// `s` wins over `i`, `i` over `d`, as Asterisk's; a `*` in the number means ISN.
    pub fn parse(opts: &str, number: &str) -> EnumOptions {
        let mut o = EnumOptions {
            count: opts.contains('c'),
            ..Default::default()
        };
        if opts.contains('s') {
            o.isn = true;
        } else if opts.contains('i') {
            o.ienum = true;
        } else if opts.contains('d') {
            o.direct = true;
        }
        if number.contains('*') {
            o.isn = true;
        }
        o
    }
}

/// The digits of `s`, last first, each followed by a dot.
fn flip(s: &str) -> String {
    s.chars()
        .rev()
        .filter(char::is_ascii_digit)
        .flat_map(|c| [c, '.'])
        .collect()
}

/// The length of the E.164 country code that `number` (no `+`) starts with: 1 for 1 and 7,
/// 2 for Asterisk's list of two-digit codes, else 3; 0 for a number under 3 characters.
pub fn cc_len(number: &str) -> usize {
    if number.len() < 3 {
        return 0;
    }
    let d: String = number.chars().take(2).collect();
    let Ok(cc) = d.parse::<u32>() else { return 0 };
    if cc / 10 == 1 || cc / 10 == 7 {
        return 1;
    }
    let two = matches!(cc, 20 | 27 | 30..=34 | 36 | 39 | 40 | 41 | 43..=49 | 51..=58 | 60..=66
        | 81 | 82 | 84 | 86 | 90..=95 | 98);
    if two {
        2
    } else {
        3
    }
}

/// The I-ENUM branch: digits before it, and the label and apex (`None`: unchanged).
pub struct Branch {
    pub digits: usize,
    pub separator: Option<String>,
    pub apex: Option<String>,
}

/// The NAPTR name to ask for `number` (no leading `+`); `branch` is asked for an I-ENUM
/// look-up's branch location. `None`: the number is too short for its branch.
pub fn enum_domain(
    number: &str,
    o: EnumOptions,
    suffix: &str,
    branchlabel: &str,
    branch: impl FnOnce(&str) -> Option<Branch>,
) -> Option<String> {
    let mut left = number.to_string();
    let mut middle = String::new();
    let mut apex = suffix.to_string();
    if o.isn && number.contains('*') {
        let (l, m) = number.split_once('*').unwrap_or((number, ""));
        left = l.to_string();
        middle = format!("{m}.");
    } else if o.direct {
        left.clear();
        middle = format!("{number}.");
    } else if o.ienum {
        let cc = cc_len(number);
        let b = branch(&number[..cc.min(number.len())]);
        let (sdl, sep) = match b {
            Some(b) => {
                if let Some(a) = b.apex {
                    apex = a;
                }
                (b.digits, b.separator.unwrap_or_else(|| branchlabel.into()))
            }
            None => (cc, branchlabel.to_string()),
        };
        if sdl > number.len() {
            return None;
        }
        left = number[sdl..].to_string();
        middle = format!("{sep}.{}", flip(&number[..sdl]));
    }
    Some(format!("{}{middle}{apex}", flip(&left)))
}

/// The technology a NAPTR's services field names: `E2U+sip` → `sip`, `E2U+voice:tel` →
/// `tel`, the old `sip+E2U` → `sip`.
pub fn naptr_tech(services: &str) -> String {
    let p = services.find("e2u+").or_else(|| services.find("E2U+"));
    if let Some(p) = p {
        let rest = &services[p + 4..];
        return match rest.find(':') {
            Some(c) => rest[c + 1..].to_string(),
            None => rest.to_string(),
        };
    }
    let p = services.find("+e2u").or_else(|| services.find("+E2U"));
    match p {
        Some(p) => services[..p].split(':').next().unwrap_or("").to_string(),
        None => String::new(),
    }
}

/// Apply a NAPTR regexp field (`!pattern!substitution!` with an optional trailing `i`) to
/// `input` (POSIX extended syntax; `\0`…`\9` in the substitution).
pub fn naptr_rewrite(regexp: &str, input: &str) -> Result<String, String> {
    if regexp.len() < 7 {
        return Err("Regex too short to be meaningful.".into());
    }
    let delim = regexp.chars().next().unwrap_or('!');
    let body = &regexp[delim.len_utf8()..];
    let icase = regexp.ends_with(&format!("{delim}i"));
    let body = if icase {
        &body[..body.len() - 1 - delim.len_utf8()]
    } else if regexp.ends_with(delim) {
        &body[..body.len() - delim.len_utf8()]
    } else {
        return Err(format!("Regex delimiter error (on \"{regexp}\")."));
    };
    let Some((pattern, subst)) = body.split_once(delim) else {
        return Err(format!("Regex delimiter error (on \"{regexp}\")."));
    };
    let re = regex::RegexBuilder::new(pattern)
        .case_insensitive(icase)
        .multi_line(true)
        .build()
        .map_err(|_| format!("NAPTR Regex compilation error (regex = \"{regexp}\")."))?;
    let caps = re
        .captures(input)
        .ok_or_else(|| "NAPTR Regex match failed. Reason: No match".to_string())?;
    let mut out = String::new();
    let mut it = subst.chars().peekable();
    while let Some(c) = it.next() {
        if c == '\\' && it.peek().is_some_and(char::is_ascii_digit) {
            let i = it.next().and_then(|d| d.to_digit(10)).unwrap_or(0) as usize;
            let m = caps.get(i).ok_or_else(|| {
                "Error during regex substitution. Invalid backreference index.".to_string()
            })?;
            out.push_str(m.as_str());
        } else if c.is_ascii_graphic() || c == ' ' {
            out.push(c);
        } else {
            return Err("Error during regex substitution.".into());
        }
    }
    Ok(out)
}

/// One NAPTR record that matched: its sort keys, the rewritten URI and its technology
/// (`ALL` when every technology was asked for).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnumRecord {
    pub order: u16,
    pub preference: u16,
    pub uri: String,
    pub tech: String,
}

/// The records of one answer that match `tech` (`ALL`: any; empty: the first record's), in
/// order/preference order. `Err`: a record Asterisk cannot use (not flag `u`, a regexp
/// that does not apply), which fails the whole look-up as in Asterisk.
pub fn select(naptrs: &[Naptr], tech: &str, input: &str) -> Result<Vec<EnumRecord>, String> {
    let mut want = tech.to_string();
    let mut out = Vec::new();
    for n in naptrs {
        if !n.flags.to_ascii_lowercase().starts_with('u') {
            return Err("NAPTR Flag must be 'U' or 'u'.".into());
        }
        let rtech = naptr_tech(&n.services);
        let uri = naptr_rewrite(&n.regexp, input)?;
        let keep = if want.eq_ignore_ascii_case("ALL") {
            true
        } else if want.is_empty() {
            want = rtech.clone();
            true
        } else {
            rtech.eq_ignore_ascii_case(&want)
        };
        if keep && !uri.is_empty() {
            out.push(EnumRecord {
                order: n.order,
                preference: n.preference,
                uri,
                tech: if want.eq_ignore_ascii_case("ALL") {
                    "ALL".into()
                } else {
                    rtech
                },
            });
        }
    }
    out.sort_by_key(|r| (r.order, r.preference));
    Ok(out)
}

/// What one look-up found: the matching records, or `None` when the name does not exist,
/// has no NAPTR records or one of them is unusable (Asterisk's count of -1).
pub type Found = Option<Vec<EnumRecord>>;

/// A URI as ENUMLOOKUP and ENUMRESULT give it: without its scheme, unless every
/// technology was asked for or `keep_scheme`.
fn present(r: &EnumRecord, keep_scheme: bool) -> String {
    match r.uri.split_once(':') {
        Some((_, rest)) if !keep_scheme && !r.tech.eq_ignore_ascii_case("ALL") => rest.into(),
        _ => r.uri.clone(),
    }
}

/// Look `number` up (blocking: DNS). The number's leading `n` is dropped, its `+` kept for
/// the regexps and dropped from the name; a `*` ends what the regexps see.
pub fn lookup(
    conf: &EnumConf,
    number: &str,
    tech: &str,
    options: EnumOptions,
    suffix: &str,
    pbx: &crate::pbx::Pbx,
) -> Found {
    let r = conf.resolver();
    let input = number.strip_prefix('n').unwrap_or(number);
    let input = input.split('*').next().unwrap_or("");
    let digits = number.strip_prefix('+').unwrap_or(number);
    let branch = |cc: &str| -> Option<Branch> {
        let name = format!("{}.{}{suffix}", conf.branchlabel, flip(cc));
        match conf.ebl_alg {
            BranchAlg::Cc => None,
            BranchAlg::Txt => {
                let t = r.txt(&name).ok()?;
                let n: usize = t.last()?.first()?.trim().parse().ok()?;
                (n < 20).then_some(Branch {
                    digits: n,
                    separator: None,
                    apex: None,
                })
            }
            BranchAlg::Ebl => {
                let e = r.ebl(&name).ok()?.pop()?;
                (e.position < 16).then_some(Branch {
                    digits: e.position as usize,
                    separator: Some(e.separator),
                    apex: Some(e.apex),
                })
            }
        }
    };
    let Some(domain) = enum_domain(digits, options, suffix, &conf.branchlabel, branch) else {
        pbx.warning(&format!(
            "enum.c: I-ENUM: subdomain location behind number {digits}"
        ));
        return Some(Vec::new());
    };
    let naptrs = match r.naptr(&domain) {
        Ok(n) if !n.is_empty() => n,
        _ => return None,
    };
    match select(&naptrs, tech, input) {
        Ok(v) => Some(v),
        Err(m) => {
            pbx.warning(&format!("enum.c: {m}"));
            None
        }
    }
}

// ---------------------------------------------------------------------------------------
// ENUMLOOKUP

pub struct EnumLookup(Arc<EnumSettings>);

#[async_trait]
impl Func for EnumLookup {
    fn name(&self) -> &'static str {
        "ENUMLOOKUP"
    }
    fn synopsis(&self) -> &'static str {
        "General or specific querying of NAPTR records for ENUM or ENUM-like DNS pointers."
    }
    fn syntax(&self) -> &'static str {
        "ENUMLOOKUP(number[,method-type[,options[,record#[,zone-suffix]]]])"
    }
    fn description(&self) -> &'static str {
        "method-type: the technology to look for (default sip; ALL for any). options: c (the \
         count of matching NAPTRs, -1 on error), u (the full URI, scheme kept), s (ISN), i \
         (infrastructure ENUM), d (direct, no digit flipping). record#: which record (from 1). \
         zone-suffix: default e164.arpa."
    }
    fn read(&self, _chan: &mut Channel, _a: &str) -> Result<String, FuncError> {
        Err(FuncError::Other("ENUMLOOKUP() waits for DNS".into()))
    }
    fn is_async(&self) -> bool {
        true
    }
    async fn read_async(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        let usage = || {
            FuncError::Usage(
                "Syntax: ENUMLOOKUP(number[,Method-type[,options[,record#[,zone-suffix]]]])".into(),
            )
        };
        if a.is_empty() {
            return Err(usage());
        }
        let v = args::split(a, ',');
        let number: String = args::nth(&v, 0).chars().filter(|c| *c != '-').collect();
        let tech = match args::nth(&v, 1) {
            "" => "sip".to_string(),
            t => t.to_string(),
        };
        let options = args::nth(&v, 2).to_string();
        let record = args::nth(&v, 3).trim().parse::<usize>().unwrap_or(0).max(1);
        let zone = if v.len() > 4 {
            args::nth(&v, 4).to_string()
        } else {
            "e164.arpa".to_string()
        };
        let o = EnumOptions::parse(&options, &number);
        let conf = self.0 .0.read().clone();
        let pbx = chan.pbx.clone();
        let found = super::on_pool(move || lookup(&conf, &number, &tech, o, &zone, &pbx)).await?;
        if o.count {
            return Ok(found.map_or(-1, |f| f.len() as i64).to_string());
        }
        Ok(found
            .and_then(|f| f.get(record - 1).cloned())
            .map(|r| present(&r, options.contains('u')))
            .unwrap_or_default())
    }
}

// ---------------------------------------------------------------------------------------
// ENUMQUERY, ENUMRESULT

/// A channel's ENUMQUERY results by id (a datastore).
#[derive(Debug, Clone, Default)]
struct EnumResults(BTreeMap<String, Found>);

const ENUM_STORE: &str = "ENUMQUERY";

static NEXT_ID: AtomicU32 = AtomicU32::new(0);

pub struct EnumQuery(Arc<EnumSettings>);

#[async_trait]
impl Func for EnumQuery {
    fn name(&self) -> &'static str {
        "ENUMQUERY"
    }
    fn synopsis(&self) -> &'static str {
        "Initiate an ENUM query."
    }
    fn syntax(&self) -> &'static str {
        "ENUMQUERY(number[,method-type[,zone-suffix]])"
    }
    fn description(&self) -> &'static str {
        "This will do a ENUM lookup of the given phone number. method-type: default sip. \
         zone-suffix: default e164.arpa. Returns an id for ENUMRESULT."
    }
    fn read(&self, _chan: &mut Channel, _a: &str) -> Result<String, FuncError> {
        Err(FuncError::Other("ENUMQUERY() waits for DNS".into()))
    }
    fn is_async(&self) -> bool {
        true
    }
    async fn read_async(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        if a.is_empty() {
            return Err(FuncError::Usage(
                "ENUMQUERY requires at least a number as an argument...".into(),
            ));
        }
        let v = args::split(a, ',');
        let number = args::nth(&v, 0).to_string();
        let tech = if v.len() > 1 {
            args::nth(&v, 1).to_string()
        } else {
            "sip".to_string()
        };
        let zone = match args::nth(&v, 2) {
            "" => "e164.arpa".to_string(),
            z => z.to_string(),
        };
        let o = EnumOptions::parse("", &number);
        let conf = self.0 .0.read().clone();
        let pbx = chan.pbx.clone();
        let found = super::on_pool(move || lookup(&conf, &number, &tech, o, &zone, &pbx)).await?;
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed).to_string();
        if chan.datastores.get::<EnumResults>(ENUM_STORE).is_none() {
            chan.datastores.insert(ENUM_STORE, EnumResults::default());
        }
        if let Some(r) = chan.datastores.get_mut::<EnumResults>(ENUM_STORE) {
            r.0.insert(id.clone(), found);
        }
        Ok(id)
    }
}

pub struct EnumResult;

impl Func for EnumResult {
    fn name(&self) -> &'static str {
        "ENUMRESULT"
    }
    fn synopsis(&self) -> &'static str {
        "Retrieve results from a ENUMQUERY."
    }
    fn syntax(&self) -> &'static str {
        "ENUMRESULT(id,resultnum)"
    }
    fn description(&self) -> &'static str {
        "id: what ENUMQUERY returned. resultnum: the result's number (from 1), or getnum for \
         the number of results (-1 on error)."
    }
    fn read(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        if a.is_empty() {
            return Err(FuncError::Usage(
                "ENUMRESULT requires two arguments (id and resultnum)".into(),
            ));
        }
        let v = args::split(a, ',');
        let id = args::nth(&v, 0);
        let num = args::nth(&v, 1);
        if id.is_empty() {
            return Err(FuncError::Usage(
                "A result ID must be provided to ENUMRESULT".into(),
            ));
        }
        if num.is_empty() {
            return Err(FuncError::Usage(
                "A result number must be given to ENUMRESULT!".into(),
            ));
        }
        let Some(found) = chan
            .datastores
            .get::<EnumResults>(ENUM_STORE)
            .and_then(|r| r.0.get(id))
        else {
            return Err(FuncError::Other(
                "No ENUM results found for query id!".into(),
            ));
        };
        if num.eq_ignore_ascii_case("getnum") {
            return Ok(found.as_ref().map_or(-1, |f| f.len() as i64).to_string());
        }
        let n: usize = num.trim().parse().map_err(|_| {
            FuncError::Other(format!(
                "Invalid value '{num}' for resultnum to ENUMRESULT!"
            ))
        })?;
        match n
            .checked_sub(1)
            .and_then(|i| found.as_ref().and_then(|f| f.get(i)))
        {
            Some(r) => Ok(present(r, false)),
            None => Err(FuncError::Other(format!(
                "Result number {n} is not valid for ENUM query results for ID {id}!"
            ))),
        }
    }
}

// ---------------------------------------------------------------------------------------
// TXTCIDNAME

pub struct TxtCidName(Arc<EnumSettings>);

/// The TXT name of `number`: its digits reversed, then `suffix` (a leading dot dropped).
pub fn txt_domain(number: &str, suffix: &str) -> String {
    format!(
        "{}{}",
        flip(number),
        suffix.strip_prefix('.').unwrap_or(suffix)
    )
}

#[async_trait]
impl Func for TxtCidName {
    fn name(&self) -> &'static str {
        "TXTCIDNAME"
    }
    fn synopsis(&self) -> &'static str {
        "TXTCIDNAME looks up a caller name via DNS."
    }
    fn syntax(&self) -> &'static str {
        "TXTCIDNAME(number[,zone-suffix])"
    }
    fn description(&self) -> &'static str {
        "This function looks up the given phone number in DNS to retrieve the caller id \
         name. The result will either be blank or be the value found in the TXT record in \
         DNS. zone-suffix: default e164.arpa."
    }
    fn read(&self, _chan: &mut Channel, _a: &str) -> Result<String, FuncError> {
        Err(FuncError::Other("TXTCIDNAME() waits for DNS".into()))
    }
    fn is_async(&self) -> bool {
        true
    }
    async fn read_async(&self, _chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        if a.is_empty() {
            return Err(FuncError::Usage(
                "Syntax: TXTCIDNAME(number[,zone-suffix])".into(),
            ));
        }
        let v = args::split(a, ',');
        let zone = if v.len() > 1 {
            args::nth(&v, 1)
        } else {
            "e164.arpa"
        };
        let name = txt_domain(args::nth(&v, 0), zone);
        let r = self.0 .0.read().resolver();
        let txt = super::on_pool(move || r.txt(&name)).await?;
        // Asterisk keeps the first string of the last record.
        Ok(txt
            .ok()
            .and_then(|t| t.last().and_then(|s| s.first().cloned()))
            .unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naptr(order: u16, pref: u16, services: &str, regexp: &str) -> Naptr {
        Naptr {
            order,
            preference: pref,
            flags: "U".into(),
            services: services.into(),
            regexp: regexp.into(),
            replacement: String::new(),
        }
    }

    #[test]
    fn domains() {
        let none = |_: &str| None;
        let o = EnumOptions::parse("", "15551234");
        assert_eq!(
            enum_domain("15551234", o, "e164.arpa", "i", none).unwrap(),
            "4.3.2.1.5.5.5.1.e164.arpa"
        );
        let o = EnumOptions::parse("d", "x");
        assert_eq!(
            enum_domain("sip.example", o, "zone.test", "i", none).unwrap(),
            "sip.example.zone.test"
        );
        let o = EnumOptions::parse("", "1234*256");
        assert!(o.isn);
        assert_eq!(
            enum_domain("1234*256", o, "freenum.org", "i", none).unwrap(),
            "4.3.2.1.256.freenum.org"
        );
        let o = EnumOptions::parse("i", "4319991234");
        assert_eq!(cc_len("4319991234"), 2);
        assert_eq!(
            enum_domain("4319991234", o, "e164.arpa", "i", none).unwrap(),
            "4.3.2.1.9.9.9.1.i.3.4.e164.arpa"
        );
        let b = |cc: &str| {
            assert_eq!(cc, "43");
            Some(Branch {
                digits: 4,
                separator: Some("br".into()),
                apex: Some("apex.test".into()),
            })
        };
        assert_eq!(
            enum_domain("4319991234", o, "e164.arpa", "i", b).unwrap(),
            "4.3.2.1.9.9.br.9.1.3.4.apex.test"
        );
        assert_eq!(cc_len("15551234"), 1);
        assert_eq!(cc_len("3541234"), 3);
        assert_eq!(cc_len("12"), 0);
        assert_eq!(txt_domain("+1-555", ".e164.arpa"), "5.5.5.1.e164.arpa");
    }

    #[test]
    fn services_and_rewrites() {
        assert_eq!(naptr_tech("E2U+sip"), "sip");
        assert_eq!(naptr_tech("E2U+voice:tel"), "tel");
        assert_eq!(naptr_tech("sip+E2U"), "sip");
        assert_eq!(naptr_tech("nothing"), "");
        assert_eq!(
            naptr_rewrite("!^.*$!sip:info@example.com!", "+15551234").unwrap(),
            "sip:info@example.com"
        );
        assert_eq!(
            naptr_rewrite("!^\\+1(555)(.*)$!sip:\\2@\\1.test!", "+15551234").unwrap(),
            "sip:1234@555.test"
        );
        assert_eq!(
            naptr_rewrite("/^\\+1ABC(.*)$/tel:\\1/i", "+1abc99").unwrap(),
            "tel:99"
        );
        assert!(naptr_rewrite("!^9$!x!", "+1555").is_err());
        assert!(naptr_rewrite("!^.*$!sip:x", "+1555").is_err());
        assert!(naptr_rewrite("!^.*$!sip:\\3!", "+1555").is_err());
        assert!(naptr_rewrite("!!", "x").is_err());
        assert!(naptr_rewrite("!(!x!!!", "x").is_err());
    }

    #[test]
    fn selection_sorts_and_filters() {
        let recs = vec![
            naptr(100, 20, "E2U+sip", "!^.*$!sip:second@example.com!"),
            naptr(100, 10, "E2U+sip", "!^.*$!sip:first@example.com!"),
            naptr(50, 90, "E2U+voice:tel", "!^(.*)$!tel:\\1!"),
        ];
        let sip = select(&recs, "sip", "+15551234").unwrap();
        assert_eq!(sip.len(), 2);
        assert_eq!(present(&sip[0], false), "first@example.com");
        assert_eq!(present(&sip[0], true), "sip:first@example.com");
        let all = select(&recs, "ALL", "+15551234").unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(present(&all[0], false), "tel:+15551234");
        let tel = select(&recs, "TEL", "+15551234").unwrap();
        assert_eq!(present(&tel[0], false), "+15551234");
        let any = select(&recs, "", "+1").unwrap();
        assert_eq!(any.len(), 2);
        let mut bad = recs.clone();
        bad[1].flags = "s".into();
        assert!(select(&bad, "sip", "+1").is_err());
    }

    #[test]
    fn options_and_conf() {
        let o = EnumOptions::parse("sic", "1");
        assert!(o.isn && o.count && !o.ienum);
        let o = EnumOptions::parse("id", "1");
        assert!(o.ienum && !o.direct);
        let dir = std::path::Path::new("/tmp");
        let cf = crate::config::load_str(
            dir,
            "enum.conf",
            "[general]\nsearch => e164.arpa\nh323driver => H323\ndnsservers = 127.0.0.1:5300\n\
             [ienum]\nbranchlabel = br\nebl_alg = txt\n",
            &Default::default(),
        )
        .unwrap();
        let c = parse_conf(&cf).unwrap();
        assert_eq!(c.branchlabel, "br");
        assert_eq!(c.ebl_alg, BranchAlg::Txt);
        assert_eq!(c.dnsservers, vec!["127.0.0.1:5300".parse().unwrap()]);
        let cf = crate::config::load_str(
            dir,
            "enum.conf",
            "[ienum]\nebl_alg = maybe\n",
            &Default::default(),
        )
        .unwrap();
        let e = parse_conf(&cf).unwrap_err().to_string();
        assert!(e.contains("enum.conf:2"), "{e}");
    }
}
