//! `app_voicemail.so`: mailboxes from `voicemail.conf` ([`config`]), the message store
//! behind a trait ([`store`]: Asterisk's file spool today, IMAP later), message metadata
//! ([`metadata`]) and email notification ([`email`]); the applications `VoiceMail`
//! ([`app`]), `VoiceMailMain` and `VMAuthenticate` ([`main_menu`]), the functions
//! ([`funcs`], with `func_vmcount.so`) and the `voicemail …` commands ([`cli`]).
//!
//! [`Voicemail`] is the module's service ([`of`]): the current config (swapped whole on
//! reload; a broken file keeps the old one) and the store. After every change to a mailbox
//! it publishes `MessageWaiting` on the core's event bus, and it answers the core's
//! [`MailboxCounts`] questions, so chan_sip lights lamps without knowing this module.

pub mod app;
pub mod cli;
pub mod config;
pub mod email;
pub mod funcs;
pub mod imap;
pub mod imapstore;
pub mod main_menu;
pub mod metadata;
pub mod playmsg;
pub mod poll;
pub mod store;
pub mod vmsay;

use crate::config::settings::Settings;
use crate::config::ConfigError;
use crate::pbx::events::{Event, EventBus};
use crate::pbx::module::{Module, ModuleContext, ModuleError, ModuleInfo, Reload};
use crate::pbx::mwi::{MailboxCounts, MwiState};
use crate::pbx::Pbx;
use arc_swap::ArcSwap;
use config::{Mailbox, VoicemailConfig};
use std::sync::Arc;
use store::{BoxId, FileStore, Folder, MessageStore};

/// The voicemail service.
pub struct Voicemail {
    config: ArcSwap<VoicemailConfig>,
    /// The file spool, or IMAP when voicemail.conf names an `imapserver`.
    store: parking_lot::RwLock<Arc<dyn MessageStore>>,
    spool: std::path::PathBuf,
    /// Where `MessageWaiting` goes.
    pub events: EventBus,
    pub mailer: Arc<email::Mailer>,
}

impl Voicemail {
    /// Spool under `<astspooldir>/voicemail`, mail queue under `<astspooldir>/mailqueue`; no
    /// mailboxes until [`Voicemail::reload`].
    pub fn new(settings: &Settings, events: EventBus) -> Voicemail {
        Voicemail {
            config: ArcSwap::from_pointee(VoicemailConfig::default()),
            store: parking_lot::RwLock::new(Arc::new(FileStore::new(
                settings.astspooldir.join("voicemail"),
            ))),
            spool: settings.astspooldir.join("voicemail"),
            events,
            mailer: Arc::new(email::Mailer::new(settings.astspooldir.join("mailqueue"))),
        }
    }

    pub fn config(&self) -> Arc<VoicemailConfig> {
        self.config.load_full()
    }

    /// Where messages are kept now.
    pub fn store(&self) -> Arc<dyn MessageStore> {
        self.store.read().clone()
    }

    /// Follow the config's storage: IMAP when `imapserver` is set (a new store when its
    /// settings changed), else the file spool.
    pub fn choose_store(&self, pbx: &Arc<Pbx>) {
        let want = imap::ImapConfig::from_general(&self.config().general);
        let mut cur = self.store.write();
        match want {
            Some(cfg) => {
                let same = cur
                    .as_any()
                    .and_then(|a| a.downcast_ref::<imapstore::ImapStore>())
                    .is_some_and(|s| s.cfg == cfg);
                if !same {
                    let store = Arc::new(imapstore::ImapStore::new(cfg, pbx, self.spool.clone()));
                    store.watch(self.config().mailboxes.values().map(box_id).collect());
                    *cur = store;
                }
            }
            None if cur.kind() != "file" => {
                *cur = Arc::new(FileStore::new(self.spool.clone()));
            }
            None => {}
        }
    }

    /// Replace the config (tests, realtime).
    pub fn set_config(&self, c: VoicemailConfig) {
        self.config.store(Arc::new(c));
    }

    /// (Re)read `voicemail.conf`. A missing file means no mailboxes; a broken one returns
    /// its errors and keeps the running config. Returns the warnings.
    pub fn reload(&self, settings: &Settings) -> Result<Vec<String>, Vec<ConfigError>> {
        if !settings.astetcdir.join("voicemail.conf").exists() {
            self.set_config(VoicemailConfig::default());
            return Ok(Vec::new());
        }
        let cf = crate::config::load(
            &settings.astetcdir,
            "voicemail.conf",
            &settings.load_options(),
        )
        .map_err(|e| vec![e])?;
        let (c, warnings) = config::parse_voicemail_conf(&cf)?;
        self.set_config(c);
        Ok(warnings)
    }

    /// The mailbox `mbox[@context]`, following `aliasescontext` aliases.
    pub fn mailbox(&self, spec: &str) -> Option<Mailbox> {
        let c = self.config();
        if let Some(m) = c.mailbox(spec) {
            return Some(m.clone());
        }
        let id = BoxId::parse(spec);
        let alias = c.general.aliasescontext.as_deref()?;
        let key = if id.context == alias || !spec.contains('@') {
            id.mailbox.clone()
        } else {
            id.to_string()
        };
        let target = c
            .aliases
            .iter()
            .find(|(a, _)| a.eq_ignore_ascii_case(&key) || *a == id.to_string())
            .map(|(_, t)| t.clone())?;
        c.mailbox(&target).cloned()
    }

    /// The mailbox `mbox[@context]` from voicemail.conf (and its aliases) or, when it has
    /// none and `extconfig.conf` maps `voicemail`, from realtime storage (read each time, as
    /// app_voicemail does). Without a context: `default`, or any with `searchcontexts`.
    pub async fn find(&self, pbx: &Pbx, spec: &str) -> Option<Mailbox> {
        if let Some(m) = self.mailbox(spec) {
            return Some(m);
        }
        if !pbx.realtime.is_enabled("voicemail") {
            return None;
        }
        let (mailbox, context) = match spec.split_once('@') {
            Some((m, c)) if !c.is_empty() => (m, Some(c)),
            Some((m, _)) => (m, None),
            None => (spec, None),
        };
        if mailbox.is_empty() {
            return None;
        }
        let search = self
            .config()
            .general
            .other("searchcontexts")
            .is_some_and(crate::config::is_true);
        let mut filter = vec![("mailbox".to_string(), mailbox.to_string())];
        let context = match context {
            None if search => None,
            c => Some(c.unwrap_or("default")),
        };
        if let Some(c) = context {
            filter.push(("context".to_string(), c.to_string()));
        }
        let row = pbx
            .realtime
            .load("voicemail", &filter)
            .await
            .ok()
            .flatten()?;
        let (m, warnings) =
            config::mailbox_from_realtime(&row, mailbox, context.unwrap_or("default"));
        for w in warnings {
            pbx.warning(&w);
        }
        Some(m)
    }

    /// Current counts of a mailbox (zeros when it has no messages or does not exist).
    pub async fn mwi_state(&self, mb: &BoxId) -> MwiState {
        let c = self
            .store()
            .counts(mb, &[Folder::Inbox, Folder::Urgent, Folder::Old])
            .await;
        let (inbox, urgent, old) = (c[0], c[1], c[2]);
        MwiState {
            mailbox: mb.mailbox.clone(),
            context: mb.context.clone(),
            new: inbox + urgent,
            old,
            urgent_new: urgent,
            urgent_old: 0,
        }
    }

    /// Tell MWI subscribers that a mailbox changed, and run `externnotify` if set.
    pub async fn changed(&self, mb: &BoxId) {
        let s = self.mwi_state(mb).await;
        if let Some(cmd) = self.config().general.other("externnotify") {
            run_externnotify(cmd, &s);
        }
        self.events.publish(Event::MessageWaiting(s));
    }
}

#[async_trait::async_trait]
impl MailboxCounts for Voicemail {
    async fn counts(&self, mailbox: &str, context: &str) -> MwiState {
        self.mwi_state(&BoxId::new(mailbox, context)).await
    }
}

/// The voicemail service of the loaded module. When `app_voicemail.so` is not loaded (a
/// call that was inside VoiceMailMain during a forced unload), a service with no mailboxes.
pub fn of(pbx: &Pbx) -> Arc<Voicemail> {
    pbx.service::<Voicemail>()
        .unwrap_or_else(|| Arc::new(Voicemail::new(&pbx.settings, pbx.events.clone())))
}

/// The module.
pub struct AppVoicemail;

#[async_trait::async_trait]
impl Module for AppVoicemail {
    fn info(&self) -> ModuleInfo {
        ModuleInfo::new("app_voicemail.so", "Comedian Mail (Voicemail System)")
            .configs(&["voicemail.conf"])
    }
    fn load(&self, ctx: &ModuleContext) -> Result<(), ModuleError> {
        let pbx = &ctx.pbx;
        let vm = Arc::new(Voicemail::new(&pbx.settings, pbx.events.clone()));
        // A broken voicemail.conf is reported and leaves voicemail without mailboxes; the
        // PBX still starts (calls work, VoiceMail() fails with VMSTATUS=FAILED).
        match vm.reload(&pbx.settings) {
            Ok(warnings) => {
                for w in warnings {
                    pbx.warning(&format!("app_voicemail.c: {w}"));
                }
                let n = vm.config().mailboxes.len();
                pbx.verbose_line(2, &format!("app_voicemail: loaded {n} mailboxes"));
            }
            Err(errs) => {
                for e in &errs {
                    eprintln!("{e}");
                    pbx.error(&format!("app_voicemail.c: {e}"));
                }
                pbx.error("app_voicemail.c: voicemail.conf has errors: no mailboxes loaded");
            }
        }
        vm.choose_store(pbx);
        ctx.provide(vm.clone());
        ctx.register_mailboxes(vm);
        ctx.register_app(Arc::new(app::VoiceMailApp));
        ctx.register_app(Arc::new(main_menu::VoiceMailMain));
        ctx.register_app(Arc::new(main_menu::VmAuthenticate));
        ctx.register_app(Arc::new(app::VmSayName));
        ctx.register_app(Arc::new(playmsg::VoiceMailPlayMsg));
        ctx.register_func(Arc::new(funcs::VmInfo));
        ctx.register_func(Arc::new(funcs::MailboxExists));
        ctx.register_cli_with(cli::register);
        Ok(())
    }
    async fn start(&self, ctx: &ModuleContext) -> Result<(), ModuleError> {
        let pbx = &ctx.pbx;
        of(pbx).mailer.start(pbx);
        poll::start(pbx);
        // Recordings a crash interrupted are delivered (nothing a caller recorded is lost).
        let p = pbx.clone();
        tokio::spawn(async move {
            app::recover(&p).await;
        });
        Ok(())
    }
    fn reload(&self, ctx: &ModuleContext) -> Reload {
        let text = reload(&ctx.pbx);
        if text.is_empty() {
            Reload::Done(text)
        } else {
            Reload::Failed(text)
        }
    }
}

/// `voicemail reload`: re-read `voicemail.conf`; on errors keep the running config and
/// return them (file:line:column).
pub fn reload(pbx: &Arc<Pbx>) -> String {
    let vm = of(pbx);
    match vm.reload(&pbx.settings) {
        Ok(warnings) => {
            vm.choose_store(pbx);
            for w in warnings {
                pbx.warning(&format!("app_voicemail.c: {w}"));
            }
            pbx.verbose_line(2, "app_voicemail: voicemail.conf reloaded");
            String::new()
        }
        Err(errs) => {
            let mut out = String::new();
            for e in &errs {
                pbx.error(&format!("app_voicemail.c: {e}"));
                out.push_str(&format!("{e}\n"));
            }
            out.push_str("voicemail.conf has errors: keeping the running configuration\n");
            out
        }
    }
}

/// app_voicemail's `externnotify`: `<command> <context> <mailbox> <new> <old> <urgent>`, in
/// the background. The counts are passed as separate arguments (never through the shell's
/// parser); the command itself may carry its own arguments.
fn run_externnotify(cmd: &str, s: &MwiState) {
    let cmd = cmd.trim();
    if cmd.is_empty() {
        return;
    }
    let args = [
        s.context.clone(),
        s.mailbox.clone(),
        (s.new - s.urgent_new).to_string(),
        s.old.to_string(),
        s.urgent_new.to_string(),
    ];
    let cmd = cmd.to_string();
    // Starting (fork/exec) and reaping the process: on a thread of its own, never on an
    // async worker.
    let started = std::thread::Builder::new()
        .name("externnotify".into())
        .spawn(move || {
            let spawned = std::process::Command::new("/bin/sh")
                .arg("-c")
                .arg(format!("{cmd} \"$@\""))
                .arg("externnotify")
                .args(&args)
                .stdin(std::process::Stdio::null())
                .spawn();
            match spawned {
                Ok(mut child) => {
                    let _ = child.wait();
                }
                Err(e) => tracing::warn!("externnotify {cmd}: {e}"),
            }
        });
    if let Err(e) = started {
        tracing::warn!("externnotify: {e}");
    }
}

/// The id of a configured mailbox.
pub fn box_id(m: &Mailbox) -> BoxId {
    BoxId::new(&m.mailbox, &m.context)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::voicemail::metadata::MessageInfo;

    #[tokio::test]
    async fn externnotify_gets_context_mailbox_and_counts() {
        let t = tempfile::tempdir().unwrap();
        let mut settings =
            Settings::defaults_for(std::path::Path::new("/nonexistent/ferrisk.conf"));
        settings.astspooldir = t.path().to_path_buf();
        let vm = Voicemail::new(&settings, crate::pbx::events::EventBus::default());
        let out = t.path().join("notified");
        let conf = format!(
            "[general]\nexternnotify=printf '%s,' >>{}\n[default]\n100 => 1,A\n",
            out.display()
        );
        vm.set_config(config::parse_voicemail_str(&conf).unwrap().0);
        let id = BoxId::parse("100@default");
        vm.store().ensure(&id).await.unwrap();
        let rec = vm.store().scratch_dir(&id).join("r.wav");
        std::fs::write(&rec, b"x").unwrap();
        vm.store()
            .deliver(&id, Folder::Inbox, &rec, &MessageInfo::default(), 100)
            .await
            .unwrap();
        let mut rx = vm.events.subscribe_mwi();
        vm.changed(&id).await;
        assert_eq!(rx.recv().await.unwrap().new, 1);
        for _ in 0..200 {
            if std::fs::read_to_string(&out).is_ok_and(|s| s.ends_with(',')) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "default,100,1,0,0,");
    }
}
