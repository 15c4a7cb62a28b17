//! Pure text formatting for chan_sip's CLI commands (`sip show peers|peer|registry|channels|
//! settings`, `sip set debug`, `sip qualify peer`, `sip reload`) and for the SIP message dumps
//! printed while `sip set debug` is on.
//!
//! Nothing here looks at live state: the SIP driver fills in the plain view structs below and
//! hands them to the `format_*` functions. The output reproduces the shape of Asterisk
//! chan_sip's output (printf widths, headers, footers, wording); the printf format each piece
//! mirrors is quoted in the comments.

use crate::cli::format::{col, ess};
use std::fmt::Write;

/// Asterisk's `AST_CLI_YESNO`.
fn yes_no(b: bool) -> &'static str {
    if b {
        "Yes"
    } else {
        "No"
    }
}

/// Asterisk's `AST_CLI_ONOFF`.
fn on_off(b: bool) -> &'static str {
    if b {
        "On"
    } else {
        "Off"
    }
}

/// `%-N.Ns` when empty strings are allowed but never truncated (`%-Ns`).
fn pad(s: &str, n: usize) -> String {
    format!("{s:<n$}")
}

/// `%N.Ns` (right aligned, truncated).
fn rcol(s: &str, n: usize) -> String {
    let t: String = s.chars().take(n).collect();
    format!("{t:>n$}")
}

fn or_else<'a>(s: &'a str, dflt: &'a str) -> &'a str {
    if s.is_empty() {
        dflt
    } else {
        s
    }
}

/// A NAT-related yes/no that may be set automatically (`nat=auto_force_rport`,
/// `nat=auto_comedia`): chan_sip's `force_rport_string()` / `comedia_string()`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum NatSetting {
    #[default]
    No,
    Yes,
    /// Automatic, currently off: `Auto (No)`.
    AutoNo,
    /// Automatic, currently on (NAT detected): `Auto (Yes)`.
    AutoYes,
}

impl NatSetting {
    pub fn as_str(self) -> &'static str {
        match self {
            NatSetting::No => "No",
            NatSetting::Yes => "Yes",
            NatSetting::AutoNo => "Auto (No)",
            NatSetting::AutoYes => "Auto (Yes)",
        }
    }
}

/// Qualify state of a peer (chan_sip's `peer_status()`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PeerStatus {
    /// `qualify=no`.
    #[default]
    Unmonitored,
    /// Qualified but no answer yet (`lastms == 0`).
    Unknown,
    /// Qualify timed out (`lastms < 0`).
    Unreachable,
    /// Answered within `maxms`: round trip in ms.
    Ok(u32),
    /// Answered slower than `maxms`: round trip in ms.
    Lagged(u32),
}

impl PeerStatus {
    /// `OK (12 ms)`, `LAGGED (2500 ms)`, `UNREACHABLE`, `UNKNOWN`, `Unmonitored`.
    pub fn text(self) -> String {
        match self {
            PeerStatus::Unmonitored => "Unmonitored".into(),
            PeerStatus::Unknown => "UNKNOWN".into(),
            PeerStatus::Unreachable => "UNREACHABLE".into(),
            PeerStatus::Ok(ms) => format!("OK ({ms} ms)"),
            PeerStatus::Lagged(ms) => format!("LAGGED ({ms} ms)"),
        }
    }

    /// `Some(true)` monitored and online, `Some(false)` monitored and offline, `None`
    /// unmonitored (peer_status()'s 1 / 0 / -1).
    pub fn monitored_online(self) -> Option<bool> {
        match self {
            PeerStatus::Unmonitored => None,
            PeerStatus::Unknown | PeerStatus::Unreachable => Some(false),
            PeerStatus::Ok(_) | PeerStatus::Lagged(_) => Some(true),
        }
    }
}

// ---------------------------------------------------------------------------------------
// sip show peers
// ---------------------------------------------------------------------------------------

/// One line of `sip show peers`.
#[derive(Debug, Clone, Default)]
pub struct PeerRow {
    pub name: String,
    /// `defaultuser`/registered username; shown as `name/username` when set.
    pub username: String,
    /// Current address (IP only, no port); `None` → `(Unspecified)` and port `0`.
    pub host: Option<String>,
    pub port: u16,
    /// `host=dynamic`.
    pub dynamic: bool,
    pub force_rport: NatSetting,
    pub comedia: NatSetting,
    /// permit/deny/acl configured.
    pub acl: bool,
    pub status: PeerStatus,
    pub description: String,
    /// `Some(cached)` when realtime peers are configured: the last column is `Realtime`,
    /// and a peer loaded from realtime shows `Cached RT`.
    pub realtime: Option<bool>,
}

/// `sip show peers`: header, one row per peer sorted by name (chan_sip qsorts with
/// `strcmp`), footer with the monitored/unmonitored counters.
pub fn format_peers(rows: &[PeerRow]) -> String {
    // PEERS_FORMAT2 "%-25.25s %-39.39s %-3.3s %-10.10s %-10.10s %-3.3s %-8s %-11s %-32.32s %s\n"
    fn line(f: [&str; 10]) -> String {
        format!(
            "{} {} {} {} {} {} {} {} {} {}\n",
            col(f[0], 25),
            col(f[1], 39),
            col(f[2], 3),
            col(f[3], 10),
            col(f[4], 10),
            col(f[5], 3),
            pad(f[6], 8),
            pad(f[7], 11),
            col(f[8], 32),
            f[9]
        )
    }
    let mut out = line([
        "Name/username",
        "Host",
        "Dyn",
        "Forcerport",
        "Comedia",
        "ACL",
        "Port",
        "Status",
        "Description",
        if rows.iter().any(|r| r.realtime.is_some()) {
            "Realtime"
        } else {
            ""
        },
    ]);
    let mut sorted: Vec<&PeerRow> = rows.iter().collect();
    sorted.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    let (mut mon_on, mut mon_off, mut unmon_on, mut unmon_off) = (0u32, 0u32, 0u32, 0u32);
    for p in sorted {
        let name = if p.username.is_empty() {
            p.name.clone()
        } else {
            format!("{}/{}", p.name, p.username)
        };
        let (host, port) = match &p.host {
            Some(h) => (h.as_str(), p.port.to_string()),
            None => ("(Unspecified)", "0".to_string()),
        };
        match p.status.monitored_online() {
            Some(true) => mon_on += 1,
            Some(false) => mon_off += 1,
            None if p.host.is_none() || p.port == 0 => unmon_off += 1,
            None => unmon_on += 1,
        }
        let status = p.status.text();
        out.push_str(&line([
            &name,
            host,
            if p.dynamic { " D " } else { "   " },
            p.force_rport.as_str(),
            p.comedia.as_str(),
            if p.acl { " A " } else { "   " },
            &port,
            &status,
            &p.description,
            if p.realtime == Some(true) {
                "Cached RT"
            } else {
                ""
            },
        ]));
    }
    let _ = writeln!(
        out,
        "{} sip peers [Monitored: {mon_on} online, {mon_off} offline Unmonitored: {unmon_on} online, {unmon_off} offline]",
        rows.len()
    );
    out
}

// ---------------------------------------------------------------------------------------
// sip show peer NAME
// ---------------------------------------------------------------------------------------

/// One `[authentication]`/`auth=` credential (`Realm-auth` lines).
#[derive(Debug, Clone, Default)]
pub struct RealmAuth {
    pub realm: String,
    pub username: String,
    pub secret_set: bool,
    pub md5secret_set: bool,
}

impl RealmAuth {
    fn line(&self) -> String {
        // "Realm %-15.15s User %-10.20s %s"
        let user: String = self.username.chars().take(20).collect();
        format!(
            "Realm {} User {:<10} {}",
            col(&self.realm, 15),
            user,
            if self.secret_set {
                "<Secret set>"
            } else if self.md5secret_set {
                "<MD5secret set>"
            } else {
                "<Not set>"
            }
        )
    }
}

/// Everything `sip show peer NAME` prints, in chan_sip's order.
#[derive(Debug, Clone, Default)]
pub struct PeerDetail {
    pub name: String,
    pub description: String,
    /// `Some(cached)` when realtime peers are configured (prints `Realtime peer`).
    pub realtime: Option<bool>,
    pub secret_set: bool,
    pub md5secret_set: bool,
    pub remote_secret_set: bool,
    pub realm_auth: Vec<RealmAuth>,
    pub context: String,
    pub record_on_feature: String,
    pub record_off_feature: String,
    /// Empty → `<Not set>`.
    pub subscribe_context: String,
    pub language: String,
    /// Empty → `<Not set>`.
    pub tonezone: String,
    /// Line omitted when empty.
    pub accountcode: String,
    /// `ast_channel_amaflags2string`: `Unknown`, `Omit`, `Billing`, `Documentation`.
    pub ama_flags: String,
    /// `open`, `closed`, `strict`.
    pub transfer_mode: String,
    /// `ast_describe_caller_presentation`, e.g. `Presentation Allowed, Not Screened`.
    pub calling_pres: String,
    /// Line omitted when empty.
    pub fromuser: String,
    /// Line omitted when empty.
    pub fromdomain: String,
    /// 0 → 5060.
    pub fromdomain_port: u16,
    /// `ast_print_group` text (`1,3-4`), may be empty.
    pub callgroup: String,
    pub pickupgroup: String,
    pub named_callgroups: String,
    pub named_pickupgroups: String,
    pub moh_suggest: String,
    /// Comma-separated mailboxes.
    pub mailbox: String,
    pub vm_extension: String,
    pub last_msgs_sent_new: u32,
    pub last_msgs_sent_old: u32,
    pub call_limit: i32,
    pub max_forwards: i32,
    /// Line omitted when 0.
    pub busy_level: i32,
    pub dynamic: bool,
    pub callerid_name: String,
    pub callerid_num: String,
    pub max_call_bitrate: i32,
    /// Seconds until the registration expires, -1 when none (`ast_sched_when`).
    pub expire: i64,
    /// `no`, `port`, `invite`, `port,invite`.
    pub insecure: String,
    pub force_rport: NatSetting,
    pub symmetric_rtp: NatSetting,
    pub acl: bool,
    pub contact_acl: bool,
    pub direct_media_acl: bool,
    pub t38_support: bool,
    /// `None`, `FEC`, `Redundancy`, `Unknown`.
    pub t38_ec_mode: String,
    pub t38_maxdatagram: u32,
    pub direct_media: bool,
    pub promisc_redir: bool,
    pub user_phone: bool,
    pub video_support: bool,
    pub text_support: bool,
    pub ignore_sdp_version: bool,
    pub trust_rpid: bool,
    pub send_rpid: bool,
    pub path_support: bool,
    /// Stored Path header route; line omitted when `None`.
    pub path: Option<String>,
    /// `Legacy`, `No`, `Yes`.
    pub trust_id_outbound: String,
    pub subscriptions: bool,
    /// `Yes`, `No`, `DTMF`.
    pub overlap_dial: String,
    /// `Some((name, forced))`; line omitted when `None`; empty name → `<not set>`.
    pub outbound_proxy: Option<(String, bool)>,
    /// `rfc2833`, `info`, `shortinfo`, `inband`, `auto`.
    pub dtmf_mode: String,
    pub timer_t1: i32,
    pub timer_b: i32,
    pub to_host: String,
    /// `ast_sockaddr_stringify` text (`1.2.3.4:5060`, `(null)` when unset).
    pub addr: String,
    pub defaddr: String,
    /// `UDP`, `TCP`, `TLS`, `WS`, `WSS`.
    pub primary_transport: String,
    /// `UDP,TCP`.
    pub allowed_transports: String,
    /// `Some` only when `regcontext` is set (prints `Reg. exten`).
    pub reg_exten: Option<String>,
    pub default_username: String,
    /// SIP option tags the peer supports (`replaces`, `timer`, ...); empty → `(none)`.
    pub sip_options: Vec<String>,
    /// `(ulaw|alaw)`.
    pub codecs: String,
    pub auto_framing: bool,
    pub status: PeerStatus,
    pub useragent: String,
    pub reg_contact: String,
    pub qualify_freq_ms: i32,
    /// Seconds (printed as ms, like chan_sip).
    pub keepalive_secs: i32,
    /// `setvar=` channel variables.
    pub variables: Vec<(String, String)>,
    /// `Accept`, `Originate`, `Refuse`.
    pub session_timers: String,
    /// `uas`, `uac`.
    pub session_refresher: String,
    pub session_expires: i32,
    pub min_session: i32,
    pub rtp_engine: String,
    pub parkinglot: String,
    pub use_reason: bool,
    pub encryption: bool,
    pub rtcp_mux: bool,
}

/// `ast_callerid_merge` as chan_sip calls it (name and number are never NULL there, so
/// an unset caller ID prints `"" <>`).
fn callerid_merge(name: &str, num: &str) -> String {
    format!("\"{name}\" <{num}>")
}

/// `sip show peer NAME`: the detail block (unknown peer: [`format_peer_not_found`]).
pub fn format_peer(p: &PeerDetail) -> String {
    let mut o = String::from("\n\n");
    macro_rules! l {
        ($($arg:tt)*) => {{ let _ = writeln!(o, $($arg)*); }};
    }
    l!("  * Name       : {}", p.name);
    l!("  Description  : {}", p.description);
    if let Some(cached) = p.realtime {
        l!(
            "  Realtime peer: {}",
            if cached { "Yes, cached" } else { "No" }
        );
    }
    let set = |b: bool| if b { "<Set>" } else { "<Not set>" };
    l!("  Secret       : {}", set(p.secret_set));
    l!("  MD5Secret    : {}", set(p.md5secret_set));
    l!("  Remote Secret: {}", set(p.remote_secret_set));
    for a in &p.realm_auth {
        l!("  Realm-auth   : {}", a.line());
    }
    l!("  Context      : {}", p.context);
    l!("  Record On feature : {}", p.record_on_feature);
    l!("  Record Off feature : {}", p.record_off_feature);
    l!(
        "  Subscr.Cont. : {}",
        or_else(&p.subscribe_context, "<Not set>")
    );
    l!("  Language     : {}", p.language);
    l!("  Tonezone     : {}", or_else(&p.tonezone, "<Not set>"));
    if !p.accountcode.is_empty() {
        l!("  Accountcode  : {}", p.accountcode);
    }
    l!("  AMA flags    : {}", p.ama_flags);
    l!("  Transfer mode: {}", p.transfer_mode);
    l!("  CallingPres  : {}", p.calling_pres);
    if !p.fromuser.is_empty() {
        l!("  FromUser     : {}", p.fromuser);
    }
    if !p.fromdomain.is_empty() {
        let port = if p.fromdomain_port == 0 {
            5060
        } else {
            p.fromdomain_port
        };
        l!("  FromDomain   : {} Port {}", p.fromdomain, port);
    }
    l!("  Callgroup    : {}", p.callgroup);
    l!("  Pickupgroup  : {}", p.pickupgroup);
    l!("  Named Callgr : {}", p.named_callgroups);
    l!("  Nam. Pickupgr: {}", p.named_pickupgroups);
    l!("  MOH Suggest  : {}", p.moh_suggest);
    l!("  Mailbox      : {}", p.mailbox);
    l!("  VM Extension : {}", p.vm_extension);
    l!(
        "  LastMsgsSent : {}/{}",
        p.last_msgs_sent_new.min(0x7fff),
        p.last_msgs_sent_old.min(0xffff)
    );
    l!("  Call limit   : {}", p.call_limit);
    l!("  Max forwards : {}", p.max_forwards);
    if p.busy_level != 0 {
        l!("  Busy level   : {}", p.busy_level);
    }
    l!("  Dynamic      : {}", yes_no(p.dynamic));
    l!(
        "  Callerid     : {}",
        callerid_merge(&p.callerid_name, &p.callerid_num)
    );
    l!("  MaxCallBR    : {} kbps", p.max_call_bitrate);
    l!("  Expire       : {}", p.expire);
    l!("  Insecure     : {}", p.insecure);
    l!("  Force rport  : {}", p.force_rport.as_str());
    l!("  Symmetric RTP: {}", p.symmetric_rtp.as_str());
    l!("  ACL          : {}", yes_no(p.acl));
    l!("  ContactACL   : {}", yes_no(p.contact_acl));
    l!("  DirectMedACL : {}", yes_no(p.direct_media_acl));
    l!("  T.38 support : {}", yes_no(p.t38_support));
    l!("  T.38 EC mode : {}", p.t38_ec_mode);
    l!("  T.38 MaxDtgrm: {}", p.t38_maxdatagram);
    l!("  DirectMedia  : {}", yes_no(p.direct_media));
    l!("  PromiscRedir : {}", yes_no(p.promisc_redir));
    l!("  User=Phone   : {}", yes_no(p.user_phone));
    l!("  Video Support: {}", yes_no(p.video_support));
    l!("  Text Support : {}", yes_no(p.text_support));
    l!("  Ign SDP ver  : {}", yes_no(p.ignore_sdp_version));
    l!("  Trust RPID   : {}", yes_no(p.trust_rpid));
    l!("  Send RPID    : {}", yes_no(p.send_rpid));
    l!("  Path support : {}", yes_no(p.path_support));
    if let Some(path) = &p.path {
        l!("  Path         : {}", path);
    }
    l!("  TrustIDOutbnd: {}", p.trust_id_outbound);
    l!("  Subscriptions: {}", yes_no(p.subscriptions));
    l!("  Overlap dial : {}", p.overlap_dial);
    if let Some((name, forced)) = &p.outbound_proxy {
        l!(
            "  Outb. proxy  : {} {}",
            or_else(name, "<not set>"),
            if *forced { "(forced)" } else { "" }
        );
    }
    l!("  DTMFmode     : {}", p.dtmf_mode);
    l!("  Timer T1     : {}", p.timer_t1);
    l!("  Timer B      : {}", p.timer_b);
    l!("  ToHost       : {}", p.to_host);
    l!("  Addr->IP     : {}", p.addr);
    l!("  Defaddr->IP  : {}", p.defaddr);
    l!("  Prim.Transp. : {}", p.primary_transport);
    l!("  Allowed.Trsp : {}", p.allowed_transports);
    if let Some(r) = &p.reg_exten {
        l!("  Reg. exten   : {}", r);
    }
    l!("  Def. Username: {}", p.default_username);
    // "  SIP Options  : " then "%s " per option, or "(none)", then "\n".
    o.push_str("  SIP Options  : ");
    if p.sip_options.is_empty() {
        o.push_str("(none)");
    } else {
        for opt in &p.sip_options {
            o.push_str(opt);
            o.push(' ');
        }
    }
    o.push('\n');
    l!("  Codecs       : {}", p.codecs);
    l!("  Auto-Framing : {}", yes_no(p.auto_framing));
    l!("  Status       : {}", p.status.text());
    l!("  Useragent    : {}", p.useragent);
    l!("  Reg. Contact : {}", p.reg_contact);
    l!("  Qualify Freq : {} ms", p.qualify_freq_ms);
    l!(
        "  Keepalive    : {} ms",
        p.keepalive_secs.saturating_mul(1000)
    );
    if !p.variables.is_empty() {
        l!("  Variables    :");
        for (k, v) in &p.variables {
            l!("                 {} = {}", k, v);
        }
    }
    l!("  Sess-Timers  : {}", p.session_timers);
    l!("  Sess-Refresh : {}", p.session_refresher);
    l!("  Sess-Expires : {} secs", p.session_expires);
    l!("  Min-Sess     : {} secs", p.min_session);
    l!("  RTP Engine   : {}", p.rtp_engine);
    l!("  Parkinglot   : {}", p.parkinglot);
    l!("  Use Reason   : {}", yes_no(p.use_reason));
    l!("  Encryption   : {}", yes_no(p.encryption));
    l!("  RTCP Mux     : {}", yes_no(p.rtcp_mux));
    o.push('\n');
    o
}

/// `sip show peer NAME` for an unknown peer: `Peer NAME not found.` and a blank line.
pub fn format_peer_not_found(name: &str) -> String {
    format!("Peer {name} not found.\n\n")
}

// ---------------------------------------------------------------------------------------
// sip show registry
// ---------------------------------------------------------------------------------------

/// State of an outbound registration (chan_sip's `regstate2str()`), shared with the
/// registration client.
pub use crate::sip::regclient::RegState;

/// One `register =>` line of `sip show registry`.
#[derive(Debug, Clone, Default)]
pub struct RegistryRow {
    pub hostname: String,
    /// 0 → 5060.
    pub port: u16,
    /// Host is resolved through the DNS manager (`Y`/`N`).
    pub dnsmgr: bool,
    pub username: String,
    /// Shown as `user@regdomain` when set.
    pub regdomain: String,
    /// Shown as `user@regdomain:port` when non-zero.
    pub regdomain_port: u16,
    /// Refresh interval in seconds.
    pub refresh: i32,
    pub state: RegState,
    /// Time of the last successful registration, already formatted as chan_sip does
    /// (`%a, %d %b %Y %T`, local time: `Mon, 23 Nov 2026 17:55:19`); empty if never.
    pub reg_time: String,
}

/// `sip show registry`.
pub fn format_registry(rows: &[RegistryRow]) -> String {
    // FORMAT2 "%-39.39s %-6.6s %-12.12s  %8.8s %-20.20s %-25.25s\n"
    // FORMAT  "%-39.39s %-6.6s %-12.12s  %8d %-20.20s %-25.25s\n"
    let mut out = format!(
        "{} {} {}  {} {} {}\n",
        col("Host", 39),
        col("dnsmgr", 6),
        col("Username", 12),
        rcol("Refresh", 8),
        col("State", 20),
        col("Reg.Time", 25)
    );
    for r in rows {
        let host = format!("{}:{}", r.hostname, if r.port == 0 { 5060 } else { r.port });
        let mut user = r.username.clone();
        if !r.regdomain.is_empty() {
            user = format!("{user}@{}", r.regdomain);
        }
        if r.regdomain_port != 0 {
            user = format!("{user}:{}", r.regdomain_port);
        }
        let _ = writeln!(
            out,
            "{} {} {}  {:>8} {} {}",
            col(&host, 39),
            col(if r.dnsmgr { "Y" } else { "N" }, 6),
            col(&user, 12),
            r.refresh,
            col(r.state.as_str(), 20),
            col(&r.reg_time, 25)
        );
    }
    let _ = writeln!(out, "{} SIP registrations.", rows.len());
    out
}

// ---------------------------------------------------------------------------------------
// sip show channels
// ---------------------------------------------------------------------------------------

/// One dialog line of `sip show channels`.
#[derive(Debug, Clone, Default)]
pub struct SipChannelRow {
    /// Remote IP (no port).
    pub peer_addr: String,
    /// Auth username, else caller ID number; both empty → `(None)`.
    pub username: String,
    pub cid_num: String,
    pub call_id: String,
    /// Native formats of the owner channel (`(ulaw)`); `None` (no owner) → `(nothing)`.
    pub format: Option<String>,
    pub on_hold: bool,
    /// Dialog scheduled for destruction (`(d)`).
    pub need_destroy: bool,
    /// Last SIP method/response seen (`Rx: ACK`, `Tx: INVITE`...).
    pub last_message: String,
    /// REFER status (the column chan_sip labels `Expiry`); empty when no transfer.
    pub refer_status: String,
    /// Matched peer; `None` → `<guest>`.
    pub peer_name: Option<String>,
}

/// `sip show channels`.
///
/// The footer is chan_sip's (Asterisk 11+) `N active SIP dialog(s)`; Asterisk 1.4/1.6
/// said `channel` instead.
pub fn format_channels(rows: &[SipChannelRow]) -> String {
    // FORMAT2 "%-15.15s  %-15.15s  %-15.15s  %-15.15s  %-7.7s  %-15.15s %-10.10s %-10.10s\n"
    let mut out = format!(
        "{}  {}  {}  {}  {}  {} {} {}\n",
        col("Peer", 15),
        col("User/ANR", 15),
        col("Call ID", 15),
        col("Format", 15),
        col("Hold", 7),
        col("Last Message", 15),
        col("Expiry", 10),
        col("Peer", 10)
    );
    for c in rows {
        // FORMAT "%-15.15s  %-15.15s  %-15.15s  %-15.15s  %-3.3s %-3.3s  %-15.15s %-10.10s %-10.10s\n"
        let user = or_else(&c.username, or_else(&c.cid_num, "(None)"));
        let _ = writeln!(
            out,
            "{}  {}  {}  {}  {} {}  {} {} {}",
            col(&c.peer_addr, 15),
            col(user, 15),
            col(&c.call_id, 15),
            col(c.format.as_deref().unwrap_or("(nothing)"), 15),
            col(yes_no(c.on_hold), 3),
            col(if c.need_destroy { "(d)" } else { "" }, 3),
            col(&c.last_message, 15),
            col(&c.refer_status, 10),
            col(c.peer_name.as_deref().unwrap_or("<guest>"), 10)
        );
    }
    let n = rows.len() as u64;
    let _ = writeln!(out, "{n} active SIP dialog{}", ess(n));
    out
}

// ---------------------------------------------------------------------------------------
// sip show users / sip show inuse
// ---------------------------------------------------------------------------------------

/// One `type=user`/`type=friend` entry of `sip show users`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserRow {
    pub name: String,
    /// Printed in clear, as chan_sip does.
    pub secret: String,
    pub accountcode: String,
    pub context: String,
    pub acl: bool,
    pub force_rport: bool,
}

/// `sip show users`: chan_sip's table (no footer line).
pub fn format_users(rows: &[UserRow]) -> String {
    // FORMAT "%-25.25s  %-15.15s  %-15.15s  %-15.15s  %-5.5s%-10.10s\n"
    let line = |o: &mut String, a: &str, b: &str, c: &str, d: &str, e: &str, f: &str| {
        let _ = writeln!(
            o,
            "{}  {}  {}  {}  {}{}",
            col(a, 25),
            col(b, 15),
            col(c, 15),
            col(d, 15),
            col(e, 5),
            col(f, 10)
        );
    };
    let mut out = String::new();
    line(
        &mut out,
        "Username",
        "Secret",
        "Accountcode",
        "Def.Context",
        "ACL",
        "Forcerport",
    );
    for u in rows {
        line(
            &mut out,
            &u.name,
            &u.secret,
            &u.accountcode,
            &u.context,
            yes_no(u.acl),
            yes_no(u.force_rport),
        );
    }
    out
}

/// One peer of `sip show inuse`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InuseRow {
    pub name: String,
    pub inuse: u32,
    pub ringing: u32,
    pub onhold: u32,
    /// `call-limit`; `None` (not set) prints `N/A`.
    pub call_limit: Option<u32>,
}

/// `sip show inuse [all]`: peers with a call-limit (all with `all`), their
/// in use/ringing/on hold counters and the limit.
pub fn format_inuse(rows: &[InuseRow], all: bool) -> String {
    // FORMAT "%-25.25s %-15.15s %-15.15s \n"
    let mut out = format!(
        "{} {} {} \n",
        col("* Peer name", 25),
        col("In use", 15),
        col("Limit", 15)
    );
    for r in rows {
        let limit = match r.call_limit {
            Some(n) if n > 0 => n.to_string(),
            _ => "N/A".to_string(),
        };
        if all || limit != "N/A" {
            let _ = writeln!(
                out,
                "{} {} {} ",
                col(&r.name, 25),
                col(&format!("{}/{}/{}", r.inuse, r.ringing, r.onhold), 15),
                col(&limit, 15)
            );
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// sip show settings
// ---------------------------------------------------------------------------------------

/// What `sip show settings` prints. Addresses are preformatted
/// (`ast_sockaddr_stringify`: `0.0.0.0:5060`, `[::]:5060`).
#[derive(Debug, Clone, Default)]
pub struct SettingsView {
    // -- Global Settings --
    /// `udpbindaddr` with port (this is where chan_sip shows the SIP port).
    pub udp_bindaddr: String,
    /// The UDP bind address is the IPv6 wildcard (adds the `[::]` note).
    pub udp_bind_ipv6_any: bool,
    /// `None` → `Disabled`.
    pub tcp_bindaddr: Option<String>,
    pub tls_bindaddr: Option<String>,
    pub rtp_bindaddr: Option<String>,
    pub videosupport: bool,
    pub textsupport: bool,
    pub ignore_sdp_version: bool,
    /// `Off`, `On`, `Persist`.
    pub autocreate_peer: String,
    pub match_auth_username: bool,
    /// `allowguest`.
    pub allow_guest: bool,
    pub allow_subscribe: bool,
    /// `Yes`, `No`, `DTMF`.
    pub allow_overlap: String,
    pub promisc_redir: bool,
    pub call_counter: bool,
    /// Any `domain=` configured.
    pub domain_support: bool,
    /// ferrisk: `autodomain` (printed right after `SIP domain support`).
    pub auto_domain: bool,
    pub path_support: bool,
    /// `[authentication]` credentials (`Realm. auth` lines).
    pub realm_auth: Vec<RealmAuth>,
    pub realm: String,
    pub domains_as_realm: bool,
    pub allow_external_domains: bool,
    pub user_eq_phone: bool,
    pub always_auth_reject: bool,
    /// ferrisk: `accept_outofcall_message`.
    pub accept_outofcall_message: bool,
    /// ferrisk: `outofcall_message_context`.
    pub outofcall_message_context: String,
    /// ferrisk: `auth_message_requests`.
    pub auth_message_requests: bool,
    pub direct_rtp_setup: bool,
    pub user_agent: String,
    /// Empty → `-`.
    pub sdp_session: String,
    pub sdp_owner: String,
    /// Empty → `(not set)`.
    pub reg_context: String,
    pub regexten_on_qualify: bool,
    pub trust_rpid: bool,
    pub send_rpid: bool,
    pub legacy_userfield_parsing: bool,
    pub send_diversion: bool,
    pub send_oli: bool,
    pub from_tags_inside: bool,
    pub caller_id: String,
    pub from_domain: String,
    /// Shown as `domain:port` when non-zero and not 5060.
    pub from_domain_port: u16,
    pub record_history: bool,
    pub auth_failure_events: bool,
    pub t38_support: bool,
    pub t38_ec_mode: String,
    pub t38_maxdatagram: u32,
    pub qualify_freq_ms: i32,
    pub q850_reason: bool,
    pub store_sip_cause: bool,
    // -- Network QoS Settings --
    pub tos_sip: String,
    pub tos_audio: String,
    pub tos_video: String,
    pub tos_text: String,
    pub cos_sip: u32,
    pub cos_audio: u32,
    pub cos_video: u32,
    pub cos_text: u32,
    pub jb_enabled: bool,
    pub jb_forced: bool,
    pub jb_max_size: i64,
    pub jb_resync: i64,
    /// `fixed`, `adaptive`.
    pub jb_impl: String,
    pub jb_target_extra: i64,
    pub jb_log: bool,
    // -- Network Settings --
    /// `localnet=` entries as (address, netmask).
    pub localnet: Vec<(String, String)>,
    /// `None` → `(null)` and remapping `Disabled`.
    pub externaddr: Option<String>,
    /// Empty → `<none>`.
    pub externhost: String,
    pub externrefresh: i32,
    // -- Global Signalling Settings --
    pub codecs: String,
    pub relax_dtmf: bool,
    pub rfc2833_compensate: bool,
    pub symmetric_rtp: NatSetting,
    pub compact_headers: bool,
    pub rtp_keepalive: i32,
    pub rtp_timeout: i32,
    pub rtp_hold_timeout: i32,
    pub mwi_mime_type: String,
    pub srv_lookup: bool,
    pub pedantic: bool,
    /// `minexpiry`.
    pub min_expiry: i32,
    /// `maxexpiry`.
    pub max_expiry: i32,
    /// `defaultexpiry`.
    pub default_expiry: i32,
    /// ferrisk: contacts kept per address of record.
    pub max_contacts_per_aor: u32,
    /// ferrisk: REGISTER requests accepted per second per address of record.
    pub max_register_per_sec_per_aor: u32,
    pub min_subexpiry: i32,
    pub max_subexpiry: i32,
    pub reg_timeout: i32,
    pub reg_attempts: i32,
    pub reg_retry_403: bool,
    pub notify_ringing: bool,
    /// `notifyringing=notinuse`.
    pub notify_ringing_not_in_use: bool,
    pub notify_cid: bool,
    /// `notifycid=ignore-context`.
    pub notify_cid_ignore_context: bool,
    pub notify_hold: bool,
    pub transfer_mode: String,
    pub max_call_bitrate: i32,
    pub auto_framing: bool,
    /// Empty → `<not set>`.
    pub outbound_proxy: String,
    pub outbound_proxy_forced: bool,
    pub session_timers: String,
    pub session_refresher: String,
    pub session_expires: i32,
    pub session_min_se: i32,
    pub timer_t1: i32,
    pub timer_t1_min: i32,
    pub timer_b: i32,
    pub no_premature_media: bool,
    pub max_forwards: i32,
    // -- Default Settings --
    pub allowed_transports: String,
    pub outbound_transport: String,
    pub context: String,
    pub record_on_feature: String,
    pub record_off_feature: String,
    pub force_rport: NatSetting,
    pub dtmf_mode: String,
    pub qualify: i32,
    pub keepalive: i32,
    pub use_client_code: bool,
    /// `Never`, `Yes`, `No`.
    pub progress_inband: String,
    pub language: String,
    /// Empty → `<Not set>`.
    pub tone_zone: String,
    pub moh_interpret: String,
    pub moh_suggest: String,
    pub vm_exten: String,
    pub rtcp_mux: bool,
    // -- Realtime SIP Settings (block shown when either is set) --
    pub rt_peers: bool,
    pub rt_regs: bool,
    pub rt_cache_friends: bool,
    pub rt_update: bool,
    pub rt_ignore_regexpire: bool,
    pub rt_save_sysname: bool,
    pub rt_save_path: bool,
    pub rt_autoclear: i32,
    pub rt_autoclear_enabled: bool,
}

/// `sip show settings`.
///
/// Labels, order and the 26-column value alignment are chan_sip's (Asterisk 13+). Lines
/// for ferrisk settings chan_sip does not print (Auto-Domain, the out-of-call MESSAGE
/// trio, Max contacts per AOR, Max REGISTER/s per AOR) use the same layout next to
/// their closest chan_sip relatives.
pub fn format_settings(s: &SettingsView) -> String {
    let mut o = String::new();
    macro_rules! l {
        ($($arg:tt)*) => {{ let _ = writeln!(o, $($arg)*); }};
    }
    let dis = |v: &Option<String>| v.clone().unwrap_or_else(|| "Disabled".into());
    o.push_str("\n\nGlobal Settings:\n");
    o.push_str("----------------\n");
    l!("  UDP Bindaddress:        {}", s.udp_bindaddr);
    if s.udp_bind_ipv6_any {
        l!("  ** Additional Info:");
        l!("     [::] may include IPv4 in addition to IPv6, if such a feature is enabled in the OS.");
    }
    l!("  TCP SIP Bindaddress:    {}", dis(&s.tcp_bindaddr));
    l!("  TLS SIP Bindaddress:    {}", dis(&s.tls_bindaddr));
    l!("  RTP Bindaddress:        {}", dis(&s.rtp_bindaddr));
    l!("  Videosupport:           {}", yes_no(s.videosupport));
    l!("  Textsupport:            {}", yes_no(s.textsupport));
    l!("  Ignore SDP sess. ver.:  {}", yes_no(s.ignore_sdp_version));
    l!("  AutoCreate Peer:        {}", s.autocreate_peer);
    l!(
        "  Match Auth Username:    {}",
        yes_no(s.match_auth_username)
    );
    l!("  Allow unknown access:   {}", yes_no(s.allow_guest));
    l!("  Allow subscriptions:    {}", yes_no(s.allow_subscribe));
    l!("  Allow overlap dialing:  {}", s.allow_overlap);
    l!("  Allow promisc. redir:   {}", yes_no(s.promisc_redir));
    l!("  Enable call counters:   {}", yes_no(s.call_counter));
    l!("  SIP domain support:     {}", yes_no(s.domain_support));
    l!("  Auto-Domain:            {}", yes_no(s.auto_domain));
    l!("  Path support :          {}", yes_no(s.path_support));
    l!(
        "  Realm. auth:            {}",
        yes_no(!s.realm_auth.is_empty())
    );
    for a in &s.realm_auth {
        l!("  Realm. auth entry:      {}", a.line());
    }
    l!("  Our auth realm          {}", s.realm);
    l!("  Use domains as realms:  {}", yes_no(s.domains_as_realm));
    l!(
        "  Call to non-local dom.: {}",
        yes_no(s.allow_external_domains)
    );
    l!("  URI user is phone no:   {}", yes_no(s.user_eq_phone));
    l!("  Always auth rejects:    {}", yes_no(s.always_auth_reject));
    l!(
        "  Accept Out-Of-Call MESSAGEs: {}",
        yes_no(s.accept_outofcall_message)
    );
    l!("  Out-Of-Call MSG context: {}", s.outofcall_message_context);
    l!(
        "  Auth MESSAGE requests:  {}",
        yes_no(s.auth_message_requests)
    );
    l!("  Direct RTP setup:       {}", yes_no(s.direct_rtp_setup));
    l!("  User Agent:             {}", s.user_agent);
    l!("  SDP Session Name:       {}", or_else(&s.sdp_session, "-"));
    l!("  SDP Owner Name:         {}", or_else(&s.sdp_owner, "-"));
    l!(
        "  Reg. context:           {}",
        or_else(&s.reg_context, "(not set)")
    );
    l!(
        "  Regexten on Qualify:    {}",
        yes_no(s.regexten_on_qualify)
    );
    l!("  Trust RPID:             {}", yes_no(s.trust_rpid));
    l!("  Send RPID:              {}", yes_no(s.send_rpid));
    l!(
        "  Legacy userfield parse: {}",
        yes_no(s.legacy_userfield_parsing)
    );
    l!("  Send Diversion:         {}", yes_no(s.send_diversion));
    l!("  Send OLI:               {}", yes_no(s.send_oli));
    l!("  From Tags Inside:       {}", yes_no(s.from_tags_inside));
    l!("  Caller ID:              {}", s.caller_id);
    if s.from_domain_port != 0 && s.from_domain_port != 5060 {
        l!(
            "  From: Domain:           {}:{}",
            s.from_domain,
            s.from_domain_port
        );
    } else {
        l!("  From: Domain:           {}", s.from_domain);
    }
    l!("  Record SIP history:     {}", on_off(s.record_history));
    l!(
        "  Auth. Failure Events:   {}",
        on_off(s.auth_failure_events)
    );
    l!("  T.38 support:           {}", yes_no(s.t38_support));
    l!("  T.38 EC mode:           {}", s.t38_ec_mode);
    l!("  T.38 MaxDtgrm:          {}", s.t38_maxdatagram);
    l!(
        "  SIP realtime:           {}",
        if s.rt_peers || s.rt_regs {
            "Enabled"
        } else {
            "Disabled"
        }
    );
    l!("  Qualify Freq :          {} ms", s.qualify_freq_ms);
    l!("  Q.850 Reason header:    {}", yes_no(s.q850_reason));
    l!("  Store SIP_CAUSE:        {}", yes_no(s.store_sip_cause));

    o.push_str("\nNetwork QoS Settings:\n");
    o.push_str("---------------------------\n");
    l!("  IP ToS SIP:             {}", s.tos_sip);
    l!("  IP ToS RTP audio:       {}", s.tos_audio);
    l!("  IP ToS RTP video:       {}", s.tos_video);
    l!("  IP ToS RTP text:        {}", s.tos_text);
    l!("  802.1p CoS SIP:         {}", s.cos_sip);
    l!("  802.1p CoS RTP audio:   {}", s.cos_audio);
    l!("  802.1p CoS RTP video:   {}", s.cos_video);
    l!("  802.1p CoS RTP text:    {}", s.cos_text);
    l!("  Jitterbuffer enabled:   {}", yes_no(s.jb_enabled));
    if s.jb_enabled {
        l!("  Jitterbuffer forced:    {}", yes_no(s.jb_forced));
        l!("  Jitterbuffer max size:  {}", s.jb_max_size);
        l!("  Jitterbuffer resync:    {}", s.jb_resync);
        l!("  Jitterbuffer impl:      {}", s.jb_impl);
        if s.jb_impl.eq_ignore_ascii_case("adaptive") {
            l!("  Jitterbuffer tgt extra: {}", s.jb_target_extra);
        }
        l!("  Jitterbuffer log:       {}", yes_no(s.jb_log));
    }

    o.push_str("\nNetwork Settings:\n");
    o.push_str("---------------------------\n");
    let remap = if s.localnet.is_empty() {
        "Disabled, no localnet list"
    } else if s.externaddr.is_none() {
        "Disabled"
    } else if !s.externhost.is_empty() {
        "Enabled using externhost"
    } else {
        "Enabled using externaddr"
    };
    l!("  SIP address remapping:  {}", remap);
    l!(
        "  Externhost:             {}",
        or_else(&s.externhost, "<none>")
    );
    l!(
        "  Externaddr:             {}",
        s.externaddr.as_deref().unwrap_or("(null)")
    );
    l!("  Externrefresh:          {}", s.externrefresh);
    for (i, (addr, mask)) in s.localnet.iter().enumerate() {
        // "  %-24s%s/%s\n" with the prefix only on the first entry
        let prefix = if i == 0 { "Localnet:" } else { "" };
        l!("  {}{}/{}", pad(prefix, 24), addr, mask);
    }

    o.push_str("\nGlobal Signalling Settings:\n");
    o.push_str("---------------------------\n");
    let disabled = |v: i32| if v == 0 { "(Disabled)" } else { "" };
    l!("  Codecs:                 {}", s.codecs);
    l!("  Relax DTMF:             {}", yes_no(s.relax_dtmf));
    l!("  RFC2833 Compensation:   {}", yes_no(s.rfc2833_compensate));
    l!("  Symmetric RTP:          {}", s.symmetric_rtp.as_str());
    l!("  Compact SIP headers:    {}", yes_no(s.compact_headers));
    l!(
        "  RTP Keepalive:          {} {}",
        s.rtp_keepalive,
        disabled(s.rtp_keepalive)
    );
    l!(
        "  RTP Timeout:            {} {}",
        s.rtp_timeout,
        disabled(s.rtp_timeout)
    );
    l!(
        "  RTP Hold Timeout:       {} {}",
        s.rtp_hold_timeout,
        disabled(s.rtp_hold_timeout)
    );
    l!("  MWI NOTIFY mime type:   {}", s.mwi_mime_type);
    l!("  DNS SRV lookup:         {}", yes_no(s.srv_lookup));
    l!("  Pedantic SIP support:   {}", yes_no(s.pedantic));
    // (sic: chan_sip has no colon after "Reg. min duration" / "Sub. min duration")
    l!("  Reg. min duration       {} secs", s.min_expiry);
    l!("  Reg. max duration:      {} secs", s.max_expiry);
    l!("  Reg. default duration:  {} secs", s.default_expiry);
    l!("  Max contacts per AOR:   {}", s.max_contacts_per_aor);
    l!(
        "  Max REGISTER/s per AOR: {}",
        s.max_register_per_sec_per_aor
    );
    l!("  Sub. min duration       {} secs", s.min_subexpiry);
    l!("  Sub. max duration:      {} secs", s.max_subexpiry);
    l!("  Outbound reg. timeout:  {} secs", s.reg_timeout);
    l!("  Outbound reg. attempts: {}", s.reg_attempts);
    l!("  Outbound reg. retry 403:{}", yes_no(s.reg_retry_403));
    l!(
        "  Notify ringing state:   {}{}",
        yes_no(s.notify_ringing),
        if s.notify_ringing && s.notify_ringing_not_in_use {
            " (when not in use)"
        } else {
            ""
        }
    );
    if s.notify_ringing {
        l!(
            "    Include CID:          {}{}",
            yes_no(s.notify_cid),
            if s.notify_cid && s.notify_cid_ignore_context {
                " (Ignoring context)"
            } else {
                ""
            }
        );
    }
    l!("  Notify hold state:      {}", yes_no(s.notify_hold));
    l!("  SIP Transfer mode:      {}", s.transfer_mode);
    l!("  Max Call Bitrate:       {} kbps", s.max_call_bitrate);
    l!("  Auto-Framing:           {}", yes_no(s.auto_framing));
    l!(
        "  Outb. proxy:            {} {}",
        or_else(&s.outbound_proxy, "<not set>"),
        if s.outbound_proxy_forced {
            "(forced)"
        } else {
            ""
        }
    );
    l!("  Session Timers:         {}", s.session_timers);
    l!("  Session Refresher:      {}", s.session_refresher);
    l!("  Session Expires:        {} secs", s.session_expires);
    l!("  Session Min-SE:         {} secs", s.session_min_se);
    l!("  Timer T1:               {}", s.timer_t1);
    l!("  Timer T1 minimum:       {}", s.timer_t1_min);
    l!("  Timer B:                {}", s.timer_b);
    l!("  No premature media:     {}", yes_no(s.no_premature_media));
    l!("  Max forwards:           {}", s.max_forwards);

    o.push_str("\nDefault Settings:\n");
    o.push_str("-----------------\n");
    l!("  Allowed transports:     {}", s.allowed_transports);
    // (sic: chan_sip's format has a TAB here)
    l!("  Outbound transport:\t  {}", s.outbound_transport);
    l!("  Context:                {}", s.context);
    l!("  Record on feature:      {}", s.record_on_feature);
    l!("  Record off feature:     {}", s.record_off_feature);
    l!("  Force rport:            {}", s.force_rport.as_str());
    l!("  DTMF:                   {}", s.dtmf_mode);
    l!("  Qualify:                {}", s.qualify);
    l!("  Keepalive:              {}", s.keepalive);
    l!("  Use ClientCode:         {}", yes_no(s.use_client_code));
    l!("  Progress inband:        {}", s.progress_inband);
    l!("  Language:               {}", s.language);
    l!(
        "  Tone zone:              {}",
        or_else(&s.tone_zone, "<Not set>")
    );
    l!("  MOH Interpret:          {}", s.moh_interpret);
    l!("  MOH Suggest:            {}", s.moh_suggest);
    l!("  Voice Mail Extension:   {}", s.vm_exten);
    l!("  RTCP Multiplexing:      {}", yes_no(s.rtcp_mux));

    if s.rt_peers || s.rt_regs {
        o.push_str("\nRealtime SIP Settings:\n");
        o.push_str("----------------------\n");
        l!("  Realtime Peers:         {}", yes_no(s.rt_peers));
        l!("  Realtime Regs:          {}", yes_no(s.rt_regs));
        l!("  Cache Friends:          {}", yes_no(s.rt_cache_friends));
        l!("  Update:                 {}", yes_no(s.rt_update));
        l!(
            "  Ignore Reg. Expire:     {}",
            yes_no(s.rt_ignore_regexpire)
        );
        l!("  Save sys. name:         {}", yes_no(s.rt_save_sysname));
        l!("  Save path header:       {}", yes_no(s.rt_save_path));
        l!(
            "  Auto Clear:             {} ({})",
            s.rt_autoclear,
            if s.rt_autoclear_enabled {
                "Enabled"
            } else {
                "Disabled"
            }
        );
    }
    o.push_str("\n----\n");
    o
}

// ---------------------------------------------------------------------------------------
// sip set debug / message dumps
// ---------------------------------------------------------------------------------------

/// `sip set debug on`: `SIP Debugging enabled` (`re-enabled` when it already was on).
pub fn format_debug_on(was_on: bool) -> String {
    format!("SIP Debugging {}enabled\n", if was_on { "re-" } else { "" })
}

/// `sip set debug off`.
pub fn format_debug_off() -> String {
    "SIP Debugging Disabled\n".into()
}

/// `sip set debug ip ADDR` / `sip set debug peer NAME` once the address is known. `addr` is
/// the address as chan_sip prints it (`1.2.3.4`, or `1.2.3.4:5060` when a port was given).
pub fn format_debug_ip(addr: &str) -> String {
    format!("SIP Debugging Enabled for IP: {addr}\n")
}

/// `sip set debug peer NAME` for an unknown peer.
pub fn format_debug_no_such_peer(name: &str) -> String {
    format!("No such peer '{name}'\n")
}

/// `sip set debug peer NAME` for a peer without an address.
pub fn format_debug_peer_no_addr(name: &str) -> String {
    format!("Unable to get IP address of peer '{name}'\n")
}

/// A received message while debugging:
/// `\n<--- SIP read from UDP:1.2.3.4:5060 --->\n{msg}\n<------------->\n`.
/// `transport` is `UDP`, `TCP`, `TLS`, `WS` or `WSS`; `addr` is `ip:port`.
pub fn format_debug_read(transport: &str, addr: &str, msg: &str) -> String {
    format!("\n<--- SIP read from {transport}:{addr} --->\n{msg}\n<------------->\n")
}

/// A transmitted response while debugging (chan_sip's `send_response`):
/// `\n<--- Transmitting (no NAT) to 1.2.3.4:5060 --->\n{msg}\n<------------>\n`, with
/// `Reliably ` in front of `Transmitting` for retransmitted (reliable) ones and `NAT`
/// instead of `no NAT` when force_rport is in effect.
pub fn format_debug_transmit(reliable: bool, nat: bool, addr: &str, msg: &str) -> String {
    format!(
        "\n<--- {}Transmitting ({}) to {addr} --->\n{msg}\n<------------>\n",
        if reliable { "Reliably " } else { "" },
        if nat { "NAT" } else { "no NAT" }
    )
}

/// A transmitted request while debugging (chan_sip's `send_request` uses a different,
/// terser frame): `{Reliably }Transmitting (no NAT) to 1.2.3.4:5060:\n{msg}\n---\n`.
pub fn format_debug_transmit_request(reliable: bool, nat: bool, addr: &str, msg: &str) -> String {
    format!(
        "{}Transmitting ({}) to {addr}:\n{msg}\n---\n",
        if reliable { "Reliably " } else { "" },
        if nat { "NAT" } else { "no NAT" }
    )
}

// ---------------------------------------------------------------------------------------
// sip qualify peer / sip reload / sip unregister
// ---------------------------------------------------------------------------------------

/// `sip qualify peer NAME` for an unknown peer (a known peer prints nothing: the OPTIONS
/// ping is just sent).
pub fn format_qualify_not_found(name: &str) -> String {
    format!("Peer '{name}' not found\n")
}

/// `sip reload` while the previous reload is still running (otherwise nothing is printed;
/// the reload is queued).
pub fn format_reload_in_progress() -> String {
    "Previous SIP reload not yet done\n".into()
}

/// `sip unregister PEER` outcomes.
pub fn format_unregistered(name: &str) -> String {
    format!("Unregistered peer '{name}'\n\n")
}

pub fn format_unregister_not_registered(name: &str) -> String {
    format!("Peer {name} not registered\n")
}

pub fn format_unregister_unknown(name: &str) -> String {
    format!("Peer unknown: '{name}'. Not unregistered.\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_table_as_chan_sip() {
        let rows = vec![UserRow {
            name: "1001".into(),
            secret: "s1001".into(),
            accountcode: "".into(),
            context: "internal".into(),
            acl: false,
            force_rport: true,
        }];
        assert_eq!(
            format_users(&rows),
            format!(
                "{:<25}  {:<15}  {:<15}  {:<15}  {:<5}{:<10}\n{:<25}  {:<15}  {:<15}  {:<15}  {:<5}{:<10}\n",
                "Username", "Secret", "Accountcode", "Def.Context", "ACL", "Forcerport",
                "1001", "s1001", "", "internal", "No", "Yes"
            )
        );
    }

    #[test]
    fn inuse_table_as_chan_sip() {
        let rows = vec![
            InuseRow {
                name: "1001".into(),
                inuse: 1,
                ringing: 0,
                onhold: 0,
                call_limit: Some(2),
            },
            InuseRow {
                name: "1000".into(),
                ..InuseRow::default()
            },
        ];
        let head = format!("{:<25} {:<15} {:<15} \n", "* Peer name", "In use", "Limit");
        let l1001 = format!("{:<25} {:<15} {:<15} \n", "1001", "1/0/0", "2");
        let l1000 = format!("{:<25} {:<15} {:<15} \n", "1000", "0/0/0", "N/A");
        assert_eq!(format_inuse(&rows, false), format!("{head}{l1001}"));
        assert_eq!(format_inuse(&rows, true), format!("{head}{l1001}{l1000}"));
    }

    /// Build a padded line from (text, width) pairs joined by `sep`, to write the expected
    /// strings column by column without counting spaces by hand.
    fn cols(parts: &[(&str, usize)], sep: &str) -> String {
        parts
            .iter()
            .map(|(s, w)| format!("{s:<w$}"))
            .collect::<Vec<_>>()
            .join(sep)
    }

    #[test]
    fn peers_header_matches_asterisk_sample() {
        // Verbatim header of a real `sip show peers` (no realtime: trailing "Description"
        // padded to 32, then " " and the empty realtime column).
        let out = format_peers(&[]);
        let header = out.lines().next().unwrap();
        assert_eq!(
            header,
            "Name/username             Host                                    Dyn Forcerport Comedia    ACL Port     Status      Description                      "
        );
        assert_eq!(
            out.lines().nth(1).unwrap(),
            "0 sip peers [Monitored: 0 online, 0 offline Unmonitored: 0 online, 0 offline]"
        );
    }

    #[test]
    fn peers_rows_and_footer() {
        let rows = vec![
            // Unregistered dynamic peer, unmonitored → unmonitored offline.
            PeerRow {
                name: "chhiny".into(),
                dynamic: true,
                force_rport: NatSetting::AutoNo,
                ..Default::default()
            },
            // Registered, qualified OK, with username and ACL → monitored online.
            PeerRow {
                name: "998".into(),
                username: "998".into(),
                host: Some("192.168.0.19".into()),
                port: 47464,
                dynamic: true,
                acl: true,
                status: PeerStatus::Ok(10),
                ..Default::default()
            },
            // Static trunk, unreachable → monitored offline.
            PeerRow {
                name: "trunk".into(),
                host: Some("10.0.0.1".into()),
                port: 5060,
                force_rport: NatSetting::Yes,
                comedia: NatSetting::Yes,
                status: PeerStatus::Unreachable,
                description: "Carrier".into(),
                ..Default::default()
            },
            PeerRow {
                name: "lag".into(),
                host: Some("10.0.0.2".into()),
                port: 5062,
                status: PeerStatus::Lagged(2500),
                ..Default::default()
            },
            PeerRow {
                name: "unk".into(),
                host: Some("10.0.0.3".into()),
                port: 5060,
                status: PeerStatus::Unknown,
                ..Default::default()
            },
            // Registered, unmonitored → unmonitored online.
            PeerRow {
                name: "amine".into(),
                username: "amine".into(),
                host: Some("192.168.1.110".into()),
                port: 57837,
                dynamic: true,
                force_rport: NatSetting::AutoYes,
                ..Default::default()
            },
        ];
        let out = format_peers(&rows);
        let lines: Vec<&str> = out.lines().collect();
        // Columns: name/username 25, host 39, dyn 3, forcerport 10, comedia 10, acl 3,
        // port 8, status 11, description 32, realtime (unpadded, empty).
        let row = |f: [&str; 9]| {
            cols(
                &[
                    (f[0], 25),
                    (f[1], 39),
                    (f[2], 3),
                    (f[3], 10),
                    (f[4], 10),
                    (f[5], 3),
                    (f[6], 8),
                    (f[7], 11),
                    (f[8], 32),
                    ("", 0),
                ],
                " ",
            )
        };
        // Sorted by strcmp: "998" < "amine" < "chhiny" < "lag" < "trunk" < "unk".
        assert_eq!(lines.len(), 8);
        assert_eq!(
            lines[1],
            row([
                "998/998",
                "192.168.0.19",
                " D ",
                "No",
                "No",
                " A ",
                "47464",
                "OK (10 ms)",
                ""
            ])
        );
        // Cross-check against the verbatim line from a real Asterisk.
        assert_eq!(
            lines[1].trim_end(),
            "998/998                   192.168.0.19                             D  No         No          A  47464    OK (10 ms)"
        );
        assert_eq!(
            lines[2],
            row([
                "amine/amine",
                "192.168.1.110",
                " D ",
                "Auto (Yes)",
                "No",
                "   ",
                "57837",
                "Unmonitored",
                ""
            ])
        );
        assert_eq!(
            lines[3],
            "chhiny                    (Unspecified)                            D  Auto (No)  No             0        Unmonitored                                  "
        );
        assert_eq!(
            lines[4],
            row([
                "lag",
                "10.0.0.2",
                "   ",
                "No",
                "No",
                "   ",
                "5062",
                "LAGGED (2500 ms)",
                ""
            ])
        );
        assert_eq!(
            lines[5],
            row([
                "trunk",
                "10.0.0.1",
                "   ",
                "Yes",
                "Yes",
                "   ",
                "5060",
                "UNREACHABLE",
                "Carrier"
            ])
        );
        assert!(lines[6].starts_with("unk "));
        assert!(lines[6].contains(" UNKNOWN "));
        assert_eq!(
            lines[7],
            "6 sip peers [Monitored: 2 online, 2 offline Unmonitored: 1 online, 1 offline]"
        );
    }

    #[test]
    fn peers_truncate_long_fields() {
        let out = format_peers(&[PeerRow {
            name: "a-very-long-peer-name-that-overflows".into(),
            host: Some("h".into()),
            port: 1,
            description: "d".repeat(40),
            ..Default::default()
        }]);
        let l = out.lines().nth(1).unwrap();
        assert!(l.starts_with("a-very-long-peer-name-tha h "));
        assert!(l.ends_with(&format!("{} ", "d".repeat(32))));
    }

    fn sample_peer() -> PeerDetail {
        PeerDetail {
            name: "1000".into(),
            secret_set: true,
            context: "from-internal".into(),
            record_on_feature: "automixmon".into(),
            record_off_feature: "automixmon".into(),
            language: "en".into(),
            ama_flags: "Unknown".into(),
            transfer_mode: "open".into(),
            calling_pres: "Presentation Allowed, Not Screened".into(),
            callgroup: "1".into(),
            mailbox: "1000@default".into(),
            vm_extension: "asterisk".into(),
            last_msgs_sent_new: 2,
            last_msgs_sent_old: 5,
            call_limit: 2147483647,
            max_forwards: 70,
            dynamic: true,
            callerid_name: "Alice".into(),
            callerid_num: "1000".into(),
            max_call_bitrate: 384,
            expire: 3597,
            insecure: "no".into(),
            force_rport: NatSetting::AutoNo,
            symmetric_rtp: NatSetting::No,
            t38_ec_mode: "Unknown".into(),
            overlap_dial: "Yes".into(),
            trust_id_outbound: "Legacy".into(),
            subscriptions: true,
            dtmf_mode: "rfc2833".into(),
            timer_t1: 500,
            timer_b: 32000,
            addr: "192.168.1.10:5060".into(),
            defaddr: "(null)".into(),
            primary_transport: "UDP".into(),
            allowed_transports: "UDP".into(),
            default_username: "1000".into(),
            codecs: "(ulaw|alaw)".into(),
            status: PeerStatus::Ok(4),
            useragent: "Linphone/5.0".into(),
            reg_contact: "sip:1000@192.168.1.10:5060".into(),
            qualify_freq_ms: 60000,
            variables: vec![("FOO".into(), "bar".into())],
            session_timers: "Accept".into(),
            session_refresher: "uas".into(),
            session_expires: 1800,
            min_session: 90,
            rtp_engine: "asterisk".into(),
            ..Default::default()
        }
    }

    #[test]
    fn peer_detail_block() {
        // The block starts with two blank lines and ends with one.
        let lines = [
            r#"  * Name       : 1000"#,
            r#"  Description  : "#,
            r#"  Secret       : <Set>"#,
            r#"  MD5Secret    : <Not set>"#,
            r#"  Remote Secret: <Not set>"#,
            r#"  Context      : from-internal"#,
            r#"  Record On feature : automixmon"#,
            r#"  Record Off feature : automixmon"#,
            r#"  Subscr.Cont. : <Not set>"#,
            r#"  Language     : en"#,
            r#"  Tonezone     : <Not set>"#,
            r#"  AMA flags    : Unknown"#,
            r#"  Transfer mode: open"#,
            r#"  CallingPres  : Presentation Allowed, Not Screened"#,
            r#"  Callgroup    : 1"#,
            r#"  Pickupgroup  : "#,
            r#"  Named Callgr : "#,
            r#"  Nam. Pickupgr: "#,
            r#"  MOH Suggest  : "#,
            r#"  Mailbox      : 1000@default"#,
            r#"  VM Extension : asterisk"#,
            r#"  LastMsgsSent : 2/5"#,
            r#"  Call limit   : 2147483647"#,
            r#"  Max forwards : 70"#,
            r#"  Dynamic      : Yes"#,
            r#"  Callerid     : "Alice" <1000>"#,
            r#"  MaxCallBR    : 384 kbps"#,
            r#"  Expire       : 3597"#,
            r#"  Insecure     : no"#,
            r#"  Force rport  : Auto (No)"#,
            r#"  Symmetric RTP: No"#,
            r#"  ACL          : No"#,
            r#"  ContactACL   : No"#,
            r#"  DirectMedACL : No"#,
            r#"  T.38 support : No"#,
            r#"  T.38 EC mode : Unknown"#,
            r#"  T.38 MaxDtgrm: 0"#,
            r#"  DirectMedia  : No"#,
            r#"  PromiscRedir : No"#,
            r#"  User=Phone   : No"#,
            r#"  Video Support: No"#,
            r#"  Text Support : No"#,
            r#"  Ign SDP ver  : No"#,
            r#"  Trust RPID   : No"#,
            r#"  Send RPID    : No"#,
            r#"  Path support : No"#,
            r#"  TrustIDOutbnd: Legacy"#,
            r#"  Subscriptions: Yes"#,
            r#"  Overlap dial : Yes"#,
            r#"  DTMFmode     : rfc2833"#,
            r#"  Timer T1     : 500"#,
            r#"  Timer B      : 32000"#,
            r#"  ToHost       : "#,
            r#"  Addr->IP     : 192.168.1.10:5060"#,
            r#"  Defaddr->IP  : (null)"#,
            r#"  Prim.Transp. : UDP"#,
            r#"  Allowed.Trsp : UDP"#,
            r#"  Def. Username: 1000"#,
            r#"  SIP Options  : (none)"#,
            r#"  Codecs       : (ulaw|alaw)"#,
            r#"  Auto-Framing : No"#,
            r#"  Status       : OK (4 ms)"#,
            r#"  Useragent    : Linphone/5.0"#,
            r#"  Reg. Contact : sip:1000@192.168.1.10:5060"#,
            r#"  Qualify Freq : 60000 ms"#,
            r#"  Keepalive    : 0 ms"#,
            r#"  Variables    :"#,
            r#"                 FOO = bar"#,
            r#"  Sess-Timers  : Accept"#,
            r#"  Sess-Refresh : uas"#,
            r#"  Sess-Expires : 1800 secs"#,
            r#"  Min-Sess     : 90 secs"#,
            r#"  RTP Engine   : asterisk"#,
            r#"  Parkinglot   : "#,
            r#"  Use Reason   : No"#,
            r#"  Encryption   : No"#,
            r#"  RTCP Mux     : No"#,
            r#""#,
        ];
        let expected = format!("\n\n{}\n", lines.join("\n"));
        assert_eq!(format_peer(&sample_peer()), expected);
    }

    #[test]
    fn peer_detail_optional_lines() {
        let mut p = sample_peer();
        p.realtime = Some(false);
        p.accountcode = "acct".into();
        p.fromuser = "fu".into();
        p.fromdomain = "example.com".into();
        p.busy_level = 3;
        p.path = Some("<sip:proxy>".into());
        p.outbound_proxy = Some((String::new(), true));
        p.reg_exten = Some("1000".into());
        p.sip_options = vec!["replaces".into(), "timer".into()];
        p.realm_auth = vec![RealmAuth {
            realm: "example.com".into(),
            username: "bob".into(),
            md5secret_set: true,
            ..Default::default()
        }];
        p.callerid_name.clear();
        p.callerid_num.clear();
        let out = format_peer(&p);
        for want in [
            "  Description  : \n  Realtime peer: No\n  Secret       : <Set>\n",
            "  Remote Secret: <Not set>\n  Realm-auth   : Realm example.com     User bob        <MD5secret set>\n  Context      : from-internal\n",
            "  Tonezone     : <Not set>\n  Accountcode  : acct\n  AMA flags    : Unknown\n",
            "  CallingPres  : Presentation Allowed, Not Screened\n  FromUser     : fu\n  FromDomain   : example.com Port 5060\n  Callgroup    : 1\n",
            "  Max forwards : 70\n  Busy level   : 3\n  Dynamic      : Yes\n",
            "  Callerid     : \"\" <>\n",
            "  Path support : No\n  Path         : <sip:proxy>\n  TrustIDOutbnd: Legacy\n",
            "  Overlap dial : Yes\n  Outb. proxy  : <not set> (forced)\n  DTMFmode     : rfc2833\n",
            "  Allowed.Trsp : UDP\n  Reg. exten   : 1000\n  Def. Username: 1000\n",
            "  SIP Options  : replaces timer \n",
        ] {
            assert!(out.contains(want), "missing {want:?} in\n{out}");
        }
        assert_eq!(format_peer_not_found("9999"), "Peer 9999 not found.\n\n");
    }

    #[test]
    fn registry_table() {
        let rows = vec![
            RegistryRow {
                hostname: "sip.provider.net".into(),
                dnsmgr: true,
                username: "12345".into(),
                refresh: 105,
                state: RegState::Registered,
                reg_time: "Mon, 23 Nov 2026 17:55:19".into(),
                ..Default::default()
            },
            RegistryRow {
                hostname: "10.1.1.1".into(),
                port: 5070,
                username: "user".into(),
                regdomain: "example.com".into(),
                regdomain_port: 5080,
                refresh: 120,
                state: RegState::RequestSent,
                ..Default::default()
            },
        ];
        let out = format_registry(&rows);
        // Host 39, dnsmgr 6, Username 12, two spaces, Refresh right-aligned 8, State 20,
        // Reg.Time 25.
        let line = |h: &str, d: &str, u: &str, r: &str, s: &str, t: &str| {
            format!(
                "{}  {r:>8} {}\n",
                cols(&[(h, 39), (d, 6), (u, 12)], " "),
                cols(&[(s, 20), (t, 25)], " ")
            )
        };
        let expected = [
            line("Host", "dnsmgr", "Username", "Refresh", "State", "Reg.Time"),
            line(
                "sip.provider.net:5060",
                "Y",
                "12345",
                "105",
                "Registered",
                "Mon, 23 Nov 2026 17:55:19",
            ),
            // "user@example.com:5080" truncated to 12 characters
            line(
                "10.1.1.1:5070",
                "N",
                "user@example",
                "120",
                "Request Sent",
                "",
            ),
            "2 SIP registrations.\n".to_string(),
        ]
        .concat();
        assert_eq!(out, expected);
        assert_eq!(
            out.lines().next().unwrap(),
            "Host                                    dnsmgr Username       Refresh State                Reg.Time                 "
        );
        assert_eq!(
            format_registry(&[]).lines().nth(1),
            Some("0 SIP registrations.")
        );
    }

    #[test]
    fn channels_table() {
        let rows = vec![
            SipChannelRow {
                peer_addr: "192.168.1.10".into(),
                username: "1000".into(),
                call_id: "a84b4c76e66710-long-call-id".into(),
                format: Some("(ulaw)".into()),
                last_message: "Tx: ACK".into(),
                peer_name: Some("1000".into()),
                ..Default::default()
            },
            SipChannelRow {
                peer_addr: "10.0.0.9".into(),
                call_id: "x1".into(),
                on_hold: true,
                need_destroy: true,
                last_message: "Rx: BYE".into(),
                ..Default::default()
            },
        ];
        let out = format_channels(&rows);
        // Header: Peer 15, User/ANR 15, Call ID 15, Format 15 (two-space separators),
        // Hold 7, Last Message 15, then Expiry 10 and Peer 10 (one-space separators).
        let header = format!(
            "{}  {}\n",
            cols(
                &[
                    ("Peer", 15),
                    ("User/ANR", 15),
                    ("Call ID", 15),
                    ("Format", 15),
                    ("Hold", 7)
                ],
                "  "
            ),
            cols(&[("Last Message", 15), ("Expiry", 10), ("Peer", 10)], " ")
        );
        // Rows: the Hold column is "%-3.3s %-3.3s" (Yes/No, then "(d)" when being destroyed).
        let row = |f: [&str; 9]| {
            format!(
                "{}  {} {}  {}\n",
                cols(&[(f[0], 15), (f[1], 15), (f[2], 15), (f[3], 15)], "  "),
                cols(&[(f[4], 3)], ""),
                cols(&[(f[5], 3)], ""),
                cols(&[(f[6], 15), (f[7], 10), (f[8], 10)], " ")
            )
        };
        let expected = [
            header,
            row([
                "192.168.1.10",
                "1000",
                "a84b4c76e66710-",
                "(ulaw)",
                "No",
                "",
                "Tx: ACK",
                "",
                "1000",
            ]),
            row([
                "10.0.0.9",
                "(None)",
                "x1",
                "(nothing)",
                "Yes",
                "(d)",
                "Rx: BYE",
                "",
                "<guest>",
            ]),
            "2 active SIP dialogs\n".to_string(),
        ]
        .concat();
        assert_eq!(out, expected);
        assert!(format_channels(&[]).ends_with("\n0 active SIP dialogs\n"));
        let one = format_channels(&rows[..1]);
        assert!(one.ends_with("\n1 active SIP dialog\n"));
        // cid_num stands in for a missing username
        let mut r = rows[1].clone();
        r.cid_num = "555".into();
        assert!(format_channels(&[r]).contains("10.0.0.9         555   "));
    }

    #[test]
    fn settings_block() {
        let s = SettingsView {
            udp_bindaddr: "0.0.0.0:5060".into(),
            tcp_bindaddr: Some("0.0.0.0:5060".into()),
            autocreate_peer: "Off".into(),
            allow_guest: true,
            allow_subscribe: true,
            allow_overlap: "Yes".into(),
            realm: "asterisk".into(),
            always_auth_reject: true,
            accept_outofcall_message: true,
            outofcall_message_context: "messages".into(),
            auth_message_requests: true,
            user_agent: "ferrisk".into(),
            caller_id: "asterisk".into(),
            t38_ec_mode: "Unknown".into(),
            qualify_freq_ms: 60000,
            tos_sip: "CS3".into(),
            tos_audio: "EF".into(),
            tos_video: "AF41".into(),
            tos_text: "CS0".into(),
            cos_sip: 3,
            cos_audio: 5,
            cos_video: 4,
            cos_text: 3,
            localnet: vec![
                ("192.168.0.0".into(), "255.255.0.0".into()),
                ("10.0.0.0".into(), "255.0.0.0".into()),
            ],
            externaddr: Some("203.0.113.5:5060".into()),
            codecs: "(ulaw|alaw)".into(),
            rtp_hold_timeout: 300,
            mwi_mime_type: "application/simple-message-summary".into(),
            min_expiry: 60,
            max_expiry: 3600,
            default_expiry: 120,
            max_contacts_per_aor: 1,
            max_register_per_sec_per_aor: 5,
            notify_ringing: true,
            notify_ringing_not_in_use: true,
            max_forwards: 70,
            allowed_transports: "UDP,TCP".into(),
            outbound_transport: "UDP".into(),
            context: "public".into(),
            force_rport: NatSetting::Yes,
            dtmf_mode: "rfc2833".into(),
            progress_inband: "Never".into(),
            language: "en".into(),
            transfer_mode: "open".into(),
            session_timers: "Accept".into(),
            session_refresher: "uas".into(),
            session_expires: 1800,
            session_min_se: 90,
            timer_t1: 500,
            timer_t1_min: 100,
            timer_b: 32000,
            ..Default::default()
        };
        let out = format_settings(&s);
        assert!(out.starts_with(
            "\n\nGlobal Settings:\n----------------\n  UDP Bindaddress:        0.0.0.0:5060\n  TCP SIP Bindaddress:    0.0.0.0:5060\n  TLS SIP Bindaddress:    Disabled\n  RTP Bindaddress:        Disabled\n"
        ));
        assert!(out.ends_with("  RTCP Multiplexing:      No\n\n----\n"));
        for want in [
            "  Allow unknown access:   Yes\n",
            "  SIP domain support:     No\n  Auto-Domain:            No\n",
            "  Realm. auth:            No\n  Our auth realm          asterisk\n",
            "  Always auth rejects:    Yes\n  Accept Out-Of-Call MESSAGEs: Yes\n  Out-Of-Call MSG context: messages\n  Auth MESSAGE requests:  Yes\n",
            "  User Agent:             ferrisk\n  SDP Session Name:       -\n",
            "  Reg. context:           (not set)\n",
            "  Record SIP history:     Off\n",
            "  SIP realtime:           Disabled\n  Qualify Freq :          60000 ms\n",
            "\nNetwork QoS Settings:\n---------------------------\n  IP ToS SIP:             CS3\n",
            "  Jitterbuffer enabled:   No\n\nNetwork Settings:\n---------------------------\n",
            "  SIP address remapping:  Enabled using externaddr\n  Externhost:             <none>\n  Externaddr:             203.0.113.5:5060\n  Externrefresh:          0\n",
            "  Localnet:               192.168.0.0/255.255.0.0\n                          10.0.0.0/255.0.0.0\n",
            "  RTP Keepalive:          0 (Disabled)\n  RTP Timeout:            0 (Disabled)\n  RTP Hold Timeout:       300 \n",
            "  Reg. min duration       60 secs\n  Reg. max duration:      3600 secs\n  Reg. default duration:  120 secs\n  Max contacts per AOR:   1\n  Max REGISTER/s per AOR: 5\n",
            "  Outbound reg. retry 403:No\n",
            "  Notify ringing state:   Yes (when not in use)\n    Include CID:          No\n",
            "  Outb. proxy:            <not set> \n",
            "\nDefault Settings:\n-----------------\n  Allowed transports:     UDP,TCP\n  Outbound transport:\t  UDP\n  Context:                public\n",
            "  Force rport:            Yes\n",
            "  Tone zone:              <Not set>\n",
        ] {
            assert!(out.contains(want), "missing {want:?} in\n{out}");
        }
        assert!(!out.contains("Realtime SIP Settings"));
        // Every "  Label:   value" line in the plain blocks aligns values at column 26.
        assert!(out
            .lines()
            .filter(|l| l.starts_with("  Qualify Freq :") || l.starts_with("  Context:"))
            .all(|l| l.as_bytes()[25] == b' ' && l.as_bytes()[26] != b' '));

        let mut v = s.clone();
        v.udp_bindaddr = "[::]:5060".into();
        v.udp_bind_ipv6_any = true;
        v.localnet.clear();
        v.jb_enabled = true;
        v.jb_impl = "adaptive".into();
        v.rt_peers = true;
        let out = format_settings(&v);
        assert!(out.contains("  UDP Bindaddress:        [::]:5060\n  ** Additional Info:\n     [::] may include IPv4 in addition to IPv6, if such a feature is enabled in the OS.\n  TCP SIP"));
        assert!(out.contains("  SIP address remapping:  Disabled, no localnet list\n"));
        assert!(out.contains("  Jitterbuffer impl:      adaptive\n  Jitterbuffer tgt extra: 0\n  Jitterbuffer log:       No\n"));
        assert!(out.contains("  SIP realtime:           Enabled\n"));
        assert!(out.ends_with("  Auto Clear:             0 (Disabled)\n\n----\n"));
    }

    #[test]
    fn debug_messages() {
        assert_eq!(format_debug_on(false), "SIP Debugging enabled\n");
        assert_eq!(format_debug_on(true), "SIP Debugging re-enabled\n");
        assert_eq!(format_debug_off(), "SIP Debugging Disabled\n");
        assert_eq!(
            format_debug_ip("1.2.3.4:5060"),
            "SIP Debugging Enabled for IP: 1.2.3.4:5060\n"
        );
        assert_eq!(format_debug_no_such_peer("x"), "No such peer 'x'\n");
        assert_eq!(
            format_debug_peer_no_addr("x"),
            "Unable to get IP address of peer 'x'\n"
        );
        let msg = "OPTIONS sip:1000@1.2.3.4 SIP/2.0\r\nCall-ID: abc\r\n\r\n";
        assert_eq!(
            format_debug_read("UDP", "1.2.3.4:5060", msg),
            format!("\n<--- SIP read from UDP:1.2.3.4:5060 --->\n{msg}\n<------------->\n")
        );
        assert_eq!(
            format_debug_transmit(false, false, "1.2.3.4:5060", msg),
            format!("\n<--- Transmitting (no NAT) to 1.2.3.4:5060 --->\n{msg}\n<------------>\n")
        );
        assert_eq!(
            format_debug_transmit(true, true, "1.2.3.4:5060", "X"),
            "\n<--- Reliably Transmitting (NAT) to 1.2.3.4:5060 --->\nX\n<------------>\n"
        );
        assert_eq!(
            format_debug_transmit_request(true, false, "1.2.3.4:5060", "X"),
            "Reliably Transmitting (no NAT) to 1.2.3.4:5060:\nX\n---\n"
        );
    }

    #[test]
    fn misc_messages() {
        assert_eq!(format_qualify_not_found("bob"), "Peer 'bob' not found\n");
        assert_eq!(
            format_reload_in_progress(),
            "Previous SIP reload not yet done\n"
        );
        assert_eq!(format_unregistered("bob"), "Unregistered peer 'bob'\n\n");
        assert_eq!(
            format_unregister_not_registered("bob"),
            "Peer bob not registered\n"
        );
        assert_eq!(
            format_unregister_unknown("bob"),
            "Peer unknown: 'bob'. Not unregistered.\n"
        );
        assert_eq!(PeerStatus::Lagged(7).text(), "LAGGED (7 ms)");
        assert_eq!(NatSetting::AutoNo.as_str(), "Auto (No)");
    }
}
