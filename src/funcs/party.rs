//! `CONNECTEDLINE()` and `REDIRECTING()` (Asterisk's func_callerid.so, with `CALLERID()`):
//! who a channel is connected to, and where its call was redirected from and to. Chan_sip
//! fills them from `P-Asserted-Identity`/`Remote-Party-ID` and `Diversion`, `Dial()` from
//! call forwards; `Diversion` on outgoing INVITEs comes from `REDIRECTING()`.

use super::{Func, FuncError};
use crate::apps::args;
use crate::pbx::channel::{PartyId, Redirecting, REDIRECTING_REASONS};
use crate::pbx::Channel;

fn opt(o: &Option<String>) -> String {
    o.clone().unwrap_or_default()
}

fn nonempty(v: &str) -> Option<String> {
    (!v.is_empty()).then(|| v.to_string())
}

/// Read a party sub-item (`all`, `name`, `num`, `name-valid`, …); `None`: unknown.
fn party_read(p: &PartyId, item: &str) -> Option<String> {
    Some(match item {
        "all" => format!("\"{}\" <{}>", opt(&p.name), opt(&p.num)),
        "name" => opt(&p.name),
        "num" | "number" => opt(&p.num),
        "name-valid" => if p.name.is_some() { "1" } else { "0" }.into(),
        "num-valid" | "number-valid" => if p.num.is_some() { "1" } else { "0" }.into(),
        "pres" | "name-pres" | "num-pres" | "number-pres" => "allowed_not_screened".into(),
        "num-plan" | "number-plan" | "ton" => "0".into(),
        "tag" | "name-charset" | "subaddr" | "subaddr-valid" | "subaddr-type" | "subaddr-odd" => {
            String::new()
        }
        _ => return None,
    })
}

/// Write a party sub-item; `false`: unknown. Presentation, plan, charset and subaddress
/// have no storage here and are accepted.
fn party_write(p: &mut PartyId, item: &str, value: &str) -> bool {
    match item {
        "all" => {
            let c = crate::pbx::CallerId::parse(value);
            p.name = c.name;
            p.num = c.num;
        }
        "name" => p.name = nonempty(value),
        "num" | "number" => p.num = nonempty(value),
        "name-valid" | "num-valid" | "number-valid" | "pres" | "name-pres" | "num-pres"
        | "number-pres" | "num-plan" | "number-plan" | "ton" | "tag" | "name-charset"
        | "subaddr" | "subaddr-valid" | "subaddr-type" | "subaddr-odd" => {}
        _ => return false,
    }
    true
}

/// A reason as written (a known name in its canonical spelling, else as given).
fn reason_write(value: &str) -> String {
    let v = value.trim();
    REDIRECTING_REASONS
        .iter()
        .find(|(a, _)| a.eq_ignore_ascii_case(v))
        .map(|(a, _)| a.to_string())
        .unwrap_or_else(|| v.to_string())
}

pub struct ConnectedLineFunc;

impl Func for ConnectedLineFunc {
    fn name(&self) -> &'static str {
        "CONNECTEDLINE"
    }
    fn synopsis(&self) -> &'static str {
        "Gets or sets Connected Line data on the channel."
    }
    fn syntax(&self) -> &'static str {
        "CONNECTEDLINE(datatype[,i])"
    }
    fn description(&self) -> &'static str {
        "Gets or sets Connected Line data on the channel. Data types: all, name, num, \
         name-valid, num-valid, pres, name-pres, num-pres, num-plan, tag. The option `i` \
         (inhibit) is accepted: ferrisk does not send connected line updates to the far \
         end yet."
    }
    fn writable(&self) -> bool {
        true
    }
    fn read(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        let parts = args::split(a, ',');
        let item = args::nth(&parts, 0).trim().to_ascii_lowercase();
        let p = chan.connected.as_deref().cloned().unwrap_or_default();
        party_read(&p, &item)
            .ok_or_else(|| FuncError::Usage(format!("Unknown connectedline data type '{item}'.")))
    }
    fn write(&self, chan: &mut Channel, a: &str, value: &str) -> Result<(), FuncError> {
        let parts = args::split(a, ',');
        let item = args::nth(&parts, 0).trim().to_ascii_lowercase();
        let mut p = chan.connected.as_deref().cloned().unwrap_or_default();
        if !party_write(&mut p, &item, value) {
            return Err(FuncError::Usage(format!(
                "Unknown connectedline data type '{item}'."
            )));
        }
        chan.connected = Some(Box::new(p));
        Ok(())
    }
}

pub struct RedirectingFunc;

impl Func for RedirectingFunc {
    fn name(&self) -> &'static str {
        "REDIRECTING"
    }
    fn synopsis(&self) -> &'static str {
        "Gets or sets Redirecting data on the channel."
    }
    fn syntax(&self) -> &'static str {
        "REDIRECTING(datatype[,i])"
    }
    fn description(&self) -> &'static str {
        "Gets or sets Redirecting data on the channel. Data types: orig-all, orig-name, \
         orig-num, orig-reason, from-all, from-name, from-num, to-all, to-name, to-num, \
         reason, count (and the -valid, -pres, -plan, -tag sub-items of each party). \
         Reasons: unknown, cfb, cfnr, unavailable, cfu, time_of_day, dnd, deflection, \
         follow_me, out_of_order, away, cf_dte, send_to_vm, or any other text. A SIP call \
         sends them as a Diversion header."
    }
    fn writable(&self) -> bool {
        true
    }
    fn read(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        let parts = args::split(a, ',');
        let item = args::nth(&parts, 0).trim().to_ascii_lowercase();
        let r = chan.redirecting.as_deref().cloned().unwrap_or_default();
        let unknown = || FuncError::Usage(format!("Unknown redirecting data type '{item}'."));
        match item.as_str() {
            "reason" => return Ok(default_reason(&r.reason)),
            "orig-reason" => return Ok(default_reason(&r.orig_reason)),
            "count" => return Ok(r.count.to_string()),
            "reason-pres" | "priv-orig-all" => return Ok(String::new()),
            _ => {}
        }
        let (party, sub) = split_party(&r, &item).ok_or_else(unknown)?;
        party_read(party, sub).ok_or_else(unknown)
    }
    fn write(&self, chan: &mut Channel, a: &str, value: &str) -> Result<(), FuncError> {
        let parts = args::split(a, ',');
        let item = args::nth(&parts, 0).trim().to_ascii_lowercase();
        let mut r = chan.redirecting.as_deref().cloned().unwrap_or_default();
        match item.as_str() {
            "reason" => r.reason = reason_write(value),
            "orig-reason" => r.orig_reason = reason_write(value),
            "count" => {
                r.count = value.trim().parse().map_err(|_| {
                    FuncError::Usage(format!("Unknown redirecting count '{value}'."))
                })?
            }
            _ => {
                let Some((prefix, sub)) = item.split_once('-') else {
                    return Err(FuncError::Usage(format!(
                        "Unknown redirecting data type '{item}'."
                    )));
                };
                let p = match prefix {
                    "orig" => &mut r.orig,
                    "from" => &mut r.from,
                    "to" => &mut r.to,
                    _ => {
                        return Err(FuncError::Usage(format!(
                            "Unknown redirecting data type '{item}'."
                        )))
                    }
                };
                if !party_write(p, sub, value) {
                    return Err(FuncError::Usage(format!(
                        "Unknown redirecting data type '{item}'."
                    )));
                }
            }
        }
        chan.redirecting = Some(Box::new(r));
        Ok(())
    }
}

fn default_reason(r: &str) -> String {
    if r.is_empty() {
        "unknown".into()
    } else {
        r.to_string()
    }
}

/// `orig-…`, `from-…`, `to-…`: the party and the sub-item.
fn split_party<'a>(r: &'a Redirecting, item: &'a str) -> Option<(&'a PartyId, &'a str)> {
    let (prefix, sub) = item.split_once('-')?;
    let p = match prefix {
        "orig" => &r.orig,
        "from" => &r.from,
        "to" => &r.to,
        _ => return None,
    };
    Some((p, sub))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chan() -> Channel {
        crate::testutil::test_channel()
    }

    #[test]
    fn redirecting_reads_and_writes() {
        let mut c = chan();
        let f = RedirectingFunc;
        assert_eq!(f.read(&mut c, "from-num").unwrap(), "");
        assert_eq!(f.read(&mut c, "reason").unwrap(), "unknown");
        assert_eq!(f.read(&mut c, "count").unwrap(), "0");
        f.write(&mut c, "from-num", "6001").unwrap();
        f.write(&mut c, "from-name", "Bob").unwrap();
        f.write(&mut c, "reason", "CFNR").unwrap();
        f.write(&mut c, "count", "2").unwrap();
        f.write(&mut c, "to-all", "\"Cell\" <0612>").unwrap();
        assert_eq!(f.read(&mut c, "from-all").unwrap(), "\"Bob\" <6001>");
        assert_eq!(f.read(&mut c, "reason").unwrap(), "cfnr");
        assert_eq!(f.read(&mut c, "to-num").unwrap(), "0612");
        assert_eq!(f.read(&mut c, "from-num-valid").unwrap(), "1");
        assert_eq!(f.read(&mut c, "count").unwrap(), "2");
        f.write(&mut c, "reason", "holiday").unwrap();
        assert_eq!(f.read(&mut c, "reason").unwrap(), "holiday");
        assert!(f.read(&mut c, "bogus").is_err());
        assert!(f.write(&mut c, "from-bogus", "x").is_err());
        assert!(f.write(&mut c, "count", "x").is_err());
    }

    #[test]
    fn connected_line_reads_and_writes() {
        let mut c = chan();
        let f = ConnectedLineFunc;
        assert_eq!(f.read(&mut c, "num").unwrap(), "");
        f.write(&mut c, "all", "\"Alice\" <+331234>").unwrap();
        assert_eq!(f.read(&mut c, "name").unwrap(), "Alice");
        assert_eq!(f.read(&mut c, "num").unwrap(), "+331234");
        f.write(&mut c, "num,i", "42").unwrap();
        assert_eq!(f.read(&mut c, "all").unwrap(), "\"Alice\" <42>");
        assert!(f.read(&mut c, "nope").is_err());
    }
}
