//! res_agi end to end: the real daemon runs AGI() on originated Local calls against real
//! AGI peers: a plain `/bin/sh` script, a script using pyst2 (`asterisk.agi`), and a
//! FastAGI server built on panoramisk's `fast_agi.Application`. A missing peer fails the
//! test (contrib/test.sh installs them); it never skips.

mod common;

use common::{require_bin, tempdir, write_configs, write_tone_wav, Daemon, FERRISK_CONF_V3};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const DIALPLAN: &str = "\
[agi]
exten => sh,1,AGI(test.sh,${OUT},two words)
 same => n,Set(DB(res/never)=reached)
exten => py,1,AGI(pyst.py,${OUT})
 same => n,Set(DB(res/py_status)=${AGISTATUS})
 same => n,Set(DB(res/py_result)=${PYRESULT})
exten => fast,1,AGI(agi://127.0.0.1:${PORT}/calls/fast?x=1,first,second arg)
 same => n,Set(DB(res/never)=reached)
exten => exit,1,Set(AGIEXITONHANGUP=yes)
 same => n,AGI(sleepy.sh,${OUT})
exten => eagi,1,Answer()
 same => n,EAGI(eagi.sh,${OUT})
 same => n,Set(DB(res/eagi)=${AGISTATUS})
exten => missing,1,AGI(missing.sh)
 same => n,Set(DB(res/missing)=${AGISTATUS})
exten => refused,1,AGI(agi://127.0.0.1:${DEADPORT}/x)
 same => n,Set(DB(res/refused)=${AGISTATUS})
exten => h,1,Set(DB(res/hangup_status)=${AGISTATUS})

[sub]
exten => s,1,Set(GOSUB_SAW=${ARG1})
 same => n,Return(sub done)
";

/// A daemon with the dialplan, `data/agi-bin` (the default astagidir) and a `beep` prompt
/// of one second; `OUT` (a directory for the scripts' notes) and `PORT` as globals.
fn start(port: u16) -> (Daemon, PathBuf) {
    let dir = tempdir();
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let agi_bin = dir.path().join("data/agi-bin");
    std::fs::create_dir_all(&agi_bin).unwrap();
    let sounds = dir.path().join("data/sounds");
    std::fs::create_dir_all(&sounds).unwrap();
    write_tone_wav(&sounds.join("beep.wav"), 1);
    let dead_port = common::free_port();
    let ext = format!(
        "[globals]\nOUT={}\nPORT={port}\nDEADPORT={dead_port}\n\n{DIALPLAN}",
        out.display()
    );
    write_configs(
        dir.path(),
        &[("ferrisk.conf", FERRISK_CONF_V3), ("extensions.conf", &ext)],
    );
    let d = Daemon::launch(dir);
    (d, out)
}

fn write_script(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    let mut perm = std::fs::metadata(path).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
    std::fs::set_permissions(path, perm).unwrap();
}

/// Wait (up to 30 s) for a file the peer writes, and read it.
fn wait_file(path: &Path, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let s = std::fs::read_to_string(path).unwrap_or_default();
        if s.contains(needle) {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "{} never contained {needle:?}: {s:?}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

const SH_SCRIPT: &str = r##"#!/bin/sh
# A plain AGI script: keep the environment, send commands, note every reply.
OUT="$1"
trap 'echo HUP >> "$OUT/sh_hup.txt"' HUP
while read -r line; do
  [ -z "$line" ] && break
  echo "$line" >> "$OUT/sh_env.txt"
done
cmd() {
  echo "$1"
  usage=0
  while read -r reply; do
    echo "$1 => $reply" >> "$OUT/sh_replies.txt"
    case "$reply" in
      520-*) usage=1 ;;
      "520 "*) break ;;
      100*) ;;
      *) if [ $usage = 0 ]; then break; fi ;;
    esac
  done
}
cmd 'SET VARIABLE FROMAGI "hello world"'
cmd 'GET VARIABLE FROMAGI'
cmd 'GET VARIABLE NOSUCHVAR'
cmd 'GET VARIABLE LEN(abc)'
cmd 'STREAM FILE beep "#"'
cmd 'STREAM FILE nosuchfile ""'
cmd 'DATABASE PUT agi key "v 1"'
cmd 'DATABASE GET agi key'
cmd 'DATABASE GET agi nokey'
cmd 'EXEC Set EXECVAR=42'
cmd 'GET FULL VARIABLE ${EXECVAR}-${FROMAGI}'
cmd 'EXEC NoSuchApp x'
cmd 'GOSUB sub s 1 arg1'
cmd 'GET VARIABLE GOSUB_SAW'
cmd 'CHANNEL STATUS'
# A command sent while a prompt plays stops it; the prompt's command gets no reply.
echo 'STREAM FILE beep ""'
cmd 'NOOP'
# One sent during WAIT FOR DIGIT ends the wait with 1.
echo 'WAIT FOR DIGIT -1'
cmd 'NOOP'
read -r reply
echo "after wait => $reply" >> "$OUT/sh_replies.txt"
cmd 'FROB NICATE'
cmd 'STREAM FILE'
cmd 'HANGUP'
sleep 1
cmd 'ANSWER'
cmd 'DATABASE PUT agi dead yes'
echo done >> "$OUT/sh_done.txt"
"##;

#[test]
fn shell_script_agi() {
    let (d, out) = start(common::free_port());
    write_script(&d.path().join("data/agi-bin/test.sh"), SH_SCRIPT);
    d.rx("channel originate Local/sh@agi application Wait 30");
    // STREAM FILE of a missing file failed on a live channel: as in Asterisk that makes
    // the whole AGI a FAILURE, even though the channel hung up later.
    let status = d.wait_db("res", "hangup_status");
    assert_eq!(status, "FAILURE");
    let env = wait_file(&out.join("sh_env.txt"), "agi_arg_2");
    let keys: Vec<&str> = env.lines().map(|l| l.split(':').next().unwrap()).collect();
    assert_eq!(
        keys,
        [
            "agi_request",
            "agi_channel",
            "agi_language",
            "agi_type",
            "agi_uniqueid",
            "agi_version",
            "agi_callerid",
            "agi_calleridname",
            "agi_callingpres",
            "agi_callingani2",
            "agi_callington",
            "agi_callingtns",
            "agi_dnid",
            "agi_rdnis",
            "agi_context",
            "agi_extension",
            "agi_priority",
            "agi_enhanced",
            "agi_accountcode",
            "agi_threadid",
            "agi_arg_1",
            "agi_arg_2"
        ]
    );
    assert!(env.contains("agi_request: test.sh\n"), "{env}");
    assert!(env.contains("agi_type: Local\n"), "{env}");
    assert!(env.contains("agi_context: agi\n"), "{env}");
    assert!(env.contains("agi_extension: sh\n"), "{env}");
    assert!(env.contains("agi_priority: 1\n"), "{env}");
    assert!(env.contains("agi_enhanced: 0.0\n"), "{env}");
    assert!(env.contains("agi_arg_2: two words\n"), "{env}");

    wait_file(&out.join("sh_done.txt"), "done");
    let r = std::fs::read_to_string(out.join("sh_replies.txt")).unwrap();
    let expect = [
        "SET VARIABLE FROMAGI \"hello world\" => 200 result=1",
        "GET VARIABLE FROMAGI => 200 result=1 (hello world)",
        "GET VARIABLE NOSUCHVAR => 200 result=0",
        "GET VARIABLE LEN(abc) => 200 result=1 (3)",
        "STREAM FILE beep \"#\" => 200 result=0 endpos=8000",
        "STREAM FILE nosuchfile \"\" => 200 result=-1 endpos=0",
        "DATABASE PUT agi key \"v 1\" => 200 result=1",
        "DATABASE GET agi key => 200 result=1 (v 1)",
        "DATABASE GET agi nokey => 200 result=0",
        "EXEC Set EXECVAR=42 => 200 result=0",
        "GET FULL VARIABLE ${EXECVAR}-${FROMAGI} => 200 result=1 (42-hello world)",
        "EXEC NoSuchApp x => 200 result=-2",
        "GOSUB sub s 1 arg1 => 100 result=0 Trying...",
        "GOSUB sub s 1 arg1 => 200 result=0 Gosub complete",
        "GET VARIABLE GOSUB_SAW => 200 result=1 (arg1)",
        "CHANNEL STATUS => 200 result=",
        "\nNOOP => 200 result=0\nNOOP => 200 result=1\nafter wait => 200 result=0\nFROB NICATE => 510 Invalid or unknown command",
        "STREAM FILE => 520-Invalid command syntax.  Proper usage follows:",
        "STREAM FILE => 520 End of proper usage.",
        "HANGUP => 200 result=1",
        // The channel is gone: ANSWER is refused, the AstDB still answers.
        "ANSWER => 511 Command Not Permitted on a dead channel or intercept routine",
        "DATABASE PUT agi dead yes => 200 result=1",
    ];
    for e in expect {
        assert!(r.contains(e), "missing {e:?} in replies:\n{r}");
    }
    assert_eq!(d.wait_db("agi", "key"), "v 1");
    assert_eq!(d.wait_db("agi", "dead"), "yes");
    // SIGHUP told the script the channel hung up.
    wait_file(&out.join("sh_hup.txt"), "HUP");
    // The script ended after the hangup; the priority after AGI never ran.
    d.wait_console("AGI Script test.sh completed, returning -1", 1);
    assert!(d.rx("database get res never").contains("not found"));
    let console = d.console();
    assert!(
        console.contains("AGI Script Executing Application: (Set) Options: (EXECVAR=42)"),
        "{console}"
    );
    assert!(console.contains("Launched AGI Script "), "{console}");
}

const SLEEPY_SCRIPT: &str = r##"#!/bin/sh
# Ignores SIGHUP and never ends by itself: only AGIEXITONHANGUP lets AGI() return.
OUT="$1"
trap '' HUP
while read -r line; do
  [ -z "$line" ] && break
  case "$line" in agi_channel:*) chan="${line#agi_channel: }" ;; esac
done
echo NOOP
read -r reply
echo "$$ $chan" > "$OUT/sleepy_ready.txt"
exec sleep 600
"##;

#[test]
fn exit_on_hangup_does_not_wait_for_the_script() {
    let (d, out) = start(common::free_port());
    write_script(&d.path().join("data/agi-bin/sleepy.sh"), SLEEPY_SCRIPT);
    d.rx("channel originate Local/exit@agi application Wait 60");
    let ready = wait_file(&out.join("sleepy_ready.txt"), "Local/");
    let (pid, chan) = ready.trim().split_once(' ').unwrap();
    d.rx(&format!("channel request hangup {chan}"));
    assert_eq!(d.wait_db("res", "hangup_status"), "HANGUP");
    assert!(!d.console().contains("AGI Script sleepy.sh completed"));
    // The script is still running (it ignored SIGHUP): end it.
    let _ = Command::new("kill").arg(pid).status();
}

const EAGI_SCRIPT: &str = r##"#!/bin/sh
# EAGI: the caller's audio (8 kHz 16-bit linear) on file descriptor 3.
OUT="$1"
while read -r line; do
  [ -z "$line" ] && break
  echo "$line" >> "$OUT/eagi_env.txt"
done
dd bs=320 count=25 iflag=fullblock <&3 > "$OUT/eagi_audio.raw" 2>/dev/null
echo done > "$OUT/eagi_done.txt"
"##;

#[test]
fn eagi_script_hears_the_caller_on_fd3() {
    let (d, out) = start(common::free_port());
    write_script(&d.path().join("data/agi-bin/eagi.sh"), EAGI_SCRIPT);
    // The other half of the Local channel sends a 1004 Hz tone once the call is answered.
    d.rx("channel originate Local/eagi@agi application Milliwatt");
    assert_eq!(d.wait_db("res", "eagi"), "SUCCESS");
    let env = std::fs::read_to_string(out.join("eagi_env.txt")).unwrap();
    assert!(env.contains("agi_enhanced: 1.0"), "{env}");
    let audio = std::fs::read(out.join("eagi_audio.raw")).unwrap();
    assert_eq!(audio.len(), 8000, "half a second of audio");
    let samples: Vec<i16> = audio
        .chunks(2)
        .map(|b| i16::from_ne_bytes([b[0], b[1]]))
        .collect();
    let peak = samples.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
    assert!(
        peak > 10_000,
        "the milliwatt tone, not silence: peak {peak}"
    );
}

#[test]
fn missing_script_and_unreachable_server() {
    let (d, _out) = start(common::free_port());
    d.rx("channel originate Local/missing@agi application Wait 5");
    assert_eq!(d.wait_db("res", "missing"), "NOTFOUND");
    d.rx("channel originate Local/refused@agi application Wait 5");
    assert_eq!(d.wait_db("res", "refused"), "FAILURE");
    let c = d.console();
    assert!(c.contains("Failed to execute '"), "{c}");
    assert!(
        c.contains("agi-bin/missing.sh': File does not exist."),
        "{c}"
    );
    assert!(
        c.contains("Couldn't connect to any host.  FastAGI failed."),
        "{c}"
    );
}

fn python() -> PathBuf {
    let py = require_bin("python3", "python3");
    let ok = Command::new(&py)
        .args(["-c", "import asterisk.agi, panoramisk.fast_agi"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        ok,
        "python3 cannot import asterisk.agi (pyst2) and panoramisk: this test needs the real \
         AGI libraries. Run contrib/test.sh, or `python3 -m pip install pyst2 panoramisk`."
    );
    py
}

#[test]
fn pyst2_script() {
    let py = python();
    let (d, out) = start(common::free_port());
    let script = format!(
        r##"#!{}
import sys
from asterisk.agi import AGI
agi = AGI()
out = sys.argv[1]
agi.verbose("pyst2 says hello", 1)
agi.set_variable("PYVAR", "from python")
v = agi.get_variable("PYVAR")
agi.database_put("py", "k", "stored value")
g = agi.database_get("py", "k")
agi.stream_file("beep", "#")
agi.appexec("Set", "VIAEXEC=ok")
e = agi.get_variable("VIAEXEC")
agi.set_variable("PYRESULT", "|".join([v, g, e, agi.env["agi_arg_1"] == out and "args" or "noargs", agi.env["agi_channel"][:5]]))
"##,
        py.display()
    );
    write_script(&d.path().join("data/agi-bin/pyst.py"), &script);
    d.rx("channel originate Local/py@agi application Wait 30");
    assert_eq!(d.wait_db("res", "py_status"), "SUCCESS");
    assert_eq!(
        d.wait_db("res", "py_result"),
        "from python|stored value|ok|args|Local"
    );
    assert_eq!(d.wait_db("py", "k"), "stored value");
    let _ = out;
    d.wait_console("pyst2 says hello", 1);
    d.wait_console("AGI Script pyst.py completed, returning 0", 1);
}

/// panoramisk's FastAGI application on `port`; notes go to `out`.
fn start_fastagi(py: &Path, port: u16, out: &Path) -> Child {
    let server = format!(
        r#"
import asyncio, sys
from panoramisk import fast_agi
OUT = {out:?}

def note(name, text):
    with open(OUT + "/" + name, "a") as f:
        f.write(text + "\n")

async def fast(request):
    h = request.headers
    note("fast_env.txt", "\n".join("%s: %s" % kv for kv in h.items()))
    for cmd in ['SET VARIABLE FASTVAR "fast ok"', 'GET VARIABLE FASTVAR',
                'DATABASE PUT fast k v', 'EXEC Set FASTEXEC=1', 'GET VARIABLE FASTEXEC']:
        r = await request.send_command(cmd)
        note("fast_replies.txt", "%s => %s (%s)" % ((cmd,) + tuple(r["result"])))
    note("fast_ready.txt", h["agi_channel"])
    # Idle until the call hangs up: the next line must be HANGUP.
    line = await request.reader.readline()
    note("fast_hangup.txt", line.decode().rstrip("\n"))
    r = await request.send_command("SET VARIABLE AFTER yes")
    note("fast_dead.txt", "SET => %s" % r.get("status_code"))
    r = await request.send_command("STREAM FILE beep \"\"")
    note("fast_dead.txt", "STREAM => %s" % r.get("status_code"))

async def main():
    app = fast_agi.Application()
    app.add_route("calls/fast?x=1", fast)
    server = await asyncio.start_server(app.handler, "127.0.0.1", {port})
    note("fast_listening.txt", "yes")
    async with server:
        await server.serve_forever()

asyncio.run(main())
"#
    );
    let log = std::fs::File::create(out.join("fastagi.log")).unwrap();
    let child = Command::new(py)
        .args(["-c", &server])
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("start the FastAGI server");
    wait_file(&out.join("fast_listening.txt"), "yes");
    child
}

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn panoramisk_fastagi_server() {
    let py = python();
    let port = common::free_port();
    let notes = tempdir();
    let _server = Kill(start_fastagi(&py, port, notes.path()));
    let (d, _out) = start(port);
    d.rx("agi set debug on");
    d.rx("channel originate Local/fast@agi application Wait 60");
    let chan = wait_file(&notes.path().join("fast_ready.txt"), "Local/");
    let env = std::fs::read_to_string(notes.path().join("fast_env.txt")).unwrap();
    assert!(env.contains("agi_network: yes"), "{env}");
    assert!(env.contains("agi_network_script: calls/fast?x=1"), "{env}");
    assert!(
        env.contains("agi_request: agi://127.0.0.1:") && env.contains("/calls/fast?x=1"),
        "{env}"
    );
    assert!(env.contains("agi_arg_1: first"), "{env}");
    assert!(env.contains("agi_arg_2: second arg"), "{env}");
    let r = std::fs::read_to_string(notes.path().join("fast_replies.txt")).unwrap();
    for e in [
        "SET VARIABLE FASTVAR \"fast ok\" => 1 ()",
        "GET VARIABLE FASTVAR => 1 (fast ok)",
        "DATABASE PUT fast k v => 1 ()",
        "EXEC Set FASTEXEC=1 => 0 ()",
        "GET VARIABLE FASTEXEC => 1 (1)",
    ] {
        assert!(r.contains(e), "missing {e:?}:\n{r}");
    }
    assert_eq!(d.wait_db("fast", "k"), "v");
    // The caller hangs up while the server is idle: it is told with the HANGUP line.
    d.rx(&format!("channel request hangup {}", chan.trim()));
    assert_eq!(
        wait_file(&notes.path().join("fast_hangup.txt"), "HANGUP").trim(),
        "HANGUP"
    );
    let dead = wait_file(&notes.path().join("fast_dead.txt"), "STREAM");
    assert!(dead.contains("SET => 200"), "{dead}");
    assert!(dead.contains("STREAM => 511"), "{dead}");
    assert_eq!(d.wait_db("res", "hangup_status"), "HANGUP");
    let c = d.console();
    assert!(c.contains("AGI Tx >> agi_network: yes"), "{c}");
    assert!(
        c.contains("AGI Rx << SET VARIABLE FASTVAR \"fast ok\""),
        "{c}"
    );
    assert!(c.contains("AGI Tx >> HANGUP"), "{c}");
    assert!(d.rx("database get res never").contains("not found"));
}

#[test]
fn agi_cli_commands() {
    let (d, _out) = start(common::free_port());
    assert_eq!(d.rx("agi set debug on"), "AGI Debugging Enabled\n");
    assert_eq!(d.rx("agi set debug off"), "AGI Debugging Disabled\n");
    let list = d.rx("agi show commands");
    assert!(
        list.contains("Dead                        Command   Description"),
        "{list}"
    );
    assert!(list.contains("wait for digit"), "{list}");
    let topic = d.rx("agi show commands topic stream file");
    assert!(
        topic.contains("-= Info about AGI 'stream file' =-"),
        "{topic}"
    );
    assert!(d.rx("core show application AGI").contains("AGI("));
    assert!(d.rx("module show like agi").contains("res_agi.so"));
}

const DIGITS_SCRIPT: &str = r##"#!/bin/sh
# Digits from a SIPp caller (1, 9, 3, 4 as RFC 2833 events, 400 ms apart).
OUT="$1"
trap '' HUP
while read -r line; do
  [ -z "$line" ] && break
done
cmd() {
  echo "$1"
  read -r reply
  echo "$1 => $reply" >> "$OUT/digits_replies.txt"
}
cmd 'WAIT FOR DIGIT 5000'
cmd 'GET DATA "" 3000 2'
cmd 'RECORD FILE agirec wav 4 10000'
cmd 'SAY DIGITS 12 ""'
cmd 'HANGUP'
"##;

/// A SIP caller's digits reach WAIT FOR DIGIT, GET DATA and RECORD FILE (SIPp plays its
/// RFC 2833 pcaps; the script runs under a SIP channel with RTP).
#[test]
fn sipp_digits_reach_agi_commands() {
    let sip = common::free_port();
    let base = common::free_ports(4);
    let rtp = base + (base & 1);
    let dir = tempdir();
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::create_dir_all(dir.path().join("data/agi-bin")).unwrap();
    let sounds = dir.path().join("data/sounds/digits");
    std::fs::create_dir_all(&sounds).unwrap();
    for d in ["1", "2"] {
        write_tone_wav(&sounds.join(format!("{d}.wav")), 1);
    }
    let ext = format!(
        "[general]\nautofallthrough = yes\n\n[guests]\nexten => 300,1,Answer()\n \
         same => n,AGI(digits.sh,{})\n same => n,Hangup()\n",
        out.display()
    );
    let sip_conf = format!(
        "[general]\nbindaddr=127.0.0.1\nbindport={sip}\ncontext=guests\nallowguest=yes\n\
         realm=ferrisk\ndisallow=all\nallow=ulaw\n"
    );
    let rtp_conf = format!("[general]\nrtpstart={rtp}\nrtpend={}\n", rtp + 1);
    write_configs(
        dir.path(),
        &[
            ("ferrisk.conf", FERRISK_CONF_V3),
            ("extensions.conf", &ext),
            ("sip.conf", &sip_conf),
            ("rtp.conf", &rtp_conf),
        ],
    );
    write_script(&dir.path().join("data/agi-bin/digits.sh"), DIGITS_SCRIPT);
    let d = Daemon::launch(dir);
    let r = common::Sipp::new("uac_dtmf_1934.xml", Some(sip))
        .local_port(common::free_port())
        .service("300")
        .key("from_user", "guest")
        .timeout(30)
        .run();
    r.assert_ok("the AGI script read the digits and hung up");
    let replies = wait_file(&out.join("digits_replies.txt"), "HANGUP");
    for e in [
        "WAIT FOR DIGIT 5000 => 200 result=49",
        "GET DATA \"\" 3000 2 => 200 result=93",
        // SIPp sends no audio, only the digits: nothing was recorded before the 4.
        "RECORD FILE agirec wav 4 10000 => 200 result=52 (dtmf) endpos=0",
        "SAY DIGITS 12 \"\" => 200 result=0",
        "HANGUP => 200 result=1",
    ] {
        assert!(
            replies.contains(e),
            "missing {e:?}:\n{replies}\n{}",
            d.stderr()
        );
    }
    assert!(d.path().join("data/sounds/agirec.wav").exists());
    d.wait_console("AGI Script digits.sh completed, returning 4", 1);
}
