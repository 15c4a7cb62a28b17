//! XML for an XMPP stream: a small element tree ([`Element`]), its serialisation with
//! escaping, and [`StreamParser`], which cuts the bytes of a `<stream:stream>` into the
//! stream header, complete top-level stanzas and the stream end. Completeness is decided
//! by a quote-aware tag scanner; a complete stanza is then parsed with `quick-xml`
//! (entities, attributes). Never touches a socket.

use quick_xml::events::Event as XmlEvent;
use quick_xml::Reader;

/// One element: qualified name (`stream:features`), attributes in order, children.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Element {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Node>,
}

/// A child: an element or text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Element(Element),
    Text(String),
}

impl Element {
    /// An element with no attributes or children.
    pub fn new(name: &str) -> Element {
        Element {
            name: name.to_string(),
            ..Element::default()
        }
    }

    /// With the attribute `k` set to `v` (builder).
    pub fn attr(mut self, k: &str, v: &str) -> Element {
        self.set_attr(k, v);
        self
    }

    /// With `xmlns` set (builder).
    pub fn ns(self, ns: &str) -> Element {
        self.attr("xmlns", ns)
    }

    /// With a child element (builder).
    pub fn child(mut self, e: Element) -> Element {
        self.children.push(Node::Element(e));
        self
    }

    /// With a text child (builder); empty text adds nothing.
    pub fn text(mut self, t: &str) -> Element {
        if !t.is_empty() {
            self.children.push(Node::Text(t.to_string()));
        }
        self
    }

    /// Set (replace) an attribute.
    pub fn set_attr(&mut self, k: &str, v: &str) {
        match self.attrs.iter_mut().find(|(n, _)| n == k) {
            Some(a) => a.1 = v.to_string(),
            None => self.attrs.push((k.to_string(), v.to_string())),
        }
    }

    /// The value of attribute `k`.
    pub fn get_attr(&self, k: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    }

    /// The name without its prefix (`features` for `stream:features`).
    pub fn local_name(&self) -> &str {
        local(&self.name)
    }

    /// The element's namespace as declared on it (`xmlns`), if any.
    pub fn xmlns(&self) -> Option<&str> {
        self.get_attr("xmlns")
    }

    /// Child elements.
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|c| match c {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }

    /// The first child element with this local name.
    pub fn find(&self, name: &str) -> Option<&Element> {
        self.elements().find(|e| e.local_name() == name)
    }

    /// The first child element with this local name and `xmlns`.
    pub fn find_ns(&self, name: &str, ns: &str) -> Option<&Element> {
        self.elements()
            .find(|e| e.local_name() == name && e.xmlns() == Some(ns))
    }

    /// The text directly inside this element, concatenated.
    pub fn text_content(&self) -> String {
        let mut s = String::new();
        for c in &self.children {
            if let Node::Text(t) = c {
                s.push_str(t);
            }
        }
        s
    }

    /// The text of the first child called `name`.
    pub fn child_text(&self, name: &str) -> Option<String> {
        self.find(name).map(|e| e.text_content())
    }

    /// Serialise (no XML declaration).
    pub fn to_xml(&self) -> String {
        let mut s = String::with_capacity(64);
        self.write(&mut s);
        s
    }

    fn write(&self, s: &mut String) {
        s.push('<');
        s.push_str(&self.name);
        for (k, v) in &self.attrs {
            s.push(' ');
            s.push_str(k);
            s.push_str("='");
            escape_into(v, s);
            s.push('\'');
        }
        if self.children.is_empty() {
            s.push_str("/>");
            return;
        }
        s.push('>');
        for c in &self.children {
            match c {
                Node::Element(e) => e.write(s),
                Node::Text(t) => escape_into(t, s),
            }
        }
        s.push_str("</");
        s.push_str(&self.name);
        s.push('>');
    }
}

/// `name` without its namespace prefix.
pub fn local(name: &str) -> &str {
    name.rsplit(':').next().unwrap_or(name)
}

/// Escape text or an attribute value (both quote kinds, so either may delimit it).
pub fn escape_into(t: &str, s: &mut String) {
    for ch in t.chars() {
        match ch {
            '&' => s.push_str("&amp;"),
            '<' => s.push_str("&lt;"),
            '>' => s.push_str("&gt;"),
            '\'' => s.push_str("&apos;"),
            '"' => s.push_str("&quot;"),
            // Characters XML 1.0 forbids are dropped rather than sent (the server would
            // close the stream).
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => s.push(c),
        }
    }
}

/// What the stream carried next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamEvent {
    /// `<stream:stream …>` (its attributes; no children).
    Header(Element),
    /// A complete top-level element.
    Stanza(Element),
    /// `</stream:stream>`.
    End,
}

/// Why the stream cannot be read (the connection must be dropped).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    #[error("invalid XML: {0}")]
    Invalid(String),
    #[error("stanza larger than {0} bytes")]
    TooLarge(usize),
}

/// Largest stanza accepted.
pub const MAX_STANZA: usize = 1 << 20;

/// Cuts a byte stream into [`StreamEvent`]s. Feed bytes as they arrive; take events until
/// `next` returns `Ok(None)` (more bytes needed).
#[derive(Debug, Default)]
pub struct StreamParser {
    buf: Vec<u8>,
}

impl StreamParser {
    pub fn new() -> StreamParser {
        StreamParser::default()
    }

    /// Append received bytes.
    pub fn feed(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Forget everything buffered (a stream restart after STARTTLS or SASL).
    pub fn reset(&mut self) {
        self.buf.clear();
    }

    /// The next complete event, `Ok(None)` when more bytes are needed.
    pub fn next_event(&mut self) -> Result<Option<StreamEvent>, XmlError> {
        loop {
            // Skip whitespace (keepalives) and stray text between stanzas.
            let start = match self.buf.iter().position(|&b| b == b'<') {
                Some(p) => p,
                None => {
                    self.buf.clear();
                    return Ok(None);
                }
            };
            if start > 0 {
                self.buf.drain(..start);
            }
            let Some(end) = scan(&self.buf)? else {
                if self.buf.len() > MAX_STANZA {
                    return Err(XmlError::TooLarge(MAX_STANZA));
                }
                return Ok(None);
            };
            let item: Vec<u8> = self.buf.drain(..end.len).collect();
            match end.kind {
                Kind::Skip => continue,
                Kind::Header => return Ok(Some(StreamEvent::Header(parse_open_tag(&item)?))),
                Kind::StreamEnd => return Ok(Some(StreamEvent::End)),
                Kind::Element => return Ok(Some(StreamEvent::Stanza(parse_element(&item)?))),
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `<?xml …?>`, a comment.
    Skip,
    Header,
    StreamEnd,
    Element,
}

struct Span {
    len: usize,
    kind: Kind,
}

/// Find the end of the item starting at `buf[0]` (a `<`): `None` if incomplete.
fn scan(buf: &[u8]) -> Result<Option<Span>, XmlError> {
    let mut depth = 0usize;
    let mut i = 0usize;
    loop {
        if i >= buf.len() {
            return Ok(None);
        }
        if buf[i] != b'<' {
            // Text inside an element.
            match buf[i..].iter().position(|&b| b == b'<') {
                Some(p) => i += p,
                None => return Ok(None),
            }
            continue;
        }
        let rest = &buf[i..];
        if rest.len() < 2 {
            return Ok(None);
        }
        if rest.starts_with(b"<?") {
            let Some(e) = find(rest, b"?>") else {
                return Ok(None);
            };
            i += e + 2;
            if depth == 0 {
                return Ok(Some(Span {
                    len: i,
                    kind: Kind::Skip,
                }));
            }
            continue;
        }
        if rest.starts_with(b"<!--") {
            let Some(e) = find(rest, b"-->") else {
                return Ok(None);
            };
            i += e + 3;
            if depth == 0 {
                return Ok(Some(Span {
                    len: i,
                    kind: Kind::Skip,
                }));
            }
            continue;
        }
        if rest.starts_with(b"<![CDATA[") {
            let Some(e) = find(rest, b"]]>") else {
                return Ok(None);
            };
            i += e + 3;
            continue;
        }
        if rest.starts_with(b"<!") {
            return Err(XmlError::Invalid("DTDs are not allowed in XMPP".into()));
        }
        let Some(close) = tag_end(rest) else {
            return Ok(None);
        };
        let tag = &rest[..=close];
        i += close + 1;
        if tag.starts_with(b"</") {
            if depth == 0 {
                if name_of(&tag[2..]) == b"stream:stream" {
                    return Ok(Some(Span {
                        len: i,
                        kind: Kind::StreamEnd,
                    }));
                }
                return Err(XmlError::Invalid(format!(
                    "unexpected closing tag {}",
                    String::from_utf8_lossy(tag)
                )));
            }
            depth -= 1;
        } else if tag.ends_with(b"/>") {
            // Self-closing: depth unchanged.
        } else if depth == 0 && name_of(&tag[1..]) == b"stream:stream" {
            return Ok(Some(Span {
                len: i,
                kind: Kind::Header,
            }));
        } else {
            depth += 1;
        }
        if depth == 0 {
            return Ok(Some(Span {
                len: i,
                kind: Kind::Element,
            }));
        }
    }
}

fn find(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).position(|w| w == n)
}

/// Index of the `>` ending the tag at `t[0]`, skipping quoted attribute values.
fn tag_end(t: &[u8]) -> Option<usize> {
    let mut quote = 0u8;
    for (i, &b) in t.iter().enumerate().skip(1) {
        if quote != 0 {
            if b == quote {
                quote = 0;
            }
        } else if b == b'"' || b == b'\'' {
            quote = b;
        } else if b == b'>' {
            return Some(i);
        }
    }
    None
}

fn name_of(t: &[u8]) -> &[u8] {
    let end = t
        .iter()
        .position(|&b| b.is_ascii_whitespace() || b == b'>' || b == b'/')
        .unwrap_or(t.len());
    &t[..end]
}

fn invalid(e: impl std::fmt::Display) -> XmlError {
    XmlError::Invalid(e.to_string())
}

fn start_element(s: &quick_xml::events::BytesStart<'_>) -> Result<Element, XmlError> {
    let mut e = Element::new(&String::from_utf8_lossy(s.name().as_ref()));
    for a in s.attributes() {
        let a = a.map_err(invalid)?;
        let v = a.unescape_value().map_err(invalid)?;
        e.attrs.push((
            String::from_utf8_lossy(a.key.as_ref()).into_owned(),
            v.into_owned(),
        ));
    }
    Ok(e)
}

/// Parse the stream header's open tag.
fn parse_open_tag(bytes: &[u8]) -> Result<Element, XmlError> {
    let mut r = Reader::from_reader(bytes);
    r.config_mut().check_end_names = false;
    let mut buf = Vec::new();
    loop {
        match r.read_event_into(&mut buf).map_err(invalid)? {
            XmlEvent::Start(s) | XmlEvent::Empty(s) => return start_element(&s),
            XmlEvent::Eof => return Err(XmlError::Invalid("empty stream header".into())),
            _ => {}
        }
        buf.clear();
    }
}

/// Parse one complete element.
pub fn parse_element(bytes: &[u8]) -> Result<Element, XmlError> {
    let mut r = Reader::from_reader(bytes);
    let mut buf = Vec::new();
    let mut stack: Vec<Element> = Vec::new();
    loop {
        let ev = r.read_event_into(&mut buf).map_err(invalid)?;
        match ev {
            XmlEvent::Start(s) => stack.push(start_element(&s)?),
            XmlEvent::Empty(s) => {
                let e = start_element(&s)?;
                match stack.last_mut() {
                    Some(p) => p.children.push(Node::Element(e)),
                    None => return Ok(e),
                }
            }
            XmlEvent::End(_) => {
                let e = stack
                    .pop()
                    .ok_or_else(|| XmlError::Invalid("unbalanced end tag".into()))?;
                match stack.last_mut() {
                    Some(p) => p.children.push(Node::Element(e)),
                    None => return Ok(e),
                }
            }
            XmlEvent::Text(t) => {
                if let Some(p) = stack.last_mut() {
                    let t = t.unescape().map_err(invalid)?;
                    push_text(p, &t);
                }
            }
            XmlEvent::CData(c) => {
                if let Some(p) = stack.last_mut() {
                    push_text(p, &String::from_utf8_lossy(&c));
                }
            }
            XmlEvent::Eof => return Err(XmlError::Invalid("incomplete element".into())),
            _ => {}
        }
        buf.clear();
    }
}

fn push_text(p: &mut Element, t: &str) {
    if let Some(Node::Text(prev)) = p.children.last_mut() {
        prev.push_str(t);
    } else {
        p.children.push(Node::Text(t.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(p: &mut StreamParser) -> Vec<StreamEvent> {
        let mut v = Vec::new();
        while let Some(e) = p.next_event().expect("valid") {
            v.push(e);
        }
        v
    }

    #[test]
    fn header_stanzas_and_end_come_out_whole() {
        let mut p = StreamParser::new();
        let text = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
            xmlns:stream='http://etherx.jabber.org/streams' id='abc' from='localhost' \
            version='1.0'><stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'>\
            <required/></starttls></stream:features> <message from='a@b/c' type='chat'>\
            <body>1 &lt; 2 &amp; &apos;x&apos;</body></message></stream:stream>";
        // Byte by byte: nothing comes out early, everything comes out once.
        let mut got = Vec::new();
        for b in text.as_bytes() {
            p.feed(&[*b]);
            got.extend(events(&mut p));
        }
        assert_eq!(got.len(), 4, "{got:?}");
        let StreamEvent::Header(h) = &got[0] else {
            panic!("{got:?}")
        };
        assert_eq!(h.get_attr("id"), Some("abc"));
        let StreamEvent::Stanza(f) = &got[1] else {
            panic!()
        };
        assert_eq!(f.local_name(), "features");
        assert!(f
            .find_ns("starttls", "urn:ietf:params:xml:ns:xmpp-tls")
            .and_then(|s| s.find("required"))
            .is_some());
        let StreamEvent::Stanza(m) = &got[2] else {
            panic!()
        };
        assert_eq!(m.child_text("body").as_deref(), Some("1 < 2 & 'x'"));
        assert_eq!(got[3], StreamEvent::End);
    }

    #[test]
    fn quoted_gt_and_cdata_do_not_end_a_stanza() {
        let mut p = StreamParser::new();
        p.feed(b"<stream:stream id='1'><message a='x>y'><body><![CDATA[<b>hi</b>]]></body>");
        let ev = events(&mut p);
        assert_eq!(ev.len(), 1);
        p.feed(b"</message>");
        let ev = events(&mut p);
        let StreamEvent::Stanza(m) = &ev[0] else {
            panic!("{ev:?}")
        };
        assert_eq!(m.get_attr("a"), Some("x>y"));
        assert_eq!(m.child_text("body").as_deref(), Some("<b>hi</b>"));
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        for bad in [
            &b"<stream:stream><a></b>"[..],
            b"<stream:stream></x>",
            b"<stream:stream><!DOCTYPE x>",
            b"<stream:stream><a x='1' x='2'/>",
        ] {
            let mut p = StreamParser::new();
            p.feed(bad);
            let mut r = Ok(None);
            for _ in 0..3 {
                r = p.next_event();
                if r.is_err() {
                    break;
                }
            }
            assert!(r.is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn serialisation_escapes_and_round_trips() {
        let e = Element::new("message")
            .attr("to", "a@b")
            .child(Element::new("body").text("<&>'\"\u{1}"));
        let x = e.to_xml();
        assert_eq!(
            x,
            "<message to='a@b'><body>&lt;&amp;&gt;&apos;&quot;</body></message>"
        );
        assert_eq!(
            parse_element(x.as_bytes())
                .unwrap()
                .child_text("body")
                .unwrap(),
            "<&>'\""
        );
    }

    #[test]
    fn oversized_stanzas_are_refused() {
        let mut p = StreamParser::new();
        p.feed(b"<stream:stream><message><body>");
        p.feed(&vec![b'a'; MAX_STANZA + 10]);
        p.next_event().expect("header");
        assert_eq!(p.next_event(), Err(XmlError::TooLarge(MAX_STANZA)));
    }
}
