//! XMPP end to end: the real `ferrisk` daemon with `res_xmpp.so` logged in to a real
//! Prosody (STARTTLS required, SASL), and a real XMPP client (slixmpp, tests/xmpp/person.py)
//! playing the person at the other end. SIP phones are SIPp. Every test has its own
//! Prosody, daemon and ports.

mod common;

use common::prosody::{Person, Prosody};
use common::*;

const PBX_USER: (&str, &str) = ("pbx", "pbxsecret");
const ALICE: (&str, &str) = ("alice", "alicesecret");

fn xmpp_conf(p: &Prosody, extra: &str) -> String {
    format!(
        "[general]\nautoregister=yes\nauth_policy=accept\n\n\
         [asterisk]\ntype=client\nserverhost=127.0.0.1\nport={port}\n\
         username={user}@{dom}\nsecret={secret}\npriority=1\nusetls=yes\nusesasl=yes\n\
         status=available\nstatusmessage=\"Ohai from ferrisk\"\ntimeout=5\n\
         buddy=alice@{dom}\n{extra}",
        port = p.port,
        user = PBX_USER.0,
        secret = PBX_USER.1,
        dom = p.domain,
    )
}

/// ferrisk on `dir` with verbose 3, this dialplan, xmpp.conf (+ `extra`) and more files.
fn start(
    dir: tempfile::TempDir,
    p: &Prosody,
    extra: &str,
    ext: &str,
    more: &[(&str, &str)],
) -> Daemon {
    let x = xmpp_conf(p, extra);
    let mut files = vec![
        ("ferrisk.conf", FERRISK_CONF_V3),
        ("extensions.conf", ext),
        ("xmpp.conf", x.as_str()),
    ];
    files.extend_from_slice(more);
    write_configs(dir.path(), &files);
    Daemon::launch(dir)
}

/// Wait until `xmpp show connections` shows the account connected.
fn wait_connected(d: &Daemon) -> String {
    d.rx_until("xmpp show connections", 30, |o| o.contains("- Connected"))
}

/// Run `exten@context` on a Local channel (the ;2 half runs the dialplan).
fn originate(d: &Daemon, exten: &str, context: &str) {
    let out = d.rx(&format!(
        "channel originate Local/{exten}@{context} application Wait 30"
    ));
    assert!(!out.contains("rror"), "originate: {out}");
}

/// The seed's extension 106: the person is asked by chat whether to take the call; "2"
/// sends it to voicemail.
const SCREENING: &str = "\
[general]
autofallthrough = yes

[screen]
exten => 106,1,Answer()
 same => n,JabberSend(asterisk,alice@localhost,Incoming call from ${CALLERID(all)}. Press 1 to answer, 2 for voicemail.)
 same => n,Set(JabberResponse=${JABBER_RECEIVE(asterisk,alice@localhost,20)})
 same => n,Set(DB(test/response)=${JabberResponse})
 same => n,GotoIf($[\"${JabberResponse}\" = \"1\"]?dial,1)
 same => n,GotoIf($[\"${JabberResponse}\" = \"2\"]?voicemail,1)
 same => n,Goto(dial,1)
exten => dial,1,Set(DB(test/route)=dial)
 same => n,Hangup()
exten => voicemail,1,Set(DB(test/route)=voicemail)
 same => n,VoiceMail(106@default,u)
 same => n,Hangup()

[status]
exten => s,1,Set(DB(test/status)=${JABBER_STATUS(asterisk,alice@localhost)})
 same => n,JabberStatus(asterisk,alice@localhost/laptop,ST)
 same => n,Set(DB(test/status_app)=${ST})
 same => n,Set(DB(test/stranger)=${JABBER_STATUS(asterisk,nobody@localhost)})

[send]
exten => s,1,JabberSend(asterisk,alice@localhost,ping ${EPOCH})
 same => n,Set(DB(test/after_send)=went on)

[rooms]
exten => join,1,JabberJoin(asterisk,lobby@conference.localhost,pbx)
exten => say,1,JabberSendGroup(asterisk,lobby@conference.localhost,hello lobby,pbx)
exten => leave,1,JabberLeave(asterisk,lobby@conference.localhost,pbx)
";

#[test]
fn jabber_send_then_receive_routes_the_call_as_the_person_answers() {
    let dir = tempdir();
    let prosody = Prosody::start(dir.path(), &[PBX_USER, ALICE]);
    let alice = Person::start(&prosody, ALICE.0, ALICE.1);
    let vm = "[general]\nformat=wav\n[default]\n106 => 1234,Alice,,\n";
    let sip_port = free_port();
    let sip = format!(
        "[general]\nbindaddr=127.0.0.1\nbindport={sip_port}\nrealm=ferrisk\nallowguest=no\n\
         disallow=all\nallow=ulaw\n\n[1000]\ntype=friend\nhost=dynamic\nsecret=s1000\n\
         callerid=\"Bob\" <1000>\ncontext=screen\n"
    );
    let d = start(
        dir,
        &prosody,
        "",
        SCREENING,
        &[("voicemail.conf", vm), ("sip.conf", &sip)],
    );
    let conns = wait_connected(&d);
    assert!(
        conns.contains("[asterisk] pbx@localhost     - Connected"),
        "{conns}"
    );
    assert!(conns.contains("Number of clients: 1"), "{conns}");

    // A SIP phone (SIPp, peer 1000) calls 106 and stays on until ferrisk hangs up.
    let call = Sipp::new("uac_call_recv_bye.xml", Some(sip_port))
        .local_port(free_port())
        .service("106")
        .key("from_user", "1000")
        .auth("1000", "s1000")
        .spawn();
    let (from, body) = alice.wait_message(20);
    assert!(from.starts_with("pbx@localhost/"), "from {from}");
    assert!(body.starts_with("Incoming call from"), "{body}");
    assert!(
        body.contains("<1000>"),
        "the caller's number is in the text: {body}"
    );
    assert!(
        body.contains("Press 1 to answer, 2 for voicemail."),
        "{body}"
    );
    alice.send("pbx@localhost", "2");
    assert_eq!(d.wait_db("test", "response"), "2");
    assert_eq!(d.wait_db("test", "route"), "voicemail");
    d.wait_console("VoiceMail(\"SIP/1000-", 1);
    d.rx("channel request hangup all");
    call.wait()
        .assert_ok("the call is answered, screened by chat and hung up by ferrisk");
}

#[test]
fn jabber_receive_times_out_empty_and_status_follows_presence() {
    let dir = tempdir();
    let prosody = Prosody::start(dir.path(), &[PBX_USER, ALICE]);
    let alice = Person::start(&prosody, ALICE.0, ALICE.1);
    let d = start(dir, &prosody, "", SCREENING, &[]);
    wait_connected(&d);
    // autoregister: the PBX subscribed to alice (she accepts), so her presence arrives.
    d.rx_until("xmpp show buddies", 20, |o| {
        o.contains("Buddy:\talice@localhost") && o.contains("Resource:")
    });
    alice.presence("away", "in a meeting");
    wait_for(20, "alice away", || {
        originate(&d, "s", "status");
        let s = d.wait_db("test", "status");
        let _ = d.rx("database del test status");
        (s == "3").then_some(())
    });
    assert_eq!(d.wait_db("test", "stranger"), "7");
    // Her resource is not called 'laptop': that one is offline.
    assert_eq!(d.wait_db("test", "status_app"), "6");

    // Nobody answers: JABBER_RECEIVE gives nothing after its timeout and the call goes on.
    d.write_extensions(&SCREENING.replace(
        "JABBER_RECEIVE(asterisk,alice@localhost,20)",
        "JABBER_RECEIVE(asterisk,alice@localhost,2)",
    ));
    d.rx("dialplan reload");
    originate(&d, "106", "screen");
    alice.wait_message(20);
    assert_eq!(d.wait_db("test", "route"), "dial");
    assert_eq!(d.wait_db("test", "response"), "");
    d.wait_console("Timed out : no message received from alice@localhost", 1);
}

#[test]
fn chat_and_sip_messages_cross_both_ways() {
    let dir = tempdir();
    let prosody = Prosody::start(dir.path(), &[PBX_USER, ALICE]);
    let alice = Person::start(&prosody, ALICE.0, ALICE.1);
    let sip_port = free_port();
    let sip = format!(
        "[general]\nbindaddr=127.0.0.1\nbindport={sip_port}\ncontext=public\nallowguest=no\n\
         realm=ferrisk\naccept_outofcall_message=yes\noutofcall_message_context=IncomingMessages\n\
         auth_message_requests=yes\ndisallow=all\nallow=ulaw\n\n\
         [1001]\ntype=friend\nhost=dynamic\nsecret=s1001\ncontext=internal\n"
    );
    // The seed's [IncomingMessages], bridging both ways.
    let ext = "\
[IncomingMessages]
exten => s,1,NoOp()
 same => n,Verbose(2,Got message from ${MESSAGE(from)} destined for ${MESSAGE(to)} with body ${MESSAGE(body)})
 same => n,GotoIf($[\"${MESSAGE(from):0:5}\" = \"xmpp:\"]?fromchat)
 same => n,MessageSend(xmpp:alice@localhost,XMPP:asterisk)
 same => n,Set(DB(test/to_chat)=${MESSAGE_SEND_STATUS})
 same => n,Hangup()
 same => n(fromchat),Set(DB(test/buddy)=${MESSAGE_DATA(XMPP_BUDDY)})
 same => n,MessageSend(sip:1001)
 same => n,Set(DB(test/to_phone)=${MESSAGE_SEND_STATUS})
 same => n,Set(MESSAGE(body)=Thank you for messaging the Shift-Eight PBX)
 same => n,MessageSend(${MESSAGE(from)},XMPP:asterisk)
exten => _X.,1,Goto(s,1)
";
    let d = start(
        dir,
        &prosody,
        "sendtodialplan=yes\ncontext=IncomingMessages\n",
        ext,
        &[("sip.conf", &sip)],
    );
    wait_connected(&d);

    // The phone 1001 registers and waits for one MESSAGE.
    let phone = Sipp::new("uas_registered.xml", Some(sip_port))
        .local_port(free_port())
        .service("1001")
        .auth("1001", "s1001")
        .key("expires", 600)
        .oocsf("message_uas.xml")
        .set("want_body", "hello phone")
        .spawn();
    d.rx_until("sip show peers", 10, |o| {
        o.lines()
            .any(|l| l.starts_with("1001") && l.contains("127.0.0.1"))
    });

    // Chat → dialplan → the SIP phone, and a thank-you back to the chat.
    alice.send("pbx@localhost", "hello phone");
    let p = phone.wait();
    p.assert_ok("MessageSend(sip:1001) delivers the chat line to the phone");
    assert_eq!(d.wait_db("test", "to_phone"), "SUCCESS");
    assert_eq!(d.wait_db("test", "buddy"), "alice@localhost");
    let (from, body) = alice.wait_message(20);
    assert!(from.starts_with("pbx@localhost"), "{from}");
    assert_eq!(body, "Thank you for messaging the Shift-Eight PBX");
    d.wait_console("Got message from xmpp:alice@localhost/", 1);

    // SIP MESSAGE from the phone → the chat user.
    Sipp::new("message_uac.xml", Some(sip_port))
        .local_port(free_port())
        .service("2000")
        .key("from_user", "1001")
        .key("text", "from the desk phone")
        .auth("1001", "s1001")
        .run()
        .assert_ok("1001 sends a SIP MESSAGE");
    let (_, body) = alice.wait_message(20);
    // The scenario's body ends with a line break, passed on as is (as Asterisk does).
    assert_eq!(body.trim_end(), "from the desk phone");
    assert_eq!(d.wait_db("test", "to_chat"), "SUCCESS");
}

#[test]
fn prosody_restart_the_connection_comes_back() {
    let dir = tempdir();
    let mut prosody = Prosody::start(dir.path(), &[PBX_USER, ALICE]);
    let alice = Person::start(&prosody, ALICE.0, ALICE.1);
    let d = start(dir, &prosody, "", SCREENING, &[]);
    wait_connected(&d);

    prosody.stop();
    d.rx_until("xmpp show connections", 20, |o| !o.contains("- Connected"));
    d.wait_console("[asterisk] Socket read error", 1);
    // During the outage JabberSend fails with a warning; the call goes on.
    originate(&d, "s", "send");
    assert_eq!(d.wait_db("test", "after_send"), "went on");
    d.wait_console(
        "Could not send message to 'alice@localhost': not connected",
        1,
    );

    prosody.run();
    wait_connected(&d);
    d.wait_console("[asterisk] Connected again", 1);
    alice.wait_ready_count(2, 30);
    let _ = d.rx("database del test after_send");
    originate(&d, "s", "send");
    let (_, body) = alice.wait_message(20);
    assert!(body.starts_with("ping "), "{body}");
    // One warning for the outage, not one per retry.
    let warnings = d.console().matches("Socket read error").count();
    assert_eq!(warnings, 1, "{}", d.console());

    // A clean shutdown (the server sends a stream error) is survived the same way.
    prosody.shutdown();
    d.wait_console("[asterisk] Socket read error", 2);
    prosody.run();
    d.wait_console("[asterisk] Connected again", 2);
    wait_connected(&d);
}

#[test]
fn rooms_cli_and_reload() {
    let dir = tempdir();
    let prosody = Prosody::start(dir.path(), &[PBX_USER, ALICE]);
    let alice = Person::start(&prosody, ALICE.0, ALICE.1);
    let d = start(dir, &prosody, "", SCREENING, &[]);
    wait_connected(&d);

    alice.join(&format!("lobby@{}", prosody.muc), "alice");
    originate(&d, "join", "rooms");
    // Joining takes a moment; say hello until alice hears it.
    let got = wait_for(30, "the room message", || {
        originate(&d, "say", "rooms");
        std::thread::sleep(std::time::Duration::from_millis(500));
        alice
            .events()
            .into_iter()
            .find(|e| e.starts_with("groupchat\t") && e.ends_with("\thello lobby"))
    });
    assert!(got.contains("lobby@conference.localhost/pbx"), "{got}");
    originate(&d, "leave", "rooms");

    let debug = d.rx("xmpp set debug on");
    assert_eq!(debug.trim(), "XMPP Debugging Enabled.");
    originate(&d, "say", "rooms");
    d.wait_console("<--- XMPP sent to 'asterisk' --->", 1);
    d.wait_console("<body>hello lobby</body>", 1);
    // PubSub purge: the request goes to pubsub.<domain>.
    assert_eq!(d.rx("xmpp purge nodes asterisk testnode").trim(), "");
    d.wait_console("<delete node='testnode'/>", 1);
    assert_eq!(
        d.rx("xmpp purge nodes nosuch testnode").trim(),
        "Unable to find client 'nosuch'!"
    );
    assert_eq!(
        d.rx("xmpp set debug off").trim(),
        "XMPP Debugging Disabled."
    );
    assert!(d
        .rx("xmpp set debug maybe")
        .contains("Usage: xmpp set debug"));

    // A bad reload keeps the running account; a good one applies.
    std::fs::write(
        d.path().join("xmpp.conf"),
        xmpp_conf(&prosody, "status=sleeping\n"),
    )
    .unwrap();
    let out = d.rx("module reload res_xmpp.so");
    assert!(out.contains("xmpp.conf:"), "{out}");
    wait_connected(&d);
    std::fs::write(
        d.path().join("xmpp.conf"),
        xmpp_conf(&prosody, "status=dnd\n").replace("Ohai from ferrisk", "Busy ferrisk"),
    )
    .unwrap();
    d.rx("module reload res_xmpp.so");
    alice.wait_event(20, |e| {
        e.starts_with("presence\tpbx@localhost/") && e.contains("\tdnd\tBusy ferrisk")
    });
    wait_connected(&d);
}

#[test]
fn a_wrong_password_is_one_error_and_no_connection() {
    let dir = tempdir();
    let prosody = Prosody::start(dir.path(), &[PBX_USER, ALICE]);
    let d = start(dir, &prosody, "", SCREENING, &[]);
    std::fs::write(
        d.path().join("xmpp.conf"),
        xmpp_conf(&prosody, "").replace(PBX_USER.1, "wrong"),
    )
    .unwrap();
    // The reload reconnects with the new (wrong) password.
    d.rx("module reload res_xmpp.so");
    d.wait_console(
        "Authentication of client 'asterisk' failed (not-authorized)",
        1,
    );
    std::thread::sleep(std::time::Duration::from_secs(4));
    let out = d.rx("xmpp show connections");
    assert!(!out.contains("- Connected"), "{out}");
    assert_eq!(
        d.console().matches("Authentication of client").count(),
        1,
        "{}",
        d.console()
    );
}
