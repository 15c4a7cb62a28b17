//! Extensions a module adds to the dialplan (Asterisk's `ast_add_extension2` with a
//! registrar other than `pbx_config`): res_parking's `700 => Park()`, `701 => ParkedCall()`
//! and its `park-dial` comeback extensions. They live beside the dialplan file's, survive
//! `dialplan reload` (the loaded dialplan is merged with them each time it is swapped in)
//! and go away with their registrar. `dialplan show` lists them with `[registrar]`.
//!
//! Never parses config text and never names a module: the module says what to add.

use crate::config::Location;
use crate::dialplan::{Context, Dialplan, Extension, Pattern, Priority};

/// One priority a module registers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleExten {
    /// Who added it (`res_parking/default`): `dialplan show` prints it, and
    /// [`super::Pbx::remove_extensions`] removes by it.
    pub registrar: String,
    pub context: String,
    pub exten: String,
    pub priority: i32,
    pub app: String,
    pub data: String,
}

/// The location a module extension carries: its registrar, at line 0 (no file).
pub fn registrar_location(registrar: &str) -> Location {
    Location::new(registrar, 0, 0)
}

/// Add `exts` to `dp`: the context is created (owned by the first registrar) when the file
/// has none; a priority the file already defines is kept (the file wins, as Asterisk's
/// `ast_add_extension2` refuses a duplicate).
pub fn merge(dp: &mut Dialplan, exts: &[ModuleExten]) {
    let mut touched: Vec<String> = Vec::new();
    for m in exts {
        let Ok(pattern) = Pattern::new(&m.exten) else {
            continue;
        };
        let loc = registrar_location(&m.registrar);
        let ctx = dp.contexts.entry(m.context.clone()).or_insert_with(|| {
            let mut c = Context::new(&m.context, loc.clone());
            c.registrar.clone_from(&m.registrar);
            c
        });
        let idx = match ctx
            .extensions
            .iter()
            .position(|e| e.name == m.exten && e.cidmatch.is_none())
        {
            Some(i) => i,
            None => {
                ctx.extensions
                    .push(Extension::new(pattern, None, loc.clone()));
                ctx.extensions.len() - 1
            }
        };
        let x = &mut ctx.extensions[idx];
        x.priorities.entry(m.priority).or_insert_with(|| Priority {
            priority: m.priority,
            label: None,
            app: m.app.clone(),
            app_key: m.app.to_ascii_lowercase(),
            data: m.data.clone(),
            loc,
        });
        if !touched.contains(&m.context) {
            touched.push(m.context.clone());
        }
    }
    for c in touched {
        if let Some(ctx) = dp.contexts.get_mut(&c) {
            ctx.sort_extensions();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn ext(ctx: &str, exten: &str, app: &str) -> ModuleExten {
        ModuleExten {
            registrar: "res_parking/default".into(),
            context: ctx.into(),
            exten: exten.into(),
            priority: 1,
            app: app.into(),
            data: String::new(),
        }
    }

    #[test]
    fn module_extensions_create_their_context_and_keep_the_files_priorities() {
        let (mut dp, _) = crate::pbx::dialplan_from_str(
            "extensions.conf",
            "[parkedcalls]\nexten => 701,1,NoOp(mine)\n",
        )
        .expect("parse");
        merge(
            &mut dp,
            &[
                ext("parkedcalls", "701", "ParkedCall"),
                ext("parkedcalls", "700", "Park"),
                ext("park-dial", "SIP_1000", "Dial"),
            ],
        );
        let now = Utc::now();
        let (_, _, p) = dp
            .find_priority("parkedcalls", "701", 1, None, now)
            .expect("701");
        assert_eq!(p.app, "NoOp");
        let (_, _, p) = dp
            .find_priority("parkedcalls", "700", 1, None, now)
            .expect("700");
        assert_eq!(p.app, "Park");
        assert_eq!(dp.contexts["park-dial"].registrar, "res_parking/default");
        assert!(dp.exists("park-dial", "SIP_1000", 1, None, now));
    }
}
