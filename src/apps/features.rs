//! Call features: `features.conf` (the built-in `features` module, as Asterisk's
//! `features_config.c`: `FEATURE()`, `FEATUREMAP()`, `features show`, `features reload`),
//! and the applications `BlindTransfer()` (`app_blind_transfer.so`) and
//! `AttendedTransfer()` (`app_attended_transfer.so`).
//!
//! The parsed file is the core's [`crate::pbx::features::Features`] service: Dial's feature
//! options read it, and so may any other module (pickup, parking). The transfer
//! applications only leave a [`PendingTransfer`] on their channel: the bridge's owner
//! (Dial) carries it out when the application returns.

use super::{args, App, AppResult};
use crate::cli::{CliError, CommandRegistry, Ctx};
use crate::pbx::features::{self, Builtin, Features, PendingTransfer, PENDING_TRANSFER};
use crate::pbx::func::{Func, FuncError};
use crate::pbx::module::{Family, Module, ModuleContext, ModuleError, ModuleInfo, Reload};
use crate::pbx::{Channel, Pbx};
use async_trait::async_trait;
use std::sync::Arc;

/// The built-in `features` module (`module reload features`).
pub struct FeaturesModule;

/// Read features.conf: the configuration, or the errors (`file:line:column: …`).
/// Without the file, Asterisk's defaults.
fn read_config(pbx: &Pbx) -> Result<features::FeaturesConfig, String> {
    let s = &pbx.settings;
    if !s.astetcdir.join("features.conf").exists() {
        return Ok(features::FeaturesConfig::default());
    }
    let cf = crate::config::load(&s.astetcdir, "features.conf", &s.load_options())
        .map_err(|e| e.to_string())?;
    match features::parse(&cf) {
        Ok((cfg, warnings)) => {
            for w in warnings {
                pbx.warning(&format!("features_config.c: {w}"));
            }
            Ok(cfg)
        }
        Err(errs) => Err(crate::config::join_errors(&errs)),
    }
}

impl Module for FeaturesModule {
    fn info(&self) -> ModuleInfo {
        ModuleInfo::new("features", "Call Features")
            .configs(&["features.conf"])
            .builtin()
    }
    fn load(&self, ctx: &ModuleContext) -> Result<(), ModuleError> {
        let cfg = match read_config(&ctx.pbx) {
            Ok(c) => c,
            Err(e) => {
                ctx.pbx.error(&format!("features_config.c: {e}"));
                ctx.pbx
                    .notice("features_config.c: Could not load features config; using defaults");
                features::FeaturesConfig::default()
            }
        };
        ctx.provide(Arc::new(Features::new(cfg)));
        ctx.register_func(Arc::new(FeatureFunc));
        ctx.register_func(Arc::new(FeatureMapFunc));
        ctx.register_cli_with(register_cli);
        Ok(())
    }
    fn reload(&self, ctx: &ModuleContext) -> Reload {
        match read_config(&ctx.pbx) {
            Ok(cfg) => {
                if let Some(f) = ctx.pbx.service::<Features>() {
                    f.set(cfg);
                }
                Reload::Done(String::new())
            }
            Err(e) => {
                ctx.pbx.error(&format!("features_config.c: {e}"));
                Reload::Failed(e)
            }
        }
    }
}

fn register_cli(r: &CommandRegistry) {
    use crate::cli::Command;
    r.register(Command::new(
        "features show",
        "Lists configured features",
        "Usage: features show\n       Lists configured features\n",
        |c: Ctx| async move { Ok::<String, CliError>(features::show(&features::config(c.pbx()))) },
    ));
    r.register(Command::new(
        "features reload",
        "Reloads configured features",
        "Usage: features reload\n       Reloads configured call features from features.conf\n",
        |c: Ctx| async move {
            match c.pbx().modules.reload("features").await {
                Some(Reload::Failed(e)) => Err(CliError::Failure(format!(
                    "features.conf not reloaded: {e}\n"
                ))),
                _ => Ok::<String, CliError>(String::new()),
            }
        },
    ));
}

/// `FEATURE(option)`: a `[general]` option as it applies to this channel.
struct FeatureFunc;

impl Func for FeatureFunc {
    fn name(&self) -> &'static str {
        "FEATURE"
    }
    fn synopsis(&self) -> &'static str {
        "Get or set a feature option on a channel."
    }
    fn syntax(&self) -> &'static str {
        "FEATURE(option_name)"
    }
    fn description(&self) -> &'static str {
        "When this function is read, it will return the value of the feature option for this channel (features.conf's [general], or what FEATURE() set on it). Writing changes it for this channel only. option_name: inherit (FEATURE() and FEATUREMAP() settings go to the channels this one dials), featuredigittimeout, transferdigittimeout, atxfernoanswertimeout, atxferdropcall, atxferloopdelay, atxfercallbackretries, xfersound, xferfailsound, atxferabort, atxfercomplete, atxferthreeway, atxferswap, pickupexten, pickupsound, pickupfailsound, courtesytone, recordingfailsound, transferdialattempts, transferretrysound, transferinvalidsound, transferannouncesound. (parkinglot is read and written by res_parking.)"
    }
    fn read(&self, chan: &mut Channel, data: &str) -> Result<String, FuncError> {
        let name = data.trim();
        if name.eq_ignore_ascii_case("inherit") {
            return Ok(if features::inherits(chan) {
                "yes"
            } else {
                "no"
            }
            .into());
        }
        features::for_channel(chan)
            .general
            .get(name)
            .ok_or_else(|| FuncError::Other(format!("Invalid argument '{name}' to FEATURE()")))
    }
    fn write(&self, chan: &mut Channel, data: &str, value: &str) -> Result<(), FuncError> {
        let name = data.trim();
        if name.eq_ignore_ascii_case("inherit") {
            features::channel_mut(chan).inherit = crate::config::is_true(value);
            return Ok(());
        }
        if features::General::default().get(name).is_none() {
            return Err(FuncError::Other(format!(
                "Invalid argument '{name}' to FEATURE()"
            )));
        }
        features::channel_mut(chan)
            .cfg
            .general
            .set(name, value)
            .map_err(|e| FuncError::Other(format!("FEATURE({name}): {e}")))
    }
    fn writable(&self) -> bool {
        true
    }
}

/// `FEATUREMAP(feature)`: a `[featuremap]` code as it applies to this channel.
struct FeatureMapFunc;

impl Func for FeatureMapFunc {
    fn name(&self) -> &'static str {
        "FEATUREMAP"
    }
    fn synopsis(&self) -> &'static str {
        "Get or set a feature map to a given value on a specific channel."
    }
    fn syntax(&self) -> &'static str {
        "FEATUREMAP(feature_name)"
    }
    fn description(&self) -> &'static str {
        "When this function is read, it will return the current DTMF code of the feature for this channel; writing changes it for this channel only. feature_name: atxfer, blindxfer, automon, disconnect, parkcall, automixmon."
    }
    fn read(&self, chan: &mut Channel, data: &str) -> Result<String, FuncError> {
        let b = builtin_arg(data)?;
        Ok(features::for_channel(chan).featuremap.code(b).to_string())
    }
    fn write(&self, chan: &mut Channel, data: &str, value: &str) -> Result<(), FuncError> {
        let b = builtin_arg(data)?;
        features::channel_mut(chan).cfg.featuremap.set(b, value);
        Ok(())
    }
    fn writable(&self) -> bool {
        true
    }
}

fn builtin_arg(data: &str) -> Result<Builtin, FuncError> {
    Builtin::from_name(data).ok_or_else(|| {
        FuncError::Other(format!(
            "Invalid argument '{}' to FEATUREMAP()",
            data.trim()
        ))
    })
}

/// The modules of this file that register only (the transfer applications).
pub static MODULES: &[Family] = &[
    Family {
        info: ModuleInfo::new(
            "app_blind_transfer.so",
            "Blind transfer channel to the given destination",
        ),
        register: |ctx| ctx.register_app(Arc::new(TransferApp { attended: false })),
    },
    Family {
        info: ModuleInfo::new(
            "app_attended_transfer.so",
            "Attended transfer to the given extension",
        ),
        register: |ctx| ctx.register_app(Arc::new(TransferApp { attended: true })),
    },
];

/// BlindTransfer() and AttendedTransfer(): leave the transfer for the bridge's owner.
struct TransferApp {
    attended: bool,
}

#[async_trait]
impl App for TransferApp {
    fn name(&self) -> &'static str {
        if self.attended {
            "AttendedTransfer"
        } else {
            "BlindTransfer"
        }
    }
    fn synopsis(&self) -> &'static str {
        if self.attended {
            "Attended transfer to the extension provided and TRANSFER_CONTEXT"
        } else {
            "Blind transfer channel(s) to the extension and context provided"
        }
    }
    fn syntax(&self) -> &'static str {
        if self.attended {
            "AttendedTransfer(exten)"
        } else {
            "BlindTransfer(exten[,context])"
        }
    }
    fn description(&self) -> &'static str {
        if self.attended {
            "Queue up attended transfer to the specified extension in the TRANSFER_CONTEXT (else the channel's context); the channel must be in a bridge (ferrisk: a Dial() bridge, from a dynamic feature). The result is in ATTENDEDTRANSFERSTATUS: FAILURE, INVALID, NOTPERMITTED, SUCCESS."
        } else {
            "Redirect all channels currently bridged to the caller channel to the specified destination (exten in context, else the channel's TRANSFER_CONTEXT or context); the channel must be in a bridge (ferrisk: a Dial() bridge, from a dynamic feature). The result is in BLINDTRANSFERSTATUS: FAILURE, INVALID, NOTPERMITTED, SUCCESS."
        }
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let (status_var, file) = if self.attended {
            ("ATTENDEDTRANSFERSTATUS", "app_attended_transfer.c")
        } else {
            ("BLINDTRANSFERSTATUS", "app_blind_transfer.c")
        };
        let a = args::split(data, ',');
        let mut exten = args::nth(&a, 0).trim().to_string();
        let mut context = args::nth(&a, 1).trim().to_string();
        if let Some((e, c)) = exten.clone().split_once('@') {
            exten = e.to_string();
            context = c.to_string();
        }
        if exten.is_empty() {
            chan.pbx.warning(&format!(
                "{file}: {} requires an argument (exten)",
                self.name()
            ));
            chan.set_var(status_var, "FAILURE");
            return Ok(());
        }
        if context.is_empty() {
            context = chan
                .get_var("TRANSFER_CONTEXT")
                .filter(|c| !c.is_empty())
                .unwrap_or_else(|| chan.context.clone());
        }
        if chan.bridged.is_none() {
            chan.pbx.warning(&format!(
                "{file}: {} is not in a bridge: nothing to transfer",
                chan.name()
            ));
            chan.set_var(status_var, "INVALID");
            return Ok(());
        }
        chan.datastores.insert(
            PENDING_TRANSFER,
            PendingTransfer {
                exten,
                context,
                attended: self.attended,
            },
        );
        // The bridge's owner overwrites this when the transfer fails.
        chan.set_var(status_var, "SUCCESS");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::pbx::tests::{get, pbx_with, run};

    #[tokio::test]
    async fn feature_and_featuremap_read_and_write_per_channel() {
        let pbx = pbx_with("[t]\nexten => s,1,Set(A=${FEATURE(featuredigittimeout)})\n same => n,Set(FEATURE(featuredigittimeout)=2500)\n same => n,Set(B=${FEATURE(featuredigittimeout)})\n same => n,Set(C=${FEATUREMAP(blindxfer)})\n same => n,Set(FEATUREMAP(blindxfer)=*5)\n same => n,Set(D=${FEATUREMAP(blindxfer)})\n same => n,Set(E=${FEATURE(inherit)})\n same => n,Set(FEATURE(inherit)=yes)\n same => n,Set(F=${FEATURE(inherit)})\n same => n,Set(G=${FEATURE(xferfailsound)})\n same => n,Set(H=${FEATURE(bogus)}x)\n");
        let vars = run(&pbx, "t", "s").await;
        assert_eq!(get(&vars, "A"), Some("1000"));
        assert_eq!(get(&vars, "B"), Some("2500"));
        assert_eq!(get(&vars, "C"), Some("#"));
        assert_eq!(get(&vars, "D"), Some("*5"));
        assert_eq!(get(&vars, "E"), Some("no"));
        assert_eq!(get(&vars, "F"), Some("yes"));
        assert_eq!(get(&vars, "G"), Some("beeperr"));
        assert_eq!(get(&vars, "H"), Some("x"));
        // The running configuration is untouched.
        let cfg = crate::pbx::features::config(&pbx);
        assert_eq!(cfg.general.featuredigittimeout, 1000);
    }

    #[tokio::test]
    async fn blind_transfer_outside_a_bridge_is_invalid() {
        let pbx = pbx_with("[t]\nexten => s,1,BlindTransfer(100@x)\n same => n,Set(S=${BLINDTRANSFERSTATUS})\n same => n,AttendedTransfer()\n same => n,Set(A=${ATTENDEDTRANSFERSTATUS})\n");
        let vars = run(&pbx, "t", "s").await;
        assert_eq!(get(&vars, "S"), Some("INVALID"));
        assert_eq!(get(&vars, "A"), Some("FAILURE"));
    }
}
