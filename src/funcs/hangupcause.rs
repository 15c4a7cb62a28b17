//! `HANGUPCAUSE()`, `HANGUPCAUSE_KEYS()` and `HangupCauseClear()` (func_hangupcause.so):
//! why the calls a channel placed (with Dial) failed, per called channel, as the driver
//! said it (`SIP 486 Busy Here`) and as an Asterisk cause code.

use super::{Func, FuncError};
use crate::apps::{args, App, AppResult};
use crate::pbx::channel::{HangupCauses, HANGUPCAUSES};
use crate::pbx::module::{Family, ModuleContext, ModuleInfo};
use crate::pbx::Channel;
use async_trait::async_trait;
use std::sync::Arc;

pub static MODULES: &[Family] = &[Family {
    info: ModuleInfo::new(
        "func_hangupcause.so",
        "HANGUPCAUSE related functions and applications",
    ),
    register: register_func_hangupcause,
}];

fn register_func_hangupcause(ctx: &ModuleContext) {
    ctx.register_func(Arc::new(HangupCause));
    ctx.register_func(Arc::new(HangupCauseKeys));
    ctx.register_app(Arc::new(HangupCauseClear));
}

fn causes(chan: &Channel) -> &[(String, String, i32)] {
    chan.datastores
        .get::<HangupCauses>(HANGUPCAUSES)
        .map(|h| h.0.as_slice())
        .unwrap_or(&[])
}

pub struct HangupCause;

impl Func for HangupCause {
    fn name(&self) -> &'static str {
        "HANGUPCAUSE"
    }
    fn synopsis(&self) -> &'static str {
        "Gets per-channel hangupcause information from the channel."
    }
    fn syntax(&self) -> &'static str {
        "HANGUPCAUSE(channel,type)"
    }
    fn description(&self) -> &'static str {
        "Gets technology-specific (type tech: SIP 486 Busy Here) or translated Asterisk \
         cause code (type ast: 17) information for the channel that resulted from a dial. \
         HANGUPCAUSE_KEYS lists the channels."
    }
    fn read(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        let v = args::split(a, ',');
        let name = args::nth(&v, 0).trim();
        let kind = args::nth(&v, 1).trim().to_ascii_lowercase();
        if name.is_empty() || kind.is_empty() {
            return Err(FuncError::Usage(
                "Both parameters are required: HANGUPCAUSE(channel,type)".into(),
            ));
        }
        let Some((_, tech, cause)) = causes(chan).iter().find(|(n, _, _)| n == name) else {
            return Err(FuncError::Other(format!(
                "Unable to find information for channel {name}"
            )));
        };
        match kind.as_str() {
            "tech" => Ok(tech.clone()),
            "ast" => Ok(cause.to_string()),
            _ => Err(FuncError::Usage(format!(
                "Information type not recognized: '{kind}'"
            ))),
        }
    }
}

pub struct HangupCauseKeys;

impl Func for HangupCauseKeys {
    fn name(&self) -> &'static str {
        "HANGUPCAUSE_KEYS"
    }
    fn synopsis(&self) -> &'static str {
        "Gets the list of channels for which hangup causes are available."
    }
    fn syntax(&self) -> &'static str {
        "HANGUPCAUSE_KEYS()"
    }
    fn description(&self) -> &'static str {
        "Returns a comma-separated list of channel names to be used with the HANGUPCAUSE \
         function."
    }
    fn read(&self, chan: &mut Channel, _a: &str) -> Result<String, FuncError> {
        Ok(causes(chan)
            .iter()
            .map(|(n, _, _)| n.as_str())
            .collect::<Vec<_>>()
            .join(","))
    }
}

struct HangupCauseClear;

#[async_trait]
impl App for HangupCauseClear {
    fn name(&self) -> &'static str {
        "HangupCauseClear"
    }
    fn synopsis(&self) -> &'static str {
        "Clears hangup cause information from the channel that is available through HANGUPCAUSE."
    }
    fn syntax(&self) -> &'static str {
        "HangupCauseClear()"
    }
    fn description(&self) -> &'static str {
        "Clears all channel-specific hangup cause information from the channel. This is \
         never done automatically (i.e. for new Dial()s)."
    }
    async fn exec(&self, chan: &mut Channel, _data: &str) -> AppResult {
        chan.datastores.remove(HANGUPCAUSES);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::pbx::tests::{get, pbx_with, run};

    /// Dial(Local/…) legs that are busy and congested leave their causes behind.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn dial_failures_are_recorded_and_cleared() {
        let pbx = pbx_with(
            "[t]\nexten => s,1,Dial(Local/busy@t&Local/cong@t,5)\n\
             same => n,Set(K=${HANGUPCAUSE_KEYS()})\n\
             same => n,Set(FIRST=${CUT(K,\\,,1)})\n\
             same => n,Set(A=${HANGUPCAUSE(${FIRST},ast)})\n\
             same => n,Set(T=${HANGUPCAUSE(${FIRST},tech)})\n\
             same => n,HangupCauseClear()\n same => n,Set(K2=x${HANGUPCAUSE_KEYS()})\n\
             exten => busy,1,Busy()\nexten => cong,1,Congestion()\n",
        );
        let v = run(&pbx, "t", "s").await;
        let keys = get(&v, "K").unwrap_or("");
        assert_eq!(keys.split(',').count(), 2, "{keys}");
        assert!(keys.split(',').all(|k| k.starts_with("Local/")), "{keys}");
        let a = get(&v, "A").unwrap_or("");
        assert!(a == "17" || a == "34", "{a}");
        let t = get(&v, "T").unwrap_or("");
        assert!(t == "User busy" || t.contains("congestion"), "{t}");
        assert_eq!(get(&v, "K2"), Some("x"));
    }
}
