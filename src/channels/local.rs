//! `Local/exten@context[/options]`: a pair of channels joined back to back. `;1` is the
//! outbound leg the requester holds; `;2` runs the dialplan at `exten@context`. Answer,
//! ringing, busy and congestion on `;2` reach `;1` as events; a hangup on either side
//! hangs up the other. ferrisk never optimises Local channels away, so `/n` is accepted
//! and changes nothing.
//!
//! Media crosses between the halves: what `;1` is sent comes out of `;2`'s `read_frame` and
//! the other way round. Each half has ordinary queues; on every tick of the shared 20 ms
//! media clock (the one RTP sessions use) a pacer takes one frame from each half's `to_far`
//! and pushes it (lossily) into the other half's `from_far`, so Playback on a Local half
//! runs in real time even when nobody reads the other half, exactly as it would on a SIP
//! channel. The pacer ends when either half hangs up.

use super::{Driver, Outbound, RequestError};
use crate::media::session::{MediaClock, Tick};
use crate::pbx::channel::{cause, ChanEvent, ChannelShared, ChannelTech};
use crate::pbx::media::{FrameQueue, MediaHandle, NativeFormat};
use crate::pbx::module::{Module, ModuleContext, ModuleError, ModuleInfo};
use crate::pbx::{exec, Channel, Pbx};
use parking_lot::Mutex;
use std::sync::Arc;
use tokio::sync::mpsc;

/// The `;1` side: hanging it up hangs up `;2`.
struct LocalOne {
    tech: &'static str,
    two: std::sync::OnceLock<Arc<ChannelShared>>,
}

impl ChannelTech for LocalOne {
    fn tech(&self) -> &'static str {
        self.tech
    }
    fn hangup(&self, _chan: &Channel, cause: i32) {
        if let Some(two) = self.two.get() {
            two.request_hangup(cause);
        }
    }
    fn peer_name(&self) -> Option<String> {
        self.two.get().map(|t| t.name.clone())
    }
}

/// The `;2` side: its answer and indications go to `;1`.
struct LocalTwo {
    tech: &'static str,
    one: Arc<ChannelShared>,
    to_one: Mutex<Option<mpsc::UnboundedSender<ChanEvent>>>,
}

impl LocalTwo {
    fn send(&self, ev: ChanEvent) {
        if let Some(tx) = self.to_one.lock().as_ref() {
            let _ = tx.send(ev);
        }
    }
}

impl ChannelTech for LocalTwo {
    fn tech(&self) -> &'static str {
        self.tech
    }
    fn answer(&self, _chan: &Channel) {
        self.send(ChanEvent::Answer);
    }
    fn indicate(&self, _chan: &Channel, ev: &ChanEvent) {
        self.send(ev.clone());
    }
    fn hangup(&self, _chan: &Channel, cause: i32) {
        self.send(ChanEvent::Hangup(cause));
        self.to_one.lock().take();
        self.one.request_hangup(cause);
    }
    fn peer_name(&self) -> Option<String> {
        Some(self.one.name.clone())
    }
}

/// Parse `exten@context/options` (context defaults to `default`).
pub fn parse_dest(data: &str) -> (String, String, String) {
    let (dest, opts) = match data.split_once('/') {
        Some((d, o)) => (d, o),
        None => (data, ""),
    };
    let (exten, ctx) = match dest.split_once('@') {
        Some((e, c)) => (e, c),
        None => (dest, "default"),
    };
    (exten.to_string(), ctx.to_string(), opts.to_string())
}

/// `chan_local.so`: the `Local` technology.
pub struct ChanLocal;

impl Module for ChanLocal {
    fn info(&self) -> ModuleInfo {
        ModuleInfo::new(
            "chan_local.so",
            "Local Proxy Channel (Note: used internally by other modules)",
        )
    }
    fn load(&self, ctx: &ModuleContext) -> Result<(), ModuleError> {
        ctx.register_tech(Arc::new(LocalDriver));
        Ok(())
    }
}

struct LocalDriver;

impl Driver for LocalDriver {
    fn tech(&self) -> &'static str {
        "Local"
    }
    fn request(
        &self,
        pbx: &Arc<Pbx>,
        data: &str,
        requester: Option<&Channel>,
    ) -> Result<Outbound, RequestError> {
        request(pbx, data, requester)
    }
}

pub fn request(
    pbx: &Arc<Pbx>,
    data: &str,
    requester: Option<&Channel>,
) -> Result<Outbound, RequestError> {
    let (exten, context, _opts) = parse_dest(data);
    if exten.is_empty() {
        return Err(RequestError {
            cause: cause::CHANNEL_UNACCEPTABLE,
            msg: format!("Local channel destination '{data}' has no extension"),
        });
    }
    let seq = pbx.next_tech_seq("Local");
    let base = format!("Local/{exten}@{context}-{seq:08x}");
    let (mut one, mut two) = pair(
        pbx,
        "Local",
        (format!("{base};1"), format!("{base};2")),
        requester,
    );
    one.context = context.clone();
    one.exten = exten.clone();
    two.context = context;
    two.exten = exten;
    two.priority = 1;
    two.set_state(crate::pbx::ChanState::Ring);
    let call = Box::new(move || {
        tokio::spawn(exec::run_pbx(two));
    });
    Ok(Outbound { chan: one, call })
}

/// A back-to-back pair of channels of technology `tech` named `names` (`;1`, `;2`): the
/// first is the leg a requester holds, the second the far half (Local runs the dialplan on
/// it; `Agent/` hands it to the waiting agent). Answer and indications on the second reach
/// the first as events, a hangup on either hangs up the other, media is paced between them.
/// The requester's inherited variables, language, account code and caller ID travel.
pub fn pair(
    pbx: &Arc<Pbx>,
    tech: &'static str,
    names: (String, String),
    requester: Option<&Channel>,
) -> (Channel, Channel) {
    let (tx, rx) = mpsc::unbounded_channel();
    let one_tech = Arc::new(LocalOne {
        tech,
        two: std::sync::OnceLock::new(),
    });
    let mut one = Channel::new(pbx, names.0, one_tech.clone());
    let two_tech = Arc::new(LocalTwo {
        tech,
        one: one.shared.clone(),
        to_one: Mutex::new(Some(tx)),
    });
    let mut two = Channel::new(pbx, names.1, two_tech);
    let _ = one_tech.two.set(two.shared.clone());
    one.events = Some(rx);
    if let Some(req) = requester {
        let inherited = req.vars.inherited();
        for (k, v) in inherited.iter() {
            let name = crate::pbx::vars::Vars::display_name(k, v);
            two.vars.set(&name, v.value.clone());
            one.vars.set(&name, v.value.clone());
        }
        two.language.clone_from(&req.language);
        two.accountcode.clone_from(&req.accountcode);
        two.caller = req.caller.clone();
        // The redirection travels through the pair, as the caller ID does.
        two.redirecting.clone_from(&req.redirecting);
        one.redirecting.clone_from(&req.redirecting);
        one.language.clone_from(&req.language);
        one.accountcode.clone_from(&req.accountcode);
    }
    // Media: each half has its own queues; a pacer moves what one half sends into what the
    // other half reads, one frame per 20 ms, so writers keep real time with nobody reading.
    let one_media = MediaHandle::new(NativeFormat::Slin);
    let two_media = MediaHandle::new(NativeFormat::Slin);
    let _pacer = spawn_pacer(&one, &one_media, &two, &two_media);
    one.media = Some(one_media);
    two.media = Some(two_media);
    (one, two)
}

/// Moves one frame each way per tick of the shared [`MediaClock`]: from a half's `to_far`
/// into the other half's `from_far` (lossily; not into a closed queue).
struct Pacer {
    ways: [(Arc<FrameQueue>, Arc<FrameQueue>); 2],
}

impl Tick for Pacer {
    fn tick(&self) {
        for (out, inq) in &self.ways {
            if inq.is_closed() {
                continue;
            }
            if let Some(f) = out.try_pop() {
                inq.push_lossy(f);
            }
        }
    }
}

/// Pace the pair's media on the shared media clock (no timer of its own) until either half
/// hangs up; the task holds the pacer until then.
fn spawn_pacer(
    one: &Channel,
    one_media: &MediaHandle,
    two: &Channel,
    two_media: &MediaHandle,
) -> tokio::task::JoinHandle<()> {
    let (s1, s2) = (one.shared.clone(), two.shared.clone());
    let pacer = Arc::new(Pacer {
        ways: [
            (one_media.to_far.clone(), two_media.from_far.clone()),
            (two_media.to_far.clone(), one_media.from_far.clone()),
        ],
    });
    MediaClock::global(&tokio::runtime::Handle::current()).add(&pacer);
    tokio::spawn(async move {
        tokio::select! {
            _ = s1.hungup() => {}
            _ = s2.hungup() => {}
        }
        drop(pacer);
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pbx::channel::NullTech;
    use crate::pbx::media::{Frame, FRAME_TIME};
    use std::time::Duration;

    fn halves(pbx: &Arc<Pbx>) -> (Channel, Channel, tokio::task::JoinHandle<()>) {
        let mut one = Channel::new(pbx, "Local/x@t-1;1".into(), Arc::new(NullTech));
        let mut two = Channel::new(pbx, "Local/x@t-1;2".into(), Arc::new(NullTech));
        let (m1, m2) = (
            MediaHandle::new(NativeFormat::Slin),
            MediaHandle::new(NativeFormat::Slin),
        );
        let pacer = spawn_pacer(&one, &m1, &two, &m2);
        one.media = Some(m1);
        two.media = Some(m2);
        (one, two, pacer)
    }

    #[tokio::test]
    async fn halves_pass_audio_and_digits_both_ways_until_a_hangup() {
        let pbx = crate::modules::test_pbx();
        let (mut one, mut two, pacer) = halves(&pbx);
        one.write_frame(Frame::voice(vec![1; 160])).await.unwrap();
        one.write_frame(Frame::Dtmf('7', Duration::from_millis(100)))
            .await
            .unwrap();
        two.write_frame(Frame::voice(vec![2; 160])).await.unwrap();
        let get = |f: Result<Option<Frame>, crate::pbx::Hangup>| f.ok().flatten();
        assert_eq!(
            get(two.read_frame(None).await),
            Some(Frame::voice(vec![1; 160]))
        );
        assert_eq!(
            get(two.read_frame(None).await),
            Some(Frame::Dtmf('7', Duration::from_millis(100)))
        );
        assert_eq!(
            get(one.read_frame(None).await),
            Some(Frame::voice(vec![2; 160]))
        );
        two.shared.request_hangup(16);
        assert!(pacer.await.is_ok(), "the pacer ends with the call");
    }

    #[tokio::test(start_paused = true)]
    async fn writes_are_paced_with_nobody_reading() {
        let pbx = crate::modules::test_pbx();
        let (mut one, two, _pacer) = halves(&pbx);
        let start = tokio::time::Instant::now();
        for i in 0..50 {
            one.write_frame(Frame::voice(vec![i; 160])).await.unwrap();
        }
        // 50 frames take (virtually) about a second: the queue and the frame in hand absorb
        // a few, the rest go at 20 ms each.
        let took = start.elapsed();
        let absorbed = crate::pbx::media::TX_DEPTH as u32 + 2;
        assert!(took >= FRAME_TIME * (50 - absorbed), "{took:?}");
        assert!(took <= FRAME_TIME * 51, "{took:?}");
        drop(two);
    }
}
