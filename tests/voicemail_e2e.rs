//! Voicemail end to end: the real `ferrisk` daemon, a real baresip phone leaving messages
//! with known audio through `VoiceMail()`, the spool it leaves (audio and metadata), and the
//! seed chapter's calendar dialplan running through to a stored message. Fails (never
//! skips) without `baresip`.

mod common;

use common::audio::*;
use common::smtp::{self, SmtpSink};
use common::*;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A daemon with one phone (1001, baresip) and voicemail.conf as given.
struct Vm {
    d: Daemon,
    sip: u16,
}

fn sip_conf(sip: u16) -> String {
    format!(
        "[general]\nbindaddr=127.0.0.1\nbindport={sip}\ncontext=public\nallowguest=no\n\
         realm=ferrisk\ndisallow=all\nallow=ulaw\n\n\
         [1001]\ntype=friend\nhost=dynamic\nsecret=pw1001\ncontext=phones\n\
         callerid=\"Alice Caller\" <1001>\nmailbox=100@default\n\n\
         [alice]\ntype=friend\nhost=dynamic\nsecret=alicepw\ncontext=phones\n\
         mailbox=100@default\n"
    )
}

fn start(extensions: &str, voicemail: &str) -> Vm {
    let sip = free_port();
    let base = free_ports(6);
    let rtp = base + (base & 1);
    let dir = tempdir();
    write_configs(
        dir.path(),
        &[
            ("ferrisk.conf", FERRISK_CONF_DATA),
            ("extensions.conf", extensions),
            ("sip.conf", &sip_conf(sip)),
            (
                "rtp.conf",
                &format!("[general]\nrtpstart={rtp}\nrtpend={}\n", rtp + 3),
            ),
            ("voicemail.conf", voicemail),
        ],
    );
    let sounds = dir.path().join("data/sounds");
    std::fs::create_dir_all(&sounds).expect("sounds dir");
    let beep = Path::new(env!("CARGO_MANIFEST_DIR")).join("sounds/beep.wav");
    std::fs::copy(beep, sounds.join("beep.wav")).expect("copy beep.wav");
    Vm {
        d: Daemon::launch(dir),
        sip,
    }
}

impl Vm {
    fn spool(&self) -> PathBuf {
        self.d.path().join("spool/voicemail")
    }

    /// A registered baresip phone 1001 sending `audio`.
    fn phone(&self, audio: &Path) -> Baresip {
        let mut b = Baresip::start_with(
            free_ports(3),
            &[format!(
                "<sip:1001@127.0.0.1:{}>;auth_pass=pw1001;regint=600",
                self.sip
            )],
            Some(audio),
            false,
        );
        b.wait_registered(10);
        b
    }

    /// Call `exten`, wait until a recording has been going for `secs`, hang up.
    fn leave_message(&self, b: &mut Baresip, exten: &str, mailbox_dir: &Path, secs: u64) {
        b.request("dial", &format!("sip:{exten}@127.0.0.1:{}", self.sip));
        b.wait_event("CALL_ESTABLISHED", 10);
        // VoiceMail() writes the message's metadata next to the recording when it starts.
        let tmp = mailbox_dir.join("tmp");
        wait_for(30, "the recording to start", || {
            std::fs::read_dir(&tmp).ok().and_then(|rd| {
                rd.filter_map(|e| e.ok())
                    .any(|e| e.path().extension().is_some_and(|x| x == "txt"))
                    .then_some(())
            })
        });
        std::thread::sleep(Duration::from_secs(secs));
        b.request("hangup", "");
        b.wait_event("CALL_CLOSED", 10);
    }
}

fn wait_file(p: &Path, secs: u64) {
    let t0 = Instant::now();
    while !p.exists() {
        assert!(
            t0.elapsed() < Duration::from_secs(secs),
            "{} did not appear",
            p.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn write_audio(dir: &Path, seed: u32, secs: usize) -> (PathBuf, Vec<i16>) {
    let s = speechlike(seed, 8000 * secs);
    let p = dir.join(format!("talk{seed}.wav"));
    std::fs::write(&p, ferrisk::media::wav::wav_bytes(&s)).expect("write audio");
    (p, s)
}

const EXTENSIONS: &str = "\
[general]
autofallthrough = yes

[phones]
exten => 100,1,VoiceMail(100@default,u)
 same => n,Set(DB(test/vmstatus)=${VMSTATUS})
 same => n,Hangup()
exten => 500,1,VoiceMailMain(100@default)
 same => n,Hangup()
exten => h,1,Set(DB(test/hangup_vmstatus)=${VMSTATUS})
";

/// voicemail.conf with mail to an SMTP sink on `port`.
fn voicemail_conf(port: u16) -> String {
    format!(
        "[general]\nformat=wav\nmaxsecs=60\nserveremail=pbx@example.com\n\
         fromstring=ferrisk PBX\nattach=yes\nsmtp_host=127.0.0.1\nsmtp_port={port}\n\
         smtp_retry_max=2\n\
         emailsubject=New voicemail ${{VM_MSGNUM}} in ${{VM_MAILBOX}} from ${{VM_CIDNUM}}\n\
         emailbody=Dear ${{VM_NAME}}:\\n\\ta ${{VM_DUR}} long message (number ${{VM_MSGNUM}}) from ${{VM_CALLERID}}\\n\n\n\
         [zonemessages]\ncentral=America/Chicago|'vm-received' Q 'digits/at' IMp\n\n\
         [default]\n100 => 0107,Leif Madsen,leif@example.com,,attach=yes|tz=central\n"
    )
}

#[test]
fn baresip_leaves_a_message_with_its_audio_and_metadata() {
    let dir = tempdir();
    let sink = SmtpSink::start_new(dir.path());
    let vm = start(EXTENSIONS, &voicemail_conf(sink.port));
    let (wav, sent) = write_audio(dir.path(), 21, 40);
    let mut b = vm.phone(&wav);
    let mbox = vm.spool().join("default/100");
    vm.leave_message(&mut b, "100", &mbox, 4);

    let txt = mbox.join("INBOX/msg0000.txt");
    wait_file(&txt, 10);
    let meta = std::fs::read_to_string(&txt).expect("read msg0000.txt");
    for want in [
        "[message]\n",
        "\norigmailbox=100\n",
        "\ncontext=phones\n",
        "\nexten=100\n",
        "\ncallerid=\"Alice Caller\" <1001>\n",
        "\ncallerchan=SIP/1001-",
        "\norigdate=",
        "\norigtime=",
    ] {
        assert!(meta.contains(want), "{want:?} missing in\n{meta}");
    }
    let duration: u32 = meta
        .lines()
        .find_map(|l| l.strip_prefix("duration="))
        .and_then(|v| v.parse().ok())
        .expect("duration=");
    assert!((3..=6).contains(&duration), "duration {duration}\n{meta}");

    let got = ferrisk::media::wav::read_wav(&mbox.join("INBOX/msg0000.wav")).expect("msg0000.wav");
    assert!(got.len() >= 8000 * 3, "{} samples recorded", got.len());
    let c = aligned_corr(&sent, &got, 16000);
    assert!(
        c >= 0.95,
        "message audio vs what baresip sent: correlation {c:.3} ({} samples)\n{}",
        got.len(),
        vm.d.stderr()
    );
    // The caller hung up while recording: the message is kept and VMSTATUS is SUCCESS.
    assert_eq!(vm.d.wait_db("test", "hangup_vmstatus"), "SUCCESS");
    assert!(vm
        .d
        .rx("voicemail show users")
        .contains("default    100   Leif Madsen               central         1"));

    // One mail to the owner, templated subject and body, the message's WAV attached.
    let mails = sink.wait_mails(1, 30);
    check_mail(&mails[0], &mbox.join("INBOX/msg0000.wav"));
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(sink.mails().len(), 1, "exactly one mail");
}

fn check_mail(m: &smtp::Mail, wav: &Path) {
    assert_eq!(
        m.header("Subject"),
        Some("New voicemail 1 in 100 from 1001"),
        "{:?}",
        m.headers
    );
    assert!(m
        .header("To")
        .is_some_and(|t| t.contains("leif@example.com")));
    assert!(m
        .header("From")
        .is_some_and(|t| t.contains("pbx@example.com")));
    let text = m.text();
    assert!(
        text.contains("Dear Leif Madsen:\n\ta 0:0")
            && text.contains("from \"Alice Caller\" <1001>"),
        "{text}"
    );
    let att = m.attachments();
    assert_eq!(att.len(), 1, "one attachment");
    assert_eq!(att[0].0, "msg0000.wav");
    assert_eq!(
        att[0].2,
        std::fs::read(wav).expect("read message wav"),
        "attached audio"
    );
}

#[test]
fn mail_sent_while_the_smtp_server_is_down_arrives_when_it_comes_up() {
    let dir = tempdir();
    let mut sink = SmtpSink::new(dir.path(), free_port());
    let vm = start(EXTENSIONS, &voicemail_conf(sink.port));
    let (wav, _) = write_audio(dir.path(), 23, 40);
    let mut b = vm.phone(&wav);
    let mbox = vm.spool().join("default/100");
    vm.leave_message(&mut b, "100", &mbox, 3);
    let msg = mbox.join("INBOX/msg0000.wav");
    wait_file(&mbox.join("INBOX/msg0000.txt"), 10);
    // The mail waits in the queue; the message is in the mailbox regardless.
    let queue = vm.d.path().join("spool/mailqueue");
    wait_for(20, "the mail to be queued", || {
        std::fs::read_dir(&queue).ok().and_then(|rd| {
            rd.filter_map(|e| e.ok())
                .any(|e| e.path().is_file())
                .then_some(())
        })
    });
    std::thread::sleep(Duration::from_secs(3));
    assert!(msg.is_file());
    assert!(sink.mails().is_empty());
    sink.start();
    let mails = sink.wait_mails(1, 30);
    check_mail(&mails[0], &msg);
    assert!(msg.is_file(), "the recording stays after mailing");
}

/// The seed chapter's "more complex" calendar dialplan (chapter 003), with CALENDAR_BUSY()
/// stubbed by a global variable (calendars come in a later issue) and the book's typographic
/// quotes as plain ones: no device answers, so the caller lands in VoiceMail(…@shifteight,u).
const SEED_EXTENSIONS: &str = r#"
[general]
autofallthrough = yes

[globals]
STUB_CALENDAR_BUSY=0

[phones]
exten => _3XXX,1,Verbose(2,Simple calendar busy check example)
 same => n,Set(CurrentExten=${EXTEN})
 same => n,GotoIf($[${DB_EXISTS(extension/${CurrentExten}/device)}]?:no_device,1)
 same => n,Set(CurrentDevice=${DB_RESULT})
 same => n,GotoIf($[${DB_EXISTS(extension/${CurrentExten}/calendar)}]?:no_calendar)
 same => n,Set(CalendarBusy=${STUB_CALENDAR_BUSY})
 same => n,GotoIf($[${CalendarBusy}]?voicemail,1)
 same => n(no_calendar),Verbose(2,No calendar was found for this user)
 same => n,Dial(SIP/${CurrentDevice},30)
 same => n,Goto(voicemail,1)

exten => voicemail,1,Verbose(2,Sending caller to voicemail)
 same => n,GotoIf($[${DB_EXISTS(extension/${CurrentExten}/voicemail_context)}]?:no_voicemail)
 same => n,Set(VoiceMailContext=${DB_RESULT})
 same => n,Set(VoiceMailStatus=${IF($["${DIALSTATUS}" = "BUSY" | 0${CalendarBusy}]?b:u)})
 same => n,Set(DB(test/vmflags)=${VoiceMailStatus})
 same => n,VoiceMail(${CurrentExten}@${VoiceMailContext},${VoiceMailStatus})
 same => n,Hangup()
 same => n(no_voicemail),Playback(number-not-answering)
 same => n,Hangup()

exten => no_device,1,Verbose(2,No device found in the DB)
 same => n,Hangup()
"#;

#[test]
fn seed_calendar_dialplan_runs_through_to_a_stored_message() {
    let vm = start(
        SEED_EXTENSIONS,
        "[general]\nmaxsecs=60\n\n[shifteight]\n3000 => 0107,Leif Madsen,,,|tz=central\n",
    );
    // extension/3000: a device that is not registered, a calendar, and the vm context.
    vm.d.rx("database put extension/3000 device 0000FFFF0002");
    vm.d.rx("database put extension/3000 calendar myGoogleCal");
    vm.d.rx("database put extension/3000 voicemail_context shifteight");
    let dir = tempdir();
    let (wav, sent) = write_audio(dir.path(), 22, 40);
    let mut b = vm.phone(&wav);
    let mbox = vm.spool().join("shifteight/3000");
    vm.leave_message(&mut b, "3000", &mbox, 3);
    let msg = mbox.join("INBOX/msg0000.txt");
    wait_file(&msg, 10);
    // Dial() found no such device (CHANUNAVAIL): the unavailable greeting.
    assert_eq!(vm.d.wait_db("test", "vmflags"), "u");
    let got = ferrisk::media::wav::read_wav(&mbox.join("INBOX/msg0000.wav")).expect("msg0000.wav");
    let c = aligned_corr(&sent, &got, 12000);
    assert!(c >= 0.95, "correlation {c:.3}\n{}", vm.d.stderr());

    // Calendar busy (stubbed): straight to voicemail with the busy greeting.
    vm.d.rx("dialplan set global STUB_CALENDAR_BUSY 1");
    vm.d.rx("database del test vmflags");
    vm.leave_message(&mut b, "3000", &mbox, 2);
    wait_file(&mbox.join("INBOX/msg0001.txt"), 10);
    assert_eq!(vm.d.wait_db("test", "vmflags"), "b");
}

/// The message light: a SIPp phone registered as a peer with `mailbox=100@default` gets
/// NOTIFY 0/0 at registration, 1/0 once baresip left a message with VoiceMail(), and 0/1 after
/// the owner listened to it in VoiceMailMain() (driven by baresip's RFC 2833 digits).
#[test]
fn mwi_follows_a_message_left_and_then_heard_in_voicemailmain() {
    let dir = tempdir();
    let sink = SmtpSink::start_new(dir.path());
    let vm = start(EXTENSIONS, &voicemail_conf(sink.port));
    let light = Sipp::new("uas_registered.xml", Some(vm.sip))
        .local_port(free_port())
        .service("alice")
        .auth("alice", "alicepw")
        .key("expires", 600)
        .oocsf("mwi_notify_uas.xml")
        .set("want", "0/1")
        .timeout(120)
        .spawn();
    let last_sent = |counts: &str| {
        let want = format!("LastMsgsSent : {counts}");
        vm.d.rx_until("sip show peer alice", 30, |o| o.contains(&want));
    };
    last_sent("0/0");
    let (wav, _) = write_audio(dir.path(), 24, 60);
    let mut b = vm.phone(&wav);
    let mbox = vm.spool().join("default/100");
    vm.leave_message(&mut b, "100", &mbox, 3);
    wait_file(&mbox.join("INBOX/msg0000.txt"), 10);
    last_sent("1/0");

    // The owner calls in: PIN, 1 (first message), then # to leave.
    b.request("dial", &format!("sip:500@127.0.0.1:{}", vm.sip));
    b.wait_event("CALL_ESTABLISHED", 10);
    std::thread::sleep(Duration::from_millis(1500));
    for d in "0107#".chars() {
        b.request("sndcode", &d.to_string());
        std::thread::sleep(Duration::from_millis(300));
    }
    std::thread::sleep(Duration::from_secs(3));
    b.request("sndcode", "1");
    std::thread::sleep(Duration::from_secs(12));
    b.request("sndcode", "#");
    std::thread::sleep(Duration::from_millis(500));
    b.request("sndcode", "#");
    b.wait_event("CALL_CLOSED", 30);
    wait_file(&mbox.join("Old/msg0000.txt"), 10);
    assert!(
        !mbox.join("INBOX/msg0000.txt").exists(),
        "heard message left INBOX"
    );
    last_sent("0/1");
    let r = light.wait();
    r.assert_ok("phone receiving MWI NOTIFYs");
    let seen = r.mwi_notifies();
    let pos = |want: &str| r.mwi_notify_position(want);
    let (a, b1, c) = (
        pos("0/0 waiting=no"),
        pos("1/0 waiting=yes"),
        pos("0/1 waiting=no"),
    );
    assert!(a < b1 && b1 < c, "NOTIFYs out of order: {seen:?}");
}

/// `voicemail reload`: a broken file is refused with file:line:column and the running
/// mailboxes stay; a good one replaces them. The table and zones as Asterisk prints them.
#[test]
fn voicemail_reload_keeps_the_running_config_on_errors() {
    let d = Daemon::start_with(&[
        ("extensions.conf", "[phones]\nexten => 1,1,Hangup()\n"),
        (
            "voicemail.conf",
            "[zonemessages]\ncentral=America/Chicago|'vm-received' Q 'digits/at' IMp\n\
             [default]\n100 => 1234,Leif Madsen,leif@example.com,,tz=central\n",
        ),
    ]);
    let users = d.rx("voicemail show users");
    assert_eq!(
        users,
        "Context    Mbox  User                      Zone       NewMsg\n\
         default    100   Leif Madsen               central         0\n\
         1 voicemail users configured.\n"
    );
    assert_eq!(
        d.rx("voicemail show zones"),
        "Zone            Timezone             Message Format                               \n\
         central         America/Chicago      'vm-received' Q 'digits/at' IMp              \n"
    );
    std::fs::write(
        d.path().join("voicemail.conf"),
        "[general]\nmaxmsg=lots\n[default]\n200 => 1,Someone Else\n",
    )
    .expect("write");
    let reply = d.rx("voicemail reload");
    // The error is also logged: as Asterisk's -rx, the reply carries that line too.
    assert!(
        reply.starts_with('[') && reply.contains("] ERROR["),
        "{reply}"
    );
    let out: String = reply
        .lines()
        .filter(|l| !l.contains("] ERROR["))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(
        out.starts_with("Reloading voicemail configuration...\n"),
        "{out}"
    );
    assert!(out.contains("voicemail.conf:2:"), "{out}");
    assert!(out.contains("keeping the running configuration"), "{out}");
    assert_eq!(d.rx("voicemail show users"), users);
    std::fs::write(
        d.path().join("voicemail.conf"),
        "[general]\nmaxmsg=10\n[other]\n200 => 1,Someone Else\n",
    )
    .expect("write");
    d.rx("voicemail reload");
    let now = d.rx("voicemail show users for other");
    assert!(now.contains("other      200   Someone Else"), "{now}");
    assert_eq!(
        d.rx("voicemail show users for default"),
        "No such voicemail context \"default\"\n"
    );
}
