//! Functions that ask the outside world: `CURL()` and `CURLOPT()` (func_curl.so, over
//! reqwest), `SRVQUERY()` and `SRVRESULT()` (func_srv.so, over our stub resolver), and
//! `BLACKLIST()` (func_blacklist.so, AstDB family `blacklist`).
//!
//! All of them wait: HTTP is async, DNS and AstDB run on the blocking pool.

use super::{Func, FuncError};
use crate::apps::args;
use crate::pbx::module::{Family, ModuleContext, ModuleInfo};
use crate::pbx::Channel;
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

pub static MODULES: &[Family] = &[
    Family {
        info: ModuleInfo::new("func_curl.so", "Load external URL"),
        register: register_func_curl,
    },
    Family {
        info: ModuleInfo::new("func_srv.so", "SRV related dialplan functions"),
        register: register_func_srv,
    },
    Family {
        info: ModuleInfo::new(
            "func_blacklist.so",
            "Look up Caller*ID name/number from blacklist database",
        ),
        register: |ctx| ctx.register_func(Arc::new(Blacklist)),
    },
];

fn register_func_curl(ctx: &ModuleContext) {
    ctx.register_func(Arc::new(Curl));
    ctx.register_func(Arc::new(CurlOpt));
}

fn register_func_srv(ctx: &ModuleContext) {
    ctx.register_func(Arc::new(SrvQuery));
    ctx.register_func(Arc::new(SrvResult));
}

// ---------------------------------------------------------------------------------------
// CURLOPT

/// A channel's CURLOPT settings (a datastore); `httpheader` adds.
#[derive(Debug, Clone, Default)]
pub struct CurlOptions {
    opts: BTreeMap<String, String>,
    headers: Vec<String>,
}

const CURL_STORE: &str = "func_curl";

/// The option names CURLOPT knows (Asterisk's list).
const CURL_OPTS: &[&str] = &[
    "cookie",
    "conntimeout",
    "dnstimeout",
    "followlocation",
    "ftptext",
    "ftptimeout",
    "header",
    "httpauth",
    "httpheader",
    "httptimeout",
    "maxredirs",
    "proxy",
    "proxytype",
    "proxyport",
    "proxyuserpwd",
    "referer",
    "useragent",
    "userpwd",
    "ssl_verifypeer",
    "ssl_verifyhost",
    "ssl_cainfo",
    "ssl_capath",
    "ssl_cert",
    "ssl_certtype",
    "ssl_key",
    "ssl_keytype",
    "ssl_keypasswd",
    "hashcompat",
    "failurecodes",
];

impl CurlOptions {
    fn set(&mut self, name: &str, value: &str) {
        if name == "httpheader" {
            self.headers.push(value.to_string());
        } else if value.is_empty() {
            self.opts.remove(name);
        } else {
            self.opts.insert(name.to_string(), value.to_string());
        }
    }
    /// The channel's options.
    fn of(chan: &Channel) -> CurlOptions {
        chan.datastores
            .get::<CurlOptions>(CURL_STORE)
            .cloned()
            .unwrap_or_default()
    }
    fn get(&self, k: &str) -> Option<&str> {
        self.opts.get(k).map(String::as_str)
    }
    fn secs(&self, k: &str) -> Option<Duration> {
        self.get(k)
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| *s > 0.0 && s.is_finite())
            .map(Duration::from_secs_f64)
    }
}

pub struct CurlOpt;

#[async_trait]
impl Func for CurlOpt {
    fn name(&self) -> &'static str {
        "CURLOPT"
    }
    fn synopsis(&self) -> &'static str {
        "Sets various options for future invocations of CURL."
    }
    fn syntax(&self) -> &'static str {
        "CURLOPT(option)"
    }
    fn description(&self) -> &'static str {
        "Options are set per channel (ferrisk has no channel-less writer for global ones). \
         Options: cookie, conntimeout, dnstimeout, \
         followlocation, header, httpauth, httpheader (adds a header), httptimeout, \
         maxredirs, proxy, proxytype, proxyport, proxyuserpwd, referer, useragent, userpwd, \
         ssl_verifypeer, ssl_verifyhost, ssl_cainfo, ssl_cert, ssl_key, hashcompat \
         (yes/no/legacy), failurecodes. ftptext, ftptimeout, ssl_capath, ssl_certtype, \
         ssl_keytype and ssl_keypasswd are accepted and ignored."
    }
    fn writable(&self) -> bool {
        true
    }
    fn read(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        let name = a.trim().to_ascii_lowercase();
        if !CURL_OPTS.contains(&name.as_str()) {
            return Err(FuncError::Usage(format!("Unknown CURLOPT '{name}'")));
        }
        let o = CurlOptions::of(chan);
        Ok(if name == "httpheader" {
            o.headers.join("\n")
        } else {
            o.get(&name).unwrap_or("").to_string()
        })
    }
    fn write(&self, chan: &mut Channel, a: &str, value: &str) -> Result<(), FuncError> {
        let name = a.trim().to_ascii_lowercase();
        if !CURL_OPTS.contains(&name.as_str()) {
            return Err(FuncError::Usage(format!("Unknown CURLOPT '{name}'")));
        }
        if chan.datastores.get::<CurlOptions>(CURL_STORE).is_none() {
            chan.datastores.insert(CURL_STORE, CurlOptions::default());
        }
        if let Some(o) = chan.datastores.get_mut::<CurlOptions>(CURL_STORE) {
            o.set(&name, value);
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// CURL

pub struct Curl;

/// `key1=value1&key2=value2` split for HASH (hashcompat): the keys (for `~ODBCFIELDS~`)
/// and the values, each comma-separated with commas inside escaped.
fn hashcompat(body: &str, legacy: bool) -> (String, String) {
    let dec = |s: &str| {
        let s = if legacy {
            s.replace('+', " ")
        } else {
            s.to_string()
        };
        crate::funcs::encoding::uri_decode(&s).replace(',', "\\,")
    };
    let mut keys = Vec::new();
    let mut vals = Vec::new();
    for pair in body.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        keys.push(dec(k));
        vals.push(dec(v));
    }
    (keys.join(","), vals.join(","))
}

impl Curl {
    async fn fetch(chan: &mut Channel, url: &str, post: Option<&str>) -> Result<String, FuncError> {
        let o = CurlOptions::of(chan);
        let truthy = |k: &str| o.get(k).is_some_and(crate::config::is_true);
        let mut b = reqwest::Client::builder();
        if let Some(d) = o.secs("conntimeout") {
            b = b.connect_timeout(d);
        }
        if let Some(d) = o.secs("httptimeout") {
            b = b.timeout(d);
        }
        let redirects = if truthy("followlocation") {
            match o
                .get("maxredirs")
                .and_then(|m| m.trim().parse::<i64>().ok())
            {
                Some(n) if n >= 0 => reqwest::redirect::Policy::limited(n as usize),
                _ => reqwest::redirect::Policy::limited(50),
            }
        } else {
            reqwest::redirect::Policy::none()
        };
        b = b.redirect(redirects);
        if o.get("ssl_verifypeer").is_some_and(crate::config::is_false) {
            b = b.danger_accept_invalid_certs(true);
        }
        if let Some(ua) = o.get("useragent") {
            b = b.user_agent(ua.to_string());
        } else {
            b = b.user_agent(format!("ferrisk/{}", env!("CARGO_PKG_VERSION")));
        }
        if let Some(p) = o.get("proxy") {
            let url = match o.get("proxyport") {
                Some(port) if !p.contains("://") => format!("http://{p}:{port}"),
                _ if !p.contains("://") => format!("http://{p}"),
                _ => p.to_string(),
            };
            let mut proxy = reqwest::Proxy::all(&url)
                .map_err(|e| FuncError::Other(format!("CURL: bad proxy '{p}': {e}")))?;
            if let Some((u, pw)) = o.get("proxyuserpwd").and_then(|s| s.split_once(':')) {
                proxy = proxy.basic_auth(u, pw);
            }
            b = b.proxy(proxy);
        }
        let client = b
            .build()
            .map_err(|e| FuncError::Other(format!("CURL: {e}")))?;
        let mut req = match post {
            Some(body) => client
                .post(url)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(body.to_string()),
            None => client.get(url),
        };
        if let Some((u, p)) = o
            .get("userpwd")
            .map(|s| s.split_once(':').unwrap_or((s, "")))
        {
            req = req.basic_auth(u, Some(p));
        }
        if let Some(r) = o.get("referer") {
            req = req.header("Referer", r);
        }
        if let Some(c) = o.get("cookie") {
            req = req.header("Cookie", c);
        }
        for h in &o.headers {
            if let Some((k, v)) = h.split_once(':') {
                req = req.header(k.trim(), v.trim());
            }
        }
        let resp = req
            .send()
            .await
            .map_err(|e| FuncError::Other(format!("CURL: {url}: {e}")))?;
        let status = resp.status().as_u16();
        if let Some(codes) = o.get("failurecodes") {
            if codes
                .split(',')
                .any(|c| c.trim().parse::<u16>().ok() == Some(status))
            {
                chan.set_var("CURLSTATUS", &status.to_string());
                return Err(FuncError::Other(format!(
                    "{url} returned {status}, which is a failure code"
                )));
            }
        }
        let head = if truthy("header") {
            let mut h = format!("HTTP/1.1 {}\r\n", resp.status());
            for (k, v) in resp.headers() {
                h.push_str(&format!("{}: {}\r\n", k, v.to_str().unwrap_or("")));
            }
            h.push_str("\r\n");
            h
        } else {
            String::new()
        };
        let body = resp
            .text()
            .await
            .map_err(|e| FuncError::Other(format!("CURL: {url}: {e}")))?;
        chan.set_var("CURLSTATUS", &status.to_string());
        let out = format!("{head}{body}");
        let out = out.trim_end();
        let legacy = match o.get("hashcompat") {
            Some(h) if h.eq_ignore_ascii_case("legacy") => Some(true),
            Some(h) if crate::config::is_true(h) => Some(false),
            _ => None,
        };
        Ok(match legacy {
            Some(legacy) if !out.is_empty() => {
                let (fields, values) = hashcompat(out, legacy);
                chan.vars.set_or_unset("~ODBCFIELDS~", &fields);
                values
            }
            _ => out.to_string(),
        })
    }
}

#[async_trait]
impl Func for Curl {
    fn name(&self) -> &'static str {
        "CURL"
    }
    fn synopsis(&self) -> &'static str {
        "Retrieve content from a remote web or ftp server."
    }
    fn syntax(&self) -> &'static str {
        "CURL(url[,post-data])"
    }
    fn description(&self) -> &'static str {
        "When this function is read, an HTTP GET (a POST with post-data) retrieves the \
         contents of url, returned as the result. When written to, the value is the file the \
         contents are saved to: Set(CURL(http://host/file)=/tmp/file). Options come from \
         CURLOPT(). CURLSTATUS holds the HTTP status."
    }
    fn writable(&self) -> bool {
        true
    }
    fn read(&self, _chan: &mut Channel, _a: &str) -> Result<String, FuncError> {
        Err(FuncError::Other(
            "CURL() waits for a server and cannot be used where nothing may wait".into(),
        ))
    }
    fn is_async(&self) -> bool {
        true
    }
    async fn read_async(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        let (url, post) = match a.split_once(',') {
            Some((u, p)) => (u.trim(), Some(p)),
            None => (a.trim(), None),
        };
        if url.is_empty() {
            return Err(FuncError::Usage("CURL requires an argument (URL)".into()));
        }
        Curl::fetch(chan, url, post).await
    }
    async fn write_async(&self, chan: &mut Channel, a: &str, value: &str) -> Result<(), FuncError> {
        let url = a.trim();
        let file = value.trim().to_string();
        if url.is_empty() || file.is_empty() {
            return Err(FuncError::Usage(
                "CURL requires a URL and a file: Set(CURL(<url>)=<file>)".into(),
            ));
        }
        let body = Curl::fetch(chan, url, None).await?;
        super::on_pool(move || std::fs::write(&file, body))
            .await?
            .map_err(|e| FuncError::Other(format!("CURL: cannot write: {e}")))
    }
}

// ---------------------------------------------------------------------------------------
// SRVQUERY, SRVRESULT

#[derive(Debug, Clone, Default)]
struct SrvResults(BTreeMap<String, Vec<crate::net::dns::Srv>>);

const SRV_STORE: &str = "func_srv";

pub struct SrvQuery;

#[async_trait]
impl Func for SrvQuery {
    fn name(&self) -> &'static str {
        "SRVQUERY"
    }
    fn synopsis(&self) -> &'static str {
        "Initiate an SRV query."
    }
    fn syntax(&self) -> &'static str {
        "SRVQUERY(service)"
    }
    fn description(&self) -> &'static str {
        "This will do an SRV lookup of the given service (e.g. _sip._udp.example.com) and \
         return an ID to use with SRVRESULT."
    }
    fn read(&self, _chan: &mut Channel, _a: &str) -> Result<String, FuncError> {
        Err(FuncError::Other("SRVQUERY() waits for DNS".into()))
    }
    fn is_async(&self) -> bool {
        true
    }
    async fn read_async(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        let service = a.trim().to_string();
        if service.is_empty() {
            return Err(FuncError::Usage(
                "SRVQUERY requires a service as an argument".into(),
            ));
        }
        let name = service.clone();
        let recs = super::on_pool(move || crate::net::dns::Resolver::system().srv(&name))
            .await?
            .map_err(|e| FuncError::Other(format!("Unable to do SRV query on {service}: {e}")))?;
        let recs = crate::net::dns::order_srv(recs, rand::random::<f64>);
        if chan.datastores.get::<SrvResults>(SRV_STORE).is_none() {
            chan.datastores.insert(SRV_STORE, SrvResults::default());
        }
        if let Some(r) = chan.datastores.get_mut::<SrvResults>(SRV_STORE) {
            r.0.insert(service.clone(), recs);
        }
        // Asterisk's ID is the query itself.
        Ok(service)
    }
}

pub struct SrvResult;

impl Func for SrvResult {
    fn name(&self) -> &'static str {
        "SRVRESULT"
    }
    fn synopsis(&self) -> &'static str {
        "Retrieve results from an SRVQUERY."
    }
    fn syntax(&self) -> &'static str {
        "SRVRESULT(id,resultnum[,field])"
    }
    fn description(&self) -> &'static str {
        "Fetch a result of an SRVQUERY. resultnum: the result's number (from 1), or getnum \
         for the number of results. field: host, port, priority or weight."
    }
    fn read(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        let v = args::split(a, ',');
        let id = args::nth(&v, 0).trim();
        let num = args::nth(&v, 1).trim();
        let field = args::nth(&v, 2).trim().to_ascii_lowercase();
        if id.is_empty() || num.is_empty() {
            return Err(FuncError::Usage(
                "Syntax: SRVRESULT(<id>,<resultnum>[,<field>])".into(),
            ));
        }
        let Some(recs) = chan
            .datastores
            .get::<SrvResults>(SRV_STORE)
            .and_then(|r| r.0.get(id))
        else {
            return Err(FuncError::Other(format!(
                "No SRV results found for query ID {id}"
            )));
        };
        if num.eq_ignore_ascii_case("getnum") {
            return Ok(recs.len().to_string());
        }
        if field.is_empty() {
            return Err(FuncError::Usage(
                "A field must be provided when requesting SRV data".into(),
            ));
        }
        let n: usize = num.parse().map_err(|_| {
            FuncError::Other(format!("Invalid value '{num}' for resultnum to SRVRESULT"))
        })?;
        let Some(r) = n.checked_sub(1).and_then(|i| recs.get(i)) else {
            return Err(FuncError::Other(format!(
                "Failed to get record number {n} for SRVRESULT"
            )));
        };
        Ok(match field.as_str() {
            "host" => r.target.clone(),
            "port" => r.port.to_string(),
            "priority" => r.priority.to_string(),
            "weight" => r.weight.to_string(),
            _ => {
                return Err(FuncError::Other(format!(
                    "Unrecognized SRV field '{field}'"
                )))
            }
        })
    }
}

// ---------------------------------------------------------------------------------------
// BLACKLIST

pub struct Blacklist;

#[async_trait]
impl Func for Blacklist {
    fn name(&self) -> &'static str {
        "BLACKLIST"
    }
    fn synopsis(&self) -> &'static str {
        "Check if the callerid is on the blacklist."
    }
    fn syntax(&self) -> &'static str {
        "BLACKLIST()"
    }
    fn description(&self) -> &'static str {
        "Uses astdb to check if the Caller*ID is in family blacklist. Returns 1 or 0."
    }
    fn read(&self, chan: &mut Channel, _a: &str) -> Result<String, FuncError> {
        let db = &chan.pbx.astdb;
        let hit = |k: &Option<String>| {
            k.as_deref()
                .is_some_and(|k| !k.is_empty() && db.get("blacklist", k).is_some())
        };
        Ok(u8::from(hit(&chan.caller.num) || hit(&chan.caller.name)).to_string())
    }
    fn is_async(&self) -> bool {
        true
    }
    async fn read_async(&self, chan: &mut Channel, _a: &str) -> Result<String, FuncError> {
        let pbx = chan.pbx.clone();
        let keys = [chan.caller.num.clone(), chan.caller.name.clone()];
        let hit = super::on_pool(move || {
            keys.iter()
                .flatten()
                .any(|k| !k.is_empty() && pbx.astdb.get("blacklist", k).is_some())
        })
        .await?;
        Ok(u8::from(hit).to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pbx::tests::{get, pbx_with, run};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A tiny HTTP server answering each request with its method, path and body.
    async fn http_echo() -> u16 {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 8192];
                    let mut got = Vec::new();
                    loop {
                        let n = s.read(&mut buf).await.unwrap_or(0);
                        if n == 0 {
                            break;
                        }
                        got.extend_from_slice(&buf[..n]);
                        let text = String::from_utf8_lossy(&got).to_string();
                        if let Some((head, body)) = text.split_once("\r\n\r\n") {
                            let len = head
                                .lines()
                                .find_map(|l| {
                                    l.to_ascii_lowercase()
                                        .strip_prefix("content-length:")
                                        .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                                })
                                .unwrap_or(0);
                            if body.len() >= len {
                                let first = head.lines().next().unwrap_or("");
                                let path = first.split(' ').nth(1).unwrap_or("");
                                let auth = head.lines().any(|l| {
                                    l.to_ascii_lowercase().starts_with("authorization: basic")
                                });
                                let reply = if path == "/hash" {
                                    "a=1&b=two%20x&c=3+4".to_string()
                                } else if path == "/missing" {
                                    let _ = s.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\nConnection: close\r\n\r\nnope").await;
                                    return;
                                } else {
                                    format!(
                                        "{} {} {} auth={auth}",
                                        first.split(' ').next().unwrap_or(""),
                                        path,
                                        body
                                    )
                                };
                                let _ = s
                                    .write_all(
                                        format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}", reply.len())
                                            .as_bytes(),
                                    )
                                    .await;
                                return;
                            }
                        }
                    }
                });
            }
        });
        port
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn curl_get_post_options_and_file() {
        let port = http_echo().await;
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("out.txt");
        let fs = f.to_str().unwrap();
        let pbx = pbx_with(&format!(
            "[t]\nexten => s,1,Set(G=${{CURL(http://127.0.0.1:{port}/get)}})\n\
             same => n,Set(P=${{CURL(http://127.0.0.1:{port}/post,x=1&y=2)}})\n\
             same => n,Set(CURLOPT(userpwd)=u:p)\n same => n,Set(A=${{CURL(http://127.0.0.1:{port}/auth)}})\n\
             same => n,Set(CURLOPT(hashcompat)=legacy)\n\
             same => n,Set(HASH(h)=${{CURL(http://127.0.0.1:{port}/hash)}})\n\
             same => n,Set(HB=${{HASH(h,b)}})\n same => n,Set(HC=${{HASH(h,c)}})\n\
             same => n,Set(CURLOPT(hashcompat)=)\n\
             same => n,Set(CURLOPT(failurecodes)=404,500)\n\
             same => n,Set(M=x${{CURL(http://127.0.0.1:{port}/missing)}})\n same => n,Set(MS=${{CURLSTATUS}})\n\
             same => n,Set(CURL(http://127.0.0.1:{port}/file)={fs})\n\
             same => n,Set(O=${{CURLOPT(userpwd)}})\n"
        ));
        let v = run(&pbx, "t", "s").await;
        assert_eq!(get(&v, "G"), Some("GET /get  auth=false"));
        assert_eq!(get(&v, "P"), Some("POST /post x=1&y=2 auth=false"));
        assert_eq!(get(&v, "A"), Some("GET /auth  auth=true"));
        assert_eq!(get(&v, "HB"), Some("two x"));
        assert_eq!(get(&v, "HC"), Some("3 4"));
        assert_eq!(get(&v, "M"), Some("x"), "a failure code gives nothing");
        assert_eq!(get(&v, "MS"), Some("404"));
        assert_eq!(get(&v, "O"), Some("u:p"));
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "GET /file  auth=true");
    }

    #[tokio::test]
    async fn blacklist_and_srvresult_without_a_query() {
        let pbx = pbx_with(
            "[t]\nexten => s,1,Set(CALLERID(num)=5551234)\n same => n,Set(B1=${BLACKLIST()})\n\
             same => n,Set(DB(blacklist/5551234)=1)\n same => n,Set(B2=${BLACKLIST()})\n\
             same => n,Set(R=x${SRVRESULT(nothing,getnum)})\n",
        );
        let v = run(&pbx, "t", "s").await;
        assert_eq!(get(&v, "B1"), Some("0"));
        assert_eq!(get(&v, "B2"), Some("1"));
        assert_eq!(get(&v, "R"), Some("x"));
    }

    #[test]
    fn hashcompat_forms() {
        assert_eq!(
            hashcompat("a=1&b=x%20y", false),
            ("a,b".into(), "1,x y".into())
        );
        assert_eq!(hashcompat("a=1+2", true), ("a".into(), "1 2".into()));
        assert_eq!(hashcompat("a=1+2", false), ("a".into(), "1+2".into()));
        assert_eq!(hashcompat("k=x%2Cy", false), ("k".into(), "x\\,y".into()));
    }
}
