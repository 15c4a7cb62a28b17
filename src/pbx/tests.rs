//! Interpreter tests: dialplans run on channels with the real applications.

use super::*;
use crate::pbx::channel::NullTech;
use std::time::Duration;

/// Build a PBX with `text` as extensions.conf.
pub fn pbx_with(text: &str) -> Arc<Pbx> {
    let pbx = crate::modules::test_pbx();
    match dialplan_from_str("extensions.conf", text) {
        Ok((dp, _)) => pbx.set_dialplan(dp),
        Err(e) => panic!("dialplan errors: {e:?}"),
    }
    pbx
}

/// Run `exten@context` on a fresh channel to the end (no `h` unless present); return its vars.
pub async fn run(pbx: &Arc<Pbx>, context: &str, exten: &str) -> Vec<(String, String)> {
    let mut chan = Channel::new(pbx, format!("Test/{exten}-0000"), Arc::new(NullTech));
    chan.context = context.into();
    chan.exten = exten.into();
    chan.priority = 1;
    let _ = exec::run_loop(&mut chan, exec::Nest::Top).await;
    exec::run_h_exten(&mut chan).await;
    chan.vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.value.clone()))
        .collect()
}

pub fn get<'a>(vars: &'a [(String, String)], k: &str) -> Option<&'a str> {
    vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn goto_labels_and_priorities() {
    let pbx = pbx_with(
        "[t]\nexten => s,1,Set(A=1)\n same => n,Goto(skip)\n same => n,Set(A=bad)\n same => n(skip),Set(B=2)\n same => n,Goto(other,1)\nexten => other,1,Set(C=3)\n",
    );
    let v = run(&pbx, "t", "s").await;
    assert_eq!(get(&v, "A"), Some("1"));
    assert_eq!(get(&v, "B"), Some("2"));
    assert_eq!(get(&v, "C"), Some("3"));
}

#[tokio::test]
async fn gosub_return_with_args_and_retval() {
    let pbx = pbx_with(
        "[t]\nexten => s,1,Gosub(sub,1(a,b))\n same => n,Set(R=${GOSUB_RETVAL})\n same => n,Set(AFTER=${ARG1})\nexten => sub,1,Set(GOT=${ARG1}-${ARG2})\n same => n,Return(done)\n",
    );
    let v = run(&pbx, "t", "s").await;
    assert_eq!(get(&v, "GOT"), Some("a-b"));
    assert_eq!(get(&v, "R"), Some("done"));
    assert_eq!(get(&v, "AFTER"), None);
}

/// ARGC counts the arguments of each Gosub and is restored on Return; a nested Gosub
/// with fewer arguments hides the caller's extra ones; quotes stay in the arguments
/// (app_stack splits them raw).
#[tokio::test]
async fn gosub_argc_nesting_and_quoting() {
    let pbx = pbx_with(
        "[t]\nexten => s,1,Gosub(sub,1(a,\"b,c\",d))\n same => n,Set(OUTER=x${ARGC})\n\
         exten => sub,1,Set(__C1=${ARGC}:${ARG2})\n same => n,Gosub(inner,1(z))\n\
         same => n,Set(__BACK=${ARGC}:${ARG3})\n same => n,Return()\n\
         exten => inner,1,Set(__C2=${ARGC}:${ARG1}:${ARG3}:${VARIABLE_EXISTS(ARG3)})\n same => n,Return()\n",
    );
    let v = run(&pbx, "t", "s").await;
    assert_eq!(get(&v, "C1"), Some("3:\"b,c\""));
    assert_eq!(get(&v, "C2"), Some("1:z::1"));
    assert_eq!(get(&v, "BACK"), Some("3:d"));
    assert_eq!(get(&v, "OUTER"), Some("x"));
}

#[tokio::test]
async fn macro_runs_in_macro_context() {
    let pbx = pbx_with(
        "[t]\nexten => 100,1,Macro(test,x,y)\n same => n,Set(BACK=${EXTEN})\n[macro-test]\nexten => s,1,Set(IN=${ARG1}${ARG2}-${MACRO_EXTEN}-${EXTEN})\n same => n,MacroExit()\n same => n,Set(NOT=reached)\n",
    );
    let v = run(&pbx, "t", "100").await;
    assert_eq!(get(&v, "IN"), Some("xy-100-s"));
    assert_eq!(get(&v, "BACK"), Some("100"));
    assert_eq!(get(&v, "NOT"), None);
    assert_eq!(get(&v, "ARG1"), None);
}

#[tokio::test]
async fn while_loops_nest_and_exit() {
    let pbx = pbx_with(
        "[t]\nexten => s,1,Set(I=0)\n same => n,While($[${I} < 3])\n same => n,Set(J=0)\n same => n,While($[${J} < 2])\n same => n,Set(N=${N}x)\n same => n,Set(J=$[${J} + 1])\n same => n,EndWhile()\n same => n,Set(I=$[${I} + 1])\n same => n,EndWhile()\n same => n,Set(DONE=1)\n",
    );
    let v = run(&pbx, "t", "s").await;
    assert_eq!(get(&v, "N"), Some("xxxxxx"));
    assert_eq!(get(&v, "DONE"), Some("1"));
}

#[tokio::test]
async fn exitwhile_and_continuewhile() {
    let pbx = pbx_with(
        "[t]\nexten => s,1,Set(I=0)\n same => n,While(1)\n same => n,Set(I=$[${I} + 1])\n same => n,ExecIf($[${I} < 3]?ContinueWhile())\n same => n,ExitWhile()\n same => n,Set(BAD=1)\n same => n,EndWhile()\n same => n,Set(OUT=${I})\n",
    );
    let v = run(&pbx, "t", "s").await;
    assert_eq!(get(&v, "OUT"), Some("3"));
    assert_eq!(get(&v, "BAD"), None);
}

#[tokio::test]
async fn gotoif_and_execif() {
    let pbx = pbx_with(
        "[t]\nexten => s,1,GotoIf($[1 = 1]?yes:no)\n same => n(no),Set(R=no)\n same => n,Hangup()\n same => n(yes),Set(R=yes)\n same => n,ExecIf($[0]?Set(X=t):Set(X=f))\n same => n,GotoIf(0?nope)\n same => n,Set(Y=fell)\n",
    );
    let v = run(&pbx, "t", "s").await;
    assert_eq!(get(&v, "R"), Some("yes"));
    assert_eq!(get(&v, "X"), Some("f"));
    assert_eq!(get(&v, "Y"), Some("fell"));
}

#[tokio::test]
async fn invalid_extension_goes_to_i_and_h_runs() {
    let pbx = pbx_with(
        "[t]\nexten => s,1,Goto(999,1)\nexten => i,1,Set(INV=${INVALID_EXTEN})\nexten => h,1,Set(H=ran)\n",
    );
    let v = run(&pbx, "t", "s").await;
    assert_eq!(get(&v, "INV"), Some("999"));
    assert_eq!(get(&v, "H"), Some("ran"));
}

#[tokio::test]
async fn set_inheritance_into_local_channels() {
    let pbx = pbx_with(
        "[t]\nexten => s,1,Set(_ONE=1)\n same => n,Set(__TWO=2)\n same => n,Set(ZERO=0)\n same => n,Dial(Local/child@t,5,g)\n same => n,Set(ST=${DIALSTATUS})\nexten => child,1,Set(GLOBAL(SEEN)=${ONE}-${TWO}-${ZERO})\n same => n,Answer()\n same => n,Hangup()\n",
    );
    let v = run(&pbx, "t", "s").await;
    assert_eq!(get(&v, "ST"), Some("ANSWER"));
    assert_eq!(pbx.get_global("SEEN").as_deref(), Some("1-2-"));
}

#[tokio::test]
async fn dialstatus_values() {
    let pbx = pbx_with(
        "[t]\n\
exten => busy,1,Dial(Local/b@t)\n same => n,Set(GLOBAL(S_BUSY)=${DIALSTATUS})\n\
exten => cong,1,Dial(Local/c@t)\n same => n,Set(GLOBAL(S_CONG)=${DIALSTATUS})\n\
exten => noans,1,Dial(Local/n@t,1)\n same => n,Set(GLOBAL(S_NOANS)=${DIALSTATUS})\n\
exten => unavail,1,Dial(Foo/bar)\n same => n,Set(GLOBAL(S_UNAV)=${DIALSTATUS})\n\
exten => b,1,Busy()\nexten => c,1,Congestion()\nexten => n,1,Ringing()\n same => n,Wait(10)\n",
    );
    for e in ["busy", "cong", "noans", "unavail"] {
        run(&pbx, "t", e).await;
    }
    assert_eq!(pbx.get_global("S_BUSY").as_deref(), Some("BUSY"));
    assert_eq!(pbx.get_global("S_CONG").as_deref(), Some("CONGESTION"));
    assert_eq!(pbx.get_global("S_NOANS").as_deref(), Some("NOANSWER"));
    assert_eq!(pbx.get_global("S_UNAV").as_deref(), Some("CHANUNAVAIL"));
}

#[tokio::test]
async fn dial_cancel_when_caller_hangs_up() {
    let pbx = pbx_with("[t]\nexten => s,1,Dial(Local/n@u)\nexten => h,1,Set(GLOBAL(ST)=${DIALSTATUS})\n[u]\nexten => n,1,Wait(30)\n");
    let mut chan = Channel::new(&pbx, "Test/cancel".into(), Arc::new(NullTech));
    chan.context = "t".into();
    chan.exten = "s".into();
    let shared = chan.shared.clone();
    let task = tokio::spawn(exec::run_pbx(chan));
    tokio::time::sleep(Duration::from_millis(100)).await;
    shared.request_hangup(16);
    let _ = task.await;
    assert_eq!(pbx.get_global("ST").as_deref(), Some("CANCEL"));
}

#[tokio::test]
async fn dial_macro_option_runs_on_callee() {
    let pbx = pbx_with(
        "[t]\nexten => s,1,Dial(Local/callee@t,5,gM(check^abc))\n same => n,Set(ST=${DIALSTATUS})\nexten => callee,1,Answer()\n same => n,Wait(5)\n[macro-check]\nexten => s,1,Set(GLOBAL(MARG)=${ARG1})\n same => n,Set(MACRO_RESULT=CONTINUE)\n",
    );
    let v = run(&pbx, "t", "s").await;
    assert_eq!(pbx.get_global("MARG").as_deref(), Some("abc"));
    assert_eq!(get(&v, "ST"), Some("ANSWER"));
}

#[tokio::test]
async fn parallel_dial_first_answer_wins() {
    let pbx = pbx_with(
        "[t]\nexten => s,1,Dial(Local/slow@t&Local/fast@t,5,g)\n same => n,Set(PEER=${DIALEDPEERNAME})\nexten => slow,1,Wait(3)\n same => n,Answer()\nexten => fast,1,Answer()\n same => n,Hangup()\n",
    );
    let v = run(&pbx, "t", "s").await;
    let peer = get(&v, "PEER").unwrap_or("");
    assert!(peer.starts_with("Local/fast@t-"), "{peer}");
    assert!(peer.ends_with(";1"));
}

#[tokio::test]
async fn verbose_log_noop_and_the_executing_line() {
    let pbx = pbx_with(
        "[t]\nexten => s,1,NoOp(hello ${EXTEN})\n same => n,Verbose(2,two)\n same => n,Verbose(plain)\n same => n,Log(NOTICE,noted)\n",
    );
    pbx.set_verbose(3);
    let mut rx = pbx.log_tx.subscribe();
    run(&pbx, "t", "s").await;
    let mut lines = Vec::new();
    while let Ok(l) = rx.try_recv() {
        lines.push(l.text);
    }
    assert_eq!(
        lines[0],
        "    -- Executing [s@t:1] NoOp(\"Test/s-0000\", \"hello s\") in new stack"
    );
    assert!(lines.contains(&"  == two".to_string()), "{lines:?}");
    assert!(lines.contains(&" plain".to_string()), "{lines:?}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("NOTICE[") && l.ends_with("Ext. s:4 @ t: noted")),
        "{lines:?}"
    );
}

#[tokio::test]
async fn mset_and_function_assignment() {
    let pbx = pbx_with(
        "[t]\nexten => s,1,MSet(A=1,B=\"x,y\",C=3)\n same => n,Set(CALLERID(num)=5551234)\n same => n,Set(N=${CALLERID(num)})\n same => n,Set(A=)\n",
    );
    let v = run(&pbx, "t", "s").await;
    assert_eq!(get(&v, "A"), None, "Set(A=) unsets");
    assert_eq!(get(&v, "B"), Some("x,y"));
    assert_eq!(get(&v, "C"), Some("3"));
    assert_eq!(get(&v, "N"), Some("5551234"));
}

#[tokio::test]
async fn system_and_trysystem_status() {
    let pbx = pbx_with(
        "[t]\nexten => s,1,System(true)\n same => n,Set(OK=${SYSTEMSTATUS})\n same => n,System(exit 3)\n same => n,Set(APP=${SYSTEMSTATUS})\n same => n,TrySystem(false)\n same => n,Set(TRY=${TRYSTATUS})\n",
    );
    let v = run(&pbx, "t", "s").await;
    assert_eq!(get(&v, "OK"), Some("SUCCESS"));
    assert_eq!(get(&v, "APP"), Some("APPERROR"));
    assert_eq!(get(&v, "TRY"), Some("APPERROR"));
}

#[tokio::test]
async fn gotoiftime_gosubif_exec() {
    let pbx = pbx_with(
        "[t]\nexten => s,1,GotoIfTime(*,*,*,*?always)\n same => n,Set(BAD=1)\n same => n(always),GosubIf($[1]?sub,1(yes):sub,1(no))\n same => n,Set(R=${GOSUB_RETVAL})\n same => n,Exec(Set(E=exec))\n same => n,GosubIf(0?sub,1)\n same => n,Set(END=1)\nexten => sub,1,Return(${ARG1})\n",
    );
    let v = run(&pbx, "t", "s").await;
    assert_eq!(get(&v, "BAD"), None);
    assert_eq!(get(&v, "R"), Some("yes"));
    assert_eq!(get(&v, "E"), Some("exec"));
    assert_eq!(get(&v, "END"), Some("1"));
}

#[tokio::test]
async fn hangup_cause_and_unknown_application() {
    let pbx = pbx_with(
        "[t]\nexten => s,1,Hangup(USER_BUSY)\nexten => u,1,NoSuchApp(x)\n same => n,Set(AFTER=1)\nexten => h,1,Set(GLOBAL(C_${EXTEN})=${HANGUPCAUSE})\n",
    );
    let mut chan = Channel::new(&pbx, "Test/h".into(), Arc::new(NullTech));
    chan.context = "t".into();
    chan.exten = "s".into();
    exec::run_pbx(chan).await;
    assert_eq!(pbx.get_global("C_h").as_deref(), Some("17"));
    let v = run(&pbx, "t", "u").await;
    assert_eq!(get(&v, "AFTER"), None, "an unknown application hangs up");
}

#[tokio::test]
async fn progress_ringing_busy_reach_the_dialer() {
    let pbx = pbx_with(
        "[t]\nexten => s,1,Dial(Local/r@t,1)\n same => n,Set(ST=${DIALSTATUS})\nexten => r,1,Progress()\n same => n,Ringing()\n same => n,Wait(5)\n",
    );
    pbx.set_verbose(3);
    let mut rx = pbx.log_tx.subscribe();
    let v = run(&pbx, "t", "s").await;
    assert_eq!(get(&v, "ST"), Some("NOANSWER"));
    let mut all = String::new();
    while let Ok(l) = rx.try_recv() {
        all.push_str(&l.text);
        all.push('\n');
    }
    assert!(all.contains("    -- Called Local/r@t\n"), "{all}");
    assert!(
        all.contains(";1 is making progress passing it to Test/s-0000"),
        "{all}"
    );
    assert!(all.contains(";1 is ringing"), "{all}");
    assert!(all.contains("    -- Nobody picked up in 1000 ms"), "{all}");
}

#[tokio::test]
async fn originate_application_sets_status() {
    let pbx = pbx_with(
        "[t]\nexten => s,1,Originate(Local/target@t,exten,t,done,1)\n same => n,Set(ST=${ORIGINATE_STATUS})\n same => n,Originate(Local/busy@t,app,NoOp)\n same => n,Set(ST2=${ORIGINATE_STATUS})\nexten => target,1,Answer()\n same => n,Wait(1)\nexten => done,1,Set(GLOBAL(RAN)=yes)\nexten => busy,1,Busy()\n",
    );
    let v = run(&pbx, "t", "s").await;
    assert_eq!(get(&v, "ST"), Some("SUCCESS"));
    assert_eq!(get(&v, "ST2"), Some("BUSY"));
    for _ in 0..50 {
        if pbx.get_global("RAN").is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(pbx.get_global("RAN").as_deref(), Some("yes"));
}

#[tokio::test]
async fn absolute_timeout_goes_to_t_capital() {
    let pbx = pbx_with(
        "[t]\nexten => s,1,Set(TIMEOUT(absolute)=1)\n same => n,Wait(5)\n same => n,Set(NOT=reached)\nexten => T,1,Set(GLOBAL(TT)=timeout)\n",
    );
    let v = run(&pbx, "t", "s").await;
    assert_eq!(get(&v, "NOT"), None);
    assert_eq!(pbx.get_global("TT").as_deref(), Some("timeout"));
}

#[tokio::test]
async fn waitexten_timeout_goes_to_t() {
    let pbx = pbx_with(
        "[t]\nexten => s,1,WaitExten(0.05)\nexten => t,1,Set(T=timeout)\n[next]\nexten => s,1,WaitExten(0.05)\n same => n,Set(NEXT=reached)\nexten => t,1,Set(T=timeout)\n[noT]\nexten => s,1,WaitExten(0.05)\nexten => 1,1,Set(NOT=reached)\n",
    );
    let v = run(&pbx, "t", "s").await;
    assert_eq!(get(&v, "T"), Some("timeout"));
    // As in Asterisk, a following priority wins over `t`.
    let v = run(&pbx, "next", "s").await;
    assert_eq!(get(&v, "NEXT"), Some("reached"));
    assert_eq!(get(&v, "T"), None);
    let v = run(&pbx, "noT", "s").await;
    assert_eq!(get(&v, "NOT"), None, "no t/e: hang up");
}

/// A function that waits (a stand-in for CALENDAR_BUSY, JABBER_RECEIVE, realtime look-ups).
struct Slow;
#[async_trait::async_trait]
impl crate::pbx::func::Func for Slow {
    fn name(&self) -> &'static str {
        "SLOW"
    }
    fn synopsis(&self) -> &'static str {
        "test"
    }
    fn read(
        &self,
        _chan: &mut Channel,
        _args: &str,
    ) -> Result<String, crate::pbx::func::FuncError> {
        Err(crate::pbx::func::FuncError::Other("sync read".into()))
    }
    fn is_async(&self) -> bool {
        true
    }
    async fn read_async(
        &self,
        _chan: &mut Channel,
        args: &str,
    ) -> Result<String, crate::pbx::func::FuncError> {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        Ok(args.to_ascii_uppercase())
    }
}

/// Counts its calls in the channel variable N and returns the count.
struct Count;
impl crate::pbx::func::Func for Count {
    fn name(&self) -> &'static str {
        "COUNT"
    }
    fn synopsis(&self) -> &'static str {
        "test"
    }
    fn read(&self, chan: &mut Channel, _args: &str) -> Result<String, crate::pbx::func::FuncError> {
        let n = chan
            .get_var("N")
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
            + 1;
        chan.set_var("N", &n.to_string());
        Ok(n.to_string())
    }
}

#[tokio::test]
async fn waiting_functions_are_awaited_and_nothing_runs_twice() {
    let pbx = pbx_with(
        "[t]\nexten => s,1,Set(R=${COUNT()}-${SLOW(a)}-${COUNT()}-${SLOW(${COUNT()}x)}-$[${N} + 10])\n",
    );
    let ctx = crate::pbx::module::ModuleContext::new(&pbx, "test");
    ctx.register_func(Arc::new(Slow));
    ctx.register_func(Arc::new(Count));
    assert!(pbx.has_async_funcs());
    let v = run(&pbx, "t", "s").await;
    assert_eq!(get(&v, "R"), Some("1-A-2-3X-13"));
    assert_eq!(get(&v, "N"), Some("3"));
    // Outside the interpreter's argument substitution a waiting function is refused.
    let mut chan = Channel::new(&pbx, "Test/x-1".into(), Arc::new(NullTech));
    assert_eq!(exec::substitute(&mut chan, "[${SLOW(a)}]"), "[]");
}

/// The sample dialplan's `sub-e164` helper turns dialed numbers into E.164.
#[tokio::test]
async fn sample_sub_e164_makes_e164_numbers() {
    let sample = include_str!("../../etc/extensions.conf");
    let cases = [
        ("0612345678,33,0,00", "+33612345678"),
        ("0033612345678,33,0,00", "+33612345678"),
        ("+1 (415) 867-5309,1,1,011", "+14158675309"),
        ("14158675309,1,1,011", "+14158675309"),
        ("01144207946000,1,1,011", "+44207946000"),
        ("4158675309,1,1,011", "+14158675309"),
        ("79001234567,7", "+779001234567"),
    ];
    let mut text = sample.to_string();
    text.push_str("\n[t]\n");
    for (i, (args, _)) in cases.iter().enumerate() {
        text.push_str(&format!(
            "exten => s,{},Gosub(sub-e164,s,1({args}))\n same => n,Set(R{i}=${{GOSUB_RETVAL}})\n",
            if i == 0 {
                "1".to_string()
            } else {
                "n".to_string()
            }
        ));
    }
    let pbx = pbx_with(&text);
    let v = run(&pbx, "t", "s").await;
    for (i, (args, want)) in cases.iter().enumerate() {
        let got = v
            .iter()
            .find(|(k, _)| *k == format!("R{i}"))
            .map(|(_, x)| x.as_str());
        assert_eq!(got, Some(*want), "sub-e164({args})");
    }
}
