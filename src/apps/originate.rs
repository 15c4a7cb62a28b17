//! Originate(): place a call and connect it to an extension or application.

use super::{args, App, AppResult};
use crate::pbx::module::{Family, ModuleContext, ModuleInfo};
use crate::pbx::originate::{originate, Request, Target};
use crate::pbx::Channel;
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;

/// The modules of this file (`module show`).
pub static MODULES: &[Family] = &[Family {
    info: ModuleInfo::new("app_originate.so", "Originate call"),
    register: register_app_originate,
}];

fn register_app_originate(ctx: &ModuleContext) {
    ctx.register_app(Arc::new(Originate));
}

struct Originate;

#[async_trait]
impl App for Originate {
    fn name(&self) -> &'static str {
        "Originate"
    }
    fn synopsis(&self) -> &'static str {
        "Originate a call."
    }
    fn syntax(&self) -> &'static str {
        "Originate(tech_data,type,arg1[,arg2[,arg3[,timeout[,options]]]])"
    }
    fn description(&self) -> &'static str {
        "This application originates an outbound call and connects it to a specified extension (type exten: arg1 context, arg2 extension, arg3 priority) or application (type app: arg1 application, arg2 data). It blocks until the outgoing call fails or gets answered, unless the a option is used. ORIGINATE_STATUS is set to FAILED, SUCCESS, BUSY, CONGESTION, HANGUP, RINGING or UNKNOWN."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let a = args::split(data, ',');
        let dest = args::nth(&a, 0).trim().to_string();
        let kind = args::nth(&a, 1).trim().to_ascii_lowercase();
        if dest.is_empty() || (kind != "exten" && kind != "app") {
            chan.pbx
                .error("app_originate.c: Incorrect type, it should be 'exten' or 'app'");
            chan.vars.set("ORIGINATE_STATUS", "FAILED");
            return Ok(());
        }
        let target = if kind == "exten" {
            let context = args::nth(&a, 2).trim();
            let exten = args::nth(&a, 3).trim();
            let prio = args::nth(&a, 4).trim();
            Target::Exten {
                context: context.to_string(),
                exten: if exten.is_empty() {
                    "s".into()
                } else {
                    exten.to_string()
                },
                priority: prio.parse().unwrap_or(1),
            }
        } else {
            Target::App {
                app: args::nth(&a, 2).trim().to_string(),
                data: args::nth(&a, 3).to_string(),
            }
        };
        let timeout = args::nth(&a, 5)
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|t| *t > 0)
            .map(Duration::from_secs);
        let opts = args::options(args::nth(&a, 6));
        let mut vars = Vec::new();
        if let Some(Some(v)) = opts.get(&'v') {
            for pair in v.split('^') {
                if let Some((k, val)) = pair.split_once('=') {
                    vars.push((k.to_string(), val.to_string()));
                }
            }
        }
        let req = Request {
            dest,
            timeout,
            vars,
            caller: None,
        };
        if opts.contains_key(&'a') {
            let pbx = chan.pbx.clone();
            tokio::spawn(async move {
                let _ = originate(&pbx, req, target, None).await;
            });
            chan.vars.set("ORIGINATE_STATUS", "SUCCESS");
            return Ok(());
        }
        let pbx = chan.pbx.clone();
        let status = originate(&pbx, req, target, Some(chan)).await;
        chan.vars.set("ORIGINATE_STATUS", status);
        Ok(())
    }
}
