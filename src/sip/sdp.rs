//! SDP (RFC 4566) parsing and rendering, and the RFC 3264 offer/answer model for ferrisk's audio
//! calls: G.711 µ-law (PCMU, static payload type 0), G.711 A-law (PCMA, 8) and RFC 4733
//! `telephone-event` DTMF (dynamic, usually 101). Other codecs are recognised by their `rtpmap`
//! name (or static payload type) so they can be refused by name.
//!
//! Pure and socket-free: [`Sdp::parse`] turns a SIP body into a typed [`Sdp`] (never panics; bad
//! input is a [`SdpError`] with the 1-based line number), [`Sdp::render`] produces the body text
//! with CRLF line endings, and three functions implement offer/answer:
//!
//! - [`offer`] builds our offer for an outgoing call (our codecs in preference order,
//!   telephone-event 101 `0-16`, ptime 20, sendrecv);
//! - [`answer`] answers a remote offer like chan_sip: the answer lists the offered codecs **in our
//!   preference order** (only the first with `preferred_codec_only`), keeps the offerer's
//!   telephone-event payload type, mirrors the direction (sendonly → recvonly; `c=0.0.0.0` legacy
//!   hold), keeps the m-line count and order and rejects every other stream with port 0;
//! - [`apply_answer`] reads the remote answer to one of our offers.
//!
//! Both [`answer`] and [`apply_answer`] return a [`Negotiated`] summary (codec and payload type,
//! DTMF payload type, remote RTP address, direction from our side, ptime) for the RTP layer.
//! A [`NegotiationError`] is the caller's cue to send `488 Not Acceptable Here`.
//!
//! The `o=` line carries a session id and version ([`SessionIds`]): as in chan_sip both start at
//! the same value and the version is bumped ([`SessionIds::bump`]) for every changed re-offer.
//!
//! SRTP keyed by SDES (RFC 4568, chan_sip `encryption=yes`): an `RTP/SAVP` stream carries
//! `a=crypto:<tag> <suite> inline:<base64 key||salt>[|lifetime]` lines ([`Crypto`]). With
//! [`MediaPrefs::encryption`] our offer is `RTP/SAVP` with one `AES_CM_128_HMAC_SHA1_80` line and
//! a fresh key, and a plain `RTP/AVP` offer is refused; an `RTP/SAVP` offer is answered (whatever
//! the setting, as chan_sip with res_srtp loaded) with the first of its crypto lines we can use,
//! its tag echoed and our own key, or refused when none is usable. The keys end up in
//! [`Negotiated::srtp`]; which key protects which direction is [`SrtpKeys`]'s business.

pub use crate::media::srtp::{MasterKey, SrtpKeys, Suite};
use base64::Engine as _;
use std::fmt::{self, Write as _};
use std::net::{IpAddr, SocketAddr};

/// Largest SDP body accepted by [`Sdp::parse`].
pub const MAX_SDP_LEN: usize = 64 * 1024;
/// Most lines accepted in one body.
const MAX_LINES: usize = 4096;
/// Most m-lines accepted in one body.
pub const MAX_MEDIA: usize = 64;
/// Default packetisation time (ms) when the offer has no `a=ptime`.
pub const DEFAULT_PTIME: u32 = 20;
/// Payload type ferrisk uses for telephone-event in its own offers.
pub const DEFAULT_DTMF_PT: u8 = 101;
/// The DTMF events ferrisk offers and accepts (digits, `*`, `#`, A-D, flash).
pub const DTMF_EVENTS: &str = "0-16";
/// The session name of every SDP ferrisk sends.
pub const SESSION_NAME: &str = "ferrisk";
/// The `o=` username of every SDP ferrisk sends.
pub const ORIGIN_USER: &str = "ferrisk";

/// Why an SDP body could not be parsed. `line` is 1-based.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    #[error("empty SDP body")]
    Empty,
    #[error("SDP body too large")]
    TooLarge,
    #[error("SDP body is not UTF-8")]
    NotUtf8,
    #[error("line {line}: not a `<type>=<value>` line")]
    BadLine { line: usize },
    #[error("SDP does not start with v=")]
    MissingVersion,
    #[error("unsupported SDP version {0:?}")]
    UnsupportedVersion(String),
    #[error("missing o= line")]
    MissingOrigin,
    #[error("line {line}: malformed o= line")]
    BadOrigin { line: usize },
    #[error("line {line}: malformed c= line")]
    BadConnection { line: usize },
    #[error("line {line}: malformed t= line")]
    BadTiming { line: usize },
    #[error("line {line}: malformed m= line")]
    BadMedia { line: usize },
    #[error("line {line}: malformed a={attr} attribute")]
    BadAttribute { line: usize, attr: &'static str },
    #[error("more than {MAX_MEDIA} media streams")]
    TooManyMedia,
    #[error("media stream {index} has no connection address (no c= line)")]
    MissingConnection { index: usize },
}

/// Why offer/answer failed; the caller answers an INVITE with 488 Not Acceptable Here.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NegotiationError {
    #[error("no common codec")]
    NoCommonCodec,
    #[error("no usable audio stream")]
    NoAudioStream,
    #[error("answer has {answer} media streams, offer had {offer}")]
    MediaCountMismatch { offer: usize, answer: usize },
    /// `encryption=yes` and the offer (or answer) is plain `RTP/AVP`.
    #[error("SRTP required but the stream is plain RTP")]
    SrtpRequired,
    /// An `RTP/SAVP` offer or answer without a crypto line we can use.
    #[error("no usable a=crypto line")]
    NoUsableCrypto,
}

/// A codec, as named by `rtpmap` (or a static payload type) and by sip.conf `allow=`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Codec {
    /// G.711 µ-law, `PCMU/8000`, static payload type 0 (`ulaw`).
    Pcmu,
    /// G.711 A-law, `PCMA/8000`, static payload type 8 (`alaw`).
    Pcma,
    /// GSM 06.10, `GSM/8000`, static 3.
    Gsm,
    /// G.722, `G722/8000` (the RTP clock rate is famously 8000), static 9.
    G722,
    /// G.729, `G729/8000`, static 18.
    G729,
    /// Opus, `opus/48000/2`, dynamic.
    Opus,
    /// RFC 4733 DTMF, `telephone-event/8000`, dynamic.
    TelephoneEvent,
    /// Anything else: upper-cased encoding name, with `/<clock>` when the clock rate is not the
    /// one the name implies, or not 8000 for unknown names (`TELEPHONE-EVENT/48000`,
    /// `SPEEX/16000`).
    Other(String),
}

impl Codec {
    /// The codec a static payload type (RFC 3551) stands for when there is no `rtpmap`.
    pub fn from_static_pt(pt: u8) -> Option<Codec> {
        Some(match pt {
            0 => Codec::Pcmu,
            3 => Codec::Gsm,
            4 => Codec::Other("G723".into()),
            8 => Codec::Pcma,
            9 => Codec::G722,
            18 => Codec::G729,
            _ => return None,
        })
    }

    /// The codec an `rtpmap` encoding name and clock rate stand for.
    pub fn from_rtpmap(name: &str, clock_rate: u32) -> Codec {
        let upper = name.to_ascii_uppercase();
        let known = match upper.as_str() {
            "PCMU" => Some(Codec::Pcmu),
            "PCMA" => Some(Codec::Pcma),
            "GSM" => Some(Codec::Gsm),
            "G722" => Some(Codec::G722),
            "G729" => Some(Codec::G729),
            "OPUS" => Some(Codec::Opus),
            "TELEPHONE-EVENT" => Some(Codec::TelephoneEvent),
            _ => None,
        };
        match known {
            Some(c) if c.clock_rate() == clock_rate => c,
            Some(_) => Codec::Other(format!("{upper}/{clock_rate}")),
            None if clock_rate == 8000 => Codec::Other(upper),
            None => Codec::Other(format!("{upper}/{clock_rate}")),
        }
    }

    /// The codec a sip.conf `allow=` name stands for (`ulaw`, `alaw`, …); `None` for names that
    /// are not audio codecs ferrisk can name in SDP (video, text, unknown).
    pub fn from_config_name(name: &str) -> Option<Codec> {
        let n = name.trim().to_ascii_lowercase();
        // `allow=ulaw:20` carries a framing; the name is before the colon.
        let n = n.split(':').next().unwrap_or("");
        Some(match n {
            "ulaw" => Codec::Pcmu,
            "alaw" => Codec::Pcma,
            "gsm" => Codec::Gsm,
            "g722" => Codec::G722,
            "g729" => Codec::G729,
            "opus" => Codec::Opus,
            "g723" => Codec::Other("G723".into()),
            "ilbc" => Codec::Other("ILBC".into()),
            "speex" => Codec::Other("SPEEX".into()),
            "g726" => Codec::Other("G726-32".into()),
            "g726aal2" => Codec::Other("AAL2-G726-32".into()),
            _ => return None,
        })
    }

    /// The static payload type of this codec, if it has one.
    pub fn static_pt(&self) -> Option<u8> {
        match self {
            Codec::Pcmu => Some(0),
            Codec::Gsm => Some(3),
            Codec::Pcma => Some(8),
            Codec::G722 => Some(9),
            Codec::G729 => Some(18),
            _ => None,
        }
    }

    /// The `rtpmap` encoding name.
    pub fn encoding_name(&self) -> &str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
            Codec::Gsm => "GSM",
            Codec::G722 => "G722",
            Codec::G729 => "G729",
            Codec::Opus => "opus",
            Codec::TelephoneEvent => "telephone-event",
            Codec::Other(n) => n.split('/').next().unwrap_or(n),
        }
    }

    /// The RTP clock rate.
    pub fn clock_rate(&self) -> u32 {
        match self {
            Codec::Opus => 48_000,
            Codec::Other(n) => n
                .split_once('/')
                .and_then(|(_, r)| r.parse().ok())
                .unwrap_or(8000),
            _ => 8000,
        }
    }

    /// Whether ferrisk's media path can carry this codec (G.711 only for now).
    pub fn is_supported(&self) -> bool {
        matches!(self, Codec::Pcmu | Codec::Pcma)
    }

    fn rtpmap_value(&self) -> String {
        match self {
            Codec::Opus => "opus/48000/2".to_string(),
            _ => format!("{}/{}", self.encoding_name(), self.clock_rate()),
        }
    }
}

/// What we offer and accept: the codec preference list (from sip.conf allow/disallow) and options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaPrefs {
    /// Codecs in preference order; unsupported ones are never negotiated.
    pub codecs: Vec<Codec>,
    /// Offer/accept RFC 4733 telephone-event (dtmfmode=rfc2833/auto).
    pub telephone_event: bool,
    /// chan_sip `preferred_codec_only`: answer with only the single best joint codec.
    pub preferred_codec_only: bool,
    /// chan_sip `encryption=yes`: offer `RTP/SAVP` with SDES keys, refuse plain `RTP/AVP`.
    pub encryption: bool,
}

impl MediaPrefs {
    /// Preferences from sip.conf codec names in order (`["ulaw", "alaw"]`); names that are not
    /// audio codecs (h263, unknown) are skipped, duplicates keep their first place.
    /// telephone-event on, `preferred_codec_only` off.
    pub fn from_names<S: AsRef<str>>(names: &[S]) -> MediaPrefs {
        let mut codecs: Vec<Codec> = Vec::new();
        for n in names {
            if let Some(c) = Codec::from_config_name(n.as_ref()) {
                if !codecs.contains(&c) {
                    codecs.push(c);
                }
            }
        }
        MediaPrefs {
            codecs,
            telephone_event: true,
            preferred_codec_only: false,
            encryption: false,
        }
    }

    fn supported(&self) -> impl Iterator<Item = &Codec> {
        self.codecs.iter().filter(|c| c.is_supported())
    }
}

/// Media direction attribute (RFC 3264 §5.1, §6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Direction {
    fn from_attr(name: &str) -> Option<Direction> {
        match name {
            "sendrecv" => Some(Direction::SendRecv),
            "sendonly" => Some(Direction::SendOnly),
            "recvonly" => Some(Direction::RecvOnly),
            "inactive" => Some(Direction::Inactive),
            _ => None,
        }
    }

    /// The attribute name.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// Whether this side sends media.
    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    /// Whether this side receives media.
    pub fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }

    fn from_flags(send: bool, recv: bool) -> Direction {
        match (send, recv) {
            (true, true) => Direction::SendRecv,
            (true, false) => Direction::SendOnly,
            (false, true) => Direction::RecvOnly,
            (false, false) => Direction::Inactive,
        }
    }

    /// The same stream seen from the other side (sendonly ↔ recvonly).
    pub fn reverse(self) -> Direction {
        Direction::from_flags(self.receives(), self.sends())
    }

    fn intersect(self, other: Direction) -> Direction {
        Direction::from_flags(
            self.sends() && other.sends(),
            self.receives() && other.receives(),
        )
    }
}

/// Address type of an `o=`/`c=` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddrType {
    Ip4,
    Ip6,
}

impl AddrType {
    fn parse(s: &str) -> Option<AddrType> {
        match s {
            "IP4" => Some(AddrType::Ip4),
            "IP6" => Some(AddrType::Ip6),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            AddrType::Ip4 => "IP4",
            AddrType::Ip6 => "IP6",
        }
    }

    fn of(ip: IpAddr) -> AddrType {
        match ip {
            IpAddr::V4(_) => AddrType::Ip4,
            IpAddr::V6(_) => AddrType::Ip6,
        }
    }
}

/// A `c=IN <type> <address>` line; `address` is kept as sent (minus any `/ttl` suffix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub addr_type: AddrType,
    pub address: String,
}

impl Connection {
    /// A connection line for an IP address.
    pub fn from_ip(ip: IpAddr) -> Connection {
        Connection {
            addr_type: AddrType::of(ip),
            address: ip.to_string(),
        }
    }

    /// The address as an IP, if it is a literal (FQDNs are allowed by RFC 4566).
    pub fn ip(&self) -> Option<IpAddr> {
        self.address.parse().ok()
    }

    /// `c=IN IP4 0.0.0.0` (or `::`): RFC 2543 style hold.
    pub fn is_hold(&self) -> bool {
        self.ip().is_some_and(|ip| ip.is_unspecified())
    }

    fn parse(value: &str, line: usize) -> Result<Connection, SdpError> {
        let mut it = value.split_whitespace();
        let (Some(net), Some(ty), Some(addr), None) = (it.next(), it.next(), it.next(), it.next())
        else {
            return Err(SdpError::BadConnection { line });
        };
        let addr_type = AddrType::parse(ty).ok_or(SdpError::BadConnection { line })?;
        let address = addr.split('/').next().unwrap_or("");
        if net != "IN" || address.is_empty() {
            return Err(SdpError::BadConnection { line });
        }
        Ok(Connection {
            addr_type,
            address: address.to_string(),
        })
    }
}

/// The `o=` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub username: String,
    /// Kept as text: some stacks send ids wider than 64 bits.
    pub session_id: String,
    pub session_version: u64,
    pub addr_type: AddrType,
    pub address: String,
}

/// Session id and version for our `o=` line. Both start at the same value (as chan_sip does);
/// [`SessionIds::bump`] before each changed re-offer or re-answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionIds {
    pub id: u64,
    pub version: u64,
}

impl SessionIds {
    /// Ids for a new dialog from a (random) seed.
    pub fn new(seed: u64) -> SessionIds {
        SessionIds {
            id: seed,
            version: seed,
        }
    }

    /// Next version, for a new re-offer.
    pub fn bump(&mut self) {
        self.version = self.version.wrapping_add(1);
    }
}

/// `a=rtpmap:<pt> <name>/<clock>[/<channels>]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpMap {
    pub pt: u8,
    pub encoding: String,
    pub clock_rate: u32,
    pub channels: Option<u8>,
}

impl RtpMap {
    fn parse(value: &str) -> Option<RtpMap> {
        let (pt, rest) = value.trim().split_once(char::is_whitespace)?;
        let pt = parse_pt(pt)?;
        let mut parts = rest.trim().split('/');
        let encoding = parts.next()?.trim();
        let clock_rate = parts.next()?.trim().parse().ok()?;
        let channels = match parts.next() {
            Some(c) => Some(c.trim().parse().ok()?),
            None => None,
        };
        if encoding.is_empty() || parts.next().is_some() {
            return None;
        }
        Some(RtpMap {
            pt,
            encoding: encoding.to_string(),
            clock_rate,
            channels,
        })
    }

    /// The codec this mapping names.
    pub fn codec(&self) -> Codec {
        Codec::from_rtpmap(&self.encoding, self.clock_rate)
    }
}

/// `a=rtcp:<port> [IN <type> <address>]` (RFC 3605).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rtcp {
    pub port: u16,
    pub connection: Option<Connection>,
}

/// One `m=` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media {
    /// `audio`, `video`, `application`, …
    pub kind: String,
    /// 0 means the stream is rejected / disabled.
    pub port: u16,
    pub num_ports: Option<u16>,
    /// `RTP/AVP`, `RTP/SAVP`, `UDP/TLS/RTP/SAVPF`, …
    pub proto: String,
    /// Format list as sent (payload type numbers for RTP profiles).
    pub formats: Vec<String>,
    pub connection: Option<Connection>,
    pub rtpmaps: Vec<RtpMap>,
    /// `a=fmtp:<format> <params>` as (format, params).
    pub fmtps: Vec<(String, String)>,
    pub direction: Option<Direction>,
    pub ptime: Option<u32>,
    pub rtcp: Option<Rtcp>,
    pub rtcp_mux: bool,
    /// Other attributes, in order: (name, value).
    pub attributes: Vec<(String, Option<String>)>,
}

impl Media {
    fn new(kind: &str, port: u16, proto: &str, formats: Vec<String>) -> Media {
        Media {
            kind: kind.to_string(),
            port,
            num_ports: None,
            proto: proto.to_string(),
            formats,
            connection: None,
            rtpmaps: Vec::new(),
            fmtps: Vec::new(),
            direction: None,
            ptime: None,
            rtcp: None,
            rtcp_mux: false,
            attributes: Vec::new(),
        }
    }

    /// Whether this is an audio stream over plain RTP/AVP.
    pub fn is_rtp_avp_audio(&self) -> bool {
        self.kind.eq_ignore_ascii_case("audio") && self.proto.eq_ignore_ascii_case("RTP/AVP")
    }

    /// Whether this is an audio stream over SRTP keyed by SDES (`RTP/SAVP`).
    pub fn is_rtp_savp_audio(&self) -> bool {
        self.kind.eq_ignore_ascii_case("audio") && self.proto.eq_ignore_ascii_case("RTP/SAVP")
    }

    /// The stream's `a=crypto:` lines that parse, in order.
    pub fn crypto(&self) -> impl Iterator<Item = Crypto> + '_ {
        self.attributes
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("crypto"))
            .filter_map(|(_, v)| Crypto::parse(v.as_deref()?))
    }

    /// The numeric payload types of the format list, in order (non-numbers skipped).
    pub fn payload_types(&self) -> impl Iterator<Item = u8> + '_ {
        self.formats.iter().filter_map(|f| parse_pt(f))
    }

    /// The codec a payload type of this stream stands for: its `rtpmap`, else the static table.
    pub fn codec_of(&self, pt: u8) -> Option<Codec> {
        match self.rtpmaps.iter().find(|r| r.pt == pt) {
            Some(r) => Some(r.codec()),
            None => Codec::from_static_pt(pt),
        }
    }

    /// The `a=fmtp` parameters of a format.
    pub fn fmtp(&self, format: &str) -> Option<&str> {
        self.fmtps
            .iter()
            .find(|(f, _)| f == format)
            .map(|(_, p)| p.as_str())
    }

    /// Effective direction: this stream's attribute, else the session's, else sendrecv.
    pub fn direction_in(&self, sdp: &Sdp) -> Direction {
        self.direction
            .or(sdp.direction)
            .unwrap_or(Direction::SendRecv)
    }

    /// Effective connection: this stream's `c=`, else the session's.
    pub fn connection_in<'a>(&'a self, sdp: &'a Sdp) -> Option<&'a Connection> {
        self.connection.as_ref().or(sdp.connection.as_ref())
    }

    /// The payload type of `telephone-event/8000`, if offered.
    pub fn telephone_event_pt(&self) -> Option<u8> {
        self.payload_types()
            .find(|&pt| self.codec_of(pt) == Some(Codec::TelephoneEvent))
    }

    fn rejected_copy(&self) -> Media {
        let mut formats = self.formats.clone();
        if formats.is_empty() {
            formats.push("0".to_string());
        }
        Media::new(&self.kind, 0, &self.proto, formats)
    }
}

/// One SDES `a=crypto:` attribute (RFC 4568 §9.1):
/// `<tag> <crypto-suite> <key-params> [<session-params>]`, kept as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crypto {
    /// 1 to 999999999; the answer echoes the tag of the line it accepts.
    pub tag: u32,
    pub suite: String,
    /// `inline:<key||salt>[|lifetime][|MKI:length]`, `;`-separated when there are several.
    pub key_params: String,
    /// `UNENCRYPTED_SRTP`, `KDR=…`, …
    pub session_params: Vec<String>,
}

impl Crypto {
    /// The value of an `a=crypto:` attribute; `None` when it is not one.
    pub fn parse(value: &str) -> Option<Crypto> {
        let mut it = value.split_whitespace();
        let tag = it.next()?;
        if tag.is_empty() || tag.len() > 9 || !tag.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let suite = it.next()?.to_string();
        let key_params = it.next()?.to_string();
        Some(Crypto {
            tag: tag.parse().ok()?,
            suite,
            key_params,
            session_params: it.map(str::to_string).collect(),
        })
    }

    /// The line for our own `suite` and `key` under `tag`.
    pub fn ours(tag: u32, suite: Suite, key: &MasterKey) -> Crypto {
        Crypto {
            tag,
            suite: suite.name().to_string(),
            key_params: format!(
                "inline:{}",
                base64::engine::general_purpose::STANDARD.encode(key.as_bytes())
            ),
            session_params: Vec::new(),
        }
    }

    /// The suite and master key, when ferrisk can use this line: a suite it supports, exactly
    /// one `inline:` key of the right length, a lifetime (ignored, as we never send that many
    /// packets) but no MKI, and no session parameters (`UNENCRYPTED_SRTP`, `KDR=`, … are
    /// refused rather than half-honoured).
    pub fn usable(&self) -> Option<(Suite, MasterKey)> {
        let suite = Suite::from_name(&self.suite)?;
        if !self.session_params.is_empty() || self.key_params.contains(';') {
            return None;
        }
        let inline = self.key_params.strip_prefix("inline:")?;
        let mut parts = inline.split('|');
        let key = parts.next()?;
        let key = base64::engine::general_purpose::STANDARD
            .decode(key)
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(key))
            .ok()?;
        let key = MasterKey::from_bytes(&key)?;
        match (parts.next(), parts.next()) {
            (None, None) => {}
            // A lifetime (`2^31` or a number) and nothing else.
            (Some(l), None) if !l.contains(':') && !l.is_empty() => {}
            _ => return None,
        }
        Some((suite, key))
    }

    /// The attribute value, as rendered after `a=crypto:`.
    pub fn value(&self) -> String {
        let mut v = format!("{} {} {}", self.tag, self.suite, self.key_params);
        for p in &self.session_params {
            v.push(' ');
            v.push_str(p);
        }
        v
    }
}

/// A parsed SDP session description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sdp {
    pub origin: Origin,
    pub session_name: String,
    pub connection: Option<Connection>,
    /// `t=<start> <stop>`; `(0, 0)` when absent.
    pub timing: (u64, u64),
    /// Session-level direction attribute.
    pub direction: Option<Direction>,
    /// Other session-level attributes, in order: (name, value).
    pub attributes: Vec<(String, Option<String>)>,
    pub media: Vec<Media>,
}

fn parse_pt(s: &str) -> Option<u8> {
    let s = s.trim();
    if s.is_empty() || s.len() > 3 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<u8>().ok().filter(|&pt| pt <= 127)
}

fn parse_ptime(s: &str) -> Option<u32> {
    let s = s.trim();
    if let Ok(v) = s.parse::<u32>() {
        return Some(v);
    }
    // Some stacks send `20.0`.
    let (int, frac) = s.split_once('.')?;
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    int.parse().ok()
}

impl Sdp {
    /// Parses an SDP body given as bytes (a SIP message body).
    pub fn parse_bytes(body: &[u8]) -> Result<Sdp, SdpError> {
        if body.len() > MAX_SDP_LEN {
            return Err(SdpError::TooLarge);
        }
        let text = std::str::from_utf8(body).map_err(|_| SdpError::NotUtf8)?;
        Sdp::parse(text)
    }

    /// Parses an SDP body (CRLF or LF line endings). Unknown line types (`i=`, `b=`, `z=`, …) are
    /// skipped, unknown attributes kept in order.
    pub fn parse(body: &str) -> Result<Sdp, SdpError> {
        if body.len() > MAX_SDP_LEN {
            return Err(SdpError::TooLarge);
        }
        if body.trim().is_empty() {
            return Err(SdpError::Empty);
        }
        let mut origin = None;
        let mut session_name = String::new();
        let mut connection = None;
        let mut timing = (0, 0);
        let mut direction = None;
        let mut attributes = Vec::new();
        let mut media: Vec<Media> = Vec::new();
        let mut seen_version = false;

        for (idx, raw) in body.split('\n').enumerate() {
            let line = idx + 1;
            if line > MAX_LINES {
                return Err(SdpError::TooLarge);
            }
            let text = raw.strip_suffix('\r').unwrap_or(raw);
            if text.trim().is_empty() {
                continue;
            }
            let bytes = text.as_bytes();
            if bytes.len() < 2 || bytes[1] != b'=' || !bytes[0].is_ascii_alphabetic() {
                return Err(SdpError::BadLine { line });
            }
            let kind = bytes[0];
            let value = &text[2..];
            if !seen_version {
                if kind != b'v' {
                    return Err(SdpError::MissingVersion);
                }
                if value.trim() != "0" {
                    return Err(SdpError::UnsupportedVersion(value.trim().to_string()));
                }
                seen_version = true;
                continue;
            }
            match kind {
                b'v' => return Err(SdpError::BadLine { line }),
                b'o' => {
                    let mut it = value.split_whitespace();
                    let (Some(user), Some(id), Some(ver), Some(net), Some(ty), Some(addr), None) = (
                        it.next(),
                        it.next(),
                        it.next(),
                        it.next(),
                        it.next(),
                        it.next(),
                        it.next(),
                    ) else {
                        return Err(SdpError::BadOrigin { line });
                    };
                    let session_version = ver.parse().map_err(|_| SdpError::BadOrigin { line })?;
                    let addr_type = AddrType::parse(ty).ok_or(SdpError::BadOrigin { line })?;
                    if net != "IN" {
                        return Err(SdpError::BadOrigin { line });
                    }
                    origin = Some(Origin {
                        username: user.to_string(),
                        session_id: id.to_string(),
                        session_version,
                        addr_type,
                        address: addr.to_string(),
                    });
                }
                b's' => session_name = value.to_string(),
                b'c' => {
                    let c = Connection::parse(value, line)?;
                    match media.last_mut() {
                        Some(m) => m.connection = Some(c),
                        None => connection = Some(c),
                    }
                }
                b't' => {
                    let mut it = value.split_whitespace();
                    let (Some(a), Some(b), None) = (it.next(), it.next(), it.next()) else {
                        return Err(SdpError::BadTiming { line });
                    };
                    let (Ok(a), Ok(b)) = (a.parse(), b.parse()) else {
                        return Err(SdpError::BadTiming { line });
                    };
                    timing = (a, b);
                }
                b'm' => {
                    if media.len() >= MAX_MEDIA {
                        return Err(SdpError::TooManyMedia);
                    }
                    media.push(parse_media_line(value, line)?);
                }
                b'a' => {
                    let (name, val) = match value.split_once(':') {
                        Some((n, v)) => (n.trim(), Some(v)),
                        None => (value.trim(), None),
                    };
                    if name.is_empty() {
                        return Err(SdpError::BadLine { line });
                    }
                    match media.last_mut() {
                        Some(m) => parse_media_attr(m, name, val, line)?,
                        None => match Direction::from_attr(name) {
                            Some(d) if val.is_none() => direction = Some(d),
                            _ => attributes.push((name.to_string(), val.map(str::to_string))),
                        },
                    }
                }
                _ => {} // i, u, e, p, b, z, k, r: not needed for offer/answer
            }
        }
        if !seen_version {
            return Err(SdpError::MissingVersion);
        }
        let origin = origin.ok_or(SdpError::MissingOrigin)?;
        let sdp = Sdp {
            origin,
            session_name,
            connection,
            timing,
            direction,
            attributes,
            media,
        };
        for (index, m) in sdp.media.iter().enumerate() {
            if m.port != 0 && m.connection_in(&sdp).is_none() {
                return Err(SdpError::MissingConnection { index });
            }
        }
        Ok(sdp)
    }

    /// Renders the body as sent in SIP: every line ends in CRLF.
    pub fn render(&self) -> String {
        let mut s = String::with_capacity(512);
        let o = &self.origin;
        // Writing to a String cannot fail.
        let _ = write!(
            s,
            "v=0\r\no={} {} {} IN {} {}\r\ns={}\r\n",
            o.username,
            o.session_id,
            o.session_version,
            o.addr_type.as_str(),
            o.address,
            if self.session_name.is_empty() {
                "-"
            } else {
                &self.session_name
            }
        );
        if let Some(c) = &self.connection {
            render_connection(&mut s, c);
        }
        let _ = write!(s, "t={} {}\r\n", self.timing.0, self.timing.1);
        render_attrs(&mut s, &self.attributes);
        if let Some(d) = self.direction {
            let _ = write!(s, "a={}\r\n", d.as_str());
        }
        for m in &self.media {
            let _ = write!(s, "m={} {}", m.kind, m.port);
            if let Some(n) = m.num_ports {
                let _ = write!(s, "/{n}");
            }
            let _ = write!(s, " {}", m.proto);
            for f in &m.formats {
                let _ = write!(s, " {f}");
            }
            s.push_str("\r\n");
            if let Some(c) = &m.connection {
                render_connection(&mut s, c);
            }
            for f in &m.formats {
                if let Some(pt) = parse_pt(f) {
                    for r in m.rtpmaps.iter().filter(|r| r.pt == pt) {
                        let _ = write!(s, "a=rtpmap:{} {}/{}", r.pt, r.encoding, r.clock_rate);
                        if let Some(ch) = r.channels {
                            let _ = write!(s, "/{ch}");
                        }
                        s.push_str("\r\n");
                    }
                }
                for (_, p) in m.fmtps.iter().filter(|(ff, _)| ff == f) {
                    let _ = write!(s, "a=fmtp:{f} {p}\r\n");
                }
            }
            if let Some(p) = m.ptime {
                let _ = write!(s, "a=ptime:{p}\r\n");
            }
            if let Some(r) = &m.rtcp {
                let _ = write!(s, "a=rtcp:{}", r.port);
                if let Some(c) = &r.connection {
                    let _ = write!(s, " IN {} {}", c.addr_type.as_str(), c.address);
                }
                s.push_str("\r\n");
            }
            if m.rtcp_mux {
                s.push_str("a=rtcp-mux\r\n");
            }
            render_attrs(&mut s, &m.attributes);
            if let Some(d) = m.direction {
                let _ = write!(s, "a={}\r\n", d.as_str());
            }
        }
        s
    }
}

impl fmt::Display for Sdp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render())
    }
}

fn render_connection(s: &mut String, c: &Connection) {
    let _ = write!(s, "c=IN {} {}\r\n", c.addr_type.as_str(), c.address);
}

fn render_attrs(s: &mut String, attrs: &[(String, Option<String>)]) {
    for (n, v) in attrs {
        match v {
            Some(v) => {
                let _ = write!(s, "a={n}:{v}\r\n");
            }
            None => {
                let _ = write!(s, "a={n}\r\n");
            }
        }
    }
}

fn parse_media_line(value: &str, line: usize) -> Result<Media, SdpError> {
    let bad = SdpError::BadMedia { line };
    let mut it = value.split_whitespace();
    let (Some(kind), Some(port), Some(proto)) = (it.next(), it.next(), it.next()) else {
        return Err(bad);
    };
    let (port, num_ports) = match port.split_once('/') {
        Some((p, n)) => (p, Some(n.parse::<u16>().map_err(|_| bad.clone())?)),
        None => (port, None),
    };
    let port = port.parse::<u16>().map_err(|_| bad.clone())?;
    let formats: Vec<String> = it.map(str::to_string).collect();
    if proto.to_ascii_uppercase().contains("RTP/") && formats.iter().any(|f| parse_pt(f).is_none())
    {
        return Err(bad);
    }
    let mut m = Media::new(kind, port, proto, formats);
    m.num_ports = num_ports;
    Ok(m)
}

fn parse_media_attr(
    m: &mut Media,
    name: &str,
    val: Option<&str>,
    line: usize,
) -> Result<(), SdpError> {
    match (name, val) {
        ("rtpmap", Some(v)) => {
            let r = RtpMap::parse(v).ok_or(SdpError::BadAttribute {
                line,
                attr: "rtpmap",
            })?;
            m.rtpmaps.push(r);
        }
        ("fmtp", Some(v)) => {
            let v = v.trim_start();
            let (f, p) = v.split_once(char::is_whitespace).unwrap_or((v, ""));
            if f.is_empty() {
                return Err(SdpError::BadAttribute { line, attr: "fmtp" });
            }
            m.fmtps.push((f.to_string(), p.trim().to_string()));
        }
        ("ptime", Some(v)) => {
            m.ptime = Some(parse_ptime(v).ok_or(SdpError::BadAttribute {
                line,
                attr: "ptime",
            })?);
        }
        ("rtcp", Some(v)) => {
            let bad = SdpError::BadAttribute { line, attr: "rtcp" };
            let v = v.trim();
            let (port, rest) = v.split_once(char::is_whitespace).unwrap_or((v, ""));
            let port = port.parse().map_err(|_| bad.clone())?;
            let connection = if rest.trim().is_empty() {
                None
            } else {
                Some(Connection::parse(rest, line).map_err(|_| bad)?)
            };
            m.rtcp = Some(Rtcp { port, connection });
        }
        ("rtcp-mux", None) => m.rtcp_mux = true,
        (n, None) if Direction::from_attr(n).is_some() => m.direction = Direction::from_attr(n),
        _ => m
            .attributes
            .push((name.to_string(), val.map(str::to_string))),
    }
    Ok(())
}

/// The outcome of offer/answer for the (first accepted) audio stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// Index of the audio m-line in the SDP.
    pub media_index: usize,
    /// The codec to send (the first joint one).
    pub codec: Codec,
    /// Its payload type.
    pub pt: u8,
    /// telephone-event payload type, if both sides do RFC 4733.
    pub dtmf_pt: Option<u8>,
    /// Where to send RTP; `None` when the peer put us on hold with `c=0.0.0.0` (or gave a name).
    pub remote: Option<SocketAddr>,
    /// Direction from our side (sendonly: we send, do not expect media).
    pub direction: Direction,
    /// The peer holds the call (sendonly/inactive offer or `c=0.0.0.0`).
    pub remote_hold: bool,
    /// Packetisation time in ms.
    pub ptime: u32,
    /// SRTP keys (suite, ours, theirs) when the stream is `RTP/SAVP`.
    pub srtp: Option<SrtpKeys>,
}

fn session_skeleton(ip: IpAddr, session: SessionIds) -> Sdp {
    Sdp {
        origin: Origin {
            username: ORIGIN_USER.to_string(),
            session_id: session.id.to_string(),
            session_version: session.version,
            addr_type: AddrType::of(ip),
            address: ip.to_string(),
        },
        session_name: SESSION_NAME.to_string(),
        connection: Some(Connection::from_ip(ip)),
        timing: (0, 0),
        direction: None,
        attributes: Vec::new(),
        media: Vec::new(),
    }
}

fn add_codec(m: &mut Media, codec: &Codec, pt: u8) {
    m.formats.push(pt.to_string());
    let name = codec.rtpmap_value();
    let mut parts = name.split('/');
    let encoding = parts.next().unwrap_or("").to_string();
    let clock_rate = parts.next().and_then(|r| r.parse().ok()).unwrap_or(8000);
    let channels = parts.next().and_then(|c| c.parse().ok());
    m.rtpmaps.push(RtpMap {
        pt,
        encoding,
        clock_rate,
        channels,
    });
}

fn add_telephone_event(m: &mut Media, pt: u8) {
    add_codec(m, &Codec::TelephoneEvent, pt);
    m.fmtps.push((pt.to_string(), DTMF_EVENTS.to_string()));
}

/// Our offer for an outgoing call: the supported codecs of `prefs` in order (static payload
/// types), telephone-event 101 `0-16`, ptime 20, sendrecv, `c=` at session level.
///
/// With `prefs.encryption` the stream is `RTP/SAVP` with `a=crypto:1 AES_CM_128_HMAC_SHA1_80`
/// and a fresh key (as chan_sip offers); [`apply_answer`] reads the key back from the offer.
pub fn offer(prefs: &MediaPrefs, local_ip: IpAddr, local_port: u16, session: SessionIds) -> Sdp {
    let mut sdp = session_skeleton(local_ip, session);
    let proto = if prefs.encryption {
        "RTP/SAVP"
    } else {
        "RTP/AVP"
    };
    let mut m = Media::new("audio", local_port, proto, Vec::new());
    if prefs.encryption {
        let line = Crypto::ours(1, Suite::AesCm128HmacSha1_80, &MasterKey::random());
        m.attributes.push(("crypto".into(), Some(line.value())));
    }
    for c in prefs.supported() {
        // Every supported codec (G.711) has a static payload type; dynamic ones come with Opus.
        if let Some(pt) = c.static_pt() {
            add_codec(&mut m, c, pt);
        }
    }
    if prefs.telephone_event {
        add_telephone_event(&mut m, DEFAULT_DTMF_PT);
    }
    m.ptime = Some(DEFAULT_PTIME);
    m.direction = Some(Direction::SendRecv);
    sdp.media.push(m);
    sdp
}

/// The effective direction of an offered/answered stream, with `c=0.0.0.0` meaning the sender
/// does not want to receive (RFC 2543 hold). Returns (direction, remote address, hold flag).
fn remote_view(sdp: &Sdp, m: &Media) -> (Direction, Option<SocketAddr>, bool) {
    let mut dir = m.direction_in(sdp);
    let conn = m.connection_in(sdp);
    let zero = conn.is_some_and(Connection::is_hold);
    if zero {
        dir = dir.intersect(Direction::SendOnly);
    }
    let remote = match conn.and_then(Connection::ip) {
        Some(ip) if !ip.is_unspecified() && m.port != 0 => Some(SocketAddr::new(ip, m.port)),
        _ => None,
    };
    let hold = zero || !dir.receives();
    (dir, remote, hold)
}

/// Answers a remote offer (RFC 3264 §6) like chan_sip: the first acceptable `RTP/AVP` audio
/// stream is answered with the offered codecs in **our** preference order (only the best with
/// `preferred_codec_only`) plus telephone-event under the offerer's payload type; the direction is
/// mirrored; every other stream is rejected with port 0, keeping the m-line count and order.
///
/// An `RTP/SAVP` stream is acceptable with a usable crypto line (the first, in the offer's
/// order): the answer echoes its tag and suite with a fresh key of ours. With
/// `prefs.encryption` a plain `RTP/AVP` stream is not acceptable.
pub fn answer(
    offer: &Sdp,
    prefs: &MediaPrefs,
    local_ip: IpAddr,
    local_port: u16,
    session: SessionIds,
) -> Result<(Sdp, Negotiated), NegotiationError> {
    answer_keeping(offer, prefs, local_ip, local_port, session, None)
}

/// [`answer`] of a re-offer in a dialog whose SRTP key of ours is `our_key`: the answer keeps
/// that key (as chan_sip keeps its key for the dialog), so our SRTP stream goes on without a
/// gap while the far end reads the answer; `None` means a fresh key.
pub fn answer_keeping(
    offer: &Sdp,
    prefs: &MediaPrefs,
    local_ip: IpAddr,
    local_port: u16,
    session: SessionIds,
    our_key: Option<MasterKey>,
) -> Result<(Sdp, Negotiated), NegotiationError> {
    let mut sdp = session_skeleton(local_ip, session);
    let mut negotiated: Option<Negotiated> = None;
    let mut saw_audio = false;
    let mut refused: Option<NegotiationError> = None;
    for (index, m) in offer.media.iter().enumerate() {
        if negotiated.is_some() || !(m.is_rtp_avp_audio() || m.is_rtp_savp_audio()) || m.port == 0 {
            sdp.media.push(m.rejected_copy());
            continue;
        }
        let crypto = if m.is_rtp_savp_audio() {
            let Some((line, suite, theirs)) =
                m.crypto().find_map(|c| c.usable().map(|(s, k)| (c, s, k)))
            else {
                refused.get_or_insert(NegotiationError::NoUsableCrypto);
                sdp.media.push(m.rejected_copy());
                continue;
            };
            let ours = our_key.unwrap_or_else(MasterKey::random);
            Some((
                Crypto::ours(line.tag, suite, &ours),
                SrtpKeys::new(suite, ours, theirs),
            ))
        } else if prefs.encryption {
            refused.get_or_insert(NegotiationError::SrtpRequired);
            sdp.media.push(m.rejected_copy());
            continue;
        } else {
            None
        };
        saw_audio = true;
        // Joint codecs in our preference order, each under the offerer's payload type.
        let mut joint: Vec<(Codec, u8)> = Vec::new();
        for c in prefs.supported() {
            if let Some(pt) = m
                .payload_types()
                .find(|&pt| m.codec_of(pt).as_ref() == Some(c))
            {
                joint.push((c.clone(), pt));
            }
        }
        let Some((codec, pt)) = joint.first().cloned() else {
            sdp.media.push(m.rejected_copy());
            continue;
        };
        if prefs.preferred_codec_only {
            joint.truncate(1);
        }
        let dtmf_pt = if prefs.telephone_event {
            m.telephone_event_pt()
        } else {
            None
        };
        let (their_dir, remote, remote_hold) = remote_view(offer, m);
        let direction = their_dir.reverse();
        let ptime = m.ptime.filter(|&p| p > 0).unwrap_or(DEFAULT_PTIME);

        let mut am = Media::new("audio", local_port, &m.proto, Vec::new());
        for (c, pt) in &joint {
            add_codec(&mut am, c, *pt);
        }
        if let Some(pt) = dtmf_pt {
            add_telephone_event(&mut am, pt);
        }
        am.ptime = Some(ptime);
        if let Some((line, _)) = &crypto {
            am.attributes.push(("crypto".into(), Some(line.value())));
        }
        am.direction = Some(direction);
        sdp.media.push(am);
        negotiated = Some(Negotiated {
            media_index: index,
            codec,
            pt,
            dtmf_pt,
            remote,
            direction,
            remote_hold,
            ptime,
            srtp: crypto.map(|(_, keys)| keys),
        });
    }
    match negotiated {
        Some(n) => Ok((sdp, n)),
        None if saw_audio => Err(NegotiationError::NoCommonCodec),
        None => Err(refused.unwrap_or(NegotiationError::NoAudioStream)),
    }
}

/// Reads the remote answer to our offer (RFC 3264 §7): the first of our audio streams the answer
/// accepted, sending with the answerer's first codec that we offered, under its payload type.
/// To an `RTP/SAVP` offer the answer must be `RTP/SAVP` with a usable crypto line echoing one
/// of our tags and its suite (else [`NegotiationError::SrtpRequired`] or
/// [`NegotiationError::NoUsableCrypto`]: chan_sip hangs up such a call).
pub fn apply_answer(offer: &Sdp, answer: &Sdp) -> Result<Negotiated, NegotiationError> {
    if offer.media.len() != answer.media.len() {
        return Err(NegotiationError::MediaCountMismatch {
            offer: offer.media.len(),
            answer: answer.media.len(),
        });
    }
    let mut saw_audio = false;
    for (index, (om, am)) in offer.media.iter().zip(&answer.media).enumerate() {
        if !(om.is_rtp_avp_audio() || om.is_rtp_savp_audio()) || om.port == 0 {
            continue;
        }
        saw_audio = true;
        if am.port == 0 {
            continue;
        }
        let srtp = if om.is_rtp_savp_audio() {
            if !am.is_rtp_savp_audio() {
                return Err(NegotiationError::SrtpRequired);
            }
            Some(answer_keys(om, am).ok_or(NegotiationError::NoUsableCrypto)?)
        } else {
            None
        };
        let offered: Vec<Codec> = om
            .payload_types()
            .filter_map(|pt| om.codec_of(pt))
            .collect();
        let chosen = am.payload_types().find_map(|pt| {
            let c = am.codec_of(pt)?;
            (c.is_supported() && offered.contains(&c)).then_some((c, pt))
        });
        let Some((codec, pt)) = chosen else {
            continue;
        };
        let dtmf_pt = om.telephone_event_pt().and(am.telephone_event_pt());
        let (their_dir, remote, remote_hold) = remote_view(answer, am);
        let direction = om.direction_in(offer).intersect(their_dir.reverse());
        let ptime = am
            .ptime
            .or(om.ptime)
            .filter(|&p| p > 0)
            .unwrap_or(DEFAULT_PTIME);
        return Ok(Negotiated {
            media_index: index,
            codec,
            pt,
            dtmf_pt,
            remote,
            direction,
            remote_hold,
            ptime,
            srtp,
        });
    }
    Err(if saw_audio {
        NegotiationError::NoCommonCodec
    } else {
        NegotiationError::NoAudioStream
    })
}

/// The keys of an answered `RTP/SAVP` stream: the answer's first usable crypto line whose tag
/// one of our offered lines has, with the same suite.
fn answer_keys(offered: &Media, answered: &Media) -> Option<SrtpKeys> {
    answered.crypto().find_map(|a| {
        let (suite, theirs) = a.usable()?;
        let ours = offered.crypto().find(|o| o.tag == a.tag)?;
        let (our_suite, our_key) = ours.usable()?;
        (our_suite == suite).then(|| SrtpKeys::new(suite, our_key, theirs))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const BARESIP: &str = "v=0\r\n\
o=- 1937415546 2596123087 IN IP4 192.168.1.20\r\n\
s=-\r\n\
c=IN IP4 192.168.1.20\r\n\
t=0 0\r\n\
m=audio 10330 RTP/AVP 0 8 101\r\n\
b=AS:64\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-15\r\n\
a=sendrecv\r\n\
a=label:1\r\n\
a=ssrc:1484339236 cname:3f1e2d9c-a9b0-4d7e\r\n\
a=rtcp-rsize\r\n";

    const SIPP: &str = "v=0\n\
o=user1 53655765 2353687637 IN IP4 127.0.1.1\n\
s=-\n\
c=IN IP4 127.0.1.1\n\
t=0 0\n\
m=audio 6000 RTP/AVP 0\n\
a=rtpmap:0 PCMU/8000\n";

    const LINPHONE: &str = "v=0\r\n\
o=alice 3223 1551 IN IP4 10.0.0.7\r\n\
s=Talk\r\n\
c=IN IP4 10.0.0.7\r\n\
t=0 0\r\n\
a=ice-pwd:31ec21eb38b2ec6d36e8dc7b\r\n\
a=ice-ufrag:8b9cdf0f\r\n\
a=rtcp-xr:rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics\r\n\
m=audio 7078 RTP/AVP 96 97 98 0 8 18 101 99 100\r\n\
a=rtpmap:96 opus/48000/2\r\n\
a=fmtp:96 useinbandfec=1\r\n\
a=rtpmap:97 speex/16000\r\n\
a=fmtp:97 vbr=on\r\n\
a=rtpmap:98 speex/8000\r\n\
a=fmtp:98 vbr=on\r\n\
a=fmtp:18 annexb=yes\r\n\
a=rtpmap:101 telephone-event/48000\r\n\
a=rtpmap:99 telephone-event/16000\r\n\
a=rtpmap:100 telephone-event/8000\r\n\
a=rtcp:7079\r\n\
a=rtcp-mux\r\n\
a=rtcp-fb:* trr-int 1000\r\n\
a=rtcp-fb:* ccm tmmbr\r\n\
m=video 9078 RTP/AVP 96 97\r\n\
a=rtpmap:96 VP8/90000\r\n\
a=rtpmap:97 H264/90000\r\n\
a=fmtp:97 profile-level-id=42801F\r\n";

    fn ip() -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(203, 0, 113, 5))
    }

    fn prefs(names: &[&str]) -> MediaPrefs {
        MediaPrefs::from_names(names)
    }

    #[test]
    fn parses_baresip_offer() {
        let sdp = Sdp::parse(BARESIP).unwrap();
        assert_eq!(sdp.origin.session_id, "1937415546");
        assert_eq!(sdp.origin.session_version, 2596123087);
        assert_eq!(sdp.connection.as_ref().unwrap().address, "192.168.1.20");
        let m = &sdp.media[0];
        assert_eq!(m.kind, "audio");
        assert_eq!(m.port, 10330);
        assert_eq!(m.payload_types().collect::<Vec<_>>(), [0, 8, 101]);
        assert_eq!(m.codec_of(8), Some(Codec::Pcma));
        assert_eq!(m.telephone_event_pt(), Some(101));
        assert_eq!(m.fmtp("101"), Some("0-15"));
        assert_eq!(m.direction, Some(Direction::SendRecv));
        assert!(m.attributes.contains(&(
            "ssrc".into(),
            Some("1484339236 cname:3f1e2d9c-a9b0-4d7e".into())
        )));
        assert!(m.attributes.contains(&("rtcp-rsize".into(), None)));
    }

    #[test]
    fn parses_sipp_offer_lf_endings() {
        let sdp = Sdp::parse(SIPP).unwrap();
        assert_eq!(sdp.media.len(), 1);
        assert_eq!(sdp.media[0].port, 6000);
        assert_eq!(sdp.media[0].formats, ["0"]);
        let (ans, n) = answer(
            &sdp,
            &prefs(&["ulaw", "alaw"]),
            ip(),
            17000,
            SessionIds::new(7),
        )
        .unwrap();
        assert_eq!(n.codec, Codec::Pcmu);
        assert_eq!(n.pt, 0);
        assert_eq!(n.dtmf_pt, None);
        assert_eq!(n.remote, Some("127.0.1.1:6000".parse().unwrap()));
        assert_eq!(n.ptime, 20);
        assert_eq!(
            ans.render(),
            "v=0\r\no=ferrisk 7 7 IN IP4 203.0.113.5\r\ns=ferrisk\r\nc=IN IP4 203.0.113.5\r\n\
             t=0 0\r\nm=audio 17000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=ptime:20\r\n\
             a=sendrecv\r\n"
        );
    }

    #[test]
    fn parses_linphone_offer_and_answers_g711() {
        let sdp = Sdp::parse(LINPHONE).unwrap();
        assert_eq!(sdp.media.len(), 2);
        let a = &sdp.media[0];
        assert_eq!(a.codec_of(96), Some(Codec::Opus));
        assert_eq!(a.codec_of(97), Some(Codec::Other("SPEEX/16000".into())));
        assert_eq!(a.codec_of(18), Some(Codec::G729));
        assert_eq!(
            a.codec_of(101),
            Some(Codec::Other("TELEPHONE-EVENT/48000".into()))
        );
        assert_eq!(a.telephone_event_pt(), Some(100));
        assert!(a.rtcp_mux);
        assert_eq!(
            a.rtcp,
            Some(Rtcp {
                port: 7079,
                connection: None
            })
        );
        assert_eq!(sdp.attributes.len(), 3);

        let (ans, n) = answer(
            &sdp,
            &prefs(&["alaw", "ulaw", "gsm", "h263"]),
            ip(),
            20000,
            SessionIds::new(1),
        )
        .unwrap();
        assert_eq!(
            (n.codec.clone(), n.pt, n.dtmf_pt),
            (Codec::Pcma, 8, Some(100))
        );
        assert_eq!(n.media_index, 0);
        // m-line count and order kept; video rejected with port 0.
        assert_eq!(ans.media.len(), 2);
        assert_eq!(ans.media[0].formats, ["8", "0", "100"]);
        assert_eq!(ans.media[0].fmtp("100"), Some("0-16"));
        assert_eq!(ans.media[1].kind, "video");
        assert_eq!(ans.media[1].port, 0);
        assert!(ans.render().contains("m=video 0 RTP/AVP 96 97\r\n"));
    }

    #[test]
    fn answer_uses_our_preference_order() {
        let offer = Sdp::parse(BARESIP).unwrap();
        let (ans, n) = answer(
            &offer,
            &prefs(&["alaw", "ulaw"]),
            ip(),
            4000,
            SessionIds::new(1),
        )
        .unwrap();
        assert_eq!(n.codec, Codec::Pcma);
        assert_eq!(ans.media[0].formats, ["8", "0", "101"]);
        let (ans, n) = answer(
            &offer,
            &prefs(&["ulaw", "alaw"]),
            ip(),
            4000,
            SessionIds::new(1),
        )
        .unwrap();
        assert_eq!(n.codec, Codec::Pcmu);
        assert_eq!(ans.media[0].formats, ["0", "8", "101"]);
        let mut p = prefs(&["alaw", "ulaw"]);
        p.preferred_codec_only = true;
        let (ans, _) = answer(&offer, &p, ip(), 4000, SessionIds::new(1)).unwrap();
        assert_eq!(ans.media[0].formats, ["8", "101"]);
        p.telephone_event = false;
        let (ans, n) = answer(&offer, &p, ip(), 4000, SessionIds::new(1)).unwrap();
        assert_eq!(ans.media[0].formats, ["8"]);
        assert_eq!(n.dtmf_pt, None);
    }

    #[test]
    fn telephone_event_keeps_offerer_pt() {
        let body = "v=0\r\no=- 1 1 IN IP4 10.1.1.1\r\ns=-\r\nc=IN IP4 10.1.1.1\r\nt=0 0\r\n\
                    m=audio 5004 RTP/AVP 8 96\r\na=rtpmap:96 telephone-event/8000\r\n\
                    a=fmtp:96 0-16\r\na=ptime:30\r\n";
        let offer = Sdp::parse(body).unwrap();
        let (ans, n) = answer(
            &offer,
            &prefs(&["ulaw", "alaw"]),
            ip(),
            4000,
            SessionIds::new(1),
        )
        .unwrap();
        assert_eq!(n.dtmf_pt, Some(96));
        assert_eq!(n.codec, Codec::Pcma);
        assert_eq!(n.ptime, 30);
        let text = ans.render();
        assert!(text.contains("m=audio 4000 RTP/AVP 8 96\r\n"), "{text}");
        assert!(text.contains("a=rtpmap:96 telephone-event/8000\r\na=fmtp:96 0-16\r\n"));
        assert!(text.contains("a=ptime:30\r\n"));
    }

    #[test]
    fn pcmu_under_dynamic_pt_keeps_it() {
        let body = "v=0\no=- 1 1 IN IP4 10.1.1.1\ns=-\nc=IN IP4 10.1.1.1\nt=0 0\n\
                    m=audio 5004 RTP/AVP 112\na=rtpmap:112 pcmu/8000\n";
        let offer = Sdp::parse(body).unwrap();
        let (_, n) = answer(&offer, &prefs(&["ulaw"]), ip(), 4000, SessionIds::new(1)).unwrap();
        assert_eq!((n.codec, n.pt), (Codec::Pcmu, 112));
    }

    #[test]
    fn no_common_codec() {
        let body = "v=0\r\no=- 1 1 IN IP4 10.1.1.1\r\ns=-\r\nc=IN IP4 10.1.1.1\r\nt=0 0\r\n\
                    m=audio 5004 RTP/AVP 18 96 101\r\na=rtpmap:96 opus/48000/2\r\n\
                    a=rtpmap:101 telephone-event/8000\r\n";
        let offer = Sdp::parse(body).unwrap();
        let err = answer(
            &offer,
            &prefs(&["ulaw", "alaw", "g729"]),
            ip(),
            4000,
            SessionIds::new(1),
        );
        assert_eq!(err.unwrap_err(), NegotiationError::NoCommonCodec);
        // A video-only offer has no audio stream at all.
        let body = "v=0\r\no=- 1 1 IN IP4 10.1.1.1\r\ns=-\r\nc=IN IP4 10.1.1.1\r\nt=0 0\r\n\
                    m=video 5006 RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\n";
        let offer = Sdp::parse(body).unwrap();
        let err = answer(&offer, &prefs(&["ulaw"]), ip(), 4000, SessionIds::new(1));
        assert_eq!(err.unwrap_err(), NegotiationError::NoAudioStream);
        // SRTP audio without a crypto line is refused (SDES is the only keying we do).
        let body = "v=0\r\no=- 1 1 IN IP4 10.1.1.1\r\ns=-\r\nc=IN IP4 10.1.1.1\r\nt=0 0\r\n\
                    m=audio 5004 RTP/SAVP 0\r\n";
        let offer = Sdp::parse(body).unwrap();
        let err = answer(&offer, &prefs(&["ulaw"]), ip(), 4000, SessionIds::new(1));
        assert_eq!(err.unwrap_err(), NegotiationError::NoUsableCrypto);
        // DTLS-SRTP (WebRTC) is not answered either.
        let body = "v=0\r\no=- 1 1 IN IP4 10.1.1.1\r\ns=-\r\nc=IN IP4 10.1.1.1\r\nt=0 0\r\n\
                    m=audio 5004 UDP/TLS/RTP/SAVPF 0\r\n";
        let offer = Sdp::parse(body).unwrap();
        let err = answer(&offer, &prefs(&["ulaw"]), ip(), 4000, SessionIds::new(1));
        assert_eq!(err.unwrap_err(), NegotiationError::NoAudioStream);
    }

    #[test]
    fn rejects_extra_streams_keeps_order() {
        let body = "v=0\r\no=- 1 1 IN IP4 10.1.1.1\r\ns=-\r\nc=IN IP4 10.1.1.1\r\nt=0 0\r\n\
                    m=video 5006 RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\n\
                    m=audio 0 RTP/AVP 0\r\n\
                    m=audio 5004 RTP/AVP 0 8\r\n\
                    m=audio 5008 RTP/AVP 0\r\n\
                    m=application 5010 UDP/BFCP *\r\n";
        let offer = Sdp::parse(body).unwrap();
        let (ans, n) = answer(&offer, &prefs(&["ulaw"]), ip(), 4000, SessionIds::new(1)).unwrap();
        assert_eq!(n.media_index, 2);
        let ports: Vec<u16> = ans.media.iter().map(|m| m.port).collect();
        assert_eq!(ports, [0, 0, 4000, 0, 0]);
        let kinds: Vec<&str> = ans.media.iter().map(|m| m.kind.as_str()).collect();
        assert_eq!(kinds, ["video", "audio", "audio", "audio", "application"]);
        assert_eq!(ans.media[4].formats, ["*"]);
        // The answer parses back.
        assert_eq!(Sdp::parse(&ans.render()).unwrap(), ans);
    }

    #[test]
    fn hold_with_sendonly_is_mirrored() {
        let body = "v=0\r\no=- 1937415546 2596123088 IN IP4 192.168.1.20\r\ns=-\r\n\
                    c=IN IP4 192.168.1.20\r\nt=0 0\r\nm=audio 10330 RTP/AVP 0 101\r\n\
                    a=rtpmap:101 telephone-event/8000\r\na=sendonly\r\n";
        let offer = Sdp::parse(body).unwrap();
        let mut ids = SessionIds::new(500);
        ids.bump();
        let (ans, n) = answer(&offer, &prefs(&["ulaw"]), ip(), 4000, ids).unwrap();
        assert_eq!(n.direction, Direction::RecvOnly);
        assert!(n.remote_hold);
        assert_eq!(n.remote, Some("192.168.1.20:10330".parse().unwrap()));
        let text = ans.render();
        assert!(text.contains("a=recvonly\r\n"));
        assert!(text.starts_with("v=0\r\no=ferrisk 500 501 IN IP4 203.0.113.5\r\n"));
        // Session-level sendonly and inactive work the same.
        let body = body
            .replace("a=sendonly\r\n", "")
            .replace("t=0 0\r\n", "t=0 0\r\na=inactive\r\n");
        let offer = Sdp::parse(&body).unwrap();
        assert_eq!(offer.direction, Some(Direction::Inactive));
        let (_, n) = answer(&offer, &prefs(&["ulaw"]), ip(), 4000, ids).unwrap();
        assert_eq!(n.direction, Direction::Inactive);
        assert!(n.remote_hold);
    }

    #[test]
    fn hold_with_zero_address() {
        let body = "v=0\r\no=- 1 2 IN IP4 192.168.1.20\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n\
                    m=audio 10330 RTP/AVP 8 0\r\n";
        let offer = Sdp::parse(body).unwrap();
        assert!(offer.connection.as_ref().unwrap().is_hold());
        let (ans, n) = answer(
            &offer,
            &prefs(&["ulaw", "alaw"]),
            ip(),
            4000,
            SessionIds::new(1),
        )
        .unwrap();
        assert!(n.remote_hold);
        assert_eq!(n.remote, None);
        assert_eq!(n.direction, Direction::RecvOnly);
        assert_eq!(n.codec, Codec::Pcmu);
        assert_eq!(ans.media[0].direction, Some(Direction::RecvOnly));
    }

    #[test]
    fn media_level_connection_overrides_session() {
        let body =
            "v=0\r\no=- 1 2 IN IP4 192.168.1.20\r\ns=-\r\nc=IN IP4 192.168.1.20\r\nt=0 0\r\n\
                    m=audio 10330 RTP/AVP 0\r\nc=IN IP4 10.9.9.9/127\r\n";
        let offer = Sdp::parse(body).unwrap();
        let (_, n) = answer(&offer, &prefs(&["ulaw"]), ip(), 4000, SessionIds::new(1)).unwrap();
        assert_eq!(n.remote, Some("10.9.9.9:10330".parse().unwrap()));
        // IPv6 too.
        let body =
            "v=0\no=- 1 2 IN IP6 ::1\ns=-\nt=0 0\nm=audio 10330 RTP/AVP 0\nc=IN IP6 2001:db8::5\n";
        let offer = Sdp::parse(body).unwrap();
        let (ans, n) = answer(
            &offer,
            &prefs(&["ulaw"]),
            "2001:db8::1".parse().unwrap(),
            4000,
            SessionIds::new(1),
        )
        .unwrap();
        assert_eq!(n.remote, Some("[2001:db8::5]:10330".parse().unwrap()));
        assert!(ans.render().contains("c=IN IP6 2001:db8::1\r\n"));
    }

    #[test]
    fn our_offer_and_apply_answer() {
        let mut ids = SessionIds::new(42);
        let ours = offer(&prefs(&["ulaw", "alaw", "gsm", "h263"]), ip(), 30000, ids);
        assert_eq!(
            ours.render(),
            "v=0\r\no=ferrisk 42 42 IN IP4 203.0.113.5\r\ns=ferrisk\r\nc=IN IP4 203.0.113.5\r\n\
             t=0 0\r\nm=audio 30000 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\n\
             a=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n\
             a=ptime:20\r\na=sendrecv\r\n"
        );
        ids.bump();
        let reoffer = offer(&prefs(&["ulaw"]), ip(), 30000, ids);
        assert_eq!(reoffer.origin.session_id, "42");
        assert_eq!(reoffer.origin.session_version, 43);

        // The far end answers with A-law and its own DTMF payload type.
        let remote =
            "v=0\r\no=- 9 9 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\n\
                      m=audio 40000 RTP/AVP 8 101\r\na=rtpmap:101 telephone-event/8000\r\n\
                      a=recvonly\r\n";
        let n = apply_answer(&ours, &Sdp::parse(remote).unwrap()).unwrap();
        assert_eq!((n.codec, n.pt, n.dtmf_pt), (Codec::Pcma, 8, Some(101)));
        assert_eq!(n.remote, Some("198.51.100.7:40000".parse().unwrap()));
        assert_eq!(n.direction, Direction::SendOnly);
        assert_eq!(n.ptime, 20);

        // Our own answer to our offer round-trips through apply_answer.
        let (ans, an) = answer(
            &ours,
            &prefs(&["alaw", "ulaw"]),
            "198.51.100.7".parse().unwrap(),
            40000,
            SessionIds::new(9),
        )
        .unwrap();
        let n = apply_answer(&ours, &ans).unwrap();
        assert_eq!(
            (n.codec.clone(), n.pt, n.dtmf_pt),
            (an.codec, an.pt, an.dtmf_pt)
        );
        assert_eq!(n.direction, Direction::SendRecv);

        // Rejected stream / wrong m-line count.
        let rejected =
            "v=0\r\no=- 9 9 IN IP4 198.51.100.7\r\ns=-\r\nt=0 0\r\nm=audio 0 RTP/AVP 0\r\n";
        assert_eq!(
            apply_answer(&ours, &Sdp::parse(rejected).unwrap()),
            Err(NegotiationError::NoCommonCodec)
        );
        let two = format!("{rejected}m=audio 0 RTP/AVP 0\r\n");
        assert_eq!(
            apply_answer(&ours, &Sdp::parse(&two).unwrap()),
            Err(NegotiationError::MediaCountMismatch {
                offer: 1,
                answer: 2
            })
        );
        // An answer with a codec we did not offer.
        let g729 = "v=0\r\no=- 9 9 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 5 RTP/AVP 18\r\n";
        assert_eq!(
            apply_answer(&ours, &Sdp::parse(g729).unwrap()),
            Err(NegotiationError::NoCommonCodec)
        );
    }

    #[test]
    fn round_trip_render_parse() {
        for body in [BARESIP, SIPP, LINPHONE] {
            let sdp = Sdp::parse(body).unwrap();
            let text = sdp.render();
            assert!(text.lines().all(|l| !l.ends_with('\r')) && text.ends_with("\r\n"));
            assert_eq!(text.matches('\n').count(), text.matches("\r\n").count());
            let again = Sdp::parse(&text).unwrap();
            assert_eq!(again, sdp, "{text}");
            assert_eq!(again.render(), text);
        }
        let ours = offer(&prefs(&["alaw", "ulaw"]), ip(), 1234, SessionIds::new(3));
        assert_eq!(Sdp::parse(&ours.render()).unwrap(), ours);
        assert_eq!(ours.to_string(), ours.render());
    }

    #[test]
    fn codec_names() {
        let p = prefs(&["ulaw", "ALAW:20", "h263", "ulaw", "nonsense", "g729"]);
        assert_eq!(p.codecs, [Codec::Pcmu, Codec::Pcma, Codec::G729]);
        assert_eq!(Codec::from_rtpmap("PCMU", 8000), Codec::Pcmu);
        assert_eq!(
            Codec::from_rtpmap("PCMU", 16000),
            Codec::Other("PCMU/16000".into())
        );
        assert_eq!(
            Codec::from_rtpmap("iLBC", 8000),
            Codec::Other("ILBC".into())
        );
        assert_eq!(Codec::from_static_pt(8), Some(Codec::Pcma));
        assert_eq!(Codec::from_static_pt(120), None);
        assert!(!Codec::G729.is_supported());
    }

    #[test]
    fn errors_are_typed() {
        let cases: &[(&str, SdpError)] = &[
            ("", SdpError::Empty),
            ("\r\n \r\n", SdpError::Empty),
            ("o=- 1 1 IN IP4 1.1.1.1\r\n", SdpError::MissingVersion),
            ("v=1\r\n", SdpError::UnsupportedVersion("1".into())),
            ("v=0\r\ns=-\r\n", SdpError::MissingOrigin),
            ("v=0\r\ngarbage\r\n", SdpError::BadLine { line: 2 }),
            (
                "v=0\r\no=- 1 x IN IP4 1.1.1.1\r\n",
                SdpError::BadOrigin { line: 2 },
            ),
            ("v=0\r\no=- 1\r\n", SdpError::BadOrigin { line: 2 }),
            (
                "v=0\no=- 1 1 IN IP4 h\nc=IN IP9 1.1.1.1\n",
                SdpError::BadConnection { line: 3 },
            ),
            (
                "v=0\no=- 1 1 IN IP4 h\nt=now\n",
                SdpError::BadTiming { line: 3 },
            ),
            (
                "v=0\no=- 1 1 IN IP4 h\nm=audio x RTP/AVP 0\n",
                SdpError::BadMedia { line: 3 },
            ),
            (
                "v=0\no=- 1 1 IN IP4 h\nm=audio 70000 RTP/AVP 0\n",
                SdpError::BadMedia { line: 3 },
            ),
            (
                "v=0\no=- 1 1 IN IP4 h\nm=audio 5 RTP/AVP 0 300\n",
                SdpError::BadMedia { line: 3 },
            ),
            (
                "v=0\no=- 1 1 IN IP4 h\nm=audio\n",
                SdpError::BadMedia { line: 3 },
            ),
            (
                "v=0\no=- 1 1 IN IP4 h\nc=IN IP4 1.1.1.1\nm=audio 5 RTP/AVP 0\na=rtpmap:0 PCMU\n",
                SdpError::BadAttribute {
                    line: 5,
                    attr: "rtpmap",
                },
            ),
            (
                "v=0\no=- 1 1 IN IP4 h\nc=IN IP4 1.1.1.1\nm=audio 5 RTP/AVP 0\na=ptime:abc\n",
                SdpError::BadAttribute {
                    line: 5,
                    attr: "ptime",
                },
            ),
            (
                "v=0\no=- 1 1 IN IP4 h\nc=IN IP4 1.1.1.1\nm=audio 5 RTP/AVP 0\na=rtcp:x\n",
                SdpError::BadAttribute {
                    line: 5,
                    attr: "rtcp",
                },
            ),
            (
                "v=0\no=- 1 1 IN IP4 h\nm=audio 5 RTP/AVP 0\n",
                SdpError::MissingConnection { index: 0 },
            ),
        ];
        for (body, want) in cases {
            assert_eq!(&Sdp::parse(body).unwrap_err(), want, "{body:?}");
        }
        assert_eq!(
            Sdp::parse_bytes(b"v=0\r\n\xff\xfe").unwrap_err(),
            SdpError::NotUtf8
        );
        let huge = "a".repeat(MAX_SDP_LEN + 1);
        assert_eq!(Sdp::parse(&huge).unwrap_err(), SdpError::TooLarge);
        // Port 0 media needs no connection; ptime 20.0 is tolerated.
        let ok = "v=0\no=- 1 1 IN IP4 h\nm=video 0 RTP/AVP 96\nm=audio 0 RTP/AVP 0\na=ptime:20.0\n";
        assert_eq!(Sdp::parse(ok).unwrap().media[1].ptime, Some(20));
    }

    #[test]
    fn garbage_never_panics() {
        // Deterministic pseudo-random mutations of real bodies.
        let mut rng = crate::testutil::XorShift(0x9e37_79b9_7f4a_7c15);
        let mut next = || rng.next_u64();
        let alphabet = b"v=oscmta:/ 0123456789\r\n.-IPN4RTAVP*";
        for base in [BARESIP, SIPP, LINPHONE] {
            for _ in 0..400 {
                let mut bytes = base.as_bytes().to_vec();
                for _ in 0..(next() % 8 + 1) {
                    let i = (next() as usize) % bytes.len();
                    match next() % 3 {
                        0 => bytes[i] = alphabet[(next() as usize) % alphabet.len()],
                        1 => {
                            bytes.remove(i);
                        }
                        _ => bytes.truncate(i),
                    }
                    if bytes.is_empty() {
                        break;
                    }
                }
                if let Ok(sdp) = Sdp::parse_bytes(&bytes) {
                    let _ = sdp.render();
                    let _ = answer(
                        &sdp,
                        &prefs(&["ulaw", "alaw"]),
                        ip(),
                        4000,
                        SessionIds::new(1),
                    );
                    let _ = apply_answer(&sdp, &sdp);
                }
            }
        }
    }

    /// baresip 1.0 with `mediaenc=srtp-mand` (keys shortened to the real length).
    const BARESIP_SAVP: &str = "v=0\r\n\
o=- 1 2 IN IP4 127.0.0.1\r\n\
s=-\r\n\
c=IN IP4 127.0.0.1\r\n\
t=0 0\r\n\
m=audio 10330 RTP/SAVP 0 8 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=crypto:1 AES_256_CM_HMAC_SHA1_80 inline:6cTgqpEKpsM0ehp1hCc0Ar/qHgyaPJCGmZ9tK0Hp56Hj0MDlpK3/bV1y1/U6Bw==\r\n\
a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd|2^20\r\n\
a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:HR0cGxoZGBcWFRQTEhEQDw4NDAsKCQgHBgUEAwIB\r\n\
a=sendrecv\r\n";

    fn key_of(n: u8) -> MasterKey {
        let bytes: Vec<u8> = (0..30u8).map(|i| i.wrapping_mul(n)).collect();
        MasterKey::from_bytes(&bytes).unwrap()
    }

    #[test]
    fn crypto_lines_parse_and_only_what_we_support_is_usable() {
        let c = Crypto::parse(
            "1 AES_CM_128_HMAC_SHA1_80 inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd|2^31",
        )
        .unwrap();
        assert_eq!((c.tag, c.suite.as_str()), (1, "AES_CM_128_HMAC_SHA1_80"));
        assert_eq!(c.usable(), Some((Suite::AesCm128HmacSha1_80, key_of(1))));
        let line = |v: &str| Crypto::parse(v).and_then(|c| c.usable());
        let key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd";
        assert!(line(&format!("7 AES_CM_128_HMAC_SHA1_32 inline:{key}")).is_some());
        // MKI, session parameters, several keys, other suites, bad keys: not usable.
        assert!(line(&format!("1 AES_CM_128_HMAC_SHA1_80 inline:{key}|2^20|1:4")).is_none());
        assert!(line(&format!("1 AES_CM_128_HMAC_SHA1_80 inline:{key}|1:4")).is_none());
        assert!(line(&format!("1 AES_CM_128_HMAC_SHA1_80 inline:{key} KDR=1")).is_none());
        assert!(line(&format!(
            "1 AES_CM_128_HMAC_SHA1_80 inline:{key};inline:{key}"
        ))
        .is_none());
        assert!(line(&format!("1 F8_128_HMAC_SHA1_80 inline:{key}")).is_none());
        assert!(line("1 AES_CM_128_HMAC_SHA1_80 inline:AAECAwQF").is_none());
        assert!(line("1 AES_CM_128_HMAC_SHA1_80 inline:!!notbase64!!").is_none());
        assert!(line(&format!("1 AES_CM_128_HMAC_SHA1_80 {key}")).is_none());
        // Not crypto lines at all.
        assert_eq!(Crypto::parse("x AES_CM_128_HMAC_SHA1_80 inline:a"), None);
        assert_eq!(Crypto::parse("1 AES_CM_128_HMAC_SHA1_80"), None);
        assert_eq!(Crypto::parse("1234567890 A inline:a"), None);
        assert_eq!(Crypto::parse(""), None);
        // Our own line round-trips.
        let ours = Crypto::ours(5, Suite::AesCm128HmacSha1_32, &key_of(3));
        assert_eq!(
            Crypto::parse(&ours.value()).unwrap().usable(),
            Some((Suite::AesCm128HmacSha1_32, key_of(3)))
        );
    }

    fn srtp_prefs() -> MediaPrefs {
        let mut p = prefs(&["ulaw", "alaw"]);
        p.encryption = true;
        p
    }

    #[test]
    fn savp_offer_is_answered_with_the_first_usable_crypto_line_and_our_key() {
        let offer_sdp = Sdp::parse(BARESIP_SAVP).unwrap();
        // With or without encryption=yes, as chan_sip does.
        for p in [prefs(&["ulaw"]), srtp_prefs()] {
            let (ans, n) = answer(&offer_sdp, &p, ip(), 30000, SessionIds::new(1)).unwrap();
            let m = &ans.media[0];
            assert_eq!(m.proto, "RTP/SAVP");
            let lines: Vec<Crypto> = m.crypto().collect();
            assert_eq!(lines.len(), 1);
            assert_eq!(lines[0].tag, 2);
            let (suite, ours) = lines[0].usable().unwrap();
            assert_eq!(suite, Suite::AesCm128HmacSha1_32);
            let keys = n.srtp.unwrap();
            assert_eq!(keys, SrtpKeys::new(suite, ours, key_of(1)));
            assert_ne!(keys.local, keys.remote);
            assert!(ans
                .render()
                .contains("a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:"));
        }
    }

    #[test]
    fn savp_offer_without_usable_crypto_and_avp_offer_to_encryption_peer_are_refused() {
        let no_crypto: String = BARESIP_SAVP
            .lines()
            .filter(|l| !l.starts_with("a=crypto:2") && !l.starts_with("a=crypto:3"))
            .map(|l| format!("{l}\n"))
            .collect();
        let o = Sdp::parse(&no_crypto).unwrap();
        assert_eq!(
            answer(&o, &prefs(&["ulaw"]), ip(), 30000, SessionIds::new(1)),
            Err(NegotiationError::NoUsableCrypto)
        );
        let plain = Sdp::parse(BARESIP).unwrap();
        assert_eq!(
            answer(&plain, &srtp_prefs(), ip(), 30000, SessionIds::new(1)),
            Err(NegotiationError::SrtpRequired)
        );
        // Without encryption=yes the plain offer is answered plainly.
        let (ans, n) = answer(&plain, &prefs(&["ulaw"]), ip(), 30000, SessionIds::new(1)).unwrap();
        assert_eq!((ans.media[0].proto.as_str(), n.srtp), ("RTP/AVP", None));
        assert_eq!(ans.media[0].crypto().count(), 0);
    }

    #[test]
    fn encrypted_offer_and_its_answer_give_mirrored_keys() {
        let ours = offer(&srtp_prefs(), ip(), 30000, SessionIds::new(7));
        let text = ours.render();
        assert!(
            text.contains("m=audio 30000 RTP/SAVP 0 8 101\r\n"),
            "{text}"
        );
        let line: Vec<Crypto> = ours.media[0].crypto().collect();
        assert_eq!(line.len(), 1);
        assert_eq!(line[0].tag, 1);
        let (suite, our_key) = line[0].usable().unwrap();
        assert_eq!(suite, Suite::AesCm128HmacSha1_80);
        // Fresh keys every offer.
        let again = offer(&srtp_prefs(), ip(), 30000, SessionIds::new(7));
        assert_ne!(
            again.media[0].crypto().next(),
            ours.media[0].crypto().next()
        );

        let (ans, theirs) = answer(
            &Sdp::parse(&text).unwrap(),
            &prefs(&["ulaw"]),
            "198.51.100.7".parse().unwrap(),
            40000,
            SessionIds::new(9),
        )
        .unwrap();
        let n = apply_answer(&ours, &ans).unwrap();
        let (mine, far) = (n.srtp.unwrap(), theirs.srtp.unwrap());
        assert_eq!(mine.local, our_key);
        assert_eq!((mine.local, mine.remote), (far.remote, far.local));

        // A plain answer, or crypto under another tag or suite, fails the call.
        let plain = ans.render().replace("RTP/SAVP", "RTP/AVP");
        assert_eq!(
            apply_answer(&ours, &Sdp::parse(&plain).unwrap()),
            Err(NegotiationError::SrtpRequired)
        );
        let other_tag = ans.render().replace("a=crypto:1 ", "a=crypto:2 ");
        assert_eq!(
            apply_answer(&ours, &Sdp::parse(&other_tag).unwrap()),
            Err(NegotiationError::NoUsableCrypto)
        );
        let other_suite = ans.render().replace("SHA1_80", "SHA1_32");
        assert_eq!(
            apply_answer(&ours, &Sdp::parse(&other_suite).unwrap()),
            Err(NegotiationError::NoUsableCrypto)
        );
    }
}
