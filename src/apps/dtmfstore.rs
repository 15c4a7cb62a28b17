//! `StoreDTMF()` (app_dtmfstore.so): appends each digit the channel receives (RX) or is
//! sent (TX) to a variable, as a frame hook (`funcs::dsp::hooked`) sees it. The hook runs
//! on the pushing task, which cannot touch the channel: it keeps the digits itself and
//! hands the variable's new value to the channel ([`ChannelShared::request_setvar`]),
//! which sets it at its next wait or dialplan step.

use super::{args, App, AppResult};
use crate::funcs::dsp::{hooked, unhook, Dir};
use crate::pbx::channel::ChannelShared;
use crate::pbx::media::Frame;
use crate::pbx::module::{Family, ModuleContext, ModuleInfo};
use crate::pbx::Channel;
use async_trait::async_trait;
use std::sync::Arc;

pub static MODULES: &[Family] = &[Family {
    info: ModuleInfo::new(
        "app_dtmfstore.so",
        "Technology independent async DTMF storage",
    ),
    register: register_app_dtmfstore,
}];

fn register_app_dtmfstore(ctx: &ModuleContext) {
    ctx.register_app(Arc::new(StoreDtmf));
}

/// One direction's store: the variable and what it holds so far.
#[derive(Default)]
struct Store {
    var: String,
    value: String,
}

struct Stores {
    shared: Arc<ChannelShared>,
    rx: Option<Store>,
    tx: Option<Store>,
    maxdigits: usize,
    /// The limit was reached: nothing more is stored.
    done: bool,
}

fn store_hook(s: &mut Stores, dir: Dir, f: Frame) -> Option<Frame> {
    let Frame::Dtmf(d, _) = &f else {
        return Some(f);
    };
    if s.done {
        return Some(f);
    }
    let max = s.maxdigits;
    let store = match dir {
        Dir::Rx => s.rx.as_mut(),
        Dir::Tx => s.tx.as_mut(),
    };
    let Some(store) = store else {
        return Some(f);
    };
    if max > 0 && store.value.chars().count() >= max {
        s.done = true;
        return Some(f);
    }
    store.value.push(*d);
    s.shared.request_setvar(&store.var, &store.value);
    Some(f)
}

const DATASTORE: &str = "dtmf_store";

struct StoreDtmf;

#[async_trait]
impl App for StoreDtmf {
    fn name(&self) -> &'static str {
        "StoreDTMF"
    }
    fn synopsis(&self) -> &'static str {
        "Stores DTMF digits transmitted or received on a channel."
    }
    fn syntax(&self) -> &'static str {
        "StoreDTMF(direction,[var_name,[max_digits]])"
    }
    fn description(&self) -> &'static str {
        "The StoreDTMF function can be used to store DTMF digits sent or received in the TX \
         or RX direction of any channel. direction: TX, RX, or remove to disable. \
         var_name: name of the variable to which to append digits. max_digits: the maximum \
         number of digits to store in the variable; defaults to 0 (no maximum). After \
         reading maximum digits, no more digits will be stored. Examples: \
         StoreDTMF(RX,testvar,24), StoreDTMF(remove). The variable is updated at the \
         channel's next wait or dialplan step after each digit."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let a = args::split(data, ',');
        let direction = args::nth(&a, 0).trim().to_ascii_lowercase();
        if direction == "remove" {
            if !unhook::<Stores>(chan, DATASTORE) {
                chan.pbx.warning(&format!(
                    "app_dtmfstore.c: Cannot remove StoreDTMF from {}: StoreDTMF not currently enabled",
                    chan.name()
                ));
            }
            return Ok(());
        }
        let dir = match direction.as_str() {
            "rx" => Dir::Rx,
            "tx" => Dir::Tx,
            _ => {
                chan.pbx
                    .warning("app_dtmfstore.c: Direction must be either RX or TX");
                return Ok(());
            }
        };
        let var = args::nth(&a, 1).trim().to_string();
        if var.is_empty() {
            chan.pbx
                .warning("app_dtmfstore.c: StoreDTMF requires a variable name");
            return Ok(());
        }
        let maxdigits = match args::nth(&a, 2).trim() {
            "" => 0,
            s => match s.parse::<usize>() {
                Ok(n) => n,
                Err(_) => {
                    chan.pbx.warning(&format!(
                        "app_dtmfstore.c: Invalid number of max digits: {s}"
                    ));
                    return Ok(());
                }
            },
        };
        let value = chan.get_var(&var).unwrap_or_default();
        let shared = chan.shared.clone();
        let init = || Stores {
            shared,
            rx: None,
            tx: None,
            maxdigits: 0,
            done: false,
        };
        if let Some(s) = hooked(chan, DATASTORE, init, store_hook) {
            let mut s = s.lock();
            let store = Some(Store { var, value });
            match dir {
                Dir::Rx => s.rx = store,
                Dir::Tx => s.tx = store,
            }
            s.maxdigits = maxdigits;
            s.done = false;
        }
        Ok(())
    }
}
