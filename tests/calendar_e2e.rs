//! End to end: `res_calendar.so` with its CalDAV and iCalendar back ends against a real
//! Radicale server (Debian's `radicale`, installed by contrib/test.sh) started on 127.0.0.1
//! by this test. Events are created over CalDAV (MKCALENDAR, PUT) the way a calendar client
//! would; ferrisk is driven through `-rx` and a dialplan that stores what the calendar
//! functions answer in AstDB.

mod common;

use common::{free_port, require_bin, wait_for, Daemon};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const USER: &str = "pbx";
const PASS: &str = "secret";

/// A Radicale server with one user and its own storage.
struct Radicale {
    child: Option<Child>,
    port: u16,
    conf: std::path::PathBuf,
}

impl Radicale {
    fn start(dir: &Path) -> Radicale {
        require_bin("radicale", "radicale");
        let port = free_port();
        std::fs::write(dir.join("users"), format!("{USER}:{PASS}\n")).expect("users");
        let conf = dir.join("radicale.conf");
        std::fs::write(
            &conf,
            format!(
                "[server]\nhosts = 127.0.0.1:{port}\n[auth]\ntype = htpasswd\nhtpasswd_filename = {}\n\
                 htpasswd_encryption = plain\n[storage]\nfilesystem_folder = {}\n[rights]\ntype = owner_only\n\
                 [logging]\nlevel = warning\n",
                dir.join("users").display(),
                dir.join("collections").display()
            ),
        )
        .expect("radicale.conf");
        let mut r = Radicale {
            child: None,
            port,
            conf,
        };
        r.run();
        r
    }

    /// Start (again) on the same port and storage; wait until it answers.
    fn run(&mut self) {
        // Debian's radicale runs under the system Python (see shared/notes/peers.md).
        self.child = Some(
            Command::new("/usr/bin/radicale")
                .arg("--config")
                .arg(&self.conf)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("radicale"),
        );
        let port = self.port;
        wait_for(20, "radicale to answer", || {
            TcpStream::connect(("127.0.0.1", port)).ok().map(|_| ())
        });
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// One HTTP/1.1 request with basic auth; (status, body).
    fn request(&self, method: &str, path: &str, ctype: &str, body: &str) -> (u16, String) {
        use base64::Engine as _;
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASS}"));
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect radicale");
        s.set_read_timeout(Some(Duration::from_secs(10))).ok();
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic {auth}\r\n\
             Content-Type: {ctype}\r\nDepth: 1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        s.write_all(req.as_bytes()).expect("send");
        let mut out = String::new();
        s.read_to_string(&mut out).ok();
        let status = out
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let body = out
            .split_once("\r\n\r\n")
            .map(|x| x.1)
            .unwrap_or("")
            .to_string();
        (status, body)
    }

    fn mkcalendar(&self, name: &str) {
        let (st, body) = self.request("MKCALENDAR", &format!("/{USER}/{name}/"), "text/xml", "");
        assert_eq!(st, 201, "MKCALENDAR {name}: {body}");
    }

    fn put_event(&self, cal: &str, uid: &str, vevent: &str) {
        let ics = format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//ferrisk tests//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\n\
             DTSTAMP:20260101T000000Z\r\n{vevent}END:VEVENT\r\nEND:VCALENDAR\r\n"
        );
        let (st, body) = self.request(
            "PUT",
            &format!("/{USER}/{cal}/{uid}.ics"),
            "text/calendar",
            &ics,
        );
        assert!(st == 201 || st == 204, "PUT {uid}: {st} {body}");
    }

    /// The calendar as one .ics (GET on the collection).
    fn get(&self, cal: &str) -> String {
        let (st, body) = self.request("GET", &format!("/{USER}/{cal}/"), "text/plain", "");
        assert_eq!(st, 200, "GET {cal}: {body}");
        body
    }
}

impl Drop for Radicale {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `20261206T101500Z`, `secs` from now.
fn at(secs: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::seconds(secs))
        .format("%Y%m%dT%H%M%SZ")
        .to_string()
}

const DIALPLAN: &str = "[cal]\n\
exten => busy,1,Set(DB(test/busy)=${CALENDAR_BUSY(work)})\n same => n,Hangup()\n\
exten => query,1,Set(id=${CALENDAR_QUERY(work)})\n\
 same => n,Set(DB(test/qnum)=${CALENDAR_QUERY_RESULT(${id},getnum)})\n\
 same => n,Set(DB(test/qsummary)=${CALENDAR_QUERY_RESULT(${id},summary,1)})\n same => n,Hangup()\n\
exten => write,1,Set(CALENDAR_WRITE(work,uid,summary,start,end)=written-1,Call from ${CALLERID(num)},${EPOCH},$[${EPOCH}+600])\n\
 same => n,Set(DB(test/written)=${CALENDAR_SUCCESS})\n same => n,Hangup()\n";

fn calendar_conf(r: &Radicale, extra: &str) -> String {
    format!(
        "[work]\ntype = caldav\nurl = {}\nuser = {USER}\nsecret = {PASS}\nrefresh = 1\ntimeframe = 120\n\
         fetch_again_at_reload = yes\n\n[feed]\ntype = ical\nurl = {}\nuser = {USER}\nsecret = {PASS}\n\
         refresh = 1\ntimeframe = 120\n{extra}",
        r.url(&format!("/{USER}/work/")),
        r.url(&format!("/{USER}/work/"))
    )
}

fn ferrisk(r: &Radicale) -> Daemon {
    Daemon::start_with(&[
        ("extensions.conf", DIALPLAN),
        ("calendar.conf", &calendar_conf(r, "")),
    ])
}

/// Run `exten@cal` on a Local channel and wait for AstDB `test/<key>`.
fn run(d: &Daemon, exten: &str, key: &str) -> String {
    let _ = d.rx(&format!("database del test {key}"));
    d.rx(&format!(
        "channel originate Local/{exten}@cal application Wait 1"
    ));
    d.wait_db("test", key)
}

fn status_of(d: &Daemon, cal: &str) -> String {
    d.rx("calendar show calendars")
        .lines()
        .find(|l| l.starts_with(cal))
        .map(|l| l.split_whitespace().last().unwrap_or("").to_string())
        .unwrap_or_default()
}

#[test]
fn caldav_and_ical_calendars_from_radicale() {
    let dir = common::tempdir();
    let mut rad = Radicale::start(dir.path());
    rad.mkcalendar("work");
    // Going on now; a daily meeting whose first instance was yesterday (today's instance
    // is going on); one that starts in 10 s and lasts 10 s; a free one.
    rad.put_event(
        "work",
        "now",
        &format!(
            "SUMMARY:Going on\r\nDTSTART:{}\r\nDTEND:{}\r\nLOCATION:Room 7\r\n",
            at(-60),
            at(3600)
        ),
    );
    rad.put_event(
        "work",
        "daily",
        &format!(
            "SUMMARY:Daily\r\nDTSTART:{}\r\nDTEND:{}\r\nRRULE:FREQ=DAILY;COUNT=3\r\n",
            at(-86_400 - 120),
            at(-86_400 + 600)
        ),
    );
    rad.put_event(
        "work",
        "free",
        &format!(
            "SUMMARY:Free time\r\nDTSTART:{}\r\nDTEND:{}\r\nTRANSP:TRANSPARENT\r\n",
            at(-60),
            at(600)
        ),
    );
    let d = ferrisk(&rad);
    assert!(d
        .rx("module show like calendar")
        .contains("res_calendar_caldav.so"));
    assert_eq!(
        d.rx("calendar show types"),
        "Type       Description                   \ncaldav     CalDAV calendars              \nical       iCalendar .ics calendars      \n"
    );
    wait_for(20, "both calendars fetched", || {
        let s = d.rx("calendar show calendar work") + &d.rx("calendar show calendar feed");
        (s.matches("Summary     : Going on").count() == 2).then_some(())
    });
    let shown = d.rx("calendar show calendar work");
    assert!(
        shown.starts_with("Name               : work                \nNotify channel     : "),
        "{shown}"
    );
    assert!(shown.contains("Refresh time      : 1\nTimeframe         : 120\nAutoreminder      : None\nEvents\n------\n"), "{shown}");
    assert!(shown.contains("Location    : Room 7"), "{shown}");
    assert!(shown.contains("Summary     : Daily"), "{shown}");
    assert!(shown.contains("Busy State  : Free"), "{shown}");
    let table = d.rx("calendar show calendars");
    assert!(
        table.starts_with(
            "Calendar             Type       Status\n--------             ----       ------\n"
        ),
        "{table}"
    );
    assert_eq!(status_of(&d, "work"), "busy");
    assert_eq!(status_of(&d, "feed"), "busy");
    assert_eq!(run(&d, "busy", "busy"), "1");

    // CALENDAR_QUERY: every event in the frame, by start.
    assert_eq!(run(&d, "query", "qnum"), "3");
    assert_eq!(d.wait_db("test", "qsummary"), "Daily");

    // CALENDAR_WRITE creates an event Radicale returns; ferrisk fetches it again at once.
    assert_eq!(run(&d, "write", "written"), "1");
    assert!(rad.get("work").contains("UID:written-1"));
    wait_for(20, "the written event fetched", || {
        d.rx("calendar show calendar work")
            .contains("UID         : written-1")
            .then_some(())
    });

    // The server goes away: the last events stay (still busy), one warning; it comes back.
    rad.stop();
    std::thread::sleep(Duration::from_secs(2));
    d.rx("module reload res_calendar.so");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(status_of(&d, "work"), "busy");
    assert!(d
        .rx("calendar show calendar work")
        .contains("Summary     : Going on"));
    rad.run();
    wait_for(30, "the calendar back", || {
        let log = d.console() + &d.stderr();
        log.contains("calendar 'work' answers again").then_some(())
    });
    let log = d.console() + &d.stderr();
    assert_eq!(
        log.matches("calendar 'work' could not be fetched").count(),
        1,
        "{log}"
    );
}

#[test]
fn busy_flips_when_an_event_starts_and_ends() {
    let dir = common::tempdir();
    let rad = Radicale::start(dir.path());
    rad.mkcalendar("work");
    rad.put_event(
        "work",
        "soon",
        &format!("SUMMARY:Soon\r\nDTSTART:{}\r\nDTEND:{}\r\n", at(6), at(12)),
    );
    let d = ferrisk(&rad);
    wait_for(20, "the calendar fetched", || {
        d.rx("calendar show calendar work")
            .contains("Summary     : Soon")
            .then_some(())
    });
    assert_eq!(run(&d, "busy", "busy"), "0");
    wait_for(15, "the event to start", || {
        (status_of(&d, "work") == "busy").then_some(())
    });
    assert_eq!(run(&d, "busy", "busy"), "1");
    wait_for(15, "the event to end", || {
        (status_of(&d, "work") == "free").then_some(())
    });
    assert_eq!(run(&d, "busy", "busy"), "0");
}

/// The seed's first `[AutomatedMeetingSetup]`: the calendar rings 1001 at the event's
/// alarm; when 1001 answers, the dialplan reads the event's location and dials that
/// device (1002), who answers and hangs up. `setvar` puts the summary in the caller name
/// 1001 sees.
const MEETING_V1: &str = "[AutomatedMeetingSetup]\n\
exten => start,1,Verbose(2,Triggering meeting setup for two participants)\n\
same => n,Set(DeviceToDial=${FILTER(0-9A-Za-z,${CALENDAR_EVENT(location)})})\n\
same => n,Dial(SIP/${DeviceToDial},30)\n\
same => n,Hangup()\n\
exten => h,1,Set(DB(test/dialstatus)=${DIALSTATUS})\n\
same => n,Set(DB(test/summary)=${CALENDAR_EVENT(summary)})\n";

fn sip_conf(port: u16) -> String {
    format!(
        "[general]\nbindaddr=127.0.0.1\nbindport={port}\ncontext=public\nallowguest=no\nrealm=ferrisk\n\
         disallow=all\nallow=ulaw\n\n[1001]\ntype=friend\nhost=dynamic\nsecret=pw1001\ncontext=phones\n\n\
         [1002]\ntype=friend\nhost=dynamic\nsecret=pw1002\ncontext=phones\n\n\
         [1003]\ntype=friend\nhost=dynamic\nsecret=pw1003\ncontext=phones\n"
    )
}

/// A SIPp phone registered as `user` that runs `answer` (uas_answer*.xml) on the call.
fn phone(sip: u16, user: &str, answer: &str) -> common::SippChild {
    common::Sipp::new("uas_registered.xml", Some(sip))
        .local_port(free_port())
        .service(user)
        .auth(user, &format!("pw{user}"))
        .key("expires", 600)
        .oocsf(answer)
        .timeout(90)
        .spawn()
}

/// A Radicale with one meeting (`summary`, `location`, `description`) that starts in 25 s
/// and whose alarm rings in about 5 s, and ferrisk (verbose 3) with SIP phones
/// 1001–1003, `dialplan`, and the calendar ringing SIP/1001 into
/// `AutomatedMeetingSetup`,`start`.
fn meeting(
    dir: &Path,
    location: &str,
    description: &str,
    dialplan: &str,
) -> (Radicale, Daemon, u16) {
    meeting_with(
        dir,
        location,
        description,
        dialplan,
        "context = AutomatedMeetingSetup\nextension = start\nwaittime = 20\n",
        "",
    )
}

/// [`meeting`] with `notify` (what the answered reminder runs, and waittime) for `[work]`,
/// and `more` calendar.conf text (`{url}` stands for the calendar's URL).
fn meeting_with(
    dir: &Path,
    location: &str,
    description: &str,
    dialplan: &str,
    notify: &str,
    more: &str,
) -> (Radicale, Daemon, u16) {
    let rad = Radicale::start(dir);
    rad.mkcalendar("work");
    rad.put_event(
        "work",
        "meeting",
        &format!(
            "SUMMARY:Board meeting\r\nLOCATION:{location}\r\nDESCRIPTION:{description}\r\n\
             DTSTART:{}\r\nDTEND:{}\r\n\
             BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:x\r\nTRIGGER:-PT20S\r\nEND:VALARM\r\n",
            at(25),
            at(600)
        ),
    );
    // No alarm: no call for this one.
    rad.put_event(
        "work",
        "quiet",
        &format!(
            "SUMMARY:Quiet\r\nDTSTART:{}\r\nDTEND:{}\r\n",
            at(30),
            at(90)
        ),
    );
    let url = rad.url(&format!("/{USER}/work/"));
    let sip = free_port();
    let base = common::free_ports(12);
    let rtp = base + (base & 1);
    let pbx_dir = common::tempdir();
    common::write_configs(
        pbx_dir.path(),
        &[
        ("ferrisk.conf", common::FERRISK_CONF_V3),
        ("extensions.conf", dialplan),
        ("sip.conf", &sip_conf(sip)),
        (
            "rtp.conf",
            &format!("[general]\nrtpstart={rtp}\nrtpend={}\n", rtp + 9),
        ),
        (
            "calendar.conf",
            &format!(
                "[work]\ntype = caldav\nurl = {url}\nuser = {USER}\nsecret = {PASS}\nrefresh = 1\ntimeframe = 60\n\
                 channel = SIP/1001\n{notify}setvar = CALLERID(name)=${{CALENDAR_EVENT(summary)}}\n\n{}",
                more.replace("{url}", &url),
            ),
        ),
    ]);
    // The prompts the seed's dialplans play (a second of tone each; Read only waits for
    // digits after prompts that exist, as Asterisk's).
    let sounds = pbx_dir.path().join("data/sounds");
    std::fs::create_dir_all(sounds.join("silence")).expect("sounds dir");
    for p in [
        "to-confirm-wakeup",
        "press-1",
        "otherwise",
        "press-2",
        "pls-rcrd-name-at-tone",
        "and-prs-pound-whn-finished",
        "vm-goodbye",
        "silence/1",
        "tt-weasels",
    ] {
        common::write_tone_wav(&sounds.join(format!("{p}.wav")), 1);
    }
    let d = Daemon::launch(pbx_dir);
    (rad, d, sip)
}

fn wait_registered(d: &Daemon, n: usize) {
    wait_for(15, "the phones registered", || {
        let p = d.rx("sip show peers");
        (p.lines().filter(|l| l.contains("127.0.0.1")).count() == n).then_some(())
    });
}

#[test]
fn an_alarm_rings_a_phone_and_sets_up_the_meeting() {
    let dir = common::tempdir();
    let (_rad, d, sip) = meeting(dir.path(), "1002", "", MEETING_V1);
    let organizer = phone(sip, "1001", "uas_answer.xml");
    let partner = phone(sip, "1002", "uas_answer_bye.xml");
    wait_registered(&d, 2);
    assert_eq!(d.wait_db("test", "dialstatus"), "ANSWER");
    assert_eq!(d.wait_db("test", "summary"), "Board meeting");
    let partner = partner.wait();
    partner.assert_ok("1002 is called with the event's location and answers");
    let organizer = organizer.wait();
    organizer.assert_ok("1001 is rung by the calendar and answers");
    let invite = organizer
        .requests("INVITE")
        .into_iter()
        .next()
        .expect("an INVITE to 1001");
    let from = invite.header("From").unwrap_or("").to_string();
    assert!(from.contains("Board meeting"), "From: {from}");
    let console = d.console();
    assert!(
        console.contains("Dialing SIP/1001 for notification on calendar work"),
        "{console}"
    );
    assert!(console.contains("answered Calendar/work-"), "{console}");
    // One call only: the event without an alarm rang nobody.
    assert_eq!(
        console.matches("for notification on calendar").count(),
        1,
        "{console}"
    );
}

/// The seed's second `[AutomatedMeetingSetup]`: the organizer confirms with 1, records an
/// invitation (ended with #); the partner hears it through `M(CheckConfirm)` and accepts
/// with 1; they are bridged.
const MEETING_V2: &str = "[AutomatedMeetingSetup]\n\
exten => start,1,Verbose(2,Triggering meeting setup for two participants)\n\
same => n,Read(CheckMeetingAcceptance,to-confirm-wakeup&press-1&otherwise&press-2,,1)\n\
same => n,GotoIf($[\"${CheckMeetingAcceptance}\" != \"1\"]?hangup,1)\n\
same => n,Playback(silence/1&pls-rcrd-name-at-tone&and-prs-pound-whn-finished)\n\
same => n,Set(__RandomNumber=${RAND()})\n\
same => n,Record(/tmp/meeting-invite-${RandomNumber}.ulaw)\n\
same => n,Set(DeviceToDial=${FILTER(0-9A-Za-z,${CALENDAR_EVENT(location)})})\n\
same => n,Dial(SIP/${DeviceToDial},30,M(CheckConfirm))\n\
same => n,Hangup()\n\
exten => hangup,1,Verbose(2,Call was rejected)\n\
same => n,Playback(vm-goodbye)\n\
same => n,Hangup()\n\
exten => h,1,Set(DB(test/dialstatus)=${DIALSTATUS})\n\
same => n,Set(DB(test/invite)=${RandomNumber})\n\
\n\
[macro-CheckConfirm]\n\
exten => s,1,Verbose(2,Allowing called party to accept or reject)\n\
same => n,Playback(/tmp/meeting-invite-${RandomNumber})\n\
same => n,Read(CheckMeetingAcceptance,to-confirm-wakeup&press-1&otherwise&press-2,,1)\n\
same => n,Set(DB(test/accepted)=${CheckMeetingAcceptance})\n\
same => n,GotoIf($[\"${CheckMeetingAcceptance}\" != \"1\"]?hangup,1)\n\
exten => hangup,1,Verbose(2,Call was rejected by called party)\n\
same => n,Playback(vm-goodbye)\n\
same => n,Hangup()\n";

#[test]
fn the_organizer_records_an_invitation_the_partner_accepts() {
    let dir = common::tempdir();
    let (_rad, d, sip) = meeting(dir.path(), "1002", "", MEETING_V2);
    let organizer = phone(sip, "1001", "uas_confirm_and_record.xml");
    let partner = phone(sip, "1002", "uas_accept_and_bye.xml");
    wait_registered(&d, 2);
    d.wait_console("Allowing called party to accept or reject", 1);
    assert_eq!(d.wait_db("test", "accepted"), "1");
    assert_eq!(d.wait_db("test", "dialstatus"), "ANSWER");
    partner
        .wait()
        .assert_ok("1002 hears the invitation, accepts and hangs up");
    organizer
        .wait()
        .assert_ok("1001 confirms, records and is bridged");
    let n = d.wait_db("test", "invite");
    let invite = std::path::PathBuf::from(format!("/tmp/meeting-invite-{n}.ulaw"));
    let len = std::fs::metadata(&invite).map(|m| m.len()).unwrap_or(0);
    // About 2.5 s of what 1001 said, 8,000 bytes a second.
    assert!(len > 8_000, "{} holds {len} bytes", invite.display());
    let _ = std::fs::remove_file(invite);
    let console = d.console();
    assert!(
        console.contains("Allowing called party to accept or reject"),
        "{console}"
    );
    assert!(!console.contains("Call was rejected"), "{console}");
}

/// The seed's conference `[AutomatedMeetingSetup]`: the description lists the participants
/// (`1002^1003`), the location is the MeetMe room; each participant is originated into
/// `_meetme-XXXX` through a Local channel, and the organizer joins as the marked user.
const MEETING_CONFERENCE: &str = "[AutomatedMeetingSetup]\n\
exten => start,1,Verbose(2,Calling multiple people and placing into a conference)\n\
same => n,Set(CalDescription=${CALENDAR_EVENT(description)})\n\
same => n,Set(_CalLocation=${CALENDAR_EVENT(location)})\n\
same => n,Set(X=1)\n\
same => n,Set(EndPoint=${CUT(CalDescription,^,${X})})\n\
same => n,While($[${EXISTS(${EndPoint})}])\n\
same => n,Set(ToDial=${IF($[${ISNULL(${ToDial})}]?:${ToDial}&)}Local/${EndPoint}@MeetingOriginator)\n\
same => n,Set(X=$[${X} + 1])\n\
same => n,Set(EndPoint=${CUT(CalDescription,^,${X})})\n\
same => n,EndWhile()\n\
same => n,GotoIf($[${ISNULL(${ToDial})}]?hangup)\n\
same => n,Dial(${ToDial})\n\
same => n,MeetMe(${CalLocation},dA)\n\
same => n(hangup),Hangup()\n\
\n\
[MeetingOriginator]\n\
exten => _[A-Za-z0-9].,1,NoOp()\n\
same => n,Set(Peer=${FILTER(A-Za-z0-9,${EXTEN})})\n\
same => n,Originate(SIP/${Peer},exten,MeetingOriginator,meetme-${CalLocation},1)\n\
same => n,Hangup()\n\
exten => _meetme-XXXX,1,Verbose(2,Joining a meeting)\n\
same => n,Answer()\n\
same => n,MeetMe(${EXTEN:7},dw)\n\
same => n,Hangup()\n";

#[test]
fn the_participants_are_called_into_a_conference() {
    let dir = common::tempdir();
    let (_rad, d, sip) = meeting(dir.path(), "1234", "1002^1003", MEETING_CONFERENCE);
    let organizer = phone(sip, "1001", "uas_answer.xml");
    let p2 = phone(sip, "1002", "uas_answer.xml");
    let p3 = phone(sip, "1003", "uas_answer.xml");
    wait_registered(&d, 3);
    let list = wait_for(40, "three in the conference", || {
        let l = d.rx("meetme list 1234 concise");
        (l.lines().count() == 3).then_some(l)
    });
    assert!(list.contains("SIP/1001-"), "{list}");
    assert!(
        list.contains("SIP/1002-") && list.contains("SIP/1003-"),
        "{list}"
    );
    assert_eq!(d.console().matches("Joining a meeting\n").count(), 2);
    d.rx("channel request hangup all");
    for (p, who) in [(organizer, "1001"), (p2, "1002"), (p3, "1003")] {
        p.wait().assert_ok(&format!("{who} was in the conference"));
    }
}

/// The seed's wake-up call (`app = Playback`): the answered reminder plays a prompt. A
/// second calendar rings a phone that never answers: it gives up after `waittime`.
#[test]
fn reminders_run_an_application_and_give_up_after_waittime() {
    let dir = common::tempdir();
    let (_rad, d, sip) = meeting_with(
        dir.path(),
        "",
        "",
        "[phones]\nexten => 1,1,Hangup()\n",
        "app = Playback\nappdata = tt-weasels\n",
        "[nobody]\ntype = caldav\nurl = {url}\nuser = pbx\nsecret = secret\nrefresh = 1\n\
         channel = SIP/1002\napp = Playback\nappdata = tt-weasels\nwaittime = 3\n",
    );
    let woken = phone(sip, "1001", "uas_answer.xml");
    let away = phone(sip, "1002", "uas_noanswer.xml");
    wait_registered(&d, 2);
    d.wait_console("Playing 'tt-weasels.wav'", 1);
    woken
        .wait()
        .assert_ok("1001 answers the wake-up call and is hung up after it");
    d.wait_console("Notification call for nobody was not completed", 1);
    away.wait()
        .assert_ok("1002 rings, and is cancelled after waittime");
    let console = d.console();
    assert!(
        console.contains("Dialing SIP/1002 for notification on calendar nobody"),
        "{console}"
    );
    assert_eq!(
        console.matches("Notification call for").count(),
        1,
        "{console}"
    );
}
