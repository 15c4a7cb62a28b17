//! SIP messages (RFC 3261 §7): parsing from bytes, typed header accessors, serialisation and
//! response building (§8.2.6).
//!
//! Hand-written, no regex. A message keeps its headers in order as `(name, raw value)` pairs;
//! only the headers a B2BUA needs are typed, on demand (Via, From/To, Call-ID, CSeq, Contact,
//! Max-Forwards, Expires, Content-Length/-Type, and `Authorization` through
//! [`crate::sip::auth`]). Every other header is passed through byte-identical.
//!
//! Header handling: CRLF line ends (bare LF tolerated), folded continuation lines (leading SP or
//! HTAB) joined with one space, compact names (`v f t i m l c k s e o u r b x y …`) expanded to
//! their full names, case-insensitive lookup, and comma-joined values of Via / Contact / Route /
//! Record-Route split by [`crate::sip::uri::split_commas`] (quote and `<…>` aware).
//!
//! Errors are classified ([`ParseError::status`]) so a transport can tell "answer 400" (the start
//! line is a request but the rest is broken: missing or unparseable mandatory headers, bad
//! Content-Length, oversized header section) from "drop" (not SIP, no start line, or a broken
//! response, which is never answered). [`parse`] is for datagrams (UDP): a body longer than
//! Content-Length is truncated, a shorter one is an error (RFC 3261 §18.3). [`parse_stream`]
//! frames messages on a byte stream (TCP/TLS), where Content-Length is mandatory.

use std::borrow::Cow;
use std::fmt::Write as _;

use crate::sip::auth::{self, DigestCredentials};
use crate::sip::uri::{
    parse_header_params, parse_hostport, split_commas, NameAddr, Params, SipUri, UriError,
};

/// Largest header section accepted (start line + headers), in bytes.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;
/// Largest single header value (after unfolding), in bytes: a longer one is a 400.
pub const MAX_HEADER_VALUE: usize = 8 * 1024;
/// Largest number of header lines accepted.
pub const MAX_HEADERS: usize = 256;
/// Largest Content-Length accepted.
pub const MAX_BODY: usize = 1 << 20;

/// A SIP method. Extension methods are kept as sent.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Method {
    Invite,
    Ack,
    Bye,
    Cancel,
    Register,
    Options,
    Info,
    Update,
    Prack,
    Subscribe,
    Notify,
    Refer,
    Message,
    Publish,
    Other(String),
}

impl Method {
    /// Parse a method token (case-sensitive, RFC 3261 §7.1). `None` if not a token.
    pub fn parse(s: &str) -> Option<Method> {
        Some(match s {
            "INVITE" => Method::Invite,
            "ACK" => Method::Ack,
            "BYE" => Method::Bye,
            "CANCEL" => Method::Cancel,
            "REGISTER" => Method::Register,
            "OPTIONS" => Method::Options,
            "INFO" => Method::Info,
            "UPDATE" => Method::Update,
            "PRACK" => Method::Prack,
            "SUBSCRIBE" => Method::Subscribe,
            "NOTIFY" => Method::Notify,
            "REFER" => Method::Refer,
            "MESSAGE" => Method::Message,
            "PUBLISH" => Method::Publish,
            _ if is_token(s) => Method::Other(s.to_owned()),
            _ => return None,
        })
    }

    pub fn as_str(&self) -> &str {
        match self {
            Method::Invite => "INVITE",
            Method::Ack => "ACK",
            Method::Bye => "BYE",
            Method::Cancel => "CANCEL",
            Method::Register => "REGISTER",
            Method::Options => "OPTIONS",
            Method::Info => "INFO",
            Method::Update => "UPDATE",
            Method::Prack => "PRACK",
            Method::Subscribe => "SUBSCRIBE",
            Method::Notify => "NOTIFY",
            Method::Refer => "REFER",
            Method::Message => "MESSAGE",
            Method::Publish => "PUBLISH",
            Method::Other(s) => s,
        }
    }
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
                )
        })
}

const UNSUPPORTED_SCHEME: &str = "Unsupported URI Scheme";

/// Why a message could not be parsed, and what the transport should do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Not SIP at all, or no valid start line: drop silently.
    #[error("not a SIP message: {0}")]
    NotSip(&'static str),
    /// The start line is valid but the message is not. For a request answer
    /// `400 <reason>`; a broken response is dropped.
    #[error("malformed SIP message: {reason}")]
    Malformed {
        is_request: bool,
        reason: &'static str,
    },
}

impl ParseError {
    fn bad(is_request: bool, reason: &'static str) -> ParseError {
        ParseError::Malformed { is_request, reason }
    }

    /// The response a transport should send (`(400, reason)`, or 416 for a Request-URI scheme
    /// other than sip/sips/tel), or `None` to drop the message.
    pub fn status(&self) -> Option<(u16, &'static str)> {
        match self {
            ParseError::Malformed {
                is_request: true,
                reason: UNSUPPORTED_SCHEME,
            } => Some((416, UNSUPPORTED_SCHEME)),
            ParseError::Malformed {
                is_request: true,
                reason,
            } => Some((400, reason)),
            _ => None,
        }
    }
}

/// Headers in order as `(name, raw value)`. Compact names are stored expanded and well-known
/// names in their canonical spelling; other names are kept as sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(pub Vec<(Cow<'static, str>, String)>);

impl Headers {
    /// First value of `name` (case-insensitive; compact forms accepted).
    pub fn get(&self, name: &str) -> Option<&str> {
        let name = expand_compact(name).unwrap_or(name);
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// All values of `name`, in order (not comma-split).
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        let name = expand_compact(name).unwrap_or(name);
        self.0
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// All values of `name`, each comma-split into elements (Via, Contact, Route, …).
    pub fn elements<'a>(&'a self, name: &'a str) -> Vec<&'a str> {
        self.get_all(name).flat_map(split_commas).collect()
    }

    /// Append a header (the name is canonicalised).
    pub fn push(&mut self, name: &str, value: impl Into<String>) {
        self.0.push((canonical_name(name), value.into()));
    }

    /// Replace every `name` header by one value (appended at the first one's position).
    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        let canon = canonical_name(name);
        match self
            .0
            .iter()
            .position(|(n, _)| n.eq_ignore_ascii_case(&canon))
        {
            Some(i) => {
                self.0[i].1 = value.into();
                let mut j = 0;
                self.0.retain(|(n, _)| {
                    j += 1;
                    j - 1 == i || !n.eq_ignore_ascii_case(&canon)
                });
            }
            None => self.0.push((canon, value.into())),
        }
    }

    /// Remove every `name` header.
    pub fn remove(&mut self, name: &str) {
        let canon = canonical_name(name);
        self.0.retain(|(n, _)| !n.eq_ignore_ascii_case(&canon));
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_ref(), v.as_str()))
    }
}

/// Compact form (RFC 3261 §7.3.3 and extensions) to full name.
fn expand_compact(name: &str) -> Option<&'static str> {
    if name.len() != 1 {
        return None;
    }
    Some(match name.as_bytes()[0].to_ascii_lowercase() {
        b'v' => "Via",
        b'f' => "From",
        b't' => "To",
        b'i' => "Call-ID",
        b'm' => "Contact",
        b'l' => "Content-Length",
        b'c' => "Content-Type",
        b'k' => "Supported",
        b's' => "Subject",
        b'e' => "Content-Encoding",
        b'o' => "Event",
        b'u' => "Allow-Events",
        b'r' => "Refer-To",
        b'b' => "Referred-By",
        b'x' => "Session-Expires",
        b'y' => "Identity",
        b'a' => "Accept-Contact",
        b'j' => "Reject-Contact",
        b'd' => "Request-Disposition",
        b'n' => "Identity-Info",
        _ => return None,
    })
}

const KNOWN: &[&str] = &[
    "Via",
    "From",
    "To",
    "Call-ID",
    "CSeq",
    "Contact",
    "Max-Forwards",
    "Expires",
    "Content-Length",
    "Content-Type",
    "Route",
    "Record-Route",
    "Authorization",
    "Proxy-Authorization",
    "WWW-Authenticate",
    "Proxy-Authenticate",
    "Supported",
    "Require",
    "User-Agent",
    "Allow",
];

fn canonical_name(name: &str) -> Cow<'static, str> {
    if let Some(full) = expand_compact(name) {
        return Cow::Borrowed(full);
    }
    match KNOWN.iter().find(|k| k.eq_ignore_ascii_case(name)) {
        Some(k) => Cow::Borrowed(k),
        None => Cow::Owned(name.to_owned()),
    }
}

/// A request or a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SipMessage {
    Request {
        method: Method,
        uri: SipUri,
        headers: Headers,
        body: Vec<u8>,
    },
    Response {
        code: u16,
        reason: String,
        headers: Headers,
        body: Vec<u8>,
    },
}

/// One Via element (RFC 3261 §20.42, RFC 3581 `rport`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via {
    /// Upper-cased transport (`UDP`, `TCP`, `TLS`, `WS`, …).
    pub transport: String,
    pub host: String,
    pub port: Option<u16>,
    pub branch: Option<String>,
    pub received: Option<String>,
    /// `None`: no rport; `Some(None)`: `;rport` without value; `Some(Some(p))`: `rport=p`.
    pub rport: Option<Option<u16>>,
    /// All parameters in order, as sent (including branch/received/rport).
    pub params: Params,
}

impl Via {
    /// Parse one Via element (`SIP/2.0/UDP host:port;params`).
    pub fn parse(s: &str) -> Option<Via> {
        let s = s.trim();
        let mut parts = s.splitn(3, '/');
        let name = parts.next()?.trim();
        let version = parts.next()?.trim();
        let rest = parts.next()?.trim_start();
        if !name.eq_ignore_ascii_case("SIP") || version != "2.0" {
            return None;
        }
        let t_end = rest.find([' ', '\t'])?;
        let transport = &rest[..t_end];
        if !is_token(transport) {
            return None;
        }
        let rest = rest[t_end..].trim_start();
        let hp_end = rest.find([';', ' ', '\t']).unwrap_or(rest.len());
        let (host, port) = parse_hostport(&rest[..hp_end]).ok()?;
        let params = parse_header_params(&rest[hp_end..]).ok()?;
        let get = |n: &str| {
            params
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(n))
                .map(|(_, v)| v.clone())
        };
        let rport = match get("rport") {
            None => None,
            Some(None) => Some(None),
            Some(Some(p)) => Some(Some(p.parse().ok()?)),
        };
        Some(Via {
            transport: transport.to_ascii_uppercase(),
            host: host.to_owned(),
            port,
            branch: get("branch").flatten(),
            received: get("received").flatten(),
            rport,
            params,
        })
    }
}

/// Contact header content: `*` or a list of addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Contacts {
    Wildcard,
    List(Vec<NameAddr>),
}

/// Result of [`parse_stream`].
#[derive(Debug)]
pub enum StreamParse {
    /// A whole message, and the number of bytes it used (including any leading CRLFs).
    Complete(SipMessage, usize),
    /// Need more bytes.
    Incomplete,
    /// Only a CRLF keep-alive (RFC 5626 §4.4.1) of this many bytes; answer `\r\n` for `\r\n\r\n`.
    KeepAlive(usize),
    /// Framing is lost: answer per [`ParseError::status`] if possible, then close the connection.
    Error(ParseError),
}

impl SipMessage {
    pub fn headers(&self) -> &Headers {
        match self {
            SipMessage::Request { headers, .. } | SipMessage::Response { headers, .. } => headers,
        }
    }

    pub fn headers_mut(&mut self) -> &mut Headers {
        match self {
            SipMessage::Request { headers, .. } | SipMessage::Response { headers, .. } => headers,
        }
    }

    pub fn body(&self) -> &[u8] {
        match self {
            SipMessage::Request { body, .. } | SipMessage::Response { body, .. } => body,
        }
    }

    pub fn set_body(&mut self, new: Vec<u8>) {
        match self {
            SipMessage::Request { body, .. } | SipMessage::Response { body, .. } => *body = new,
        }
    }

    pub fn is_request(&self) -> bool {
        matches!(self, SipMessage::Request { .. })
    }

    pub fn method(&self) -> Option<&Method> {
        match self {
            SipMessage::Request { method, .. } => Some(method),
            SipMessage::Response { .. } => None,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers().get(name)
    }

    /// All Via elements in order (top first). Unparseable elements are skipped; [`parse`]
    /// guarantees that a parsed message has at least one and that all of them parse.
    pub fn vias(&self) -> Vec<Via> {
        self.headers()
            .elements("Via")
            .into_iter()
            .filter_map(Via::parse)
            .collect()
    }

    pub fn top_via(&self) -> Option<Via> {
        self.headers()
            .elements("Via")
            .into_iter()
            .next()
            .and_then(Via::parse)
    }

    pub fn from(&self) -> Option<NameAddr> {
        NameAddr::parse(self.header("From")?).ok()
    }

    pub fn to(&self) -> Option<NameAddr> {
        NameAddr::parse(self.header("To")?).ok()
    }

    pub fn call_id(&self) -> Option<&str> {
        self.header("Call-ID")
    }

    pub fn cseq(&self) -> Option<(u32, Method)> {
        parse_cseq(self.header("CSeq")?)
    }

    /// Contact header(s): `*` or the list of addresses (an unparseable element → `None`).
    pub fn contacts(&self) -> Option<Contacts> {
        let elems = self.headers().elements("Contact");
        if elems.len() == 1 && elems[0] == "*" {
            return Some(Contacts::Wildcard);
        }
        elems
            .into_iter()
            .map(|e| NameAddr::parse(e).ok())
            .collect::<Option<Vec<_>>>()
            .map(Contacts::List)
    }

    /// Route or Record-Route entries, in order.
    pub fn routes(&self, name: &str) -> Option<Vec<NameAddr>> {
        self.headers()
            .elements(name)
            .into_iter()
            .map(|e| NameAddr::parse(e).ok())
            .collect()
    }

    pub fn max_forwards(&self) -> Option<u32> {
        parse_u32(self.header("Max-Forwards")?)
    }

    pub fn expires(&self) -> Option<u32> {
        parse_u32(self.header("Expires")?)
    }

    pub fn content_length(&self) -> Option<usize> {
        parse_u32(self.header("Content-Length")?).map(|n| n as usize)
    }

    pub fn content_type(&self) -> Option<&str> {
        self.header("Content-Type")
    }

    /// Digest credentials from `Authorization` (or `Proxy-Authorization` when `proxy`), parsed by
    /// [`crate::sip::auth`].
    pub fn authorization(
        &self,
        proxy: bool,
    ) -> Option<Result<DigestCredentials, auth::ParseError>> {
        let name = if proxy {
            "Proxy-Authorization"
        } else {
            "Authorization"
        };
        self.header(name).map(DigestCredentials::parse)
    }

    /// Serialise with CRLF line ends and a Content-Length equal to the body length (replacing
    /// any existing value in place, or appended last).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut s = String::with_capacity(512);
        match self {
            SipMessage::Request { method, uri, .. } => {
                let _ = write!(s, "{} {} SIP/2.0\r\n", method.as_str(), uri);
            }
            SipMessage::Response { code, reason, .. } => {
                let _ = write!(s, "SIP/2.0 {code} {reason}\r\n");
            }
        }
        let body = self.body();
        let mut wrote_cl = false;
        for (n, v) in self.headers().0.iter() {
            if n.eq_ignore_ascii_case("Content-Length") {
                if wrote_cl {
                    continue;
                }
                wrote_cl = true;
                let _ = write!(s, "Content-Length: {}\r\n", body.len());
                continue;
            }
            s.push_str(n);
            s.push_str(": ");
            s.push_str(v);
            s.push_str("\r\n");
        }
        if !wrote_cl {
            let _ = write!(s, "Content-Length: {}\r\n", body.len());
        }
        s.push_str("\r\n");
        let mut out = s.into_bytes();
        out.extend_from_slice(body);
        out
    }

    /// A new request with no headers.
    pub fn request(method: Method, uri: SipUri) -> SipMessage {
        SipMessage::Request {
            method,
            uri,
            headers: Headers::default(),
            body: Vec::new(),
        }
    }
}

/// Build a response to `req` per RFC 3261 §8.2.6: Via(s) in order, From, To (with `to_tag`
/// added if the To has no tag yet), Call-ID and CSeq copied; empty body and `Content-Length: 0` (it is rewritten by
/// [`SipMessage::to_bytes`] if a body is set). Returns `None` if `req`
/// is a response.
pub fn response_to(
    req: &SipMessage,
    code: u16,
    reason: &str,
    to_tag: Option<&str>,
) -> Option<SipMessage> {
    let SipMessage::Request { headers: rh, .. } = req else {
        return None;
    };
    let mut h = Headers(Vec::with_capacity(8));
    for v in rh.get_all("Via") {
        h.push("Via", v);
    }
    if let Some(f) = rh.get("From") {
        h.push("From", f);
    }
    if let Some(t) = rh.get("To") {
        let has_tag = NameAddr::parse(t)
            .map(|na| na.tag().is_some())
            .unwrap_or(true);
        match to_tag {
            Some(tag) if !has_tag => h.push("To", format!("{t};tag={tag}")),
            _ => h.push("To", t),
        }
    }
    for name in ["Call-ID", "CSeq"] {
        if let Some(v) = rh.get(name) {
            h.push(name, v);
        }
    }
    h.push("Content-Length", "0");
    Some(SipMessage::Response {
        code,
        reason: reason.to_owned(),
        headers: h,
        body: Vec::new(),
    })
}

fn parse_u32(s: &str) -> Option<u32> {
    let s = s.trim();
    if s.is_empty() || s.len() > 10 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn parse_cseq(s: &str) -> Option<(u32, Method)> {
    let s = s.trim();
    let sp = s.find([' ', '\t'])?;
    let n = parse_u32(&s[..sp])?;
    let m = Method::parse(s[sp..].trim())?;
    Some((n, m))
}

/// Position just after the blank line ending the header section, if present in `b`.
fn find_header_end(b: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\n' {
            if b.get(i + 1) == Some(&b'\n') {
                return Some(i + 2);
            }
            if b.get(i + 1) == Some(&b'\r') && b.get(i + 2) == Some(&b'\n') {
                return Some(i + 3);
            }
        }
        i += 1;
    }
    None
}

fn skip_leading_crlf(b: &[u8]) -> usize {
    b.iter().take_while(|&&c| c == b'\r' || c == b'\n').count()
}

/// Parse the start line; `Ok(is_request)` tells how to classify later errors.
fn parse_start_line(line: &str) -> Result<StartLine, ParseError> {
    let not = ParseError::NotSip;
    if let Some(rest) = line.strip_prefix("SIP/2.0 ") {
        let (code, reason) = match rest.find(' ') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, ""),
        };
        if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(not("bad status code"));
        }
        let code: u16 = code.parse().map_err(|_| not("bad status code"))?;
        if !(100..700).contains(&code) {
            return Err(not("bad status code"));
        }
        return Ok(StartLine::Response(code, reason.to_owned()));
    }
    let mut it = line.split(' ');
    let (m, u, v) = match (it.next(), it.next(), it.next(), it.next()) {
        (Some(m), Some(u), Some(v), None) => (m, u, v),
        _ => return Err(not("bad start line")),
    };
    if v != "SIP/2.0" {
        return Err(not("bad SIP version"));
    }
    let method = Method::parse(m).ok_or(not("bad method"))?;
    Ok(StartLine::Request(method, u.to_owned()))
}

enum StartLine {
    Request(Method, String),
    Response(u16, String),
}

/// Split the header section (after the start line) into unfolded, canonicalised headers.
fn parse_headers(text: &str, is_request: bool) -> Result<Headers, ParseError> {
    let bad = |r| ParseError::bad(is_request, r);
    let mut headers: Vec<(Cow<'static, str>, String)> = Vec::with_capacity(16);
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            let last = headers
                .last_mut()
                .ok_or(bad("continuation line without header"))?;
            let cont = line.trim();
            if !cont.is_empty() {
                if !last.1.is_empty() {
                    last.1.push(' ');
                }
                last.1.push_str(cont);
            }
            continue;
        }
        let colon = line.find(':').ok_or(bad("header line without colon"))?;
        let name = line[..colon].trim_end_matches([' ', '\t']);
        if !is_token(name) {
            return Err(bad("bad header name"));
        }
        if headers.len() >= MAX_HEADERS {
            return Err(bad("too many headers"));
        }
        let value = line[colon + 1..].trim_matches([' ', '\t']);
        if value.len() > MAX_HEADER_VALUE {
            return Err(bad("header too long"));
        }
        headers.push((canonical_name(name), value.to_owned()));
    }
    if headers.iter().any(|(_, v)| v.len() > MAX_HEADER_VALUE) {
        return Err(bad("header too long"));
    }
    Ok(Headers(headers))
}

/// Check the mandatory headers (RFC 3261 §8.1.1) and the typed ones a transport relies on.
fn validate(msg: &SipMessage, is_request: bool) -> Result<(), ParseError> {
    let bad = |r| ParseError::bad(is_request, r);
    let h = msg.headers();
    let vias = h.elements("Via");
    if vias.is_empty() {
        return Err(bad("Missing Via"));
    }
    if !vias.iter().all(|v| Via::parse(v).is_some()) {
        return Err(bad("Bad Via"));
    }
    match h.get("Call-ID") {
        Some(c) if !c.is_empty() => {}
        _ => return Err(bad("Missing Call-ID")),
    }
    let from = h.get("From").ok_or(bad("Missing From"))?;
    NameAddr::parse(from).map_err(|_| bad("Bad From"))?;
    let to = h.get("To").ok_or(bad("Missing To"))?;
    NameAddr::parse(to).map_err(|_| bad("Bad To"))?;
    let cseq = h.get("CSeq").ok_or(bad("Missing CSeq"))?;
    let (_, cm) = parse_cseq(cseq).ok_or(bad("Bad CSeq"))?;
    if let Some(m) = msg.method() {
        if *m != cm {
            return Err(bad("CSeq method does not match"));
        }
    }
    if let Some(mf) = h.get("Max-Forwards") {
        parse_u32(mf).ok_or(bad("Bad Max-Forwards"))?;
    }
    Ok(())
}

/// Parse the message whose header section is `b[..hdr_end]`. `body` is everything after it
/// that may belong to this message; `stream` selects TCP rules (Content-Length required, and
/// the returned length says how much of `body` was used).
fn parse_inner(
    b: &[u8],
    hdr_end: usize,
    stream: bool,
) -> Result<Result<(SipMessage, usize), usize>, ParseError> {
    let head = &b[..hdr_end];
    let line_end = head.iter().position(|&c| c == b'\n').unwrap_or(head.len());
    let first = &head[..line_end];
    let first = first.strip_suffix(b"\r").unwrap_or(first);
    let first =
        std::str::from_utf8(first).map_err(|_| ParseError::NotSip("start line not UTF-8"))?;
    let start = parse_start_line(first)?;
    let is_request = matches!(start, StartLine::Request(..));
    let bad = |r| ParseError::bad(is_request, r);
    let text = std::str::from_utf8(&head[line_end.min(head.len())..])
        .map_err(|_| bad("headers not UTF-8"))?;
    let headers = parse_headers(text, is_request)?;
    let rest = &b[hdr_end..];
    let cl = {
        let mut it = headers.get_all("Content-Length");
        let first = it.next();
        match first {
            Some(v) => {
                let n = parse_u32(v).ok_or(bad("Bad Content-Length"))? as usize;
                if it.any(|o| parse_u32(o) != Some(n as u32)) {
                    return Err(bad("Conflicting Content-Length"));
                }
                if n > MAX_BODY {
                    return Err(bad("Content-Length too large"));
                }
                Some(n)
            }
            None => None,
        }
    };
    let body_len = match (cl, stream) {
        (Some(n), _) if n <= rest.len() => n,
        (Some(n), true) => return Ok(Err(n)),
        (Some(_), false) => return Err(bad("Content-Length larger than body")),
        (None, true) => return Err(bad("Missing Content-Length")),
        (None, false) => rest.len(),
    };
    let body = rest[..body_len].to_vec();
    let msg = match start {
        StartLine::Request(method, uri) => {
            let uri = SipUri::parse(&uri).map_err(|e| match e {
                UriError::Scheme => bad(UNSUPPORTED_SCHEME),
                _ => bad("Bad Request-URI"),
            })?;
            SipMessage::Request {
                method,
                uri,
                headers,
                body,
            }
        }
        StartLine::Response(code, reason) => SipMessage::Response {
            code,
            reason,
            headers,
            body,
        },
    };
    validate(&msg, is_request)?;
    Ok(Ok((msg, hdr_end + body_len)))
}

/// Classify a buffer with no end of headers yet: not SIP / too large / still incomplete.
fn check_partial(b: &[u8]) -> Result<(), ParseError> {
    let line_end = b.iter().position(|&c| c == b'\n');
    let first = &b[..line_end.unwrap_or(b.len())];
    if line_end.is_some() || first.len() > MAX_HEADER_BYTES {
        let first = first.strip_suffix(b"\r").unwrap_or(first);
        let s =
            std::str::from_utf8(first).map_err(|_| ParseError::NotSip("start line not UTF-8"))?;
        let is_request = matches!(parse_start_line(s)?, StartLine::Request(..));
        if b.len() > MAX_HEADER_BYTES {
            return Err(ParseError::bad(is_request, "Header section too large"));
        }
    } else if !b
        .iter()
        .all(|&c| c.is_ascii_graphic() || c == b' ' || c == b'\r')
    {
        return Err(ParseError::NotSip("binary data"));
    }
    Ok(())
}

/// Parse one datagram (UDP). Leading CRLFs are ignored; a body longer than Content-Length is
/// truncated and a missing Content-Length means "the rest of the datagram".
pub fn parse(b: &[u8]) -> Result<SipMessage, ParseError> {
    let b = &b[skip_leading_crlf(b)..];
    if b.is_empty() {
        return Err(ParseError::NotSip("empty"));
    }
    let limit = b.len().min(MAX_HEADER_BYTES + 4);
    match find_header_end(&b[..limit]) {
        Some(end) => match parse_inner(b, end, false)? {
            Ok((msg, _)) => Ok(msg),
            Err(_) => Err(ParseError::NotSip("unreachable")),
        },
        None => {
            check_partial(b)?;
            // The start line is valid (check_partial would have failed otherwise).
            let line_end = b.iter().position(|&c| c == b'\n');
            match line_end {
                Some(_) => {
                    let first = b.split(|&c| c == b'\n').next().unwrap_or(b);
                    let is_req = !first.starts_with(b"SIP/2.0 ");
                    Err(ParseError::bad(is_req, "No end of header section"))
                }
                None => Err(ParseError::NotSip("no end of start line")),
            }
        }
    }
}

/// Frame and parse the next message on a stream (TCP/TLS). Content-Length is required.
pub fn parse_stream(buf: &[u8]) -> StreamParse {
    let skip = skip_leading_crlf(buf);
    let b = &buf[skip..];
    if b.is_empty() {
        return if skip > 0 {
            StreamParse::KeepAlive(skip)
        } else {
            StreamParse::Incomplete
        };
    }
    let limit = b.len().min(MAX_HEADER_BYTES + 4);
    match find_header_end(&b[..limit]) {
        Some(end) => match parse_inner(b, end, true) {
            Ok(Ok((msg, used))) => StreamParse::Complete(msg, skip + used),
            Ok(Err(_needed)) => StreamParse::Incomplete,
            Err(e) => StreamParse::Error(e),
        },
        None => match check_partial(b) {
            Ok(()) => StreamParse::Incomplete,
            Err(e) => StreamParse::Error(e),
        },
    }
}

#[cfg(test)]
mod tests;
