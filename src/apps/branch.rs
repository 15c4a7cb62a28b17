//! `If`, `ElseIf`, `Else`, `EndIf` and `ExitIf` (app_if.so): conditional blocks inside one
//! extension, found by walking the priorities after the current one, as Asterisk does.
//!
//! Asterisk keeps the state of an open block in channel variables (`IF_<n>` holds where the
//! block began, `<context>_<exten>_<priority>` which `n` an `If`/`ElseIf` uses); ferrisk
//! keeps the same variables, so `core show channel` and `DumpChan` show the same, and the
//! same edge cases hold: a true `If` branch that reaches an `ElseIf` evaluates it (end the
//! branch with `ExitIf`, as Asterisk's documentation says), `Else` and `ExitIf` leave the
//! block for the priority after its `EndIf`.

use super::{App, AppResult};
use crate::pbx::module::{Family, ModuleContext, ModuleInfo, SupportLevel};
use crate::pbx::Channel;
use async_trait::async_trait;
use chrono::Utc;
use std::sync::Arc;

pub static MODULES: &[Family] = &[Family {
    info: ModuleInfo::new("app_if.so", "If Branch and Conditional Execution")
        .support(SupportLevel::Extended),
    register: register_app_if,
}];

fn register_app_if(ctx: &ModuleContext) {
    for kind in [
        Kind::If,
        Kind::ElseIf,
        Kind::EndIf,
        Kind::Else,
        Kind::ExitIf,
    ] {
        ctx.register_app(Arc::new(IfApp(kind)));
    }
}

/// Which of the five applications (Asterisk's `end` argument 0 to 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    If,
    ElseIf,
    EndIf,
    Else,
    ExitIf,
}

impl Kind {
    /// `If` and `ElseIf` test a condition; the other three end a branch.
    fn tests(self) -> bool {
        matches!(self, Kind::If | Kind::ElseIf)
    }
}

struct IfApp(Kind);

#[async_trait]
impl App for IfApp {
    fn name(&self) -> &'static str {
        match self.0 {
            Kind::If => "If",
            Kind::ElseIf => "ElseIf",
            Kind::EndIf => "EndIf",
            Kind::Else => "Else",
            Kind::ExitIf => "ExitIf",
        }
    }
    fn synopsis(&self) -> &'static str {
        match self.0 {
            Kind::If => "Start an if branch.",
            Kind::ElseIf => "Start an else if branch.",
            Kind::EndIf => "End an if branch.",
            Kind::Else => "Define an optional else branch.",
            Kind::ExitIf => "End an If branch.",
        }
    }
    fn syntax(&self) -> &'static str {
        match self.0 {
            Kind::If => "If(expr)",
            Kind::ElseIf => "ElseIf(expr)",
            Kind::EndIf => "EndIf()",
            Kind::Else => "Else()",
            Kind::ExitIf => "ExitIf()",
        }
    }
    fn description(&self) -> &'static str {
        match self.0 {
            Kind::If => "Start an If branch. Execution will continue inside the branch if expr is true; otherwise at the next ElseIf, after the Else, or after the matching EndIf. This application (and related applications) set variables internally during execution.",
            Kind::ElseIf => "Start an optional ElseIf branch. Execution will continue inside the branch if expr is true and if previous If and ElseIf branches evaluated to false. Please note that execution inside a true If branch will fallthrough into ElseIf unless the If segment is terminated with an ExitIf call. This is only necessary with ElseIf but not with Else.",
            Kind::EndIf => "Ends the branch begun by the preceding If() application.",
            Kind::Else => "Start an Else branch. Execution will jump here if all previous If and ElseIf branches evaluated to false.",
            Kind::ExitIf => "Exits an If() branch, whether or not it has completed.",
        }
    }
    async fn exec(&self, chan: &mut Channel, data: &str) -> AppResult {
        if_helper(chan, data, self.0);
        Ok(())
    }
}

/// The app at `priority` of the channel's extension (context, then includes).
fn app_at(chan: &Channel, priority: i32) -> Option<String> {
    let dp = chan.pbx.dialplan();
    dp.find_priority(
        &chan.context,
        &chan.exten,
        priority,
        chan.caller.num.as_deref(),
        Utc::now(),
    )
    .map(|(_, _, p)| p.app.clone())
}

/// Asterisk's `find_matching_endif`: walking the priorities after the current one (up to
/// the first missing one), the `EndIf` closing this block, or with `other`, the first
/// `other` (`ElseIf`, `Else`) at this block's level. `None` when there is none.
fn find_matching(chan: &Channel, other: Option<&str>) -> Option<i32> {
    let mut level = 1;
    let mut cur = chan.priority + 1;
    while let Some(app) = app_at(chan, cur) {
        if app.eq_ignore_ascii_case("If") {
            level += 1;
        } else if app.eq_ignore_ascii_case("EndIf") {
            level -= 1;
        }
        match other {
            None if level == 0 => return Some(cur),
            Some(o) if level == 1 && app.eq_ignore_ascii_case(o) => return Some(cur),
            _ => {}
        }
        cur += 1;
    }
    None
}

fn if_helper(chan: &mut Channel, data: &str, kind: Kind) {
    // The highest IF_<n> in use.
    let mut used: i64 = -1;
    while chan.get_var(&format!("IF_{}", used + 1)).is_some() {
        used += 1;
    }
    let my_name = format!("{}_{}_{}", chan.context, chan.exten, chan.priority);
    let label = if !kind.tests() {
        used.to_string()
    } else if let Some(l) = chan.get_var(&my_name) {
        l
    } else {
        let l = (used + 1).to_string();
        chan.vars.set(&my_name, l.as_str());
        l
    };
    let varname = format!("IF_{label}");
    let begun = chan.get_var(&varname);
    let leaves = !kind.tests() || !crate::funcs::logic::checkcondition(data);
    if !leaves {
        // A true If/ElseIf: remember where the block began, go on into the branch.
        if begun.is_none() {
            let here = format!("{},{},{}", chan.context, chan.exten, chan.priority);
            chan.vars.set(&varname, here.as_str());
        }
        return;
    }
    chan.vars.remove(&varname);
    chan.vars.remove(&my_name);
    let endif = if kind == Kind::EndIf {
        Some(chan.priority)
    } else {
        find_matching(chan, None)
    };
    let before_endif = |p: i32| endif.is_some_and(|e| p < e);
    if kind.tests() {
        if let Some(p) = find_matching(chan, Some("ElseIf")).filter(|&p| before_endif(p)) {
            // Run the ElseIf itself next.
            chan.priority = p - 1;
            chan.pbx.verbose_line(
                3,
                &format!(
                    "Taking conditional false branch, jumping to priority {}",
                    p - 1
                ),
            );
            return;
        }
        if let Some(p) = find_matching(chan, Some("Else")).filter(|&p| before_endif(p)) {
            // Continue after the Else (running Else would leave the block).
            chan.priority = p;
            chan.pbx.verbose_line(
                3,
                &format!("Taking absolute false branch, jumping to priority {p}"),
            );
            return;
        }
    }
    match endif {
        Some(p) => {
            chan.priority = p;
            chan.pbx
                .verbose_line(3, &format!("Exiting conditional, jumping to priority {p}"));
        }
        None if kind == Kind::ExitIf => chan.pbx.warning(&format!(
            "app_if.c: Couldn't find matching EndIf? (If at {}@{} priority {})",
            chan.context, chan.exten, chan.priority
        )),
        None => {}
    }
}

#[cfg(test)]
mod tests {
    use crate::pbx::tests::{get, pbx_with, run};

    async fn path(body: &str) -> String {
        let pbx = pbx_with(&format!("[t]\nexten => s,1,Set(P=)\n{body}"));
        let v = run(&pbx, "t", "s").await;
        get(&v, "P").unwrap_or("").to_string()
    }

    #[tokio::test]
    async fn if_else_endif() {
        let block = |c: &str| {
            format!(
                " same => n,If({c})\n same => n,Set(P=${{P}}a)\n same => n,Else()\n\
                 same => n,Set(P=${{P}}b)\n same => n,EndIf()\n same => n,Set(P=${{P}}c)\n"
            )
        };
        assert_eq!(path(&block("1")).await, "ac");
        assert_eq!(path(&block("0")).await, "bc");
        assert_eq!(path(&block("")).await, "bc", "empty is false");
    }

    #[tokio::test]
    async fn elseif_chain_with_exitif() {
        let chain = |a: &str, b: &str| {
            format!(
                " same => n,If({a})\n same => n,Set(P=${{P}}1)\n same => n,ExitIf()\n\
                 same => n,ElseIf({b})\n same => n,Set(P=${{P}}2)\n same => n,ExitIf()\n\
                 same => n,Else()\n same => n,Set(P=${{P}}3)\n same => n,EndIf()\n\
                 same => n,Set(P=${{P}}E)\n"
            )
        };
        assert_eq!(path(&chain("1", "1")).await, "1E");
        assert_eq!(path(&chain("0", "1")).await, "2E");
        assert_eq!(path(&chain("0", "0")).await, "3E");
    }

    #[tokio::test]
    async fn a_true_if_falls_through_into_elseif_as_in_asterisk() {
        // Without ExitIf, the true If's branch reaches the ElseIf, which is evaluated.
        let body = " same => n,If(1)\n same => n,Set(P=${P}1)\n same => n,ElseIf(0)\n\
                    same => n,Set(P=${P}2)\n same => n,Else()\n same => n,Set(P=${P}3)\n\
                    same => n,EndIf()\n same => n,Set(P=${P}E)\n";
        assert_eq!(path(body).await, "13E");
    }

    #[tokio::test]
    async fn nested_blocks_and_no_else() {
        let body = " same => n,If(0)\n same => n,If(1)\n same => n,Set(P=${P}x)\n\
                    same => n,EndIf()\n same => n,EndIf()\n same => n,Set(P=${P}a)\n\
                    same => n,If(1)\n same => n,If(0)\n same => n,Set(P=${P}y)\n\
                    same => n,EndIf()\n same => n,Set(P=${P}b)\n same => n,EndIf()\n";
        assert_eq!(path(body).await, "ab");
    }

    #[tokio::test]
    async fn block_state_is_cleaned_up() {
        let pbx = pbx_with(
            "[t]\nexten => s,1,If(1)\n same => n,Set(A=1)\n same => n,EndIf()\n\
             same => n,If(0)\n same => n,Set(B=1)\n same => n,EndIf()\n",
        );
        let v = run(&pbx, "t", "s").await;
        assert_eq!(get(&v, "A"), Some("1"));
        assert_eq!(get(&v, "B"), None);
        assert!(
            v.iter().all(|(k, _)| !k.starts_with("IF_")),
            "IF_ variables left: {v:?}"
        );
    }
}
