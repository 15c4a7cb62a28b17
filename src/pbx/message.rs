//! Out-of-call text messages (Asterisk's `ast_msg`): a SIP MESSAGE or an XMPP chat line that
//! runs through the dialplan on a `Message/ast_msg_queue` channel, read there with
//! `MESSAGE()` / `MESSAGE_DATA()` and sent on with `MessageSend()`.

use super::channel::{ChanState, NullTech};
use super::{exec, Channel, Pbx};
use chrono::Utc;
use std::sync::Arc;

/// One message. `to`/`from` are URIs as the technology gave them (`sip:1000@10.0.0.1`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Msg {
    pub to: String,
    pub from: String,
    pub body: String,
    /// Extra data (`MESSAGE_DATA(name)`): for SIP, the request's headers; set by the dialplan
    /// too. Names compare case-insensitively.
    pub data: Vec<(String, String)>,
    /// Technology it arrived on (`SIP`, `XMPP`), empty when made by the dialplan.
    pub tech: String,
    /// The endpoint (peer name) it came from, when known.
    pub endpoint: String,
}

impl Msg {
    /// `MESSAGE_DATA(name)`: the last value set for `name`.
    pub fn get_data(&self, name: &str) -> Option<&str> {
        self.data
            .iter()
            .rev()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    /// Set (or, with an empty value, remove) `name`.
    pub fn set_data(&mut self, name: &str, value: &str) {
        self.data.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        if !value.is_empty() {
            self.data.push((name.to_string(), value.to_string()));
        }
    }
}

/// Name of the channel messages run on, as Asterisk shows it in `Executing` lines.
pub const QUEUE_CHANNEL: &str = "Message/ast_msg_queue";

impl Msg {
    /// A message with the given addresses and body (no data, no technology).
    pub fn new(to: &str, from: &str, body: &str) -> Msg {
        Msg {
            to: to.to_string(),
            from: from.to_string(),
            body: body.to_string(),
            ..Msg::default()
        }
    }
}

/// Whether `exten@context` (an empty `exten` means `s`) exists at priority 1, i.e. whether
/// [`dispatch`] would route a message there (Asterisk's `ast_msg_has_destination`). A
/// technology can use it to refuse a message (SIP answers 404) before dispatching.
pub fn has_destination(pbx: &Pbx, context: &str, exten: &str) -> bool {
    if context.is_empty() {
        return false;
    }
    let exten = if exten.is_empty() { "s" } else { exten };
    pbx.dialplan().exists(context, exten, 1, None, Utc::now())
}

/// Route `msg` through the dialplan at `exten@context` (an empty `exten` means `s`), as
/// Asterisk's message queue does: a `Message/ast_msg_queue` channel (up, no CDR, not in the
/// channel list) holding the message runs the extension in its own task. Without such an
/// extension the message is dropped with Asterisk's warning. Returns whether it was routed.
/// Must be called inside a Tokio runtime.
pub fn dispatch(pbx: &Arc<Pbx>, msg: Msg, context: &str, exten: &str) -> bool {
    if !has_destination(pbx, context, exten) {
        pbx.warning(&format!(
            "message.c: No handler processed message from {} to {}",
            if msg.from.is_empty() {
                "<unknown>"
            } else {
                &msg.from
            },
            if msg.to.is_empty() {
                "<unknown>"
            } else {
                &msg.to
            },
        ));
        return false;
    }
    let mut chan = Channel::new(pbx, QUEUE_CHANNEL.to_string(), Arc::new(NullTech));
    // Asterisk unlinks the queue channel: it never shows in the channel list (and several
    // may run at once under the same name).
    pbx.channels.remove(QUEUE_CHANNEL);
    chan.cdr.disabled = true;
    chan.set_state(ChanState::Up);
    chan.message = Some(Box::new(msg));
    chan.context = context.to_string();
    chan.exten = if exten.is_empty() { "s" } else { exten }.to_string();
    chan.priority = 1;
    tokio::spawn(exec::run_pbx(chan));
    true
}

/// Split a `MessageSend` destination into technology and resource: `sip:1000@host` →
/// (`sip`, `1000@host`), `SIP/peer` → (`SIP`, `peer`). The scheme ends at the first `:` unless
/// a `/` comes before it; with neither, the whole string is the technology (as in Asterisk,
/// which then finds no such technology) and the resource is empty.
pub fn split_destination(dest: &str) -> (&str, &str) {
    let colon = dest.find(':');
    let slash = dest.find('/');
    let at = match (colon, slash) {
        (Some(c), Some(s)) => c.min(s),
        (Some(c), None) => c,
        (None, Some(s)) => s,
        (None, None) => return (dest, ""),
    };
    (&dest[..at], &dest[at + 1..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pbx::dialplan_from_str;
    use crate::testutil::FakeMsgDriver;
    use std::time::Duration;

    fn pbx_with(text: &str) -> Arc<Pbx> {
        let pbx = crate::modules::test_pbx();
        match dialplan_from_str("extensions.conf", text) {
            Ok((dp, _)) => pbx.set_dialplan(dp),
            Err(e) => panic!("dialplan errors: {e:?}"),
        }
        pbx
    }

    #[test]
    fn destinations_split_at_the_scheme() {
        assert_eq!(split_destination("sip:1000"), ("sip", "1000"));
        assert_eq!(
            split_destination("sip:1000@10.0.0.1:5060"),
            ("sip", "1000@10.0.0.1:5060")
        );
        assert_eq!(split_destination("SIP/peer"), ("SIP", "peer"));
        assert_eq!(
            split_destination("pjsip:PJSIP/alice"),
            ("pjsip", "PJSIP/alice")
        );
        assert_eq!(split_destination("SIP/peer:x"), ("SIP", "peer:x"));
        assert_eq!(split_destination("1000"), ("1000", ""));
        assert_eq!(split_destination("sip:"), ("sip", ""));
        assert_eq!(split_destination(""), ("", ""));
    }

    #[test]
    fn data_is_case_insensitive_and_empty_removes() {
        let mut m = Msg::new("sip:a", "sip:b", "hi");
        m.set_data("X-Foo", "1");
        m.set_data("x-foo", "2");
        assert_eq!(m.get_data("X-FOO"), Some("2"));
        assert_eq!(m.data.len(), 1);
        m.set_data("X-Foo", "");
        assert_eq!(m.get_data("x-foo"), None);
    }

    #[tokio::test]
    async fn dispatch_runs_the_dialplan_and_message_send_reaches_the_driver() {
        let pbx = pbx_with(
            "[msgs]\nexten => 1000,1,Set(GLOBAL(X)=${MESSAGE(body)})\n same => n,Set(GLOBAL(CH)=${CHANNEL})\n same => n,Set(GLOBAL(HDR)=${MESSAGE_DATA(X-Custom)})\n same => n,MessageSend(sip:2000,${MESSAGE(from)})\n same => n,Set(GLOBAL(ST)=${MESSAGE_SEND_STATUS})\n",
        );
        let drv = FakeMsgDriver::new("SIP", false);
        pbx.msg_techs
            .insert("SIP", drv.clone(), crate::pbx::module::Owner::new("test"));
        pbx.set_verbose(3);
        let mut rx = pbx.log_tx.subscribe();
        let mut msg = Msg::new(
            "sip:1000@10.0.0.1",
            "\"Bob\" <sip:bob@10.0.0.2>",
            "hello there",
        );
        msg.tech = "SIP".into();
        msg.set_data("X-Custom", "abc");
        assert!(dispatch(&pbx, msg.clone(), "msgs", "1000"));
        // Not in the channel list, as in Asterisk.
        assert!(pbx.channels.get(QUEUE_CHANNEL).is_none());
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while pbx.get_global("ST").is_none() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "dialplan never finished"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(pbx.get_global("X").as_deref(), Some("hello there"));
        assert_eq!(pbx.get_global("CH").as_deref(), Some(QUEUE_CHANNEL));
        assert_eq!(pbx.get_global("HDR").as_deref(), Some("abc"));
        assert_eq!(pbx.get_global("ST").as_deref(), Some("SUCCESS"));
        let sent = drv.sent.lock().clone();
        assert_eq!(sent.len(), 1);
        let (m, to, from) = &sent[0];
        assert_eq!(to, "2000");
        // Quotes go, as Asterisk's argument parsing removes them.
        assert_eq!(from, "Bob <sip:bob@10.0.0.2>");
        assert_eq!(m, &msg);
        let mut lines = Vec::new();
        while let Ok(l) = rx.try_recv() {
            lines.push(l.text);
        }
        assert!(
            lines.iter().any(|l| l.contains(
                "Executing [1000@msgs:1] Set(\"Message/ast_msg_queue\", \"GLOBAL(X)=hello there\")"
            )),
            "{lines:?}"
        );
    }

    #[tokio::test]
    async fn empty_exten_means_s() {
        let pbx = pbx_with("[msgs]\nexten => s,1,Set(GLOBAL(S)=${MESSAGE(to)})\n");
        assert!(dispatch(&pbx, Msg::new("sip:s@h", "", ""), "msgs", ""));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while pbx.get_global("S").is_none() {
            assert!(tokio::time::Instant::now() < deadline, "dialplan never ran");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(pbx.get_global("S").as_deref(), Some("sip:s@h"));
    }

    #[tokio::test]
    async fn no_such_extension_drops_with_asterisk_warning() {
        let pbx = pbx_with("[msgs]\nexten => 1000,1,NoOp()\n");
        let mut rx = pbx.log_tx.subscribe();
        assert!(!has_destination(&pbx, "msgs", "999"));
        assert!(!dispatch(
            &pbx,
            Msg::new("sip:999@h", "sip:a@b", "x"),
            "msgs",
            "999"
        ));
        assert!(!dispatch(&pbx, Msg::default(), "", "1000"));
        let mut lines = Vec::new();
        while let Ok(l) = rx.try_recv() {
            lines.push(l.text);
        }
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[0].contains("WARNING["), "{lines:?}");
        assert!(
            lines[0].ends_with("message.c: No handler processed message from sip:a@b to sip:999@h"),
            "{lines:?}"
        );
        assert!(
            lines[1].ends_with("No handler processed message from <unknown> to <unknown>"),
            "{lines:?}"
        );
        assert_eq!(pbx.channels.len(), 0);
    }
}
