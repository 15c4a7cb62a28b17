//! kamailio: ferrisk nodes behind a real Kamailio with its state in a real PostgreSQL,
//! started by the shipped recipe (contrib/cluster/start.sh: `db`, `proxy`, `render N`)
//! on free loopback ports: proxy on 127.0.0.1, nodes on 127.0.0.2 and 127.0.0.3.
//!
//! One test walks the cluster's life in order, since every step changes the shared
//! cluster: a thousand SIPp phones register through Kamailio (digest against Asterisk's
//! `sippeers`, bindings in PostgreSQL); a batch of calls is spread over both nodes; a
//! phone calls a phone (proxy → node → proxy → phone) with RTP both ways; one node is
//! killed with `kill -9` while a call is up on the other: new calls keep succeeding and
//! land on the survivor, the call that was up continues, no registration is lost; the
//! node restarts and takes calls again; a voicemail left through one node (messages in a
//! real Dovecot, IMAP storage) is listed by the other, and the phone's lamp (unsolicited
//! NOTIFY through Kamailio) follows the box from either node.

use crate::common::*;
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// How many phones register through Kamailio.
const PHONES: u32 = 1000;
/// The voicemail box (and its phone) of the shared-voicemail step: an account past the
/// registered thousand.
const VM_BOX: u32 = 1000 + PHONES + 1;
/// Seconds between Kamailio's OPTIONS probes of the nodes.
const PING_INTERVAL: u64 = 1;

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/cluster/start.sh")
}

/// PostgreSQL and Kamailio (through start.sh) and the two ferrisk nodes (as test daemons
/// on the configuration start.sh renders).
struct Cluster {
    // Dropped in this order: Dovecot and the nodes before their directory goes.
    dove: dovecot::Dovecot,
    nodes: [Option<Daemon>; 2],
    env: Vec<(String, String)>,
    proxy: u16,
    pg: u16,
    dir: tempfile::TempDir,
}

impl Cluster {
    fn start() -> Cluster {
        require_bin("kamailio", "kamailio");
        let dir = tempdir();
        let vm = VM_BOX.to_string();
        let dove = dovecot::Dovecot::start(dir.path(), &[(vm.as_str(), "secret")]);
        let (pg, proxy) = (free_port(), free_port());
        let (n1, n2) = (free_port(), free_port());
        let rtp = |n: u16| {
            let b = free_ports(n + 1);
            b + (b & 1)
        };
        let (r1, r2) = (rtp(40), rtp(40));
        let env: Vec<(String, String)> = [
            ("CLUSTER_DIR", dir.path().display().to_string()),
            ("PG_PORT", pg.to_string()),
            ("PROXY_PORT", proxy.to_string()),
            ("NODE1_PORT", n1.to_string()),
            ("NODE2_PORT", n2.to_string()),
            ("RTP1_START", r1.to_string()),
            ("RTP2_START", r2.to_string()),
            ("RTP_PORTS", "40".into()),
            ("PING_INTERVAL", PING_INTERVAL.to_string()),
            ("DEMO_PHONES", (PHONES + 5).to_string()),
            ("FERRISK", BIN.into()),
            ("IMAP_HOST", "127.0.0.1".into()),
            ("IMAP_PORT", dove.tls_port.to_string()),
            ("IMAP_FLAGS", "ssl/novalidate-cert".into()),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
        let mut c = Cluster {
            dir,
            env,
            proxy,
            pg,
            nodes: [None, None],
            dove,
        };
        c.run(&["db"]);
        c.run(&["proxy"]);
        for n in 0..2 {
            let d = tempdir();
            c.run(&[
                "render",
                &(n + 1).to_string(),
                &d.path().display().to_string(),
            ]);
            // The box and its lamp peer, as docs/cluster.md says to add them.
            append(
                &d.path().join("voicemail.conf"),
                &format!("{vm} => 1234,Box {vm},,,imapuser={vm}|imappassword=secret\n"),
            );
            append(
                &d.path().join("sip.conf"),
                &format!(
                    "\n[{vm}]\ntype=peer\nhost=phones.cluster\ndefaultuser={vm}\n\
                     mailbox={vm}@default\noutboundproxy=127.0.0.1:{proxy}\n"
                ),
            );
            c.nodes[n] = Some(Daemon::launch(d));
        }
        c.wait_nodes(&[true, true]);
        c
    }

    /// Run start.sh with the cluster's environment; its stdout.
    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("bash")
            .arg(script())
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .output()
            .expect("run contrib/cluster/start.sh");
        assert!(
            out.status.success(),
            "start.sh {args:?} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn node(&self, n: usize) -> &Daemon {
        self.nodes[n].as_ref().expect("node running")
    }

    /// `kamcmd` on Kamailio's control socket.
    fn kamcmd(&self, cmd: &[&str]) -> String {
        let sock = format!("unix:{}/kamailio/kamailio_ctl", self.dir.path().display());
        let out = Command::new("kamcmd")
            .arg("-s")
            .arg(sock)
            .args(cmd)
            .output()
            .expect("run kamcmd");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// One value from the cluster's database.
    fn sql(&self, query: &str) -> String {
        let out = Command::new("/usr/lib/postgresql/15/bin/psql")
            .args(["-h", "127.0.0.1", "-p", &self.pg.to_string()])
            .args(["-U", "kamailio", "-d", "ferrisk", "-tAc", query])
            .output()
            .expect("run psql");
        assert!(out.status.success(), "psql {query}: {out:?}");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Kamailio's view of the nodes: `(uri, flags)` of dispatcher set 1.
    fn dispatcher(&self) -> Vec<(String, String)> {
        let list = self.kamcmd(&["dispatcher.list"]);
        let mut out = Vec::new();
        let mut uri = None;
        for l in list.lines().map(str::trim) {
            if let Some(u) = l.strip_prefix("URI: ") {
                uri = Some(u.to_string());
            } else if let (Some(f), Some(u)) = (l.strip_prefix("FLAGS: "), uri.take()) {
                out.push((u, f.to_string()));
            }
        }
        out
    }

    /// Wait until Kamailio sees node N (0, 1) active (`AP`) exactly when `up[N]`.
    fn wait_nodes(&self, up: &[bool; 2]) {
        let ports = ["NODE1_PORT", "NODE2_PORT"].map(|k| self.var(k));
        let ips = ["127.0.0.2", "127.0.0.3"];
        wait_for(
            30,
            &format!("Kamailio to see the nodes up = {up:?}"),
            || {
                let d = self.dispatcher();
                let ok = (0..2).all(|n| {
                    let uri = format!("sip:{}:{}", ips[n], ports[n]);
                    d.iter()
                        .any(|(u, f)| *u == uri && f.starts_with('A') == up[n])
                });
                ok.then_some(())
            },
        );
    }

    fn var(&self, k: &str) -> String {
        self.env
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .expect("env var")
    }

    /// Calls node N has finished (its CDR lines).
    fn cdrs(&self, n: usize) -> usize {
        let f = self.node(n).path().join("log/cdr-csv/Master.csv");
        std::fs::read_to_string(f)
            .unwrap_or_default()
            .lines()
            .count()
    }

    /// `count` calls from phone 1000 to 600 (answered by a node, the caller hangs up after
    /// 2 s), 5 per second; all must succeed.
    fn calls(&self, count: u32, what: &str) {
        Sipp::new("uac_call.xml", Some(self.proxy))
            .local_port(free_port())
            .service("600")
            .key("from_user", "1000")
            .auth("1000", "pw1000")
            .calls(count)
            .rate(5, 1000)
            .timeout(60)
            .run()
            .assert_ok(what);
    }

    /// Wait until the nodes' CDR counts reach `want` (calls end a moment after SIPp).
    fn wait_cdrs(&self, want: impl Fn(usize, usize) -> bool, what: &str) -> (usize, usize) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let (a, b) = (self.cdrs(0), self.cdrs(1));
            if want(a, b) {
                return (a, b);
            }
            assert!(
                Instant::now() < deadline,
                "{what}: CDRs node1 {a}, node2 {b}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.nodes = [None, None];
        let _ = Command::new("bash")
            .arg(script())
            .arg("stop")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .output();
    }
}

fn append(path: &Path, text: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .expect("open for append");
    f.write_all(text.as_bytes()).expect("append");
}

/// The CSV injection file for `PHONES` accounts 1000… (secret pw<name>).
fn phones_csv(dir: &Path) -> PathBuf {
    let mut s = String::from("SEQUENTIAL\n");
    for n in 1000..1000 + PHONES {
        s += &format!("{n};[authentication username={n} password=pw{n}]\n");
    }
    let p = dir.join("phones.csv");
    std::fs::write(&p, s).expect("write phones.csv");
    p
}

/// The media address of the last SDP the SIPp received.
fn media_addr(s: &SippResult) -> Option<String> {
    let m = s
        .all_messages()
        .into_iter()
        .rev()
        .find(|m| m.received && m.body.contains("m=audio"))?;
    let ip = m.body.lines().find_map(|l| l.strip_prefix("c=IN IP4 "))?;
    let port = m
        .body
        .lines()
        .find_map(|l| l.strip_prefix("m=audio "))?
        .split(' ')
        .next()?;
    Some(format!("{}:{port}", ip.trim()))
}

fn rtp_packet(seq: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0x80, 0];
    v.extend_from_slice(&seq.to_be_bytes());
    v.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    v.extend_from_slice(&0x00c1_u32.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

/// µ-law frames of noise (`seed`), with the two codes for zero made one.
fn frames(seed: u32, n: usize) -> Vec<Vec<u8>> {
    let pcm = audio::noise(seed, n * 160);
    pcm.chunks(160)
        .map(|c| norm(&ferrisk::media::g711::ulaw_encode(c)))
        .collect()
}

fn norm(p: &[u8]) -> Vec<u8> {
    p.iter()
        .map(|&b| if b == 0x7f { 0xff } else { b })
        .collect()
}

/// Send `out` from `sock` to `to` at 20 ms pace; return the payloads received meanwhile.
fn exchange(sock: UdpSocket, to: String, out: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    sock.set_read_timeout(Some(Duration::from_millis(5)))
        .expect("timeout");
    let mut got = Vec::new();
    let mut buf = [0u8; 2048];
    let start = Instant::now();
    for (k, f) in out.iter().enumerate() {
        let _ = sock.send_to(&rtp_packet(k as u16, f), &to);
        let next = start + Duration::from_millis(20 * (k as u64 + 1));
        while Instant::now() < next {
            if let Ok((n, _)) = sock.recv_from(&mut buf) {
                if n > 12 && buf[1] & 0x7f == 0 {
                    got.push(norm(&buf[12..n]));
                }
            }
        }
    }
    got
}

#[test]
fn phones_register_calls_spread_and_survive_a_node_kill() {
    let mut c = Cluster::start();

    // 1. A thousand phones register through Kamailio; PostgreSQL holds every binding.
    let csv = phones_csv(c.dir.path());
    Sipp::new("register_csv.xml", Some(c.proxy))
        .local_port(free_port())
        .inf(&csv)
        .key("expires", 3600)
        .calls(PHONES)
        .rate(200, 1000)
        .limit(100)
        .timeout(120)
        .run()
        .assert_ok("every phone registered");
    let bindings = c.sql("SELECT count(*) FROM location");
    assert_eq!(bindings, PHONES.to_string(), "bindings in PostgreSQL");

    // 2. Calls from phones are spread over both nodes, each a fair share.
    c.calls(20, "20 calls through the proxy");
    let (a, b) = c.wait_cdrs(|a, b| a + b >= 20, "20 calls recorded");
    assert!(
        a >= 6 && b >= 6,
        "round-robin gave node1 {a} and node2 {b} of 20 calls"
    );

    // 3. Phone 1001 calls another phone: proxy → node → proxy → phone, RTP both ways.
    let callee_user = (1000 + PHONES).to_string();
    let callee_pw = format!("pw{callee_user}");
    let (ra, rb) = (
        UdpSocket::bind("127.0.0.1:0").expect("bind"),
        UdpSocket::bind("127.0.0.1:0").expect("bind"),
    );
    let callee = Sipp::new("uas_registered.xml", Some(c.proxy))
        .local_port(free_port())
        .service(&callee_user)
        .auth(&callee_user, &callee_pw)
        .key("expires", 3600)
        .oocsf("uas_media_wait.xml")
        .key("rtp_port", rb.local_addr().expect("addr").port())
        .key("pt", 0)
        .key("codec", "PCMU")
        .timeout(60)
        .spawn();
    wait_for(10, "the callee registered", || {
        let q = format!("SELECT count(*) FROM location WHERE username = '{callee_user}'");
        (c.sql(&q) == "1").then_some(())
    });
    let caller = Sipp::new("uac_media.xml", Some(c.proxy))
        .local_port(free_port())
        .service(&callee_user)
        .key("from_user", "1001")
        .auth("1001", "pw1001")
        .key("rtp_port", ra.local_addr().expect("addr").port())
        .timeout(60)
        .spawn();
    let to_a = wait_for(15, "the caller's call answered", || {
        media_addr(&caller.so_far())
    });
    let to_b = wait_for(15, "the callee's INVITE", || media_addr(&callee.so_far()));
    let invite = callee
        .so_far()
        .requests("INVITE")
        .pop()
        .expect("the callee's INVITE");
    assert!(
        invite.header("Record-Route").is_some()
            && invite
                .header("From")
                .is_some_and(|f| f.contains("sip:1001@"))
            && invite
                .header("P-Asserted-Identity")
                .is_some_and(|f| f.contains("sip:1001@")),
        "the INVITE reached the phone through the proxy, from 1001 (the identity Kamailio \
         asserted, trustrpid) asserted again (sendrpid=pai): {invite:?}"
    );
    let (fa, fb) = (frames(21, 150), frames(22, 150));
    let (fa2, fb2) = (fa.clone(), fb.clone());
    let ta = std::thread::spawn(move || exchange(ra, to_a, fa2));
    let tb = std::thread::spawn(move || exchange(rb, to_b, fb2));
    let (got_a, got_b) = (ta.join().expect("caller"), tb.join().expect("callee"));
    let heard = |got: &[Vec<u8>], sent: &[Vec<u8>]| sent.iter().filter(|f| got.contains(f)).count();
    let (a_heard_b, b_heard_a) = (heard(&got_a, &fb), heard(&got_b, &fa));
    assert!(
        a_heard_b >= 75 && b_heard_a >= 75,
        "RTP both ways: the caller got {a_heard_b} of the callee's 150 frames ({} packets), \
         the callee {b_heard_a} of the caller's ({} packets)",
        got_a.len(),
        got_b.len()
    );
    for n in 0..2 {
        c.node(n).rx("channel request hangup all");
    }
    caller.wait().assert_ok("the caller got the node's BYE");
    callee
        .wait()
        .assert_ok("the callee got the node's BYE through the proxy");

    // 4. A call is up; the other node dies (kill -9).
    let (a0, b0) = c.wait_cdrs(|a, b| a + b >= 21, "the phone call recorded");
    let long = Sipp::new("uac_call_recv_bye.xml", Some(c.proxy))
        .local_port(free_port())
        .service("602")
        .key("from_user", "1002")
        .auth("1002", "pw1002")
        .timeout(60)
        .spawn();
    let survivor = wait_for(15, "the long call up on a node", || {
        (0..2).find(|&n| !c.node(n).rx("core show channels concise").trim().is_empty())
    });
    let victim = 1 - survivor;
    let vdir = c.nodes[victim].take().expect("victim").kill9();
    // New calls right away: the dead node's INVITEs time out and go to the survivor, then
    // Kamailio's probes mark it down and calls go straight to the survivor.
    c.calls(10, "calls while a node is dead");
    c.wait_nodes(&[victim != 0, victim != 1]);
    c.calls(10, "calls once the dead node is marked down");
    let before = [a0, b0][survivor];
    let sc = wait_for(20, "the survivor's 20 CDRs", || {
        let n = c.cdrs(survivor);
        (n >= before + 20).then_some(n)
    });
    assert_eq!(
        sc,
        before + 20,
        "every call after the kill went to the survivor"
    );
    assert_eq!(
        c.sql("SELECT count(*) FROM location"),
        (PHONES + 1).to_string(),
        "no registration lost"
    );
    // The call that was up on the survivor is still up; the survivor ends it.
    assert!(
        !c.node(survivor)
            .rx("core show channels concise")
            .trim()
            .is_empty(),
        "the call up on the survivor continues"
    );
    c.node(survivor).rx("channel request hangup all");
    long.wait().assert_ok("the long call ended by the survivor");

    // 5. The dead node comes back and takes its share again.
    c.nodes[victim] = Some(Daemon::launch(vdir));
    c.wait_nodes(&[true, true]);
    let (a1, b1) = (c.cdrs(0), c.cdrs(1));
    c.calls(10, "calls after the node rejoined");
    let (a2, b2) = c.wait_cdrs(|a, b| a + b >= a1 + b1 + 10, "10 calls recorded");
    assert!(
        a2 - a1 >= 3 && b2 - b1 >= 3,
        "after the rejoin node1 took {} and node2 {} of 10 calls",
        a2 - a1,
        b2 - b1
    );

    // 6. Shared voicemail. The box's phone registers and counts its lamp's NOTIFYs.
    let vm = VM_BOX.to_string();
    let lamp = Sipp::new("uas_registered.xml", Some(c.proxy))
        .local_port(free_port())
        .service(&vm)
        .auth(&vm, &format!("pw{vm}"))
        .key("expires", 3600)
        .oocsf("mwi_notify_uas.xml")
        .set("want", "0/1")
        .timeout(120)
        .spawn();
    wait_for(10, "the box's phone registered", || {
        let q = format!("SELECT count(*) FROM location WHERE username = '{vm}'");
        (c.sql(&q) == "1").then_some(())
    });
    // 1004 calls *<box>: a node answers with VoiceMail() and records what 1004 says.
    let ra = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let caller = Sipp::new("uac_media.xml", Some(c.proxy))
        .local_port(free_port())
        .service(&format!("*{vm}"))
        .key("from_user", "1004")
        .auth("1004", "pw1004")
        .key("rtp_port", ra.local_addr().expect("addr").port())
        .timeout(60)
        .spawn();
    let to = wait_for(15, "VoiceMail() answered", || media_addr(&caller.so_far()));
    let rec = wait_for(20, "a node recording the message", || {
        (0..2).find(|&n| c.node(n).console().contains("Recording the message"))
    });
    exchange(ra, to, frames(23, 150));
    c.node(rec).rx("channel request hangup all");
    caller
        .wait()
        .assert_ok("the message left, the node hung up");
    let mut imap = c.dove.client(&vm, "secret");
    wait_for(20, "the message in the box's INBOX", || {
        (imap.select("INBOX") == 1).then_some(())
    });
    // The other node lists it: the box is the IMAP account, not a node's spool.
    let other = 1 - rec;
    c.node(other).rx_until("voicemail show users", 20, |o| {
        o.lines()
            .any(|l| l.contains(&format!(" {vm} ")) && l.trim_end().ends_with(" 1"))
    });
    // Both nodes lit the lamp: the recording node at once, the other through IMAP IDLE.
    for n in 0..2 {
        c.node(n).rx_until(&format!("sip show peer {vm}"), 20, |o| {
            o.contains("LastMsgsSent : 1/0")
        });
    }
    // Heard in a mail client: the lamp goes off, whoever changed the box.
    let (ok, out) = imap.cmd("STORE 1 +FLAGS (\\Seen)");
    assert!(ok, "{out}");
    let r = lamp.wait();
    r.assert_ok("the lamp: on for the new message, off once it was read");
    assert!(r.mwi_notify_position("1/0 waiting=yes") < r.mwi_notify_position("0/1 waiting=no"));
}
