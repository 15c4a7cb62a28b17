//! res_parking's AMI actions, as Asterisk's `parking_manager.c` answers them: `Park`
//! (park a channel by name: it is pulled out of what it runs, as Bridge() pulls one),
//! `ParkedCalls` (a `ParkedCall` event per parked call) and `Parkinglots`.

use super::{lots, park_here, parked_fields, Stay};
use crate::manager::actions::list;
use crate::pbx::manager::{class, Action, Caller, Message, Reply};
use crate::pbx::module::ModuleContext;
use crate::pbx::parking::ParkOptions;
use crate::pbx::{Channel, Pbx};
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

pub fn register(ctx: &ModuleContext) {
    ctx.register_manager_action(Arc::new(Park));
    ctx.register_manager_action(Arc::new(ParkedCalls));
    ctx.register_manager_action(Arc::new(Parkinglots));
}

struct Park;

#[async_trait]
impl Action for Park {
    fn name(&self) -> &'static str {
        "Park"
    }
    fn privilege(&self) -> u32 {
        class::CALL
    }
    fn synopsis(&self) -> &'static str {
        "Park a channel."
    }
    async fn run(&self, pbx: &Arc<Pbx>, _: &Caller, req: &Message) -> Reply {
        let name = req.value("Channel").trim();
        if name.is_empty() {
            return vec![Message::error(req, "Channel not specified")];
        }
        let timeout = match req.value("Timeout").trim() {
            "" => None,
            t => match t.parse::<u64>() {
                // Milliseconds, at least a second unless zero (no timeout).
                Ok(0) => Some(Duration::ZERO),
                Ok(ms) => Some(Duration::from_secs((ms / 1000).max(1))),
                Err(_) => return vec![Message::error(req, "Invalid Timeout value.")],
            },
        };
        let Some(target) = pbx.channels.get(name) else {
            return vec![Message::error(
                req,
                &format!("Channel does not exist: {name}"),
            )];
        };
        if !target.snapshot.lock().in_pbx {
            return vec![Message::error(req, "Park action failed")];
        }
        let timeout_channel = {
            let t = req.value("TimeoutChannel");
            if t.is_empty() {
                req.value("Channel2")
            } else {
                t
            }
        };
        let opts = ParkOptions {
            lot: req.value("Parkinglot").trim().to_string(),
            parker: timeout_channel.trim().to_string(),
            timeout,
            ..Default::default()
        };
        let space = req.value("ParkingSpace").trim().to_string();
        let (tx, rx) = oneshot::channel();
        let job: crate::pbx::channel::JoinJob = Box::new(move |c: &mut Channel| {
            Box::pin(async move {
                if !space.is_empty() {
                    c.set_var("PARKINGEXTEN", &space);
                }
                let mut opts = opts;
                if opts.lot.is_empty() {
                    opts.lot = super::lot_name(c, "");
                }
                matches!(
                    park_here(c, &opts, true, Some(tx)).await,
                    Ok(Stay::TimedOut)
                )
            })
        });
        if !target.request_join(job) {
            return vec![Message::error(req, "Park action failed")];
        }
        match tokio::time::timeout(Duration::from_secs(5), rx).await {
            Ok(Ok(Ok(_))) => vec![Message::ack(req, "Park successful")],
            _ => vec![Message::error(req, "Park action failed")],
        }
    }
}

struct ParkedCalls;

#[async_trait]
impl Action for ParkedCalls {
    fn name(&self) -> &'static str {
        "ParkedCalls"
    }
    fn privilege(&self) -> u32 {
        0
    }
    fn synopsis(&self) -> &'static str {
        "List parked calls."
    }
    async fn run(&self, pbx: &Arc<Pbx>, _: &Caller, req: &Message) -> Reply {
        let want = req.value("ParkingLot").trim();
        let Some(lots) = lots(pbx) else {
            return vec![Message::error(req, "Could not create parking lot list")];
        };
        let mut out = Vec::new();
        {
            let g = lots.lots.lock();
            if !want.is_empty() && !g.contains_key(&want.to_ascii_lowercase()) {
                return vec![Message::error(
                    req,
                    "Requested parking lot could not be found.",
                )];
            }
            for l in g
                .values()
                .filter(|l| want.is_empty() || l.cfg.name.eq_ignore_ascii_case(want))
            {
                for u in l.parked.values() {
                    let mut m = Message::event("ParkedCall", Some(req));
                    let mut f = Vec::new();
                    u.snap.fields("Parkee", &mut f);
                    f.extend(parked_fields(u, &l.cfg.name));
                    for (k, v) in f {
                        m.push(&k, v);
                    }
                    out.push(m);
                }
            }
        }
        let total = out.len();
        let mut r = list(req, "Parked calls will follow", out, "ParkedCallsComplete");
        if let Some(last) = r.last_mut() {
            last.push("Total", total.to_string());
        }
        r
    }
}

struct Parkinglots;

#[async_trait]
impl Action for Parkinglots {
    fn name(&self) -> &'static str {
        "Parkinglots"
    }
    fn privilege(&self) -> u32 {
        0
    }
    fn synopsis(&self) -> &'static str {
        "Get a list of parking lots"
    }
    async fn run(&self, pbx: &Arc<Pbx>, _: &Caller, req: &Message) -> Reply {
        let Some(lots) = lots(pbx) else {
            return vec![Message::error(req, "Could not create parking lot list")];
        };
        let out = lots
            .lots
            .lock()
            .values()
            .map(|l| {
                Message::event("Parkinglot", Some(req))
                    .with("Name", l.cfg.name.clone())
                    .with("StartSpace", l.cfg.start.to_string())
                    .with("StopSpace", l.cfg.stop.to_string())
                    .with("Timeout", l.cfg.parkingtime.to_string())
            })
            .collect();
        list(req, "Parking lots will follow", out, "ParkinglotsComplete")
    }
}
