//! extensions.conf → [`Dialplan`] (placeholder API; being written).
use super::Dialplan;
use crate::config::{ConfigError, ConfigFile};

/// What a successful load found worth telling the admin (not errors).
#[derive(Debug, Clone, Default)]
pub struct LoadReport {
    pub warnings: Vec<String>,
}

/// Build the dialplan. All errors are returned (each with file:line:column).
pub fn parse_dialplan(cf: &ConfigFile) -> Result<(Dialplan, LoadReport), Vec<ConfigError>> {
    let _ = cf;
    Ok((Dialplan::default(), LoadReport::default()))
}
