//! Out-of-call message functions (Asterisk's res/message.c): `MESSAGE()` and
//! `MESSAGE_DATA()`, reading the message a `Message/ast_msg_queue` channel is processing or
//! building one for `MessageSend()`.

use super::{Func, FuncError};
use crate::pbx::message::Msg;
use crate::pbx::module::{Family, ModuleContext, ModuleInfo};
use crate::pbx::Channel;
use std::sync::Arc;

/// The modules of this file (`module show`).
pub static MODULES: &[Family] = &[Family {
    info: ModuleInfo::new(
        "pbx_builtins_message_funcs",
        "Out-of-call text message support",
    )
    .builtin(),
    register: register_pbx_builtins_message_funcs,
}];

fn register_pbx_builtins_message_funcs(ctx: &ModuleContext) {
    ctx.register_func(Arc::new(MessageFunc));
    ctx.register_func(Arc::new(MessageDataFunc));
}

/// The channel's message for reading; logs Asterisk's error when there is none.
fn message_for_read(chan: &Channel) -> Option<&Msg> {
    let m = chan.message.as_deref();
    if m.is_none() {
        chan.pbx
            .error("message.c: No MESSAGE data found on the channel to read.");
    }
    m
}

/// The channel's message for writing, created empty if absent (as Asterisk lets the
/// dialplan build a message).
fn message_for_write(chan: &mut Channel) -> &mut Msg {
    chan.message.get_or_insert_with(Box::default)
}

struct MessageFunc;
impl Func for MessageFunc {
    fn name(&self) -> &'static str {
        "MESSAGE"
    }
    fn synopsis(&self) -> &'static str {
        "Create a message or read fields from a message."
    }
    fn syntax(&self) -> &'static str {
        "MESSAGE(argument)"
    }
    fn description(&self) -> &'static str {
        "This function will read from or write a value to a text message. It is used both to \
         read the data out of an incoming message, as well as modify or create a message \
         that will be sent outbound. Arguments: to (read/write, the destination of the \
         message), from (read/write, the source of the message), body (read/write, the \
         message body), custom_data (write-only, mark_all_outbound or clear_all_outbound)."
    }
    fn writable(&self) -> bool {
        true
    }
    fn read(&self, chan: &mut Channel, args: &str) -> Result<String, FuncError> {
        let Some(msg) = message_for_read(chan) else {
            return Ok(String::new());
        };
        let item = args.trim();
        Ok(match item.to_ascii_lowercase().as_str() {
            "to" => msg.to.clone(),
            "from" => msg.from.clone(),
            "body" => msg.body.clone(),
            _ => {
                chan.pbx.warning(&format!(
                    "message.c: Invalid argument to MESSAGE(): '{item}'"
                ));
                String::new()
            }
        })
    }
    fn write(&self, chan: &mut Channel, args: &str, value: &str) -> Result<(), FuncError> {
        let pbx = chan.pbx.clone();
        let item = args.trim();
        let msg = message_for_write(chan);
        match item.to_ascii_lowercase().as_str() {
            "to" => msg.to = value.to_string(),
            "from" => msg.from = value.to_string(),
            "body" => msg.body = value.to_string(),
            "custom_data" => {
                // ferrisk sends every MESSAGE_DATA item, so there is nothing to mark.
                if !value.eq_ignore_ascii_case("mark_all_outbound")
                    && !value.eq_ignore_ascii_case("clear_all_outbound")
                {
                    pbx.warning(&format!(
                        "message.c: '{value}' is not a valid value for custom_data"
                    ));
                }
            }
            _ => pbx.warning(&format!(
                "message.c: '{item}' is not a valid write argument."
            )),
        }
        Ok(())
    }
}

struct MessageDataFunc;
impl Func for MessageDataFunc {
    fn name(&self) -> &'static str {
        "MESSAGE_DATA"
    }
    fn synopsis(&self) -> &'static str {
        "Read or write custom data attached to a message."
    }
    fn syntax(&self) -> &'static str {
        "MESSAGE_DATA(argument)"
    }
    fn description(&self) -> &'static str {
        "This function will read from or write a value to a text message. It is used both to \
         read the data out of an incoming message, as well as modify a message that will be \
         sent outbound. For SIP, the data are the request's headers. Writing an empty value \
         removes the item. Names compare case-insensitively."
    }
    fn writable(&self) -> bool {
        true
    }
    fn read(&self, chan: &mut Channel, args: &str) -> Result<String, FuncError> {
        let Some(msg) = message_for_read(chan) else {
            return Ok(String::new());
        };
        Ok(msg.get_data(args.trim()).unwrap_or_default().to_string())
    }
    fn write(&self, chan: &mut Channel, args: &str, value: &str) -> Result<(), FuncError> {
        message_for_write(chan).set_data(args.trim(), value);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::pbx::channel::NullTech;
    use crate::pbx::exec::{substitute, write_func};
    use crate::pbx::message::Msg;
    use crate::pbx::Channel;
    use std::sync::Arc;

    fn logs(rx: &mut tokio::sync::broadcast::Receiver<crate::pbx::LogLine>) -> Vec<String> {
        let mut v = Vec::new();
        while let Ok(l) = rx.try_recv() {
            v.push(l.text);
        }
        v
    }

    #[test]
    fn read_fields_and_data() {
        let pbx = crate::modules::test_pbx();
        let mut chan = Channel::new(&pbx, "Test/m".into(), Arc::new(NullTech));
        let mut m = Msg::new("sip:1000@h", "sip:bob@h", "hi, there");
        m.set_data("Content-Type", "text/plain");
        chan.message = Some(Box::new(m));
        assert_eq!(substitute(&mut chan, "${MESSAGE(to)}"), "sip:1000@h");
        assert_eq!(substitute(&mut chan, "${MESSAGE(FROM)}"), "sip:bob@h");
        assert_eq!(substitute(&mut chan, "${MESSAGE(body)}"), "hi, there");
        assert_eq!(
            substitute(&mut chan, "${MESSAGE_DATA(content-type)}"),
            "text/plain"
        );
        assert_eq!(substitute(&mut chan, "${MESSAGE_DATA(X-None)}"), "");
        let mut rx = pbx.log_tx.subscribe();
        assert_eq!(substitute(&mut chan, "${MESSAGE(subject)}"), "");
        let l = logs(&mut rx);
        assert_eq!(l.len(), 1);
        assert!(
            l[0].contains("WARNING[")
                && l[0].ends_with("message.c: Invalid argument to MESSAGE(): 'subject'"),
            "{l:?}"
        );
    }

    #[test]
    fn reading_without_a_message_logs_asterisk_error() {
        let pbx = crate::modules::test_pbx();
        let mut chan = Channel::new(&pbx, "Test/m".into(), Arc::new(NullTech));
        let mut rx = pbx.log_tx.subscribe();
        assert_eq!(substitute(&mut chan, "${MESSAGE(body)}"), "");
        assert_eq!(substitute(&mut chan, "${MESSAGE_DATA(x)}"), "");
        let l = logs(&mut rx);
        assert_eq!(l.len(), 2, "{l:?}");
        for line in &l {
            assert!(
                line.contains("ERROR[")
                    && line.ends_with("message.c: No MESSAGE data found on the channel to read."),
                "{l:?}"
            );
        }
        assert!(chan.message.is_none());
    }

    #[test]
    fn writes_build_a_message() {
        let pbx = crate::modules::test_pbx();
        let mut chan = Channel::new(&pbx, "Test/m".into(), Arc::new(NullTech));
        write_func(&mut chan, "MESSAGE(body)", "Thanks, bye");
        write_func(&mut chan, "MESSAGE(to)", "sip:1000");
        write_func(&mut chan, "MESSAGE(from)", "sip:pbx");
        write_func(&mut chan, "MESSAGE_DATA(X-A)", "1");
        write_func(&mut chan, "MESSAGE_DATA(X-B)", "2");
        write_func(&mut chan, "MESSAGE_DATA(x-b)", "");
        let m = chan.message.as_deref().cloned().unwrap_or_default();
        assert_eq!(m.body, "Thanks, bye");
        assert_eq!(m.to, "sip:1000");
        assert_eq!(m.from, "sip:pbx");
        assert_eq!(m.data, vec![("X-A".to_string(), "1".to_string())]);
        let mut rx = pbx.log_tx.subscribe();
        write_func(&mut chan, "MESSAGE(custom_data)", "mark_all_outbound");
        write_func(&mut chan, "MESSAGE(custom_data)", "bogus");
        write_func(&mut chan, "MESSAGE(subject)", "x");
        let l = logs(&mut rx);
        assert_eq!(l.len(), 2, "{l:?}");
        assert!(l[0].ends_with("message.c: 'bogus' is not a valid value for custom_data"));
        assert!(l[1].ends_with("message.c: 'subject' is not a valid write argument."));
    }

    #[test]
    fn an_invalid_write_still_creates_the_message() {
        let pbx = crate::modules::test_pbx();
        let mut chan = Channel::new(&pbx, "Test/m".into(), Arc::new(NullTech));
        write_func(&mut chan, "MESSAGE(nope)", "x");
        assert_eq!(chan.message.as_deref(), Some(&Msg::default()));
    }
}
