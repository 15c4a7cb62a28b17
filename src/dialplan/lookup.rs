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
        let mut visited: Vec<&'a str> = Vec::new();
        match self.search_ctx(context, exten, callerid, now, mode, target, &mut visited) {
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
            Step::Continue => {}
            done => return done,
        }
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
}
