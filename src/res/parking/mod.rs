//! `res_parking.so`: call parking (Asterisk 20's `res_parking`). Lots come from
//! `res_parking.conf` ([`config`]); the module adds each lot's extensions to the dialplan
//! (`parkext => Park()`, one `ParkedCall(lot,space)` per space, `park:` hints), registers
//! Park(), ParkedCall(), ParkAndAnnounce(), PARK_GET_CHANNEL() and `parking show`, and
//! installs the core's [`ParkingService`] so other modules (the `parkcall` feature) park
//! a channel they hold.
//!
//! A parked call is held by whoever owns its channel (the Park() application, or a task
//! the service starts for a handed-over channel): it hears hold music (or ringing) until
//! ParkedCall() takes it (the two are bridged), it hangs up, or its time runs out (then it
//! goes back to the parker through `park-dial`, or to `comebackcontext`).
//!
//! AMI clients get Asterisk's parking events (`ParkedCall`, `UnParkedCall`,
//! `ParkedCallTimeOut`, `ParkedCallGiveUp`, class `call`) and the actions `Park`,
//! `ParkedCalls` and `Parkinglots` (`manager`).

pub mod config;
mod manager;

use crate::apps::{args, say};
use crate::pbx::app::App;
use crate::pbx::bridge;
use crate::pbx::channel::{cause, ChanEvent, ChannelShared};
use crate::pbx::cli::{CliError, Command, CommandRegistry, Ctx};
use crate::pbx::events::ChanSnapshot;
use crate::pbx::extens::ModuleExten;
use crate::pbx::func::Func;
use crate::pbx::func::FuncError;
use crate::pbx::media::MediaHandle;
use crate::pbx::module::{Module, ModuleContext, ModuleError, ModuleInfo, Reload};
use crate::pbx::parking::{ParkError, ParkOptions, ParkedAt, Parking, ParkingService};
use crate::pbx::{blocking, exec, Channel, Hangup, Pbx};
use async_trait::async_trait;
use config::{LotConfig, ParkingConfig};
use parking_lot::Mutex;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Weak};

use std::time::{Duration, Instant};
use tokio::sync::oneshot;

type AppResult = crate::pbx::app::AppResult;

/// The channel that retrieves a parked call.
struct Retriever {
    name: String,
    /// Its channel fields (UnParkedCall's `Retriever…`).
    snap: ChanSnapshot,
    shared: Arc<ChannelShared>,
    media: Option<MediaHandle>,
}

/// A call in a parking space.
struct ParkedUser {
    space: u32,
    channel: String,
    shared: Arc<ChannelShared>,
    /// The parker as a dial string (`SIP/1000`).
    parker: String,
    /// The parked channel's fields when it was parked (the `ParkedCalls` list).
    snap: ChanSnapshot,
    since: Instant,
    timeout: u32,
    retrieve: Mutex<Option<oneshot::Sender<Retriever>>>,
}

struct Lot {
    cfg: LotConfig,
    parked: BTreeMap<u32, Arc<ParkedUser>>,
    last: Option<u32>,
}

/// Every lot and its parked calls.
pub struct Lots {
    general: Mutex<ParkingConfig>,
    lots: Mutex<BTreeMap<String, Lot>>,
}

impl Lots {
    fn set_config(&self, cfg: ParkingConfig) {
        let mut lots = self.lots.lock();
        let mut next = BTreeMap::new();
        for l in &cfg.lots {
            let key = l.name.to_ascii_lowercase();
            let (parked, last) = lots
                .remove(&key)
                .map(|o| (o.parked, o.last))
                .unwrap_or_default();
            next.insert(
                key,
                Lot {
                    cfg: l.clone(),
                    parked,
                    last,
                },
            );
        }
        *lots = next;
        *self.general.lock() = cfg;
    }

    fn lot_cfg(&self, name: &str) -> Option<LotConfig> {
        self.lots
            .lock()
            .get(&name.to_ascii_lowercase())
            .map(|l| l.cfg.clone())
    }

    /// Take a space in `lot` for `chan`.
    fn reserve(
        &self,
        lot: &str,
        chan: &Channel,
        parker: String,
        opts: &ParkOptions,
    ) -> Result<(Arc<ParkedUser>, LotConfig, oneshot::Receiver<Retriever>), ParkError> {
        let mut lots = self.lots.lock();
        let Some(l) = lots.get_mut(&lot.to_ascii_lowercase()) else {
            return Err(ParkError::NoLot(lot.to_string()));
        };
        let preferred = chan
            .get_var("PARKINGEXTEN")
            .filter(|v| !v.is_empty())
            .and_then(|v| v.trim().parse::<u32>().ok());
        let taken: BTreeSet<u32> = l.parked.keys().copied().collect();
        let random = opts.randomize.then(rand::random::<u64>);
        let Some(space) = config::choose_space(&l.cfg, &taken, l.last, preferred, random) else {
            return Err(ParkError::Full(l.cfg.name.clone()));
        };
        let (tx, rx) = oneshot::channel();
        let user = Arc::new(ParkedUser {
            space,
            channel: chan.name().to_string(),
            shared: chan.shared.clone(),
            parker,
            snap: ChanSnapshot::of(chan),
            since: Instant::now(),
            timeout: opts
                .timeout
                .map(|t| u32::try_from(t.as_secs()).unwrap_or(u32::MAX))
                .unwrap_or(l.cfg.parkingtime),
            retrieve: Mutex::new(Some(tx)),
        });
        l.parked.insert(space, user.clone());
        l.last = Some(space);
        let cfg = l.cfg.clone();
        drop(lots);
        // Parked from now on (Asterisk's PARKED_CALL, before any announcement).
        parked_event(
            &chan.pbx,
            "ParkedCall",
            || ChanSnapshot::of(chan),
            None,
            &user,
            &cfg.name,
        );
        Ok((user, cfg, rx))
    }

    /// Remove `user` from its lot; `false` when someone else already did.
    fn release(&self, lot: &str, user: &ParkedUser) -> bool {
        let mut lots = self.lots.lock();
        let Some(l) = lots.get_mut(&lot.to_ascii_lowercase()) else {
            return false;
        };
        match l.parked.get(&user.space) {
            Some(u) if Arc::ptr_eq(&u.shared, &user.shared) => {
                l.parked.remove(&user.space);
                true
            }
            _ => false,
        }
    }

    /// Take the call parked at `space` (the first parked call when `None`) out of `lot`.
    fn take(&self, lot: &str, space: Option<u32>) -> Option<Arc<ParkedUser>> {
        let mut lots = self.lots.lock();
        let l = lots.get_mut(&lot.to_ascii_lowercase())?;
        let space = match space {
            Some(s) => s,
            None => *l.parked.keys().next()?,
        };
        l.parked.remove(&space)
    }

    fn space_in_use(&self, space_at_context: &str) -> bool {
        let (space, ctx) = space_at_context
            .split_once('@')
            .unwrap_or((space_at_context, "parkedcalls"));
        let Ok(space) = space.trim().parse::<u32>() else {
            return false;
        };
        self.lots
            .lock()
            .values()
            .any(|l| l.cfg.context == ctx && l.parked.contains_key(&space))
    }
}

/// The lot a channel parks in: the argument, then `PARKINGLOT`, then `default`.
fn lot_name(chan: &Channel, arg: &str) -> String {
    let a = arg.trim();
    if !a.is_empty() {
        return a.to_string();
    }
    chan.get_var("PARKINGLOT")
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| "default".to_string())
}

fn lots(pbx: &Pbx) -> Option<Arc<Lots>> {
    pbx.service::<Lots>()
}

/// How a parked call's stay ended.
enum Stay {
    /// Retrieved and bridged; the bridge is over.
    Retrieved,
    /// Timed out: the channel now stands at its comeback place.
    TimedOut,
    /// It hung up while parked.
    GaveUp,
}

/// Hold `chan`, parked as `user` in `lot`, until it is retrieved, times out or hangs up.
async fn hold(
    chan: &mut Channel,
    user: Arc<ParkedUser>,
    lot: LotConfig,
    opts: &ParkOptions,
    rx: oneshot::Receiver<Retriever>,
) -> Stay {
    let pbx = chan.pbx.clone();
    chan.stop_background();
    let mut music = None;
    if opts.ringing {
        chan.indicate(ChanEvent::Ringing);
    } else if let Some(m) = &chan.media {
        let class = opts
            .moh_class
            .clone()
            .or_else(|| chan.get_var("CHANNEL_MUSICCLASS"))
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| lot.parkedmusicclass.clone());
        music = crate::pbx::hold::start(&pbx, &class, m.to_far.clone()).await;
    }
    chan.publish("Park", &lot.name);
    let shared = chan.shared.clone();
    let limit = (user.timeout > 0).then(|| Duration::from_secs(u64::from(user.timeout)));
    let deadline = async {
        match limit {
            Some(d) => {
                tokio::time::sleep_until(tokio::time::Instant::from_std(user.since + d)).await
            }
            None => std::future::pending().await,
        }
    };
    let lots = lots(&pbx);
    tokio::select! {
        r = rx => {
            drop(music);
            if let Some(m) = &chan.media {
                m.to_far.clear();
            }
            let Ok(r) = r else { return Stay::GaveUp };
            pbx.verbose_line(3, &format!("{} connected to parked call {}", r.name, chan.name()));
            chan.bridged = Some(r.name.clone());
            chan.publish("ParkedCall", "");
            parked_event(&pbx, "UnParkedCall", || ChanSnapshot::of(chan), Some(r.snap.clone()), &user, &lot.name);
            bridge::bridge(chan.media.clone(), &shared, r.media, &r.shared).await;
            chan.bridged = None;
            r.shared.request_hangup(cause::NORMAL_CLEARING);
            Stay::Retrieved
        }
        _ = shared.hungup() => {
            if let Some(l) = &lots {
                l.release(&lot.name, &user);
            }
            pbx.verbose_line(3, &format!("{} gave up waiting in parking space {}", chan.name(), user.space));
            parked_event(&pbx, "ParkedCallGiveUp", || ChanSnapshot::of(chan), None, &user, &lot.name);
            Stay::GaveUp
        }
        _ = deadline => {
            drop(music);
            if let Some(m) = &chan.media {
                m.to_far.clear();
            }
            if lots.as_ref().is_some_and(|l| !l.release(&lot.name, &user)) {
                // Retrieved at the last moment: the retriever's request is in the channel.
                return Stay::GaveUp;
            }
            parked_event(&pbx, "ParkedCallTimeOut", || ChanSnapshot::of(chan), None, &user, &lot.name);
            comeback(chan, &user, &lot, opts);
            Stay::TimedOut
        }
    }
}

/// The fields after the channels' of the parking events (`manager_build_parked_call_string`).
fn parked_fields(user: &ParkedUser, lot: &str) -> Vec<(String, String)> {
    let duration = user.since.elapsed().as_secs();
    let left = u64::from(user.timeout).saturating_sub(duration);
    [
        ("ParkerDialString", user.parker.clone()),
        ("Parkinglot", lot.to_string()),
        ("ParkingSpace", user.space.to_string()),
        ("ParkingTimeout", left.to_string()),
        ("ParkingDuration", duration.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// Publish a parking event (class `call`): the parked channel (`Parkee…`), the
/// retriever's (`Retriever…`) for UnParkedCall, then [`parked_fields`].
fn parked_event(
    pbx: &Pbx,
    name: &'static str,
    parkee: impl FnOnce() -> ChanSnapshot,
    retriever: Option<ChanSnapshot>,
    user: &ParkedUser,
    lot: &str,
) {
    pbx.events
        .publish_module(name, crate::pbx::manager::class::CALL, || {
            let mut chans = vec![("Parkee", parkee())];
            if let Some(r) = retriever {
                chans.push(("Retriever", r));
            }
            (chans, parked_fields(user, lot))
        });
}

/// Send a timed-out call back (Asterisk's `parking_duration_callback` and
/// `comeback_goto`): variables, the `park-dial` extension, and the jump.
fn comeback(chan: &mut Channel, user: &ParkedUser, lot: &LotConfig, opts: &ParkOptions) {
    let pbx = chan.pbx.clone();
    let flat = config::flatten(&user.parker);
    let space = user.space.to_string();
    chan.set_var("PARKING_SPACE", &space);
    chan.set_var("PARKINGSLOT", &space);
    chan.set_var("PARKEDLOT", &lot.name);
    chan.set_var("PARKER", &user.parker);
    chan.set_var("PARKER_FLAT", &flat);
    chan.set_var("COMEBACKDIALTIME", &lot.comebackdialtime.to_string());
    pbx.verbose_line(
        3,
        &format!(
            "Parked call {} timed out in lot {} at space {space}",
            chan.name(),
            lot.name
        ),
    );
    pbx.add_extensions(vec![ModuleExten {
        registrar: "res_parking".into(),
        context: "park-dial".into(),
        exten: flat.clone(),
        priority: 1,
        app: "Dial".into(),
        data: format!("{},{}", user.parker, lot.comebackdialtime),
    }]);
    if let Some(c) = &opts.comeback {
        if let Some((ctx, ex, pri)) = config::parse_goto(c, &chan.context, &chan.exten) {
            chan.goto(&ctx, &ex, pri);
            return;
        }
    }
    let dp = pbx.dialplan();
    let now = chrono::Utc::now();
    let cid = chan.caller.num.clone();
    let exists = |c: &str, e: &str| dp.exists(c, e, 1, cid.as_deref(), now);
    if lot.comebacktoorigin {
        if exists("park-dial", &flat) {
            chan.goto("park-dial", &flat, 1);
        } else {
            pbx.error(&format!(
                "parking_controller.c: Can not start {} at park-dial,{flat},1 because extension does not exist. Terminating call.",
                chan.name()
            ));
            chan.shared.request_hangup(cause::NORMAL_CLEARING);
        }
        return;
    }
    let cc = &lot.comebackcontext;
    if exists(cc, &flat) {
        chan.goto(cc, &flat, 1);
    } else if exists(cc, "s") {
        pbx.verbose_line(
            2,
            &format!(
                "Could not start {} at {cc},{flat},1. Using 's@{cc}' instead.",
                chan.name()
            ),
        );
        chan.goto(cc, "s", 1);
    } else {
        pbx.verbose_line(
            2,
            &format!(
                "Can not start {} at {cc},{flat},1 and exten 's@{cc}' does not exist. Using 's@default'",
                chan.name()
            ),
        );
        chan.goto("default", "s", 1);
    }
}

/// Park `chan` (the Park() application's channel, or one handed to the service) and
/// announce the space to it unless `silent`; then hold it. `Err` when it could not be
/// parked.
async fn park_here(
    chan: &mut Channel,
    opts: &ParkOptions,
    silent: bool,
    report: Option<Report>,
) -> Result<Stay, ParkError> {
    park_reported(chan, opts, silent, report)
        .await
        .map_err(|(e, tx)| {
            if let Some(tx) = tx {
                let _ = tx.send(Err(e.clone()));
            }
            e
        })
}

/// Where [`park_here`] reports the space as soon as it is taken (or why not).
type Report = oneshot::Sender<Result<ParkedAt, ParkError>>;

/// [`park_here`]'s work: on failure the report channel comes back unused.
async fn park_reported(
    chan: &mut Channel,
    opts: &ParkOptions,
    silent: bool,
    mut report: Option<Report>,
) -> Result<Stay, (ParkError, Option<Report>)> {
    let pbx = chan.pbx.clone();
    let Some(lots) = lots(&pbx) else {
        return Err((ParkError::NoLot(opts.lot.clone()), report));
    };
    let lot = if opts.lot.is_empty() {
        lot_name(chan, "")
    } else {
        opts.lot.clone()
    };
    let parker = if opts.parker.is_empty() {
        chan.get_var("ATTENDEDTRANSFER")
            .filter(|v| !v.is_empty())
            .or_else(|| chan.get_var("BLINDTRANSFER").filter(|v| !v.is_empty()))
            .unwrap_or_else(|| chan.name().to_string())
    } else {
        opts.parker.clone()
    };
    let (user, cfg, rx) = match lots.reserve(&lot, chan, config::dial_string(&parker), opts) {
        Ok(r) => r,
        Err(e) => {
            pbx.error(&format!("parking_applications.c: {e}"));
            return Err((e, report));
        }
    };
    if let Some(tx) = report.take() {
        let _ = tx.send(Ok(ParkedAt {
            lot: cfg.name.clone(),
            space: user.space,
        }));
    }
    pbx.verbose_line(
        3,
        &format!(
            "Parking '{}' in '{}' at space {}",
            chan.name(),
            cfg.name,
            user.space
        ),
    );
    if !silent {
        let prompts = say::digits_prompts(&user.space.to_string());
        if say::say_prompts(chan, &prompts, false).await.is_err() {
            lots.release(&cfg.name, &user);
            return Ok(Stay::GaveUp);
        }
    }
    Ok(hold(chan, user, cfg, opts, rx).await)
}

/// Park()'s and ParkAndAnnounce()'s options: `r`, `R`, `s`, `c(…)`, `t(…)`, `m(…)`.
fn parse_options(chan: &Channel, lot: &str, options: &str) -> (ParkOptions, bool) {
    let o = args::options(options);
    let mut opts = ParkOptions {
        lot: lot_name(chan, lot),
        ringing: o.contains_key(&'r'),
        randomize: o.contains_key(&'R'),
        ..Default::default()
    };
    if let Some(Some(t)) = o.get(&'t') {
        match t.trim().parse::<u64>() {
            Ok(n) => opts.timeout = Some(Duration::from_secs(n)),
            Err(_) => chan.pbx.error(
                "parking_applications.c: Duration value provided for timeout ('t') option must be 0 or greater.",
            ),
        }
    }
    if let Some(Some(c)) = o.get(&'c') {
        opts.comeback = Some(c.clone());
    }
    if let Some(Some(m)) = o.get(&'m') {
        opts.moh_class = Some(m.clone());
    }
    (opts, o.contains_key(&'s'))
}

struct Park;

#[async_trait]
impl App for Park {
    fn name(&self) -> &'static str {
        "Park"
    }
    fn synopsis(&self) -> &'static str {
        "Park yourself."
    }
    fn syntax(&self) -> &'static str {
        "Park([parking_lot_name[,options]])"
    }
    fn description(&self) -> &'static str {
        "Used to park yourself (typically in combination with an attended transfer to know the parking space). The lot is the argument, else PARKINGLOT, else 'default'. Options: r (ringing instead of music on hold), R (random space), s (do not announce the space), c([[context,]exten,]priority) (where a timed-out call goes), t(duration) (timeout in seconds instead of the lot's parkingtime), m(class) (music on hold class). PARKINGEXTEN asks for a given space; when it is taken, the dialplan continues at the next priority. On timeout PARKING_SPACE, PARKEDLOT, PARKER and PARKER_FLAT are set and the call goes to park-dial (comebacktoorigin=yes) or comebackcontext."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        if !chan.is_up() {
            chan.answer();
        }
        let a = args::split(data, ',');
        let (opts, silent) = parse_options(chan, args::nth(&a, 0), args::nth(&a, 1));
        let blind = chan.get_var("BLINDTRANSFER").is_some_and(|v| !v.is_empty());
        match park_here(chan, &opts, silent || blind, None).await {
            Ok(Stay::TimedOut) => Ok(()),
            Ok(_) => Err(Hangup),
            Err(_) => {
                if !silent && !blind {
                    let _ = crate::apps::playback::stream(chan, "pbx-parkingfailed", "").await;
                }
                // A taken PARKINGEXTEN: continue at the next priority, as Asterisk does.
                Ok(())
            }
        }
    }
}

struct ParkedCall;

#[async_trait]
impl App for ParkedCall {
    fn name(&self) -> &'static str {
        "ParkedCall"
    }
    fn synopsis(&self) -> &'static str {
        "Retrieve a parked call."
    }
    fn syntax(&self) -> &'static str {
        "ParkedCall([parking_lot_name[,parking_space]])"
    }
    fn description(&self) -> &'static str {
        "Used to retrieve a parked call from a parking lot. The lot is the argument, else PARKINGLOT, else 'default'; without a space the first parked call of the lot is retrieved. The two are bridged until one hangs up; then the application hangs up (as Asterisk 12 and later)."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let a = args::split(data, ',');
        let lot = lot_name(chan, args::nth(&a, 0));
        let space_arg = args::nth(&a, 1).trim();
        let space = if space_arg.is_empty() {
            None
        } else {
            match space_arg.parse::<u32>() {
                Ok(n) => Some(n),
                Err(_) => {
                    chan.pbx.warning(&format!(
                        "parking_applications.c: Specified parking space '{space_arg}' is not a valid parking space."
                    ));
                    return Err(Hangup);
                }
            }
        };
        let pbx = chan.pbx.clone();
        let Some(lots) = lots(&pbx) else {
            return Err(Hangup);
        };
        if lots.lot_cfg(&lot).is_none() {
            pbx.warning(&format!(
                "parking_applications.c: Could not find the requested parking lot '{lot}'"
            ));
            return Err(Hangup);
        }
        if !chan.is_up() {
            chan.answer();
        }
        // Retrieve the first call that is still there.
        loop {
            let Some(user) = lots.take(&lot, space) else {
                let _ = crate::apps::playback::stream(chan, "pbx-invalidpark", "").await;
                pbx.verbose_line(
                    3,
                    &format!(
                        "{} tried to retrieve a parked call that is not there",
                        chan.name()
                    ),
                );
                return Err(Hangup);
            };
            let tx = user.retrieve.lock().take();
            let r = Retriever {
                name: chan.name().to_string(),
                snap: ChanSnapshot::of(chan),
                shared: chan.shared.clone(),
                media: chan.media.clone(),
            };
            if tx.is_some_and(|tx| tx.send(r).is_ok()) {
                chan.bridged = Some(user.channel.clone());
                chan.publish("ParkedCall", data);
                let mine = chan.shared.clone();
                tokio::select! {
                    _ = mine.hungup() => {}
                    _ = user.shared.hungup() => {}
                }
                chan.bridged = None;
                return Err(Hangup);
            }
            if space.is_some() {
                return Err(Hangup);
            }
        }
    }
}

struct ParkAndAnnounce;

#[async_trait]
impl App for ParkAndAnnounce {
    fn name(&self) -> &'static str {
        "ParkAndAnnounce"
    }
    fn synopsis(&self) -> &'static str {
        "Park and Announce."
    }
    fn syntax(&self) -> &'static str {
        "ParkAndAnnounce([parking_lot_name[,options[,announce[:announce1[:...]],dial]]])"
    }
    fn description(&self) -> &'static str {
        "Park a call into the parkinglot and announce the call to another channel: dial is called (as Dial's Technology/Resource) and hears the announce files, the word PARKED replaced by the space said as digits; the called channel gets PARKEDAT. Options as Park() (r, R, c, t)."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let a = args::split(data, ',');
        let template = args::nth(&a, 2).to_string();
        let dial = args::nth(&a, 3).trim().to_string();
        if template.is_empty() {
            chan.pbx.warning(
                "parking_applications.c: ParkAndAnnounce requires arguments: (announce_template,dial)",
            );
            return Err(Hangup);
        }
        if dial.is_empty() {
            chan.pbx.warning("parking_applications.c: PARK: A dial resource must be specified i.e: Console/dsp or DAHDI/g1/5551212");
            return Err(Hangup);
        }
        if !chan.is_up() {
            chan.answer();
        }
        let (opts, _) = parse_options(chan, args::nth(&a, 0), args::nth(&a, 1));
        let pbx = chan.pbx.clone();
        let Some(lots) = lots(&pbx) else {
            return Err(Hangup);
        };
        let lot = opts.lot.clone();
        let parker = chan.name().to_string();
        let Ok((user, cfg, rx)) = lots.reserve(&lot, chan, config::dial_string(&parker), &opts)
        else {
            pbx.error(&format!(
                "parking_applications.c: Failed to get parking space in lot '{lot}'. All full."
            ));
            return Err(Hangup);
        };
        pbx.verbose_line(
            3,
            &format!(
                "Parking '{}' in '{}' at space {}",
                chan.name(),
                cfg.name,
                user.space
            ),
        );
        chan.set_var("PARKEDAT", &user.space.to_string());
        announce_to(&pbx, chan, &dial, &template, user.space).await;
        match hold(chan, user, cfg, &opts, rx).await {
            Stay::TimedOut => Ok(()),
            _ => Err(Hangup),
        }
    }
}

/// Call `dial` and play it the announcement (ParkAndAnnounce's `announce_to_dial`), in
/// the background: the parked call is held meanwhile.
async fn announce_to(pbx: &Arc<Pbx>, parked: &Channel, dial: &str, template: &str, space: u32) {
    crate::channels::prepare(pbx, dial).await;
    let out = match crate::channels::request(pbx, dial, Some(parked)) {
        Ok(o) => o,
        Err(e) => {
            pbx.warning(&format!(
                "parking_applications.c: PARK: Unable to allocate announce channel. ({})",
                e.msg
            ));
            return;
        }
    };
    pbx.verbose_line(3, &format!("Dial Tech,String: ({dial})"));
    let mut dchan = out.chan;
    dchan.set_var("PARKEDAT", &space.to_string());
    dchan.caller = parked.caller.clone();
    let template = template.to_string();
    (out.call)();
    tokio::spawn(async move {
        let mut events = dchan.events.take();
        let answered = async {
            let Some(ev) = events.as_mut() else {
                return false;
            };
            while let Some(e) = ev.recv().await {
                match e {
                    ChanEvent::Answer => return true,
                    ChanEvent::Hangup(_) | ChanEvent::Busy | ChanEvent::Congestion => return false,
                    _ => {}
                }
            }
            false
        };
        let ok = tokio::time::timeout(Duration::from_secs(30), answered)
            .await
            .unwrap_or(false);
        if ok {
            dchan.answer();
            for item in template.split(':') {
                let prompts = if item == "PARKED" {
                    say::digits_prompts(&space.to_string())
                } else {
                    vec![item.to_string()]
                };
                if say::say_prompts(&mut dchan, &prompts, false).await.is_err() {
                    break;
                }
            }
            let _ = dchan.flush_output().await;
        }
        dchan.destroy();
    });
}

/// `PARK_GET_CHANNEL(parking_space,parking_lot)`: the channel parked there.
struct ParkGetChannel;

impl Func for ParkGetChannel {
    fn name(&self) -> &'static str {
        "PARK_GET_CHANNEL"
    }
    fn synopsis(&self) -> &'static str {
        "Get the channel name of an occupied parking space in a parking lot."
    }
    fn syntax(&self) -> &'static str {
        "PARK_GET_CHANNEL(parking_space,parking_lot)"
    }
    fn read(&self, chan: &mut Channel, args: &str) -> Result<String, FuncError> {
        let a = args::split(args, ',');
        let space = args::nth(&a, 0).trim();
        let lot = args::nth(&a, 1).trim();
        let lot = if lot.is_empty() { "default" } else { lot };
        let Some(lots) = lots(&chan.pbx) else {
            return Ok(String::new());
        };
        let Ok(space) = space.parse::<u32>() else {
            return Err(FuncError::Usage(format!("Invalid parking space '{space}'")));
        };
        let g = lots.lots.lock();
        let Some(l) = g.get(&lot.to_ascii_lowercase()) else {
            return Err(FuncError::Other(format!(
                "Could not find parking lot: '{lot}'"
            )));
        };
        Ok(l.parked
            .get(&space)
            .map(|u| u.channel.clone())
            .unwrap_or_default())
    }
}

/// The service other modules park through.
struct Service(Weak<Lots>);

impl Parking for Service {
    fn park_channel(
        &self,
        mut chan: Channel,
        opts: ParkOptions,
    ) -> Result<ParkedAt, (ParkError, Box<Channel>)> {
        let Some(lots) = self.0.upgrade() else {
            return Err((ParkError::NoLot(opts.lot), Box::new(chan)));
        };
        let lot = if opts.lot.is_empty() {
            lot_name(&chan, "")
        } else {
            opts.lot.clone()
        };
        let parker = if opts.parker.is_empty() {
            chan.name().to_string()
        } else {
            opts.parker.clone()
        };
        let (user, cfg, rx) = match lots.reserve(&lot, &chan, config::dial_string(&parker), &opts) {
            Ok(r) => r,
            Err(e) => return Err((e, Box::new(chan))),
        };
        let at = ParkedAt {
            lot: cfg.name.clone(),
            space: user.space,
        };
        chan.pbx.verbose_line(
            3,
            &format!(
                "Parking '{}' in '{}' at space {}",
                chan.name(),
                cfg.name,
                user.space
            ),
        );
        tokio::spawn(async move {
            match hold(&mut chan, user, cfg, &opts, rx).await {
                Stay::TimedOut => exec::run_pbx(chan).await,
                _ => chan.destroy(),
            }
        });
        Ok(at)
    }
    fn park_self<'a>(
        &'a self,
        chan: &'a mut Channel,
        opts: ParkOptions,
        parked: oneshot::Sender<Result<ParkedAt, ParkError>>,
    ) -> crate::pbx::parking::ParkFuture<'a> {
        Box::pin(async move {
            match park_here(chan, &opts, true, Some(parked)).await {
                Ok(Stay::TimedOut) => true,
                Ok(_) | Err(_) => false,
            }
        })
    }
    fn parkext_lot(&self, context: &str, exten: &str) -> Option<String> {
        let lots = self.0.upgrade()?;
        let g = lots.lots.lock();
        g.values()
            .find(|l| {
                !l.cfg.parkext.is_empty() && l.cfg.parkext == exten && l.cfg.context == context
            })
            .map(|l| l.cfg.name.clone())
    }
    fn parked(&self, lot: &str) -> Vec<(String, u32, String)> {
        let Some(lots) = self.0.upgrade() else {
            return Vec::new();
        };
        let g = lots.lots.lock();
        g.values()
            .filter(|l| lot.is_empty() || l.cfg.name.eq_ignore_ascii_case(lot))
            .flat_map(|l| {
                l.parked
                    .values()
                    .map(|u| (l.cfg.name.clone(), u.space, u.channel.clone()))
            })
            .collect()
    }
    fn space_in_use(&self, space_at_context: &str) -> bool {
        self.0
            .upgrade()
            .is_some_and(|l| l.space_in_use(space_at_context))
    }
}

/// The extensions a lot adds (Asterisk's `parking_lot_cfg_create_extensions`).
pub fn lot_extensions(l: &LotConfig) -> Vec<ModuleExten> {
    let reg = l.registrar();
    let mut v = Vec::new();
    if !l.parkext.is_empty() {
        v.push(ModuleExten {
            registrar: if l.parkext_exclusive {
                reg.clone()
            } else {
                "res_parking".into()
            },
            context: l.context.clone(),
            exten: l.parkext.clone(),
            priority: 1,
            app: "Park".into(),
            data: if l.parkext_exclusive {
                l.name.clone()
            } else {
                String::new()
            },
        });
        for s in l.start..=l.stop {
            v.push(ModuleExten {
                registrar: reg.clone(),
                context: l.context.clone(),
                exten: s.to_string(),
                priority: 1,
                app: "ParkedCall".into(),
                data: format!("{},{s}", l.name),
            });
            if l.parkinghints {
                v.push(ModuleExten {
                    registrar: reg.clone(),
                    context: l.context.clone(),
                    exten: s.to_string(),
                    priority: crate::dialplan::PRIORITY_HINT,
                    app: format!("park:{s}@{}", l.context),
                    data: String::new(),
                });
            }
        }
    }
    v
}

/// Read `res_parking.conf` (blocking: call it on the blocking pool) and apply it.
fn apply_config(pbx: &Arc<Pbx>, lots: &Lots) -> Result<(), ModuleError> {
    let s = &pbx.settings;
    let cfg = if s.astetcdir.join("res_parking.conf").exists() {
        let cf = crate::config::load(&s.astetcdir, "res_parking.conf", &s.load_options())
            .map_err(|e| ModuleError::Failed(e.to_string()))?;
        config::parse(&cf).map_err(|e| ModuleError::Failed(crate::config::join_errors(&e)))?
    } else {
        ParkingConfig::default()
    };
    pbx.remove_extensions(|r| r == "res_parking" || r.starts_with("res_parking/"));
    let exts: Vec<ModuleExten> = cfg.lots.iter().flat_map(lot_extensions).collect();
    if !exts.is_empty() {
        pbx.add_extensions(exts);
    }
    lots.set_config(cfg);
    Ok(())
}

/// `res_parking.so`.
pub struct ResParking;

#[async_trait]
impl Module for ResParking {
    fn info(&self) -> ModuleInfo {
        ModuleInfo::new("res_parking.so", "Call Parking Resource")
    }
    fn load(&self, ctx: &ModuleContext) -> Result<(), ModuleError> {
        let lots = Arc::new(Lots {
            general: Mutex::new(ParkingConfig::default()),
            lots: Mutex::new(BTreeMap::new()),
        });
        apply_config(&ctx.pbx, &lots)?;
        ctx.provide(lots.clone());
        ctx.provide(Arc::new(ParkingService(Arc::new(Service(Arc::downgrade(
            &lots,
        ))))));
        ctx.register_app(Arc::new(Park));
        ctx.register_app(Arc::new(ParkedCall));
        ctx.register_app(Arc::new(ParkAndAnnounce));
        ctx.register_func(Arc::new(ParkGetChannel));
        manager::register(ctx);
        ctx.register_cli_with(register_cli);
        Ok(())
    }
    async fn stop(&self, ctx: &ModuleContext) {
        ctx.pbx
            .remove_extensions(|r| r == "res_parking" || r.starts_with("res_parking/"));
    }
    fn reload(&self, ctx: &ModuleContext) -> Reload {
        let Some(lots) = lots(&ctx.pbx) else {
            return Reload::NotSupported;
        };
        match apply_config(&ctx.pbx, &lots) {
            Ok(()) => Reload::Done(String::new()),
            Err(e) => {
                ctx.pbx.error(&format!("res_parking.c: {e}"));
                Reload::Done(String::new())
            }
        }
    }
}

fn register_cli(r: &CommandRegistry) {
    r.register(Command::new(
        "parking show",
        "Show a parking lot or a list of all parking lots.",
        "Usage: parking show [name]\n\tShows a list of parking lots or details of a specific parking lot.",
        |c: Ctx| async move {
            if c.args.len() > 1 {
                return Err(CliError::ShowUsage);
            }
            let pbx = c.pbx().clone();
            let Some(lots) = lots(&pbx) else {
                return Ok(String::new());
            };
            let out = blocking::run(move || show(&lots, c.args.first().map(String::as_str)))
                .await
                .unwrap_or_default();
            Ok::<String, CliError>(out)
        },
    ));
}

fn lot_lines(o: &mut String, c: &LotConfig) {
    use std::fmt::Write;
    let _ = write!(
        o,
        "Parking Lot: {}\n--------------------------------------------------------------------------\n",
        c.name
    );
    let _ = writeln!(o, "Parking Extension   :  {}", c.parkext);
    let _ = writeln!(o, "Parking Context     :  {}", c.context);
    let _ = writeln!(o, "Parking Spaces      :  {}-{}", c.start, c.stop);
    let _ = writeln!(o, "Parking Time        :  {} sec", c.parkingtime);
    let _ = writeln!(
        o,
        "Comeback to Origin  :  {}",
        if c.comebacktoorigin { "yes" } else { "no" }
    );
    let _ = writeln!(
        o,
        "Comeback Context    :  {}{}",
        c.comebackcontext,
        if c.comebacktoorigin {
            " (comebacktoorigin=yes, not used)"
        } else {
            ""
        }
    );
    let _ = writeln!(o, "Comeback Dial Time  :  {} sec", c.comebackdialtime);
    let _ = writeln!(o, "MusicOnHold Class   :  {}", c.parkedmusicclass);
    let _ = writeln!(o, "Enabled             :  yes");
    let _ = writeln!(o, "Dynamic             :  no");
    o.push('\n');
}

/// `parking show [name]` in Asterisk's shape.
fn show(lots: &Lots, name: Option<&str>) -> String {
    use std::fmt::Write;
    let mut o = String::from("\n");
    let g = lots.lots.lock();
    match name {
        None => {
            let _ = write!(
                o,
                "Parking General Options\n-----------------------\nDynamic Parking     :  {}\n\n",
                if lots.general.lock().parkeddynamic {
                    "yes"
                } else {
                    "no"
                }
            );
            for l in g.values() {
                lot_lines(&mut o, &l.cfg);
            }
            o.push('\n');
        }
        Some(n) => {
            let Some(l) = g.get(&n.to_ascii_lowercase()) else {
                let _ = write!(o, "Could not find parking lot '{n}'\n\n");
                return o;
            };
            lot_lines(&mut o, &l.cfg);
            o.push_str("Parked Calls\n------------\n");
            if l.parked.is_empty() {
                o.push_str("  (none)\n\n\n");
                return o;
            }
            for u in l.parked.values() {
                let _ = writeln!(o, "  Space               :  {}", u.space);
                let _ = writeln!(o, "  Channel             :  {}", u.channel);
                let _ = writeln!(o, "  Parker Dial String  :  {}", u.parker);
                o.push('\n');
            }
            o.push('\n');
        }
    }
    o
}

#[cfg(test)]
pub(crate) mod tests;
