//! Media building blocks (issue 4): the audio a call carries, not the signalling that sets it up.
//!
//! Media is what callers hear and say: G.711 µ-law/A-law samples ([`g711`]), the RTP packets that
//! carry them plus a small jitter buffer ([`rtp`]), which source a call's RTP is taken from
//! ([`strict`]), the RTCP reports about it ([`rtcp`]), RFC 4733 DTMF events ([`dtmf`]), the
//! RTP port range ([`ports`]), SRTP/SRTCP protection of the packets ([`srtp`]), the sound files prompts are played from and recordings
//! written to ([`wav`]), and the shared, cursor-played prompts ([`prompt`]). Internally audio is 8 kHz signed 16-bit linear PCM ("slin"); codecs
//! convert at the edges.
//!
//! Like the `sip` module, everything here is a pure, socket-free state machine: time is passed in
//! (`std::time::Instant` or sample counts), randomness (SSRC) is an argument, and there is no async
//! runtime; the thin edges that do touch sockets are [`session`] (an RTP session's tasks) and
//! [`ports`] (binding a port of the range). The media module never touches SIP or the dialplan: SDP negotiation decides which payload
//! types and addresses to use, and the PBX core decides what to play or record; this module only
//! moves and converts audio. Conference rooms, which run a mixing task on the runtime, belong
//! to the conference module (`apps/conference/rooms.rs`); the mixing itself, [`mixer`], is here.

pub mod dtmf;
pub mod frame;
pub mod g711;
pub mod mixer;
pub mod moh;
pub mod ports;
pub mod prompt;
pub mod rtcp;
pub mod rtp;
pub mod session;
pub mod silence;
pub mod sounds;
pub mod srtp;
pub mod strict;
pub mod tonedetect;
pub mod tones;
pub mod voicefx;
pub mod wav;
