//! Variable applications: Set (including function assignment and `_`/`__` inheritance) and
//! MSet.

use super::{args, App, AppResult};
use crate::pbx::exec::write_func;
use crate::pbx::module::{Family, ModuleContext, ModuleInfo};
use crate::pbx::Channel;
use async_trait::async_trait;
use std::sync::Arc;

/// The modules of this file (`module show`).
pub static MODULES: &[Family] = &[Family {
    info: ModuleInfo::new("pbx_builtins_set", "Built-in dialplan applications").builtin(),
    register: register_pbx_builtins_set,
}];

fn register_pbx_builtins_set(ctx: &ModuleContext) {
    ctx.register_app(Arc::new(Set));
    ctx.register_app(Arc::new(MSet));
}

/// Assign `name=value` on `chan`: a function call (`CDR(x)`), or a variable.
pub fn assign(chan: &mut Channel, name: &str, value: &str) {
    let name = name.trim();
    if name.contains('(') {
        write_func(chan, name, value);
    } else {
        chan.set_var(name, value);
    }
}

/// [`assign`] from an application: a function that waits (`DB`) is awaited.
pub async fn assign_async(chan: &mut Channel, name: &str, value: &str) {
    let name = name.trim();
    if name.contains('(') {
        crate::pbx::exec::write_func_async(chan, name, value).await;
    } else {
        chan.set_var(name, value);
    }
}

struct Set;
#[async_trait]
impl App for Set {
    fn name(&self) -> &'static str {
        "Set"
    }
    fn synopsis(&self) -> &'static str {
        "Set channel variable or function value."
    }
    fn syntax(&self) -> &'static str {
        "Set(name=value)"
    }
    fn description(&self) -> &'static str {
        "This function can be used to set the value of channel variables or dialplan functions. When setting variables, if the variable name is prefixed with _, the variable will be inherited into channels created from the current channel. If the variable name is prefixed with __, the variable will be inherited into channels created from the current channel and all children channels."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        if data.is_empty() {
            chan.pbx
                .warning("pbx_variables.c: Set requires an argument (variable=value)");
            return Ok(());
        }
        match data.split_once('=') {
            Some((name, value)) => assign_async(chan, name, value).await,
            None => chan.pbx.warning(&format!(
                "pbx_variables.c: Ignoring entry '{data}' with no '='"
            )),
        }
        Ok(())
    }
}

struct MSet;
#[async_trait]
impl App for MSet {
    fn name(&self) -> &'static str {
        "MSet"
    }
    fn synopsis(&self) -> &'static str {
        "Set channel variable(s) or function value(s)."
    }
    fn syntax(&self) -> &'static str {
        "MSet(name1=value1[,name2=value2[,...]])"
    }
    fn description(&self) -> &'static str {
        "This function can be used to set the value of channel variables or dialplan functions. Unlike Set, values are separated by commas, quotes are removed and backslashes escape the next character."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        if data.is_empty() {
            chan.pbx
                .warning("pbx_variables.c: MSet requires at least one variable name/value pair.");
            return Ok(());
        }
        for pair in args::split(data, ',') {
            match pair.split_once('=') {
                Some((name, value)) => assign_async(chan, name, value).await,
                None => chan.pbx.warning(&format!(
                    "pbx_variables.c: MSet: ignoring entry '{pair}' with no '='"
                )),
            }
        }
        Ok(())
    }
}
