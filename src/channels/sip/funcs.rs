//! chan_sip's dialplan functions and applications: `SIP_HEADER()` reads a header of a
//! call's INVITE, `SIPPEER()` a peer's settings and state; `SIPAddHeader()` and
//! `SIPRemoveHeader()` choose extra headers for the INVITEs a `Dial()` sends (kept, as in
//! Asterisk, in the inherited channel variables `__SIPADDHEADER01` … `50`).

use super::core::party::ADDHEADER_PREFIX;
use super::{show, SipShared, SipTech};
use crate::apps::{args, App, AppResult};
use crate::pbx::func::{Func, FuncError};
use crate::pbx::module::ModuleContext;
use crate::pbx::Channel;
use async_trait::async_trait;
use std::sync::{Arc, Weak};
use std::time::Instant;

/// Most headers `SIPAddHeader()` adds to one channel.
pub const MAX_ADDED_HEADERS: usize = 50;

pub fn register(ctx: &ModuleContext, sip: &Arc<SipShared>) {
    ctx.register_func(Arc::new(SipHeader {
        sip: Arc::downgrade(sip),
    }));
    ctx.register_func(Arc::new(SipHeaders {
        sip: Arc::downgrade(sip),
    }));
    ctx.register_func(Arc::new(SipPeer {
        sip: Arc::downgrade(sip),
    }));
    ctx.register_func(Arc::new(CheckSipDomain {
        sip: Arc::downgrade(sip),
    }));
    ctx.register_app(Arc::new(SipAddHeader));
    ctx.register_app(Arc::new(SipRemoveHeader));
}

/// chan_sip's id of a SIP channel; an error on a channel of another technology.
fn sip_chan_id(chan: &Channel) -> Result<u64, FuncError> {
    chan.tech
        .as_any()
        .and_then(|t| t.downcast_ref::<SipTech>())
        .map(|t| t.id)
        .ok_or_else(|| FuncError::Usage("This function can only be used on SIP channels.".into()))
}

struct SipHeader {
    sip: Weak<SipShared>,
}

/// `CHECKSIPDOMAIN(domain)`: the domain if it is one of ours (sip.conf `domain=`,
/// `autodomain`), else empty.
struct CheckSipDomain {
    sip: Weak<SipShared>,
}

impl Func for CheckSipDomain {
    fn name(&self) -> &'static str {
        "CHECKSIPDOMAIN"
    }
    fn synopsis(&self) -> &'static str {
        "Checks if domain is a local domain."
    }
    fn syntax(&self) -> &'static str {
        "CHECKSIPDOMAIN(domain)"
    }
    fn description(&self) -> &'static str {
        "This function checks if the domain in the argument is configured as a local SIP \
         domain that this Asterisk server is configured to handle. Returns the domain name \
         if it is locally handled, otherwise an empty string. Check the domain= \
         configuration in sip.conf."
    }
    fn read(&self, _chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        let d = a.trim();
        if d.is_empty() {
            return Err(FuncError::Usage(
                "CHECKSIPDOMAIN requires an argument - A domain name".into(),
            ));
        }
        let Some(sip) = self.sip.upgrade() else {
            return Ok(String::new());
        };
        let local = sip.core.lock().check_domain(d).is_some();
        Ok(if local { d.to_string() } else { String::new() })
    }
}

impl Func for SipHeader {
    fn name(&self) -> &'static str {
        "SIP_HEADER"
    }
    fn synopsis(&self) -> &'static str {
        "Gets the specified SIP header from an incoming INVITE message."
    }
    fn syntax(&self) -> &'static str {
        "SIP_HEADER(name[,number])"
    }
    fn description(&self) -> &'static str {
        "Since there are several headers (such as Via) which can occur multiple times, \
         SIP_HEADER takes an optional second argument to specify which header with that \
         name to retrieve. Headers start at offset 1. The contents of the SDP (an \
         attachment to the SIP request) can't be accessed with this function."
    }
    fn read(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        let parts = args::split(a, ',');
        let name = args::nth(&parts, 0).trim();
        if name.is_empty() {
            return Err(FuncError::Usage(
                "This function requires a header name.".into(),
            ));
        }
        let n = match args::nth(&parts, 1).trim() {
            "" => 1,
            s => s.parse::<usize>().unwrap_or(1).max(1),
        };
        let id = sip_chan_id(chan)?;
        let Some(sip) = self.sip.upgrade() else {
            return Ok(String::new());
        };
        let v = sip.core.lock().chan_invite_header(id, name, n);
        Ok(v.unwrap_or_default())
    }
}

struct SipHeaders {
    sip: Weak<SipShared>,
}

impl Func for SipHeaders {
    fn name(&self) -> &'static str {
        "SIP_HEADERS"
    }
    fn synopsis(&self) -> &'static str {
        "Gets the list of SIP header names from an incoming INVITE message."
    }
    fn syntax(&self) -> &'static str {
        "SIP_HEADERS([prefix])"
    }
    fn description(&self) -> &'static str {
        "Returns a comma-separated list of the header names (each once) of the incoming \
         INVITE; with prefix, only those starting with it (e.g. X-)."
    }
    fn read(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        let id = sip_chan_id(chan)?;
        let Some(sip) = self.sip.upgrade() else {
            return Ok(String::new());
        };
        let names = sip.core.lock().chan_invite_header_names(id, a.trim());
        Ok(names.unwrap_or_default().join(","))
    }
}

struct SipPeer {
    sip: Weak<SipShared>,
}

impl Func for SipPeer {
    fn name(&self) -> &'static str {
        "SIPPEER"
    }
    fn synopsis(&self) -> &'static str {
        "Gets SIP peer information."
    }
    fn syntax(&self) -> &'static str {
        "SIPPEER(peername[,item])"
    }
    fn description(&self) -> &'static str {
        "Items: ip (default): the IP address; port; mailbox; context; expire (seconds \
         until the registration expires); dynamic (yes/no); callerid_name; callerid_num; \
         callerid (name and number); codecs; status (as sip show peers); regexten; limit \
         (call limit); busylimit; curcalls (calls in progress); language; accountcode; \
         useragent; maxforwards; chanvar[name]; codec[x] (the xth preferred codec)."
    }
    fn read(&self, _chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        let parts = args::split(a, ',');
        let name = args::nth(&parts, 0).trim();
        if name.is_empty() {
            return Err(FuncError::Usage(
                "SIPPEER requires an argument (peername)".into(),
            ));
        }
        let item = match args::nth(&parts, 1).trim() {
            "" => "ip".to_string(),
            s => s.to_ascii_lowercase(),
        };
        let Some(sip) = self.sip.upgrade() else {
            return Ok(String::new());
        };
        let core = sip.core.lock();
        let Some(p) = core.cfg.peer(name).cloned() else {
            return Err(FuncError::Usage(format!("SIPPEER: no peer '{name}'")));
        };
        let now = Instant::now();
        let addr = show::peer_addr(&core, &p, now);
        let rt = core.peers_rt.get(&p.name);
        let codecs = if p.codecs.is_empty() {
            core.cfg.general.codecs.clone()
        } else {
            p.codecs.clone()
        };
        let cid_name = p.callerid.as_ref().and_then(|c| c.name.clone());
        let cid_num = p.callerid.as_ref().and_then(|c| c.number.clone());
        let out = match item.as_str() {
            "ip" => addr.map(|a| a.0).unwrap_or_default(),
            "port" => addr.map(|a| a.1.to_string()).unwrap_or_default(),
            "status" => show::status(&core, &p).text(),
            "language" => p.language.clone().unwrap_or_default(),
            "regexten" => String::new(),
            "limit" => p
                .call_limit
                .map(|c| c.to_string())
                .unwrap_or_else(|| "0".into()),
            "busylimit" => "0".into(),
            "curcalls" => rt.map(|r| r.inuse).unwrap_or(0).to_string(),
            "accountcode" => p.accountcode.clone().unwrap_or_default(),
            "callgroup" | "pickupgroup" => String::new(),
            "namedcallgroup" | "namedpickupgroup" => String::new(),
            "useragent" => rt.map(|r| r.useragent.clone()).unwrap_or_default(),
            "mailbox" => p
                .mailboxes
                .iter()
                .map(|m| format!("{}@{}", m.mailbox, m.context))
                .collect::<Vec<_>>()
                .join(","),
            "context" => p.context.clone(),
            "expire" => core
                .peer_contacts(&p.name, now)
                .first()
                .map(|c| c.2.to_string())
                .unwrap_or_else(|| "-1".into()),
            "dynamic" => if p.host == crate::channels::sipconf::Host::Dynamic {
                "yes"
            } else {
                "no"
            }
            .into(),
            "callerid_name" => cid_name.unwrap_or_default(),
            "callerid_num" => cid_num.unwrap_or_default(),
            "callerid" => crate::pbx::CallerId {
                name: cid_name,
                num: cid_num,
                ..Default::default()
            }
            .all(),
            "codecs" => format!("({})", codecs.join("|")),
            "encryption" => String::new(),
            "maxforwards" => "70".into(),
            other => {
                if other.starts_with("chanvar[") && other.ends_with(']') {
                    // ferrisk peers have no setvar= variables.
                    String::new()
                } else if let Some(i) = other
                    .strip_prefix("codec[")
                    .and_then(|r| r.strip_suffix(']'))
                {
                    i.trim()
                        .parse::<usize>()
                        .ok()
                        .and_then(|i| codecs.get(i).cloned())
                        .unwrap_or_default()
                } else {
                    return Err(FuncError::Usage(format!("SIPPEER: unknown item '{other}'")));
                }
            }
        };
        Ok(out)
    }
}

/// The numbered variables of the headers added so far (bare names, in number order).
fn added_vars(chan: &Channel) -> Vec<(String, String)> {
    chan.vars
        .iter()
        .filter(|(k, _)| k.len() > ADDHEADER_PREFIX.len() && k.starts_with(ADDHEADER_PREFIX))
        .map(|(k, v)| (k.to_string(), v.value.clone()))
        .collect()
}

struct SipAddHeader;

#[async_trait]
impl App for SipAddHeader {
    fn name(&self) -> &'static str {
        "SIPAddHeader"
    }
    fn synopsis(&self) -> &'static str {
        "Add a SIP header to the outbound call."
    }
    fn syntax(&self) -> &'static str {
        "SIPAddHeader(Header: Content)"
    }
    fn description(&self) -> &'static str {
        "Adds a header to a SIP call placed with DIAL. Remember to use the X-header if you \
         are adding non-standard SIP headers, like X-Asterisk-Accountcode:. Use this with \
         care. Adding the wrong headers may jeopardize the SIP dialog. Always returns 0."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let taken: Vec<String> = added_vars(chan).into_iter().map(|(k, _)| k).collect();
        let free = (1..=MAX_ADDED_HEADERS)
            .map(|n| format!("{ADDHEADER_PREFIX}{n:02}"))
            .find(|v| !taken.contains(v));
        match free {
            Some(v) => {
                chan.vars.set(&format!("__{v}"), data);
            }
            None => chan.pbx.warning(&format!(
                "chan_sip.c: Too many SIP headers added, max {MAX_ADDED_HEADERS}"
            )),
        }
        Ok(())
    }
}

struct SipRemoveHeader;

#[async_trait]
impl App for SipRemoveHeader {
    fn name(&self) -> &'static str {
        "SIPRemoveHeader"
    }
    fn synopsis(&self) -> &'static str {
        "Remove SIP headers previously added with SIPAddHeader"
    }
    fn syntax(&self) -> &'static str {
        "SIPRemoveHeader([Header])"
    }
    fn description(&self) -> &'static str {
        "SIPRemoveHeader() allows you to remove headers which were previously added with \
         SIPAddHeader(). If no parameter is supplied, all previously added headers will be \
         removed. If a parameter is supplied, only the matching headers will be removed \
         (those whose text starts with it, ignoring case: SIPRemoveHeader(P-) removes all \
         headers starting with P-)."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let prefix = data.trim().to_ascii_lowercase();
        for (k, v) in added_vars(chan) {
            if prefix.is_empty() || v.to_ascii_lowercase().starts_with(&prefix) {
                chan.vars.remove(&k);
            }
        }
        Ok(())
    }
}
