//! `followme.conf`: `[general]` (the digit timeout, the default accept/decline keys and
//! prompts) and one section per follow-me profile (music class, dialing context, the
//! `number => exten[&exten2][,timeout[,order]]` steps and per-profile overrides), with
//! app_followme's defaults and its alternative key spellings. Pure: no file or channel
//! work here. Errors name file:line:column.

use crate::config::{is_true, ConfigError, ConfigFile, Entry};

/// The keys, the prompts and the callee-prompt switch: `[general]` sets the defaults every
/// profile starts from, a profile may override each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompts {
    pub enable_callee_prompt: bool,
    /// The digits that accept the call (`takecall`, default `1`).
    pub takecall: String,
    /// The digits that decline it (`declinecall`, default `2`).
    pub declinecall: String,
    pub call_from: String,
    pub norecording: String,
    pub options: String,
    pub pls_hold: String,
    pub status: String,
    pub sorry: String,
    /// Played to the winner before the bridge; empty: none.
    pub connecting: String,
}

impl Default for Prompts {
    fn default() -> Self {
        Prompts {
            enable_callee_prompt: true,
            takecall: "1".into(),
            declinecall: "2".into(),
            call_from: "followme/call-from".into(),
            norecording: "followme/no-recording".into(),
            options: "followme/options".into(),
            pls_hold: "followme/pls-hold-while-try".into(),
            status: "followme/status".into(),
            sorry: "followme/sorry".into(),
            connecting: String::new(),
        }
    }
}

/// `[general]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct General {
    /// Milliseconds a callee has to press the keys after the options prompt before the
    /// prompts start over.
    pub featuredigittimeout: u64,
    pub prompts: Prompts,
}

impl Default for General {
    fn default() -> Self {
        General {
            featuredigittimeout: 5000,
            prompts: Prompts::default(),
        }
    }
}

/// One `number =>` line: the extensions rung together in this step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Number {
    /// `exten[&exten2…]` as written.
    pub number: String,
    /// Seconds this step rings (default 25).
    pub timeout: u64,
    /// The step (1, 2, …): the line's position when not given.
    pub order: u32,
}

impl Number {
    /// The extensions of the line.
    pub fn extens(&self) -> impl Iterator<Item = &str> {
        self.number
            .split('&')
            .map(str::trim)
            .filter(|e| !e.is_empty())
    }
}

/// A `[profile]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub name: String,
    pub musicclass: String,
    /// Where the numbers are dialed (through Local channels); empty: Local's default.
    pub context: String,
    pub prompts: Prompts,
    pub numbers: Vec<Number>,
}

impl Profile {
    /// The numbers of step `order`: the first line with that order (as app_followme).
    pub fn step(&self, order: u32) -> Option<&Number> {
        self.numbers.iter().find(|n| n.order == order)
    }
}

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FollowMeConf {
    pub general: General,
    pub profiles: Vec<Profile>,
}

impl FollowMeConf {
    /// The profile `name` (case-insensitive).
    pub fn profile(&self, name: &str) -> Option<&Profile> {
        self.profiles
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
    }
}

/// Read the file; every error names file:line:column.
pub fn parse(cf: &ConfigFile) -> Result<FollowMeConf, Vec<ConfigError>> {
    let mut errs = Vec::new();
    let mut general = General::default();
    // `[general]` gives the defaults wherever it appears in the file.
    for sec in cf
        .sections
        .iter()
        .filter(|s| !s.is_template && s.name.eq_ignore_ascii_case("general"))
    {
        for e in &sec.entries {
            let r = if e.key.eq_ignore_ascii_case("featuredigittimeout") {
                number::<u64>(e).map(|v| general.featuredigittimeout = v)
            } else {
                match set_prompt(&mut general.prompts, e, true) {
                    Ok(true) => Ok(()),
                    Ok(false) => Err(ConfigError::at(
                        &e.loc,
                        format!("unknown keyword '{}' in [general]", e.key),
                    )),
                    Err(err) => Err(err),
                }
            };
            if let Err(err) = r {
                errs.push(err);
            }
        }
    }
    let mut profiles: Vec<Profile> = Vec::new();
    for sec in &cf.sections {
        if sec.is_template || sec.name.eq_ignore_ascii_case("general") {
            continue;
        }
        let mut p = Profile {
            name: sec.name.clone(),
            musicclass: "default".into(),
            context: String::new(),
            prompts: general.prompts.clone(),
            numbers: Vec::new(),
        };
        for e in &sec.entries {
            let key = e.key.to_ascii_lowercase();
            let r = match key.as_str() {
                "number" => parse_number(e, p.numbers.len()).map(|n| p.numbers.push(n)),
                "musicclass" | "musiconhold" | "music" => {
                    p.musicclass = e.value.trim().to_string();
                    Ok(())
                }
                "context" => {
                    p.context = e.value.trim().to_string();
                    Ok(())
                }
                _ => match set_prompt(&mut p.prompts, e, false) {
                    Ok(true) => Ok(()),
                    Ok(false) => Err(ConfigError::at(
                        &e.loc,
                        format!("unknown keyword '{}' in profile '{}'", e.key, p.name),
                    )),
                    Err(err) => Err(err),
                },
            };
            if let Err(err) = r {
                errs.push(err);
            }
        }
        // A profile defined twice: the later section replaces it (as a reload does).
        profiles.retain(|x| !x.name.eq_ignore_ascii_case(&p.name));
        profiles.push(p);
    }
    if errs.is_empty() {
        Ok(FollowMeConf { general, profiles })
    } else {
        Err(errs)
    }
}

fn number<T: std::str::FromStr>(e: &Entry) -> Result<T, ConfigError> {
    e.value.trim().parse::<T>().map_err(|_| {
        ConfigError::at(
            &e.loc,
            format!("{} '{}': expected a number >= 0", e.key, e.value.trim()),
        )
    })
}

/// `number => exten[&exten2][,timeout[,order]]`: a negative timeout is 25 s, an order of 0
/// (or none) is the line's position among the numbers.
fn parse_number(e: &Entry, before: usize) -> Result<Number, ConfigError> {
    let mut parts = e.value.splitn(3, ',');
    let number = parts.next().unwrap_or("").trim().to_string();
    if number.split('&').all(|x| x.trim().is_empty()) {
        return Err(ConfigError::at(
            &e.loc,
            "number: expected exten[&exten2][,timeout[,order]]",
        ));
    }
    let int = |what: &str, s: Option<&str>| -> Result<Option<i64>, ConfigError> {
        match s.map(str::trim).filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(s) => s.parse::<i64>().map(Some).map_err(|_| {
                ConfigError::at(
                    &e.loc,
                    format!("number '{}': {what} '{s}' is not a number", e.value.trim()),
                )
            }),
        }
    };
    let timeout = int("timeout", parts.next())?
        .filter(|t| *t >= 0)
        .map_or(25, |t| t.min(86_400) as u64);
    let order = int("order", parts.next())?
        .filter(|o| *o > 0)
        .map_or(before as u32 + 1, |o| o.min(i64::from(u32::MAX)) as u32);
    Ok(Number {
        number,
        timeout,
        order,
    })
}

/// A key and prompt option of `[general]` or a profile (with app_followme's spellings):
/// `Ok(false)` for a key that is none of them, `Err` for a bad value.
fn set_prompt(p: &mut Prompts, e: &Entry, general: bool) -> Result<bool, ConfigError> {
    let v = e.value.trim().to_string();
    let key = e.key.to_ascii_lowercase().replace('-', "_");
    let key = key.strip_prefix("followme_").unwrap_or(&key).to_string();
    // `[general]` ignores empty values (the built-in default stays), except for the
    // connecting prompt, which is empty by default anyway.
    if general && v.is_empty() && key != "connecting_prompt" {
        return Ok(KEYS.contains(&key.as_str()));
    }
    match key.as_str() {
        "enable_callee_prompt" => p.enable_callee_prompt = is_true(&v),
        "takecall" | "declinecall" => {
            if v.is_empty() || !v.chars().all(|c| "0123456789*#ABCDabcd".contains(c)) {
                return Err(ConfigError::at(
                    &e.loc,
                    format!("{} '{v}': expected DTMF digits (0-9, *, #, A-D)", e.key),
                ));
            }
            if v.len() > 19 {
                return Err(ConfigError::at(
                    &e.loc,
                    format!("{} '{v}': at most 19 digits", e.key),
                ));
            }
            let v = v.to_ascii_uppercase();
            if key == "takecall" {
                p.takecall = v;
            } else {
                p.declinecall = v;
            }
        }
        "call_from_prompt" => p.call_from = v,
        "norecording_prompt" => p.norecording = v,
        "options_prompt" => p.options = v,
        "pls_hold_prompt" => p.pls_hold = v,
        "status_prompt" => p.status = v,
        "sorry_prompt" => p.sorry = v,
        "connecting_prompt" => p.connecting = v,
        _ => return Ok(false),
    }
    Ok(true)
}

/// The keys of [`Prompts`] (after the spellings are unified).
const KEYS: &[&str] = &[
    "enable_callee_prompt",
    "takecall",
    "declinecall",
    "call_from_prompt",
    "norecording_prompt",
    "options_prompt",
    "pls_hold_prompt",
    "status_prompt",
    "sorry_prompt",
    "connecting_prompt",
];
