//! Call features (`features.conf`): the typed configuration every module reads, the
//! per-channel overrides of `FEATURE()`/`FEATUREMAP()`, and the DTMF feature-code matcher
//! the bridge runs.
//!
//! The features module (`features`, built in) parses `features.conf` with [`parse`] and
//! installs the result as the [`Features`] service; other modules read it with [`config`]
//! (the whole file) or [`for_channel`] (with the channel's `FEATURE()`/`FEATUREMAP()`
//! overrides): Dial's `t`/`T`/`h`/`H`/… options, chan_sip's `pickupexten`, parking's
//! `parkcall`. Nothing here starts a task or touches a socket: [`DtmfMatcher`] is a state
//! machine fed digits and instants.

use super::Channel;
use crate::config::{ConfigError, ConfigFile, Entry};
use parking_lot::RwLock;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Asterisk's built-in feature codes (`features show`'s "Default" column).
pub const DEFAULT_PICKUPEXTEN: &str = "*8";
pub const DEFAULT_BLINDXFER: &str = "#";
pub const DEFAULT_DISCONNECT: &str = "*";
pub const DEFAULT_AUTOMON: &str = "";
pub const DEFAULT_ATXFER: &str = "";
pub const DEFAULT_PARKCALL: &str = "";
pub const DEFAULT_AUTOMIXMON: &str = "";

/// `[general]` of features.conf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct General {
    /// Milliseconds between the digits of a feature code.
    pub featuredigittimeout: u32,
    /// Seconds between the digits of a transfer's number.
    pub transferdigittimeout: u32,
    /// Seconds an attended transfer's target may ring.
    pub atxfernoanswertimeout: u32,
    pub atxferdropcall: bool,
    pub atxferloopdelay: u32,
    pub atxfercallbackretries: u32,
    pub atxferabort: String,
    pub atxfercomplete: String,
    pub atxferthreeway: String,
    pub atxferswap: String,
    pub xfersound: String,
    pub xferfailsound: String,
    pub pickupexten: String,
    pub pickupsound: String,
    pub pickupfailsound: String,
    pub courtesytone: String,
    pub recordingfailsound: String,
    pub transferdialattempts: u32,
    pub transferretrysound: String,
    pub transferinvalidsound: String,
    pub transferannouncesound: String,
}

impl Default for General {
    fn default() -> Self {
        General {
            featuredigittimeout: 1000,
            transferdigittimeout: 3,
            atxfernoanswertimeout: 15,
            atxferdropcall: false,
            atxferloopdelay: 10,
            atxfercallbackretries: 2,
            atxferabort: "*1".into(),
            atxfercomplete: "*2".into(),
            atxferthreeway: "*3".into(),
            atxferswap: "*4".into(),
            xfersound: "beep".into(),
            xferfailsound: "beeperr".into(),
            pickupexten: DEFAULT_PICKUPEXTEN.into(),
            pickupsound: String::new(),
            pickupfailsound: String::new(),
            courtesytone: String::new(),
            recordingfailsound: String::new(),
            transferdialattempts: 3,
            transferretrysound: "pbx-invalid".into(),
            transferinvalidsound: "privacy-incorrect".into(),
            transferannouncesound: "pbx-transfer".into(),
        }
    }
}

/// The `[general]` option names, in Asterisk's order (FEATURE() reads and writes these).
pub const GENERAL_OPTIONS: &[&str] = &[
    "featuredigittimeout",
    "transferdigittimeout",
    "atxfernoanswertimeout",
    "atxferdropcall",
    "atxferloopdelay",
    "atxfercallbackretries",
    "xfersound",
    "xferfailsound",
    "atxferabort",
    "atxfercomplete",
    "atxferthreeway",
    "atxferswap",
    "pickupexten",
    "pickupsound",
    "pickupfailsound",
    "courtesytone",
    "recordingfailsound",
    "transferdialattempts",
    "transferretrysound",
    "transferinvalidsound",
    "transferannouncesound",
];

/// Parking options Asterisk 12+ moved to `res_parking.conf`: accepted with a warning.
const PARKING_OPTIONS: &[&str] = &[
    "context",
    "parkext",
    "parkext_exclusive",
    "parkinghints",
    "parkedmusicclass",
    "parkingtime",
    "parkpos",
    "findslot",
    "parkedcalltransfers",
    "parkedcallreparking",
    "parkedcallhangup",
    "parkedcallrecording",
    "comebackcontext",
    "comebacktoorigin",
    "comebackdialtime",
    "parkeddynamic",
    "adsipark",
];

fn parse_uint(v: &str) -> Result<u32, String> {
    v.trim()
        .parse::<u32>()
        .map_err(|_| format!("'{v}' is not a non-negative integer"))
}

impl General {
    /// The value of option `name` as FEATURE() shows it; `None` for an unknown name.
    pub fn get(&self, name: &str) -> Option<String> {
        let n = name.trim().to_ascii_lowercase();
        Some(match n.as_str() {
            "featuredigittimeout" => self.featuredigittimeout.to_string(),
            "transferdigittimeout" => self.transferdigittimeout.to_string(),
            "atxfernoanswertimeout" => self.atxfernoanswertimeout.to_string(),
            "atxferdropcall" => u32::from(self.atxferdropcall).to_string(),
            "atxferloopdelay" => self.atxferloopdelay.to_string(),
            "atxfercallbackretries" => self.atxfercallbackretries.to_string(),
            "transferdialattempts" => self.transferdialattempts.to_string(),
            _ => self.string_field(&n)?.clone(),
        })
    }

    fn string_field(&self, n: &str) -> Option<&String> {
        Some(match n {
            "atxferabort" => &self.atxferabort,
            "atxfercomplete" => &self.atxfercomplete,
            "atxferthreeway" => &self.atxferthreeway,
            "atxferswap" => &self.atxferswap,
            "xfersound" => &self.xfersound,
            "xferfailsound" => &self.xferfailsound,
            "pickupexten" => &self.pickupexten,
            "pickupsound" => &self.pickupsound,
            "pickupfailsound" => &self.pickupfailsound,
            "courtesytone" => &self.courtesytone,
            "recordingfailsound" => &self.recordingfailsound,
            "transferretrysound" => &self.transferretrysound,
            "transferinvalidsound" => &self.transferinvalidsound,
            "transferannouncesound" => &self.transferannouncesound,
            _ => return None,
        })
    }

    /// Set option `name`; an unknown name or a bad value is an error for the admin.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), String> {
        let n = name.trim().to_ascii_lowercase();
        let v = value.trim();
        match n.as_str() {
            "featuredigittimeout" => self.featuredigittimeout = parse_uint(v)?,
            "transferdigittimeout" => self.transferdigittimeout = parse_uint(v)?,
            "atxfernoanswertimeout" => self.atxfernoanswertimeout = parse_uint(v)?,
            "atxferdropcall" => self.atxferdropcall = crate::config::is_true(v),
            "atxferloopdelay" => self.atxferloopdelay = parse_uint(v)?,
            "atxfercallbackretries" => self.atxfercallbackretries = parse_uint(v)?,
            "transferdialattempts" => self.transferdialattempts = parse_uint(v)?,
            _ => {
                let s = match n.as_str() {
                    "atxferabort" => &mut self.atxferabort,
                    "atxfercomplete" => &mut self.atxfercomplete,
                    "atxferthreeway" => &mut self.atxferthreeway,
                    "atxferswap" => &mut self.atxferswap,
                    "xfersound" => &mut self.xfersound,
                    "xferfailsound" => &mut self.xferfailsound,
                    "pickupexten" => &mut self.pickupexten,
                    "pickupsound" => &mut self.pickupsound,
                    "pickupfailsound" => &mut self.pickupfailsound,
                    "courtesytone" => &mut self.courtesytone,
                    "recordingfailsound" => &mut self.recordingfailsound,
                    "transferretrysound" => &mut self.transferretrysound,
                    "transferinvalidsound" => &mut self.transferinvalidsound,
                    "transferannouncesound" => &mut self.transferannouncesound,
                    _ => return Err(format!("unknown option '{}'", name.trim())),
                };
                *s = v.to_string();
            }
        }
        Ok(())
    }
}

/// The built-in features (`[featuremap]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Builtin {
    BlindXfer,
    Disconnect,
    AutoMon,
    AtXfer,
    ParkCall,
    AutoMixMon,
}

impl Builtin {
    /// Every built-in, in `[featuremap]`'s order.
    pub const ALL: [Builtin; 6] = [
        Builtin::BlindXfer,
        Builtin::Disconnect,
        Builtin::AutoMon,
        Builtin::AtXfer,
        Builtin::ParkCall,
        Builtin::AutoMixMon,
    ];
    /// The option name in `[featuremap]` and FEATUREMAP().
    pub fn name(self) -> &'static str {
        match self {
            Builtin::BlindXfer => "blindxfer",
            Builtin::Disconnect => "disconnect",
            Builtin::AutoMon => "automon",
            Builtin::AtXfer => "atxfer",
            Builtin::ParkCall => "parkcall",
            Builtin::AutoMixMon => "automixmon",
        }
    }
    pub fn from_name(n: &str) -> Option<Builtin> {
        Builtin::ALL
            .into_iter()
            .find(|b| b.name().eq_ignore_ascii_case(n.trim()))
    }
    /// Asterisk's default code.
    pub fn default_code(self) -> &'static str {
        match self {
            Builtin::BlindXfer => DEFAULT_BLINDXFER,
            Builtin::Disconnect => DEFAULT_DISCONNECT,
            Builtin::AutoMon => DEFAULT_AUTOMON,
            Builtin::AtXfer => DEFAULT_ATXFER,
            Builtin::ParkCall => DEFAULT_PARKCALL,
            Builtin::AutoMixMon => DEFAULT_AUTOMIXMON,
        }
    }
}

/// `[featuremap]`: the DTMF code of each built-in feature (empty: disabled).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureMap {
    codes: [String; 6],
}

impl Default for FeatureMap {
    fn default() -> Self {
        FeatureMap {
            codes: Builtin::ALL.map(|b| b.default_code().to_string()),
        }
    }
}

impl FeatureMap {
    pub fn code(&self, b: Builtin) -> &str {
        &self.codes[b as usize]
    }
    pub fn set(&mut self, b: Builtin, code: &str) {
        self.codes[b as usize] = code.trim().to_string();
    }
}

/// One `[applicationmap]` line: `name => dtmf,activate_on,app[,args][,moh_class]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppMapItem {
    pub name: String,
    pub dtmf: String,
    /// `self` (or `caller`): the application runs on the channel that pressed the code;
    /// `peer` (or `callee`): on the other party.
    pub activate_on_self: bool,
    pub app: String,
    pub app_data: String,
    /// Music on hold for the other party while the application runs (empty: none).
    pub moh_class: String,
}

/// A feature group (any other section): applicationmap items, each with an optional
/// DTMF code of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureGroup {
    pub name: String,
    pub items: Vec<(String, String)>,
}

/// The whole of features.conf.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FeaturesConfig {
    pub general: General,
    pub featuremap: FeatureMap,
    pub applicationmap: Vec<AppMapItem>,
    pub groups: Vec<FeatureGroup>,
}

impl FeaturesConfig {
    pub fn app(&self, name: &str) -> Option<&AppMapItem> {
        self.applicationmap
            .iter()
            .find(|i| i.name.eq_ignore_ascii_case(name))
    }

    /// The dynamic features a `DYNAMIC_FEATURES` value (`name#name…`, applicationmap items
    /// or feature groups) enables, with the code each answers to.
    pub fn dynamic(&self, list: &str) -> Vec<AppMapItem> {
        let mut out: Vec<AppMapItem> = Vec::new();
        for n in list.split('#').map(str::trim).filter(|n| !n.is_empty()) {
            if let Some(i) = self.app(n) {
                out.push(i.clone());
            } else if let Some(g) = self.groups.iter().find(|g| g.name.eq_ignore_ascii_case(n)) {
                for (item, code) in &g.items {
                    if let Some(i) = self.app(item) {
                        let mut i = i.clone();
                        if !code.is_empty() {
                            i.dtmf.clone_from(code);
                        }
                        out.push(i);
                    }
                }
            }
        }
        out
    }
}

/// Split an applicationmap value as Asterisk does (both `App,args` and `App(args)`).
pub fn parse_appmap(name: &str, value: &str) -> Result<AppMapItem, String> {
    let parts: Vec<&str> = value.splitn(5, ',').map(str::trim).collect();
    let get = |i: usize| parts.get(i).copied().unwrap_or("");
    let (dtmf, activate, app) = (get(0), get(1), get(2));
    if dtmf.is_empty() || activate.is_empty() || app.is_empty() {
        return Err(format!(
            "Invalid applicationmap syntax for '{name}'. Missing required argument"
        ));
    }
    let activate = activate.split('/').next().unwrap_or("");
    let activate_on_self = match activate.to_ascii_lowercase().as_str() {
        "self" | "caller" => true,
        "peer" | "callee" => false,
        _ => {
            return Err(format!(
                "Invalid 'activate_on' value {activate} for applicationmap item {name}"
            ))
        }
    };
    let (app, app_data, moh) = if let Some((a, rest)) = app.split_once('(') {
        // New syntax: App(args)[,moh_class] (the args may hold commas).
        let full = value.splitn(3, ',').nth(2).unwrap_or("").trim();
        let inner = &full[full.find('(').map_or(0, |p| p + 1)..];
        let close = inner.rfind(')');
        let args = close.map_or(inner, |c| &inner[..c]);
        let after = close.map_or("", |c| &inner[c + 1..]);
        let moh = after.trim_start_matches(',').trim();
        let _ = rest;
        if a.trim().is_empty() {
            return Err(format!(
                "Applicationmap item '{name}' does not contain an application name."
            ));
        }
        (a.trim(), args.to_string(), moh.to_string())
    } else {
        let data = get(3).trim_matches('"').to_string();
        (app, data, get(4).to_string())
    };
    Ok(AppMapItem {
        name: name.to_string(),
        dtmf: dtmf.to_string(),
        activate_on_self,
        app: app.to_string(),
        app_data,
        moh_class: moh,
    })
}

/// Parse a loaded features.conf. Errors name `file:line:column`; warnings (parking options
/// that moved to res_parking.conf) are returned for the log.
pub fn parse(cf: &ConfigFile) -> Result<(FeaturesConfig, Vec<String>), Vec<ConfigError>> {
    let mut cfg = FeaturesConfig::default();
    let mut errs = Vec::new();
    let mut warnings = Vec::new();
    let err = |e: &Entry, m: String| ConfigError::at(&e.loc, m);
    for s in cf.sections.iter().filter(|s| !s.is_template) {
        let name = s.name.to_ascii_lowercase();
        match name.as_str() {
            "general" => {
                for e in &s.entries {
                    let k = e.key.to_ascii_lowercase();
                    if PARKING_OPTIONS.contains(&k.as_str()) {
                        warnings.push(format!(
                            "{}: parkinglot option '{}' is no longer configured in features.conf: it moved to res_parking.conf",
                            e.loc, e.key
                        ));
                        continue;
                    }
                    if let Err(m) = cfg.general.set(&e.key, &e.value) {
                        errs.push(err(e, format!("[general] {}: {m}", e.key)));
                    }
                }
            }
            "featuremap" => {
                for e in &s.entries {
                    match Builtin::from_name(&e.key) {
                        Some(b) => cfg.featuremap.set(b, &e.value),
                        None => errs.push(err(
                            e,
                            format!(
                                "[featuremap] unknown feature '{}' (expected blindxfer, disconnect, automon, atxfer, parkcall or automixmon)",
                                e.key
                            ),
                        )),
                    }
                }
            }
            "applicationmap" => {
                for e in &s.entries {
                    match parse_appmap(&e.key, &e.value) {
                        Ok(i) => {
                            cfg.applicationmap
                                .retain(|x| !x.name.eq_ignore_ascii_case(&i.name));
                            cfg.applicationmap.push(i);
                        }
                        Err(m) => errs.push(err(e, m)),
                    }
                }
            }
            _ if name.starts_with("parkinglot_") => {
                warnings.push(format!(
                    "{}: parking lot [{}] is no longer configured in features.conf: it moved to res_parking.conf",
                    s.loc, s.name
                ));
            }
            _ => {
                let mut g = FeatureGroup {
                    name: s.name.clone(),
                    items: Vec::new(),
                };
                for e in &s.entries {
                    g.items.push((e.key.clone(), e.value.clone()));
                }
                cfg.groups.push(g);
            }
        }
    }
    // Feature groups must name applicationmap items.
    for s in cf.sections.iter().filter(|s| !s.is_template) {
        if let Some(g) = cfg.groups.iter().find(|g| g.name == s.name) {
            for e in &s.entries {
                if cfg.app(&e.key).is_none() {
                    errs.push(err(
                        e,
                        format!(
                            "Featuregroup {} refers to non-existent applicationmap item {}",
                            g.name, e.key
                        ),
                    ));
                }
            }
        }
    }
    if errs.is_empty() {
        Ok((cfg, warnings))
    } else {
        Err(errs)
    }
}

/// The running features.conf (installed by the features module).
#[derive(Debug, Default)]
pub struct Features(RwLock<Arc<FeaturesConfig>>);

impl Features {
    pub fn new(cfg: FeaturesConfig) -> Features {
        Features(RwLock::new(Arc::new(cfg)))
    }
    pub fn get(&self) -> Arc<FeaturesConfig> {
        self.0.read().clone()
    }
    pub fn set(&self, cfg: FeaturesConfig) {
        *self.0.write() = Arc::new(cfg);
    }
}

/// The running features.conf; Asterisk's defaults when no features module is loaded.
pub fn config(pbx: &super::Pbx) -> Arc<FeaturesConfig> {
    match pbx.service::<Features>() {
        Some(f) => f.get(),
        None => Arc::new(FeaturesConfig::default()),
    }
}

/// A channel's own copy of the configuration (FEATURE()/FEATUREMAP() wrote to it).
#[derive(Debug, Clone)]
pub struct ChannelFeatures {
    pub cfg: FeaturesConfig,
    /// FEATURE(inherit): channels this one dials get a copy.
    pub inherit: bool,
}

const DATASTORE: &str = "features";

/// The configuration that applies to `chan`: its FEATURE()/FEATUREMAP() overrides, else
/// the running features.conf.
pub fn for_channel(chan: &Channel) -> Arc<FeaturesConfig> {
    match chan.datastores.get::<ChannelFeatures>(DATASTORE) {
        Some(c) => Arc::new(c.cfg.clone()),
        None => config(&chan.pbx),
    }
}

/// The channel's own copy, made from the running configuration on first use.
pub fn channel_mut(chan: &mut Channel) -> &mut ChannelFeatures {
    if chan.datastores.get::<ChannelFeatures>(DATASTORE).is_none() {
        let cfg = (*config(&chan.pbx)).clone();
        chan.datastores.insert(
            DATASTORE,
            ChannelFeatures {
                cfg,
                inherit: false,
            },
        );
    }
    chan.datastores
        .get_mut::<ChannelFeatures>(DATASTORE)
        .expect("inserted above")
}

/// Whether FEATURE(inherit) is set on `chan`.
pub fn inherits(chan: &Channel) -> bool {
    chan.datastores
        .get::<ChannelFeatures>(DATASTORE)
        .is_some_and(|c| c.inherit)
}

/// Give `child` (a channel `parent` dialed) the parent's overrides when FEATURE(inherit)
/// is set on the parent.
pub fn inherit(parent: &Channel, child: &mut Channel) {
    if let Some(c) = parent.datastores.get::<ChannelFeatures>(DATASTORE) {
        if c.inherit {
            child.datastores.insert(DATASTORE, c.clone());
        }
    }
}

/// What a feature code does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Feature {
    Builtin(Builtin),
    /// An `[applicationmap]` item (from `DYNAMIC_FEATURES`).
    Dynamic(AppMapItem),
    /// A transferer's code during an attended transfer's consultation.
    Consult(Consult),
}

/// The codes of an attended transfer's consultation (`atxfer*` in `[general]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consult {
    Abort,
    Complete,
    ThreeWay,
    Swap,
}

/// What one party of a bridge may press: codes and what they do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeatureCodes {
    pub codes: Vec<(String, Feature)>,
}

impl FeatureCodes {
    /// The built-ins in `enabled` (with a non-empty code) and the dynamic features.
    pub fn new(cfg: &FeaturesConfig, enabled: &[Builtin], dynamic: &[AppMapItem]) -> Self {
        let mut codes = Vec::new();
        for b in enabled {
            let c = cfg.featuremap.code(*b);
            if !c.is_empty() {
                codes.push((c.to_string(), Feature::Builtin(*b)));
            }
        }
        for i in dynamic {
            if !i.dtmf.is_empty() {
                codes.push((i.dtmf.clone(), Feature::Dynamic(i.clone())));
            }
        }
        FeatureCodes { codes }
    }
    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }

    /// The transferer's codes while it consults an attended transfer's target.
    pub fn consult(cfg: &FeaturesConfig) -> Self {
        let g = &cfg.general;
        let codes = [
            (&g.atxferabort, Consult::Abort),
            (&g.atxfercomplete, Consult::Complete),
            (&g.atxferthreeway, Consult::ThreeWay),
            (&g.atxferswap, Consult::Swap),
        ]
        .into_iter()
        .filter(|(c, _)| !c.is_empty())
        .map(|(c, k)| (c.clone(), Feature::Consult(k)))
        .collect();
        FeatureCodes { codes }
    }
}

/// What a digit did to the matcher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// No feature can match: these digits (held ones first) go on to the other party.
    Pass(Vec<(char, Duration)>),
    /// Part of a feature code: held until the code completes, fails or times out.
    Held,
    /// A feature code completed (its digits are consumed).
    Trigger(Feature),
}

/// Detects feature codes in one party's digits, as Asterisk's bridge does: a digit that
/// starts (or continues) a code is held back from the other party; a complete code
/// triggers at once (the shortest code wins a tie: `*` before `*1`); a digit that cannot
/// continue any code releases every held digit; so does `featuredigittimeout` without a
/// digit. Pure: time comes in as arguments.
#[derive(Debug, Clone)]
pub struct DtmfMatcher {
    codes: FeatureCodes,
    held: Vec<(char, Duration)>,
    timeout: Duration,
    deadline: Option<Instant>,
}

impl DtmfMatcher {
    pub fn new(codes: FeatureCodes, digit_timeout: Duration) -> Self {
        DtmfMatcher {
            codes,
            held: Vec::new(),
            timeout: digit_timeout,
            deadline: None,
        }
    }

    /// Whether any code is armed (without one, every digit passes untouched).
    pub fn is_active(&self) -> bool {
        !self.codes.is_empty()
    }

    /// When the held digits are released if no digit comes.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// The digits held right now.
    pub fn held(&self) -> String {
        self.held.iter().map(|(d, _)| *d).collect()
    }

    /// Feed a digit (its length is kept for the pass-through).
    pub fn digit(&mut self, d: char, len: Duration, now: Instant) -> Step {
        if !self.is_active() {
            return Step::Pass(vec![(d, len)]);
        }
        self.held.push((d, len));
        let typed = self.held();
        // The first code (in sort order) that starts with what was typed: an exact match
        // sorts before its longer relatives.
        let best = self
            .codes
            .codes
            .iter()
            .filter(|(c, _)| c.starts_with(&typed))
            .min_by(|a, b| a.0.cmp(&b.0));
        match best {
            None => {
                self.deadline = None;
                Step::Pass(std::mem::take(&mut self.held))
            }
            Some((c, f)) if *c == typed => {
                let f = f.clone();
                self.held.clear();
                self.deadline = None;
                Step::Trigger(f)
            }
            Some(_) => {
                self.deadline = Some(now + self.timeout);
                Step::Held
            }
        }
    }

    /// Time passed: at or after the deadline the held digits are released.
    pub fn expire(&mut self, now: Instant) -> Vec<(char, Duration)> {
        match self.deadline {
            Some(d) if now >= d => {
                self.deadline = None;
                std::mem::take(&mut self.held)
            }
            _ => Vec::new(),
        }
    }
}

/// A transfer an application asked for on a bridged channel (BlindTransfer(),
/// AttendedTransfer()): the bridge's owner (Dial) carries it out when the application
/// returns. Kept in the channel's datastores under [`PENDING_TRANSFER`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingTransfer {
    pub exten: String,
    pub context: String,
    pub attended: bool,
}

/// The datastore key of a [`PendingTransfer`].
pub const PENDING_TRANSFER: &str = "features:transfer";

/// `features show`, in Asterisk's layout.
pub fn show(cfg: &FeaturesConfig) -> String {
    let row = |a: &str, b: &str, c: &str| format!("{a:<25} {b:<7} {c:<7}\n");
    let mut out = String::new();
    out.push_str(&row("Builtin Feature", "Default", "Current"));
    out.push_str(&row("---------------", "-------", "-------"));
    out.push_str(&row(
        "Pickup",
        DEFAULT_PICKUPEXTEN,
        &cfg.general.pickupexten,
    ));
    for (label, b) in [
        ("Blind Transfer", Builtin::BlindXfer),
        ("Attended Transfer", Builtin::AtXfer),
        ("One Touch Monitor", Builtin::AutoMon),
        ("Disconnect Call", Builtin::Disconnect),
        ("Park Call", Builtin::ParkCall),
        ("One Touch MixMonitor", Builtin::AutoMixMon),
    ] {
        out.push_str(&row(label, b.default_code(), cfg.featuremap.code(b)));
    }
    out.push('\n');
    out.push_str(&row("Dynamic Feature", "Default", "Current"));
    out.push_str(&row("---------------", "-------", "-------"));
    if cfg.applicationmap.is_empty() {
        out.push_str("(none)\n");
    }
    for i in &cfg.applicationmap {
        out.push_str(&row(&i.name, "no def", &i.dtmf));
    }
    out.push_str("\nFeature Groups:\n---------------\n");
    if cfg.groups.is_empty() {
        out.push_str("(none)\n");
    }
    for g in &cfg.groups {
        out.push_str(&format!("===> Group: {}\n", g.name));
        for (item, code) in &g.items {
            let dtmf = if code.is_empty() {
                cfg.app(item).map(|i| i.dtmf.clone()).unwrap_or_default()
            } else {
                code.clone()
            };
            out.push_str(&format!("===> --> {item} ({dtmf})\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn matcher() -> DtmfMatcher {
        let cfg = FeaturesConfig::default();
        let mut cfg = cfg;
        cfg.featuremap.set(Builtin::AutoMixMon, "*1");
        cfg.featuremap.set(Builtin::AtXfer, "*2");
        let dynamic = vec![parse_appmap("rec", "19,self,Playback(beep)").expect("valid")];
        DtmfMatcher::new(
            FeatureCodes::new(
                &cfg,
                &[Builtin::BlindXfer, Builtin::AutoMixMon, Builtin::AtXfer],
                &dynamic,
            ),
            ms(1000),
        )
    }

    #[test]
    fn a_complete_code_triggers_and_its_digits_never_pass() {
        let mut m = matcher();
        let t = Instant::now();
        assert_eq!(
            m.digit('#', ms(80), t),
            Step::Trigger(Feature::Builtin(Builtin::BlindXfer))
        );
        assert_eq!(m.digit('*', ms(80), t), Step::Held);
        assert_eq!(m.deadline(), Some(t + ms(1000)));
        assert_eq!(
            m.digit('2', ms(80), t),
            Step::Trigger(Feature::Builtin(Builtin::AtXfer))
        );
        assert_eq!(m.held(), "");
        assert_eq!(m.deadline(), None);
        assert_eq!(m.digit('1', ms(80), t), Step::Held);
        match m.digit('9', ms(80), t) {
            Step::Trigger(Feature::Dynamic(i)) => assert_eq!(i.app, "Playback"),
            s => panic!("{s:?}"),
        }
    }

    #[test]
    fn a_digit_that_cannot_continue_releases_the_held_ones_in_order() {
        let mut m = matcher();
        let t = Instant::now();
        assert_eq!(m.digit('5', ms(60), t), Step::Pass(vec![('5', ms(60))]));
        assert_eq!(m.digit('*', ms(70), t), Step::Held);
        assert_eq!(
            m.digit('7', ms(90), t),
            Step::Pass(vec![('*', ms(70)), ('7', ms(90))])
        );
        assert_eq!(m.deadline(), None);
    }

    #[test]
    fn held_digits_are_released_after_the_feature_digit_timeout() {
        let mut m = matcher();
        let t = Instant::now();
        assert_eq!(m.digit('1', ms(60), t), Step::Held);
        assert!(m.expire(t + ms(999)).is_empty(), "not yet");
        assert_eq!(m.expire(t + ms(1000)), vec![('1', ms(60))]);
        assert!(m.expire(t + ms(5000)).is_empty(), "released once");
        // A new sequence after a timeout starts afresh.
        assert_eq!(m.digit('*', ms(60), t + ms(2000)), Step::Held);
        assert_eq!(m.deadline(), Some(t + ms(3000)));
    }

    #[test]
    fn the_shortest_code_wins_a_tie_and_no_codes_pass_everything() {
        let cfg = FeaturesConfig::default();
        // disconnect `*` and automixmon `*1`: `*` alone triggers, as in Asterisk.
        let mut cfg2 = cfg.clone();
        cfg2.featuremap.set(Builtin::AutoMixMon, "*1");
        let mut m = DtmfMatcher::new(
            FeatureCodes::new(&cfg2, &[Builtin::Disconnect, Builtin::AutoMixMon], &[]),
            ms(500),
        );
        assert_eq!(
            m.digit('*', ms(1), Instant::now()),
            Step::Trigger(Feature::Builtin(Builtin::Disconnect))
        );
        // Enabled but empty codes (atxfer has none by default) arm nothing.
        let mut off = DtmfMatcher::new(FeatureCodes::new(&cfg, &[Builtin::AtXfer], &[]), ms(1));
        assert!(!off.is_active());
        assert_eq!(
            off.digit('#', ms(5), Instant::now()),
            Step::Pass(vec![('#', ms(5))])
        );
    }

    fn load(text: &str) -> Result<(FeaturesConfig, Vec<String>), Vec<ConfigError>> {
        let cf = crate::config::load_str(
            std::path::Path::new("/nonexistent"),
            "features.conf",
            text,
            &Default::default(),
        )
        .expect("loads");
        parse(&cf)
    }

    #[test]
    fn parses_every_section_with_asterisk_defaults() {
        let (c, w) = load(
            "[general]\nfeaturedigittimeout = 1500\ntransferdigittimeout=5\natxferdropcall=yes\nxfersound=beep2\npickupexten=*9\nparkext=700\n\
             [featuremap]\nblindxfer => #1\nautomixmon => *3\n\
             [applicationmap]\ntesting => *9,peer,Playback,tt-monkeys\nnew => *6,self,Gosub(a,b,1(x,y)),default\nold => *7,caller/both,\"Foo\",\"a b\"\n\
             [grp]\ntesting => #9\nnew =>\n",
        )
        .expect("valid");
        assert_eq!(c.general.featuredigittimeout, 1500);
        assert_eq!(c.general.transferdigittimeout, 5);
        assert!(c.general.atxferdropcall);
        assert_eq!(c.general.get("xfersound").as_deref(), Some("beep2"));
        assert_eq!(c.general.get("atxferabort").as_deref(), Some("*1"));
        assert_eq!(c.general.pickupexten, "*9");
        assert_eq!(w.len(), 1, "parkext moved: {w:?}");
        assert!(w[0].contains("features.conf:7:"), "{w:?}");
        assert_eq!(c.featuremap.code(Builtin::BlindXfer), "#1");
        assert_eq!(c.featuremap.code(Builtin::Disconnect), "*");
        assert_eq!(c.featuremap.code(Builtin::AutoMixMon), "*3");
        let t = c.app("testing").expect("testing");
        assert_eq!(
            (t.activate_on_self, t.app.as_str(), t.app_data.as_str()),
            (false, "Playback", "tt-monkeys")
        );
        let n = c.app("new").expect("new");
        assert_eq!(
            (n.app.as_str(), n.app_data.as_str(), n.moh_class.as_str()),
            ("Gosub", "a,b,1(x,y)", "default")
        );
        let o = c.app("old").expect("old");
        assert!(o.activate_on_self);
        assert_eq!(o.app_data, "a b");
        let d = c.dynamic("grp#old#nope");
        assert_eq!(
            d.iter()
                .map(|i| (i.name.as_str(), i.dtmf.as_str()))
                .collect::<Vec<_>>(),
            vec![("testing", "#9"), ("new", "*6"), ("old", "*7")]
        );
        let shown = show(&c);
        assert!(
            shown.contains("Blind Transfer            #       #1     \n"),
            "{shown}"
        );
        assert!(
            shown.contains("testing                   no def  *9     \n"),
            "{shown}"
        );
        assert!(
            shown.contains("===> Group: grp\n===> --> testing (#9)\n"),
            "{shown}"
        );
    }

    #[test]
    fn errors_name_file_line_and_column() {
        let e = load("[general]\nfeaturedigittimeout = soon\n[featuremap]\nteleport => 5\n[applicationmap]\nx => 1,sideways,NoOp\n[g]\nmissing =>\n")
            .expect_err("invalid");
        let text: Vec<String> = e.iter().map(|e| e.to_string()).collect();
        assert_eq!(text.len(), 4, "{text:?}");
        assert!(
            text[0].starts_with("features.conf:2:1: [general] featuredigittimeout"),
            "{text:?}"
        );
        assert!(
            text[1].starts_with("features.conf:4:1: [featuremap] unknown feature 'teleport'"),
            "{text:?}"
        );
        assert!(
            text[2].contains("features.conf:6:1: Invalid 'activate_on' value sideways"),
            "{text:?}"
        );
        assert!(text[3].contains("features.conf:8:1: Featuregroup g refers to non-existent applicationmap item missing"), "{text:?}");
    }

    #[test]
    fn general_set_and_get_round_trip_every_option() {
        let mut g = General::default();
        for (i, name) in GENERAL_OPTIONS.iter().enumerate() {
            let v = if *name == "atxferdropcall" {
                "1".to_string()
            } else {
                (i + 1).to_string()
            };
            g.set(name, &v).expect("known");
            assert_eq!(g.get(name).as_deref(), Some(v.as_str()), "{name}");
        }
        assert!(g.set("nonsense", "1").is_err());
        assert!(g.get("nonsense").is_none());
    }
}
