//! `CALLCOMPLETION(option)` (func_callcompletion.so): read or set one of the channel's
//! call completion options (`pbx::ccss::CcParams`) for the rest of the call.

use super::{Func, FuncError};
use crate::pbx::ccss;
use crate::pbx::module::{Family, ModuleInfo};
use crate::pbx::Channel;
use std::sync::Arc;

pub static MODULES: &[Family] = &[Family {
    info: ModuleInfo::new(
        "func_callcompletion.so",
        "Call Control Configuration Function",
    ),
    register: |ctx| ctx.register_func(Arc::new(CallCompletion)),
}];

pub struct CallCompletion;

impl Func for CallCompletion {
    fn name(&self) -> &'static str {
        "CALLCOMPLETION"
    }
    fn synopsis(&self) -> &'static str {
        "Get or set a call completion configuration parameter for a channel."
    }
    fn syntax(&self) -> &'static str {
        "CALLCOMPLETION(option)"
    }
    fn description(&self) -> &'static str {
        "The CALLCOMPLETION function can be used to get or set a call completion configuration \
         parameter for a channel. Note that setting a configuration parameter will only change \
         the parameter for the duration of the call. The allowable options are: \
         cc_agent_policy, cc_monitor_policy, cc_offer_timer, ccnr_available_timer, \
         ccbs_available_timer, cc_recall_timer, cc_max_agents, cc_max_monitors, \
         cc_callback_macro, cc_callback_sub, cc_agent_dialstring. For more information on call \
         completion parameters, see ccss.conf.sample."
    }
    fn writable(&self) -> bool {
        true
    }
    fn read(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        ccss::params_of(chan)
            .get(a)
            .ok_or_else(|| FuncError::Other(format!("{} is not a valid CC parameter", a.trim())))
    }
    fn write(&self, chan: &mut Channel, a: &str, value: &str) -> Result<(), FuncError> {
        if !ccss::CcParams::is_option(a) {
            return Err(FuncError::Other(format!(
                "{} is not a valid CC parameter",
                a.trim()
            )));
        }
        ccss::params_mut(chan)
            .set(a, value)
            .map_err(FuncError::Other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::test_channel;

    #[test]
    fn reads_defaults_and_writes_for_the_call() {
        let mut c = test_channel();
        let f = CallCompletion;
        assert_eq!(f.read(&mut c, "cc_agent_policy").unwrap(), "never");
        assert_eq!(f.read(&mut c, "cc_recall_timer").unwrap(), "20");
        f.write(&mut c, "cc_agent_policy", "generic").unwrap();
        f.write(&mut c, "cc_callback_sub", "cc-sub,s,1").unwrap();
        assert_eq!(f.read(&mut c, "CC_AGENT_POLICY").unwrap(), "generic");
        assert_eq!(f.read(&mut c, "cc_callback_sub").unwrap(), "cc-sub,s,1");
        assert!(f.read(&mut c, "cc_max_requests").is_err());
        assert!(f.write(&mut c, "bogus", "1").is_err());
        assert!(f.write(&mut c, "cc_offer_timer", "x").is_err());
    }
}
