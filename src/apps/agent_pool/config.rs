//! `agents.conf`: one `[agent-id]` section per agent (templates with `(!)` and
//! `(template)` as the config loader resolves them); `[general]` is reserved.

use crate::config::{is_true, ConfigError, ConfigFile, Entry};

/// One agent's options, with Asterisk's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentConf {
    pub id: String,
    pub ackcall: bool,
    /// The digits that acknowledge a call (`acceptdtmf`, default `#`).
    pub acceptdtmf: String,
    /// Seconds an unacknowledged call waits before the agent is logged off (0: forever).
    pub autologoff: u32,
    /// Milliseconds after a call before the next one.
    pub wrapuptime: u64,
    pub musiconhold: String,
    /// Accepted; ferrisk does not record agent calls (see docs/agents.md).
    pub recordagentcalls: bool,
    pub custom_beep: String,
    pub fullname: String,
}

impl AgentConf {
    pub fn new(id: &str) -> AgentConf {
        AgentConf {
            id: id.to_string(),
            ackcall: false,
            acceptdtmf: "#".into(),
            autologoff: 0,
            wrapuptime: 0,
            musiconhold: "default".into(),
            recordagentcalls: false,
            custom_beep: "beep".into(),
            fullname: String::new(),
        }
    }
}

/// Read the agents; errors name file:line:column.
pub fn parse(cf: &ConfigFile) -> Result<Vec<AgentConf>, Vec<ConfigError>> {
    let mut out = Vec::new();
    let mut errs = Vec::new();
    for sec in &cf.sections {
        if sec.is_template || sec.name.eq_ignore_ascii_case("general") {
            continue;
        }
        let mut a = AgentConf::new(&sec.name);
        for e in &sec.entries {
            if let Err(err) = apply(&mut a, e) {
                errs.push(err);
            }
        }
        out.push(a);
    }
    if errs.is_empty() {
        Ok(out)
    } else {
        Err(errs)
    }
}

fn number<T: std::str::FromStr>(e: &Entry) -> Result<T, ConfigError> {
    e.value.trim().parse::<T>().map_err(|_| {
        ConfigError::at(
            &e.loc,
            format!("{} '{}': expected a number >= 0", e.key, e.value.trim()),
        )
    })
}

fn apply(a: &mut AgentConf, e: &Entry) -> Result<(), ConfigError> {
    let v = e.value.trim();
    match e.key.to_ascii_lowercase().as_str() {
        "ackcall" => a.ackcall = is_true(v),
        "acceptdtmf" => {
            if v.is_empty() || !v.chars().all(|c| "0123456789*#ABCDabcd".contains(c)) {
                return Err(ConfigError::at(
                    &e.loc,
                    format!("acceptdtmf '{v}': expected DTMF digits (0-9, *, #, A-D)"),
                ));
            }
            a.acceptdtmf = v.to_ascii_uppercase();
        }
        "autologoff" => a.autologoff = number(e)?,
        "wrapuptime" => a.wrapuptime = number(e)?,
        "musiconhold" => a.musiconhold = v.to_string(),
        "recordagentcalls" => a.recordagentcalls = is_true(v),
        "custom_beep" => a.custom_beep = v.to_string(),
        "fullname" => a.fullname = v.to_string(),
        other => {
            return Err(ConfigError::at(
                &e.loc,
                format!("unknown option '{other}' for agent '{}'", a.id),
            ))
        }
    }
    Ok(())
}
