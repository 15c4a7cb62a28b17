//! `${}` / `$[]` substitution (placeholder API; being written).

/// What substitution needs from its surroundings (a channel, or globals only).
pub trait Resolver {
    /// Value of variable `name` (built-ins included), `None` when unset.
    fn var(&mut self, name: &str) -> Option<String>;
    /// Read dialplan function `name` with `args` (already substituted).
    /// `None` when no such function (a warning has been logged by the resolver).
    fn func(&mut self, name: &str, args: &str) -> Option<String>;
}

/// Substitute every `${...}` and `$[...]` in `input`.
pub fn substitute(input: &str, r: &mut dyn Resolver) -> String {
    let _ = r;
    input.to_string()
}
