//! Finding extensions in a [`Dialplan`]: pure functions, time passed in.
//!
//! The search is Asterisk's `pbx_find_extension` (the classic linear algorithm, which is
//! what `extenpatternmatchnew=no` — the default — does):
//!
//! 1. The context's own extensions, in precedence order (see [`super::pattern`]): each
//!    extension whose name matches in the asked [`MatchMode`] and whose caller-ID match
//!    (if any) matches the caller is tried; caller-ID variants sort before the plain
//!    extension of the same name, so they win. An extension that matches but lacks the
//!    wanted priority/label does **not** end the search: the next candidate is tried
//!    (so `exten => 100,hint,...` alone does not hide `_1XX`'s priority 1).
//! 2. Then each `include`, in order, when its time condition holds, depth first.
//! 3. A context already visited during this search is not searched again (loops and
//!    diamonds are harmless), and the search gives up below 128 nested includes
//!    (Asterisk's `AST_PBX_MAX_STACK`).
//! 4. In `MatchMore` mode, the first match that is an early match (`!`) ends the whole
//!    search with "no": there is nothing more to wait for.
//!
//! Switches (`switch =>`) are not consulted (the interpreter reports them unsupported).
//!
//! A context's literal extensions are looked up through [`Context::literal_index`] for
//! exact matches, so a context with thousands of numbers costs one hash lookup plus the
//! patterns.
use super::pattern::{MatchKind, MatchMode};
use super::{Context, Dialplan, Extension, Priority, PRIORITY_HINT};
use crate::config::Location;
use chrono::{DateTime, Utc};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

/// Asterisk's `AST_PBX_MAX_STACK`: how many contexts one search may enter.
pub const MAX_INCLUDE_DEPTH: usize = 128;

/// What a search wants from a matching extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target<'a> {
    /// Any real (non-hint) priority: the lowest one is returned.
    AnyPriority,
    /// This priority number (may be [`PRIORITY_HINT`]).
    Priority(i32),
    /// The priority carrying this label (case-sensitive, as in Asterisk).
    Label(&'a str),
}

/// A successful search: where it was found.
#[derive(Debug, Clone, Copy)]
pub struct Found<'a> {
    pub context: &'a Context,
    pub extension: &'a Extension,
    pub priority: &'a Priority,
}

enum Step<'a> {
    Found(Found<'a>),
    /// Final "no" (early match in `MatchMore` mode).
    Stop,
    Continue,
}

impl Extension {
    /// A new extension with no priorities.
    pub fn new(pattern: super::Pattern, cidmatch: Option<super::Pattern>, loc: Location) -> Self {
        Extension {
            name: pattern.raw.clone(),
            pattern,
            cidmatch,
            priorities: BTreeMap::new(),
            labels: HashMap::new(),
            loc,
        }
    }
    /// Priority `n` (use [`PRIORITY_HINT`] for the hint).
    pub fn priority(&self, n: i32) -> Option<&Priority> {
        self.priorities.get(&n)
    }
    /// The priority carrying `label`.
    pub fn label(&self, label: &str) -> Option<&Priority> {
        self.labels.get(label).and_then(|n| self.priorities.get(n))
    }
    /// The hint (`exten => 100,hint,SIP/100`): `app` holds the device string.
    pub fn hint(&self) -> Option<&Priority> {
        self.priorities.get(&PRIORITY_HINT)
    }
    /// Lowest real (non-hint) priority.
    pub fn first_priority(&self) -> Option<&Priority> {
        self.priorities.range(1..).next().map(|(_, p)| p)
    }
    /// Does this extension's caller-ID condition accept `callerid`? Always true without
    /// one. With one, an absent/empty caller ID only matches an empty condition
    /// (`exten => 100/,...`), as in Asterisk.
    pub fn cid_matches(&self, callerid: Option<&str>) -> bool {
        match &self.cidmatch {
            None => true,
            Some(p) => match callerid {
                None | Some("") => p.literal() == Some(""),
                Some(cid) => p.matches(cid),
            },
        }
    }
    fn target<'a>(&'a self, t: Target<'_>) -> Option<&'a Priority> {
        match t {
            Target::AnyPriority => self.first_priority(),
            Target::Priority(n) => self.priority(n),
            Target::Label(l) => self.label(l),
        }
    }
}

/// Extension order within a context: name precedence, then caller-ID variants before the
/// plain extension, caller-ID variants among themselves by their pattern precedence.
pub(crate) fn extension_order(a: &Extension, b: &Extension) -> std::cmp::Ordering {
    use std::cmp::Ordering::*;
    a.pattern
        .precedence(&b.pattern)
        .then_with(|| match (&a.cidmatch, &b.cidmatch) {
            (None, None) => Equal,
            (Some(_), None) => Less,
            (None, Some(_)) => Greater,
            (Some(x), Some(y)) => x.precedence(y),
        })
}

impl Context {
    /// An empty context registered by `pbx_config`.
    pub fn new(name: &str, loc: Location) -> Self {
        Context {
            name: name.to_string(),
            loc,
            extensions: Vec::new(),
            includes: Vec::new(),
            ignorepats: Vec::new(),
            switches: Vec::new(),
            registrar: "pbx_config".to_string(),
            literal_index: HashMap::new(),
        }
    }

    /// Sort `extensions` by precedence and rebuild [`Context::literal_index`].
    pub fn sort_extensions(&mut self) {
        self.extensions.sort_by(extension_order);
        self.rebuild_index();
    }

    /// Rebuild [`Context::literal_index`] from `extensions` (which must be sorted).
    pub fn rebuild_index(&mut self) {
        self.literal_index.clear();
        for (i, e) in self.extensions.iter().enumerate() {
            if let Some(lit) = e.pattern.literal() {
                self.literal_index
                    .entry(lit.to_string())
                    .or_default()
                    .push(i);
            }
        }
    }

    /// Is `exten` ignored for dial-tone purposes (`ignorepat =>`)?
    pub fn ignores(&self, exten: &str) -> bool {
        self.ignorepats.iter().any(|p| {
            super::Pattern::new(p)
                .map(|p| p.can_match(exten))
                .unwrap_or(false)
        })
    }

    /// This context only (no includes): the first extension answering `mode`/`target`.
    fn search_own<'a>(
        &'a self,
        exten: &str,
        callerid: Option<&str>,
        mode: MatchMode,
        target: Target<'_>,
    ) -> Step<'a> {
        let n_literals = self.extensions.partition_point(|e| !e.pattern.is_pattern());
        let try_ext = |e: &'a Extension| -> Option<Step<'a>> {
            let kind = e.pattern.check(exten, mode);
            if kind == MatchKind::No || !e.cid_matches(callerid) {
                return None;
            }
            if kind == MatchKind::Early && mode == MatchMode::MatchMore {
                return Some(Step::Stop);
            }
            e.target(target).map(|p| {
                Step::Found(Found {
                    context: self,
                    extension: e,
                    priority: p,
                })
            })
        };
        let (literals, patterns) = self.extensions.split_at(n_literals);
        if mode == MatchMode::Match && (!self.literal_index.is_empty() || literals.is_empty()) {
            let key: Cow<str> = if exten.contains('-') {
                Cow::Owned(exten.replace('-', ""))
            } else {
                Cow::Borrowed(exten)
            };
            if let Some(idx) = self.literal_index.get(key.as_ref()) {
                for &i in idx {
                    if let Some(step) = self.extensions.get(i).and_then(try_ext) {
                        return step;
                    }
                }
            }
        } else {
            for e in literals {
                if let Some(step) = try_ext(e) {
                    return step;
                }
            }
        }
        for e in patterns {
            if let Some(step) = try_ext(e) {
                return step;
            }
        }
        Step::Continue
    }
}

impl Dialplan {
    /// The general search (see the module documentation). `context` is searched, then
    /// its includes whose time condition holds at `now`.
    pub fn search<'a>(
        &'a self,
        context: &str,
        exten: &str,
        callerid: Option<&str>,
        now: DateTime<Utc>,
        mode: MatchMode,
        target: Target<'_>,
    ) -> Option<Found<'a>> {
        let ctx = self.contexts.get(context)?;
        // The context itself first: no include walk, no allocation when it answers.
        let step = match ctx.search_own(exten, callerid, mode, target) {
            Step::Continue if !ctx.includes.is_empty() => {
                let mut visited: Vec<&'a str> = vec![ctx.name.as_str()];
                self.search_includes(ctx, exten, callerid, now, mode, target, &mut visited)
            }
            step => step,
        };
        match step {
            Step::Found(f) => Some(f),
            Step::Stop | Step::Continue => None,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn search_ctx<'a>(
        &'a self,
        context: &str,
        exten: &str,
        callerid: Option<&str>,
        now: DateTime<Utc>,
        mode: MatchMode,
        target: Target<'_>,
        visited: &mut Vec<&'a str>,
    ) -> Step<'a> {
        if visited.len() >= MAX_INCLUDE_DEPTH || visited.contains(&context) {
            return Step::Continue;
        }
        let Some(ctx) = self.contexts.get(context) else {
            return Step::Continue;
        };
        visited.push(ctx.name.as_str());
        match ctx.search_own(exten, callerid, mode, target) {
            Step::Continue => {
                self.search_includes(ctx, exten, callerid, now, mode, target, visited)
            }
            done => done,
        }
    }

    /// `ctx`'s includes in order (those whose time condition holds), depth first.
    #[allow(clippy::too_many_arguments)]
    fn search_includes<'a>(
        &'a self,
        ctx: &'a Context,
        exten: &str,
        callerid: Option<&str>,
        now: DateTime<Utc>,
        mode: MatchMode,
        target: Target<'_>,
        visited: &mut Vec<&'a str>,
    ) -> Step<'a> {
        for inc in &ctx.includes {
            if inc.timing.as_ref().is_some_and(|t| !t.matches(now)) {
                continue;
            }
            match self.search_ctx(&inc.context, exten, callerid, now, mode, target, visited) {
                Step::Continue => {}
                done => return done,
            }
        }
        Step::Continue
    }

    /// The extension that would run for `exten` dialed in `context`: the first, in
    /// search order, that matches completely and has a real (non-hint) priority.
    /// To execute priority `n`, use [`Dialplan::find_priority`], which keeps searching
    /// past extensions that lack it, as Asterisk does.
    pub fn find_extension(
        &self,
        context: &str,
        exten: &str,
        callerid: Option<&str>,
        now: DateTime<Utc>,
    ) -> Option<(&Context, &Extension)> {
        self.search(
            context,
            exten,
            callerid,
            now,
            MatchMode::Match,
            Target::AnyPriority,
        )
        .map(|f| (f.context, f.extension))
    }

    /// Priority `priority` of `exten` in `context` (Asterisk's lookup for execution).
    pub fn find_priority(
        &self,
        context: &str,
        exten: &str,
        priority: i32,
        callerid: Option<&str>,
        now: DateTime<Utc>,
    ) -> Option<(&Context, &Extension, &Priority)> {
        self.search(
            context,
            exten,
            callerid,
            now,
            MatchMode::Match,
            Target::Priority(priority),
        )
        .map(|f| (f.context, f.extension, f.priority))
    }

    /// `ast_exists_extension`.
    pub fn exists(
        &self,
        context: &str,
        exten: &str,
        priority: i32,
        callerid: Option<&str>,
        now: DateTime<Utc>,
    ) -> bool {
        self.find_priority(context, exten, priority, callerid, now)
            .is_some()
    }

    /// `ast_canmatch_extension(.., priority 1, ..)`: `exten` matches, or could with more
    /// digits, an extension having priority 1.
    pub fn can_match(
        &self,
        context: &str,
        exten: &str,
        callerid: Option<&str>,
        now: DateTime<Utc>,
    ) -> bool {
        self.search(
            context,
            exten,
            callerid,
            now,
            MatchMode::CanMatch,
            Target::Priority(1),
        )
        .is_some()
    }

    /// `ast_matchmore_extension(.., priority 1, ..)`: more digits could select an
    /// extension having priority 1 (false as soon as an early `!` match is met).
    pub fn match_more(
        &self,
        context: &str,
        exten: &str,
        callerid: Option<&str>,
        now: DateTime<Utc>,
    ) -> bool {
        self.search(
            context,
            exten,
            callerid,
            now,
            MatchMode::MatchMore,
            Target::Priority(1),
        )
        .is_some()
    }

    /// `ast_findlabel_extension`: the priority number of `label`.
    pub fn find_label(
        &self,
        context: &str,
        exten: &str,
        label: &str,
        callerid: Option<&str>,
        now: DateTime<Utc>,
    ) -> Option<i32> {
        self.search(
            context,
            exten,
            callerid,
            now,
            MatchMode::Match,
            Target::Label(label),
        )
        .map(|f| f.priority.priority)
    }

    /// `ast_get_hint`: the device string of `exten`'s hint (caller-ID variants ignored).
    pub fn hint(&self, context: &str, exten: &str, now: DateTime<Utc>) -> Option<&str> {
        self.search(
            context,
            exten,
            None,
            now,
            MatchMode::Match,
            Target::Priority(PRIORITY_HINT),
        )
        .map(|f| f.priority.app.as_str())
    }

    /// The hint's devices and its presence part (`exten => 100,hint,SIP/100,Custom:x`):
    /// (`SIP/100`, `Custom:x`).
    pub fn hint_parts(
        &self,
        context: &str,
        exten: &str,
        now: DateTime<Utc>,
    ) -> Option<(&str, &str)> {
        // The parser keeps the whole text after `hint,` as the app.
        self.hint(context, exten, now)
            .map(|all| all.split_once(',').unwrap_or((all, "")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialplan::parser::{parse_dialplan, test_conf};
    use chrono::NaiveDate;

    fn load(text: &str) -> Dialplan {
        parse_dialplan(&test_conf("t.conf", text))
            .map(|(dp, _)| dp)
            .unwrap_or_else(|e| panic!("{e:?}"))
    }
    /// Monday 2024-01-01 at `h:m` UTC.
    fn monday(h: u32, m: u32) -> DateTime<Utc> {
        NaiveDate::from_ymd_opt(2024, 1, 1)
            .unwrap()
            .and_hms_opt(h, m, 0)
            .unwrap()
            .and_utc()
    }
    fn found(dp: &Dialplan, ctx: &str, exten: &str, cid: Option<&str>) -> Option<(String, String)> {
        dp.find_extension(ctx, exten, cid, monday(12, 0))
            .map(|(c, e)| (c.name.clone(), e.name.clone()))
    }
    fn pair(c: &str, e: &str) -> Option<(String, String)> {
        Some((c.to_string(), e.to_string()))
    }

    const PLAN: &str = "\
[top]
exten => 100,1,NoOp(top 100)
exten => _1XX,1,NoOp(top 1XX)
include => inner
include => office,09:00-17:00,mon-fri,*,*,UTC
include => night,17:01-08:59,*,*,*,UTC
include => top
[inner]
exten => 100,1,NoOp(inner 100: shadowed)
exten => 200,1,NoOp(inner 200)
exten => _2XX,1,NoOp(inner 2XX)
include => deeper
include => top
[deeper]
exten => 300,1,NoOp(deep)
include => inner
[office]
exten => 0,1,Dial(SIP/reception)
[night]
exten => 0,1,VoiceMail(0@default)
";

    #[test]
    fn own_extensions_then_includes_in_order() {
        let dp = load(PLAN);
        assert_eq!(found(&dp, "top", "100", None), pair("top", "100"));
        assert_eq!(found(&dp, "top", "150", None), pair("top", "_1XX"));
        assert_eq!(found(&dp, "top", "200", None), pair("inner", "200"));
        assert_eq!(found(&dp, "top", "250", None), pair("inner", "_2XX"));
        assert_eq!(found(&dp, "top", "300", None), pair("deeper", "300"));
        assert_eq!(found(&dp, "top", "400", None), None);
        assert_eq!(found(&dp, "inner", "300", None), pair("deeper", "300"));
        assert_eq!(found(&dp, "nosuch", "100", None), None);
    }

    #[test]
    fn include_loops_terminate() {
        // top -> inner -> deeper -> inner (loop) and inner -> top (loop), top -> top.
        let dp = load(PLAN);
        assert_eq!(found(&dp, "deeper", "nothing", None), None);
        assert_eq!(found(&dp, "deeper", "150", None), pair("top", "_1XX"));
        let selfloop = load("[a]\ninclude => a\ninclude => b\n[b]\ninclude => a\n");
        assert_eq!(found(&selfloop, "a", "1", None), None);
        assert!(!selfloop.can_match("a", "1", None, monday(12, 0)));
    }

    #[test]
    fn timed_includes() {
        let dp = load(PLAN);
        let at = |h, m| {
            dp.find_priority("top", "0", 1, None, monday(h, m))
                .map(|(c, _, p)| (c.name.clone(), p.app.clone()))
        };
        assert_eq!(at(9, 0), Some(("office".into(), "Dial".into())));
        assert_eq!(at(17, 0), Some(("office".into(), "Dial".into())));
        assert_eq!(at(17, 1), Some(("night".into(), "VoiceMail".into())));
        assert_eq!(at(3, 0), Some(("night".into(), "VoiceMail".into())));
        // Saturday noon: neither (office is mon-fri, night is 17:01-08:59).
        let sat = NaiveDate::from_ymd_opt(2024, 1, 6)
            .unwrap()
            .and_hms_opt(12, 0, 0)
            .unwrap()
            .and_utc();
        assert!(dp.find_priority("top", "0", 1, None, sat).is_none());
    }

    #[test]
    fn callerid_variants() {
        let dp = load(
            "[c]\n\
             exten => 100,1,NoOp(anyone)\n\
             exten => 100/5551234,1,NoOp(boss)\n\
             exten => 100/_555X.,1,NoOp(555)\n\
             exten => 100/,1,NoOp(anonymous)\n\
             exten => 200/5551234,1,NoOp(only the boss)\n",
        );
        let app = |cid| {
            dp.find_priority("c", "100", 1, cid, monday(12, 0))
                .map(|(_, _, p)| p.data.clone())
        };
        assert_eq!(app(Some("5551234")).as_deref(), Some("boss"));
        assert_eq!(app(Some("5559999")).as_deref(), Some("555"));
        assert_eq!(app(Some("4441234")).as_deref(), Some("anyone"));
        assert_eq!(app(None).as_deref(), Some("anonymous"));
        assert_eq!(app(Some("")).as_deref(), Some("anonymous"));
        assert!(dp.exists("c", "200", 1, Some("5551234"), monday(12, 0)));
        assert!(!dp.exists("c", "200", 1, Some("5550000"), monday(12, 0)));
        assert!(!dp.exists("c", "200", 1, None, monday(12, 0)));
    }

    #[test]
    fn missing_priority_keeps_searching() {
        let dp = load(
            "[c]\n\
             exten => 100,hint,SIP/100\n\
             exten => 100,5,NoOp(five)\n\
             exten => _1XX,1,NoOp(pattern one)\n\
             same => n(lbl),NoOp(pattern two)\n\
             include => d\n\
             [d]\n\
             exten => 100,7,NoOp(seven)\n",
        );
        let now = monday(12, 0);
        let get = |p| {
            dp.find_priority("c", "100", p, None, now)
                .map(|(c, e, x)| (c.name.clone(), e.name.clone(), x.data.clone()))
        };
        assert_eq!(
            get(1),
            Some(("c".into(), "_1XX".into(), "pattern one".into()))
        );
        assert_eq!(get(5), Some(("c".into(), "100".into(), "five".into())));
        assert_eq!(get(7), Some(("d".into(), "100".into(), "seven".into())));
        assert_eq!(get(8), None);
        assert_eq!(dp.hint("c", "100", now), Some("SIP/100"));
        assert_eq!(dp.hint("c", "101", now), None);
        assert_eq!(dp.find_label("c", "100", "lbl", None, now), Some(2));
        assert_eq!(dp.find_label("c", "100", "nope", None, now), None);
        // find_extension: first match with a real priority (the literal, with 5).
        assert_eq!(found(&dp, "c", "100", None), pair("c", "100"));
    }

    #[test]
    fn can_match_and_match_more() {
        let dp = load(
            "[c]\n\
             exten => 12,1,NoOp()\n\
             exten => 123,1,NoOp()\n\
             exten => _9X!,1,NoOp()\n\
             exten => _8X.,1,NoOp()\n\
             exten => 555,hint,SIP/555\n\
             include => d\n\
             [d]\n\
             exten => 4567,1,NoOp()\n",
        );
        let now = monday(12, 0);
        let cm = |s| dp.can_match("c", s, None, now);
        let mm = |s| dp.match_more("c", s, None, now);
        assert!(cm("1") && cm("12") && cm("123") && !cm("1234"));
        assert!(mm("1") && mm("12") && !mm("123"));
        assert!(cm("45") && mm("45") && !mm("4567"), "through the include");
        assert!(cm("9") && mm("9"), "the X still needs a digit");
        assert!(
            cm("91") && !mm("91"),
            "`!` reached: early match, stop waiting"
        );
        assert!(cm("912") && !mm("912"));
        assert!(cm("8") && mm("8") && mm("81") && mm("8123"));
        assert!(
            !cm("5") && !cm("555"),
            "hint-only extensions have no priority 1"
        );
        assert!(cm(""), "anything can still come");
    }

    #[test]
    fn dashes_and_big_literal_context() {
        let mut text = String::from("[big]\n");
        for n in 0..5000 {
            text.push_str(&format!("exten => {},1,Dial(SIP/{n})\n", 10000 + n));
        }
        text.push_str("exten => 555-1212,1,NoOp(dashed)\nexten => _X.,1,NoOp(fallback)\n");
        let dp = load(&text);
        let now = monday(12, 0);
        let c = &dp.contexts["big"];
        assert_eq!(c.literal_index.len(), 5001);
        assert_eq!(
            dp.find_priority("big", "14999", 1, None, now)
                .unwrap()
                .2
                .data,
            "SIP/4999"
        );
        assert_eq!(
            dp.find_priority("big", "555-12-12", 1, None, now)
                .unwrap()
                .2
                .data,
            "dashed"
        );
        assert_eq!(
            dp.find_priority("big", "5551212", 1, None, now)
                .unwrap()
                .2
                .data,
            "dashed"
        );
        assert_eq!(
            dp.find_priority("big", "99", 1, None, now).unwrap().2.data,
            "fallback"
        );
        // The index is an optimisation only: without it the scan finds the same.
        let mut dp2 = dp.clone();
        dp2.contexts.get_mut("big").unwrap().literal_index.clear();
        assert_eq!(
            dp2.find_priority("big", "14999", 1, None, now)
                .unwrap()
                .2
                .data,
            "SIP/4999"
        );
    }

    #[test]
    fn ignorepat() {
        let dp = load("[c]\nignorepat => 9\nignorepat => _8X\n");
        let c = &dp.contexts["c"];
        assert!(c.ignores("9") && c.ignores("8") && c.ignores("81"));
        assert!(!c.ignores("7") && !c.ignores("91"));
    }
}
