//! SIP/SIPS/tel URIs (RFC 3261 §19.1, RFC 3966) and the name-addr / addr-spec header forms
//! (RFC 3261 §20, §25) used by From, To, Contact, Route and Record-Route.
//!
//! Hand-written and byte-oriented; no regex, no parser combinators. Parsing never panics.
//! Text is kept **as sent**: an escaped user such as `%61lice` re-serialises unchanged (so a
//! forwarded Request-URI is byte-identical), while [`SipUri`]'s `PartialEq` compares the decoded
//! forms as RFC 3261 §19.1.4 asks (`sip:%61lice@h` equals `sip:alice@h`, hosts and parameter
//! names compare case-insensitively).
//!
//! Grammar points that other parsers get wrong and that are covered by tests here:
//! - the userinfo ends at the **last** `@`, so `sip:alice;day=tuesday@atlanta.example.com` has the
//!   user `alice;day=tuesday` and `sip:john.doe@host` has the user `john.doe`;
//! - URI parameter values may contain `:` (`gr=urn:uuid:…`), parameters may have no value (`lr`);
//! - `[IPv6]` hosts, `?header=value&…` URI headers;
//! - in a name-addr, a quoted display name may contain `;`, `<`, `,` and `\"`, and a quoted header
//!   parameter (`+sip.instance="<urn:uuid:…>"`) never disturbs the URI inside `<…>`;
//! - in an addr-spec without `<…>`, everything after the URI's first `;` (after the host) is a
//!   header parameter, not a URI parameter (RFC 3261 §20.10).

use std::fmt;

/// Upper bound on the number of parameters in one URI or header value (DoS guard).
pub const MAX_PARAMS: usize = 64;

/// Why a URI or name-addr could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UriError {
    #[error("empty URI")]
    Empty,
    #[error("unsupported URI scheme")]
    Scheme,
    #[error("bad host")]
    Host,
    #[error("bad port")]
    Port,
    #[error("bad parameter")]
    Param,
    #[error("too many parameters")]
    TooManyParams,
    #[error("unterminated quoted string")]
    UnterminatedQuote,
    #[error("unterminated <")]
    UnterminatedAngle,
    #[error("unexpected text after the URI")]
    Trailing,
}

/// URI scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    Sip,
    Sips,
    Tel,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Sip => "sip",
            Scheme::Sips => "sips",
            Scheme::Tel => "tel",
        }
    }
}

/// `;name` or `;name=value`, in order. Values are kept exactly as sent (quoted values keep their
/// quotes); see [`unquote`].
pub type Params = Vec<(String, Option<String>)>;

/// A parsed `sip:`, `sips:` or `tel:` URI. For `tel:` the subscriber number is in `host` and
/// `user`/`password`/`port` are `None`.
#[derive(Debug, Clone, Eq)]
pub struct SipUri {
    pub scheme: Scheme,
    /// User part as sent (escapes such as `%61` kept verbatim).
    pub user: Option<String>,
    pub password: Option<String>,
    /// Host name, IPv4 address or IPv6 address **without** brackets.
    pub host: String,
    pub port: Option<u16>,
    pub params: Params,
    /// `?name=value&…` headers, as sent.
    pub headers: Vec<(String, String)>,
}

impl SipUri {
    /// A plain `sip:user@host` URI.
    pub fn new_sip(user: Option<&str>, host: &str, port: Option<u16>) -> SipUri {
        SipUri {
            scheme: Scheme::Sip,
            user: user.map(str::to_owned),
            password: None,
            host: host.to_owned(),
            port,
            params: Vec::new(),
            headers: Vec::new(),
        }
    }

    /// Parse a complete URI (no surrounding whitespace or `<>`).
    pub fn parse(s: &str) -> Result<SipUri, UriError> {
        if s.is_empty() {
            return Err(UriError::Empty);
        }
        let colon = s.find(':').ok_or(UriError::Scheme)?;
        let scheme_str = &s[..colon];
        let scheme = if scheme_str.eq_ignore_ascii_case("sip") {
            Scheme::Sip
        } else if scheme_str.eq_ignore_ascii_case("sips") {
            Scheme::Sips
        } else if scheme_str.eq_ignore_ascii_case("tel") {
            Scheme::Tel
        } else {
            return Err(UriError::Scheme);
        };
        let rest = &s[colon + 1..];
        if rest
            .bytes()
            .any(|b| b <= b' ' || b == b'<' || b == b'>' || b == b'"')
        {
            return Err(UriError::Trailing);
        }
        if scheme == Scheme::Tel {
            let (number, params) = match rest.find(';') {
                Some(i) => (&rest[..i], parse_uri_params(&rest[i + 1..])?),
                None => (rest, Vec::new()),
            };
            if number.is_empty() {
                return Err(UriError::Host);
            }
            return Ok(SipUri {
                scheme,
                user: None,
                password: None,
                host: number.to_owned(),
                port: None,
                params,
                headers: Vec::new(),
            });
        }
        // userinfo ends at the last '@' ('@' cannot occur unescaped in params or headers).
        let (userinfo, hostpart) = match rest.rfind('@') {
            Some(i) => (Some(&rest[..i]), &rest[i + 1..]),
            None => (None, rest),
        };
        let (user, password) = match userinfo {
            Some(ui) => {
                let (u, p) = match ui.find(':') {
                    Some(i) => (&ui[..i], Some(ui[i + 1..].to_owned())),
                    None => (ui, None),
                };
                if u.is_empty() {
                    return Err(UriError::Host);
                }
                (Some(u.to_owned()), p)
            }
            None => (None, None),
        };
        let (hostpart, headers) = match hostpart.find('?') {
            Some(i) => (&hostpart[..i], parse_uri_headers(&hostpart[i + 1..])?),
            None => (hostpart, Vec::new()),
        };
        let (hostport, params) = match hostpart.find(';') {
            Some(i) => (&hostpart[..i], parse_uri_params(&hostpart[i + 1..])?),
            None => (hostpart, Vec::new()),
        };
        let (host, port) = parse_hostport(hostport)?;
        Ok(SipUri {
            scheme,
            user,
            password,
            host: host.to_owned(),
            port,
            params,
            headers,
        })
    }

    /// The value of URI parameter `name` (case-insensitive): `Some(None)` for a flag like `lr`.
    pub fn param(&self, name: &str) -> Option<Option<&str>> {
        find_param(&self.params, name)
    }

    /// `transport` parameter, if any.
    pub fn transport(&self) -> Option<&str> {
        self.param("transport").flatten()
    }

    /// User part with `%xx` escapes decoded (for comparisons and lookups).
    pub fn user_decoded(&self) -> Option<String> {
        self.user.as_deref().map(unescape)
    }

    /// Whether `host` is an IPv6 reference (serialised in brackets).
    pub fn host_is_ipv6(&self) -> bool {
        self.host.contains(':')
    }

    /// `host[:port]` as it would appear in the URI.
    pub fn host_port(&self) -> String {
        let mut s = String::with_capacity(self.host.len() + 8);
        write_host_port(&mut s, &self.host, self.port);
        s
    }
}

fn write_host_port(out: &mut String, host: &str, port: Option<u16>) {
    use std::fmt::Write;
    if host.contains(':') {
        out.push('[');
        out.push_str(host);
        out.push(']');
    } else {
        out.push_str(host);
    }
    if let Some(p) = port {
        let _ = write!(out, ":{p}");
    }
}

impl fmt::Display for SipUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::with_capacity(64);
        s.push_str(self.scheme.as_str());
        s.push(':');
        if let Some(u) = &self.user {
            s.push_str(u);
            if let Some(p) = &self.password {
                s.push(':');
                s.push_str(p);
            }
            s.push('@');
        }
        if self.scheme == Scheme::Tel {
            s.push_str(&self.host);
        } else {
            write_host_port(&mut s, &self.host, self.port);
        }
        write_params(&mut s, &self.params);
        for (i, (n, v)) in self.headers.iter().enumerate() {
            s.push(if i == 0 { '?' } else { '&' });
            s.push_str(n);
            s.push('=');
            s.push_str(v);
        }
        f.write_str(&s)
    }
}

impl PartialEq for SipUri {
    /// RFC 3261 §19.1.4 comparison (simplified): escapes decoded in user/password, host and
    /// parameter names case-insensitive, parameters compared as an unordered set.
    fn eq(&self, o: &SipUri) -> bool {
        if self.scheme != o.scheme
            || self.port != o.port
            || !self.host.eq_ignore_ascii_case(&o.host)
            || self.user.as_deref().map(unescape) != o.user.as_deref().map(unescape)
            || self.password.as_deref().map(unescape) != o.password.as_deref().map(unescape)
            || self.params.len() != o.params.len()
            || self.headers.len() != o.headers.len()
        {
            return false;
        }
        let param_eq = |a: &Option<String>, b: Option<Option<&str>>| match (a, b) {
            (None, Some(None)) => true,
            (Some(x), Some(Some(y))) => unescape(x).eq_ignore_ascii_case(&unescape(y)),
            _ => false,
        };
        self.params
            .iter()
            .all(|(n, v)| param_eq(v, find_param(&o.params, n)))
            && self.headers.iter().all(|(n, v)| {
                o.headers
                    .iter()
                    .any(|(n2, v2)| n.eq_ignore_ascii_case(n2) && unescape(v) == unescape(v2))
            })
    }
}

/// Decode `%xx` escapes; invalid escapes are kept literally. Never panics.
pub fn unescape(s: &str) -> String {
    if !s.contains('%') {
        return s.to_owned();
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

fn find_param<'a>(params: &'a Params, name: &str) -> Option<Option<&'a str>> {
    params
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_deref())
}

fn write_params(out: &mut String, params: &Params) {
    for (n, v) in params {
        out.push(';');
        out.push_str(n);
        if let Some(v) = v {
            out.push('=');
            out.push_str(v);
        }
    }
}

fn parse_uri_params(s: &str) -> Result<Params, UriError> {
    let mut out = Vec::new();
    for p in s.split(';') {
        if out.len() >= MAX_PARAMS {
            return Err(UriError::TooManyParams);
        }
        let (n, v) = match p.find('=') {
            Some(i) => (&p[..i], Some(p[i + 1..].to_owned())),
            None => (p, None),
        };
        if n.is_empty() {
            return Err(UriError::Param);
        }
        out.push((n.to_owned(), v));
    }
    Ok(out)
}

fn parse_uri_headers(s: &str) -> Result<Vec<(String, String)>, UriError> {
    let mut out = Vec::new();
    for h in s.split('&') {
        if out.len() >= MAX_PARAMS {
            return Err(UriError::TooManyParams);
        }
        let i = h.find('=').ok_or(UriError::Param)?;
        if i == 0 {
            return Err(UriError::Param);
        }
        out.push((h[..i].to_owned(), h[i + 1..].to_owned()));
    }
    Ok(out)
}

/// Parse `host[:port]` / `[v6][:port]`; returns the host without brackets.
pub fn parse_hostport(s: &str) -> Result<(&str, Option<u16>), UriError> {
    let (host, port) = if let Some(r) = s.strip_prefix('[') {
        let end = r.find(']').ok_or(UriError::Host)?;
        let host = &r[..end];
        if host.is_empty()
            || !host
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        {
            return Err(UriError::Host);
        }
        let after = &r[end + 1..];
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return Err(UriError::Host),
        };
        (host, port)
    } else {
        match s.find(':') {
            Some(i) => (&s[..i], Some(&s[i + 1..])),
            None => (s, None),
        }
    };
    if host.is_empty()
        || !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b':' || b == b'_')
    {
        return Err(UriError::Host);
    }
    let port = match port {
        Some(p) => {
            if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(UriError::Port);
            }
            Some(p.parse::<u16>().map_err(|_| UriError::Port)?)
        }
        None => None,
    };
    Ok((host, port))
}

/// Split a comma-separated header value (Via, Contact, Route, …) into its elements, ignoring
/// commas inside quoted strings (with `\` escapes) and inside `<…>`. Elements are trimmed; empty
/// elements are dropped. An unterminated quote or `<` leaves the rest as one element (the element
/// parser then reports it).
pub fn split_commas(value: &str) -> Vec<&str> {
    let b = value.as_bytes();
    let mut out = Vec::new();
    let (mut start, mut i) = (0, 0);
    let (mut in_quote, mut in_angle) = (false, false);
    while i < b.len() {
        match b[i] {
            b'\\' if in_quote => i += 1,
            b'"' if !in_angle => in_quote = !in_quote,
            b'<' if !in_quote => in_angle = true,
            b'>' if !in_quote => in_angle = false,
            b',' if !in_quote && !in_angle => {
                let e = value[start..i].trim();
                if !e.is_empty() {
                    out.push(e);
                }
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    let e = value.get(start..).unwrap_or("").trim();
    if !e.is_empty() {
        out.push(e);
    }
    out
}

/// Length of the quoted string at the start of `s` (which starts with `"`), including both
/// quotes.
fn quoted_len(s: &[u8]) -> Result<usize, UriError> {
    let mut i = 1;
    while i < s.len() {
        match s[i] {
            b'\\' => i += 2,
            b'"' => return Ok(i + 1),
            _ => i += 1,
        }
    }
    Err(UriError::UnterminatedQuote)
}

/// Remove surrounding quotes and `\` escapes from a quoted-string; other text is returned as is.
pub fn unquote(s: &str) -> String {
    let inner = match s.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        Some(i) => i,
        None => return s.to_owned(),
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Parse header parameters `;name[=value]…` (values may be quoted strings; kept with quotes).
/// `s` starts right after the URI / `>`. Whitespace around `;` and `=` is tolerated.
pub fn parse_header_params(s: &str) -> Result<Params, UriError> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let skip_ws = |i: &mut usize| {
        while *i < b.len() && (b[*i] == b' ' || b[*i] == b'\t') {
            *i += 1;
        }
    };
    loop {
        skip_ws(&mut i);
        if i >= b.len() {
            return Ok(out);
        }
        if b[i] != b';' {
            return Err(UriError::Trailing);
        }
        i += 1;
        skip_ws(&mut i);
        let ns = i;
        while i < b.len() && !matches!(b[i], b'=' | b';' | b' ' | b'\t' | b'"' | b'<' | b'>') {
            i += 1;
        }
        if i == ns {
            return Err(UriError::Param);
        }
        let name = &s[ns..i];
        skip_ws(&mut i);
        let mut value = None;
        if i < b.len() && b[i] == b'=' {
            i += 1;
            skip_ws(&mut i);
            let vs = i;
            if i < b.len() && b[i] == b'"' {
                i += quoted_len(&b[i..])?;
            } else {
                while i < b.len() && !matches!(b[i], b';' | b' ' | b'\t' | b'"' | b'<' | b'>') {
                    i += 1;
                }
            }
            value = Some(s[vs..i].to_owned());
        }
        if out.len() >= MAX_PARAMS {
            return Err(UriError::TooManyParams);
        }
        out.push((name.to_owned(), value));
    }
}

/// A `name-addr` or `addr-spec` header value with its header parameters (From, To, Contact,
/// Route, Record-Route, Refer-To, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAddr {
    /// Display name exactly as sent (a quoted string keeps its quotes and escapes).
    pub display_raw: Option<String>,
    pub uri: SipUri,
    /// Header parameters (`tag`, `expires`, `q`, `+sip.instance`, …), values as sent.
    pub params: Params,
    /// Whether the URI was written in `<…>`. Serialisation always uses brackets.
    pub bracketed: bool,
}

impl NameAddr {
    pub fn new(uri: SipUri) -> NameAddr {
        NameAddr {
            display_raw: None,
            uri,
            params: Vec::new(),
            bracketed: true,
        }
    }

    /// Parse one element (not a comma list; see [`split_commas`]).
    pub fn parse(s: &str) -> Result<NameAddr, UriError> {
        let s = s.trim_matches(|c| c == ' ' || c == '\t');
        if s.is_empty() {
            return Err(UriError::Empty);
        }
        let b = s.as_bytes();
        // Locate a '<' outside quoted strings: name-addr form.
        let mut i = 0;
        let mut lt = None;
        while i < b.len() {
            match b[i] {
                b'"' => i += quoted_len(&b[i..])?,
                b'<' => {
                    lt = Some(i);
                    break;
                }
                _ => i += 1,
            }
        }
        if let Some(lt) = lt {
            let display = s[..lt].trim();
            let gt = s[lt..].find('>').ok_or(UriError::UnterminatedAngle)? + lt;
            let uri = SipUri::parse(s[lt + 1..gt].trim())?;
            let params = parse_header_params(&s[gt + 1..])?;
            return Ok(NameAddr {
                display_raw: (!display.is_empty()).then(|| display.to_owned()),
                uri,
                params,
                bracketed: true,
            });
        }
        if b[0] == b'"' {
            return Err(UriError::UnterminatedAngle);
        }
        // addr-spec: the URI ends at the first ';' after its host (the last '@' before any
        // quoted text or whitespace marks the end of the userinfo).
        let region_end = s.find(['"', ' ', '\t']).unwrap_or(s.len());
        let host_start = s[..region_end].rfind('@').map_or(0, |i| i + 1);
        let uri_end = s[host_start..]
            .find([';', ' ', '\t'])
            .map_or(s.len(), |i| i + host_start);
        let uri = SipUri::parse(&s[..uri_end])?;
        let params = parse_header_params(&s[uri_end..])?;
        Ok(NameAddr {
            display_raw: None,
            uri,
            params,
            bracketed: false,
        })
    }

    /// Display name with quotes and escapes removed.
    pub fn display_name(&self) -> Option<String> {
        self.display_raw.as_deref().map(unquote)
    }

    /// Header parameter `name` (case-insensitive), value as sent.
    pub fn param(&self, name: &str) -> Option<Option<&str>> {
        find_param(&self.params, name)
    }

    /// The `tag` parameter.
    pub fn tag(&self) -> Option<&str> {
        self.param("tag").flatten()
    }

    /// `expires` header parameter as a number.
    pub fn expires(&self) -> Option<u32> {
        self.param("expires").flatten()?.parse().ok()
    }
}

impl fmt::Display for NameAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::with_capacity(64);
        if let Some(d) = &self.display_raw {
            s.push_str(d);
            s.push(' ');
        }
        s.push('<');
        s.push_str(&self.uri.to_string());
        s.push('>');
        write_params(&mut s, &self.params);
        f.write_str(&s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt(s: &str) -> SipUri {
        let u = SipUri::parse(s).expect(s);
        assert_eq!(u.to_string(), s, "round trip");
        assert_eq!(SipUri::parse(&u.to_string()).unwrap(), u);
        u
    }

    #[test]
    fn dotted_user() {
        let u = rt("sip:john.doe@host");
        assert_eq!(u.user.as_deref(), Some("john.doe"));
        assert_eq!(u.host, "host");
    }

    #[test]
    fn user_with_semicolon() {
        let u = rt("sip:alice;day=tuesday@atlanta.example.com");
        assert_eq!(u.user.as_deref(), Some("alice;day=tuesday"));
        assert_eq!(u.host, "atlanta.example.com");
        assert!(u.params.is_empty());
    }

    #[test]
    fn ipv6_and_params() {
        let u = rt("sips:bob@[2001:db8::1]:5061;transport=tls");
        assert_eq!(u.scheme, Scheme::Sips);
        assert_eq!(u.host, "2001:db8::1");
        assert_eq!(u.port, Some(5061));
        assert_eq!(u.transport(), Some("tls"));
    }

    #[test]
    fn escaped_user_round_trips_and_compares_decoded() {
        let u = rt("sip:%61lice@atlanta.example.com");
        assert_eq!(u.user.as_deref(), Some("%61lice"));
        assert_eq!(u, SipUri::parse("sip:alice@ATLANTA.example.com").unwrap());
        assert_eq!(u.user_decoded().as_deref(), Some("alice"));
    }

    #[test]
    fn uri_headers() {
        let u = rt("sip:100@pbx.example.com?Subject=hi&Priority=urgent");
        assert_eq!(u.host, "pbx.example.com");
        assert_eq!(
            u.headers,
            vec![
                ("Subject".into(), "hi".into()),
                ("Priority".into(), "urgent".into())
            ]
        );
    }

    #[test]
    fn password_and_user_phone() {
        let u = rt("sip:+1-212-555-1212:1234@gateway.com;user=phone");
        assert_eq!(u.user.as_deref(), Some("+1-212-555-1212"));
        assert_eq!(u.password.as_deref(), Some("1234"));
        assert_eq!(u.param("user"), Some(Some("phone")));
    }

    #[test]
    fn gruu_and_flags() {
        let u = rt("sip:alice@example.com;transport=udp;lr;ob;gr=urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6");
        assert_eq!(u.param("lr"), Some(None));
        assert_eq!(
            u.param("gr"),
            Some(Some("urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6"))
        );
        assert_eq!(u.params.len(), 4);
    }

    #[test]
    fn tel_uri() {
        let u = rt("tel:+1-201-555-0123;phone-context=example.com");
        assert_eq!(u.scheme, Scheme::Tel);
        assert_eq!(u.host, "+1-201-555-0123");
    }

    #[test]
    fn bad_uris() {
        for s in [
            "",
            "http://x",
            "sip:",
            "sip:@host",
            "sip:host:99999",
            "sip:host:",
            "sip:[::1",
            "sip:a b",
            "sip:host;",
            "sip:ho<st",
        ] {
            assert!(SipUri::parse(s).is_err(), "{s}");
        }
    }

    #[test]
    fn contact_with_instance_keeps_uri_params() {
        let na = NameAddr::parse("<sip:john.doe@10.0.0.1:5060;transport=udp>;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>\";expires=3600").unwrap();
        assert_eq!(na.uri.user.as_deref(), Some("john.doe"));
        assert_eq!(na.uri.host, "10.0.0.1");
        assert_eq!(na.uri.port, Some(5060));
        assert_eq!(na.uri.transport(), Some("udp"));
        assert_eq!(
            na.param("+sip.instance"),
            Some(Some("\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>\""))
        );
        assert_eq!(na.expires(), Some(3600));
        assert_eq!(NameAddr::parse(&na.to_string()).unwrap(), na);
    }

    #[test]
    fn quoted_display_names() {
        let na = NameAddr::parse(r#""Doe, John \"JD\" \\ Jr." <sip:john.doe@chicago.example.com>"#)
            .unwrap();
        assert_eq!(
            na.display_name().as_deref(),
            Some(r#"Doe, John "JD" \ Jr."#)
        );
        assert_eq!(na.uri.user.as_deref(), Some("john.doe"));
        let na = NameAddr::parse(
            r#""Anonymous; <not a uri>" <sip:anonymous@anonymous.invalid>;tag=hyh8"#,
        )
        .unwrap();
        assert_eq!(na.uri.host, "anonymous.invalid");
        assert_eq!(na.tag(), Some("hyh8"));
        assert_eq!(na.display_name().as_deref(), Some("Anonymous; <not a uri>"));
        let na = NameAddr::parse("Bob <sip:bob@b.example>").unwrap();
        assert_eq!(na.display_name().as_deref(), Some("Bob"));
    }

    #[test]
    fn addr_spec_params_belong_to_header() {
        let na = NameAddr::parse("sip:alice@example.com;tag=1928;expires=5").unwrap();
        assert!(na.uri.params.is_empty());
        assert_eq!(na.tag(), Some("1928"));
        assert!(!na.bracketed);
        let na = NameAddr::parse("sip:alice;day=tuesday@atlanta.example.com;tag=x").unwrap();
        assert_eq!(na.uri.user.as_deref(), Some("alice;day=tuesday"));
        assert_eq!(na.tag(), Some("x"));
    }

    #[test]
    fn bad_name_addrs() {
        for s in [
            "",
            "\"unterminated <sip:a@b>",
            "<sip:a@b",
            "\"x\" sip:a@b",
            "<sip:a@b>;",
            "<sip:a@b>junk",
            "<sip:a@b>;p=\"open",
        ] {
            assert!(NameAddr::parse(s).is_err(), "{s}");
        }
    }

    #[test]
    fn comma_split() {
        assert_eq!(
            split_commas(r#""a, b" <sip:x@y;p=1,2>;q=1 , <sip:z@w>,,"#),
            vec![r#""a, b" <sip:x@y;p=1,2>;q=1"#, "<sip:z@w>"]
        );
    }
}
