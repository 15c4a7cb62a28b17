//! extensions.conf → [`Dialplan`], following Asterisk 20's `pbx_config.c`.
//!
//! # Sections
//! - `[general]`: `static`, `writeprotect`, `autofallthrough` (default yes),
//!   `clearglobalvars`, `extenpatternmatchnew`, `userscontext` → [`GeneralOptions`].
//!   Other keys are ignored, as in Asterisk.
//! - `[globals]`: every entry, in order, unsubstituted → [`Dialplan::globals`].
//! - Templates (`[name](!)`) are skipped; every other section is a context. A context
//!   name written several times is one context (the sections are merged in order).
//!
//! # Context entries
//! - `exten => name[/cid],priority[(label)],Application(args)`
//!   - The name ends at the first `,` outside `[...]` (a `\` escapes the next character).
//!   - `/cid`: caller-ID condition; spaces, `(`, `)`, `-` outside sets and a `.` that is
//!     not last are removed from it (`ast_shrink_phone_number`). An extension with the
//!     same name but another caller-ID condition is a separate [`Extension`]. `100/`
//!     matches calls with no caller ID only.
//!   - Names that Asterisk considers equal are one extension: `-` is ignored
//!     (`555-1212` = `5551212`) and so are equivalent patterns (`_NXX` = `_[2-9]XX`).
//!   - priority: a number ≥ 1; `n`/`next` (previous line's priority + 1); `s`/`same`
//!     (previous line's priority); `hint`; or an existing label of this extension; each
//!     optionally followed by `+N`; then optionally `(label)`. As in Asterisk, "previous"
//!     means the previous `exten`/`same` line of this section, whichever extension it was
//!     for. `n` after a hint line is an error (Asterisk silently drops that line).
//!   - application: the text before the first `(` (trimmed); the arguments are everything
//!     between that `(` and the **last** `)` of the line, kept as written. Without `(`,
//!     the old style `App,arg1,arg2` is accepted: the name ends at the first `,` and the
//!     rest is the argument string (modern Asterisk would take the whole text as an
//!     application name that can never exist). When the text before the `(` contains
//!     `${` or `$[`, the whole text is the application and there are no arguments
//!     (Asterisk's rule for hints such as `DAHDI/g0/${GLOBAL(var)}`).
//!   - `hint`: the whole text after `hint,` is the device string, stored as the `app` of
//!     priority [`PRIORITY_HINT`] (it may contain commas: `SIP/100,CustomPresence:100`).
//! - `same => priority,Application(args)`: continues the last `exten` of this section.
//! - `include => context[,times,weekdays,mdays,months[,tz]]` (or `|` separated) →
//!   [`Include`] with a [`TimeSpec`].
//! - `ignorepat => pattern`; `switch => Module/data`, `lswitch`, `eswitch` → [`Switch`].
//!
//! # Problems
//! Errors (the load fails, all of them are reported, each `file:line:column` pointing at
//! the offending part): malformed priority or label, `n`/`s` with nothing before,
//! `same` without an `exten`, empty extension or application name, invalid pattern,
//! invalid time condition, empty include/switch/ignorepat.
//!
//! Warnings ([`LoadReport::warnings`], as Asterisk's log would say): duplicate priority
//! (the later line is ignored), duplicate label, missing `)` after arguments, duplicate
//! include or ignorepat, unknown directive, `_.`/`_!` extensions, includes naming a context
//! that does not exist.
//!
//! # Columns
//! [`Entry::loc`] is taken to be the position of the key; the value is assumed to follow
//! Asterisk's conventional spacing (`key => value`, `key = value`), see [`value_col`].
use super::lookup::extension_order;
use super::{
    Context, Dialplan, Extension, GeneralOptions, Include, Pattern, Priority, Switch, TimeSpec,
    PRIORITY_HINT,
};
use crate::config::{is_true, ConfigError, ConfigFile, Entry, Location, Op, Section};
use indexmap::IndexMap;
use std::collections::HashMap;
use std::path::PathBuf;

/// What a successful load found worth telling the admin (not errors).
#[derive(Debug, Clone, Default)]
pub struct LoadReport {
    pub warnings: Vec<String>,
}

/// Build the dialplan. All errors are returned (each with file:line:column).
pub fn parse_dialplan(cf: &ConfigFile) -> Result<(Dialplan, LoadReport), Vec<ConfigError>> {
    let mut b = Builder::default();
    for sec in &cf.sections {
        if sec.is_template {
            continue;
        }
        if sec.name.eq_ignore_ascii_case("general") {
            b.general(sec);
        } else if sec.name.eq_ignore_ascii_case("globals") {
            b.dialplan
                .globals
                .extend(sec.entries.iter().map(|e| (e.key.clone(), e.value.clone())));
        } else {
            b.context_section(sec);
        }
    }
    b.finish()
}

/// The fixtures every dialplan change must keep loading with zero errors (for tests
/// that use the real config loader).
pub fn fixture_paths() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/dialplans");
    vec![
        dir.join("extensions.conf.sample"),
        dir.join("seed_chapter.conf"),
    ]
}

/// Column where an entry's value starts: key column + key + ` => ` (or ` = `).
/// The loader records the key's position; this is the one place to change if it ever
/// records the value's.
pub fn value_col(e: &Entry) -> u32 {
    let sep = match e.op {
        Op::Arrow => 4,
        Op::Assign => 3,
    };
    e.loc.col + e.key.chars().count() as u32 + sep
}

/// Location of byte `off` of `e.value`.
fn loc_at(e: &Entry, off: usize) -> Location {
    let off = off.min(e.value.len());
    let chars = e.value.get(..off).map_or(0, |s| s.chars().count()) as u32;
    Location {
        file: e.loc.file.clone(),
        line: e.loc.line,
        col: value_col(e) + chars,
    }
}

/// Byte offset of `sub` inside `base` (`sub` must be a sub-slice of `base`).
fn off(base: &str, sub: &str) -> usize {
    (sub.as_ptr() as usize)
        .saturating_sub(base.as_ptr() as usize)
        .min(base.len())
}

/// Split at the first `,` outside `[...]`, skipping `\`-escaped characters
/// (Asterisk's `pbx_strsep` for extension names).
fn split_name(s: &str) -> (&str, Option<&str>) {
    let b = s.as_bytes();
    let mut square = 0u32;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'[' => square += 1,
            b']' => square = square.saturating_sub(1),
            b'\\' => i += 1,
            b',' if square == 0 => return (&s[..i], Some(&s[i + 1..])),
            _ => {}
        }
        i += 1;
    }
    (s, None)
}

struct CtxBuild {
    ctx: Context,
    /// (name, cidmatch) → index in `ctx.extensions`.
    keys: HashMap<(Pattern, Option<Pattern>), usize>,
}

#[derive(Default)]
struct Builder {
    dialplan: Dialplan,
    contexts: IndexMap<String, CtxBuild>,
    errors: Vec<ConfigError>,
    warnings: Vec<String>,
}

/// Continuation state of one section (Asterisk resets it per section).
#[derive(Default)]
struct Cont {
    /// The last `exten`'s name (with `/cid`) as written.
    last_ext: Option<String>,
    /// The last registered priority (`None` = Asterisk's -2, "nothing yet").
    last_pri: Option<i32>,
}

impl Builder {
    fn warn(&mut self, loc: &Location, msg: impl std::fmt::Display) {
        self.warnings.push(format!("{loc}: {msg}"));
    }
    fn err(&mut self, loc: &Location, msg: impl Into<String>) {
        self.errors.push(ConfigError::at(loc, msg));
    }

    fn general(&mut self, sec: &Section) {
        let g: &mut GeneralOptions = &mut self.dialplan.general;
        for e in &sec.entries {
            match e.key.to_ascii_lowercase().as_str() {
                "static" => g.static_ = is_true(&e.value),
                "writeprotect" => g.writeprotect = is_true(&e.value),
                "autofallthrough" => g.autofallthrough = is_true(&e.value),
                "clearglobalvars" => g.clearglobalvars = is_true(&e.value),
                "extenpatternmatchnew" => g.extenpatternmatchnew = is_true(&e.value),
                "userscontext" => {
                    g.userscontext = (!e.value.is_empty()).then(|| e.value.clone());
                }
                _ => {}
            }
        }
    }

    fn context_section(&mut self, sec: &Section) {
        if !self.contexts.contains_key(&sec.name) {
            self.contexts.insert(
                sec.name.clone(),
                CtxBuild {
                    ctx: Context::new(&sec.name, sec.loc.clone()),
                    keys: HashMap::new(),
                },
            );
        }
        let mut cont = Cont::default();
        for e in &sec.entries {
            let key = e.key.to_ascii_lowercase();
            match key.as_str() {
                "exten" => {
                    let (name, rest) = split_name(&e.value);
                    let name = name.trim();
                    if name.is_empty() {
                        self.err(
                            &loc_at(e, 0),
                            "expected an extension name before `,` in `exten =>`",
                        );
                        continue;
                    }
                    cont.last_ext = Some(name.to_string());
                    self.extension_line(&sec.name, e, name, rest, false, &mut cont);
                }
                "same" => {
                    let Some(name) = cont.last_ext.clone() else {
                        self.err(
                            &e.loc,
                            format!(
                                "`same =>` with no previous `exten =>` in context '{}': expected an `exten =>` line first",
                                sec.name
                            ),
                        );
                        continue;
                    };
                    self.extension_line(&sec.name, e, &name, Some(&e.value), true, &mut cont);
                }
                "include" => self.include(&sec.name, e),
                "ignorepat" => {
                    let v = e.value.trim();
                    if v.is_empty() {
                        self.err(&loc_at(e, 0), "expected a pattern after `ignorepat =>`");
                    } else if self.contexts[&sec.name].ctx.ignorepats.iter().any(|p| p == v) {
                        let msg = format!(
                            "ignorepat '{v}' already in context '{}', ignoring",
                            sec.name
                        );
                        self.warn(&e.loc, msg);
                    } else {
                        self.contexts[&sec.name].ctx.ignorepats.push(v.to_string());
                    }
                }
                "switch" | "lswitch" | "eswitch" => {
                    let (module, data) = e.value.split_once('/').unwrap_or((&e.value, ""));
                    let module = module.trim();
                    if module.is_empty() {
                        self.err(
                            &loc_at(e, 0),
                            format!("expected `Module/data` after `{} =>`", e.key),
                        );
                        continue;
                    }
                    self.contexts[&sec.name].ctx.switches.push(Switch {
                        module: module.to_string(),
                        data: data.trim().to_string(),
                        loc: e.loc.clone(),
                        eval: key == "eswitch",
                    });
                }
                _ => self.warn(
                    &e.loc,
                    format!(
                        "unknown directive '{}' in context '{}', ignoring (expected exten, same, include, ignorepat, switch, lswitch or eswitch)",
                        e.key, sec.name
                    ),
                ),
            }
        }
    }

    fn include(&mut self, ctx_name: &str, e: &Entry) {
        let v = e.value.as_str();
        let (name, timing) = match v.find([',', '|']) {
            Some(i) => (&v[..i], Some(&v[i + 1..])),
            None => (v, None),
        };
        let name = name.trim();
        if name.is_empty() {
            self.err(&loc_at(e, 0), "expected a context name after `include =>`");
            return;
        }
        let timing = match timing {
            None => None,
            Some(t) => match TimeSpec::parse(t.trim()) {
                Ok(ts) => Some(ts),
                Err(msg) => {
                    self.err(&loc_at(e, off(v, t)), msg);
                    return;
                }
            },
        };
        if self.contexts[ctx_name]
            .ctx
            .includes
            .iter()
            .any(|i| i.raw.eq_ignore_ascii_case(v))
        {
            let msg = format!("context '{name}' already included in '{ctx_name}', ignoring");
            self.warn(&e.loc, msg);
            return;
        }
        self.contexts[ctx_name].ctx.includes.push(Include {
            context: name.to_string(),
            timing,
            raw: v.to_string(),
            loc: e.loc.clone(),
        });
    }

    /// One `exten =>` (name already split off) or `same =>` line. `rest` is the text
    /// after the name: `priority,application`.
    fn extension_line(
        &mut self,
        ctx_name: &str,
        e: &Entry,
        ext: &str,
        rest: Option<&str>,
        is_same: bool,
        cont: &mut Cont,
    ) {
        let v = e.value.as_str();
        // Where the name is, for error columns (for `same`, point at the key).
        let name_loc = if is_same {
            e.loc.clone()
        } else {
            loc_at(e, off(v, ext))
        };
        // Name and caller-ID condition.
        let (name, cid) = match ext.split_once('/') {
            Some((n, c)) => (n.trim(), Some(c.trim())),
            None => (ext, None),
        };
        let pattern = match Pattern::new(name) {
            Ok(p) => p,
            Err(msg) => {
                self.err(&name_loc, format!("invalid extension '{name}': {msg}"));
                return;
            }
        };
        let cidmatch = match cid.map(super::pattern::shrink_phone_number) {
            None => None,
            Some(c) => match Pattern::new(&c) {
                Ok(p) => Some(p),
                Err(msg) => {
                    self.err(&name_loc, format!("invalid caller ID match '{c}': {msg}"));
                    return;
                }
            },
        };

        let Some(rest) = rest else {
            self.err(
                &loc_at(e, v.len()),
                "expected `,priority,application` after the extension name",
            );
            return;
        };

        // Priority field.
        let (pri_field, app_field) = match rest.split_once(',') {
            Some((p, a)) => (p, Some(a)),
            None => (rest, None),
        };
        let pri_loc = loc_at(e, off(v, pri_field.trim_start()));
        let pri_field = pri_field.trim();
        let (pri_text, label) = match pri_field.split_once('(') {
            None => (pri_field, None),
            Some((p, l)) => match l.split_once(')') {
                None => {
                    self.err(
                        &pri_loc,
                        format!("label in '{pri_field}' is missing its closing `)`"),
                    );
                    return;
                }
                Some((l, after)) => {
                    if !after.trim().is_empty() {
                        self.err(
                            &pri_loc,
                            format!("unexpected '{}' after the label: expected `,` then the application", after.trim()),
                        );
                        return;
                    }
                    let l = l.trim();
                    if l.is_empty() {
                        self.err(&pri_loc, "expected a label name inside `()`");
                        return;
                    }
                    (p.trim(), Some(l))
                }
            },
        };
        let (base, plus) = match pri_text.split_once('+') {
            Some((b, p)) => (b.trim(), Some(p.trim())),
            None => (pri_text, None),
        };
        let existing = self.contexts[ctx_name]
            .keys
            .get(&(pattern.clone(), cidmatch.clone()))
            .copied();
        let expected = "expected a number, n, s, hint or a label of this extension";
        let mut ipri = match base {
            "hint" => PRIORITY_HINT,
            "n" | "next" | "s" | "same" => {
                let Some(last) = cont.last_pri else {
                    self.err(&pri_loc, format!("priority '{base}' on the first line of a context section: there is no previous priority, expected a number"));
                    return;
                };
                if last == PRIORITY_HINT {
                    self.err(&pri_loc, format!("priority '{base}' after a hint: the hint has no number, expected an explicit priority such as 1"));
                    return;
                }
                if base.starts_with('n') {
                    last + 1
                } else {
                    last
                }
            }
            _ if !base.is_empty() && base.bytes().all(|c| c.is_ascii_digit()) => {
                match base.parse::<i32>() {
                    Ok(n) if n >= 1 => n,
                    _ => {
                        self.err(
                            &pri_loc,
                            format!("invalid priority '{base}': priorities start at 1"),
                        );
                        return;
                    }
                }
            }
            _ => {
                let found = existing.and_then(|i| {
                    self.contexts[ctx_name].ctx.extensions[i]
                        .labels
                        .get(base)
                        .copied()
                });
                match found {
                    Some(n) => n,
                    None => {
                        self.err(
                            &pri_loc,
                            format!("invalid priority/label '{base}': {expected}"),
                        );
                        return;
                    }
                }
            }
        };
        if let Some(plus) = plus {
            let n = if plus.bytes().all(|c| c.is_ascii_digit()) && ipri != PRIORITY_HINT {
                plus.parse::<i32>().ok()
            } else {
                None
            };
            match n.and_then(|n| ipri.checked_add(n)) {
                Some(p) => ipri = p,
                None => {
                    self.err(&pri_loc, format!("invalid priority offset '+{plus}': expected `+` and a number after a numbered priority or label"));
                    return;
                }
            }
        }

        // Application and arguments.
        let Some(app_field) = app_field else {
            self.err(
                &loc_at(e, v.len()),
                "expected `,application(arguments)` after the priority",
            );
            return;
        };
        let app_loc = loc_at(e, off(v, app_field.trim_start()));
        let (app, data) = if ipri == PRIORITY_HINT {
            (app_field.trim(), "")
        } else if let Some(p) = app_field.find('(') {
            let before = &app_field[..p];
            if before.contains("${") || before.contains("$[") {
                (app_field.trim(), "")
            } else {
                let after = &app_field[p + 1..];
                match after.rfind(')') {
                    Some(end) => (before.trim(), &after[..end]),
                    None => {
                        self.warn(
                            &app_loc,
                            format!("no closing parenthesis found for '{}(': taking the rest of the line as arguments", before.trim()),
                        );
                        (before.trim(), after)
                    }
                }
            }
        } else {
            match app_field.split_once(',') {
                Some((a, d)) => (a.trim(), d),
                None => (app_field.trim(), ""),
            }
        };
        if app.is_empty() {
            let what = if ipri == PRIORITY_HINT {
                "expected a device string after `hint,`"
            } else {
                "expected an application name after the priority"
            };
            self.err(&app_loc, what);
            return;
        }

        cont.last_pri = Some(ipri);
        if !is_same && (name == "_." || name == "_!") {
            let msg = format!("the use of '{name}' for an extension is strongly discouraged and can have unexpected behavior; use '_X{}' instead", &name[1..]);
            self.warn(&name_loc, msg);
        }

        let line_loc = if is_same { e.loc.clone() } else { name_loc };
        let cb = &mut self.contexts[ctx_name];
        let idx = match existing {
            Some(i) => i,
            None => {
                let mut x = Extension::new(pattern.clone(), cidmatch.clone(), line_loc);
                x.name = name.to_string();
                cb.ctx.extensions.push(x);
                let i = cb.ctx.extensions.len() - 1;
                cb.keys.insert((pattern, cidmatch), i);
                i
            }
        };
        let x = &mut cb.ctx.extensions[idx];
        if let Some(prev) = x.priorities.get(&ipri) {
            let shown = if ipri == PRIORITY_HINT {
                "hint".to_string()
            } else {
                ipri.to_string()
            };
            let msg = format!(
                "extension '{}' priority {shown} in context '{ctx_name}' is already defined at {}; ignoring this line",
                x.name, prev.loc
            );
            self.warn(&pri_loc, msg);
            return;
        }
        if let Some(label) = label {
            if let Some(&other) = x.labels.get(label) {
                let msg = format!(
                    "label '{label}' of extension '{}' in context '{ctx_name}' already names priority {other}; keeping that one",
                    x.name
                );
                self.warn(&pri_loc, msg);
            } else {
                x.labels.insert(label.to_string(), ipri);
            }
        }
        let x = &mut self.contexts[ctx_name].ctx.extensions[idx];
        x.priorities.insert(
            ipri,
            Priority {
                priority: ipri,
                label: label.map(str::to_string),
                app: app.to_string(),
                app_key: app.to_ascii_lowercase(),
                data: data.to_string(),
                loc: e.loc.clone(),
            },
        );
    }

    fn finish(mut self) -> Result<(Dialplan, LoadReport), Vec<ConfigError>> {
        let contexts = std::mem::take(&mut self.contexts);
        for (name, cb) in contexts {
            let mut ctx = cb.ctx;
            ctx.extensions.sort_by(extension_order);
            ctx.rebuild_index();
            self.dialplan.contexts.insert(name, ctx);
        }
        let mut missing = Vec::new();
        for ctx in self.dialplan.contexts.values() {
            for inc in &ctx.includes {
                if !self.dialplan.contexts.contains_key(&inc.context) {
                    missing.push((
                        inc.loc.clone(),
                        format!(
                            "context '{}' includes nonexistent context '{}'",
                            ctx.name, inc.context
                        ),
                    ));
                }
            }
        }
        for (loc, msg) in missing {
            self.warn(&loc, msg);
        }
        if self.errors.is_empty() {
            Ok((
                self.dialplan,
                LoadReport {
                    warnings: self.warnings,
                },
            ))
        } else {
            Err(self.errors)
        }
    }
}

/// Test-only stand-in for the config loader: `[section]` / `[tmpl](!)` headers,
/// `key => value` / `key = value` entries (split at the first `=`), `;` comments (`\;`
/// escapes), locations pointing at the key. No includes, no template inheritance.
#[cfg(test)]
pub(crate) fn test_conf(file: &str, text: &str) -> ConfigFile {
    use crate::config::Section;
    let mut cf = ConfigFile {
        path: PathBuf::from(file),
        sections: Vec::new(),
    };
    for (n, raw) in text.lines().enumerate() {
        let mut line = String::new();
        let mut chars = raw.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' if chars.peek() == Some(&';') => {
                    line.push(';');
                    chars.next();
                }
                ';' => break,
                _ => line.push(c),
            }
        }
        let indent = line.len() - line.trim_start().len();
        let t = line.trim();
        if t.is_empty() {
            continue;
        }
        let loc = Location::new(file, n as u32 + 1, indent as u32 + 1);
        if let Some(h) = t.strip_prefix('[') {
            let (name, opts) = h.split_once(']').unwrap_or((h, ""));
            cf.sections.push(Section {
                name: name.to_string(),
                loc,
                is_template: opts.contains('!'),
                templates: Vec::new(),
                entries: Vec::new(),
            });
            continue;
        }
        let Some((k, v)) = t.split_once('=') else {
            continue;
        };
        let (op, v) = match v.strip_prefix('>') {
            Some(v) => (Op::Arrow, v),
            None => (Op::Assign, v),
        };
        if let Some(sec) = cf.sections.last_mut() {
            sec.entries.push(Entry {
                key: k.trim().to_string(),
                value: v.trim().to_string(),
                op,
                loc,
            });
        }
    }
    cf
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> (Dialplan, LoadReport) {
        match parse_dialplan(&test_conf("t.conf", text)) {
            Ok(x) => x,
            Err(errs) => panic!(
                "unexpected errors:\n{}",
                errs.iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("\n")
            ),
        }
    }
    fn errors(text: &str) -> Vec<String> {
        match parse_dialplan(&test_conf("t.conf", text)) {
            Ok(_) => panic!("expected errors"),
            Err(errs) => errs.iter().map(|e| e.to_string()).collect(),
        }
    }
    fn ext<'a>(dp: &'a Dialplan, ctx: &str, name: &str) -> &'a Extension {
        dp.contexts[ctx]
            .extensions
            .iter()
            .find(|e| e.name == name && e.cidmatch.is_none())
            .unwrap_or_else(|| panic!("no extension {name} in {ctx}"))
    }
    fn prios(e: &Extension) -> Vec<(i32, &str, &str)> {
        e.priorities
            .values()
            .map(|p| (p.priority, p.app.as_str(), p.data.as_str()))
            .collect()
    }

    #[test]
    fn minimal() {
        let (dp, rep) = load("[ctx]\nexten => 1,1,NoOp()\n");
        assert!(rep.warnings.is_empty(), "{:?}", rep.warnings);
        let c = &dp.contexts["ctx"];
        assert_eq!(c.registrar, "pbx_config");
        assert_eq!(prios(&c.extensions[0]), [(1, "NoOp", "")]);
        assert_eq!(c.literal_index["1"], [0]);
    }

    #[test]
    fn priority_forms_and_labels() {
        let (dp, rep) = load(
            "[c]\n\
             exten => 100,1,Answer()\n\
             exten => 100,n,Wait(1)\n\
             exten => 100,n(again),Playback(hello)\n\
             same => n,Set(X=1)\n\
             same => next,Goto(again)\n\
             exten => 100,10(ten),NoOp(ten)\n\
             exten => 100,ten+1,NoOp(eleven)\n\
             exten => 100,s+5,NoOp(sixteen)\n\
             exten => 100,20,NoOp(twenty)\n\
             exten => 100,same+1,NoOp(twentyone)\n\
             exten => 100,hint,SIP/100&SIP/101,CustomPresence:100\n\
             exten => 200,1,NoOp(a)\n\
             exten => 300,n,NoOp(previous line's priority + 1)\n\
             exten => 300,s,NoOp(duplicate of 2)\n",
        );
        let e = ext(&dp, "c", "100");
        assert_eq!(
            prios(e),
            [
                (PRIORITY_HINT, "SIP/100&SIP/101,CustomPresence:100", ""),
                (1, "Answer", ""),
                (2, "Wait", "1"),
                (3, "Playback", "hello"),
                (4, "Set", "X=1"),
                (5, "Goto", "again"),
                (10, "NoOp", "ten"),
                (11, "NoOp", "eleven"),
                (16, "NoOp", "sixteen"),
                (20, "NoOp", "twenty"),
                (21, "NoOp", "twentyone"),
            ]
        );
        assert_eq!(e.labels["again"], 3);
        assert_eq!(e.labels["ten"], 10);
        assert_eq!(e.label("again").map(|p| p.priority), Some(3));
        assert_eq!(e.priority(3).unwrap().label.as_deref(), Some("again"));
        assert_eq!(e.hint().unwrap().app, "SIP/100&SIP/101,CustomPresence:100");
        // `n` continues the previous line, whatever extension it was for (Asterisk).
        assert_eq!(
            prios(ext(&dp, "c", "300")),
            [(2, "NoOp", "previous line's priority + 1")]
        );
        assert_eq!(rep.warnings.len(), 1, "{:?}", rep.warnings);
        assert!(
            rep.warnings[0].starts_with("t.conf:15:"),
            "{:?}",
            rep.warnings
        );
        assert!(
            rep.warnings[0].contains("already defined at t.conf:14"),
            "{:?}",
            rep.warnings
        );
    }

    #[test]
    fn duplicate_priority_keeps_first() {
        let (dp, rep) = load("[c]\nexten => 1,1,NoOp(first)\nexten => 1,1,NoOp(second)\n");
        assert_eq!(prios(ext(&dp, "c", "1")), [(1, "NoOp", "first")]);
        assert_eq!(rep.warnings.len(), 1);
        // Column of the priority: "exten => 1," is 11 characters.
        assert!(
            rep.warnings[0].starts_with("t.conf:3:12: "),
            "{}",
            rep.warnings[0]
        );
        assert!(
            rep.warnings[0].contains("priority 1"),
            "{}",
            rep.warnings[0]
        );
    }

    #[test]
    fn app_and_argument_forms() {
        let (dp, rep) = load(
            "[c]\n\
             exten => 1,1,Answer\n\
             exten => 1,2,Dial,SIP/100,20\n\
             exten => 1,3, Set ( X=(1) ) \n\
             exten => 1,4,Verbose(2,a (b) c))\n\
             exten => 1,5,NoOp(\n\
             exten => 1,6,Set(A=${B}\\;C) ; a comment\n\
             exten => 1,7,GotoIf($[\"${X}\" = \"1\"]?yes:no)\n\
             exten => 100,hint,DAHDI/g0/${GLOBAL(var)}\n\
             exten => 1,8,NoOp(unclosed\n",
        );
        assert_eq!(
            prios(ext(&dp, "c", "1")),
            [
                (1, "Answer", ""),
                (2, "Dial", "SIP/100,20"),
                (3, "Set", " X=(1) "),
                (4, "Verbose", "2,a (b) c)"),
                (5, "NoOp", ""),
                (6, "Set", "A=${B};C"),
                (7, "GotoIf", "$[\"${X}\" = \"1\"]?yes:no"),
                (8, "NoOp", "unclosed"),
            ]
        );
        assert_eq!(
            ext(&dp, "c", "100").hint().unwrap().app,
            "DAHDI/g0/${GLOBAL(var)}"
        );
        assert_eq!(rep.warnings.len(), 2, "{:?}", rep.warnings);
        assert!(rep
            .warnings
            .iter()
            .all(|w| w.contains("closing parenthesis")));
    }

    #[test]
    fn same_continues_last_exten_and_cid() {
        let (dp, _) = load(
            "[c]\n\
             exten => 100/5551234,1,NoOp(boss)\n\
             same => n,Hangup()\n\
             exten => 100,1,NoOp(anyone)\n\
             exten => 100/_555X.,1,NoOp(555)\n\
             exten => 100/(555) 123-9999,1,NoOp(shrunk)\n",
        );
        let c = &dp.contexts["c"];
        let order: Vec<(String, Option<String>)> = c
            .extensions
            .iter()
            .map(|e| (e.name.clone(), e.cidmatch.as_ref().map(|p| p.raw.clone())))
            .collect();
        assert_eq!(
            order,
            [
                ("100".into(), Some("5551234".into())),
                ("100".into(), Some("5551239999".into())),
                ("100".into(), Some("_555X.".into())),
                ("100".into(), None),
            ]
        );
        assert_eq!(
            prios(&c.extensions[0]),
            [(1, "NoOp", "boss"), (2, "Hangup", "")]
        );
        assert_eq!(c.literal_index["100"], [0, 1, 2, 3]);
    }

    #[test]
    fn names_equal_the_asterisk_way_merge() {
        let (dp, _) = load(
            "[c]\n\
             exten => 555-1212,1,NoOp(a)\n\
             exten => 5551212,2,NoOp(b)\n\
             exten => _NXX,1,NoOp(c)\n\
             exten => _[2-9]xx,2,NoOp(d)\n",
        );
        let c = &dp.contexts["c"];
        assert_eq!(c.extensions.len(), 2);
        assert_eq!(c.extensions[0].name, "555-1212");
        assert_eq!(c.extensions[0].priorities.len(), 2);
        assert_eq!(c.extensions[1].name, "_NXX");
        assert_eq!(c.extensions[1].priorities.len(), 2);
        assert_eq!(c.literal_index["5551212"], [0]);
    }

    #[test]
    fn sorted_by_precedence() {
        let (dp, rep) = load(
            "[c]\n\
             exten => _.,1,NoOp()\n\
             exten => _X.,1,NoOp()\n\
             exten => _XXX,1,NoOp()\n\
             exten => _NXX,1,NoOp()\n\
             exten => _[2-5]XX,1,NoOp()\n\
             exten => _1XX,1,NoOp()\n\
             exten => _12X,1,NoOp()\n\
             exten => s,1,NoOp()\n\
             exten => 123,1,NoOp()\n",
        );
        let names: Vec<&str> = dp.contexts["c"]
            .extensions
            .iter()
            .map(|e| e.name.as_str())
            .collect();
        assert_eq!(
            names,
            ["123", "s", "_12X", "_1XX", "_[2-5]XX", "_NXX", "_XXX", "_X.", "_."]
        );
        assert_eq!(rep.warnings.len(), 1);
        assert!(rep.warnings[0].contains("'_.'") && rep.warnings[0].starts_with("t.conf:2:10:"));
    }

    #[test]
    fn sections_general_globals_includes_switches() {
        let (dp, rep) = load(
            "[general]\n\
             static=yes\n\
             writeprotect=yes\n\
             autofallthrough=no\n\
             clearglobalvars=yes\n\
             extenpatternmatchnew=true\n\
             userscontext=users\n\
             [globals]\n\
             TRUNK=DAHDI/G2\n\
             CONSOLE=Console/dsp\n\
             [tmpl](!)\n\
             exten => 9,1,NoOp()\n\
             [a]\n\
             include => b\n\
             include => day,09:00-17:00,mon-fri,*,*\n\
             include => old|*|sat&sun|*|*\n\
             include => b\n\
             ignorepat => 9\n\
             switch => IAX2/user:[key]@myserver/mycontext\n\
             lswitch => Loopback/12${EXTEN}@othercontext\n\
             eswitch => IAX2/context@${CURSERVER}\n\
             foo => bar\n\
             [b]\n\
             [day]\n\
             [a]\n\
             exten => 1,1,NoOp()\n",
        );
        let g = &dp.general;
        assert!(g.static_ && g.writeprotect && !g.autofallthrough && g.clearglobalvars);
        assert!(g.extenpatternmatchnew);
        assert_eq!(g.userscontext.as_deref(), Some("users"));
        assert_eq!(
            dp.globals,
            [
                ("TRUNK".to_string(), "DAHDI/G2".to_string()),
                ("CONSOLE".to_string(), "Console/dsp".to_string())
            ]
        );
        assert_eq!(dp.contexts.keys().collect::<Vec<_>>(), ["a", "b", "day"]);
        let a = &dp.contexts["a"];
        assert_eq!(a.extensions.len(), 1);
        let incs: Vec<(&str, bool)> = a
            .includes
            .iter()
            .map(|i| (i.context.as_str(), i.timing.is_some()))
            .collect();
        assert_eq!(incs, [("b", false), ("day", true), ("old", true)]);
        assert_eq!(a.includes[1].raw, "day,09:00-17:00,mon-fri,*,*");
        assert_eq!(a.ignorepats, ["9"]);
        let sw: Vec<(&str, &str, bool)> = a
            .switches
            .iter()
            .map(|s| (s.module.as_str(), s.data.as_str(), s.eval))
            .collect();
        assert_eq!(
            sw,
            [
                ("IAX2", "user:[key]@myserver/mycontext", false),
                ("Loopback", "12${EXTEN}@othercontext", false),
                ("IAX2", "context@${CURSERVER}", true)
            ]
        );
        let w = &rep.warnings;
        assert_eq!(w.len(), 3, "{w:?}");
        assert!(w[0].starts_with("t.conf:17:1:") && w[0].contains("already included"));
        assert!(w[1].starts_with("t.conf:22:1:") && w[1].contains("unknown directive 'foo'"));
        assert!(w[2].starts_with("t.conf:16:1:") && w[2].contains("nonexistent context 'old'"));
    }

    #[test]
    fn errors_with_locations() {
        let errs = errors(
            "[c]\n\
             same => n,NoOp()\n\
             exten => 1,x,NoOp()\n\
             exten => 1,0,NoOp()\n\
             exten => 1,1(lbl,NoOp()\n\
             exten => 1,1,\n\
             exten => 1,1\n\
             exten => _1[2,1,NoOp()\n\
             exten => ,1,NoOp()\n\
             include => x,25:00-26:00,*,*,*\n\
             [d]\n\
             exten => 2,n,NoOp()\n\
             exten => 3,hint,SIP/3\n\
             same => n,NoOp()\n\
             exten => 4,2+x,NoOp()\n\
             exten => 5,1,  (args)\n",
        );
        let want = [
            ("t.conf:2:1:", "no previous `exten =>`"),
            ("t.conf:3:12:", "invalid priority/label 'x'"),
            ("t.conf:4:12:", "priorities start at 1"),
            ("t.conf:5:12:", "missing its closing `)`"),
            ("t.conf:6:14:", "expected an application name"),
            ("t.conf:7:13:", "expected `,application(arguments)`"),
            ("t.conf:8:10:", "unclosed `[`"),
            ("t.conf:9:10:", "expected an extension name"),
            ("t.conf:10:14:", "invalid time '25:00-26:00'"),
            ("t.conf:12:12:", "no previous priority"),
            ("t.conf:14:9:", "after a hint"),
            ("t.conf:15:12:", "invalid priority offset"),
            ("t.conf:16:16:", "expected an application name"),
        ];
        assert_eq!(errs.len(), want.len(), "{errs:#?}");
        for (e, (loc, msg)) in errs.iter().zip(want) {
            assert!(
                e.starts_with(loc) && e.contains(msg),
                "got {e:?}, want {loc} {msg}"
            );
        }
    }

    #[test]
    fn no_panics_on_odd_input() {
        for v in [
            "",
            ",",
            ",,",
            "1",
            "1,",
            "1,,",
            "1,n",
            "1,(",
            "1,1(",
            "1,1()",
            "1,1)",
            "1,+",
            "1,1+",
            "1,hint",
            "1,hint,",
            "_[,1,x",
            "_[],1,x",
            "1/,1,x",
            "1/_[,1,x",
            "é,1,é(é)",
            "1,1,(",
            "1,1,)",
            "1,1,a)(",
            "[,1,x",
            "\\",
            "1,99999999999,x",
            "1,1+99999999999,x",
            "1,2147483647+1,x",
        ] {
            let text = format!("[c]\nexten => {v}\nsame => {v}\ninclude => {v}\nswitch => {v}\n");
            let _ = parse_dialplan(&test_conf("t.conf", &text));
        }
    }

    #[test]
    fn cid_no_callerid_only() {
        let (dp, _) = load("[c]\nexten => 1/,1,NoOp()\n");
        let e = &dp.contexts["c"].extensions[0];
        assert!(e.cid_matches(None));
        assert!(e.cid_matches(Some("")));
        assert!(!e.cid_matches(Some("123")));
    }

    #[test]
    fn fixtures_load_without_errors() {
        for path in fixture_paths() {
            let text = std::fs::read_to_string(&path).unwrap();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            let (dp, rep) = match parse_dialplan(&test_conf(&name, &text)) {
                Ok(x) => x,
                Err(errs) => panic!(
                    "{name}:\n{}",
                    errs.iter()
                        .map(|e| e.to_string())
                        .collect::<Vec<_>>()
                        .join("\n")
                ),
            };
            assert!(!dp.contexts.is_empty(), "{name}");
            for w in &rep.warnings {
                // The sample includes `parkedcalls` (made by res_parking) and uses `_X.`
                // style names only; nothing else should be worth a warning.
                assert!(
                    w.contains("'parkedcalls'"),
                    "{name}: unexpected warning {w}"
                );
            }
        }
    }

    #[test]
    fn sample_contents() {
        let path = &fixture_paths()[0];
        let text = std::fs::read_to_string(path).unwrap();
        let (dp, _) = parse_dialplan(&test_conf("extensions.conf", &text)).unwrap();
        assert!(dp.general.static_ && !dp.general.writeprotect);
        assert_eq!(
            dp.globals[0],
            ("CONSOLE".to_string(), "Console/dsp".to_string())
        );
        let demo = &dp.contexts["demo"];
        let s = ext(&dp, "demo", "s");
        assert_eq!(s.labels["instruct"], 6);
        assert_eq!(s.priority(7).unwrap().app, "WaitExten");
        assert_eq!(demo.includes[0].context, "stdexten");
        // [stdPrivacyexten]: `exten => _X.,n` continues from the `same` lines above it.
        let sp = ext(&dp, "stdPrivacyexten", "_X.");
        assert_eq!(sp.priority(60006).unwrap().app, "Set");
        assert_eq!(sp.priority(60007).unwrap().app, "Dial");
        let fn_ = &dp.contexts["outbound-freenum2"];
        assert_eq!(fn_.extensions[0].name, "fn-BUSY");
        assert_eq!(dp.contexts["dundi-e164-switch"].switches[0].module, "DUNDi");
    }

    #[test]
    fn seed_contents() {
        let path = &fixture_paths()[1];
        let text = std::fs::read_to_string(path).unwrap();
        let (dp, _) = parse_dialplan(&test_conf("seed_chapter.conf", &text)).unwrap();
        let conf = ext(&dp, "AutomatedMeetingSetupConference", "start");
        assert_eq!(conf.labels["hangup"], 14);
        assert_eq!(conf.priority(14).unwrap().app, "Hangup");
        let local = &dp.contexts["LocalSets"];
        let names: Vec<&str> = local.extensions.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "104",
                "106",
                "123",
                "202",
                "203",
                "dial",
                "voicemail",
                "_1NXXNXXXXXX"
            ]
        );
        let msg = ext(&dp, "IncomingMessages", "s");
        assert_eq!(
            msg.priority(3).unwrap().data,
            "2,Got message from ${MESSAGE(from)} destined for ${MESSAGE(to)} with body ${MESSAGE(body)})"
        );
        assert_eq!(
            msg.priority(4).unwrap().data,
            "MESSAGE(body)=Thank you for messaging the Shift-Eight PBX"
        );
        let mo = &dp.contexts["MeetingOriginator"];
        // A literal `m` (1 choice) beats a 62-character set.
        assert_eq!(mo.extensions[0].name, "_meetme-XXXX");
        assert_eq!(mo.extensions[1].name, "_[A-Za-z0-9].");
        assert_eq!(
            ext(&dp, "CalendarBusySimple", "voicemail").labels["unavail"],
            5
        );
    }
}
