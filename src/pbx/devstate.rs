//! Device and extension states (Asterisk's `devicestate.c` and hint states): what a
//! device such as `SIP/1001` or `Custom:lamp` is doing, and the state of an extension
//! from its hint's devices. A channel technology answers for its devices
//! ([`super::tech::Driver::device_state`]); where it cannot, the state comes from the
//! channels of that device, as Asterisk's `ast_parse_device_state` does. `Custom:` states
//! live in AstDB (`CustomDevstate/<name>`), as in Asterisk.

use super::Pbx;
use chrono::Utc;

/// `enum ast_device_state`, in Asterisk's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceState {
    Unknown = 0,
    NotInUse = 1,
    InUse = 2,
    Busy = 3,
    Invalid = 4,
    Unavailable = 5,
    Ringing = 6,
    RingInUse = 7,
    OnHold = 8,
}

impl DeviceState {
    /// `ast_devstate_str`: `NOT_INUSE`, `INUSE`, …
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceState::Unknown => "UNKNOWN",
            DeviceState::NotInUse => "NOT_INUSE",
            DeviceState::InUse => "INUSE",
            DeviceState::Busy => "BUSY",
            DeviceState::Invalid => "INVALID",
            DeviceState::Unavailable => "UNAVAILABLE",
            DeviceState::Ringing => "RINGING",
            DeviceState::RingInUse => "RINGINUSE",
            DeviceState::OnHold => "ONHOLD",
        }
    }

    /// `ast_devstate_val`: the state a `DEVICE_STATE(Custom:x)=VALUE` names (`Unknown` for
    /// anything else).
    pub fn parse(s: &str) -> DeviceState {
        match s.trim().to_ascii_uppercase().as_str() {
            "NOT_INUSE" => DeviceState::NotInUse,
            "INUSE" => DeviceState::InUse,
            "BUSY" => DeviceState::Busy,
            "INVALID" => DeviceState::Invalid,
            "UNAVAILABLE" => DeviceState::Unavailable,
            "RINGING" => DeviceState::Ringing,
            "RINGINUSE" => DeviceState::RingInUse,
            "ONHOLD" => DeviceState::OnHold,
            _ => DeviceState::Unknown,
        }
    }

    /// Rank in `ast_devstate_aggregate_add`.
    fn order(self) -> u8 {
        [1, 3, 6, 7, 0, 2, 5, 8, 4][self as usize]
    }
}

/// `struct ast_devstate_aggregate`: the combined state of a hint's devices.
#[derive(Debug, Clone, Copy)]
pub struct Aggregate {
    ringing: bool,
    inuse: bool,
    state: DeviceState,
}

impl Default for Aggregate {
    fn default() -> Self {
        Aggregate {
            ringing: false,
            inuse: false,
            state: DeviceState::Invalid,
        }
    }
}

impl Aggregate {
    pub fn add(&mut self, s: DeviceState) {
        match s {
            DeviceState::Ringing => self.ringing = true,
            DeviceState::InUse | DeviceState::OnHold | DeviceState::Busy => self.inuse = true,
            _ => {}
        }
        if self.ringing && self.inuse {
            self.state = DeviceState::RingInUse;
        } else if s.order() > self.state.order() {
            self.state = s;
        }
    }
    pub fn result(&self) -> DeviceState {
        self.state
    }
}

/// An extension's state (`ast_extension_state`), as EXTENSION_STATE() prints it.
pub fn extension_state_str(s: Option<DeviceState>) -> &'static str {
    match s {
        None => "UNKNOWN",
        Some(d) => match d {
            DeviceState::OnHold => "ONHOLD",
            DeviceState::Busy => "BUSY",
            DeviceState::Unknown | DeviceState::NotInUse => "NOT_INUSE",
            DeviceState::Unavailable | DeviceState::Invalid => "UNAVAILABLE",
            DeviceState::RingInUse => "RINGINUSE",
            DeviceState::Ringing => "RINGING",
            DeviceState::InUse => "INUSE",
        },
    }
}

/// The AstDB family of `Custom:` device states.
pub const CUSTOM_FAMILY: &str = "CustomDevstate";

/// The state of `device`. Reads AstDB for `Custom:` devices: call it off the async
/// workers (the blocking pool).
pub fn device_state(pbx: &Pbx, device: &str) -> DeviceState {
    let device = device.trim();
    if let Some(name) = strip_prefix_ci(device, "Custom:") {
        return pbx
            .astdb
            .get(CUSTOM_FAMILY, name)
            .map(|v| DeviceState::parse(&v))
            .unwrap_or(DeviceState::Unknown);
    }
    // `ccss:SIP/1001`: the caller's call completion state (ccss.conf's cc_*_devstate).
    if let Some(caller) = strip_prefix_ci(device, "ccss:") {
        return super::ccss::service(pbx).map_or(DeviceState::Invalid, |c| c.device_state(caller));
    }
    if let Some(space) = strip_prefix_ci(device, "park:") {
        return match super::parking::service(pbx) {
            Some(p) if p.space_in_use(space) => DeviceState::InUse,
            Some(_) => DeviceState::NotInUse,
            None => DeviceState::Invalid,
        };
    }
    // `Tech:resource` devices of a technology (`Agent:1001`) ask its driver, as
    // Asterisk's device state providers answer for their prefix.
    let (tech, resource) = match (device.split_once('/'), device.split_once(':')) {
        (Some(tr), _) => tr,
        (None, Some((t, r))) => match pbx.techs.get(t).and_then(|d| d.device_state(pbx, r)) {
            Some(s) => return s,
            None => return DeviceState::Invalid,
        },
        (None, None) => return DeviceState::Invalid,
    };
    let Some(driver) = pbx.techs.get(tech) else {
        return DeviceState::Invalid;
    };
    match driver.device_state(pbx, resource) {
        Some(DeviceState::Unknown) | None => from_channels(pbx, device),
        Some(s) => s,
    }
}

fn strip_prefix_ci<'a>(s: &'a str, p: &str) -> Option<&'a str> {
    (s.len() >= p.len() && s[..p.len()].eq_ignore_ascii_case(p)).then(|| &s[p.len()..])
}

/// `ast_parse_device_state`: `RINGING` or `INUSE` from a channel of `device`
/// (`device-…`), else `UNKNOWN`.
pub fn from_channels(pbx: &Pbx, device: &str) -> DeviceState {
    let prefix = format!("{device}-");
    for c in pbx.channels.list() {
        if c.name.len() > prefix.len() && c.name[..prefix.len()].eq_ignore_ascii_case(&prefix) {
            return match c.state() {
                super::channel::ChanState::Ringing => DeviceState::Ringing,
                _ => DeviceState::InUse,
            };
        }
    }
    DeviceState::Unknown
}

/// The combined state of `exten@context`'s hint devices; `None` without a hint. Reads
/// AstDB for `Custom:` devices (blocking pool).
pub fn extension_state(pbx: &Pbx, context: &str, exten: &str) -> Option<DeviceState> {
    let dp = pbx.dialplan();
    let (devices, _) = dp.hint_parts(context, exten, Utc::now())?;
    Some(devices_state(pbx, devices))
}

/// The combined state of a hint's `&`-separated devices (`SIP/100&Custom:x`). Reads AstDB
/// for `Custom:` devices (blocking pool).
pub fn devices_state(pbx: &Pbx, devices: &str) -> DeviceState {
    let mut agg = Aggregate::default();
    for d in devices.split('&').filter(|d| !d.trim().is_empty()) {
        agg.add(device_state(pbx, d));
    }
    agg.result()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregate_as_asterisk() {
        let agg = |v: &[DeviceState]| {
            let mut a = Aggregate::default();
            for s in v {
                a.add(*s);
            }
            a.result()
        };
        use DeviceState::*;
        assert_eq!(agg(&[]), Invalid);
        assert_eq!(agg(&[NotInUse, Unavailable]), NotInUse);
        assert_eq!(agg(&[NotInUse, InUse]), InUse);
        assert_eq!(agg(&[Ringing, InUse]), RingInUse);
        assert_eq!(agg(&[Unknown, Unavailable]), Unavailable);
        assert_eq!(agg(&[Busy, InUse]), Busy);
        assert_eq!(extension_state_str(Some(Unknown)), "NOT_INUSE");
        assert_eq!(extension_state_str(Some(Invalid)), "UNAVAILABLE");
        assert_eq!(extension_state_str(None), "UNKNOWN");
        assert_eq!(DeviceState::parse("inuse"), InUse);
        assert_eq!(DeviceState::parse("bogus"), Unknown);
    }
}
