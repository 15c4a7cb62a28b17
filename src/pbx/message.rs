//! Out-of-call text messages (Asterisk's `ast_msg`): a SIP MESSAGE or an XMPP chat line that
//! runs through the dialplan on a `Message/ast_msg_queue` channel, read there with
//! `MESSAGE()` / `MESSAGE_DATA()` and sent on with `MessageSend()`.

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

/// TEMPORARY until the message branch lands.
pub fn dispatch(
    _pbx: &std::sync::Arc<super::Pbx>,
    _msg: Msg,
    _context: &str,
    _exten: &str,
) -> bool {
    false
}
