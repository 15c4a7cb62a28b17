//! SendDTMF(): send digits to the far end as DTMF frames (the driver turns them into
//! RFC 4733 events), `ast_dtmf_stream`'s timing.

use super::{args, App, AppResult};
use crate::pbx::media::Frame;
use crate::pbx::module::{Family, ModuleContext, ModuleInfo};
use crate::pbx::Channel;
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;

/// The modules of this file (`module show`).
pub static MODULES: &[Family] = &[Family {
    info: ModuleInfo::new("app_senddtmf.so", "Send DTMF digits Application"),
    register: register_app_senddtmf,
}];

fn register_app_senddtmf(ctx: &ModuleContext) {
    ctx.register_app(Arc::new(SendDtmf));
}

/// Asterisk's default pause between digits (ms).
pub const DEFAULT_BETWEEN_MS: u64 = 250;
/// Asterisk's default digit length (`option_dtmfduration`, ms).
pub const DEFAULT_DURATION_MS: u64 = 100;

/// One step of a DTMF string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Digit(char),
    /// `w` (500 ms) or `W` (1 s).
    Pause(Duration),
}

/// Parse a SendDTMF string; `Err(c)` on the first character Asterisk rejects.
pub fn parse(digits: &str) -> Result<Vec<Step>, char> {
    digits
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c {
            '0'..='9' | '*' | '#' => Ok(Step::Digit(c)),
            'a'..='d' | 'A'..='D' => Ok(Step::Digit(c.to_ascii_uppercase())),
            'w' => Ok(Step::Pause(Duration::from_millis(500))),
            'W' => Ok(Step::Pause(Duration::from_secs(1))),
            // Hook flash: no analog lines here; ignored like on SIP channels.
            'f' | 'F' => Ok(Step::Pause(Duration::ZERO)),
            c => Err(c),
        })
        .collect()
}

struct SendDtmf;

#[async_trait]
impl App for SendDtmf {
    fn name(&self) -> &'static str {
        "SendDTMF"
    }
    fn synopsis(&self) -> &'static str {
        "Sends arbitrary DTMF digits."
    }
    fn syntax(&self) -> &'static str {
        "SendDTMF(digits[,timeout_ms[,duration_ms]])"
    }
    fn description(&self) -> &'static str {
        "It will send all digits or terminate if it encounters an error. digits: 0-9, *, #, A-D; w is a half second pause, W a one second pause. timeout_ms: time between digits (default 250 ms). duration_ms: length of each digit (default 100 ms)."
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        let a = args::split(data, ',');
        let digits = args::nth(&a, 0);
        if digits.trim().is_empty() {
            chan.pbx
                .warning("app_senddtmf.c: SendDTMF requires an argument");
            return Ok(());
        }
        let ms = |s: &str, d: u64| match s.trim().parse::<u64>() {
            Ok(v) if v > 0 => v,
            _ => d,
        };
        let between = Duration::from_millis(ms(args::nth(&a, 1), DEFAULT_BETWEEN_MS));
        let duration = Duration::from_millis(ms(args::nth(&a, 2), DEFAULT_DURATION_MS));
        let steps = match parse(digits) {
            Ok(s) => s,
            Err(c) => {
                chan.pbx.warning(&format!(
                    "main/app.c: Illegal DTMF character '{c}' in string. (0-9*#aAbBcCdD allowed)"
                ));
                return Ok(());
            }
        };
        for (i, s) in steps.into_iter().enumerate() {
            match s {
                Step::Digit(d) => {
                    if i > 0 {
                        chan.sleep(between).await?;
                    }
                    chan.write_frame(Frame::Dtmf(d, duration)).await?;
                    chan.sleep(duration).await?;
                }
                Step::Pause(p) => chan.sleep(p).await?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_digits_and_pauses() {
        assert_eq!(
            parse("1a#w").ok(),
            Some(vec![
                Step::Digit('1'),
                Step::Digit('A'),
                Step::Digit('#'),
                Step::Pause(Duration::from_millis(500))
            ])
        );
        assert_eq!(parse("12x"), Err('x'));
    }
}
