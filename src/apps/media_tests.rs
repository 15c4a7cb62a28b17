//! The prompt/DTMF applications driven through a channel whose media we control: digits
//! and audio are queued on `from_far` before (or while) the app runs, and a task drains
//! `to_far` as fast as the app writes. No assertion depends on wall-clock time.

use crate::astdb::AstDb;
use crate::config::settings::Settings;
use crate::funcs::channel::VAR_DIGIT_TIMEOUT;
use crate::media::wav;
use crate::pbx::channel::NullTech;
use crate::pbx::media::{Frame, MediaHandle, NativeFormat, FRAME_SAMPLES};
use crate::pbx::{dialplan_from_str, Channel, Hangup, Pbx};
use parking_lot::Mutex;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

struct Rig {
    chan: Channel,
    media: MediaHandle,
    out: Arc<Mutex<Vec<Frame>>>,
    dir: tempfile::TempDir,
}

fn rig(dialplan: &str) -> Rig {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let mut settings = Settings::defaults_for(Path::new("/nonexistent/ferrisk.conf"));
    settings.astdatadir = dir.path().to_path_buf();
    settings.astetcdir = dir.path().to_path_buf();
    settings.astspooldir = dir.path().join("spool");
    let db = AstDb::open_in_memory().unwrap_or_else(|e| panic!("astdb: {e}"));
    let pbx = Pbx::new(settings, db);
    crate::modules::load_for_tests(&pbx);
    if !dialplan.is_empty() {
        match dialplan_from_str("extensions.conf", dialplan) {
            Ok((dp, _)) => pbx.set_dialplan(dp),
            Err(e) => panic!("dialplan: {e:?}"),
        }
    }
    let mut chan = Channel::new(&pbx, "Test/media-0001".into(), Arc::new(NullTech));
    chan.context = "t".into();
    chan.exten = "s".into();
    chan.vars.set(VAR_DIGIT_TIMEOUT, "30");
    let media = MediaHandle::new(NativeFormat::Ulaw);
    chan.media = Some(media.clone());
    let out = Arc::new(Mutex::new(Vec::new()));
    let (q, o) = (media.to_far.clone(), out.clone());
    tokio::spawn(async move {
        while let Some(f) = q.pop().await {
            o.lock().push(f);
        }
    });
    Rig {
        chan,
        media,
        out,
        dir,
    }
}

impl Rig {
    async fn run(&mut self, app: &str, data: &str) -> Result<(), Hangup> {
        let a = self
            .chan
            .pbx
            .apps
            .get(app)
            .unwrap_or_else(|| panic!("no app {app}"));
        let r = a.exec(&mut self.chan, data).await;
        // Collect what the drain task has not taken yet.
        tokio::task::yield_now().await;
        while let Some(f) = self.media.to_far.try_pop() {
            self.out.lock().push(f);
        }
        r
    }
    fn digits(&self, s: &str) {
        for d in s.chars() {
            self.media
                .from_far
                .push_lossy(Frame::Dtmf(d, Duration::from_millis(100)));
        }
    }
    fn voice(&self, frames: &[Vec<i16>]) {
        for f in frames {
            self.media.from_far.push_lossy(Frame::voice(f.clone()));
        }
    }
    /// Queue frames from a task, never more than the receive queue holds.
    fn feed(&self, frames: Vec<Frame>) {
        let q = self.media.from_far.clone();
        tokio::spawn(async move {
            for f in frames {
                while q.len() >= crate::pbx::media::RX_DEPTH - 1 {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                q.push_lossy(f);
            }
        });
    }
    fn var(&self, n: &str) -> Option<String> {
        self.chan.vars.get(n).map(str::to_string)
    }
    fn sound(&self, rel: &str, samples: &[i16]) -> PathBuf {
        let p = self.dir.path().join("sounds").join(format!("{rel}.wav"));
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d).unwrap_or_else(|e| panic!("{e}"));
        }
        std::fs::write(&p, wav::wav_bytes(samples)).unwrap_or_else(|e| panic!("{e}"));
        p
    }
    fn audio_out(&self) -> Vec<i16> {
        self.out
            .lock()
            .iter()
            .flat_map(|f| match f {
                Frame::Voice(v) => v.to_vec(),
                Frame::Dtmf(..) => Vec::new(),
            })
            .collect()
    }
    fn frames_out(&self) -> usize {
        self.out.lock().len()
    }
}

/// `n` frames of loud, distinct audio starting at value `start`.
fn loud(n: usize, start: i16) -> Vec<Vec<i16>> {
    (0..n)
        .map(|i| {
            (0..FRAME_SAMPLES)
                .map(|j| {
                    let v = 1000 + ((i * FRAME_SAMPLES + j) % 5000) as i16 + start;
                    if j % 2 == 0 {
                        v
                    } else {
                        -v
                    }
                })
                .collect()
        })
        .collect()
}

#[tokio::test]
async fn playback_emits_exactly_the_files_samples() {
    let mut r = rig("");
    let samples: Vec<i16> = (0..FRAME_SAMPLES as i16 * 3).collect();
    r.sound("en/hello", &samples);
    let abs = r.sound("other", &[9; FRAME_SAMPLES]);
    let abs = abs.with_extension("");
    assert!(r
        .run("Playback", &format!("hello&{}", abs.display()))
        .await
        .is_ok());
    assert!(r.chan.is_up(), "Playback answers first");
    let mut want = samples.clone();
    want.extend([9; FRAME_SAMPLES]);
    assert_eq!(r.audio_out(), want);
    assert_eq!(r.var("PLAYBACKSTATUS").as_deref(), Some("SUCCESS"));

    assert!(r.run("Playback", "hello&nosuchfile").await.is_ok());
    assert_eq!(r.var("PLAYBACKSTATUS").as_deref(), Some("FAILED"));
}

#[tokio::test]
async fn playback_skip_and_noanswer() {
    let mut r = rig("");
    r.sound("hello", &[1; FRAME_SAMPLES]);
    assert!(r.run("Playback", "hello,skip").await.is_ok());
    assert_eq!(r.frames_out(), 0);
    assert!(!r.chan.is_up());
    assert!(r.run("Playback", "hello,noanswer").await.is_ok());
    assert!(!r.chan.is_up());
    assert_eq!(r.frames_out(), 1);
}

#[tokio::test]
async fn digits_do_not_interrupt_playback() {
    let mut r = rig("");
    r.sound("hello", &[1; FRAME_SAMPLES * 4]);
    r.digits("5");
    assert!(r.run("Playback", "hello").await.is_ok());
    assert_eq!(r.frames_out(), 4);
}

const MENU: &str = "[t]\nexten => s,1,NoOp\nexten => 123,1,NoOp\nexten => 12,1,NoOp\nexten => 5,1,NoOp\nexten => i,1,NoOp\nexten => t,1,NoOp\n[other]\nexten => 7,1,NoOp\n";

#[tokio::test]
async fn background_digit_jumps_to_the_dialed_extension() {
    let mut r = rig(MENU);
    r.sound("menu", &[3; FRAME_SAMPLES * 50]);
    r.digits("123");
    assert!(r.run("BackGround", "menu").await.is_ok());
    assert!(r.frames_out() < 50, "the digit stopped the prompt");
    assert_eq!(
        (
            r.chan.context.as_str(),
            r.chan.exten.as_str(),
            r.chan.priority
        ),
        ("t", "123", 1)
    );
    assert_eq!(r.var("BACKGROUNDSTATUS").as_deref(), Some("SUCCESS"));

    // "12" could become "123": after TIMEOUT(digit) without more digits, 12 it is.
    r.digits("12");
    assert!(r.run("BackGround", "menu").await.is_ok());
    assert_eq!(r.chan.exten, "12");

    r.chan.exten = "s".into();
    r.digits("9");
    assert!(r.run("BackGround", "menu").await.is_ok());
    assert_eq!(r.chan.exten, "i");
    assert_eq!(r.var("INVALID_EXTEN").as_deref(), Some("9"));

    // With a context, the single digit goes there.
    r.chan.exten = "s".into();
    r.digits("7");
    assert!(r.run("BackGround", "menu,,,other").await.is_ok());
    assert_eq!(
        (r.chan.context.as_str(), r.chan.exten.as_str()),
        ("other", "7")
    );
}

#[tokio::test]
async fn background_plays_to_the_end_without_digits() {
    let mut r = rig(MENU);
    r.sound("menu", &[3; FRAME_SAMPLES * 2]);
    r.chan.jumped = false;
    assert!(r.run("BackGround", "menu").await.is_ok());
    assert_eq!(r.frames_out(), 2);
    assert!(!r.chan.jumped);
    assert!(r.run("BackGround", "nosuch").await.is_ok());
    assert_eq!(r.var("BACKGROUNDSTATUS").as_deref(), Some("FAILED"));
}

#[tokio::test]
async fn waitexten_collects_digits_or_times_out() {
    let mut r = rig(MENU);
    r.digits("5");
    assert!(r.run("WaitExten", "1").await.is_ok());
    assert_eq!(r.chan.exten, "5");
    r.chan.exten = "s".into();
    assert!(r.run("WaitExten", "0.05").await.is_ok());
    assert_eq!(r.chan.exten, "t");
}

#[tokio::test]
async fn read_collects_digits_until_pound_or_maxdigits() {
    let mut r = rig("");
    r.sound("prompt", &[2; FRAME_SAMPLES * 50]);
    r.digits("123#");
    assert!(r.run("Read", "V,prompt").await.is_ok());
    assert_eq!(r.var("V").as_deref(), Some("123"));
    assert_eq!(r.var("READSTATUS").as_deref(), Some("OK"));
    assert!(r.frames_out() < 50, "the first digit stopped the prompt");

    r.digits("4567");
    assert!(r.run("Read", "V,,2").await.is_ok());
    assert_eq!(r.var("V").as_deref(), Some("45"));
    // The rest is still queued for the next reader.
    assert!(r.run("Read", "V,,,,,0.05").await.is_ok());
    assert_eq!(r.var("V").as_deref(), Some("67"));
    assert_eq!(r.var("READSTATUS").as_deref(), Some("TIMEOUT"));
}

#[tokio::test]
async fn read_timeout_and_attempts() {
    let mut r = rig("");
    r.sound("prompt", &[2; FRAME_SAMPLES * 2]);
    assert!(r.run("Read", "V,prompt,4,,3,0.02").await.is_ok());
    assert_eq!(r.var("V").unwrap_or_default(), "");
    assert_eq!(r.var("READSTATUS").as_deref(), Some("TIMEOUT"));
    assert_eq!(r.frames_out(), 6, "the prompt was played three times");

    r.chan.set_state(crate::pbx::channel::ChanState::Ring);
    assert!(r.run("Read", "V,prompt,4,s").await.is_ok());
    assert_eq!(r.var("READSTATUS").as_deref(), Some("SKIPPED"));
}

#[tokio::test]
async fn read_reports_hangup() {
    let mut r = rig("");
    r.chan.shared.request_hangup(16);
    assert_eq!(r.run("Read", "V,,,,,1").await, Err(Hangup));
    assert_eq!(r.var("READSTATUS").as_deref(), Some("HANGUP"));
}

fn flat(frames: &[Vec<i16>]) -> Vec<i16> {
    frames.concat()
}

fn read_back(p: &Path) -> Vec<i16> {
    wav::read_wav(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[tokio::test]
async fn record_stops_on_pound_and_trims_the_key() {
    let mut r = rig("");
    let sent = loud(30, 0);
    r.voice(&sent);
    r.digits("#");
    r.voice(&loud(5, 7));
    assert!(r.run("Record", "msg%d.wav,0,0,q").await.is_ok());
    assert_eq!(r.var("RECORD_STATUS").as_deref(), Some("DTMF"));
    assert_eq!(r.var("RECORDED_FILE").as_deref(), Some("msg0"));
    let got = read_back(&r.dir.path().join("sounds/msg0.wav"));
    let all = flat(&sent);
    assert_eq!(got, all[..all.len() - 2000]);
    // %d picks the next free number.
    r.voice(&loud(1, 0));
    r.digits("*");
    assert!(r.run("Record", "msg%d.wav,0,0,qt").await.is_ok());
    assert_eq!(r.var("RECORDED_FILE").as_deref(), Some("msg1"));
}

#[tokio::test]
async fn record_stops_on_silence() {
    let mut r = rig("");
    let talk = loud(10, 0);
    let quiet = vec![vec![10i16; FRAME_SAMPLES]; 60];
    r.feed(
        talk.iter()
            .chain(quiet.iter())
            .map(|f| Frame::voice(f.clone()))
            .collect(),
    );
    let path = r.dir.path().join("sil.wav");
    assert!(r
        .run("Record", &format!("{},1,0,q", path.display()))
        .await
        .is_ok());
    assert_eq!(r.var("RECORD_STATUS").as_deref(), Some("SILENCE"));
    let mut want = flat(&talk);
    // Stops once more than 1 s of silence was heard: 51 frames.
    want.extend(flat(&quiet[..51]));
    assert_eq!(read_back(&path), want);
}

#[tokio::test]
async fn record_stops_at_maxduration() {
    let mut r = rig("");
    let sent = loud(30, 0);
    r.voice(&sent);
    let path = r.dir.path().join("max.wav");
    assert!(r
        .run("Record", &format!("{},0,0.5,q", path.display()))
        .await
        .is_ok());
    assert_eq!(r.var("RECORD_STATUS").as_deref(), Some("TIMEOUT"));
    assert_eq!(read_back(&path), flat(&sent[..25]));
}

#[tokio::test]
async fn record_on_hangup_keeps_the_file_with_or_without_k() {
    // Asterisk deletes the file without `k`; ferrisk never loses what a caller recorded.
    for opts in ["qk", "q"] {
        let mut r = rig("");
        let sent = loud(20, 0);
        r.voice(&sent);
        let (q, shared) = (r.media.from_far.clone(), r.chan.shared.clone());
        tokio::spawn(async move {
            while !q.is_empty() {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
            shared.request_hangup(16);
        });
        let path = r.dir.path().join("hup.wav");
        let res = r
            .run("Record", &format!("{},0,0,{opts}", path.display()))
            .await;
        assert_eq!(res, Err(Hangup));
        assert_eq!(r.var("RECORD_STATUS").as_deref(), Some("HANGUP"));
        assert_eq!(
            read_back(&path),
            flat(&sent),
            "nothing recorded is lost ({opts})"
        );
    }
}

#[tokio::test]
async fn record_plays_the_beep_unless_quiet() {
    let mut r = rig("");
    r.sound("beep", &[4; FRAME_SAMPLES * 2]);
    r.digits("#");
    let path = r.dir.path().join("b.wav");
    assert!(r
        .run("Record", &format!("{},0,0.1", path.display()))
        .await
        .is_ok());
    assert_eq!(r.frames_out(), 2);
    // The # pressed during the beep was dropped with it: the recording ran to maxduration.
    assert_eq!(r.var("RECORD_STATUS").as_deref(), Some("TIMEOUT"));
}

#[tokio::test]
async fn saynumber_plays_asterisks_prompts() {
    let mut r = rig("");
    for (i, name) in ["40", "2", "1", "hundred", "thousand"].iter().enumerate() {
        r.sound(&format!("en/digits/{name}"), &[i as i16 + 1; FRAME_SAMPLES]);
    }
    assert!(r.run("SayNumber", "42").await.is_ok());
    assert!(r.run("SayNumber", "1100").await.is_ok());
    assert!(r.run("SayDigits", "21").await.is_ok());
    let tags: Vec<i16> = r.audio_out().chunks(FRAME_SAMPLES).map(|c| c[0]).collect();
    assert_eq!(tags, [1, 2, 3, 5, 3, 4, 2, 3]);
}

#[tokio::test]
async fn senddtmf_sends_the_digits() {
    let mut r = rig("");
    assert!(r.run("SendDTMF", "1a#,1,1").await.is_ok());
    let digits: Vec<char> = r
        .out
        .lock()
        .iter()
        .filter_map(|f| match f {
            Frame::Dtmf(d, len) => {
                assert_eq!(*len, Duration::from_millis(1));
                Some(*d)
            }
            _ => None,
        })
        .collect();
    assert_eq!(digits, ['1', 'A', '#']);
}

#[tokio::test]
async fn wait_discards_what_arrived() {
    let mut r = rig("");
    r.digits("12");
    assert!(r.run("Wait", "0.01").await.is_ok());
    assert!(r.media.from_far.is_empty());
}

#[tokio::test]
async fn dialplan_menu_runs_the_dialed_extension() {
    let mut r = rig(
        "[t]\nexten => s,1,BackGround(menu)\n same => n,Set(FELL=1)\nexten => 42,1,Set(GOT=${EXTEN})\n same => n,Read(PIN,,4)\n",
    );
    r.sound("menu", &[3; FRAME_SAMPLES * 20]);
    r.digits("42");
    r.digits("9876");
    r.chan.priority = 1;
    let _ = crate::pbx::exec::run_loop(&mut r.chan, crate::pbx::exec::Nest::Top).await;
    assert_eq!(r.var("GOT").as_deref(), Some("42"));
    assert_eq!(r.var("FELL"), None);
    assert_eq!(r.var("PIN").as_deref(), Some("9876"));
}

// ---- VoiceMail() ----

fn vm_rig(dialplan: &str, conf: &str) -> Rig {
    let r = rig(dialplan);
    let cf = crate::config::load_str(
        r.dir.path(),
        "voicemail.conf",
        conf,
        &crate::config::LoadOptions::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let (c, _) =
        crate::voicemail::config::parse_voicemail_conf(&cf).unwrap_or_else(|e| panic!("{e:?}"));
    crate::voicemail::of(&r.chan.pbx).set_config(c);
    r
}

const VM_CONF: &str = "[general]\nmaxsilence=0\n[default]\n100 => 1234,Leif Madsen,leif@example.com\n101 => 4321,Jim\n";

/// Queue `frames` (paced, nothing dropped) and then the digits.
fn talk(r: &Rig, frames: &[Vec<i16>], digits: &str) {
    let mut v: Vec<Frame> = frames.iter().map(|f| Frame::voice(f.clone())).collect();
    v.extend(
        digits
            .chars()
            .map(|d| Frame::Dtmf(d, Duration::from_millis(100))),
    );
    r.feed(v);
}

fn inbox(r: &Rig, mbox: &str) -> PathBuf {
    r.dir
        .path()
        .join(format!("spool/voicemail/default/{mbox}/INBOX"))
}

#[tokio::test]
async fn voicemail_stores_the_message_and_its_metadata() {
    let mut r = vm_rig("", VM_CONF);
    r.chan.caller = crate::pbx::CallerId::parse("\"Alice\" <1001>");
    let sent = loud(150, 0);
    talk(&r, &sent, "#");
    assert!(r.run("VoiceMail", "100@default&101,st()").await.is_ok());
    assert_eq!(r.var("VMSTATUS").as_deref(), Some("SUCCESS"));
    let all = flat(&sent);
    for b in ["100", "101"] {
        let got = read_back(&inbox(&r, b).join("msg0000.wav"));
        assert_eq!(
            (got.len(), got.first()),
            (all.len() - 2000, all.first()),
            "audio in {b}"
        );
        assert!(got == all[..all.len() - 2000], "audio in {b}");
        let txt = std::fs::read_to_string(inbox(&r, b).join("msg0000.txt")).unwrap();
        assert!(txt.contains("\norigmailbox=100\n"), "{txt}");
        assert!(txt.contains("\ncallerid=\"Alice\" <1001>\n"), "{txt}");
        assert!(txt.contains("\ncallerchan=Test/media-0001\n"), "{txt}");
        assert!(txt.contains("\nduration=3\n"), "{txt}");
        assert!(txt.contains("\norigdate="), "{txt}");
    }
    // Nothing left behind in tmp/.
    let tmp = r.dir.path().join("spool/voicemail/default/100/tmp");
    assert_eq!(std::fs::read_dir(tmp).unwrap().count(), 0);
    // Numbering continues.
    talk(&r, &loud(10, 0), "#");
    assert!(r.run("VoiceMail", "100,st()").await.is_ok());
    assert!(inbox(&r, "100").join("msg0001.txt").exists());
}

#[tokio::test]
async fn voicemail_unknown_mailbox_fails_and_stops() {
    let mut r = vm_rig("", VM_CONF);
    assert_eq!(r.run("VoiceMail", "999@default,u").await, Err(Hangup));
    assert_eq!(r.var("VMSTATUS").as_deref(), Some("FAILED"));
}

#[tokio::test]
async fn voicemail_star_goes_to_a_and_zero_to_o_with_operator() {
    let dp = "[t]\nexten => s,1,NoOp()\nexten => a,1,NoOp()\nexten => o,1,NoOp()\n";
    let mut r = vm_rig(dp, VM_CONF);
    r.sound("vm-intro", &[5; FRAME_SAMPLES * 10]);
    r.digits("*");
    assert!(r.run("VoiceMail", "100").await.is_ok());
    assert_eq!(r.var("VMSTATUS").as_deref(), Some("USEREXIT"));
    assert_eq!((r.chan.exten.as_str(), r.chan.priority), ("a", 1));
    // 0 without operator=yes does nothing special: the message is recorded.
    let mut r = vm_rig(dp, VM_CONF);
    r.digits("0");
    talk(&r, &loud(20, 0), "#");
    assert!(r.run("VoiceMail", "100,st()").await.is_ok());
    assert_eq!(r.var("VMSTATUS").as_deref(), Some("SUCCESS"));
    let conf = VM_CONF.replace("maxsilence=0", "operator=yes");
    let mut r = vm_rig(dp, &conf);
    r.sound("vm-intro", &[5; FRAME_SAMPLES * 10]);
    r.digits("0");
    assert!(r.run("VoiceMail", "100").await.is_ok());
    assert_eq!(r.var("VMSTATUS").as_deref(), Some("USEREXIT"));
    assert_eq!(r.chan.exten, "o");
}

#[tokio::test]
async fn vmsayname_plays_the_recorded_name_or_spells_the_box() {
    let dp = "[t]\nexten => s,1,NoOp()\nexten => 4,1,NoOp()\n";
    let mut r = vm_rig(dp, VM_CONF);
    let greet = r.dir.path().join("spool/voicemail/default/100/greet.wav");
    std::fs::create_dir_all(greet.parent().unwrap()).unwrap_or_else(|e| panic!("{e}"));
    let name: Vec<i16> = loud(3, 700).concat();
    std::fs::write(&greet, wav::wav_bytes(&name)).unwrap_or_else(|e| panic!("{e}"));
    r.run("VMSayName", "100@default")
        .await
        .unwrap_or_else(|_| panic!("hangup"));
    let out = r.audio_out();
    assert!(
        out.windows(name.len()).any(|w| w == name.as_slice()),
        "the name was not played"
    );
    // No name: vm-extension, then the box spelled; a key dials that extension.
    let mut r = vm_rig(dp, VM_CONF);
    r.sound("vm-extension", &[5; FRAME_SAMPLES * 10]);
    r.digits("4");
    r.run("VMSayName", "101")
        .await
        .unwrap_or_else(|_| panic!("hangup"));
    assert_eq!((r.chan.exten.as_str(), r.chan.priority), ("4", 1));
    // No argument: a warning and the call ends.
    let mut r = vm_rig(dp, VM_CONF);
    assert_eq!(r.run("VMSayName", "").await, Err(Hangup));
}

#[tokio::test]
async fn voicemail_hangup_while_recording_keeps_the_message() {
    let mut r = vm_rig("", VM_CONF);
    let sent = loud(100, 0);
    let (q, shared) = (r.media.from_far.clone(), r.chan.shared.clone());
    let frames = sent.clone();
    tokio::spawn(async move {
        for f in frames {
            while q.len() >= crate::pbx::media::RX_DEPTH - 1 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            q.push_lossy(Frame::voice(f));
        }
        while !q.is_empty() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
        shared.request_hangup(16);
    });
    assert_eq!(r.run("VoiceMail", "100,st()").await, Err(Hangup));
    assert_eq!(r.var("VMSTATUS").as_deref(), Some("SUCCESS"));
    let got = read_back(&inbox(&r, "100").join("msg0000.wav"));
    let want = flat(&sent);
    assert_eq!((got.len(), got.first()), (want.len(), want.first()));
    assert!(got == want);
}

#[tokio::test]
async fn voicemail_full_mailbox_and_minsecs() {
    let conf = VM_CONF.replace("maxsilence=0", "maxmsg=1\nminsecs=2");
    let mut r = vm_rig("", &conf);
    // Too short: discarded (minsecs), VMSTATUS=FAILED.
    talk(&r, &loud(20, 0), "#");
    assert!(r.run("VoiceMail", "100,st()").await.is_ok());
    assert_eq!(r.var("VMSTATUS").as_deref(), Some("FAILED"));
    assert!(!inbox(&r, "100").join("msg0000.txt").exists());
    talk(&r, &loud(150, 0), "#");
    assert!(r.run("VoiceMail", "100,st()").await.is_ok());
    assert_eq!(r.var("VMSTATUS").as_deref(), Some("SUCCESS"));
    // Full now.
    assert!(r.run("VoiceMail", "100,st()").await.is_ok());
    assert_eq!(r.var("VMSTATUS").as_deref(), Some("FAILED"));
    assert!(!inbox(&r, "100").join("msg0001.txt").exists());
}

#[tokio::test]
async fn voicemail_greetings_temp_busy_and_made_up() {
    // maxsecs=1: each recording ends by itself.
    let conf = VM_CONF.replace("maxsilence=0", "maxsecs=1");
    let mut r = vm_rig("", &conf);
    let mbdir = r.dir.path().join("spool/voicemail/default/100");
    for (p, v) in [
        ("vm-theperson", 6),
        ("digits/1", 7),
        ("digits/0", 8),
        ("vm-isonphone", 9),
        ("beep", 1),
    ] {
        r.sound(p, &[v; FRAME_SAMPLES]);
    }
    let frames = |r: &Rig, n: usize| -> Vec<i16> {
        r.audio_out()
            .chunks(FRAME_SAMPLES)
            .take(n)
            .map(|c| c[0])
            .collect()
    };
    // No busy greeting recorded: "the person at extension 1 0 0 is on the phone".
    assert!(r.run("VoiceMail", "100,bs").await.is_ok());
    assert_eq!(frames(&r, 6), vec![6, 7, 8, 8, 9, 1]);
    // The recorded busy greeting.
    std::fs::write(
        mbdir.join("busy.wav"),
        wav::wav_bytes(&[2; FRAME_SAMPLES * 3]),
    )
    .unwrap();
    r.out.lock().clear();
    assert!(r.run("VoiceMail", "100,bs").await.is_ok());
    assert_eq!(frames(&r, 4), vec![2, 2, 2, 1]);
    // A temporary greeting wins over busy and unavailable.
    std::fs::write(mbdir.join("temp.wav"), wav::wav_bytes(&[3; FRAME_SAMPLES])).unwrap();
    r.out.lock().clear();
    assert!(r.run("VoiceMail", "100,us").await.is_ok());
    assert_eq!(frames(&r, 2), vec![3, 1]);
    assert_eq!(r.var("VMSTATUS").as_deref(), Some("SUCCESS"));
}

#[tokio::test]
async fn voicemail_recover_delivers_what_a_crash_left_in_tmp() {
    let r = vm_rig("", VM_CONF);
    let tmp = r.dir.path().join("spool/voicemail/default/100/tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let samples = flat(&loud(100, 0));
    std::fs::write(tmp.join("x.wav"), wav::wav_bytes(&samples)).unwrap();
    let info = crate::voicemail::metadata::MessageInfo {
        origmailbox: "100".into(),
        callerid: "1001".into(),
        ..Default::default()
    };
    std::fs::write(tmp.join("x.txt"), info.render()).unwrap();
    let pbx = r.chan.pbx.clone();
    assert_eq!(crate::voicemail::app::recover(&pbx).await, 1);
    assert_eq!(read_back(&inbox(&r, "100").join("msg0000.wav")), samples);
    let txt = std::fs::read_to_string(inbox(&r, "100").join("msg0000.txt")).unwrap();
    assert!(txt.contains("\nduration=2\n"), "{txt}");
    assert!(!tmp.join("x.txt").exists());
}

#[tokio::test]
async fn voicemail_review_accepts_or_records_again() {
    let conf = VM_CONF.replace("maxsilence=0", "review=yes");
    let mut r = vm_rig("", &conf);
    // Record, #, then 1 at the review menu: the first recording is kept.
    let first = loud(20, 0);
    talk(&r, &first, "#1");
    assert!(r.run("VoiceMail", "100,st()").await.is_ok());
    assert_eq!(r.var("VMSTATUS").as_deref(), Some("SUCCESS"));
    let all = flat(&first);
    assert!(read_back(&inbox(&r, "100").join("msg0000.wav")) == all[..all.len() - 2000]);
    // 3 records again; the second take is the message.
    let second = loud(30, 9);
    let q = r.media.from_far.clone();
    let take2 = second.clone();
    tokio::spawn(async move {
        for f in loud(20, 0) {
            q.push_lossy(Frame::voice(f));
        }
        q.push_lossy(Frame::Dtmf('#', Duration::from_millis(100)));
        q.push_lossy(Frame::Dtmf('3', Duration::from_millis(100)));
        while !q.is_empty() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        // The beep before the second take has played by now.
        tokio::time::sleep(Duration::from_millis(100)).await;
        for f in take2 {
            q.push_lossy(Frame::voice(f));
        }
        q.push_lossy(Frame::Dtmf('#', Duration::from_millis(100)));
        q.push_lossy(Frame::Dtmf('1', Duration::from_millis(100)));
    });
    assert!(r.run("VoiceMail", "100,st()").await.is_ok());
    let all = flat(&second);
    let got = read_back(&inbox(&r, "100").join("msg0001.wav"));
    assert_eq!(got.len(), all.len() - 2000);
    assert!(got == all[..all.len() - 2000]);
}

/// Sounds of one frame each, the i-th all samples `i + 1`; [`said`] maps the played audio
/// back to their names.
fn sounds(r: &Rig, names: &[&str]) {
    for (i, n) in names.iter().enumerate() {
        r.sound(&format!("en/{n}"), &[(i + 1) as i16; FRAME_SAMPLES]);
    }
}

fn said(r: &Rig, names: &[&str]) -> Vec<String> {
    r.audio_out()
        .chunks(FRAME_SAMPLES)
        .filter_map(|f| names.get((f[0] as usize).checked_sub(1)?))
        .map(|s| s.to_string())
        .collect()
}

const SAY_SOUNDS: &[&str] = &[
    "digits/1",
    "digits/2",
    "digits/40",
    "digits/h-2",
    "digits/h-4",
    "digits/day-3",
    "digits/mon-2",
    "digits/thousand",
    "digits/20",
    "digits/6",
    "digits/at",
    "digits/oh",
    "digits/5",
    "digits/p-m",
    "letters/a",
    "letters/b",
    "uppercase",
    "lowercase",
    "phonetic/b_p",
    "dollars",
    "and",
    "cents",
];

#[tokio::test]
async fn say_ordinal_money_phonetic_and_alpha_case_play_their_prompts() {
    let mut r = rig("");
    sounds(&r, SAY_SOUNDS);
    assert!(r.run("SayOrdinal", "42").await.is_ok());
    assert_eq!(said(&r, SAY_SOUNDS), ["digits/40", "digits/h-2"]);
    r.out.lock().clear();
    assert!(r.run("SayMoney", "2.42").await.is_ok());
    assert_eq!(
        said(&r, SAY_SOUNDS),
        [
            "digits/2",
            "dollars",
            "and",
            "digits/40",
            "digits/2",
            "cents"
        ]
    );
    r.out.lock().clear();
    assert!(r.run("SayPhonetic", "b1").await.is_ok());
    assert_eq!(said(&r, SAY_SOUNDS), ["phonetic/b_p", "digits/1"]);
    r.out.lock().clear();
    assert!(r.run("SayAlphaCase", "u,aB").await.is_ok());
    assert_eq!(
        said(&r, SAY_SOUNDS),
        ["letters/a", "uppercase", "letters/b"]
    );
    r.out.lock().clear();
    assert!(r.run("SayAlphaCase", "a,aB").await.is_ok());
    assert_eq!(
        said(&r, SAY_SOUNDS),
        ["lowercase", "letters/a", "uppercase", "letters/b"]
    );
}

#[tokio::test]
async fn say_apps_bad_arguments_warn_as_asterisk() {
    let mut r = rig("");
    sounds(&r, SAY_SOUNDS);
    // No number: -1 (hang up); not a number: go on; a bad gender: hang up.
    assert_eq!(r.run("SayOrdinal", "").await, Err(Hangup));
    assert!(r.run("SayOrdinal", "abc").await.is_ok());
    assert_eq!(r.run("SayOrdinal", "2,x").await, Err(Hangup));
    assert!(r.run("SayOrdinal", "2,f").await.is_ok());
    assert_eq!(r.run("SayNumber", "2,q").await, Err(Hangup));
    // SayAlphaCase: a missing or a bad casetype says nothing and goes on.
    assert!(r.run("SayAlphaCase", "").await.is_ok());
    assert!(r.run("SayAlphaCase", "ul,ab").await.is_ok());
    assert!(r.run("SayAlphaCase", "x,ab").await.is_ok());
    assert!(r.run("SayMoney", "").await.is_ok());
    assert_eq!(said(&r, SAY_SOUNDS), ["digits/h-2"]);
}

const SAY_MENU: &str = "[t]\nexten => s,1,NoOp\nexten => 5,1,NoOp\nexten => i,1,NoOp\n";

#[tokio::test]
async fn say_dtmf_interrupt_dials_an_extension() {
    let mut r = rig(SAY_MENU);
    sounds(&r, SAY_SOUNDS);
    // Without SAY_DTMF_INTERRUPT digits do not interrupt (and are dropped).
    r.digits("5");
    assert!(r.run("SayNumber", "1042").await.is_ok());
    assert_eq!(said(&r, SAY_SOUNDS).len(), 4);
    assert_eq!(r.chan.exten, "s");
    r.chan.set_var("SAY_DTMF_INTERRUPT", "TRUE");
    r.out.lock().clear();
    r.digits("5");
    assert!(r.run("SayDigits", "1212").await.is_ok());
    assert!(
        said(&r, SAY_SOUNDS).len() < 4,
        "the digit stopped the saying"
    );
    assert_eq!((r.chan.exten.as_str(), r.chan.priority), ("5", 1));
}

#[tokio::test]
async fn sayunixtime_and_datetime_say_the_default_format() {
    let mut r = rig(SAY_MENU);
    sounds(&r, SAY_SOUNDS);
    // 2026-03-04 14:05:00 UTC, a Wednesday.
    assert!(r.run("SayUnixTime", "1772633100,UTC").await.is_ok());
    assert!(r.chan.is_up(), "SayUnixTime answers");
    let t = chrono::DateTime::from_timestamp(1772633100, 0).unwrap_or_default();
    let said_now = crate::apps::sayunixtime::date_prompts_en(
        crate::apps::sayunixtime::DEFAULT_FORMAT,
        &t,
        &chrono::Utc::now(),
    );
    let want = said_now.prompts;
    assert_eq!(want.len(), 12);
    assert_eq!(said(&r, SAY_SOUNDS), want);
    r.out.lock().clear();
    assert!(r.run("DateTime", "1772633100,UTC,IMp").await.is_ok());
    assert_eq!(
        said(&r, SAY_SOUNDS),
        ["digits/2", "digits/oh", "digits/5", "digits/p-m"]
    );
    // j: a digit jumps to the extension.
    r.out.lock().clear();
    r.digits("5");
    assert!(r.run("SayUnixTime", "1772633100,UTC,,j").await.is_ok());
    assert_eq!(r.chan.exten, "5");
    // No argument at all says now, in the server's zone.
    r.out.lock().clear();
    assert!(r.run("SayUnixTime", "").await.is_ok());
    assert!(!said(&r, SAY_SOUNDS).is_empty());
}

#[tokio::test]
async fn sayfiles_function_reads_the_prompts() {
    let mut r = rig("");
    let f = r
        .chan
        .pbx
        .funcs
        .get("SAYFILES")
        .unwrap_or_else(|| panic!("no SAYFILES"));
    assert_eq!(
        f.read(&mut r.chan, "123,number").as_deref(),
        Ok("digits/1&digits/hundred&digits/20&digits/3")
    );
    assert_eq!(
        f.read(&mut r.chan, "ab").as_deref(),
        Ok("letters/a&letters/b")
    );
    assert_eq!(f.read(&mut r.chan, "").as_deref(), Ok(""));
    assert!(f.read(&mut r.chan, "x,number").is_err());
    assert!(f.read(&mut r.chan, "1,bogus").is_err());
}

/// Wait (without a time limit that could fail a slow machine) until `n` frames went out.
async fn wait_frames(r: &Rig, n: usize) {
    while r.frames_out() < n {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

fn is_silent(f: &Frame) -> bool {
    matches!(f, Frame::Voice(v) if v.iter().all(|&s| s == 0))
}

#[tokio::test]
async fn playtones_plays_a_zone_tone_in_the_background_until_stopped() {
    let mut r = rig("");
    assert!(r.run("PlayTones", "busy").await.is_ok());
    assert!(r.chan.background.is_some(), "the dialplan goes on at once");
    wait_frames(&r, 60).await;
    {
        let out = r.out.lock();
        // US busy: 500 ms of 480+620 Hz, 500 ms of silence.
        assert!(out[..25].iter().all(|f| !is_silent(f)));
        assert!(out[25..50].iter().all(is_silent));
        assert!(!is_silent(&out[50]));
    }
    assert!(r.run("StopPlayTones", "").await.is_ok());
    assert!(r.chan.background.is_none());
}

#[tokio::test]
async fn playtones_takes_a_tone_list_and_ends_a_once_only_list() {
    let mut r = rig("");
    assert!(r
        .run("PlayTones", "!440/100,!0/100,!350+440/60")
        .await
        .is_ok());
    wait_frames(&r, 13).await;
    if let Some(bg) = r.chan.background.take() {
        // The player ends by itself after its 13 frames.
        let _ = (&mut { bg }.0).await;
    }
    assert_eq!(r.frames_out(), 13);
    // Bad arguments: a notice and the call hangs up, as in Asterisk.
    assert_eq!(r.run("PlayTones", "").await, Err(Hangup));
    assert_eq!(r.run("PlayTones", "nosuchtone").await, Err(Hangup));
    // A prompt written after stops the tones.
    r.sound("hello", &[5; FRAME_SAMPLES]);
    assert!(r.run("PlayTones", "dial").await.is_ok());
    assert!(r.run("Playback", "hello").await.is_ok());
    assert!(r.chan.background.is_none());
}

const EXTENS: &str = "[t]\nexten => s,1,NoOp\nexten => 5,1,NoOp\nexten => 123,1,NoOp\nexten => 12,1,NoOp\n[noi]\nexten => 7,1,NoOp\n";

#[tokio::test]
async fn readexten_reads_until_an_extension_is_complete() {
    let mut r = rig(EXTENS);
    r.sound("prompt", &[2; FRAME_SAMPLES * 50]);
    r.digits("123");
    assert!(r.run("ReadExten", "V,prompt").await.is_ok());
    assert!(r.chan.is_up(), "answers first");
    assert_eq!(r.var("V").as_deref(), Some("123"));
    assert_eq!(r.var("READEXTENSTATUS").as_deref(), Some("OK"));
    assert!(r.frames_out() < 50, "the first digit stopped the prompt");
    // A digit that no extension starts with: i and INVALID_EXTEN.
    r.digits("9");
    assert!(r.run("ReadExten", "V").await.is_ok());
    assert_eq!(r.var("V").as_deref(), Some("i"));
    assert_eq!(r.var("INVALID_EXTEN").as_deref(), Some("9"));
    assert_eq!(r.var("READEXTENSTATUS").as_deref(), Some("INVALID"));
    // p: # ends "12" even though 123 could follow; another context.
    r.digits("12#");
    assert!(r.run("ReadExten", "V,,,p").await.is_ok());
    assert_eq!(r.var("V").as_deref(), Some("12"));
    r.digits("7");
    assert!(r.run("ReadExten", "V,,noi").await.is_ok());
    assert_eq!(r.var("V").as_deref(), Some("7"));
    // i: an indication tone plays until the first digit.
    r.out.lock().clear();
    r.digits("5");
    assert!(r.run("ReadExten", "V,dial,,i").await.is_ok());
    assert_eq!(r.var("V").as_deref(), Some("5"));
    assert!(r.chan.background.is_none(), "the digit stopped the tone");
}

#[tokio::test]
async fn readexten_timeout_skip_error_and_hangup() {
    let mut r = rig(EXTENS);
    assert!(r.run("ReadExten", "V,,,,1").await.is_ok());
    assert_eq!(r.var("V").as_deref(), Some("t"));
    assert_eq!(r.var("READEXTENSTATUS").as_deref(), Some("TIMEOUT"));
    assert!(r.run("ReadExten", "").await.is_ok());
    assert_eq!(r.var("READEXTENSTATUS").as_deref(), Some("ERROR"));
    assert!(r.run("ReadExten", ",prompt").await.is_ok());
    assert_eq!(r.var("READEXTENSTATUS").as_deref(), Some("ERROR"));
    r.chan.set_state(crate::pbx::channel::ChanState::Ring);
    assert!(r.run("ReadExten", "V,,,s").await.is_ok());
    assert_eq!(r.var("READEXTENSTATUS").as_deref(), Some("SKIP"));
    assert_eq!(r.var("V"), None);
    r.chan.shared.request_hangup(16);
    assert_eq!(r.run("ReadExten", "V,,,n").await, Err(Hangup));
    assert_eq!(r.var("READEXTENSTATUS").as_deref(), Some("HANGUP"));
}

/// Press each `(n, digits)` once `n` frames went out (after a prompt of one frame).
fn digits_after(r: &Rig, steps: &[(usize, &str)]) {
    let (q, out) = (r.media.from_far.clone(), r.out.clone());
    let steps: Vec<(usize, String)> = steps.iter().map(|(n, d)| (*n, d.to_string())).collect();
    tokio::spawn(async move {
        for (n, digits) in steps {
            // Yield rather than sleep: an unpaced writer must not run far past frame n.
            while out.lock().len() < n {
                tokio::task::yield_now().await;
            }
            for d in digits.chars() {
                q.push_lossy(Frame::Dtmf(d, Duration::from_millis(100)));
            }
        }
    });
}

const AUTH_SOUNDS: &[&str] = &[
    "agent-pass",
    "auth-incorrect",
    "auth-thankyou",
    "vm-goodbye",
];

#[tokio::test]
async fn authenticate_fixed_password_three_tries() {
    let mut r = rig("");
    sounds(&r, AUTH_SOUNDS);
    digits_after(&r, &[(1, "1234#")]);
    assert!(r.run("Authenticate", "1234,a").await.is_ok());
    assert_eq!(said(&r, AUTH_SOUNDS), ["agent-pass", "auth-thankyou"]);
    assert_eq!(r.chan.accountcode, "1234");
    r.out.lock().clear();
    digits_after(&r, &[(1, "1#"), (2, "2#"), (3, "3#")]);
    assert_eq!(r.run("Authenticate", "1234").await, Err(Hangup));
    assert_eq!(
        said(&r, AUTH_SOUNDS),
        [
            "agent-pass",
            "auth-incorrect",
            "auth-incorrect",
            "vm-goodbye"
        ]
    );
    // Digits pressed during a prompt interrupt it.
    r.out.lock().clear();
    r.digits("1234#");
    assert!(r.run("Authenticate", "1234").await.is_ok());
    assert_eq!(said(&r, AUTH_SOUNDS), ["auth-thankyou"]);
    // maxdigits ends the entry without #; a prompt of our own.
    r.out.lock().clear();
    digits_after(&r, &[(1, "42")]);
    assert!(r.run("Authenticate", "42,,2,vm-goodbye").await.is_ok());
    assert_eq!(said(&r, AUTH_SOUNDS), ["vm-goodbye", "auth-thankyou"]);
    assert_eq!(r.run("Authenticate", "").await, Err(Hangup));
}

#[tokio::test]
async fn authenticate_against_a_file_and_astdb() {
    let mut r = rig("");
    let plain = r.dir.path().join("pw");
    std::fs::write(&plain, "111\n222\n").unwrap_or_else(|e| panic!("{e}"));
    r.digits("222#");
    assert!(r
        .run("Authenticate", &format!("{},a", plain.display()))
        .await
        .is_ok());
    assert_eq!(r.chan.accountcode, "222");
    // m: account:md5(password); a sets the account code of the line.
    let md5 = r.dir.path().join("md5");
    std::fs::write(&md5, "sales:81dc9bdb52d04dc20036dbd8313ed055\n")
        .unwrap_or_else(|e| panic!("{e}"));
    r.digits("1234#");
    assert!(r
        .run("Authenticate", &format!("{},am", md5.display()))
        .await
        .is_ok());
    assert_eq!(r.chan.accountcode, "sales");
    // d: an AstDB key; r removes it.
    let _ = r.chan.pbx.astdb.put("pin", "100", "x");
    r.digits("100#");
    assert!(r.run("Authenticate", "/pin,dr").await.is_ok());
    assert_eq!(r.chan.pbx.astdb.get("pin", "100"), None);
    r.digits("100#100#100#");
    assert_eq!(r.run("Authenticate", "/pin,d").await, Err(Hangup));
    // A file that cannot be read: a warning, and the tries run out.
    r.digits("1#1#1#");
    assert_eq!(r.run("Authenticate", "/nonexistent/pw").await, Err(Hangup));
}

#[tokio::test]
async fn disa_checks_the_passcode_then_dials_in_the_context() {
    let mut r = rig(EXTENS);
    r.digits("1234#5");
    assert!(r.run("DISA", "1234,t,\"Boss\" <100>").await.is_ok());
    assert!(r.chan.is_up());
    assert_eq!(
        (
            r.chan.context.as_str(),
            r.chan.exten.as_str(),
            r.chan.priority
        ),
        ("t", "5", 1)
    );
    assert_eq!(r.chan.caller.num.as_deref(), Some("100"));
    assert_eq!(r.chan.caller.name.as_deref(), Some("Boss"));
    assert_eq!(r.chan.accountcode, "1234");
    assert!(r.chan.background.is_none(), "the dial tone stopped");
    // no-password: straight to the extension; p ends it with #.
    r.digits("12#");
    assert!(r.run("DISA", "no-password,t,,,p").await.is_ok());
    assert_eq!(r.chan.exten, "12");
    // A passcode file gives the context.
    let f = r.dir.path().join("disa");
    std::fs::write(&f, "; codes\n777,noi\n").unwrap_or_else(|e| panic!("{e}"));
    r.digits("777#7");
    assert!(r.run("DISA", &format!("{}", f.display())).await.is_ok());
    assert_eq!(
        (r.chan.context.as_str(), r.chan.exten.as_str()),
        ("noi", "7")
    );
    assert_eq!(r.run("DISA", "").await, Err(Hangup));
}

#[tokio::test]
async fn disa_bad_passcode_plays_congestion_until_hangup() {
    let mut r = rig(EXTENS);
    r.digits("99#");
    let (shared, out) = (r.chan.shared.clone(), r.out.clone());
    // Hang up once congestion is heard (480+620 Hz 250 ms on, 250 off).
    tokio::spawn(async move {
        while out.lock().len() < 40 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        shared.request_hangup(16);
    });
    assert_eq!(r.run("DISA", "1234,t").await, Err(Hangup));
    assert_eq!(r.chan.context, "t");
    assert_eq!(r.chan.exten, "s", "no extension was dialed");
}

fn quiet_frames(n: usize) -> Vec<Vec<i16>> {
    vec![vec![100; FRAME_SAMPLES]; n]
}

/// Whether the digit queued after the audio is still waiting (the app stopped before it).
fn digit_left(r: &Rig) -> bool {
    std::iter::from_fn(|| r.media.from_far.try_pop()).any(|f| matches!(f, Frame::Dtmf(..)))
}

#[tokio::test]
async fn waitforsilence_needs_a_whole_run_of_silence() {
    let mut r = rig("");
    // 200 ms quiet (too short), 100 ms of talk, then 320 ms quiet.
    r.voice(&quiet_frames(10));
    r.voice(&loud(5, 0));
    r.voice(&quiet_frames(16));
    r.digits("5");
    assert!(r.run("WaitForSilence", "300").await.is_ok());
    assert!(r.chan.is_up(), "answers");
    assert_eq!(r.var("WAITSTATUS").as_deref(), Some("SILENCE"));
    assert!(
        digit_left(&r),
        "returned as soon as 300 ms of silence were heard"
    );
    // Two iterations of 100 ms.
    r.voice(&quiet_frames(5));
    r.voice(&loud(1, 0));
    r.voice(&quiet_frames(5));
    r.digits("5");
    assert!(r.run("WaitForSilence", "100,2").await.is_ok());
    assert!(digit_left(&r));
    // Without any audio (a channel sending nothing) the wait is silence too.
    assert!(r.run("WaitForSilence", "20").await.is_ok());
    assert_eq!(r.var("WAITSTATUS").as_deref(), Some("SILENCE"));
}

#[tokio::test]
async fn waitfornoise_and_timeouts() {
    let mut r = rig("");
    r.voice(&loud(10, 0));
    r.voice(&quiet_frames(5));
    r.voice(&loud(15, 0));
    r.digits("5");
    assert!(r.run("WaitForNoise", "300").await.is_ok());
    assert_eq!(r.var("WAITSTATUS").as_deref(), Some("NOISE"));
    assert!(digit_left(&r));
    assert!(r.run("WaitForNoise", "100,1,1").await.is_ok());
    assert_eq!(r.var("WAITSTATUS").as_deref(), Some("TIMEOUT"));
    // Bad arguments: Asterisk's error and -1.
    assert_eq!(r.run("WaitForSilence", "abc").await, Err(Hangup));
    assert_eq!(r.run("WaitForSilence", "100,0").await, Err(Hangup));
    assert_eq!(r.run("WaitForNoise", "100,1,-1").await, Err(Hangup));
    r.chan.shared.request_hangup(16);
    assert_eq!(r.run("WaitForSilence", "100").await, Err(Hangup));
    assert_eq!(r.var("WAITSTATUS").as_deref(), Some("HANGUP"));
}

const TALK: &str = "[t]\nexten => s,1,NoOp\nexten => talk,1,NoOp\nexten => 5,1,NoOp\n[notalk]\nexten => s,1,NoOp\n";

#[tokio::test]
async fn backgrounddetect_jumps_to_talk_after_talk_and_silence() {
    let mut r = rig(TALK);
    r.sound("greeting", &[4; FRAME_SAMPLES * 100]);
    // 200 ms of talk, then 320 ms of silence (sil 300).
    r.voice(&loud(10, 0));
    r.voice(&quiet_frames(16));
    assert!(r.run("BackgroundDetect", "greeting,300").await.is_ok());
    assert_eq!((r.chan.exten.as_str(), r.chan.priority), ("talk", 1));
    assert_eq!(r.var("TALK_DETECTED").as_deref(), Some("220"));
    assert!(r.frames_out() < 100, "the greeting was cut");
    // Too short for min: the greeting plays to its end.
    r.chan.exten = "s".into();
    r.out.lock().clear();
    r.voice(&loud(3, 0));
    r.voice(&quiet_frames(16));
    assert!(r.run("BackgroundDetect", "greeting,300,100").await.is_ok());
    assert_eq!(r.chan.exten, "s");
    assert_eq!(r.frames_out(), 100);
    // A digit that starts an extension dials it.
    r.digits("5");
    assert!(r.run("BackgroundDetect", "greeting").await.is_ok());
    assert_eq!(r.chan.exten, "5");
    // No talk extension: TALK_DETECTED is set and the dialplan goes on.
    r.chan.context = "notalk".into();
    r.chan.exten = "s".into();
    r.voice(&loud(10, 0));
    r.voice(&quiet_frames(16));
    assert!(r.run("BackgroundDetect", "greeting,300").await.is_ok());
    assert_eq!(r.chan.exten, "s");
    assert_eq!(r.run("BackgroundDetect", "").await, Err(Hangup));
    assert!(r.run("BackgroundDetect", "nosuchfile").await.is_ok());
}

/// A prompt of `n` frames, frame i all samples `i + 1`.
fn numbered(r: &Rig, name: &str, n: usize) {
    let s: Vec<i16> = (0..n)
        .flat_map(|i| [(i + 1) as i16; FRAME_SAMPLES])
        .collect();
    r.sound(name, &s);
}

/// The frame numbers (from 0) that went out.
fn frame_numbers(r: &Rig) -> Vec<usize> {
    r.audio_out()
        .chunks(FRAME_SAMPLES)
        .map(|f| f[0] as usize - 1)
        .collect()
}

#[tokio::test]
async fn controlplayback_plays_and_seeks() {
    let mut r = rig("");
    numbered(&r, "long", 400);
    assert!(r.run("ControlPlayback", "long").await.is_ok());
    assert_eq!(frame_numbers(&r), (0..400).collect::<Vec<_>>());
    assert_eq!(r.var("CPLAYBACKSTATUS").as_deref(), Some("SUCCESS"));
    assert_eq!(r.var("CPLAYBACKOFFSET").as_deref(), Some("-1"));
    // # skips 3000 ms (150 frames) ahead.
    r.out.lock().clear();
    r.digits("#");
    assert!(r.run("ControlPlayback", "long").await.is_ok());
    assert_eq!(frame_numbers(&r).first(), Some(&150));
    assert_eq!(r.frames_out(), 250);
    // skipms 1000, fast-forward then rewind: back at the start; o() starts at 1 s.
    r.out.lock().clear();
    r.digits("#*");
    assert!(r
        .run("ControlPlayback", "long,1000,,,,,,o(1000)")
        .await
        .is_ok());
    assert_eq!(frame_numbers(&r).first(), Some(&50));
    assert_eq!(r.frames_out(), 350);
    // Other digits are ignored.
    r.out.lock().clear();
    r.digits("5");
    assert!(r.run("ControlPlayback", "long").await.is_ok());
    assert_eq!(r.frames_out(), 400);
}

#[tokio::test]
async fn controlplayback_stop_pause_and_restart_keys() {
    let mut r = rig("");
    numbered(&r, "long", 400);
    digits_after(&r, &[(20, "5")]);
    assert!(r.run("ControlPlayback", "long,,,,5").await.is_ok());
    assert_eq!(r.var("CPLAYBACKSTATUS").as_deref(), Some("USERSTOPPED"));
    assert_eq!(r.var("CPLAYBACKSTOPKEY").as_deref(), Some("5"));
    let off: usize = r
        .var("CPLAYBACKOFFSET")
        .unwrap_or_default()
        .parse()
        .unwrap_or(0);
    assert!(
        (400..8000).contains(&off) && off.is_multiple_of(20),
        "offset {off}"
    );
    assert!(r.frames_out() < 400);
    // Paused by 7, resumed by 7: everything plays once.
    r.out.lock().clear();
    r.digits("77");
    assert!(r.run("ControlPlayback", "long,,,,5,7").await.is_ok());
    assert_eq!(frame_numbers(&r), (0..400).collect::<Vec<_>>());
    // Paused, then stopped.
    r.out.lock().clear();
    r.digits("75");
    assert!(r.run("ControlPlayback", "long,,,,5,7").await.is_ok());
    assert_eq!(r.var("CPLAYBACKSTATUS").as_deref(), Some("USERSTOPPED"));
    assert_eq!(r.var("CPLAYBACKOFFSET").as_deref(), Some("0"));
    // 9 restarts from the beginning.
    r.out.lock().clear();
    digits_after(&r, &[(20, "9")]);
    assert!(r.run("ControlPlayback", "long,,,,,,9").await.is_ok());
    assert!(r.frames_out() > 400);
    assert_eq!(frame_numbers(&r).iter().filter(|&&n| n == 0).count(), 2);
    // A missing file: ERROR; no file at all: hang up.
    assert!(r.run("ControlPlayback", "nosuch").await.is_ok());
    assert_eq!(r.var("CPLAYBACKSTATUS").as_deref(), Some("ERROR"));
    assert_eq!(r.run("ControlPlayback", "").await, Err(Hangup));
}

#[tokio::test]
async fn morsecode_plays_dits_dahs_and_spaces() {
    let mut r = rig("");
    r.chan.set_var("MORSEDITLEN", "20");
    assert!(r.run("Morsecode", "ET").await.is_ok());
    // E: dit + 3 dits of space; T: dah + 3 dits of space (one frame a dit).
    let pattern: Vec<bool> = r.out.lock().iter().map(|f| !is_silent(f)).collect();
    assert_eq!(
        pattern,
        [true, false, false, false, true, true, true, false, false, false]
    );
    // The space tone fills the gaps; a nonzero MORSETONE pitch is heard.
    r.out.lock().clear();
    r.chan.set_var("MORSESPACETONE", "400");
    assert!(r.run("Morsecode", "E").await.is_ok());
    assert!(r.out.lock().iter().all(|f| !is_silent(f)));
    // American Morse: L is a long dash (6 dits).
    r.out.lock().clear();
    r.chan.set_var("MORSESPACETONE", "0");
    r.chan.set_var("MORSETYPE", "AMERICAN");
    assert!(r.run("Morsecode", "L").await.is_ok());
    assert_eq!(r.frames_out(), 10);
    // Default dit of 80 ms: E lasts 4 x 80 ms = 16 frames.
    r.out.lock().clear();
    r.chan.set_var("MORSEDITLEN", "");
    r.chan.set_var("MORSETYPE", "");
    assert!(r.run("Morsecode", "E").await.is_ok());
    assert_eq!(r.frames_out(), 16);
    // No argument: a warning, nothing played, the dialplan goes on.
    r.out.lock().clear();
    assert!(r.run("Morsecode", "").await.is_ok());
    assert_eq!(r.frames_out(), 0);
}

#[tokio::test]
async fn mixmonitor_records_both_directions_mixed_until_stopped() {
    let mut r = rig("");
    let dir = r.dir.path().to_path_buf();
    let file = dir.join("mm.wav");
    let (rx_file, tx_file, touched) = (dir.join("rx.sln"), dir.join("tx.wav"), dir.join("done"));
    let args = format!(
        "{},i(MID)r({})t({}),touch {}",
        file.display(),
        rx_file.display(),
        tx_file.display(),
        touched.display()
    );
    assert!(r.run("MixMonitor", &args).await.is_ok());
    assert_eq!(
        r.var("MIXMONITOR_FILENAME").as_deref(),
        Some(file.display().to_string().as_str())
    );
    let id = r.var("MID").unwrap_or_default();
    assert!(id.starts_with("0x"), "{id}");
    let f = r
        .chan
        .pbx
        .funcs
        .get("MIXMONITOR")
        .unwrap_or_else(|| panic!("no MIXMONITOR"));
    assert_eq!(
        f.read(&mut r.chan, &format!("{id},filename")).ok(),
        Some(file.display().to_string())
    );
    assert!(f.read(&mut r.chan, "0xnope,filename").is_err());
    // The caller says 5 frames; the channel plays 5 frames of 9 to it.
    let said = loud(5, 0);
    r.voice(&said);
    r.sound("nine", &[9; FRAME_SAMPLES * 5]);
    assert!(r.run("Playback", "nine").await.is_ok());
    assert!(r.run("StopMixMonitor", &id).await.is_ok());
    assert!(touched.exists(), "the command ran when the recording ended");
    let want: Vec<i16> = flat(&said).iter().map(|s| s.saturating_add(9)).collect();
    assert_eq!(read_back(&file), want);
    assert_eq!(read_back(&tx_file), vec![9; FRAME_SAMPLES * 5]);
    let rx = std::fs::read(&rx_file).unwrap_or_default();
    assert_eq!(rx.len(), FRAME_SAMPLES * 5 * 2);
    // Stopped: nothing more is recorded; MIXMONITOR no longer knows the ID.
    assert!(f.read(&mut r.chan, &format!("{id},filename")).is_err());
    // a: a second recording appends to the file.
    assert!(r
        .run("MixMonitor", &format!("{},a", file.display()))
        .await
        .is_ok());
    r.voice(&loud(2, 0));
    assert!(r.run("Playback", "nine").await.is_ok());
    assert!(r.run("StopMixMonitor", "").await.is_ok());
    assert_eq!(read_back(&file).len(), FRAME_SAMPLES * 10);
    // Bad arguments are warnings only.
    assert!(r.run("MixMonitor", "").await.is_ok());
    assert!(r.run("StopMixMonitor", "0xnope").await.is_ok());
}

#[tokio::test]
async fn mixmonitor_relative_names_go_to_the_monitor_directory() {
    let mut r = rig("");
    assert!(r.run("MixMonitor", "call.wav").await.is_ok());
    let want = r.chan.pbx.settings.astspooldir.join("monitor/call.wav");
    assert_eq!(
        r.var("MIXMONITOR_FILENAME").as_deref(),
        Some(want.display().to_string().as_str())
    );
    r.voice(&loud(3, 0));
    assert!(r.run("StopMixMonitor", "").await.is_ok());
    assert_eq!(read_back(&want).len(), FRAME_SAMPLES * 3);
}

#[tokio::test]
async fn read_i_plays_an_indication_until_the_first_digit() {
    let mut r = rig("");
    r.digits("12#");
    assert!(r.run("Read", "V,dial,,i").await.is_ok());
    assert_eq!(r.var("V").as_deref(), Some("12"));
    assert_eq!(r.var("READSTATUS").as_deref(), Some("OK"));
    assert!(
        r.chan.background.is_none(),
        "the digit stopped the dial tone"
    );
    // Not a tone name: played as a file.
    r.sound("prompt", &[2; FRAME_SAMPLES]);
    r.out.lock().clear();
    assert!(r.run("Read", "V,prompt,1,i,1,0.05").await.is_ok());
    assert_eq!(r.frames_out(), 1);
    assert_eq!(r.var("READSTATUS").as_deref(), Some("TIMEOUT"));
}

// ---- Directory() ----

const DIR_CONF: &str = "[general]\n[default]\n1001 => 1234,Alice Smith\n1002 => 1234,Bob Smithers\n1003 => 1234,Carol Jones,,,hidefromdir=yes\n";

fn dir_rig() -> Rig {
    let r = rig("[t]\nexten => 1001,1,NoOp()\nexten => 1002,1,NoOp()\nexten => o,1,NoOp()\n");
    std::fs::write(r.dir.path().join("voicemail.conf"), DIR_CONF).unwrap_or_else(|e| panic!("{e}"));
    r
}

#[tokio::test]
async fn directory_selects_by_last_name() {
    let mut r = dir_rig();
    // Alice's recorded name announces her.
    let greet = r.dir.path().join("spool/voicemail/default/1001/greet.wav");
    std::fs::create_dir_all(greet.parent().unwrap()).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(&greet, wav::wav_bytes(&loud(2, 900).concat()))
        .unwrap_or_else(|e| panic!("{e}"));
    let mut log = r.chan.pbx.log_tx.subscribe();
    r.digits("7641");
    r.run("Directory", "default,t")
        .await
        .unwrap_or_else(|_| panic!("hangup"));
    let mut played = Vec::new();
    while let Ok(l) = log.try_recv() {
        played.push(l.text);
    }
    assert!(
        played.iter().any(|l| l.contains("1001/greet")),
        "the recorded name was not played: {played:?}"
    );
    assert_eq!(r.var("DIRECTORY_RESULT").as_deref(), Some("SELECTED"));
    assert_eq!(
        (
            r.chan.context.as_str(),
            r.chan.exten.as_str(),
            r.chan.priority
        ),
        ("t", "1001", 1)
    );
}

#[tokio::test]
async fn directory_star_skips_and_pound_exits() {
    let mut r = dir_rig();
    r.digits("764*1");
    r.run("Directory", "default,t")
        .await
        .unwrap_or_else(|_| panic!("hangup"));
    assert_eq!(r.chan.exten, "1002");
    let mut r = dir_rig();
    r.digits("764#");
    r.run("Directory", "default,t")
        .await
        .unwrap_or_else(|_| panic!("hangup"));
    assert_eq!(r.var("DIRECTORY_RESULT").as_deref(), Some("USEREXIT"));
    assert_eq!(r.chan.exten, "s");
}

#[tokio::test]
async fn directory_skip_option_menu_first_name_and_operator() {
    let mut r = dir_rig();
    r.digits("7641");
    r.run("Directory", "default,t,s")
        .await
        .unwrap_or_else(|_| panic!("hangup"));
    assert_eq!(r.var("DIRECTORY_EXTEN").as_deref(), Some("1001"));
    assert_eq!(r.chan.exten, "s");
    // A menu of both matches: 2 picks the second.
    let mut r = dir_rig();
    r.digits("7642");
    r.run("Directory", "default,t,m")
        .await
        .unwrap_or_else(|_| panic!("hangup"));
    assert_eq!(r.chan.exten, "1002");
    // By first name with two digits: BO.
    let mut r = dir_rig();
    r.digits("261");
    r.run("Directory", "default,t,f(2)")
        .await
        .unwrap_or_else(|_| panic!("hangup"));
    assert_eq!(r.chan.exten, "1002");
    // 0 goes to the o extension.
    let mut r = dir_rig();
    r.digits("0");
    r.run("Directory", ",t")
        .await
        .unwrap_or_else(|_| panic!("hangup"));
    assert_eq!(r.var("DIRECTORY_RESULT").as_deref(), Some("OPERATOR"));
    assert_eq!(r.chan.exten, "o");
    // The caller hangs up.
    let mut r = dir_rig();
    r.chan.shared.request_hangup(16);
    assert_eq!(r.run("Directory", "default,t").await, Err(Hangup));
    assert_eq!(r.var("DIRECTORY_RESULT").as_deref(), Some("HANGUP"));
}

// ---- Dictate() ----

/// Frames from a script: a key (`0-9*#`), `v` one frame of silence, `Ln` n loud frames
/// (from value `start`). Prompts (found in the system's sounds, or missing) drop the audio
/// that arrives while they play, so each prompt the machine plays is ended by a `5`,
/// which Dictate ignores.
fn dictation(script: &str, start: i16) -> Vec<Frame> {
    let key = |d: char| Frame::Dtmf(d, Duration::from_millis(100));
    let mut out = Vec::new();
    for w in script.split_whitespace() {
        if w == "v" {
            out.push(Frame::voice(vec![0; FRAME_SAMPLES]));
        } else if let Some(n) = w.strip_prefix('L') {
            let n: usize = n.parse().unwrap_or_else(|e| panic!("{e}"));
            out.extend(loud(n, start).into_iter().map(Frame::voice));
        } else {
            out.extend(w.chars().map(key));
        }
    }
    out
}

#[tokio::test]
async fn dictate_records_appends_truncates_and_plays_back() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let file = dir.path().join("dict/memo.raw");
    let data = format!("{},memo", dir.path().join("dict").display());
    let len = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let session = |script: &str, start: i16| {
        let r = rig("");
        r.feed(dictation(script, start));
        r
    };
    // 1: record mode (paused); * resumes; five frames are recorded; # ends.
    let mut r = session("1 v 5 * 5 L5 #", 100);
    r.run("Dictate", &data)
        .await
        .unwrap_or_else(|_| panic!("hangup"));
    assert_eq!(len(&file), (5 * FRAME_SAMPLES * 2) as u64);
    // The next dictation into the same file is appended.
    let mut r = session("1 v 5 * 5 L2 #", 300);
    r.run("Dictate", &data)
        .await
        .unwrap_or_else(|_| panic!("hangup"));
    assert_eq!(len(&file), (7 * FRAME_SAMPLES * 2) as u64);
    // 8 in record mode truncates: the file then holds only the new audio. Then 1 goes
    // back to play mode, * resumes, and the three recorded frames are played.
    let mut r = session("1 8 v 5 5 * 5 L3 1 v 5 * 5 v v v #", 500);
    r.run("Dictate", &data)
        .await
        .unwrap_or_else(|_| panic!("hangup"));
    assert_eq!(len(&file), (3 * FRAME_SAMPLES * 2) as u64);
    let played = r.audio_out();
    let want: Vec<i16> = loud(3, 500).concat();
    assert!(
        played.windows(want.len()).any(|w| w == want.as_slice()),
        "the recording was not played back"
    );
}

/// The msg_id of message `n` of mailbox 100's INBOX.
fn msg_id(r: &Rig, n: u32) -> String {
    let txt = std::fs::read_to_string(inbox(r, "100").join(format!("msg{n:04}.txt")))
        .unwrap_or_else(|e| panic!("{e}"));
    txt.lines()
        .find_map(|l| l.strip_prefix("msg_id="))
        .unwrap_or_else(|| panic!("no msg_id: {txt}"))
        .to_string()
}

#[tokio::test]
async fn voicemailplaymsg_plays_the_message_by_id_and_only_then_marks_it_heard() {
    let mut r = vm_rig("", VM_CONF);
    for start in [0, 300] {
        talk(&r, &loud(60, start), "#");
        assert!(r.run("VoiceMail", "100,st()").await.is_ok());
    }
    let (first, second) = (msg_id(&r, 0), msg_id(&r, 1));
    assert_ne!(first, second);
    let want = read_back(&inbox(&r, "100").join("msg0001.wav"));
    r.out.lock().clear();
    assert!(r
        .run("VoiceMailPlayMsg", &format!("100@default,{second}"))
        .await
        .is_ok());
    assert_eq!(
        r.var("VOICEMAIL_PLAYBACKSTATUS").as_deref(),
        Some("SUCCESS")
    );
    let got = r.audio_out();
    assert!(
        got.len() >= want.len() && got[..want.len()] == want[..],
        "the message's audio"
    );
    // Heard: it moved to Old (with its msg_id), the other one is still new.
    let old = r.dir.path().join("spool/voicemail/default/100/Old");
    let moved = std::fs::read_to_string(old.join("msg0000.txt")).unwrap_or_default();
    assert!(moved.contains(&format!("msg_id={second}")), "{moved}");
    assert_eq!(msg_id(&r, 0), first);
    // From Old it plays again and stays there.
    assert!(r
        .run("VoiceMailPlayMsg", &format!("100,{second}"))
        .await
        .is_ok());
    assert_eq!(
        r.var("VOICEMAIL_PLAYBACKSTATUS").as_deref(),
        Some("SUCCESS")
    );
    // Unknown id or mailbox: FAILED.
    assert!(r.run("VoiceMailPlayMsg", "100,nosuchid").await.is_ok());
    assert_eq!(r.var("VOICEMAIL_PLAYBACKSTATUS").as_deref(), Some("FAILED"));
    assert!(r
        .run("VoiceMailPlayMsg", &format!("999,{first}"))
        .await
        .is_ok());
    assert_eq!(r.var("VOICEMAIL_PLAYBACKSTATUS").as_deref(), Some("FAILED"));
    // Audio gone: FAILED, and the message stays new.
    std::fs::remove_file(inbox(&r, "100").join("msg0000.wav")).unwrap_or_else(|e| panic!("{e}"));
    assert!(r
        .run("VoiceMailPlayMsg", &format!("100,{first}"))
        .await
        .is_ok());
    assert_eq!(r.var("VOICEMAIL_PLAYBACKSTATUS").as_deref(), Some("FAILED"));
    assert_eq!(msg_id(&r, 0), first);
    // Missing arguments hang up, as in Asterisk.
    assert_eq!(r.run("VoiceMailPlayMsg", "100").await, Err(Hangup));
}

#[path = "media_tests_dsp.rs"]
mod dsp;

/// Digits `s` pressed after `ms` (PrivacyManager's first second drops what comes earlier).
fn digits_later(r: &Rig, ms: u64, s: &'static str) {
    let q = r.media.from_far.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        for d in s.chars() {
            q.push_lossy(Frame::Dtmf(d, Duration::from_millis(100)));
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
    });
}

#[tokio::test]
async fn privacymanager_asks_an_anonymous_caller_for_a_number() {
    let mut r = rig("[chk]\nexten => _555XXXX,1,NoOp()\n");
    r.chan.caller.num = None;
    // Too short, then not in the check context, then a number that is.
    digits_later(&r, 1300, "12#1234567#5551234#");
    r.run("PrivacyManager", "3,4,,chk")
        .await
        .expect("no hangup");
    assert_eq!(r.var("PRIVACYMGRSTATUS").as_deref(), Some("SUCCESS"));
    assert_eq!(r.chan.caller.num.as_deref(), Some("5551234"));
    assert_eq!(r.chan.caller.name.as_deref(), Some("Privacy Manager"));
    // A caller with a number is left alone.
    r.chan.vars.remove("PRIVACYMGRSTATUS");
    r.run("PrivacyManager", "").await.expect("no hangup");
    assert_eq!(r.var("PRIVACYMGRSTATUS"), None);
    // One try, too short: FAILED, the caller ID stays empty.
    r.chan.caller.num = Some(String::new());
    digits_later(&r, 1300, "12#");
    r.run("PrivacyManager", "1,4").await.expect("no hangup");
    assert_eq!(r.var("PRIVACYMGRSTATUS").as_deref(), Some("FAILED"));
    assert_eq!(r.chan.caller.num.as_deref(), Some(""));
}
