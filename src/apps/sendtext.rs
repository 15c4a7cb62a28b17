//! SendText() and ReceiveText() (`app_sendtext.so`): text on a call. SendText hands the
//! text to the channel's driver ([`crate::pbx::channel::ChannelTech::send_text`]; chan_sip
//! sends an in-dialog MESSAGE) and sets `SENDTEXTSTATUS`/`SENDTEXTTYPE`; ReceiveText waits
//! for the next text frame from the far end ([`Channel::read_text`]) and sets
//! `RECEIVETEXTMESSAGE`/`RECEIVETEXTSTATUS`.

use super::{args, App, AppResult};
use crate::pbx::channel::{Hangup, TextResult};
use crate::pbx::module::{Family, ModuleContext, ModuleInfo};
use crate::pbx::Channel;
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;

/// The modules of this file (`module show`).
pub static MODULES: &[Family] = &[Family {
    info: ModuleInfo::new("app_sendtext.so", "Send and Receive Text Applications"),
    register: register_app_sendtext,
}];

fn register_app_sendtext(ctx: &ModuleContext) {
    ctx.register_app(Arc::new(SendText));
    ctx.register_app(Arc::new(ReceiveText));
}

/// The variables SendText reads, all cleared once it has run (as Asterisk does).
const SENDTEXT_VARS: [&str; 4] = [
    "SENDTEXT_FROM_DISPLAYNAME",
    "SENDTEXT_TO_DISPLAYNAME",
    "SENDTEXT_CONTENT_TYPE",
    "SENDTEXT_BODY",
];

/// What SendText does with `data` and the channel's SENDTEXT_* variables: the body to
/// send (`SENDTEXT_BODY` before the argument, escapes such as `\n` decoded), or `None`
/// when `SENDTEXT_CONTENT_TYPE` names a type other than `text/*`, which a driver without
/// enhanced messaging (chan_sip) cannot carry.
pub fn body_to_send(
    data: &str,
    body_var: Option<&str>,
    content_type: Option<&str>,
) -> Option<String> {
    if content_type.is_some_and(|ct| !ct.is_empty() && !ct.starts_with("text/")) {
        return None;
    }
    let body = body_var.filter(|b| !b.is_empty()).unwrap_or(data);
    Some(crate::funcs::strings::encoded_str(body))
}

struct SendText;

#[async_trait]
impl App for SendText {
    fn name(&self) -> &'static str {
        "SendText"
    }
    fn synopsis(&self) -> &'static str {
        "Send a Text Message on a channel."
    }
    fn syntax(&self) -> &'static str {
        "SendText([text])"
    }
    fn description(&self) -> &'static str {
        "Sends text to the current channel (chan_sip: an in-dialog SIP MESSAGE, \
         text/plain). SENDTEXT_BODY, if set, is sent instead of the argument; \
         SENDTEXT_CONTENT_TYPE other than text/* cannot be sent on SIP channels \
         (SENDTEXTSTATUS UNSUPPORTED); SENDTEXT_FROM_DISPLAYNAME and SENDTEXT_TO_DISPLAYNAME \
         only apply to enhanced messaging, which chan_sip has not. The four variables are \
         cleared afterwards. Sets SENDTEXTTYPE (NONE, BASIC) and SENDTEXTSTATUS (SUCCESS, \
         FAILURE, UNSUPPORTED)."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let body_var = chan.get_var("SENDTEXT_BODY");
        let content_type = chan.get_var("SENDTEXT_CONTENT_TYPE");
        let (kind, status) = match body_to_send(data, body_var.as_deref(), content_type.as_deref())
        {
            None => ("NONE", TextResult::Unsupported),
            Some(body) => match chan.tech.send_text(&body) {
                TextResult::Unsupported => ("NONE", TextResult::Unsupported),
                r => ("BASIC", r),
            },
        };
        chan.set_var("SENDTEXTTYPE", kind);
        chan.set_var("SENDTEXTSTATUS", status.status());
        for v in SENDTEXT_VARS {
            chan.set_var(v, "");
        }
        Ok(())
    }
}

struct ReceiveText;

#[async_trait]
impl App for ReceiveText {
    fn name(&self) -> &'static str {
        "ReceiveText"
    }
    fn synopsis(&self) -> &'static str {
        "Receive a Text Message on a channel."
    }
    fn syntax(&self) -> &'static str {
        "ReceiveText([timeout])"
    }
    fn description(&self) -> &'static str {
        "Waits timeout seconds (fractions allowed; 0 or none: forever) on the current channel \
         to receive text (chan_sip: an in-dialog SIP MESSAGE). Sets RECEIVETEXTMESSAGE to \
         the text and RECEIVETEXTSTATUS to SUCCESS, or FAILURE when the wait timed out or \
         the channel hung up."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let a = args::split(data, ',');
        let t = args::nth(&a, 0).trim();
        let max = if t.is_empty() {
            None
        } else {
            match t.parse::<f64>() {
                Ok(s) if s.is_finite() && s > 0.0 => Some(Duration::from_secs_f64(s.min(1e9))),
                Ok(s) if s.is_finite() => None,
                _ => {
                    chan.pbx.warning(&format!(
                        "app_sendtext.c: Invalid timeout provided: {t}. No timeout set."
                    ));
                    return Err(Hangup);
                }
            }
        };
        let got = chan.read_text(max).await;
        let text = got.as_ref().ok().and_then(|t| t.clone());
        chan.set_var(
            "RECEIVETEXTSTATUS",
            if text.is_some() { "SUCCESS" } else { "FAILURE" },
        );
        if let Some(t) = text {
            chan.set_var("RECEIVETEXTMESSAGE", &t);
        }
        got.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pbx::channel::ChannelTech;
    use parking_lot::Mutex;

    #[test]
    fn the_body_comes_from_sendtext_body_and_escapes_are_decoded() {
        assert_eq!(body_to_send("hi", None, None).as_deref(), Some("hi"));
        assert_eq!(body_to_send("hi", Some("yo"), None).as_deref(), Some("yo"));
        assert_eq!(body_to_send("hi", Some(""), None).as_deref(), Some("hi"));
        assert_eq!(body_to_send("a\\nb", None, None).as_deref(), Some("a\nb"));
        assert_eq!(
            body_to_send("x", None, Some("text/json")).as_deref(),
            Some("x")
        );
        assert_eq!(body_to_send("x", None, Some("application/json")), None);
        assert_eq!(body_to_send("", None, Some("")).as_deref(), Some(""));
    }

    struct TextTech(Mutex<Vec<String>>, TextResult);
    impl ChannelTech for TextTech {
        fn tech(&self) -> &'static str {
            "Text"
        }
        fn send_text(&self, text: &str) -> TextResult {
            self.0.lock().push(text.to_string());
            self.1
        }
    }

    fn chan_with(tech: Arc<TextTech>) -> Channel {
        let pbx = crate::testutil::test_channel().pbx.clone();
        Channel::new(&pbx, "Text/1".into(), tech)
    }

    #[tokio::test]
    async fn sendtext_sets_its_status_and_clears_its_variables() {
        let tech = Arc::new(TextTech(Mutex::new(Vec::new()), TextResult::Success));
        let mut c = chan_with(tech.clone());
        c.set_var("SENDTEXT_BODY", "from var");
        c.set_var("SENDTEXT_FROM_DISPLAYNAME", "Bob");
        SendText.exec(&mut c, "arg").await.unwrap();
        assert_eq!(*tech.0.lock(), vec!["from var".to_string()]);
        assert_eq!(c.get_var("SENDTEXTSTATUS").as_deref(), Some("SUCCESS"));
        assert_eq!(c.get_var("SENDTEXTTYPE").as_deref(), Some("BASIC"));
        assert_eq!(c.get_var("SENDTEXT_BODY"), None);
        assert_eq!(c.get_var("SENDTEXT_FROM_DISPLAYNAME"), None);

        c.set_var("SENDTEXT_CONTENT_TYPE", "application/json");
        SendText.exec(&mut c, "{}").await.unwrap();
        assert_eq!(tech.0.lock().len(), 1, "nothing sent");
        assert_eq!(c.get_var("SENDTEXTSTATUS").as_deref(), Some("UNSUPPORTED"));
        assert_eq!(c.get_var("SENDTEXTTYPE").as_deref(), Some("NONE"));

        let failing = Arc::new(TextTech(Mutex::new(Vec::new()), TextResult::Failure));
        let mut c = chan_with(failing);
        SendText.exec(&mut c, "x").await.unwrap();
        assert_eq!(c.get_var("SENDTEXTSTATUS").as_deref(), Some("FAILURE"));

        // A technology without text (a test channel).
        let mut c = crate::testutil::test_channel();
        SendText.exec(&mut c, "x").await.unwrap();
        assert_eq!(c.get_var("SENDTEXTSTATUS").as_deref(), Some("UNSUPPORTED"));
        assert_eq!(c.get_var("SENDTEXTTYPE").as_deref(), Some("NONE"));
    }

    #[tokio::test]
    async fn receivetext_reads_queued_text_or_times_out() {
        let mut c = crate::testutil::test_channel();
        c.shared.queue_text("hello".into());
        ReceiveText.exec(&mut c, "").await.unwrap();
        assert_eq!(c.get_var("RECEIVETEXTSTATUS").as_deref(), Some("SUCCESS"));
        assert_eq!(c.get_var("RECEIVETEXTMESSAGE").as_deref(), Some("hello"));

        ReceiveText.exec(&mut c, "0.05").await.unwrap();
        assert_eq!(c.get_var("RECEIVETEXTSTATUS").as_deref(), Some("FAILURE"));
        assert_eq!(c.get_var("RECEIVETEXTMESSAGE").as_deref(), Some("hello"));

        // Text that arrives while waiting.
        let shared = c.shared.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            shared.queue_text("later".into());
        });
        ReceiveText.exec(&mut c, "10").await.unwrap();
        assert_eq!(c.get_var("RECEIVETEXTMESSAGE").as_deref(), Some("later"));

        assert!(ReceiveText.exec(&mut c, "soon").await.is_err());

        c.shared.request_hangup(16);
        assert!(ReceiveText.exec(&mut c, "").await.is_err());
        assert_eq!(c.get_var("RECEIVETEXTSTATUS").as_deref(), Some("FAILURE"));
    }
}
