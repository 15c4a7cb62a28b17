//! The Festival server protocol, without I/O: the command sent (festival.conf's
//! `festivalcommand` with `%s` and its backslash escapes, the text escaped for a Scheme
//! string) and the reply cut into [`Reply`]s. The server answers each expression with
//! zero or more `WV\n` (a waveform) or `LP\n` (a Lisp value) payloads, each ending at the
//! key `ft_StUfF_key` (an `X` is stuffed into any copy of the key inside the data), then
//! `OK\n`, or `ER\n` on error.

/// The key that ends a payload.
pub const KEY: &[u8] = b"ft_StUfF_key";

/// app_festival's command when festival.conf has no `festivalcommand`.
pub const DEFAULT_COMMAND: &str = "(tts_textasterisk \"%s\" 'file)(quit)\\n";

/// Escape `text` for the inside of a Scheme string (`"` and `\`). Line breaks become
/// spaces: the server reads one expression per line.
pub fn escape_scheme(text: &str) -> String {
    let mut s = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\n' | '\r' => s.push(' '),
            c => s.push(c),
        }
    }
    s
}

/// The command to send: `template` with `\n` → newline, `\x` → `x`, `%s` → the escaped
/// text (as app_festival expands `festivalcommand`).
pub fn command(template: &str, text: &str) -> String {
    let text = escape_scheme(text);
    let mut out = String::with_capacity(template.len() + text.len());
    let mut it = template.chars().peekable();
    while let Some(c) = it.next() {
        match c {
            '\\' => match it.next() {
                Some('n') => out.push('\n'),
                Some(x) => out.push(x),
                None => {}
            },
            '%' if it.peek() == Some(&'s') => {
                it.next();
                out.push_str(&text);
            }
            c => out.push(c),
        }
    }
    out
}

/// One part of a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// A waveform (the file as the server wrote it, usually a RIFF WAV).
    Wave(Vec<u8>),
    /// A Lisp value (text).
    Lisp(String),
    Ok,
    Err,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Tag,
    Payload { wave: bool },
}

/// Cuts reply bytes into [`Reply`]s as they arrive.
#[derive(Debug)]
pub struct ReplyParser {
    buf: Vec<u8>,
    state: State,
    payload: Vec<u8>,
}

impl Default for ReplyParser {
    fn default() -> Self {
        ReplyParser::new()
    }
}

/// Largest payload accepted (10 minutes of 8 kHz audio is ~10 MB).
pub const MAX_PAYLOAD: usize = 64 << 20;

impl ReplyParser {
    pub fn new() -> ReplyParser {
        ReplyParser {
            buf: Vec::new(),
            state: State::Tag,
            payload: Vec::new(),
        }
    }

    /// Feed bytes; the complete replies so far. An unknown tag or an oversized payload is
    /// an error (the connection is useless).
    pub fn feed(&mut self, data: &[u8]) -> Result<Vec<Reply>, String> {
        self.buf.extend_from_slice(data);
        let mut out = Vec::new();
        loop {
            match self.state {
                State::Tag => {
                    if self.buf.len() < 3 {
                        return Ok(out);
                    }
                    let tag: Vec<u8> = self.buf.drain(..3).collect();
                    match &tag[..] {
                        b"WV\n" => self.state = State::Payload { wave: true },
                        b"LP\n" => self.state = State::Payload { wave: false },
                        b"OK\n" => out.push(Reply::Ok),
                        b"ER\n" => out.push(Reply::Err),
                        t => {
                            return Err(format!(
                                "unexpected reply from the Festival server: {:?}",
                                String::from_utf8_lossy(t)
                            ))
                        }
                    }
                }
                State::Payload { wave } => match self.take_payload() {
                    Some(p) => {
                        self.state = State::Tag;
                        out.push(if wave {
                            Reply::Wave(p)
                        } else {
                            Reply::Lisp(String::from_utf8_lossy(&p).into_owned())
                        });
                    }
                    None => {
                        if self.payload.len() > MAX_PAYLOAD {
                            return Err("the Festival server sent more than 64 MB".into());
                        }
                        return Ok(out);
                    }
                },
            }
        }
    }

    /// Move payload bytes out of `buf` up to the key; the payload when the key was found.
    /// The server stuffs an `X` after any copy of the key's first 11 bytes inside the data
    /// (`ft_StUfF_ke` + `X`): that `X` is dropped, as app_festival does.
    fn take_payload(&mut self) -> Option<Vec<u8>> {
        let stem = &KEY[..KEY.len() - 1];
        let last = KEY[KEY.len() - 1];
        let mut i = 0;
        while i < self.buf.len() {
            let rest = &self.buf[i..];
            if rest[0] == stem[0] {
                let n = rest.len().min(stem.len());
                if rest[..n] == stem[..n] {
                    if rest.len() <= stem.len() {
                        break; // maybe the key: wait for more bytes
                    }
                    match rest[stem.len()] {
                        b if b == last => {
                            self.payload.extend_from_slice(&self.buf[..i]);
                            self.buf.drain(..i + KEY.len());
                            return Some(std::mem::take(&mut self.payload));
                        }
                        b'X' => {
                            self.payload.extend_from_slice(&self.buf[..i + stem.len()]);
                            self.buf.drain(..i + stem.len() + 1);
                            i = 0;
                            continue;
                        }
                        _ => {}
                    }
                }
            }
            i += 1;
        }
        self.payload.extend_from_slice(&self.buf[..i]);
        self.buf.drain(..i);
        None
    }
}

/// Parse a whole reply (a cached one): the replies, or why not.
pub fn parse_all(bytes: &[u8]) -> Result<Vec<Reply>, String> {
    ReplyParser::new().feed(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_expand_like_app_festival() {
        assert_eq!(
            command(DEFAULT_COMMAND, "Hello World"),
            "(tts_textasterisk \"Hello World\" 'file)(quit)\n"
        );
        assert_eq!(
            command("(SayText \"%s\")\\n\\(x\\)", "say \"hi\" \\ now"),
            "(SayText \"say \\\"hi\\\" \\\\ now\")\n(x)"
        );
        assert_eq!(command("%x %", "t"), "%x %");
    }

    #[test]
    fn a_reply_in_pieces_comes_out_whole() {
        // Data holding the key is sent stuffed: an X after its first 11 bytes.
        let mut stream = b"LP\n(x)ft_StUfF_key".to_vec();
        stream.extend_from_slice(b"WV\nRIFF..ft_StUfF_keXy..ft_StUf..");
        stream.extend_from_slice(b"ft_StUfF_keyOK\nER\n");
        let mut p = ReplyParser::new();
        let mut got = Vec::new();
        for b in &stream {
            got.extend(p.feed(&[*b]).unwrap());
        }
        assert_eq!(
            got,
            vec![
                Reply::Lisp("(x)".into()),
                Reply::Wave(b"RIFF..ft_StUfF_key..ft_StUf..".to_vec()),
                Reply::Ok,
                Reply::Err
            ]
        );
        assert_eq!(parse_all(&stream).unwrap(), got);
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(ReplyParser::new().feed(b"HTTP/1.1 200 OK\r\n").is_err());
        assert_eq!(ReplyParser::new().feed(b"ER\n").unwrap(), vec![Reply::Err]);
    }
}
