//! Call pickup as the core offers it (Asterisk's `ast_can_pickup` / `ast_do_pickup`): the
//! application that rings channels (Dial) lists each ringing leg here with a [`Watch`];
//! Pickup()/PickupChan() (app_directed_pickup.so) find a leg by extension, mark, group or
//! name and hand the picker over with [`take`]. The ringing application then treats the
//! picker as the party that answered: the other legs are cancelled, DIALSTATUS is ANSWER,
//! and its caller talks to the picker.
//!
//! Nothing here names a module; the core only keeps the list.

use super::channel::ChannelShared;
use super::media::MediaHandle;
use super::{ChanState, Pbx};
use parking_lot::Mutex;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// The picker, sent to the application that rings the leg.
pub struct PickupRequest {
    /// The picking channel's name (`SIP/1003-00000004`).
    pub picker: String,
    pub shared: Arc<ChannelShared>,
    pub media: Option<MediaHandle>,
    /// The ringing leg that was picked up.
    pub target: String,
    /// Answered `true` when the ringing application took the picker over.
    pub accepted: oneshot::Sender<bool>,
}

/// One ringing leg.
pub struct Ringing {
    pub target: Arc<ChannelShared>,
    /// The channel that rings it (Dial's caller).
    pub caller: Arc<ChannelShared>,
    pub exten: String,
    pub context: String,
    /// The leg's `PICKUPMARK` variable.
    pub mark: Option<String>,
    /// The leg's call groups (numbers) and named call groups.
    pub callgroups: Groups,
    tx: mpsc::UnboundedSender<PickupRequest>,
    taken: AtomicBool,
    owner: u64,
}

impl Ringing {
    /// Asterisk's `ast_can_pickup`: still ringing (not answered, not hung up, not already
    /// being picked up).
    pub fn can_pickup(&self) -> bool {
        !self.taken.load(Ordering::SeqCst)
            && !self.target.hangup_requested()
            && !self.caller.hangup_requested()
            && self.target.state() != ChanState::Up
    }
}

/// Call or pickup groups: numbered (`1,3-5`) and named (`sales,support`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Groups {
    pub numbers: BTreeSet<u8>,
    pub names: BTreeSet<String>,
}

impl Groups {
    /// `callgroup=1,3-5` (numbers 0..=63, as Asterisk's `ast_get_group`); bad items are
    /// skipped and reported.
    pub fn parse_numbers(s: &str) -> (BTreeSet<u8>, Vec<String>) {
        let mut out = BTreeSet::new();
        let mut bad = Vec::new();
        for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let range = match item.split_once('-') {
                Some((a, b)) => a.trim().parse::<u8>().ok().zip(b.trim().parse::<u8>().ok()),
                None => item.parse::<u8>().ok().map(|n| (n, n)),
            };
            match range {
                Some((a, b)) if a <= b && b <= 63 => out.extend(a..=b),
                _ => bad.push(item.to_string()),
            }
        }
        (out, bad)
    }
    /// `namedcallgroup=sales,support`.
    pub fn parse_names(s: &str) -> BTreeSet<String> {
        s.split(',')
            .map(str::trim)
            .filter(|i| !i.is_empty())
            .map(str::to_string)
            .collect()
    }
    pub fn is_empty(&self) -> bool {
        self.numbers.is_empty() && self.names.is_empty()
    }
    /// Whether a pickup group `self` may pick up a call group `call`.
    pub fn intersects(&self, call: &Groups) -> bool {
        self.numbers.intersection(&call.numbers).next().is_some()
            || self.names.intersection(&call.names).next().is_some()
    }
}

/// The datastore name drivers put a channel's groups under: `(callgroups, pickupgroups)`.
pub const GROUPS_DATASTORE: &str = "pickup:groups";

/// The ringing legs of the whole PBX (a core service).
#[derive(Default)]
pub struct RingingLegs {
    legs: Mutex<Vec<Arc<Ringing>>>,
    seq: std::sync::atomic::AtomicU64,
}

fn legs(pbx: &Pbx) -> Arc<RingingLegs> {
    pbx.services
        .get_or_insert_with("core", RingingLegs::default)
}

/// What a ringing leg is, as the ringing application describes it to [`Watch::ringing`].
pub struct LegInfo {
    pub exten: String,
    pub context: String,
    pub mark: Option<String>,
    pub callgroups: Groups,
}

/// One ringing application's legs: they are listed while the watch lives.
pub struct Watch {
    reg: Arc<RingingLegs>,
    id: u64,
    caller: Arc<ChannelShared>,
    tx: mpsc::UnboundedSender<PickupRequest>,
    rx: mpsc::UnboundedReceiver<PickupRequest>,
}

impl Watch {
    pub fn new(pbx: &Pbx, caller: &Arc<ChannelShared>) -> Watch {
        let reg = legs(pbx);
        let id = reg.seq.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::unbounded_channel();
        Watch {
            reg,
            id,
            caller: caller.clone(),
            tx,
            rx,
        }
    }
    /// List `target` as ringing on behalf of this watch's caller.
    pub fn ringing(&self, target: &Arc<ChannelShared>, info: LegInfo) {
        self.reg.legs.lock().push(Arc::new(Ringing {
            target: target.clone(),
            caller: self.caller.clone(),
            exten: info.exten,
            context: info.context,
            mark: info.mark,
            callgroups: info.callgroups,
            tx: self.tx.clone(),
            taken: AtomicBool::new(false),
            owner: self.id,
        }));
    }
    /// The next pickup of one of the legs.
    pub async fn next(&mut self) -> PickupRequest {
        match self.rx.recv().await {
            Some(r) => r,
            None => std::future::pending().await,
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let id = self.id;
        self.reg.legs.lock().retain(|l| l.owner != id);
    }
}

/// The legs that can be picked up now, oldest first.
pub fn candidates(pbx: &Pbx) -> Vec<Arc<Ringing>> {
    legs(pbx)
        .legs
        .lock()
        .iter()
        .filter(|l| l.can_pickup())
        .cloned()
        .collect()
}

/// Hand the picker to the application ringing `leg` (Asterisk's `ast_do_pickup`); `true`
/// when it took it over (then the picker talks to the leg's caller until one hangs up).
pub async fn take(
    leg: &Ringing,
    picker: String,
    shared: Arc<ChannelShared>,
    media: Option<MediaHandle>,
) -> bool {
    if leg.taken.swap(true, Ordering::SeqCst) {
        return false;
    }
    let (tx, rx) = oneshot::channel();
    let req = PickupRequest {
        picker,
        shared,
        media,
        target: leg.target.name.clone(),
        accepted: tx,
    };
    if leg.tx.send(req).is_err() {
        return false;
    }
    rx.await.unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_parse_ranges_and_intersect() {
        let (n, bad) = Groups::parse_numbers("1, 3-5,x,70");
        assert_eq!(n.into_iter().collect::<Vec<_>>(), vec![1, 3, 4, 5]);
        assert_eq!(bad, vec!["x".to_string(), "70".to_string()]);
        let a = Groups {
            numbers: [4].into(),
            names: BTreeSet::new(),
        };
        let b = Groups {
            numbers: Groups::parse_numbers("3-5").0,
            names: Groups::parse_names("sales"),
        };
        assert!(a.intersects(&b));
        let c = Groups {
            numbers: BTreeSet::new(),
            names: Groups::parse_names("support, sales"),
        };
        assert!(c.intersects(&b));
        assert!(!Groups::default().intersects(&b));
    }

    #[tokio::test]
    async fn a_ringing_leg_is_listed_while_its_watch_lives_and_taken_once() {
        let pbx = Pbx::for_tests();
        let caller = ChannelShared::new("SIP/a-1".into(), "1".into());
        let target = ChannelShared::new("SIP/b-2".into(), "2".into());
        let mut w = Watch::new(&pbx, &caller);
        w.ringing(
            &target,
            LegInfo {
                exten: "1002".into(),
                context: "phones".into(),
                mark: None,
                callgroups: Groups::default(),
            },
        );
        let c = candidates(&pbx);
        assert_eq!(c.len(), 1);
        let leg = c[0].clone();
        let picker = ChannelShared::new("SIP/c-3".into(), "3".into());
        let t = tokio::spawn(async move { take(&leg, "SIP/c-3".into(), picker, None).await });
        let req = w.next().await;
        assert_eq!(req.target, "SIP/b-2");
        let _ = req.accepted.send(true);
        assert!(t.await.expect("take"));
        // Taken: no longer a candidate.
        assert!(candidates(&pbx).is_empty());
        drop(w);
        assert!(legs(&pbx).legs.lock().is_empty());
    }
}
