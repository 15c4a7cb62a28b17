//! Dialplan functions (`${FUNC(args)}` and `Set(FUNC(args)=value)`), as Asterisk's modules
//! split them (`func_strings.so`, `func_db.so`, …). Each function is one [`Func`]
//! implementation; each file declares its modules in a `MODULES` table. Adding a function to
//! a module touches only that file; a new module adds one line to [`modules`].

pub mod audiohooks;
pub mod callcompletion;
pub mod channel;
pub mod db;
pub mod devstate;
pub mod digest;
pub mod dsp;
pub mod encoding;
pub mod enumlookup;
pub mod env;
pub mod frame_trace;
pub mod group;
pub mod hangupcause;
pub mod iconv;
pub mod json;
pub mod logic;
pub mod math;
pub mod message;
pub mod misc;
pub mod net;
pub mod party;
pub mod periodic_hook;
pub mod realtime;
pub mod strings;
pub mod time;
pub mod vars;
pub mod volume;

pub use crate::pbx::func::{split_call, Func, FuncError, FuncRegistry};
use crate::pbx::module::Module;
use std::sync::Arc;

/// Run `f` on the blocking pool for a function that waits (files, DNS, AstDB); an error
/// when the pool is gone (shutdown).
pub(crate) async fn on_pool<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, FuncError> {
    crate::pbx::blocking::run(f)
        .await
        .ok_or_else(|| FuncError::Other("the blocking pool is gone".into()))
}

/// Every function module of this folder, in load order.
pub fn modules() -> Vec<Arc<dyn Module>> {
    let tables = [
        strings::MODULES,
        logic::MODULES,
        math::MODULES,
        encoding::MODULES,
        channel::MODULES,
        db::MODULES,
        message::MODULES,
        digest::MODULES,
        vars::MODULES,
        env::MODULES,
        group::MODULES,
        json::MODULES,
        volume::MODULES,
        audiohooks::MODULES,
        dsp::MODULES,
        devstate::MODULES,
        net::MODULES,
        realtime::MODULES,
        hangupcause::MODULES,
        misc::MODULES,
        callcompletion::MODULES,
        periodic_hook::MODULES,
        frame_trace::MODULES,
        iconv::MODULES,
    ];
    let mut v: Vec<Arc<dyn Module>> = tables
        .into_iter()
        .flatten()
        .map(|f| Arc::new(*f) as Arc<dyn Module>)
        .collect();
    v.push(Arc::new(enumlookup::FuncEnum));
    v
}
