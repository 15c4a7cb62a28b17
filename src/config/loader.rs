//! Placeholder: the real loader is being written (grammar/conf.pest).
use super::{ConfigError, ConfigFile, LoadOptions};
use std::path::Path;

/// Load `name` from config directory `dir` (includes are relative to `dir`).
pub fn load(dir: &Path, name: &str, opts: &LoadOptions) -> Result<ConfigFile, ConfigError> {
    let path = dir.join(name);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| ConfigError::new(format!("{}: cannot read: {e}", path.display())))?;
    load_str(dir, &path.display().to_string(), &text, opts)
}

/// Load from a string; `file` is the name used in errors, includes resolve against `dir`.
pub fn load_str(
    _dir: &Path,
    _file: &str,
    _text: &str,
    _opts: &LoadOptions,
) -> Result<ConfigFile, ConfigError> {
    Err(ConfigError::new("config loader not written yet"))
}
