//! `DEVICE_STATE()` and `HINT()` (func_devstate.so), `EXTENSION_STATE()`
//! (func_extstate.so), on the core's device states (`pbx::devstate`). They wait: a
//! `Custom:` state is read from (and written to) AstDB on the blocking pool.

use super::{Func, FuncError};
use crate::apps::args;
use crate::pbx::devstate::{self, DeviceState};
use crate::pbx::module::{Family, ModuleContext, ModuleInfo};
use crate::pbx::Channel;
use async_trait::async_trait;
use chrono::Utc;
use std::sync::Arc;

pub static MODULES: &[Family] = &[
    Family {
        info: ModuleInfo::new(
            "func_devstate.so",
            "Gets or sets a device state in the dialplan",
        ),
        register: register_func_devstate,
    },
    Family {
        info: ModuleInfo::new(
            "func_presencestate.so",
            "Gets or sets a presence state in the dialplan",
        ),
        register: |ctx| ctx.register_func(Arc::new(PresenceStateFunc)),
    },
    Family {
        info: ModuleInfo::new(
            "func_extstate.so",
            "Gets an extension's state in the dialplan",
        ),
        register: |ctx| ctx.register_func(Arc::new(ExtensionStateFunc)),
    },
];

fn register_func_devstate(ctx: &ModuleContext) {
    ctx.register_func(Arc::new(DeviceStateFunc));
    ctx.register_func(Arc::new(HintFunc));
}

/// `exten[@context]` (context `default`, as Asterisk).
fn exten_context(a: &str) -> (String, String) {
    match a.split_once('@') {
        Some((e, c)) if !c.trim().is_empty() => (e.trim().into(), c.trim().into()),
        Some((e, _)) => (e.trim().into(), "default".into()),
        None => (a.trim().into(), "default".into()),
    }
}

async fn on_pool<T: Send + 'static>(
    chan: &Channel,
    f: impl FnOnce(&crate::pbx::Pbx) -> T + Send + 'static,
) -> Result<T, FuncError> {
    let pbx = chan.pbx.clone();
    super::on_pool(move || f(&pbx)).await
}

pub struct DeviceStateFunc;

#[async_trait]
impl Func for DeviceStateFunc {
    fn name(&self) -> &'static str {
        "DEVICE_STATE"
    }
    fn synopsis(&self) -> &'static str {
        "Get or Set a device state."
    }
    fn syntax(&self) -> &'static str {
        "DEVICE_STATE(device)"
    }
    fn description(&self) -> &'static str {
        "The DEVICE_STATE function can be used to retrieve the device state from any device \
         state provider (SIP/1001, Custom:name). It can also be used to set custom device \
         states: Set(DEVICE_STATE(Custom:lamp1)=BUSY). Valid states: UNKNOWN, NOT_INUSE, \
         INUSE, BUSY, INVALID, UNAVAILABLE, RINGING, RINGINUSE, ONHOLD. Custom states are kept \
         in AstDB (CustomDevstate)."
    }
    fn writable(&self) -> bool {
        true
    }
    fn read(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        Ok(devstate::device_state(&chan.pbx, a).as_str().into())
    }
    fn write(&self, chan: &mut Channel, a: &str, value: &str) -> Result<(), FuncError> {
        let (name, state) = custom_write(a, value)?;
        chan.pbx
            .astdb
            .put(devstate::CUSTOM_FAMILY, &name, state.as_str())
            .map_err(|e| FuncError::Other(e.to_string()))?;
        Ok(())
    }
    fn is_async(&self) -> bool {
        true
    }
    async fn read_async(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        let dev = a.to_string();
        on_pool(chan, move |pbx| {
            devstate::device_state(pbx, &dev).as_str().to_string()
        })
        .await
    }
    async fn write_async(&self, chan: &mut Channel, a: &str, value: &str) -> Result<(), FuncError> {
        let (name, state) = custom_write(a, value)?;
        on_pool(chan, move |pbx| {
            pbx.astdb
                .put(devstate::CUSTOM_FAMILY, &name, state.as_str())
        })
        .await?
        .map_err(|e| FuncError::Other(e.to_string()))?;
        let device = format!("Custom:{}", a.trim()["Custom:".len()..].trim());
        chan.pbx
            .events
            .publish(crate::pbx::events::Event::DeviceStateChange {
                device,
                state: state.as_str().into(),
            });
        Ok(())
    }
}

/// The custom device name and state of `Set(DEVICE_STATE(Custom:name)=STATE)`.
fn custom_write(a: &str, value: &str) -> Result<(String, DeviceState), FuncError> {
    let a = a.trim();
    if a.len() < 7 || !a[..7].eq_ignore_ascii_case("Custom:") {
        return Err(FuncError::Other(
            "The DEVICE_STATE function can only be used to set 'Custom:' device state!".into(),
        ));
    }
    let name = a[7..].trim();
    if name.is_empty() {
        return Err(FuncError::Other(
            "DEVICE_STATE function called with no custom device name!".into(),
        ));
    }
    let state = DeviceState::parse(value);
    if state == DeviceState::Unknown {
        return Err(FuncError::Other(format!(
            "DEVICE_STATE function given invalid state value '{value}'"
        )));
    }
    Ok((name.to_string(), state))
}

pub struct HintFunc;

impl Func for HintFunc {
    fn name(&self) -> &'static str {
        "HINT"
    }
    fn synopsis(&self) -> &'static str {
        "Get the devices set for a dialplan hint."
    }
    fn syntax(&self) -> &'static str {
        "HINT(extension[@context][,options])"
    }
    fn description(&self) -> &'static str {
        "The HINT function can be used to retrieve the list of devices that are mapped to a \
         dialplan hint (context default). Option n: retrieve the name on the hint (its part \
         after the devices) instead."
    }
    fn read(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        let v = args::split(a, ',');
        let target = args::nth(&v, 0);
        if target.trim().is_empty() {
            return Err(FuncError::Usage(
                "The HINT function requires an extension".into(),
            ));
        }
        let (exten, context) = exten_context(target);
        let name = args::nth(&v, 1).contains('n');
        let dp = chan.pbx.dialplan();
        match dp.hint_parts(&context, &exten, Utc::now()) {
            Some((devices, data)) => Ok(if name { data } else { devices }.to_string()),
            None => Err(FuncError::Other(format!("No hint for {exten}@{context}"))),
        }
    }
}

pub struct ExtensionStateFunc;

#[async_trait]
impl Func for ExtensionStateFunc {
    fn name(&self) -> &'static str {
        "EXTENSION_STATE"
    }
    fn synopsis(&self) -> &'static str {
        "Get an extension's state."
    }
    fn syntax(&self) -> &'static str {
        "EXTENSION_STATE(extension[@context])"
    }
    fn description(&self) -> &'static str {
        "The EXTENSION_STATE function can be used to retrieve the state from any hinted \
         extension (context default): UNKNOWN (no hint), NOT_INUSE, INUSE, BUSY, UNAVAILABLE, \
         RINGING, RINGINUSE, HOLDINUSE, ONHOLD."
    }
    fn read(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        let (exten, context) = exten_context(a);
        if exten.is_empty() {
            return Err(FuncError::Usage(
                "EXTENSION_STATE requires an extension".into(),
            ));
        }
        Ok(
            devstate::extension_state_str(devstate::extension_state(&chan.pbx, &context, &exten))
                .into(),
        )
    }
    fn is_async(&self) -> bool {
        true
    }
    async fn read_async(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        let (exten, context) = exten_context(a);
        if exten.is_empty() {
            return Err(FuncError::Usage(
                "EXTENSION_STATE requires an extension".into(),
            ));
        }
        on_pool(chan, move |pbx| {
            devstate::extension_state_str(devstate::extension_state(pbx, &context, &exten))
                .to_string()
        })
        .await
    }
}

/// The AstDB family of `CustomPresence:` states, as in Asterisk.
const PRESENCE_FAMILY: &str = "CustomPresence";

/// Asterisk's presence state names.
const PRESENCE_STATES: &[&str] = &[
    "not_set",
    "unavailable",
    "available",
    "away",
    "xa",
    "chat",
    "dnd",
];

/// `state[,subtype[,message[,options]]]` checked as func_presencestate's `parse_data`.
fn parse_presence(v: &str) -> Option<(String, String, String, String)> {
    let mut it = v.splitn(4, ',');
    let state = it.next()?.trim().to_ascii_lowercase();
    if !PRESENCE_STATES.contains(&state.as_str()) {
        return None;
    }
    let sub = it.next().unwrap_or("").to_string();
    let msg = it.next().unwrap_or("").to_string();
    let opts = it.next().unwrap_or("").to_string();
    if !opts.is_empty() && opts != "e" {
        return None;
    }
    Some((state, sub, msg, opts))
}

pub struct PresenceStateFunc;

#[async_trait]
impl Func for PresenceStateFunc {
    fn name(&self) -> &'static str {
        "PRESENCE_STATE"
    }
    fn synopsis(&self) -> &'static str {
        "Get or Set a presence state."
    }
    fn syntax(&self) -> &'static str {
        "PRESENCE_STATE(provider,field[,options])"
    }
    fn description(&self) -> &'static str {
        "Reads field value (not_set, unavailable, available, away, xa, chat, dnd), subtype or \
         message of a CustomPresence:name provider (option e: base64-encode the result). \
         Set(PRESENCE_STATE(CustomPresence:name)=state[,subtype[,message[,e]]]) sets it \
         (kept in AstDB, family CustomPresence; with e, subtype and message are given \
         base64-encoded). Other providers are not supported."
    }
    fn writable(&self) -> bool {
        true
    }
    fn read(&self, _chan: &mut Channel, _a: &str) -> Result<String, FuncError> {
        Err(FuncError::Other(
            "PRESENCE_STATE reads AstDB and must wait".into(),
        ))
    }
    fn is_async(&self) -> bool {
        true
    }
    async fn read_async(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        let v = args::split(a, ',');
        let provider = args::nth(&v, 0).trim();
        let field = args::nth(&v, 1).trim().to_ascii_lowercase();
        if provider.is_empty() || field.is_empty() {
            return Err(FuncError::Usage(
                "PRESENCE_STATE reading requires both presence provider and presence field arguments.".into(),
            ));
        }
        let Some(name) = provider.strip_prefix("CustomPresence:").map(str::to_string) else {
            return Err(FuncError::Other("PRESENCE_STATE unknown".into()));
        };
        let stored = on_pool(chan, move |pbx| pbx.astdb.get(PRESENCE_FAMILY, &name)).await?;
        let (state, mut sub, mut msg, opts) = stored
            .as_deref()
            .and_then(parse_presence)
            .unwrap_or_else(|| {
                (
                    "not_set".into(),
                    String::new(),
                    String::new(),
                    String::new(),
                )
            });
        if opts == "e" {
            let dec = |s: &str| {
                String::from_utf8_lossy(&crate::funcs::encoding::base64_decode_lenient(s))
                    .into_owned()
            };
            sub = dec(&sub);
            msg = dec(&msg);
        }
        let out = match field.as_str() {
            "value" => return Ok(state),
            "subtype" => sub,
            "message" => msg,
            _ => String::new(),
        };
        Ok(if args::nth(&v, 2).contains('e') {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.encode(out.as_bytes())
        } else {
            out
        })
    }
    async fn write_async(&self, chan: &mut Channel, a: &str, value: &str) -> Result<(), FuncError> {
        let a = a.trim();
        let Some(name) = a
            .strip_prefix("CustomPresence:")
            .map(|n| n.trim().to_string())
        else {
            return Err(FuncError::Other(
                "The PRESENCE_STATE function can only set CustomPresence: presence providers."
                    .into(),
            ));
        };
        if name.is_empty() {
            return Err(FuncError::Other(
                "PRESENCE_STATE function called with no custom device name!".into(),
            ));
        }
        if parse_presence(value).is_none() {
            return Err(FuncError::Other(
                "Invalid arguments to PRESENCE_STATE".into(),
            ));
        }
        let value = value.to_string();
        on_pool(chan, move |pbx| {
            pbx.astdb.put(PRESENCE_FAMILY, &name, &value)
        })
        .await?
        .map_err(|e| FuncError::Other(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use crate::pbx::tests::{get, pbx_with, run};

    #[tokio::test]
    async fn custom_states_hints_and_extension_states() {
        let pbx = pbx_with(
            "[default]\nexten => 100,hint,Custom:a&Custom:b,Presence:x\n\
             exten => 101,hint,Local/900@default\n exten => 900,1,NoOp()\n\
             [t]\nexten => s,1,Set(DEVICE_STATE(Custom:a)=NOT_INUSE)\n\
             same => n,Set(E1=${EXTENSION_STATE(100)})\n\
             same => n,Set(DEVICE_STATE(Custom:b)=inuse)\n\
             same => n,Set(E2=${EXTENSION_STATE(100@default)})\n\
             same => n,Set(D=${DEVICE_STATE(Custom:b)})\n\
             same => n,Set(DEVICE_STATE(Custom:b)=bogus)\n same => n,Set(D2=${DEVICE_STATE(Custom:b)})\n\
             same => n,Set(DEVICE_STATE(SIP/x)=INUSE)\n\
             same => n,Set(U=${DEVICE_STATE(Custom:never)})\n\
             same => n,Set(I=${DEVICE_STATE(Nope/x)})\n\
             same => n,Set(H=${HINT(100)})\n same => n,Set(HN=${HINT(100,n)})\n\
             same => n,Set(N=${EXTENSION_STATE(555)})\n\
             same => n,Set(L=${EXTENSION_STATE(101)})\n",
        );
        let v = run(&pbx, "t", "s").await;
        assert_eq!(get(&v, "E1"), Some("NOT_INUSE"));
        assert_eq!(get(&v, "E2"), Some("INUSE"));
        assert_eq!(get(&v, "D"), Some("INUSE"));
        assert_eq!(get(&v, "D2"), Some("INUSE"), "a bad value changes nothing");
        assert_eq!(get(&v, "U"), Some("UNKNOWN"));
        assert_eq!(get(&v, "I"), Some("INVALID"));
        assert_eq!(get(&v, "H"), Some("Custom:a&Custom:b"));
        assert_eq!(get(&v, "HN"), Some("Presence:x"));
        assert_eq!(get(&v, "N"), Some("UNKNOWN"));
        // A Local device without channels: the driver cannot tell, no channel: NOT_INUSE.
        assert_eq!(get(&v, "L"), Some("NOT_INUSE"));
        assert_eq!(
            pbx.astdb.get("CustomDevstate", "b").as_deref(),
            Some("INUSE")
        );
    }

    #[tokio::test]
    async fn custom_presence() {
        let pbx = pbx_with(
            "[t]\nexten => s,1,Set(PRESENCE_STATE(CustomPresence:bob)=away,lunch,back at 2)\n\
             same => n,Set(V=${PRESENCE_STATE(CustomPresence:bob,value)})\n\
             same => n,Set(S=${PRESENCE_STATE(CustomPresence:bob,subtype)})\n\
             same => n,Set(M=${PRESENCE_STATE(CustomPresence:bob,message)})\n\
             same => n,Set(E=${PRESENCE_STATE(CustomPresence:bob,subtype,e)})\n\
             same => n,Set(PRESENCE_STATE(CustomPresence:bob)=sleeping)\n\
             same => n,Set(V2=${PRESENCE_STATE(CustomPresence:bob,value)})\n\
             same => n,Set(PRESENCE_STATE(CustomPresence:al)=dnd,Zm9v,YmFy,e)\n\
             same => n,Set(D=${PRESENCE_STATE(CustomPresence:al,subtype)}${PRESENCE_STATE(CustomPresence:al,message)})\n\
             same => n,Set(N=${PRESENCE_STATE(CustomPresence:none,value)})\n",
        );
        let v = run(&pbx, "t", "s").await;
        assert_eq!(get(&v, "V"), Some("away"));
        assert_eq!(get(&v, "S"), Some("lunch"));
        assert_eq!(get(&v, "M"), Some("back at 2"));
        assert_eq!(get(&v, "E"), Some("bHVuY2g="));
        assert_eq!(
            get(&v, "V2"),
            Some("away"),
            "an unknown state changes nothing"
        );
        assert_eq!(get(&v, "D"), Some("foobar"));
        assert_eq!(get(&v, "N"), Some("not_set"));
    }
}
