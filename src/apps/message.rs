//! MessageSend: send the channel's out-of-call message through a technology's
//! [`crate::channels::Driver::send_message`] (Asterisk's res/message.c).

use super::{args, App, AppResult};
use crate::pbx::message::split_destination;
use crate::pbx::module::{Family, ModuleContext, ModuleInfo};
use crate::pbx::Channel;
use async_trait::async_trait;
use std::sync::Arc;

/// The modules of this file (`module show`).
pub static MODULES: &[Family] = &[Family {
    info: ModuleInfo::new("pbx_builtins_message", "Out-of-call text message support").builtin(),
    register: register_pbx_builtins_message,
}];

fn register_pbx_builtins_message(ctx: &ModuleContext) {
    ctx.register_app(Arc::new(MessageSend));
}

const STATUS: &str = "MESSAGE_SEND_STATUS";

struct MessageSend;
#[async_trait]
impl App for MessageSend {
    fn name(&self) -> &'static str {
        "MessageSend"
    }
    fn synopsis(&self) -> &'static str {
        "Send a text message."
    }
    fn syntax(&self) -> &'static str {
        "MessageSend(destination[,from[,to]])"
    }
    fn description(&self) -> &'static str {
        "Send a text message. The body of the message that will be sent is what is currently \
         set to MESSAGE(body). destination is tech:resource (sip:1000, sip:1000@10.0.0.1, \
         xmpp:user@host) or Tech/resource; the technology picks the channel driver. from \
         overrides the sender; to, if given, replaces MESSAGE(to). This application sets \
         MESSAGE_SEND_STATUS: INVALID_PROTOCOL (no handler for the technology), INVALID_URI \
         (the destination could not be parsed), SUCCESS, or FAILURE (no message on the \
         channel, or the technology could not send it)."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let pbx = chan.pbx.clone();
        if data.trim().is_empty() {
            pbx.warning("message.c: An argument is required to MessageSend()");
            chan.vars.set(STATUS, "INVALID_URI");
            return Ok(());
        }
        let a = args::split(data, ',');
        let dest = args::nth(&a, 0).trim();
        let from = args::nth(&a, 1).trim();
        let to = args::nth(&a, 2).trim();
        if dest.is_empty() {
            pbx.warning("message.c: A 'to' URI is required for MessageSend()");
            chan.vars.set(STATUS, "INVALID_URI");
            return Ok(());
        }
        let Some(msg) = chan.message.as_deref_mut() else {
            pbx.warning("message.c: No message data found on channel to send.");
            chan.vars.set(STATUS, "FAILURE");
            return Ok(());
        };
        let (tech, resource) = split_destination(dest);
        let Some(driver) = pbx.msg_tech(tech) else {
            pbx.warning(&format!("message.c: No message technology '{tech}' found."));
            chan.vars.set(STATUS, "INVALID_PROTOCOL");
            return Ok(());
        };
        if !to.is_empty() {
            msg.to = to.to_string();
        }
        if resource.is_empty() {
            pbx.warning(&format!(
                "message.c: No destination after '{tech}' in MessageSend() URI '{dest}'"
            ));
            chan.vars.set(STATUS, "INVALID_URI");
            return Ok(());
        }
        driver.prepare(resource).await;
        let status = match driver.send_message(msg, resource, from) {
            Ok(()) => "SUCCESS",
            Err(e) => {
                pbx.warning(&e);
                "FAILURE"
            }
        };
        chan.vars.set(STATUS, status);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::pbx::channel::NullTech;
    use crate::pbx::exec::exec_app;
    use crate::pbx::message::Msg;
    use crate::pbx::{Channel, Pbx};
    use crate::testutil::FakeMsgDriver;
    use std::sync::Arc;

    async fn send(chan: &mut Channel, data: &str) -> String {
        assert!(exec_app(chan, "MessageSend", data).await.is_ok());
        chan.vars
            .get("MESSAGE_SEND_STATUS")
            .unwrap_or_default()
            .to_string()
    }

    fn setup() -> (Arc<Pbx>, Arc<FakeMsgDriver>, Channel) {
        let pbx = crate::modules::test_pbx();
        let drv = FakeMsgDriver::new("SIP", false);
        pbx.msg_techs
            .insert("SIP", drv.clone(), crate::pbx::module::Owner::new("test"));
        pbx.msg_techs.insert(
            "XMPP",
            FakeMsgDriver::new("XMPP", true),
            crate::pbx::module::Owner::new("test"),
        );
        let mut chan = Channel::new(&pbx, "Test/m".into(), Arc::new(NullTech));
        chan.message = Some(Box::new(Msg::new("sip:1000@h", "sip:bob@h", "hello")));
        (pbx, drv, chan)
    }

    #[tokio::test]
    async fn schemes_and_tech_slash_forms_pick_the_driver() {
        let (_pbx, drv, mut chan) = setup();
        assert_eq!(send(&mut chan, "sip:2000").await, "SUCCESS");
        assert_eq!(
            send(&mut chan, "SIP:2000@10.0.0.1,sip:me@pbx").await,
            "SUCCESS"
        );
        assert_eq!(send(&mut chan, "SIP/peer1").await, "SUCCESS");
        let sent = drv.sent.lock().clone();
        assert_eq!(sent.len(), 3);
        assert_eq!((sent[0].1.as_str(), sent[0].2.as_str()), ("2000", ""));
        assert_eq!(
            (sent[1].1.as_str(), sent[1].2.as_str()),
            ("2000@10.0.0.1", "sip:me@pbx")
        );
        assert_eq!(sent[2].1, "peer1");
        // `from` is passed on, the message itself keeps its own.
        assert_eq!(sent[1].0.from, "sip:bob@h");
        assert_eq!(sent[1].0.body, "hello");
    }

    #[tokio::test]
    async fn third_argument_replaces_the_to() {
        let (_pbx, drv, mut chan) = setup();
        assert_eq!(
            send(&mut chan, "sip:2000,,sip:alice@example.com").await,
            "SUCCESS"
        );
        let sent = drv.sent.lock().clone();
        assert_eq!(sent[0].0.to, "sip:alice@example.com");
        assert_eq!(
            chan.message.as_deref().map(|m| m.to.as_str()),
            Some("sip:alice@example.com")
        );
    }

    #[tokio::test]
    async fn statuses() {
        let (pbx, drv, mut chan) = setup();
        let mut rx = pbx.log_tx.subscribe();
        assert_eq!(send(&mut chan, "").await, "INVALID_URI");
        assert_eq!(send(&mut chan, ",sip:me").await, "INVALID_URI");
        assert_eq!(send(&mut chan, "iax2:100").await, "INVALID_PROTOCOL");
        assert_eq!(send(&mut chan, "1000").await, "INVALID_PROTOCOL");
        assert_eq!(send(&mut chan, "sip:").await, "INVALID_URI");
        assert_eq!(send(&mut chan, "xmpp:bob@jabber.org").await, "FAILURE");
        assert!(drv.sent.lock().is_empty());
        let mut lines = Vec::new();
        while let Ok(l) = rx.try_recv() {
            lines.push(l.text);
        }
        let ends = [
            "message.c: An argument is required to MessageSend()",
            "message.c: A 'to' URI is required for MessageSend()",
            "message.c: No message technology 'iax2' found.",
            "message.c: No message technology '1000' found.",
        ];
        for (l, e) in lines.iter().zip(ends) {
            assert!(l.contains("WARNING[") && l.ends_with(e), "{lines:?}");
        }
        assert!(lines
            .iter()
            .any(|l| l.ends_with("fake: cannot send to 'bob@jabber.org'")));
    }

    #[tokio::test]
    async fn no_message_on_the_channel_is_a_failure() {
        let (pbx, drv, mut chan) = setup();
        chan.message = None;
        let mut rx = pbx.log_tx.subscribe();
        assert_eq!(send(&mut chan, "sip:2000").await, "FAILURE");
        assert!(drv.sent.lock().is_empty());
        let l = rx.try_recv().map(|l| l.text).unwrap_or_default();
        assert!(
            l.ends_with("message.c: No message data found on channel to send."),
            "{l}"
        );
        // A message built with MESSAGE() is sent.
        crate::pbx::exec::write_func(&mut chan, "MESSAGE(body)", "built");
        assert_eq!(send(&mut chan, "sip:2000").await, "SUCCESS");
        assert_eq!(drv.sent.lock()[0].0.body, "built");
    }
}
