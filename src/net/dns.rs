//! A small DNS stub resolver for what the system resolver (`getaddrinfo`) cannot answer:
//! SRV records (RFC 2782), NAPTR (RFC 3403, for ENUM), TXT, the I-ENUM branch location
//! record (EBL, provisional type 65300), and A records from a configured name server. Queries go over
//! UDP to the servers of `/etc/resolv.conf` (or those configured), one at a time, with a
//! short timeout; answers are checked against the query (id, question) and parsed with
//! bounds checks everywhere, so a malformed or hostile answer is an error, never a panic.
//!
//! Blocking: call it on the blocking pool.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::path::Path;
use std::time::Duration;

/// How long one server gets to answer one query.
pub const QUERY_TIMEOUT: Duration = Duration::from_millis(1500);

const TYPE_A: u16 = 1;
const TYPE_TXT: u16 = 16;
const TYPE_SRV: u16 = 33;
const TYPE_NAPTR: u16 = 35;
/// The provisional type of the ENUM branch location record (draft-lendl-enum-branch-location-record).
const TYPE_EBL: u16 = 65300;
const CLASS_IN: u16 = 1;

/// One SRV record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Srv {
    pub priority: u16,
    pub weight: u16,
    pub port: u16,
    pub target: String,
}

/// One NAPTR record (RFC 3403).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Naptr {
    pub order: u16,
    pub preference: u16,
    pub flags: String,
    pub services: String,
    pub regexp: String,
    pub replacement: String,
}

/// One I-ENUM branch location record: how many digits precede the branch, the label to
/// insert there, and the apex to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ebl {
    pub position: u8,
    pub separator: String,
    pub apex: String,
}

/// One name server given as `ip`, `ip:port` or `[ipv6]:port` (port 53 when none).
pub fn parse_server(item: &str) -> Result<SocketAddr, String> {
    let item = item.trim();
    if let Ok(a) = item.parse::<SocketAddr>() {
        return Ok(a);
    }
    let bare = item.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, 53))
        .map_err(|_| format!("expected ip[:port], got '{item}'"))
}

/// The name servers to ask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolver {
    pub servers: Vec<SocketAddr>,
}

impl Resolver {
    /// The `nameserver` lines of a resolv.conf (port 53); none readable: 127.0.0.1.
    pub fn from_resolv_conf(path: &Path) -> Resolver {
        let servers: Vec<SocketAddr> = std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                let mut w = l.split_whitespace();
                (w.next() == Some("nameserver"))
                    .then(|| w.next())
                    .flatten()
                    .and_then(|a| a.parse::<IpAddr>().ok())
                    .map(|ip| SocketAddr::new(ip, 53))
            })
            .collect();
        if servers.is_empty() {
            Resolver {
                servers: vec![SocketAddr::from(([127, 0, 0, 1], 53))],
            }
        } else {
            Resolver { servers }
        }
    }

    /// The system's servers (`/etc/resolv.conf`).
    pub fn system() -> Resolver {
        Resolver::from_resolv_conf(Path::new("/etc/resolv.conf"))
    }

    /// SRV records of `name` (e.g. `_sip._udp.example.com`), unordered. No such name or
    /// no records: an empty list.
    pub fn srv(&self, name: &str) -> io::Result<Vec<Srv>> {
        self.records(name, TYPE_SRV, |a| match a {
            Answer::Srv(s) => Some(s),
            _ => None,
        })
    }

    /// IPv4 addresses of `name`, in the server's order.
    pub fn a(&self, name: &str) -> io::Result<Vec<Ipv4Addr>> {
        self.records(name, TYPE_A, |a| match a {
            Answer::A(ip) => Some(ip),
            _ => None,
        })
    }

    /// NAPTR records of `name`, in the server's order (no such name: empty).
    pub fn naptr(&self, name: &str) -> io::Result<Vec<Naptr>> {
        self.records(name, TYPE_NAPTR, |a| match a {
            Answer::Naptr(n) => Some(n),
            _ => None,
        })
    }

    /// TXT records of `name`, each as its character-strings, in the server's order.
    pub fn txt(&self, name: &str) -> io::Result<Vec<Vec<String>>> {
        self.records(name, TYPE_TXT, |a| match a {
            Answer::Txt(t) => Some(t),
            _ => None,
        })
    }

    /// EBL records (I-ENUM branch location) of `name`.
    pub fn ebl(&self, name: &str) -> io::Result<Vec<Ebl>> {
        self.records(name, TYPE_EBL, |a| match a {
            Answer::Ebl(e) => Some(e),
            _ => None,
        })
    }

    fn records<T>(
        &self,
        name: &str,
        qtype: u16,
        pick: impl FnMut(Answer) -> Option<T>,
    ) -> io::Result<Vec<T>> {
        Ok(self
            .query(name, qtype)?
            .into_iter()
            .filter_map(pick)
            .collect())
    }

    fn query(&self, name: &str, qtype: u16) -> io::Result<Vec<Answer>> {
        let id: u16 = rand::random();
        let q = build_query(id, name, qtype)?;
        let mut last = io::Error::new(io::ErrorKind::NotFound, "no name server");
        for server in &self.servers {
            let bind: SocketAddr = if server.is_ipv4() {
                ([0, 0, 0, 0], 0).into()
            } else {
                (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
            };
            let r = (|| {
                let sock = UdpSocket::bind(bind)?;
                sock.set_read_timeout(Some(QUERY_TIMEOUT))?;
                sock.connect(server)?;
                sock.send(&q)?;
                let mut buf = [0u8; 4096];
                loop {
                    let n = sock.recv(&mut buf)?;
                    match parse_response(&buf[..n], id, name, qtype) {
                        Ok(a) => return Ok(a),
                        // Not our answer (another id): keep waiting until the timeout.
                        Err(ParseErr::Mismatch) => continue,
                        Err(ParseErr::Bad(m)) => {
                            return Err(io::Error::new(io::ErrorKind::InvalidData, m))
                        }
                        Err(ParseErr::Rcode(3)) => return Ok(Vec::new()),
                        Err(ParseErr::Rcode(c)) => {
                            return Err(io::Error::other(format!("DNS error code {c}")))
                        }
                    }
                }
            })();
            match r {
                Ok(a) => return Ok(a),
                Err(e) => last = e,
            }
        }
        Err(last)
    }
}

/// RFC 2782's order: by priority, and within one priority a weighted random order
/// (`rand01` gives numbers in [0, 1)). A single `.` target means "no service": empty.
pub fn order_srv(mut recs: Vec<Srv>, mut rand01: impl FnMut() -> f64) -> Vec<Srv> {
    if recs.len() == 1 && (recs[0].target.is_empty() || recs[0].target == ".") {
        return Vec::new();
    }
    recs.sort_by_key(|r| r.priority);
    let mut out = Vec::with_capacity(recs.len());
    let mut i = 0;
    while i < recs.len() {
        let p = recs[i].priority;
        let mut group: Vec<Srv> = Vec::new();
        while i < recs.len() && recs[i].priority == p {
            group.push(recs[i].clone());
            i += 1;
        }
        // Zero weights first, as RFC 2782 suggests, so they have a small chance.
        group.sort_by_key(|r| r.weight != 0);
        while !group.is_empty() {
            let total: u64 = group.iter().map(|r| r.weight as u64).sum();
            let pick = if total == 0 {
                0
            } else {
                let x = (rand01() * (total + 1) as f64) as u64;
                let mut run = 0u64;
                group
                    .iter()
                    .position(|r| {
                        run += r.weight as u64;
                        run >= x
                    })
                    .unwrap_or(group.len() - 1)
            };
            out.push(group.remove(pick));
        }
    }
    out
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Answer {
    A(Ipv4Addr),
    Srv(Srv),
    Naptr(Naptr),
    Txt(Vec<String>),
    Ebl(Ebl),
}

#[derive(Debug)]
enum ParseErr {
    Mismatch,
    Rcode(u8),
    Bad(&'static str),
}

fn build_query(id: u16, name: &str, qtype: u16) -> io::Result<Vec<u8>> {
    let mut q = Vec::with_capacity(32 + name.len());
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0x01, 0x00]); // recursion desired
    q.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]); // one question
    encode_name(&mut q, name)?;
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&CLASS_IN.to_be_bytes());
    Ok(q)
}

fn encode_name(out: &mut Vec<u8>, name: &str) -> io::Result<()> {
    let bad = |m: &str| io::Error::new(io::ErrorKind::InvalidInput, format!("{m}: '{name}'"));
    let name = name.trim_end_matches('.');
    if name.is_empty() || name.len() > 253 {
        return Err(bad("bad DNS name"));
    }
    for label in name.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(bad("bad DNS label"));
        }
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    Ok(())
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn u8(&mut self) -> Result<u8, ParseErr> {
        let v = *self
            .b
            .get(self.pos)
            .ok_or(ParseErr::Bad("short DNS message"))?;
        self.pos += 1;
        Ok(v)
    }
    fn u16(&mut self) -> Result<u16, ParseErr> {
        Ok(u16::from_be_bytes([self.u8()?, self.u8()?]))
    }
    fn u32(&mut self) -> Result<u32, ParseErr> {
        Ok(((self.u16()? as u32) << 16) | self.u16()? as u32)
    }
    /// A <character-string>: a length octet and that many bytes.
    fn string(&mut self) -> Result<String, ParseErr> {
        let n = self.u8()? as usize;
        let s = self
            .b
            .get(self.pos..self.pos + n)
            .ok_or(ParseErr::Bad("short DNS string"))?;
        self.pos += n;
        Ok(String::from_utf8_lossy(s).into_owned())
    }
    fn skip(&mut self, n: usize) -> Result<(), ParseErr> {
        if self.pos + n > self.b.len() {
            return Err(ParseErr::Bad("short DNS message"));
        }
        self.pos += n;
        Ok(())
    }
    /// A possibly compressed name, from the current position.
    fn name(&mut self) -> Result<String, ParseErr> {
        let (name, end) = read_name(self.b, self.pos)?;
        self.pos = end;
        Ok(name)
    }
}

/// The name at `pos` and the position after it (compression pointers followed, at most
/// 64 of them, so loops end).
fn read_name(b: &[u8], mut pos: usize) -> Result<(String, usize), ParseErr> {
    let mut out = String::new();
    let mut end = None;
    for _ in 0..64 {
        let len = *b.get(pos).ok_or(ParseErr::Bad("short DNS name"))? as usize;
        if len == 0 {
            return Ok((out, end.unwrap_or(pos + 1)));
        }
        if len & 0xC0 == 0xC0 {
            let lo = *b.get(pos + 1).ok_or(ParseErr::Bad("short DNS pointer"))? as usize;
            end.get_or_insert(pos + 2);
            pos = ((len & 0x3F) << 8) | lo;
            continue;
        }
        if len & 0xC0 != 0 {
            return Err(ParseErr::Bad("bad DNS label"));
        }
        let label = b
            .get(pos + 1..pos + 1 + len)
            .ok_or(ParseErr::Bad("short DNS label"))?;
        if !out.is_empty() {
            out.push('.');
        }
        out.push_str(&String::from_utf8_lossy(label));
        if out.len() > 255 {
            return Err(ParseErr::Bad("DNS name too long"));
        }
        pos += 1 + len;
    }
    Err(ParseErr::Bad("DNS name pointer loop"))
}

fn parse_response(b: &[u8], id: u16, name: &str, qtype: u16) -> Result<Vec<Answer>, ParseErr> {
    let mut r = Reader { b, pos: 0 };
    if r.u16()? != id {
        return Err(ParseErr::Mismatch);
    }
    let flags = r.u16()?;
    if flags & 0x8000 == 0 {
        return Err(ParseErr::Mismatch);
    }
    let rcode = (flags & 0x000F) as u8;
    let qd = r.u16()?;
    let an = r.u16()?;
    r.u16()?;
    r.u16()?;
    if qd != 1 {
        return Err(ParseErr::Mismatch);
    }
    let qname = r.name()?;
    let (qt, _qc) = (r.u16()?, r.u16()?);
    if qt != qtype || !qname.eq_ignore_ascii_case(name.trim_end_matches('.')) {
        return Err(ParseErr::Mismatch);
    }
    if rcode != 0 {
        return Err(ParseErr::Rcode(rcode));
    }
    let mut out = Vec::new();
    for _ in 0..an {
        r.name()?;
        let t = r.u16()?;
        let class = r.u16()?;
        r.u32()?;
        let len = r.u16()? as usize;
        let start = r.pos;
        if start + len > b.len() {
            return Err(ParseErr::Bad("short DNS record"));
        }
        match (t, class) {
            (TYPE_A, CLASS_IN) if len == 4 => {
                out.push(Answer::A(Ipv4Addr::new(
                    b[start],
                    b[start + 1],
                    b[start + 2],
                    b[start + 3],
                )));
            }
            (TYPE_SRV, CLASS_IN) if len >= 7 => {
                let mut s = Reader { b, pos: start };
                let priority = s.u16()?;
                let weight = s.u16()?;
                let port = s.u16()?;
                let target = s.name()?;
                out.push(Answer::Srv(Srv {
                    priority,
                    weight,
                    port,
                    target,
                }));
            }
            (TYPE_NAPTR | TYPE_TXT | TYPE_EBL, CLASS_IN) => {
                // The record's fields must lie inside its rdata.
                let mut s = Reader {
                    b: &b[..start + len],
                    pos: start,
                };
                out.push(match t {
                    TYPE_NAPTR => Answer::Naptr(Naptr {
                        order: s.u16()?,
                        preference: s.u16()?,
                        flags: s.string()?,
                        services: s.string()?,
                        regexp: s.string()?,
                        // A compressed name may point before the record: read it whole.
                        replacement: read_name(b, s.pos)?.0,
                    }),
                    TYPE_TXT => {
                        let mut strings = Vec::new();
                        while s.pos < start + len {
                            strings.push(s.string()?);
                        }
                        Answer::Txt(strings)
                    }
                    _ => Answer::Ebl(Ebl {
                        position: s.u8()?,
                        separator: s.string()?,
                        apex: read_name(b, s.pos)?.0,
                    }),
                });
            }
            _ => {}
        }
        r.pos = start;
        r.skip(len)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An answer to `q` with the given records (type, rdata).
    fn answer(q: &[u8], recs: &[(u16, Vec<u8>)], rcode: u8) -> Vec<u8> {
        let mut a = q.to_vec();
        a[2] = 0x81;
        a[3] = 0x80 | rcode;
        a[6..8].copy_from_slice(&(recs.len() as u16).to_be_bytes());
        for (t, rd) in recs {
            a.extend_from_slice(&[0xC0, 12]);
            a.extend_from_slice(&t.to_be_bytes());
            a.extend_from_slice(&CLASS_IN.to_be_bytes());
            a.extend_from_slice(&60u32.to_be_bytes());
            a.extend_from_slice(&(rd.len() as u16).to_be_bytes());
            a.extend_from_slice(rd);
        }
        a
    }

    fn srv_rdata(p: u16, w: u16, port: u16, target: &str) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&p.to_be_bytes());
        v.extend_from_slice(&w.to_be_bytes());
        v.extend_from_slice(&port.to_be_bytes());
        encode_name(&mut v, target).unwrap();
        v
    }

    #[test]
    fn srv_and_a_answers_parse() {
        let name = "_sip._udp.trunk.test";
        let q = build_query(7, name, TYPE_SRV).unwrap();
        let a = answer(
            &q,
            &[
                (TYPE_SRV, srv_rdata(10, 60, 5070, "a.trunk.test")),
                (TYPE_SRV, srv_rdata(20, 0, 5080, "b.trunk.test")),
            ],
            0,
        );
        let got = parse_response(&a, 7, name, TYPE_SRV).unwrap();
        assert_eq!(
            got[1],
            Answer::Srv(Srv {
                priority: 20,
                weight: 0,
                port: 5080,
                target: "b.trunk.test".into()
            })
        );
        let q = build_query(9, "a.trunk.test", TYPE_A).unwrap();
        let a = answer(
            &q,
            &[(TYPE_A, vec![127, 0, 0, 2]), (TYPE_A, vec![127, 0, 0, 3])],
            0,
        );
        assert_eq!(
            parse_response(&a, 9, "a.trunk.test", TYPE_A).unwrap(),
            vec![
                Answer::A(Ipv4Addr::new(127, 0, 0, 2)),
                Answer::A(Ipv4Addr::new(127, 0, 0, 3))
            ]
        );
        assert!(matches!(
            parse_response(&a, 10, "a.trunk.test", TYPE_A),
            Err(ParseErr::Mismatch)
        ));
        let nx = answer(&q, &[], 3);
        assert!(matches!(
            parse_response(&nx, 9, "a.trunk.test", TYPE_A),
            Err(ParseErr::Rcode(3))
        ));
    }

    #[test]
    fn garbage_never_panics() {
        let q = build_query(1, "x.test", TYPE_SRV).unwrap();
        let good = answer(&q, &[(TYPE_SRV, srv_rdata(1, 1, 1, "t.test"))], 0);
        for cut in 0..good.len() {
            let _ = parse_response(&good[..cut], 1, "x.test", TYPE_SRV);
        }
        let mut looped = good.clone();
        // A name pointing at itself.
        let n = looped.len();
        looped[n - 2] = 0xC0;
        looped[n - 1] = (n - 2) as u8;
        let _ = parse_response(&looped, 1, "x.test", TYPE_SRV);
        for i in 0..2000u32 {
            let junk: Vec<u8> = (0..(i % 97)).map(|j| (i * 31 + j * 7) as u8).collect();
            let _ = parse_response(&junk, 0, "x.test", TYPE_SRV);
        }
        assert!(build_query(1, "", TYPE_A).is_err());
        assert!(build_query(1, &"a".repeat(64), TYPE_A).is_err());
    }

    #[test]
    fn srv_order_by_priority_then_weight() {
        let r = |p, w, t: &str| Srv {
            priority: p,
            weight: w,
            port: 5060,
            target: t.into(),
        };
        let recs = vec![
            r(20, 10, "backup"),
            r(10, 60, "a"),
            r(10, 20, "b"),
            r(10, 20, "c"),
        ];
        let mut first_a = 0;
        let mut seq = 0u32;
        for _ in 0..1000 {
            let o = order_srv(recs.clone(), || {
                seq = seq.wrapping_mul(1_103_515_245).wrapping_add(12345);
                (seq >> 8) as f64 / (1u32 << 24) as f64
            });
            assert_eq!(o.len(), 4);
            assert_eq!(o[3].target, "backup");
            if o[0].target == "a" {
                first_a += 1;
            }
        }
        assert!((450..750).contains(&first_a), "{first_a}");
        assert!(order_srv(vec![r(0, 0, ".")], || 0.5).is_empty());
    }

    #[test]
    fn resolv_conf_servers() {
        let d = std::env::temp_dir().join(format!("ferrisk-resolv-{}", std::process::id()));
        std::fs::write(&d, "# x\nnameserver 192.0.2.53\nsearch a\nnameserver ::1\n").unwrap();
        let r = Resolver::from_resolv_conf(&d);
        assert_eq!(
            r.servers,
            vec![
                "192.0.2.53:53".parse().unwrap(),
                "[::1]:53".parse().unwrap()
            ]
        );
        let _ = std::fs::remove_file(&d);
        assert_eq!(
            Resolver::from_resolv_conf(Path::new("/nonexistent")).servers,
            vec!["127.0.0.1:53".parse().unwrap()]
        );
    }

    fn cstr(v: &mut Vec<u8>, s: &str) {
        v.push(s.len() as u8);
        v.extend_from_slice(s.as_bytes());
    }

    #[test]
    fn naptr_txt_and_ebl_answers_parse() {
        let name = "4.3.2.1.5.5.5.1.e164.arpa";
        let q = build_query(3, name, TYPE_NAPTR).unwrap();
        let mut rd = Vec::new();
        rd.extend_from_slice(&100u16.to_be_bytes());
        rd.extend_from_slice(&10u16.to_be_bytes());
        cstr(&mut rd, "u");
        cstr(&mut rd, "E2U+sip");
        cstr(&mut rd, "!^.*$!sip:1234@example.com!");
        rd.push(0);
        let a = answer(&q, &[(TYPE_NAPTR, rd.clone())], 0);
        assert_eq!(
            parse_response(&a, 3, name, TYPE_NAPTR).unwrap(),
            vec![Answer::Naptr(Naptr {
                order: 100,
                preference: 10,
                flags: "u".into(),
                services: "E2U+sip".into(),
                regexp: "!^.*$!sip:1234@example.com!".into(),
                replacement: String::new(),
            })]
        );
        // A string running past its record is an error, not a read of the next one.
        let mut short = rd.clone();
        short.truncate(10);
        let a = answer(&q, &[(TYPE_NAPTR, short), (TYPE_NAPTR, rd)], 0);
        assert!(parse_response(&a, 3, name, TYPE_NAPTR).is_err());

        let q = build_query(4, name, TYPE_TXT).unwrap();
        let mut rd = Vec::new();
        cstr(&mut rd, "Alice Example");
        cstr(&mut rd, "more");
        let a = answer(&q, &[(TYPE_TXT, rd)], 0);
        assert_eq!(
            parse_response(&a, 4, name, TYPE_TXT).unwrap(),
            vec![Answer::Txt(vec!["Alice Example".into(), "more".into()])]
        );

        let q = build_query(5, "i.1.e164.arpa", TYPE_EBL).unwrap();
        let mut rd = vec![2];
        cstr(&mut rd, "i");
        encode_name(&mut rd, "example.net").unwrap();
        let a = answer(&q, &[(TYPE_EBL, rd)], 0);
        assert_eq!(
            parse_response(&a, 5, "i.1.e164.arpa", TYPE_EBL).unwrap(),
            vec![Answer::Ebl(Ebl {
                position: 2,
                separator: "i".into(),
                apex: "example.net".into()
            })]
        );
    }

    #[test]
    fn server_addresses() {
        assert_eq!(
            parse_server("127.0.0.1"),
            Ok("127.0.0.1:53".parse().unwrap())
        );
        assert_eq!(
            parse_server(" 127.0.0.1:5353"),
            Ok("127.0.0.1:5353".parse().unwrap())
        );
        assert_eq!(parse_server("[::1]:54"), Ok("[::1]:54".parse().unwrap()));
        assert_eq!(parse_server("::1"), Ok("[::1]:53".parse().unwrap()));
        assert!(parse_server("dns.example").is_err());
    }

    #[test]
    fn queries_a_real_socket_server() {
        // A one-shot server on loopback answering SRV.
        let srv = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = srv.local_addr().unwrap();
        let t = std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            let (n, from) = srv.recv_from(&mut buf).unwrap();
            let a = answer(&buf[..n], &[(TYPE_SRV, srv_rdata(5, 5, 5099, "h.test"))], 0);
            srv.send_to(&a, from).unwrap();
        });
        let r = Resolver {
            servers: vec![addr],
        };
        let got = r.srv("_sip._udp.trunk.test").unwrap();
        assert_eq!(got[0].port, 5099);
        t.join().unwrap();
    }
}
