//! `res_parking.conf` as data (Asterisk 20's options and defaults), and the pure choice of
//! a parking space. No channel, no clock, no file: the module reads the file and holds the
//! parked calls.

use crate::config::{is_false, is_true, ConfigError, ConfigFile, Entry};
use std::collections::BTreeSet;

/// One parking lot (`[default]`, `[sales]`, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LotConfig {
    pub name: String,
    /// The extension that parks (`700`); empty: no extensions are created.
    pub parkext: String,
    pub parkext_exclusive: bool,
    pub start: u32,
    pub stop: u32,
    /// `context` (`parkedcalls`).
    pub context: String,
    /// Seconds a call stays parked (0: forever).
    pub parkingtime: u32,
    pub comebacktoorigin: bool,
    pub comebackcontext: String,
    pub comebackdialtime: u32,
    pub courtesytone: String,
    /// `parked`, `caller` or `both`.
    pub parkedplay: String,
    pub parkedcalltransfers: String,
    pub parkedcallreparking: String,
    pub parkedcallhangup: String,
    pub parkedcallrecording: String,
    pub parkedmusicclass: String,
    /// `findslot=next` (else `first`).
    pub findslot_next: bool,
    pub parkinghints: bool,
}

impl LotConfig {
    /// A lot with Asterisk's defaults.
    pub fn new(name: &str) -> LotConfig {
        LotConfig {
            name: name.to_string(),
            parkext: String::new(),
            parkext_exclusive: false,
            start: 701,
            stop: 750,
            context: "parkedcalls".into(),
            parkingtime: 45,
            comebacktoorigin: true,
            comebackcontext: "parkedcallstimeout".into(),
            comebackdialtime: 30,
            courtesytone: String::new(),
            parkedplay: "caller".into(),
            parkedcalltransfers: "no".into(),
            parkedcallreparking: "no".into(),
            parkedcallhangup: "no".into(),
            parkedcallrecording: "no".into(),
            parkedmusicclass: String::new(),
            findslot_next: false,
            parkinghints: false,
        }
    }
    /// The registrar of the lot's extensions (`res_parking/default`).
    pub fn registrar(&self) -> String {
        format!("res_parking/{}", self.name)
    }
}

/// The whole file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParkingConfig {
    pub parkeddynamic: bool,
    /// Every lot; `default` is always there (Asterisk creates it when the file has none).
    pub lots: Vec<LotConfig>,
}

impl Default for ParkingConfig {
    fn default() -> Self {
        ParkingConfig {
            parkeddynamic: false,
            lots: vec![LotConfig::new("default")],
        }
    }
}

impl ParkingConfig {
    pub fn lot(&self, name: &str) -> Option<&LotConfig> {
        self.lots.iter().find(|l| l.name.eq_ignore_ascii_case(name))
    }
}

fn bool_of(e: &Entry, errs: &mut Vec<ConfigError>) -> bool {
    if is_true(&e.value) {
        true
    } else if is_false(&e.value) {
        false
    } else {
        errs.push(ConfigError::at(
            &e.loc,
            format!("{}: expected yes or no, got '{}'", e.key, e.value),
        ));
        false
    }
}

fn uint_of(e: &Entry, errs: &mut Vec<ConfigError>) -> Option<u32> {
    match e.value.trim().parse::<u32>() {
        Ok(n) => Some(n),
        Err(_) => {
            errs.push(ConfigError::at(
                &e.loc,
                format!(
                    "{}: expected a whole number of seconds, got '{}'",
                    e.key, e.value
                ),
            ));
            None
        }
    }
}

/// `parkpos => 701-720`: leading zeros ignored, start ≤ end.
pub fn parse_parkpos(v: &str) -> Option<(u32, u32)> {
    let (a, b) = v.split_once('-')?;
    let (a, b) = (a.trim().parse::<u32>().ok()?, b.trim().parse::<u32>().ok()?);
    (a <= b && a > 0).then_some((a, b))
}

fn feature_of(e: &Entry, errs: &mut Vec<ConfigError>, allowed: &[&str]) -> String {
    let v = e.value.trim().to_ascii_lowercase();
    if allowed.contains(&v.as_str()) {
        v
    } else {
        errs.push(ConfigError::at(
            &e.loc,
            format!(
                "{}: expected one of {}, got '{}'",
                e.key,
                allowed.join(", "),
                e.value
            ),
        ));
        allowed[0].to_string()
    }
}

/// Parse `res_parking.conf`; errors name file:line:column.
pub fn parse(cf: &ConfigFile) -> Result<ParkingConfig, Vec<ConfigError>> {
    let mut errs = Vec::new();
    let mut out = ParkingConfig {
        parkeddynamic: false,
        lots: Vec::new(),
    };
    for s in cf.sections.iter().filter(|s| !s.is_template) {
        if s.name.eq_ignore_ascii_case("general") {
            for e in &s.entries {
                match e.key.to_ascii_lowercase().as_str() {
                    "parkeddynamic" => out.parkeddynamic = bool_of(e, &mut errs),
                    _ => errs.push(ConfigError::at(
                        &e.loc,
                        format!(
                            "unknown option '{}' in [general] (expected parkeddynamic)",
                            e.key
                        ),
                    )),
                }
            }
            continue;
        }
        let mut lot = LotConfig::new(&s.name);
        for e in &s.entries {
            let v = e.value.trim();
            match e.key.to_ascii_lowercase().as_str() {
                "parkext" => lot.parkext = v.to_string(),
                "parkext_exclusive" => lot.parkext_exclusive = bool_of(e, &mut errs),
                "parkpos" => match parse_parkpos(v) {
                    Some((a, b)) => (lot.start, lot.stop) = (a, b),
                    None => errs.push(ConfigError::at(
                        &e.loc,
                        format!("parkpos: expected a range such as 701-720, got '{v}'"),
                    )),
                },
                "context" => lot.context = v.to_string(),
                "parkingtime" => {
                    if let Some(n) = uint_of(e, &mut errs) {
                        lot.parkingtime = n;
                    }
                }
                "comebacktoorigin" => lot.comebacktoorigin = bool_of(e, &mut errs),
                "comebackcontext" => lot.comebackcontext = v.to_string(),
                "comebackdialtime" => {
                    if let Some(n) = uint_of(e, &mut errs) {
                        lot.comebackdialtime = n;
                    }
                }
                "courtesytone" => lot.courtesytone = v.to_string(),
                "parkedplay" => {
                    lot.parkedplay = feature_of(e, &mut errs, &["caller", "parked", "both"])
                }
                "parkedcalltransfers" => {
                    lot.parkedcalltransfers = feature_of(e, &mut errs, FEATURE_SIDES)
                }
                "parkedcallreparking" => {
                    lot.parkedcallreparking = feature_of(e, &mut errs, FEATURE_SIDES)
                }
                "parkedcallhangup" => {
                    lot.parkedcallhangup = feature_of(e, &mut errs, FEATURE_SIDES)
                }
                "parkedcallrecording" => {
                    lot.parkedcallrecording = feature_of(e, &mut errs, FEATURE_SIDES)
                }
                "parkedmusicclass" => lot.parkedmusicclass = v.to_string(),
                "findslot" => match v.to_ascii_lowercase().as_str() {
                    "first" => lot.findslot_next = false,
                    "next" => lot.findslot_next = true,
                    _ => errs.push(ConfigError::at(
                        &e.loc,
                        format!("findslot: expected first or next, got '{v}'"),
                    )),
                },
                "parkinghints" => lot.parkinghints = bool_of(e, &mut errs),
                _ => errs.push(ConfigError::at(
                    &e.loc,
                    format!("unknown option '{}' in parking lot [{}]", e.key, s.name),
                )),
            }
        }
        out.lots.retain(|l| !l.name.eq_ignore_ascii_case(&lot.name));
        out.lots.push(lot);
    }
    if out.lot("default").is_none() {
        out.lots.insert(0, LotConfig::new("default"));
    }
    if errs.is_empty() {
        Ok(out)
    } else {
        Err(errs)
    }
}

const FEATURE_SIDES: &[&str] = &["no", "caller", "callee", "both"];

/// The space a new parked call gets (Asterisk's `parking_lot_get_space`): `preferred`
/// (PARKINGEXTEN) when free and in range; else a random free one (`R`); else the lowest
/// free (`findslot=first`) or the next free after `last` (`findslot=next`, wrapping).
/// `None`: the lot is full (or `preferred` is taken).
pub fn choose_space(
    lot: &LotConfig,
    taken: &BTreeSet<u32>,
    last: Option<u32>,
    preferred: Option<u32>,
    random: Option<u64>,
) -> Option<u32> {
    let free = |n: u32| !taken.contains(&n);
    if let Some(p) = preferred {
        return (p >= lot.start && p <= lot.stop && free(p)).then_some(p);
    }
    let frees: Vec<u32> = (lot.start..=lot.stop).filter(|n| free(*n)).collect();
    if frees.is_empty() {
        return None;
    }
    if let Some(r) = random {
        let idx = usize::try_from(r % frees.len() as u64).unwrap_or(0);
        return Some(frees[idx]);
    }
    if lot.findslot_next {
        if let Some(l) = last {
            if let Some(n) = frees.iter().find(|n| **n > l) {
                return Some(*n);
            }
        }
    }
    Some(frees[0])
}

/// A channel name as a dial string (`SIP/1000-0000001a` → `SIP/1000`, Asterisk's
/// `ast_channel_name_to_dial_string`).
pub fn dial_string(channel: &str) -> String {
    match channel.rfind('-') {
        Some(i) if channel[..i].contains('/') => channel[..i].to_string(),
        _ => channel.to_string(),
    }
}

/// A dial string as an extension name (`SIP/1000` → `SIP_1000`).
pub fn flatten(dial: &str) -> String {
    dial.replace('/', "_")
}

/// Park()'s option `c([[context,]exten,]priority)` (also the lot's comeback): the place,
/// with missing parts from `(context, exten)`.
pub fn parse_goto(spec: &str, context: &str, exten: &str) -> Option<(String, String, i32)> {
    let parts: Vec<&str> = spec.split([',', '^']).map(str::trim).collect();
    let (c, e, p) = match parts.as_slice() {
        [p] => (context, exten, *p),
        [e, p] => (context, *e, *p),
        [c, e, p] => (*c, *e, *p),
        _ => return None,
    };
    Some((c.to_string(), e.to_string(), p.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<ParkingConfig, Vec<ConfigError>> {
        let cf = crate::config::load_str(
            std::path::Path::new("."),
            "res_parking.conf",
            text,
            &crate::config::LoadOptions::default(),
        )
        .expect("load");
        parse(&cf)
    }

    #[test]
    fn lots_with_defaults_and_options() {
        let c = load(
            "[general]\nparkeddynamic=yes\n[default]\nparkext => 700\nparkpos => 0701-0720\ncontext => parkedcalls\nparkingtime => 20\nfindslot => next\nparkinghints=yes\n[sales]\nparkpos=801-802\ncomebacktoorigin=no\n",
        )
        .expect("valid");
        assert!(c.parkeddynamic);
        let d = c.lot("default").expect("default");
        assert_eq!((d.parkext.as_str(), d.start, d.stop), ("700", 701, 720));
        assert_eq!(d.parkingtime, 20);
        assert!(d.findslot_next && d.parkinghints && d.comebacktoorigin);
        let s = c.lot("sales").expect("sales");
        assert_eq!((s.start, s.stop, s.comebacktoorigin), (801, 802, false));
        assert_eq!(s.context, "parkedcalls");
        assert_eq!(s.comebackcontext, "parkedcallstimeout");
        assert_eq!(s.comebackdialtime, 30);
        // No file section for default: it is created anyway.
        assert!(load("[x]\n").expect("valid").lot("default").is_some());
    }

    #[test]
    fn errors_name_file_line_and_column() {
        let e = load("[default]\nparkpos => 720-701\nparkingtime = soon\nfoo = 1\n").unwrap_err();
        let msgs: Vec<String> = e.iter().map(|e| e.to_string()).collect();
        assert_eq!(msgs.len(), 3, "{msgs:?}");
        assert!(msgs[0].contains("res_parking.conf:2:"), "{msgs:?}");
        assert!(msgs[0].contains("parkpos"), "{msgs:?}");
        assert!(
            msgs[1].contains(":3:") && msgs[1].contains("parkingtime"),
            "{msgs:?}"
        );
        assert!(
            msgs[2].contains(":4:") && msgs[2].contains("unknown option 'foo'"),
            "{msgs:?}"
        );
    }

    #[test]
    fn spaces_first_next_preferred_random_and_full() {
        let mut lot = LotConfig::new("default");
        (lot.start, lot.stop) = (701, 703);
        let taken: BTreeSet<u32> = [701].into();
        assert_eq!(choose_space(&lot, &taken, Some(702), None, None), Some(702));
        lot.findslot_next = true;
        assert_eq!(choose_space(&lot, &taken, Some(702), None, None), Some(703));
        // Wraps to the lowest free.
        assert_eq!(choose_space(&lot, &taken, Some(703), None, None), Some(702));
        assert_eq!(choose_space(&lot, &taken, None, Some(703), None), Some(703));
        assert_eq!(choose_space(&lot, &taken, None, Some(701), None), None);
        assert_eq!(choose_space(&lot, &taken, None, Some(900), None), None);
        assert_eq!(choose_space(&lot, &taken, None, None, Some(1)), Some(703));
        let full: BTreeSet<u32> = [701, 702, 703].into();
        assert_eq!(choose_space(&lot, &full, None, None, None), None);
    }

    #[test]
    fn dial_strings_and_gotos() {
        assert_eq!(dial_string("SIP/1000-0000001a"), "SIP/1000");
        assert_eq!(dial_string("Local/a@b-00000001;2"), "Local/a@b");
        assert_eq!(flatten("SIP/1000"), "SIP_1000");
        assert_eq!(parse_goto("5", "c", "e"), Some(("c".into(), "e".into(), 5)));
        assert_eq!(
            parse_goto("ctx,s,1", "c", "e"),
            Some(("ctx".into(), "s".into(), 1))
        );
        assert_eq!(parse_goto("a,b,c,d", "c", "e"), None);
    }
}
