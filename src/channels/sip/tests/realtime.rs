//! Realtime peers in the core: cached and temporary (`rtcachefriends`), the registration a
//! row carries, `rtautoclear`.

use super::*;
use crate::channels::sipconf::{peer_from_realtime, realtime_contact, RealtimeContact};

fn row(fields: &[(&str, &str)]) -> Vec<(String, String)> {
    fields
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn carol() -> Vec<(String, String)> {
    row(&[
        ("name", "carol"),
        ("secret", "carolpw"),
        ("host", "dynamic"),
        ("context", "internal"),
    ])
}

fn add(h: &mut H, fields: &[(String, String)], contact: Option<RealtimeContact>) {
    let peer = peer_from_realtime(fields, &h.core.cfg.general).expect("row reads");
    let now = h.now;
    h.core.add_realtime_peer(peer, contact, now);
}

fn listed(h: &H) -> Vec<String> {
    crate::channels::sip::show::peers_view(&h.core, h.now)
        .into_iter()
        .map(|r| r.name)
        .collect()
}

#[test]
fn uncached_realtime_peers_are_read_again_and_not_listed() {
    let mut h = H::new(CONF);
    assert!(h.core.wants_realtime_read("carol"));
    add(&mut h, &carol(), None);
    // It registers like any peer...
    let r = Reg::new("carol", "127.0.0.1:6001").send(
        &mut h,
        Some("carolpw"),
        &[contact("sip:carol@127.0.0.1:6001")],
    );
    assert_eq!(code(&r), 200);
    // ...but each new request reads storage again, and sip show peers does not list it.
    assert!(h.core.wants_realtime_read("carol"));
    assert!(!listed(&h).contains(&"carol".to_string()));
    assert!(!h.core.wants_realtime_read("alice"));
    // Storage no longer has it: it is gone at once.
    h.core.realtime_peer_gone("carol");
    assert!(!h.core.knows_peer("carol"));
    // A sip.conf peer is never dropped that way.
    h.core.realtime_peer_gone("alice");
    assert!(h.core.knows_peer("alice"));
}

#[test]
fn cached_realtime_peers_stay_and_are_listed() {
    let mut h = H::new(&CONF.replace("[general]\n", "[general]\nrtcachefriends=yes\n"));
    add(&mut h, &carol(), None);
    assert!(!h.core.wants_realtime_read("carol"));
    assert!(listed(&h).contains(&"carol".to_string()));
    h.core.realtime_peer_gone("carol");
    assert!(h.core.knows_peer("carol"), "the cache holds until pruned");
    let now = h.now;
    assert_eq!(h.core.prune_realtime(Some("carol"), now), 1);
    assert!(!h.core.knows_peer("carol"));
}

#[test]
fn a_realtime_row_never_replaces_a_sip_conf_peer() {
    let mut h = H::new(CONF);
    let fields = row(&[("name", "alice"), ("secret", "other"), ("host", "dynamic")]);
    add(&mut h, &fields, None);
    let p = h.core.cfg.peer("alice").unwrap();
    assert!(!p.realtime);
    assert_eq!(p.secret.as_deref(), Some("alicepw"));
}

#[test]
fn the_registration_in_the_row_routes_calls() {
    let mut h = H::new(CONF);
    let now_unix = super::super::core::unix_now();
    let mut fields = carol();
    fields.extend(row(&[
        ("ipaddr", "127.0.0.1"),
        ("port", "6010"),
        ("regseconds", &(now_unix + 300).to_string()),
        ("fullcontact", "sip:carol@127.0.0.1:6010;transport=udp"),
        ("useragent", "PhoneX 1.0"),
    ]));
    let c = realtime_contact(&fields, now_unix, false, 120).expect("a live registration");
    assert_eq!(c.expires_in, 300);
    add(&mut h, &fields, Some(c));
    let now = h.now;
    let (_, targets, _) = h.core.resolve("carol", now).expect("carol is reachable");
    assert_eq!(targets[0].dest, addr("127.0.0.1:6010"));
    // A binding this node made itself is not overwritten by an older row.
    let stale = RealtimeContact {
        uri: "sip:carol@127.0.0.1:7000".into(),
        source: Some(addr("127.0.0.1:7000")),
        expires_in: 60,
        useragent: String::new(),
    };
    add(&mut h, &fields, Some(stale));
    let (_, targets, _) = h.core.resolve("carol", now).expect("carol is reachable");
    assert_eq!(targets[0].dest, addr("127.0.0.1:6010"));
}

#[test]
fn realtime_contact_reads_rtupdate_columns() {
    let now = 1_000_000;
    let base = carol();
    assert_eq!(realtime_contact(&base, now, false, 120), None);
    let mut f = base.clone();
    f.extend(row(&[
        ("ipaddr", "10.0.0.5"),
        ("port", "5070"),
        ("regseconds", "1000060"),
    ]));
    let c = realtime_contact(&f, now, false, 120).unwrap();
    assert_eq!(c.uri, "sip:carol@10.0.0.5:5070");
    assert_eq!(c.source, Some(addr("10.0.0.5:5070")));
    assert_eq!(c.expires_in, 60);
    // Expired: not used, unless ignoreregexpire.
    let mut f = base.clone();
    f.extend(row(&[
        ("ipaddr", "10.0.0.5"),
        ("port", "0"),
        ("regseconds", "999000"),
    ]));
    assert_eq!(realtime_contact(&f, now, false, 120), None);
    let c = realtime_contact(&f, now, true, 120).unwrap();
    assert_eq!(c.expires_in, 120);
    assert_eq!(c.source, Some(addr("10.0.0.5:5060")));
}

#[test]
fn rtautoclear_forgets_cached_peers() {
    let text = CONF.replace(
        "[general]\n",
        "[general]\nrtcachefriends=yes\nrtautoclear=30\n",
    );
    let mut h = H::new(&text);
    assert_eq!(h.core.cfg.general.rtautoclear, Some(30));
    add(&mut h, &carol(), None);
    let mut dave = carol();
    dave[0].1 = "dave".into();
    add(&mut h, &dave, None);
    // Dave registers for 120 s: he stays until that ends (+10 s).
    let r = Reg::new("dave", "127.0.0.1:6002").send(
        &mut h,
        Some("carolpw"),
        &[contact("sip:dave@127.0.0.1:6002"), "Expires: 120".into()],
    );
    assert_eq!(code(&r), 200);
    h.advance(Duration::from_secs(31));
    assert!(!h.core.knows_peer("carol"), "carol was loaded 31 s ago");
    assert!(h.core.knows_peer("dave"));
    h.advance(Duration::from_secs(100));
    assert!(!h.core.knows_peer("dave"));
    assert!(h.core.knows_peer("alice"));
}

#[test]
fn rtautoclear_values() {
    for (v, want) in [
        ("yes", Some(120)),
        ("45", Some(45)),
        ("no", None),
        ("0", None),
    ] {
        let c = conf(&format!("[general]\nrtautoclear={v}\n"));
        assert_eq!(c.general.rtautoclear, want, "rtautoclear={v}");
    }
    assert_eq!(conf("[general]\n").general.rtautoclear, None);
}

#[test]
fn dial_strings_name_their_peer() {
    use crate::channels::sip::core::split_dial;
    assert_eq!(split_dial("carol"), ("carol", None));
    assert_eq!(split_dial("carol/100"), ("carol", Some("100")));
    assert_eq!(split_dial("100@carol"), ("carol", Some("100")));
    assert_eq!(split_dial(" carol ,opts"), ("carol", None));
}

/// A directory that knows carol, answers slowly and counts its look-ups.
struct Directory {
    loads: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl crate::pbx::realtime::RealtimeEngine for Directory {
    fn name(&self) -> &'static str {
        "fakedir"
    }
    async fn load(
        &self,
        _db: &str,
        _table: &str,
        filter: &[(String, String)],
    ) -> Result<Option<crate::pbx::realtime::Fields>, crate::pbx::realtime::RealtimeError> {
        self.loads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(200)).await;
        Ok(filter
            .iter()
            .any(|(k, v)| k == "name" && v == "carol")
            .then(carol))
    }
    async fn load_multi(
        &self,
        _db: &str,
        _table: &str,
        _f: &[(String, String)],
    ) -> Result<Vec<crate::pbx::realtime::Fields>, crate::pbx::realtime::RealtimeError> {
        Ok(Vec::new())
    }
    async fn update(
        &self,
        _db: &str,
        _table: &str,
        _k: &str,
        _l: &str,
        _s: &[(String, String)],
    ) -> Result<usize, crate::pbx::realtime::RealtimeError> {
        Ok(0)
    }
    async fn update2(
        &self,
        _db: &str,
        _table: &str,
        _l: &[(String, String)],
        _s: &[(String, String)],
    ) -> Result<usize, crate::pbx::realtime::RealtimeError> {
        Ok(0)
    }
    async fn store(
        &self,
        _db: &str,
        _table: &str,
        _f: &[(String, String)],
    ) -> Result<usize, crate::pbx::realtime::RealtimeError> {
        Ok(0)
    }
    async fn destroy(
        &self,
        _db: &str,
        _table: &str,
        _k: &str,
        _l: &str,
        _f: &[(String, String)],
    ) -> Result<usize, crate::pbx::realtime::RealtimeError> {
        Ok(0)
    }
}

/// Send `n` REGISTERs of `user` at once (each its own transaction) and wait for `n` answers.
async fn register_burst(sock: &tokio::net::UdpSocket, to: SocketAddr, user: &str, n: usize) {
    for i in 0..n {
        let mut r = Reg::new(user, &sock.local_addr().unwrap().to_string());
        r.call_id = format!("burst-{user}-{i}");
        let text = r.text(&[contact(&format!("sip:{user}@127.0.0.1:6001"))]);
        sock.send_to(text.as_bytes(), to).await.unwrap();
    }
    let mut buf = vec![0u8; 4096];
    for _ in 0..n {
        tokio::time::timeout(Duration::from_secs(5), sock.recv_from(&mut buf))
            .await
            .expect("an answer to every REGISTER")
            .unwrap();
    }
}

#[tokio::test]
async fn one_lookup_per_name_at_a_time_and_misses_are_remembered() {
    use std::sync::atomic::Ordering;
    let pbx = crate::modules::test_pbx();
    let dir = Arc::new(Directory {
        loads: std::sync::atomic::AtomicUsize::new(0),
    });
    pbx.realtime.register_engine(dir.clone());
    pbx.realtime.set_config(
        crate::pbx::realtime::ExtConfig::from_str(
            "extconfig.conf",
            "[settings]\nsippeers => fakedir,db,t\n",
        )
        .unwrap(),
    );
    let sip = crate::channels::sip::start_with(
        &pbx,
        conf("[general]\nudpbindaddr=127.0.0.1:0\nrealm=asterisk\nrtcachefriends=yes\n"),
    )
    .await
    .expect("chan_sip starts");
    let to = sip.transport.udp_local();
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();

    // Five REGISTERs of carol while her look-up runs: one look-up, five answers.
    register_burst(&sock, to, "carol", 5).await;
    assert_eq!(dir.loads.load(Ordering::SeqCst), 1);
    assert!(sip.core.lock().knows_peer("carol"));

    // A name the directory lacks is asked once, then remembered for a while...
    register_burst(&sock, to, "mallory", 1).await;
    register_burst(&sock, to, "mallory", 3).await;
    assert_eq!(dir.loads.load(Ordering::SeqCst), 2);
    // ...except by `sip show peer mallory load`, which always asks.
    assert!(!sip.load_realtime_peer("mallory", false).await);
    assert_eq!(dir.loads.load(Ordering::SeqCst), 3);
}
