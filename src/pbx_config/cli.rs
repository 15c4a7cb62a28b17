//! `dialplan show`, `dialplan reload` and the reload diff.

use crate::dialplan::{Context, Dialplan, Extension, PRIORITY_HINT};
use crate::pbx::cli::{filter_prefix, CliError, CliResult, Command, CommandRegistry, Ctx};
use std::collections::BTreeMap;
use std::fmt::Write;

pub fn register(r: &CommandRegistry) {
    r.register(
        Command::new(
            "dialplan show",
            "Show dialplan",
            "Usage: dialplan show [[exten@]context]\n       Show dialplan",
            |c: Ctx| async move { show(&c) },
        )
        .complete_with(|st, a, p| {
            if !a.is_empty() {
                return vec![];
            }
            let dp = st.pbx.dialplan();
            if let Some((ext, _)) = p.split_once('@') {
                filter_prefix(dp.contexts.keys().map(|k| format!("{ext}@{k}")), p)
            } else {
                filter_prefix(dp.contexts.keys().cloned(), p)
            }
        }),
    );
    r.register(Command::new(
        "dialplan reload",
        "Reload extensions and *only* extensions",
        "Usage: dialplan reload\n       reload extensions.conf without reloading any other\n       modules.  This command does not delete global variables\n       unless clearglobalvars is set to yes in extensions.conf",
        |c: Ctx| async move {
            // Reading the files runs on the blocking pool, not on an async worker.
            let p = c.pbx().clone();
            Ok(
                tokio::task::spawn_blocking(move || super::reload_dialplan(&p).text)
                    .await
                    .unwrap_or_default(),
            )
        },
    ));
    r.register(Command::new(
        "dialplan set global",
        "Set global dialplan variable",
        "Usage: dialplan set global <name> <value>\n       Set global dialplan variable <name> to <value>",
        |c: Ctx| async move {
            let [name, value] = c.args.as_slice() else {
                return Err(CliError::ShowUsage);
            };
            c.pbx().set_global(name, value);
            Ok(format!("\n    -- Global variable '{name}' set to '{value}'\n"))
        },
    ));
}

fn show(c: &Ctx) -> CliResult {
    if c.args.len() > 1 {
        return Err(CliError::ShowUsage);
    }
    let dp = c.pbx().dialplan();
    Ok(format_show(&dp, c.arg(0)))
}

/// `[extensions.conf:12]`: file name and line of a dialplan entry.
fn registrar(loc: &crate::config::Location) -> String {
    // A module's extension (`res_parking/default`): its registrar, as Asterisk prints it.
    if loc.line == 0 {
        return loc.file.to_string();
    }
    let f = loc.file.rsplit('/').next().unwrap_or(&loc.file);
    format!("{f}:{}", loc.line)
}

/// Asterisk's `-= N extensions (N priorities) in N contexts. =-`.
pub fn counts_line(exts: usize, prios: usize, ctxs: usize) -> String {
    format!(
        "-= {exts} {} ({prios} {}) in {ctxs} {}. =-\n",
        if exts == 1 { "extension" } else { "extensions" },
        if prios == 1 { "priority" } else { "priorities" },
        if ctxs == 1 { "context" } else { "contexts" }
    )
}

/// Total extensions and priorities of a dialplan (hints count as priorities, as in Asterisk).
pub fn totals(dp: &Dialplan) -> (usize, usize, usize) {
    let exts = dp.contexts.values().map(|c| c.extensions.len()).sum();
    let prios = dp
        .contexts
        .values()
        .flat_map(|c| &c.extensions)
        .map(|e| e.priorities.len())
        .sum();
    (exts, prios, dp.contexts.len())
}

fn ext_lines(o: &mut String, e: &Extension) {
    let mut first = true;
    for p in e.priorities.values() {
        let text = if p.priority == PRIORITY_HINT {
            format!("hint: {}", p.app)
        } else {
            format!("{}. {}({})", p.priority, p.app, p.data)
        };
        let head = if first {
            match &e.cidmatch {
                Some(cid) => format!("'{}' (CID match '{}') => ", e.name, cid.raw),
                None => format!("'{}' =>", e.name),
            }
        } else {
            match &p.label {
                Some(l) => format!("   [{l}]"),
                None => String::new(),
            }
        };
        first = false;
        let _ = writeln!(o, "  {head:<17} {text:<45} [{}]", registrar(&p.loc));
    }
}

/// `ast_extension_match(name, exten)`: a pattern (`_…`) matches the whole of `exten`; a
/// literal extension equals it, `-` ignored (case matters, as in Asterisk).
fn exten_matches(e: &Extension, exten: &str) -> bool {
    e.pattern.matches(exten)
}

/// `ast_extension_match("_<ignorepat>.", exten)`.
fn ignorepat_matches(pat: &str, exten: &str) -> bool {
    crate::dialplan::Pattern::new(&format!("_{pat}.")).is_ok_and(|p| p.matches(exten))
}

/// What `dialplan show` counts (Asterisk's `struct dialplan_counters`).
#[derive(Default)]
struct Counters {
    exten: usize,
    prio: usize,
    context: usize,
    context_existence: bool,
    extension_existence: bool,
}

/// Asterisk's `show_dialplan_helper`: the contexts named `context` (all when `None`), and
/// with `exten` only its matching extensions, followed inside each context by what its
/// includes provide for it (`[ Included context … ]`, once per include chain).
fn show_helper(
    o: &mut String,
    dp: &Dialplan,
    context: Option<&str>,
    exten: Option<&str>,
    n: &mut Counters,
    included: bool,
    stack: &mut Vec<String>,
) {
    for c in dp.contexts.values() {
        if context.is_some_and(|want| c.name != want) {
            continue;
        }
        n.context_existence = true;
        let mut printed = false;
        let header = |o: &mut String, n: &mut Counters, c: &Context| {
            n.context += 1;
            let kind = if included && exten.is_some() {
                "Included context"
            } else {
                "Context"
            };
            let _ = writeln!(o, "[ {kind} '{}' created by '{}' ]", c.name, c.registrar);
        };
        if exten.is_none() {
            header(o, n, c);
            printed = true;
        }
        for e in &c.extensions {
            if exten.is_some_and(|x| !exten_matches(e, x)) {
                continue;
            }
            n.extension_existence = true;
            if !printed {
                header(o, n, c);
                printed = true;
            }
            n.exten += 1;
            n.prio += e.priorities.len();
            ext_lines(o, e);
        }
        for inc in &c.includes {
            match exten {
                Some(x) => {
                    if stack.iter().any(|s| s.eq_ignore_ascii_case(&inc.context)) {
                        continue;
                    }
                    stack.push(inc.context.clone());
                    show_helper(o, dp, Some(&inc.context), Some(x), n, true, stack);
                    stack.pop();
                }
                None => {
                    let _ = writeln!(
                        o,
                        "  Include =>        {:<45} [pbx_config]",
                        format!("'{}'", inc.raw)
                    );
                }
            }
        }
        for ig in &c.ignorepats {
            if exten.is_none_or(|x| ignorepat_matches(ig, x)) {
                let _ = writeln!(
                    o,
                    "  Ignore pattern => {:<45} [pbx_config]",
                    format!("'{ig}'")
                );
            }
        }
        if !included {
            for sw in &c.switches {
                let _ = writeln!(
                    o,
                    "  Alt. Switch =>    {:<45} [pbx_config]",
                    format!("'{}/{}'", sw.module, sw.data)
                );
            }
        }
        if printed {
            o.push('\n');
        }
    }
}

/// The whole `dialplan show [[exten@]context]` output.
pub fn format_show(dp: &Dialplan, arg: Option<&str>) -> String {
    let (exten, ctx) = match arg {
        None => (None, None),
        Some(a) => match a.split_once('@') {
            Some((e, c)) => (
                Some(e).filter(|e| !e.is_empty()),
                Some(c).filter(|c| !c.is_empty()),
            ),
            None => (None, Some(a).filter(|c| !c.is_empty())),
        },
    };
    let mut o = String::new();
    let mut n = Counters::default();
    show_helper(&mut o, dp, ctx, exten, &mut n, false, &mut Vec::new());
    if let Some(c) = ctx {
        if !n.context_existence {
            o.push_str(&format!("There is no existence of '{c}' context\n"));
            return o;
        }
    }
    if let Some(e) = exten {
        if !n.extension_existence {
            match ctx {
                Some(c) => o.push_str(&format!("There is no existence of {e}@{c} extension\n")),
                None => o.push_str(&format!(
                    "There is no existence of '{e}' extension in all contexts\n"
                )),
            }
            return o;
        }
    }
    o.push_str(&counts_line(n.exten, n.prio, n.context));
    o
}

/// Comparable shape of an extension: priority → (label, app, data).
fn ext_shape(e: &Extension) -> BTreeMap<i32, (Option<String>, String, String)> {
    e.priorities
        .iter()
        .map(|(n, p)| (*n, (p.label.clone(), p.app.clone(), p.data.clone())))
        .collect()
}

fn ext_key(e: &Extension) -> String {
    match &e.cidmatch {
        Some(c) => format!("{}/{}", e.name, c.raw),
        None => e.name.clone(),
    }
}

/// What a reload changed, one line each.
pub fn diff_dialplans(old: &Dialplan, new: &Dialplan) -> Vec<String> {
    let mut out = Vec::new();
    for name in new.contexts.keys() {
        if !old.contexts.contains_key(name) {
            let n = new.contexts[name].extensions.len();
            out.push(format!(
                "Context '{name}' added ({n} extension{})",
                crate::cli::format::ess(n as u64)
            ));
        }
    }
    for name in old.contexts.keys() {
        if !new.contexts.contains_key(name) {
            out.push(format!("Context '{name}' removed"));
        }
    }
    for (name, nc) in &new.contexts {
        let Some(oc) = old.contexts.get(name) else {
            continue;
        };
        let olds: BTreeMap<String, &Extension> =
            oc.extensions.iter().map(|e| (ext_key(e), e)).collect();
        let news: BTreeMap<String, &Extension> =
            nc.extensions.iter().map(|e| (ext_key(e), e)).collect();
        for (k, ne) in &news {
            match olds.get(k) {
                None => out.push(format!("[{name}] extension '{k}' added")),
                Some(oe) => {
                    let (a, b) = (ext_shape(oe), ext_shape(ne));
                    if a != b {
                        let changed: Vec<String> = a
                            .keys()
                            .chain(b.keys())
                            .filter(|p| a.get(p) != b.get(p))
                            .map(|p| {
                                if *p == PRIORITY_HINT {
                                    "hint".to_string()
                                } else {
                                    p.to_string()
                                }
                            })
                            .collect::<std::collections::BTreeSet<_>>()
                            .into_iter()
                            .collect();
                        out.push(format!(
                            "[{name}] extension '{k}' changed (priorit{} {})",
                            if changed.len() == 1 { "y" } else { "ies" },
                            changed.join(", ")
                        ));
                    }
                }
            }
        }
        for k in olds.keys() {
            if !news.contains_key(k) {
                out.push(format!("[{name}] extension '{k}' removed"));
            }
        }
        let oi: Vec<&str> = oc.includes.iter().map(|i| i.raw.as_str()).collect();
        let ni: Vec<&str> = nc.includes.iter().map(|i| i.raw.as_str()).collect();
        if oi != ni {
            out.push(format!("[{name}] includes changed"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{load_str, LoadOptions};
    use crate::dialplan::parse_dialplan;
    use std::path::Path;

    fn dp(text: &str) -> Dialplan {
        let cf = load_str(
            Path::new("/tmp"),
            "/tmp/extensions.conf",
            text,
            &LoadOptions::default(),
        )
        .expect("load");
        parse_dialplan(&cf).expect("parse").0
    }

    const BASE: &str = "[default]\nexten => 100,1,Answer()\n same => n(loop),NoOp(hi)\n same => n,Hangup()\nexten => 200,hint,SIP/200\nexten => 200,1,Dial(SIP/200)\ninclude => other\n\n[other]\nexten => s,1,NoOp()\n";

    #[test]
    fn show_format() {
        let d = dp(BASE);
        let out = format_show(&d, Some("default"));
        let expected = format!(
            "[ Context 'default' created by 'pbx_config' ]\n  {:<17} {:<45} [extensions.conf:2]\n  {:<17} {:<45} [extensions.conf:3]\n  {:<17} {:<45} [extensions.conf:4]\n  {:<17} {:<45} [extensions.conf:5]\n  {:<17} {:<45} [extensions.conf:6]\n  Include =>        {:<45} [pbx_config]\n\n-= 2 extensions (5 priorities) in 1 context. =-\n",
            "'100' =>", "1. Answer()", "   [loop]", "2. NoOp(hi)", "", "3. Hangup()",
            "'200' =>", "hint: SIP/200", "", "1. Dial(SIP/200)", "'other'"
        );
        assert_eq!(out, expected);
        assert!(
            format_show(&d, None).ends_with("-= 3 extensions (6 priorities) in 2 contexts. =-\n")
        );
        assert!(format_show(&d, Some("s@other"))
            .ends_with("-= 1 extension (1 priority) in 1 context. =-\n"));
        assert!(format_show(&d, Some("s@")).contains("[ Context 'other'"));
        // exten@context also shows what included contexts provide.
        let inc = format_show(&d, Some("s@default"));
        assert!(
            inc.starts_with("[ Included context 'other' created by 'pbx_config' ]\n"),
            "{inc}"
        );
        assert!(inc.ends_with("-= 1 extension (1 priority) in 1 context. =-\n"));
        assert_eq!(
            format_show(&d, Some("nope")),
            "There is no existence of 'nope' context\n"
        );
        assert_eq!(
            format_show(&d, Some("999@default")),
            "There is no existence of 999@default extension\n"
        );
        assert_eq!(
            format_show(&d, Some("999@")),
            "There is no existence of '999' extension in all contexts\n"
        );
    }

    /// As pbx.c: an included context's matches print inside the including context (before
    /// its blank line), patterns match, ignore patterns show when they match.
    #[test]
    fn show_exten_at_context_as_asterisk() {
        let d = dp("[a]\nexten => 100,1,NoOp(a)\ninclude => b\nignorepat => 9\n[b]\nexten => _1XX,1,NoOp(b)\nexten => 200/555,1,NoOp(cid)\n");
        let out = format_show(&d, Some("100@a"));
        let expected = format!(
            "[ Context 'a' created by 'pbx_config' ]\n  {:<17} {:<45} [extensions.conf:2]\n[ Included context 'b' created by 'pbx_config' ]\n  {:<17} {:<45} [extensions.conf:6]\n\n\n-= 2 extensions (2 priorities) in 2 contexts. =-\n",
            "'100' =>", "1. NoOp(a)", "'_1XX' =>", "1. NoOp(b)"
        );
        assert_eq!(out, expected);
        let ig = format_show(&d, Some("912@a"));
        assert!(ig.contains("  Ignore pattern => '9'"), "{ig}");
        let cid = format_show(&d, Some("b"));
        assert!(
            cid.contains("  '200' (CID match '555') =>  1. NoOp(cid)"),
            "{cid}"
        );
    }

    #[test]
    fn reload_diff() {
        let a = dp(BASE);
        let b = dp("[default]\nexten => 100,1,Answer()\n same => n(loop),NoOp(changed)\n same => n,Hangup()\nexten => 300,1,NoOp()\ninclude => other\n\n[new]\nexten => 1,1,NoOp()\n");
        let d = diff_dialplans(&a, &b);
        assert_eq!(
            d,
            vec![
                "Context 'new' added (1 extension)",
                "Context 'other' removed",
                "[default] extension '100' changed (priority 2)",
                "[default] extension '300' added",
                "[default] extension '200' removed",
            ]
        );
        assert!(diff_dialplans(&a, &a).is_empty());
    }
}
