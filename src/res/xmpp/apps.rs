//! res_xmpp's dialplan side: JabberSend, JabberSendGroup, JabberJoin, JabberLeave,
//! JabberStatus (the old application, kept for dialplans written for Asterisk ≤ 11),
//! `JABBER_STATUS`, `JABBER_RECEIVE`, and the `xmpp` message technology of MessageSend.
//! Arguments, log lines and return values follow res_xmpp: bad arguments hang up (the
//! application fails), a connection that is down is a warning and the call goes on.

use super::client::Client;
use crate::apps::args;
use crate::pbx::app::{App, AppResult};
use crate::pbx::func::{Func, FuncError};
use crate::pbx::message::Msg;
use crate::pbx::module::ModuleContext;
use crate::pbx::tech::MessageTech;
use crate::pbx::{Channel, Hangup, Pbx};
use async_trait::async_trait;
use std::sync::{Arc, Weak};
use std::time::Duration;

pub fn register(ctx: &ModuleContext) {
    ctx.register_app(Arc::new(JabberSend));
    ctx.register_app(Arc::new(JabberSendGroup));
    ctx.register_app(Arc::new(JabberJoin));
    ctx.register_app(Arc::new(JabberLeave));
    ctx.register_app(Arc::new(JabberStatus));
    ctx.register_func(Arc::new(JabberStatusFunc));
    ctx.register_func(Arc::new(JabberReceive));
    ctx.register_msg_tech(Arc::new(XmppMsgTech {
        pbx: Arc::downgrade(&ctx.pbx),
    }));
}

fn client(pbx: &Pbx, name: &str) -> Option<Arc<Client>> {
    super::of(pbx).and_then(|x| x.client(name))
}

/// The nickname used in rooms when none is given: the account's user part.
fn default_nick(c: &Client) -> String {
    let cfg = c.config();
    let bare = cfg.bare_jid();
    bare.split_once('@')
        .map(|(u, _)| u.to_string())
        .unwrap_or_else(|| bare.to_string())
}

struct JabberSend;
#[async_trait]
impl App for JabberSend {
    fn name(&self) -> &'static str {
        "JabberSend"
    }
    fn synopsis(&self) -> &'static str {
        "Sends an XMPP message to a buddy."
    }
    fn syntax(&self) -> &'static str {
        "JabberSend(account,jid,message)"
    }
    fn description(&self) -> &'static str {
        "Sends the content of message as text message from the given account to the buddy \
         identified by jid. account is a connection of xmpp.conf; jid is a bare JID \
         (username@domain) or a full JID (username@domain/resource)."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let pbx = chan.pbx.clone();
        let a = args::split(data, ',');
        let (account, jid) = (args::nth(&a, 0).trim(), args::nth(&a, 1).trim());
        // The last argument keeps the rest, commas included (quotes are removed).
        let message = a.get(2..).map(|m| m.join(",")).unwrap_or_default();
        let message = message.as_str();
        if a.len() < 3 || message.is_empty() || !jid.contains('@') {
            pbx.warning("res_xmpp.c: JabberSend requires arguments (account,jid,message)");
            return Err(Hangup);
        }
        let Some(c) = client(&pbx, account) else {
            pbx.warning(&format!(
                "res_xmpp.c: Could not find sender connection: '{account}'"
            ));
            return Err(Hangup);
        };
        if let Err(why) = c.with_session(|s| s.send_message(jid, message, false)) {
            pbx.warning(&format!(
                "res_xmpp.c: [{}] Could not send message to '{jid}': {why}",
                c.name
            ));
        }
        Ok(())
    }
}

/// `sender,room[,…]` checks shared by the room applications: (client, room, rest).
fn room_args(
    pbx: &Pbx,
    app: &str,
    usage: &str,
    a: &[String],
    min: usize,
    max: usize,
) -> Option<(Arc<Client>, String)> {
    if a.len() < min || a.len() > max {
        pbx.error(&format!("res_xmpp.c: {app} requires arguments ({usage})"));
        return None;
    }
    let room = args::nth(a, 1).trim().to_string();
    if room.contains('/') {
        pbx.error("res_xmpp.c: Invalid room name : resource must not be appended");
        return None;
    }
    if room.is_empty() || !room.contains('@') {
        pbx.error(&format!(
            "res_xmpp.c: Problem with specified jid of '{room}'"
        ));
        return None;
    }
    let sender = args::nth(a, 0).trim();
    match client(pbx, sender) {
        Some(c) => Some((c, room)),
        None => {
            pbx.error(&format!(
                "res_xmpp.c: Could not find sender connection: '{sender}'"
            ));
            None
        }
    }
}

struct JabberSendGroup;
#[async_trait]
impl App for JabberSendGroup {
    fn name(&self) -> &'static str {
        "JabberSendGroup"
    }
    fn synopsis(&self) -> &'static str {
        "Send a Jabber Message to a specified chat room"
    }
    fn syntax(&self) -> &'static str {
        "JabberSendGroup(Jabber,RoomJID,Message[,Nickname])"
    }
    fn description(&self) -> &'static str {
        "Allows user to send a message to a chat room via XMPP. To be able to send messages \
         to a chat room, a user must have previously joined it. Use the JabberJoin function \
         to do so."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let pbx = chan.pbx.clone();
        let a = args::split(data, ',');
        let usage = "sender,groupchatid,message[,nickname]";
        let Some((c, room)) = room_args(&pbx, "JabberSendGroup", usage, &a, 3, 4) else {
            return Err(Hangup);
        };
        let message = args::nth(&a, 2);
        if message.is_empty() {
            pbx.error(&format!(
                "res_xmpp.c: JabberSendGroup requires arguments ({usage})"
            ));
            return Err(Hangup);
        }
        if let Err(why) = c.with_session(|s| s.send_message(&room, message, true)) {
            pbx.warning(&format!(
                "res_xmpp.c: [{}] Could not send message to room '{room}': {why}",
                c.name
            ));
        }
        Ok(())
    }
}

struct JabberJoin;
#[async_trait]
impl App for JabberJoin {
    fn name(&self) -> &'static str {
        "JabberJoin"
    }
    fn synopsis(&self) -> &'static str {
        "Join a chat room"
    }
    fn syntax(&self) -> &'static str {
        "JabberJoin(Jabber,RoomJID[,Nickname])"
    }
    fn description(&self) -> &'static str {
        "Allows Asterisk to join a chat room. If a different nickname is supplied to an \
         already joined room, the old nick will be changed to the new one."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let pbx = chan.pbx.clone();
        let a = args::split(data, ',');
        let Some((c, room)) = room_args(&pbx, "JabberJoin", "sender,jid[,nickname]", &a, 2, 3)
        else {
            return Err(Hangup);
        };
        let nick = match args::nth(&a, 2).trim() {
            "" => default_nick(&c),
            n => n.to_string(),
        };
        if let Err(why) = c.with_session(|s| s.join_room(&room, &nick)) {
            pbx.warning(&format!(
                "res_xmpp.c: [{}] Could not join room '{room}': {why}",
                c.name
            ));
        }
        Ok(())
    }
}

struct JabberLeave;
#[async_trait]
impl App for JabberLeave {
    fn name(&self) -> &'static str {
        "JabberLeave"
    }
    fn synopsis(&self) -> &'static str {
        "Leave a chat room"
    }
    fn syntax(&self) -> &'static str {
        "JabberLeave(Jabber,RoomJID[,Nickname])"
    }
    fn description(&self) -> &'static str {
        "Allows Asterisk to leave a chat room."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let pbx = chan.pbx.clone();
        let a = args::split(data, ',');
        let Some((c, room)) = room_args(&pbx, "JabberLeave", "sender,jid[,nickname]", &a, 2, 3)
        else {
            return Err(Hangup);
        };
        let nick = match args::nth(&a, 2).trim() {
            "" => default_nick(&c),
            n => n.to_string(),
        };
        if let Err(why) = c.with_session(|s| s.leave_room(&room, &nick)) {
            pbx.warning(&format!(
                "res_xmpp.c: [{}] Could not leave room '{room}': {why}",
                c.name
            ));
        }
        Ok(())
    }
}

/// `account,jid` → (client, jid) for the status readers; logs res_xmpp's complaints.
fn status_args(pbx: &Pbx, a: &[String], what: &str) -> Result<(Arc<Client>, String), String> {
    if a.len() != 2 && what == "JABBER_STATUS" {
        return Err("JABBER_STATUS requires 2 arguments: sender and jid.".into());
    }
    let jid = args::nth(a, 1).trim().to_string();
    if jid.is_empty() || jid.matches('/').count() > 1 {
        return Err(format!("Wrong JID {jid}, exiting"));
    }
    let sender = args::nth(a, 0).trim();
    let c = client(pbx, sender)
        .ok_or_else(|| format!("Could not find sender connection: '{sender}'"))?;
    Ok((c, jid))
}

struct JabberStatusFunc;
impl Func for JabberStatusFunc {
    fn name(&self) -> &'static str {
        "JABBER_STATUS"
    }
    fn synopsis(&self) -> &'static str {
        "Retrieves a buddy's status."
    }
    fn syntax(&self) -> &'static str {
        "JABBER_STATUS(account,jid)"
    }
    fn description(&self) -> &'static str {
        "Retrieves the numeric status associated with the buddy identified by jid: \
         1 Online, 2 Chatty, 3 Away, 4 Extended Away, 5 Do Not Disturb, 6 Offline, \
         7 Not In Roster. A bare JID gives the status of the highest-priority resource."
    }
    fn read(&self, chan: &mut Channel, data: &str) -> Result<String, FuncError> {
        if data.trim().is_empty() {
            chan.pbx
                .error("res_xmpp.c: Usage: JABBER_STATUS(<sender>,<jid>[/<resource>])");
            return Ok(String::new());
        }
        let a = args::split(data, ',');
        let (c, jid) = status_args(&chan.pbx, &a, "JABBER_STATUS").map_err(FuncError::Usage)?;
        Ok(c.with_session(|s| s.status_of(&jid)).to_string())
    }
}

struct JabberStatus;
#[async_trait]
impl App for JabberStatus {
    fn name(&self) -> &'static str {
        "JabberStatus"
    }
    fn synopsis(&self) -> &'static str {
        "Retrieve the status of a jabber list member"
    }
    fn syntax(&self) -> &'static str {
        "JabberStatus(Jabber,JID,Variable)"
    }
    fn description(&self) -> &'static str {
        "Retrieves the numeric status associated with the specified buddy (JID) and stores \
         it in Variable: 1 Online, 2 Chatty, 3 Away, 4 Extended Away, 5 Do Not Disturb, \
         6 Offline, 7 Not In Roster. Asterisk 12 removed this application in favour of \
         JABBER_STATUS(); ferrisk keeps it for older dialplans."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let pbx = chan.pbx.clone();
        let a = args::split(data, ',');
        let var = args::nth(&a, 2).trim().to_string();
        if a.len() != 3 || var.is_empty() {
            pbx.warning("res_xmpp.c: JabberStatus() requires arguments (sender,jid,variable)");
            return Err(Hangup);
        }
        match status_args(&pbx, &a[..2], "JabberStatus") {
            Ok((c, jid)) => {
                let st = c.with_session(|s| s.status_of(&jid));
                chan.vars.set(&var, st.to_string());
                Ok(())
            }
            Err(e) => {
                pbx.warning(&format!("res_xmpp.c: {e}"));
                Err(Hangup)
            }
        }
    }
}

struct JabberReceive;
#[async_trait]
impl Func for JabberReceive {
    fn name(&self) -> &'static str {
        "JABBER_RECEIVE"
    }
    fn synopsis(&self) -> &'static str {
        "Reads XMPP messages."
    }
    fn syntax(&self) -> &'static str {
        "JABBER_RECEIVE(account,jid[,timeout])"
    }
    fn description(&self) -> &'static str {
        "Receives a text message on the given account from the buddy identified by jid and \
         returns the contents; nothing on a time out. jid is a bare JID (any resource) or a \
         full JID. timeout is in seconds and defaults to 20. Messages that arrived before \
         the call count while they are younger than the connection's timeout (xmpp.conf, \
         5 s); the newest matching one is returned."
    }
    fn read(&self, _chan: &mut Channel, _data: &str) -> Result<String, FuncError> {
        Err(FuncError::Other(
            "JABBER_RECEIVE waits for a message and cannot be used here".into(),
        ))
    }
    fn is_async(&self) -> bool {
        true
    }
    async fn read_async(&self, chan: &mut Channel, data: &str) -> Result<String, FuncError> {
        let usage =
            || FuncError::Usage("JABBER_RECEIVE requires arguments (account,jid[,timeout])".into());
        if data.trim().is_empty() {
            return Err(usage());
        }
        let a = args::split(data, ',');
        if a.len() < 2 || a.len() > 3 {
            return Err(usage());
        }
        let jid = args::nth(&a, 1).trim().to_string();
        if jid.is_empty() || jid.matches('/').count() > 1 || jid.len() > 3071 {
            return Err(FuncError::Usage(format!("Invalid JID : {jid}")));
        }
        let timeout = match args::nth(&a, 2).trim() {
            "" => 20,
            t => match t.parse::<i64>() {
                Ok(n) if n > 0 => n as u64,
                _ => {
                    return Err(FuncError::Usage(format!(
                        "Invalid timeout specified: '{t}'"
                    )))
                }
            },
        };
        let account = args::nth(&a, 0).trim();
        let Some(c) = client(&chan.pbx, account) else {
            return Err(FuncError::Other(format!(
                "Could not find client {account}, exiting"
            )));
        };
        // Like Asterisk's autoservice the wait is not cut short by the caller's digits;
        // unlike it, a hangup ends the wait at once.
        let shared = chan.shared.clone();
        let got = c
            .receive(&jid, Duration::from_secs(timeout), shared.hungup())
            .await;
        match got {
            Some(body) => Ok(body),
            None => {
                chan.pbx.notice(&format!(
                    "res_xmpp.c: Timed out : no message received from {jid}"
                ));
                Ok(String::new())
            }
        }
    }
}

/// `MessageSend(xmpp:user@domain,XMPP:account)`.
struct XmppMsgTech {
    pbx: Weak<Pbx>,
}

impl MessageTech for XmppMsgTech {
    fn name(&self) -> &'static str {
        "xmpp"
    }
    fn send_message(&self, msg: &Msg, to: &str, from: &str) -> Result<(), String> {
        let pbx = self.pbx.upgrade().ok_or("res_xmpp.c: the PBX is gone")?;
        let from = if from.is_empty() {
            msg.from.as_str()
        } else {
            from
        };
        // The account is what follows the scheme (`XMPP:asterisk` → asterisk).
        let sender = from.split_once(':').map(|(_, s)| s).unwrap_or("");
        if sender.is_empty() {
            return Err(format!(
                "res_xmpp.c: MESSAGE(from) of '{from}' invalid for XMPP"
            ));
        }
        let Some(c) = client(&pbx, sender) else {
            return Err(format!(
                "res_xmpp.c: Could not finder account to send from as '{sender}'"
            ));
        };
        // A destination may still carry its scheme (`xmpp:bob@host`).
        let dest = to.strip_prefix("xmpp:").unwrap_or(to);
        c.with_session(|s| s.send_message(dest, &msg.body, false))
            .map_err(|why| format!("res_xmpp.c: Failed to send XMPP message ({why})."))
    }
}
