//! The module boundary: every subsystem (a channel driver, a family of applications or
//! functions, voicemail, music on hold, a CDR backend, a realtime engine) is a [`Module`] with
//! Asterisk's name (`chan_sip.so`, `app_dial.so`, `func_strings.so`, …). At load a module
//! registers what it provides through a [`ModuleContext`]; at unload everything it registered
//! is removed again, because every registry entry carries its owner.
//!
//! The core knows this trait and the registries, never a concrete module: the composition root
//! (`daemon.rs`, `modules.rs`) hands the list of compiled-in modules to [`ModuleLoader`], and
//! `modules.conf` says which of them load. This file never imports a module or the console.
//!
//! Loading runs in two phases: [`Module::load`] registers and reads config files (blocking
//! work: the loader runs it on the blocking pool), [`Module::start`] does the async part
//! (binding sockets, spawning tasks). Unload is refused while the module is in use (an
//! application of it is running, or channels of its technology exist) unless forced, as
//! Asterisk's `module unload` without `-f`.

use super::Pbx;
use arc_swap::ArcSwap;
use async_trait::async_trait;
use indexmap::IndexMap;
use parking_lot::{Mutex, RwLock};
use rustc_hash::FxHashMap;
use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Asterisk's support levels, as `module show` prints them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SupportLevel {
    Core,
    Extended,
    Deprecated,
}

impl SupportLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            SupportLevel::Core => "core",
            SupportLevel::Extended => "extended",
            SupportLevel::Deprecated => "deprecated",
        }
    }
}

/// What `module show` says about a module, and what it needs.
#[derive(Debug, Clone, Copy)]
pub struct ModuleInfo {
    /// The resource name with `.so`, as Asterisk's (`app_voicemail.so`).
    pub name: &'static str,
    /// Asterisk's description (`Comedian Mail (Voicemail System)`).
    pub description: &'static str,
    pub support: SupportLevel,
    /// Modules that must be loaded first (`chan_sip.so` needs nothing; a realtime user may
    /// name its engine).
    pub requires: &'static [&'static str],
    /// Config files the module reads and reloads (for `docs/` and `module show` users).
    pub configs: &'static [&'static str],
    /// Part of the core (the built-in applications): always loaded, not listed by
    /// `module show`, cannot be unloaded or named in `noload`.
    pub builtin: bool,
}

impl ModuleInfo {
    /// A core-supported module with no dependencies and no config file.
    pub const fn new(name: &'static str, description: &'static str) -> ModuleInfo {
        ModuleInfo {
            name,
            description,
            support: SupportLevel::Core,
            requires: &[],
            configs: &[],
            builtin: false,
        }
    }
    pub const fn support(mut self, s: SupportLevel) -> ModuleInfo {
        self.support = s;
        self
    }
    pub const fn configs(mut self, c: &'static [&'static str]) -> ModuleInfo {
        self.configs = c;
        self
    }
    pub const fn requires(mut self, r: &'static [&'static str]) -> ModuleInfo {
        self.requires = r;
        self
    }
    pub const fn builtin(mut self) -> ModuleInfo {
        self.builtin = true;
        self
    }
}

/// The result of a module's reload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reload {
    /// The module does not reload (Asterisk: "does not support reloads").
    NotSupported,
    /// Reloaded; the text is printed by the CLI (may be empty).
    Done(String),
    /// The new configuration was refused; the running one is kept. The text says why.
    Failed(String),
}

/// Why a module did not load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModuleError {
    /// The module chose not to run (its config file is missing, as chan_sip without
    /// `sip.conf`): reported as a notice, start-up goes on.
    Decline(String),
    /// It could not load (its config file has errors): start-up stops.
    Failed(String),
}

impl From<String> for ModuleError {
    fn from(s: String) -> Self {
        ModuleError::Failed(s)
    }
}

impl std::fmt::Display for ModuleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ModuleError::Decline(m) | ModuleError::Failed(m) => write!(f, "{m}"),
        }
    }
}

/// One loadable module.
#[async_trait]
pub trait Module: Send + Sync + 'static {
    fn info(&self) -> ModuleInfo;
    /// Register applications, functions, CLI commands, technologies, engines and services;
    /// read config files. Runs on the blocking pool. An error declines the load (nothing it
    /// registered stays).
    fn load(&self, ctx: &ModuleContext) -> Result<(), ModuleError>;
    /// The async part of loading (sockets, tasks). Runs after `load`.
    async fn start(&self, _ctx: &ModuleContext) -> Result<(), ModuleError> {
        Ok(())
    }
    /// Stop what `start` started. Registrations are removed by the loader afterwards.
    async fn stop(&self, _ctx: &ModuleContext) {}
    /// Re-read the module's config files (`module reload X`, `core reload`).
    fn reload(&self, _ctx: &ModuleContext) -> Reload {
        Reload::NotSupported
    }
}

#[derive(Clone, Copy)]
/// A module that only registers things (most `app_*` and `func_*` modules): its load calls
/// `register`, and unload removes what it registered.
pub struct Family {
    pub info: ModuleInfo,
    pub register: fn(&ModuleContext),
}

#[async_trait]
impl Module for Family {
    fn info(&self) -> ModuleInfo {
        self.info
    }
    fn load(&self, ctx: &ModuleContext) -> Result<(), ModuleError> {
        (self.register)(ctx);
        Ok(())
    }
}

/// Who registered an entry, and how many callers are inside it right now.
#[derive(Debug)]
pub struct Owner {
    pub name: &'static str,
    uses: AtomicUsize,
}

impl Owner {
    pub fn new(name: &'static str) -> Arc<Owner> {
        Arc::new(Owner {
            name,
            uses: AtomicUsize::new(0),
        })
    }
    /// Count a use until the guard drops (an application running on a channel).
    pub fn enter(&self) -> UseGuard<'_> {
        self.uses.fetch_add(1, Ordering::Relaxed);
        UseGuard(self)
    }
    pub fn uses(&self) -> usize {
        self.uses.load(Ordering::Relaxed)
    }
}

/// A use of a module, released on drop.
pub struct UseGuard<'a>(&'a Owner);

impl Drop for UseGuard<'_> {
    fn drop(&mut self) {
        self.0.uses.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A registered item and its owner.
pub struct Entry<T: ?Sized> {
    pub item: Arc<T>,
    pub owner: Arc<Owner>,
}

/// A case-insensitive name → item registry whose entries carry their owner. Reads are
/// lock-free (the dialplan looks an application up on every step); writes copy the map,
/// which only module load and unload do.
pub struct Registry<T: ?Sized> {
    map: ArcSwap<FxHashMap<String, Arc<Entry<T>>>>,
    write: Mutex<()>,
    /// Bumped by every change, so a caller may cache look-ups ([`Registry::generation`]).
    generation: std::sync::atomic::AtomicU64,
}

impl<T: ?Sized> Default for Registry<T> {
    fn default() -> Self {
        Registry {
            map: ArcSwap::from_pointee(FxHashMap::default()),
            write: Mutex::new(()),
            generation: std::sync::atomic::AtomicU64::new(0),
        }
    }
}

impl<T: ?Sized + Send + Sync> Registry<T> {
    /// Add (or replace) `name`.
    pub fn insert(&self, name: &str, item: Arc<T>, owner: Arc<Owner>) {
        let _g = self.write.lock();
        let mut m = (**self.map.load()).clone();
        m.insert(name.to_ascii_lowercase(), Arc::new(Entry { item, owner }));
        self.map.store(Arc::new(m));
        self.generation.fetch_add(1, Ordering::Release);
    }
    /// Changes every time an entry is added or removed: a look-up cached at generation `g`
    /// is still right while this returns `g`.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }
    /// Remove everything `owner` registered; returns how many.
    pub fn remove_owner(&self, owner: &str) -> usize {
        let _g = self.write.lock();
        let mut m = (**self.map.load()).clone();
        let before = m.len();
        m.retain(|_, e| e.owner.name != owner);
        let n = before - m.len();
        self.map.store(Arc::new(m));
        self.generation.fetch_add(1, Ordering::Release);
        n
    }
    /// The entry for `name` (any case).
    pub fn entry(&self, name: &str) -> Option<Arc<Entry<T>>> {
        let map = self.map.load();
        if !name.bytes().any(|b| b.is_ascii_uppercase()) {
            return map.get(name).cloned();
        }
        // Lower-case on the stack: this runs once per dialplan step.
        let mut buf = [0u8; 64];
        if name.len() <= buf.len() {
            let lower = &mut buf[..name.len()];
            lower.copy_from_slice(name.as_bytes());
            lower.make_ascii_lowercase();
            if let Ok(key) = std::str::from_utf8(lower) {
                return map.get(key).cloned();
            }
        }
        map.get(&name.to_ascii_lowercase()).cloned()
    }
    /// The entry for `key`, already lower-case (the interpreter's per-step look-up).
    pub fn entry_lower(&self, key: &str) -> Option<Arc<Entry<T>>> {
        self.map.load().get(key).cloned()
    }
    /// The item for `name` (any case).
    pub fn get(&self, name: &str) -> Option<Arc<T>> {
        self.entry(name).map(|e| e.item.clone())
    }
    /// Every entry, sorted by name.
    pub fn entries(&self) -> Vec<(String, Arc<Entry<T>>)> {
        let mut v: Vec<_> = self
            .map
            .load()
            .iter()
            .map(|(k, e)| (k.clone(), e.clone()))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }
    /// Every item, sorted by name.
    pub fn list(&self) -> Vec<Arc<T>> {
        self.entries()
            .into_iter()
            .map(|(_, e)| e.item.clone())
            .collect()
    }
    /// Names registered by `owner`, sorted.
    pub fn names_of(&self, owner: &str) -> Vec<String> {
        self.entries()
            .into_iter()
            .filter(|(_, e)| e.owner.name == owner)
            .map(|(k, _)| k)
            .collect()
    }
    pub fn len(&self) -> usize {
        self.map.load().len()
    }
    pub fn is_empty(&self) -> bool {
        self.map.load().is_empty()
    }
}

/// Shared services modules provide to each other by type (voicemail's mailbox service,
/// the conference rooms, music on hold classes), with their owner.
#[derive(Default)]
pub struct Services {
    map: RwLock<HashMap<TypeId, ServiceEntry>>,
}

/// A service and the module that provides it.
type ServiceEntry = (Arc<dyn Any + Send + Sync>, &'static str);

impl Services {
    pub fn insert<T: Any + Send + Sync>(&self, owner: &'static str, s: Arc<T>) {
        self.map.write().insert(TypeId::of::<T>(), (s, owner));
    }
    pub fn get<T: Any + Send + Sync>(&self) -> Option<Arc<T>> {
        let m = self.map.read();
        let (s, _) = m.get(&TypeId::of::<T>())?;
        s.clone().downcast::<T>().ok()
    }
    /// The service of type `T`, created by `f` the first time (a service several modules
    /// share, owned by `owner`).
    pub fn get_or_insert_with<T: Any + Send + Sync>(
        &self,
        owner: &'static str,
        f: impl FnOnce() -> T,
    ) -> Arc<T> {
        if let Some(s) = self.get::<T>() {
            return s;
        }
        let mut m = self.map.write();
        let (s, _) = m
            .entry(TypeId::of::<T>())
            .or_insert_with(|| (Arc::new(f()) as Arc<dyn Any + Send + Sync>, owner));
        match s.clone().downcast::<T>() {
            Ok(s) => s,
            // Unreachable: the entry is keyed by T's TypeId.
            Err(_) => unreachable!("service map entry of the wrong type"),
        }
    }
    pub fn remove_owner(&self, owner: &str) {
        self.map.write().retain(|_, (_, o)| *o != owner);
    }
}

/// What a module registers through; every registration carries the module as owner.
#[derive(Clone)]
pub struct ModuleContext {
    pub pbx: Arc<Pbx>,
    pub owner: Arc<Owner>,
}

impl ModuleContext {
    pub fn new(pbx: &Arc<Pbx>, name: &'static str) -> ModuleContext {
        ModuleContext {
            pbx: pbx.clone(),
            owner: Owner::new(name),
        }
    }
    /// A dialplan application.
    pub fn register_app(&self, app: Arc<dyn super::app::App>) {
        self.pbx.apps.insert(app.name(), app, self.owner.clone());
    }
    /// A dialplan function.
    pub fn register_func(&self, f: Arc<dyn super::func::Func>) {
        if f.is_async() {
            let mut names = self.pbx.async_funcs.write();
            let n = f.name().to_ascii_uppercase();
            if !names.contains(&n) {
                names.push(n);
            }
        }
        self.pbx.funcs.insert(f.name(), f, self.owner.clone());
    }
    /// A CLI command.
    pub fn register_cli(&self, mut c: super::cli::Command) {
        c.owner = self.owner.name;
        self.pbx.cli.register(c);
    }
    /// The commands a `register(&CommandRegistry)` function adds.
    pub fn register_cli_with(&self, f: impl FnOnce(&super::cli::CommandRegistry)) {
        let tmp = super::cli::CommandRegistry::default();
        f(&tmp);
        for c in tmp.list() {
            self.register_cli(c);
        }
    }
    /// A manager (AMI) action.
    pub fn register_manager_action(&self, a: Arc<dyn super::manager::Action>) {
        self.pbx
            .manager_actions
            .insert(a.name(), a, self.owner.clone());
    }
    /// A channel technology (`Dial(SIP/…)`).
    pub fn register_tech(&self, d: Arc<dyn super::tech::Driver>) {
        self.pbx.techs.insert(d.tech(), d, self.owner.clone());
    }
    /// A message technology (`MessageSend(sip:…)`).
    pub fn register_msg_tech(&self, t: Arc<dyn super::tech::MessageTech>) {
        self.pbx.msg_techs.insert(t.name(), t, self.owner.clone());
    }
    /// A CDR backend.
    pub fn register_cdr_backend(&self, b: Arc<dyn super::cdr::CdrBackend>) {
        self.pbx.cdr.add_backend(self.owner.name, b);
    }
    /// The voicemail side of message waiting (`ast_install_vm_functions`).
    pub fn register_mailboxes(&self, m: Arc<dyn super::mwi::MailboxCounts>) {
        *self.pbx.mailboxes.write() = Some((self.owner.name, m));
    }
    /// A realtime engine (`sqlite3`, later `ldap`, `pgsql`) for `extconfig.conf` mappings.
    pub fn register_realtime_engine(&self, e: Arc<dyn super::realtime::RealtimeEngine>) {
        self.pbx
            .modules
            .engine_owners
            .lock()
            .push((self.owner.name, e.name()));
        self.pbx.realtime.register_engine(e);
    }
    /// A service other modules look up by type ([`Pbx::service`]).
    pub fn provide<T: Any + Send + Sync>(&self, s: Arc<T>) {
        self.pbx.services.insert(self.owner.name, s);
    }
}

/// Remove everything `owner` registered.
fn unregister_all(pbx: &Pbx, owner: &str) {
    pbx.apps.remove_owner(owner);
    pbx.funcs.remove_owner(owner);
    pbx.cli.remove_owner(owner);
    pbx.techs.remove_owner(owner);
    pbx.msg_techs.remove_owner(owner);
    pbx.manager_actions.remove_owner(owner);
    pbx.cdr.remove_owner(owner);
    pbx.services.remove_owner(owner);
    {
        let mut mb = pbx.mailboxes.write();
        if mb.as_ref().is_some_and(|(o, _)| *o == owner) {
            *mb = None;
        }
    }
    let engines: Vec<&'static str> = {
        let mut eo = pbx.modules.engine_owners.lock();
        let names = eo
            .iter()
            .filter(|(o, _)| *o == owner)
            .map(|(_, n)| *n)
            .collect();
        eo.retain(|(o, _)| *o != owner);
        names
    };
    for e in engines {
        pbx.realtime.unregister_engine(e);
    }
}

/// A loaded module.
struct Loaded {
    module: Arc<dyn Module>,
    ctx: ModuleContext,
}

/// One row of `module show`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleRow {
    pub name: &'static str,
    pub description: &'static str,
    pub use_count: usize,
    pub running: bool,
    pub support: SupportLevel,
}

/// Why a load failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadError {
    /// No compiled-in module of that name.
    NotFound,
    AlreadyLoaded,
    /// The module (or one it requires) declined; the message says why.
    Declined(String),
    /// The module failed (config errors); the message says why.
    Failed(String),
}

impl From<ModuleError> for LoadError {
    fn from(e: ModuleError) -> Self {
        match e {
            ModuleError::Decline(m) => LoadError::Declined(m),
            ModuleError::Failed(m) => LoadError::Failed(m),
        }
    }
}

/// Why an unload failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnloadError {
    NotLoaded,
    /// Built into the core.
    Builtin,
    /// In use (count), and not forced.
    InUse(usize),
    /// Another loaded module requires it.
    Required(&'static str),
}

/// Match a resource name as Asterisk does: `app_dial`, `app_dial.so` and any case.
pub fn base_name(name: &str) -> String {
    let n = name.trim();
    let n = n.strip_suffix(".so").unwrap_or(n);
    n.to_ascii_lowercase()
}

/// The module loader: the compiled-in modules and which of them run.
#[derive(Default)]
pub struct ModuleLoader {
    available: RwLock<IndexMap<String, Arc<dyn Module>>>,
    loaded: RwLock<IndexMap<String, Loaded>>,
    /// One load/unload/reload at a time.
    busy: tokio::sync::Mutex<()>,
    /// Realtime engines by owning module: (module, engine name).
    engine_owners: Mutex<Vec<(&'static str, &'static str)>>,
}

impl ModuleLoader {
    /// Make `modules` known (the composition root's list). Nothing loads yet.
    pub fn set_available(&self, modules: Vec<Arc<dyn Module>>) {
        let mut a = self.available.write();
        for m in modules {
            a.insert(base_name(m.info().name), m);
        }
    }

    /// Names of every compiled-in module, in load order.
    pub fn available(&self) -> Vec<ModuleInfo> {
        self.available.read().values().map(|m| m.info()).collect()
    }

    pub fn find(&self, name: &str) -> Option<Arc<dyn Module>> {
        self.available.read().get(&base_name(name)).cloned()
    }

    pub fn is_loaded(&self, name: &str) -> bool {
        self.loaded.read().contains_key(&base_name(name))
    }

    /// Load `name` (and first what it requires). Errors leave nothing registered.
    pub async fn load(&self, pbx: &Arc<Pbx>, name: &str) -> Result<(), LoadError> {
        let _g = self.busy.lock().await;
        self.load_locked(pbx, name, 0).await
    }

    /// Load without the I/O phase, synchronously (tests that need the applications and
    /// functions, not the sockets).
    pub fn load_sync(&self, pbx: &Arc<Pbx>, name: &str) -> Result<(), LoadError> {
        let m = self.find(name).ok_or(LoadError::NotFound)?;
        let info = m.info();
        if self.is_loaded(info.name) {
            return Err(LoadError::AlreadyLoaded);
        }
        let ctx = ModuleContext::new(pbx, info.name);
        if let Err(e) = m.load(&ctx) {
            unregister_all(pbx, info.name);
            return Err(e.into());
        }
        self.loaded
            .write()
            .insert(base_name(info.name), Loaded { module: m, ctx });
        Ok(())
    }

    fn load_locked<'a>(
        &'a self,
        pbx: &'a Arc<Pbx>,
        name: &'a str,
        depth: usize,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), LoadError>> + Send + 'a>>
    {
        Box::pin(async move {
            let m = self.find(name).ok_or(LoadError::NotFound)?;
            let info = m.info();
            if self.is_loaded(info.name) {
                return Err(LoadError::AlreadyLoaded);
            }
            for req in info.requires {
                if self.is_loaded(req) {
                    continue;
                }
                if depth > 8 {
                    return Err(LoadError::Declined(format!(
                        "{} has a dependency loop",
                        info.name
                    )));
                }
                match self.load_locked(pbx, req, depth + 1).await {
                    Ok(()) | Err(LoadError::AlreadyLoaded) => {}
                    Err(_) => {
                        return Err(LoadError::Declined(format!(
                            "{} requires {req}, which could not be loaded",
                            info.name
                        )))
                    }
                }
            }
            let ctx = ModuleContext::new(pbx, info.name);
            let (m2, ctx2) = (m.clone(), ctx.clone());
            let loaded = tokio::task::spawn_blocking(move || m2.load(&ctx2))
                .await
                .unwrap_or_else(|e| Err(ModuleError::Failed(format!("load panicked: {e}"))));
            let res = match loaded {
                Ok(()) => m.start(&ctx).await,
                Err(e) => Err(e),
            };
            if let Err(e) = res {
                m.stop(&ctx).await;
                unregister_all(pbx, info.name);
                return Err(e.into());
            }
            self.loaded
                .write()
                .insert(base_name(info.name), Loaded { module: m, ctx });
            Ok(())
        })
    }

    /// How many channels and running applications use `name` now.
    pub fn use_count(&self, pbx: &Pbx, name: &str) -> usize {
        let l = self.loaded.read();
        let Some(m) = l.get(&base_name(name)) else {
            return 0;
        };
        use_count_of(pbx, &m.ctx.owner)
    }

    /// Unload `name`. Without `force`, a module in use stays (Asterisk's soft unload).
    pub async fn unload(&self, pbx: &Arc<Pbx>, name: &str, force: bool) -> Result<(), UnloadError> {
        let _g = self.busy.lock().await;
        let key = base_name(name);
        let (module, ctx) = {
            let l = self.loaded.read();
            let Some(m) = l.get(&key) else {
                return Err(UnloadError::NotLoaded);
            };
            (m.module.clone(), m.ctx.clone())
        };
        let info = module.info();
        if info.builtin {
            return Err(UnloadError::Builtin);
        }
        let dependent = self
            .loaded
            .read()
            .values()
            .map(|l| l.module.info())
            .find(|i| i.requires.iter().any(|r| base_name(r) == key));
        if let Some(d) = dependent {
            return Err(UnloadError::Required(d.name));
        }
        let uses = use_count_of(pbx, &ctx.owner);
        if uses > 0 && !force {
            pbx.warning(&format!(
                "loader.c: Soft unload failed, '{}' has use count {uses}",
                info.name
            ));
            return Err(UnloadError::InUse(uses));
        }
        if uses > 0 {
            pbx.warning(&format!(
                "loader.c: Warning:  Forcing removal of module '{}' with use count {uses}",
                info.name
            ));
        }
        // Registrations go first, so no new call reaches the module while it stops.
        unregister_all(pbx, info.name);
        module.stop(&ctx).await;
        self.loaded.write().shift_remove(&key);
        pbx.verbose_line(1, &format!("Unloading {}", info.name));
        Ok(())
    }

    /// Reload one module (`module reload X`).
    pub async fn reload(&self, name: &str) -> Option<Reload> {
        let _g = self.busy.lock().await;
        let (module, ctx) = {
            let l = self.loaded.read();
            let m = l.get(&base_name(name))?;
            (m.module.clone(), m.ctx.clone())
        };
        Some(reload_one(module, ctx).await)
    }

    /// Reload every loaded module that supports it, in load order; the texts they print.
    pub async fn reload_all(&self) -> Vec<(&'static str, Reload)> {
        let _g = self.busy.lock().await;
        let mods: Vec<(Arc<dyn Module>, ModuleContext)> = self
            .loaded
            .read()
            .values()
            .map(|l| (l.module.clone(), l.ctx.clone()))
            .collect();
        let mut out = Vec::new();
        for (m, ctx) in mods {
            let name = m.info().name;
            out.push((name, reload_one(m, ctx).await));
        }
        out
    }

    /// Rows for `module show [like X]`, sorted by name (builtins are not listed).
    pub fn rows(&self, pbx: &Pbx, like: &str) -> Vec<ModuleRow> {
        let like = like.to_ascii_lowercase();
        let mut v: Vec<ModuleRow> = self
            .loaded
            .read()
            .values()
            .filter(|l| !l.module.info().builtin)
            .filter(|l| l.module.info().name.to_ascii_lowercase().contains(&like))
            .map(|l| {
                let i = l.module.info();
                ModuleRow {
                    name: i.name,
                    description: i.description,
                    use_count: use_count_of(pbx, &l.ctx.owner),
                    running: true,
                    support: i.support,
                }
            })
            .collect();
        v.sort_by_key(|r| r.name.to_ascii_lowercase());
        v
    }

    /// Names of loaded modules (for completion and `core reload`).
    pub fn loaded_names(&self) -> Vec<&'static str> {
        self.loaded
            .read()
            .values()
            .map(|l| l.module.info().name)
            .collect()
    }

    /// Stop every module, last loaded first (shutdown).
    pub async fn stop_all(&self, pbx: &Arc<Pbx>) {
        let _g = self.busy.lock().await;
        let mods: Vec<(Arc<dyn Module>, ModuleContext)> = self
            .loaded
            .read()
            .values()
            .rev()
            .map(|l| (l.module.clone(), l.ctx.clone()))
            .collect();
        for (m, ctx) in mods {
            m.stop(&ctx).await;
            let _ = pbx;
        }
    }
}

/// Reload one module on the blocking pool, logging Asterisk's verbose line when it reloads.
async fn reload_one(module: Arc<dyn Module>, ctx: ModuleContext) -> Reload {
    let pbx = ctx.pbx.clone();
    let info = module.info();
    let r = tokio::task::spawn_blocking(move || module.reload(&ctx))
        .await
        .unwrap_or_else(|e| Reload::Failed(format!("reload panicked: {e}")));
    if r != Reload::NotSupported {
        pbx.verbose_line(
            3,
            &format!("Reloading module '{}' ({})", info.name, info.description),
        );
    }
    r
}

/// Running applications of `owner` plus live channels of the technologies it registered.
fn use_count_of(pbx: &Pbx, owner: &Arc<Owner>) -> usize {
    let techs = pbx.techs.names_of(owner.name);
    let chans = if techs.is_empty() {
        0
    } else {
        pbx.channels
            .list()
            .iter()
            .filter(|c| {
                let tech = c.name.split('/').next().unwrap_or("").to_ascii_lowercase();
                techs.contains(&tech)
            })
            .count()
    };
    owner.uses() + chans
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_is_case_insensitive_and_owned() {
        let r: Registry<str> = Registry::default();
        let a = Owner::new("a.so");
        let b = Owner::new("b.so");
        r.insert("Dial", Arc::from("dial"), a.clone());
        r.insert("Echo", Arc::from("echo"), b);
        assert_eq!(r.get("DIAL").as_deref(), Some("dial"));
        assert_eq!(r.get("dial").as_deref(), Some("dial"));
        assert_eq!(r.names_of("a.so"), vec!["dial"]);
        assert_eq!(r.remove_owner("a.so"), 1);
        assert!(r.get("Dial").is_none());
        assert_eq!(r.len(), 1);
    }

    #[test]
    fn use_guard_counts() {
        let o = Owner::new("x.so");
        let g1 = o.enter();
        let g2 = o.enter();
        assert_eq!(o.uses(), 2);
        drop(g1);
        drop(g2);
        assert_eq!(o.uses(), 0);
    }

    #[test]
    fn base_names_match_as_asterisk() {
        assert_eq!(base_name("App_Dial.so"), "app_dial");
        assert_eq!(base_name("app_dial"), "app_dial");
    }
}
