//! MWI subscriptions kept in AstDB (`SIP/Subscriptions/<peer>/<key>`), like registrations in
//! `SIP/Registry`, so a restart keeps them: the record holds the dialog (Call-ID, tags, URIs,
//! remote target, route set, both CSeqs, our Contact and Via), where NOTIFYs go and when the
//! subscription expires (wall-clock seconds: `Instant`s do not survive a restart).
//!
//! Pure encode/decode; the core queues the writes ([`super::Action::DbPut`]) and the driver
//! reads the family back at start-up, off the async workers.

use super::MwiSub;
use crate::sip::dialog::{Dialog, DialogId, DialogState};
use crate::sip::registrar::DbValueError;
use crate::sip::uri::{NameAddr, SipUri};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// AstDB family of MWI subscriptions (`SIP/Subscriptions/<peer>/<key>`).
pub const SUB_DB_FAMILY: &str = "SIP/Subscriptions";
const VERSION: u64 = 1;

/// The family of `peer`'s subscriptions.
pub fn sub_family(peer: &str) -> String {
    format!("{SUB_DB_FAMILY}/{peer}")
}

/// The key of a subscription: its Call-ID hashed (Call-IDs may hold `/`).
pub fn sub_key(call_id: &str) -> String {
    super::contact_key(call_id)
}

impl MwiSub {
    /// Whole seconds left (rounded up), 0 once expired.
    pub fn remaining(&self, now: Instant) -> u64 {
        let d = self.expires_at.saturating_duration_since(now);
        d.as_secs() + u64::from(d.subsec_nanos() > 0)
    }

    /// The AstDB value (JSON); `now_unix` is the Unix time matching `now`.
    pub fn to_db_value(&self, now: Instant, now_unix: u64) -> String {
        let d = &self.dialog;
        let routes: Vec<String> = d.route_set.iter().map(ToString::to_string).collect();
        json!({
            "v": VERSION,
            "peer": self.peer,
            "expiry": now_unix + self.remaining(now),
            "expires": self.expires,
            "exten": self.exten,
            "dest": self.dest.to_string(),
            "call_id": d.id.call_id,
            "local_tag": d.id.local_tag,
            "remote_tag": d.id.remote_tag,
            "local_uri": d.local_uri.to_string(),
            "remote_uri": d.remote_uri.to_string(),
            "remote_target": d.remote_target.to_string(),
            "route_set": routes,
            "local_cseq": d.local_cseq,
            "remote_cseq": d.remote_cseq,
            "initial_cseq": d.initial_cseq,
            "secure": d.secure,
            "local_contact": d.local_contact.to_string(),
            "via_base": d.via_base,
        })
        .to_string()
    }

    /// A subscription written by [`MwiSub::to_db_value`]; `now`/`now_unix` are the current
    /// monotonic and Unix times. An expired one gives [`DbValueError::Expired`].
    pub fn from_db_value(value: &str, now: Instant, now_unix: u64) -> Result<MwiSub, DbValueError> {
        use DbValueError::Malformed;
        let v: Value = serde_json::from_str(value).map_err(|_| Malformed)?;
        let text = |k: &str| v.get(k).and_then(Value::as_str).ok_or(Malformed);
        let num = |k: &str| v.get(k).and_then(Value::as_u64).ok_or(Malformed);
        let cseq = |k: &str| num(k).and_then(|n| u32::try_from(n).map_err(|_| Malformed));
        let name_addr = |k: &str| text(k).and_then(|s| NameAddr::parse(s).map_err(|_| Malformed));
        if num("v")? != VERSION {
            return Err(Malformed);
        }
        let route_set = v
            .get("route_set")
            .and_then(Value::as_array)
            .ok_or(Malformed)?
            .iter()
            .map(|r| {
                r.as_str()
                    .and_then(|s| NameAddr::parse(s).ok())
                    .ok_or(Malformed)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let remote_cseq = match v.get("remote_cseq") {
            None | Some(Value::Null) => None,
            Some(_) => Some(cseq("remote_cseq")?),
        };
        let peer = text("peer")?.to_string();
        let call_id = text("call_id")?.to_string();
        if peer.is_empty() || call_id.is_empty() {
            return Err(Malformed);
        }
        let expires = cseq("expires")?;
        let left = num("expiry")?.saturating_sub(now_unix);
        if left == 0 {
            return Err(DbValueError::Expired);
        }
        // Never trust a stored value for longer than was granted.
        let left = left.min(u64::from(expires.max(1)));
        let dialog = Dialog {
            id: DialogId {
                call_id,
                local_tag: text("local_tag")?.to_string(),
                remote_tag: text("remote_tag")?.to_string(),
            },
            state: DialogState::Confirmed,
            is_uac: false,
            local_uri: name_addr("local_uri")?,
            remote_uri: name_addr("remote_uri")?,
            remote_target: SipUri::parse(text("remote_target")?).map_err(|_| Malformed)?,
            route_set,
            local_cseq: cseq("local_cseq")?,
            remote_cseq,
            secure: v.get("secure").and_then(Value::as_bool).ok_or(Malformed)?,
            local_contact: name_addr("local_contact")?,
            via_base: text("via_base")?.to_string(),
            invite_cseq: None,
            initial_cseq: cseq("initial_cseq")?,
        };
        Ok(MwiSub {
            peer,
            dialog,
            dest: text("dest")?.parse::<SocketAddr>().map_err(|_| Malformed)?,
            expires,
            expires_at: now + Duration::from_secs(left),
            exten: text("exten")?.to_string(),
            ending: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(now: Instant) -> MwiSub {
        let req = crate::sip::message::parse(
            b"SUBSCRIBE sip:alice@127.0.0.1:5060 SIP/2.0\r\n\
              Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n\
              From: \"Alice|%\" <sip:alice@127.0.0.1>;tag=ft1\r\n\
              To: <sip:alice@127.0.0.1>\r\n\
              Call-ID: a/b|c%d@host\r\n\
              CSeq: 7 SUBSCRIBE\r\n\
              Contact: <sip:alice@127.0.0.1:5070;transport=udp>\r\n\
              Record-Route: <sip:proxy.example;lr>, <sip:p2.example;lr>\r\n\
              Event: message-summary\r\n\
              Content-Length: 0\r\n\r\n",
        )
        .expect("SUBSCRIBE");
        let contact = NameAddr::parse("<sip:alice@127.0.0.1:5060>").expect("contact");
        let mut dialog = Dialog::uas_from_request(&req, "lt9", contact).expect("dialog");
        dialog.state = DialogState::Confirmed;
        dialog.local_cseq = 41;
        MwiSub {
            peer: "alice".into(),
            dialog,
            dest: "127.0.0.1:5070".parse().expect("addr"),
            expires: 600,
            expires_at: now + Duration::from_millis(599_500),
            exten: "alice".into(),
            ending: None,
        }
    }

    #[test]
    fn a_subscription_round_trips_with_its_dialog_and_remaining_time() {
        let t0 = Instant::now();
        let unix = 1_800_000_000;
        let s = sub(t0);
        let v = s.to_db_value(t0, unix);
        // Read back 100 s later (a restart): 500 s are left.
        let t1 = t0 + Duration::from_secs(3);
        let back = MwiSub::from_db_value(&v, t1, unix + 100).expect("restored");
        assert_eq!(back.peer, "alice");
        assert_eq!(back.exten, "alice");
        assert_eq!(back.dest, s.dest);
        assert_eq!(back.expires, 600);
        assert_eq!(back.expires_at, t1 + Duration::from_secs(500));
        assert_eq!(back.ending, None);
        let (a, b) = (&s.dialog, &back.dialog);
        assert_eq!(b.id, a.id);
        assert_eq!(b.id.call_id, "a/b|c%d@host");
        assert_eq!(b.id.local_tag, "lt9");
        assert_eq!(b.id.remote_tag, "ft1");
        assert_eq!(b.local_uri.to_string(), a.local_uri.to_string());
        assert_eq!(b.remote_uri.to_string(), a.remote_uri.to_string());
        assert_eq!(b.remote_target.to_string(), a.remote_target.to_string());
        assert_eq!(b.route_set.len(), 2);
        assert_eq!(b.route_set[1].to_string(), a.route_set[1].to_string());
        assert_eq!((b.local_cseq, b.remote_cseq), (41, Some(7)));
        assert_eq!(b.via_base, a.via_base);
        assert_eq!(b.local_contact.to_string(), a.local_contact.to_string());
        assert_eq!(b.state, DialogState::Confirmed);
        assert!(!b.is_uac);
        // The next NOTIFY continues the CSeq sequence in the same dialog.
        let mut d = back.dialog;
        let n = d.request(crate::sip::message::Method::Notify, "z9hG4bKx");
        assert_eq!(n.cseq().map(|c| c.0), Some(42));
        assert_eq!(n.call_id(), Some("a/b|c%d@host"));
    }

    #[test]
    fn expired_and_broken_records_are_refused() {
        let t0 = Instant::now();
        let unix = 1_800_000_000;
        let v = sub(t0).to_db_value(t0, unix);
        assert_eq!(
            MwiSub::from_db_value(&v, t0, unix + 600).err(),
            Some(DbValueError::Expired)
        );
        // A clock set back does not stretch it beyond what was granted.
        let far = MwiSub::from_db_value(&v, t0, unix - 10_000).expect("restored");
        assert_eq!(far.expires_at, t0 + Duration::from_secs(600));
        for bad in [
            "",
            "v1|alice|1",
            "{}",
            &v.replace("\"v\":1", "\"v\":2"),
            &v.replace("\"dest\":\"127.0.0.1:5070\"", "\"dest\":\"nowhere\""),
            &v.replace("\"peer\":\"alice\"", "\"peer\":\"\""),
            &v.replace("\"local_cseq\":41", "\"local_cseq\":-1"),
        ] {
            assert_eq!(
                MwiSub::from_db_value(bad, t0, unix).err(),
                Some(DbValueError::Malformed),
                "{bad}"
            );
        }
    }

    #[test]
    fn keys_hash_the_call_id() {
        assert_eq!(sub_key("a/b@c").len(), 12);
        assert!(!sub_key("a/b@c").contains('/'));
        assert_ne!(sub_key("a/b@c"), sub_key("a/b@d"));
        assert_eq!(sub_family("alice"), "SIP/Subscriptions/alice");
    }
}
