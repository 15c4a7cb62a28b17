//! Channel groups and named locks: `GROUP()`, `GROUP_COUNT()`, `GROUP_MATCH_COUNT()`,
//! `GROUP_LIST()` and the `group show channels` command (func_groupcount.so), and
//! `LOCK()`, `TRYLOCK()`, `UNLOCK()` (func_lock.so).
//!
//! Both keep a table per PBX (a core service) keyed by the channel's unique ID. A channel
//! carries a small guard in its datastores; when the channel goes away the guard leaves
//! its groups and frees its locks, as Asterisk does at channel destruction.

use super::strings::{func, meta};
use super::{Func, FuncError};
use crate::pbx::cli::{CliError, Command, Ctx};
use crate::pbx::module::{Family, ModuleContext, ModuleInfo};
use crate::pbx::Channel;
use async_trait::async_trait;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

pub static MODULES: &[Family] = &[
    Family {
        info: ModuleInfo::new("func_groupcount.so", "Channel group dialplan functions"),
        register: register_func_groupcount,
    },
    Family {
        info: ModuleInfo::new("func_lock.so", "Dialplan mutexes"),
        register: register_func_lock,
    },
];

fn register_func_groupcount(ctx: &ModuleContext) {
    ctx.register_func(Arc::new(Group));
    ctx.register_func(Arc::new(GroupCount));
    ctx.register_func(Arc::new(GroupMatchCount));
    ctx.register_func(Arc::new(GroupList));
    ctx.register_cli(
        Command::new(
            "group show channels",
            "Display active channels with group(s)",
            "Usage: group show channels [pattern]\n       Lists all currently active channels with channel group(s) specified.\n       Optional regular expression pattern is matched to group names for each\n       channel.",
            group_show_channels,
        ),
    );
}

fn register_func_lock(ctx: &ModuleContext) {
    ctx.register_func(Arc::new(Lock));
    ctx.register_func(Arc::new(TryLock));
    ctx.register_func(Arc::new(Unlock));
}

// ---------------------------------------------------------------------------------------
// Groups

/// One channel's membership of one group.
#[derive(Debug, Clone)]
struct Member {
    uniqueid: String,
    channel: String,
    group: String,
    category: String,
}

/// Every group membership of the PBX's channels, in the order they were set.
#[derive(Default)]
pub struct Groups {
    members: Mutex<Vec<Member>>,
}

impl Groups {
    fn of(chan: &Channel) -> Arc<Groups> {
        chan.pbx
            .services
            .get_or_insert_with("func_groupcount.so", Groups::default)
    }

    /// `ast_app_group_set_channel`: `group[@category]` replaces the channel's group of
    /// that category; an empty group only removes it.
    fn set(&self, chan: &Channel, group: &str, category: &str) {
        let uid = chan.uniqueid();
        let mut m = self.members.lock();
        m.retain(|x| !(x.uniqueid == uid && x.category.eq_ignore_ascii_case(category)));
        if !group.is_empty() {
            m.push(Member {
                uniqueid: uid.to_string(),
                channel: chan.name().to_string(),
                group: group.to_string(),
                category: category.to_string(),
            });
        }
    }

    fn of_channel(&self, uid: &str) -> Vec<Member> {
        self.members
            .lock()
            .iter()
            .filter(|x| x.uniqueid == uid)
            .cloned()
            .collect()
    }

    /// `ast_app_group_get_count`.
    fn count(&self, group: &str, category: &str) -> usize {
        if group.is_empty() {
            return 0;
        }
        self.members
            .lock()
            .iter()
            .filter(|x| {
                x.group.eq_ignore_ascii_case(group)
                    && (category.is_empty() || x.category.eq_ignore_ascii_case(category))
            })
            .count()
    }

    fn leave_all(&self, uid: &str) {
        self.members.lock().retain(|x| x.uniqueid != uid);
    }
}

/// Leaves the channel's groups when the channel goes away.
struct GroupGuard {
    groups: Arc<Groups>,
    uniqueid: String,
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        self.groups.leave_all(&self.uniqueid);
    }
}

const GROUP_GUARD: &str = "func_groupcount";

/// `group[@category]` split as `ast_app_group_split_group` does.
fn split_group(s: &str) -> (&str, &str) {
    match s.split_once('@') {
        Some((g, c)) => (g.trim(), c.trim()),
        None => (s.trim(), ""),
    }
}

func!(
    Group,
    "GROUP",
    "Gets or sets the channel group.",
    "GROUP([category])",
    "category can be employed for more fine grained group management. Each channel can \
     only be member of exactly one group per category."
);

impl Func for Group {
    meta!();
    fn writable(&self) -> bool {
        true
    }
    fn read(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        let cat = a.trim();
        let mine = Groups::of(chan).of_channel(chan.uniqueid());
        let found = mine.iter().find(|m| {
            cat.is_empty() || (!m.category.is_empty() && m.category.eq_ignore_ascii_case(cat))
        });
        Ok(found.map(|m| m.group.clone()).unwrap_or_default())
    }
    fn write(&self, chan: &mut Channel, a: &str, value: &str) -> Result<(), FuncError> {
        let groups = Groups::of(chan);
        let (group, cat) = if a.trim().is_empty() {
            split_group(value)
        } else {
            (value.trim(), a.trim())
        };
        if group.is_empty() && cat.is_empty() {
            return Err(FuncError::Usage(
                "Setting a group requires an argument (group name)".into(),
            ));
        }
        groups.set(chan, group, cat);
        if chan.datastores.get::<GroupGuard>(GROUP_GUARD).is_none() {
            let uniqueid = chan.uniqueid().to_string();
            chan.datastores
                .insert(GROUP_GUARD, GroupGuard { groups, uniqueid });
        }
        Ok(())
    }
}

func!(
    GroupCount,
    "GROUP_COUNT",
    "Counts the number of channels in the specified group.",
    "GROUP_COUNT([groupname][@category])",
    "Calculates the group count for the specified group, or uses the channel's current \
     group if not specified (and non-empty)."
);

impl Func for GroupCount {
    meta!();
    fn read(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        let groups = Groups::of(chan);
        let (group, cat) = split_group(a);
        let (mut group, mut cat) = (group.to_string(), cat.to_string());
        if group.is_empty() {
            let mine = groups.of_channel(chan.uniqueid());
            let found = mine.iter().find(|m| {
                cat.is_empty() || (!m.category.is_empty() && m.category.eq_ignore_ascii_case(&cat))
            });
            if let Some(m) = found {
                group = m.group.clone();
                if !m.category.is_empty() {
                    cat = m.category.clone();
                }
            }
        }
        Ok(groups.count(&group, &cat).to_string())
    }
}

func!(
    GroupMatchCount,
    "GROUP_MATCH_COUNT",
    "Counts the number of channels in the groups matching the specified pattern.",
    "GROUP_MATCH_COUNT(groupmatch[@category])",
    "Calculates the group count for all groups that match the specified pattern (a \
     regular expression); category matching, also a regular expression, is applied after \
     matching on the group."
);

impl Func for GroupMatchCount {
    meta!();
    fn read(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        let (g, c) = split_group(a);
        if g.is_empty() {
            return Ok("0".into());
        }
        let re = |p: &str| {
            regex::Regex::new(p)
                .map_err(|e| FuncError::Other(format!("Regex compile failed on: {p} ({e})")))
        };
        let gre = re(g)?;
        let cre = if c.is_empty() { None } else { Some(re(c)?) };
        let groups = Groups::of(chan);
        let n = groups
            .members
            .lock()
            .iter()
            .filter(|m| gre.is_match(&m.group))
            .filter(|m| cre.as_ref().is_none_or(|r| r.is_match(&m.category)))
            .count();
        Ok(n.to_string())
    }
}

func!(
    GroupList,
    "GROUP_LIST",
    "Gets a list of the groups set on a channel.",
    "GROUP_LIST()",
    "Gets a list of the groups set on a channel: space-separated group[@category]."
);

fn group_label(m: &Member) -> String {
    if m.category.is_empty() {
        m.group.clone()
    } else {
        format!("{}@{}", m.group, m.category)
    }
}

impl Func for GroupList {
    meta!();
    fn read(&self, chan: &mut Channel, _a: &str) -> Result<String, FuncError> {
        let mine = Groups::of(chan).of_channel(chan.uniqueid());
        Ok(mine.iter().map(group_label).collect::<Vec<_>>().join(" "))
    }
}

/// `group show channels [pattern]`, in Asterisk's columns.
async fn group_show_channels(c: Ctx) -> Result<String, CliError> {
    let pattern = match c.args.len() {
        0 => None,
        1 => Some(regex::Regex::new(&c.args[0]).map_err(|_| CliError::ShowUsage)?),
        _ => return Err(CliError::ShowUsage),
    };
    let groups = c
        .pbx()
        .services
        .get_or_insert_with("func_groupcount.so", Groups::default);
    let members = groups.members.lock().clone();
    let mut out = format!("{:<25}  {:<20}  {:<20}\n", "Channel", "Group", "Category");
    let mut n = 0;
    for m in members
        .iter()
        .filter(|m| pattern.as_ref().is_none_or(|p| p.is_match(&m.group)))
    {
        out.push_str(&format!(
            "{:<25}  {:<20}  {:<20}\n",
            m.channel,
            m.group,
            if m.category.is_empty() {
                "(default)"
            } else {
                &m.category
            }
        ));
        n += 1;
    }
    out.push_str(&format!(
        "{n} active channel{}\n",
        if n == 1 { "" } else { "s" }
    ));
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// Locks

/// How long LOCK() waits for a lock another channel holds.
const LOCK_WAIT: Duration = Duration::from_secs(3);

#[derive(Default)]
struct LockState {
    /// Unique ID of the owning channel, and how many times it took the lock.
    owner: Option<(String, u32)>,
}

/// The PBX's named locks.
#[derive(Default)]
pub struct Locks {
    map: Mutex<HashMap<String, LockState>>,
    freed: tokio::sync::Notify,
}

impl Locks {
    fn of(chan: &Channel) -> Arc<Locks> {
        chan.pbx
            .services
            .get_or_insert_with("func_lock.so", Locks::default)
    }

    /// Take `name` for `uid` if free (or already its own: counted again).
    fn try_take(&self, name: &str, uid: &str) -> bool {
        let mut m = self.map.lock();
        let st = m.entry(name.to_string()).or_default();
        match &mut st.owner {
            Some((o, n)) if o == uid => {
                *n += 1;
                true
            }
            Some(_) => false,
            None => {
                st.owner = Some((uid.to_string(), 1));
                true
            }
        }
    }

    /// Release one hold of `name` by `uid`; false if it did not hold it.
    fn release(&self, name: &str, uid: &str) -> bool {
        let mut m = self.map.lock();
        let Some(st) = m.get_mut(name) else {
            return false;
        };
        match &mut st.owner {
            Some((o, n)) if o == uid => {
                *n -= 1;
                if *n == 0 {
                    st.owner = None;
                    drop(m);
                    self.freed.notify_waiters();
                }
                true
            }
            _ => false,
        }
    }

    fn release_all(&self, uid: &str) {
        let mut freed = false;
        for st in self.map.lock().values_mut() {
            if st.owner.as_ref().is_some_and(|(o, _)| o == uid) {
                st.owner = None;
                freed = true;
            }
        }
        if freed {
            self.freed.notify_waiters();
        }
    }

    async fn take(&self, name: &str, uid: &str, wait: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let freed = self.freed.notified();
            if self.try_take(name, uid) {
                return true;
            }
            if tokio::time::timeout_at(deadline, freed).await.is_err() {
                return self.try_take(name, uid);
            }
        }
    }
}

/// Frees the channel's locks when the channel goes away.
struct LockGuard {
    locks: Arc<Locks>,
    uniqueid: String,
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        self.locks.release_all(&self.uniqueid);
    }
}

const LOCK_GUARD: &str = "func_lock";

fn lock_name(a: &str, func: &str) -> Result<String, FuncError> {
    let name = a.trim();
    if name.is_empty() {
        return Err(FuncError::Usage(format!("{func} requires a lock name")));
    }
    Ok(name.to_string())
}

fn guard_locks(chan: &mut Channel, locks: &Arc<Locks>) {
    if chan.datastores.get::<LockGuard>(LOCK_GUARD).is_none() {
        let uniqueid = chan.uniqueid().to_string();
        chan.datastores.insert(
            LOCK_GUARD,
            LockGuard {
                locks: locks.clone(),
                uniqueid,
            },
        );
    }
}

func!(
    Lock,
    "LOCK",
    "Attempt to obtain a named mutex.",
    "LOCK(lockname)",
    "Attempts to grab a named lock exclusively, and prevents other channels from obtaining \
     the same lock. LOCK waits up to 3 seconds for the lock to become available. Returns 1 \
     if the lock was obtained or 0 on error. A channel may take its own lock again (it must \
     then unlock it as often)."
);

#[async_trait]
impl Func for Lock {
    meta!();
    fn read(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        // Where nothing may wait: a try.
        TryLock.read(chan, a)
    }
    fn is_async(&self) -> bool {
        true
    }
    async fn read_async(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        let name = lock_name(a, "LOCK")?;
        let locks = Locks::of(chan);
        guard_locks(chan, &locks);
        let uid = chan.uniqueid().to_string();
        Ok(u8::from(locks.take(&name, &uid, LOCK_WAIT).await).to_string())
    }
}

func!(
    TryLock,
    "TRYLOCK",
    "Attempt to obtain a named mutex.",
    "TRYLOCK(lockname)",
    "Attempts to grab a named lock exclusively, and prevents other channels from obtaining \
     the same lock. Returns 1 if the lock was available or 0 otherwise."
);

impl Func for TryLock {
    meta!();
    fn read(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        let name = lock_name(a, "TRYLOCK")?;
        let locks = Locks::of(chan);
        guard_locks(chan, &locks);
        Ok(u8::from(locks.try_take(&name, chan.uniqueid())).to_string())
    }
}

func!(
    Unlock,
    "UNLOCK",
    "Unlocks a named mutex.",
    "UNLOCK(lockname)",
    "Unlocks a previously locked mutex. Returns 1 if the channel had a lock or 0 \
     otherwise. Locks a channel holds are freed when the channel goes away."
);

impl Func for Unlock {
    meta!();
    fn read(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        let name = lock_name(a, "UNLOCK")?;
        let locks = Locks::of(chan);
        Ok(u8::from(locks.release(&name, chan.uniqueid())).to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pbx::tests::{get, pbx_with, run};

    fn chan_on(pbx: &Arc<crate::pbx::Pbx>, name: &str) -> Channel {
        Channel::new(pbx, name.into(), Arc::new(crate::pbx::channel::NullTech))
    }

    #[test]
    fn groups_count_and_leave_with_the_channel() {
        let pbx = crate::modules::test_pbx();
        let mut a = chan_on(&pbx, "SIP/a-1");
        let mut b = chan_on(&pbx, "SIP/b-2");
        Group.write(&mut a, "", "sales").unwrap();
        Group.write(&mut a, "", "ny@site").unwrap();
        Group.write(&mut b, "site", "NY").unwrap();
        assert_eq!(Group.read(&mut a, "").unwrap(), "sales");
        assert_eq!(Group.read(&mut a, "site").unwrap(), "ny");
        assert_eq!(GroupCount.read(&mut a, "ny@site").unwrap(), "2");
        assert_eq!(GroupCount.read(&mut a, "ny").unwrap(), "2");
        assert_eq!(GroupCount.read(&mut a, "sales").unwrap(), "1");
        assert_eq!(
            GroupCount.read(&mut a, "").unwrap(),
            "1",
            "the channel's own group"
        );
        assert_eq!(GroupCount.read(&mut a, "@site").unwrap(), "2");
        assert_eq!(GroupCount.read(&mut a, "none").unwrap(), "0");
        assert_eq!(GroupList.read(&mut a, "").unwrap(), "sales ny@site");
        assert_eq!(GroupMatchCount.read(&mut a, "^(n|N)").unwrap(), "2");
        assert_eq!(GroupMatchCount.read(&mut a, "^s").unwrap(), "1");
        assert_eq!(GroupMatchCount.read(&mut a, "Y@^si").unwrap(), "1");
        // One group per category: setting again replaces.
        Group.write(&mut a, "", "support").unwrap();
        assert_eq!(GroupList.read(&mut a, "").unwrap(), "ny@site support");
        assert!(Group.write(&mut a, "", "").is_err());
        drop(a);
        assert_eq!(GroupCount.read(&mut b, "ny@site").unwrap(), "1");
        assert_eq!(GroupCount.read(&mut b, "support").unwrap(), "0");
    }

    #[tokio::test]
    async fn locks_are_exclusive_counted_and_freed_with_the_channel() {
        let pbx = crate::modules::test_pbx();
        let mut a = chan_on(&pbx, "SIP/a-1");
        let mut b = chan_on(&pbx, "SIP/b-2");
        assert_eq!(Lock.read_async(&mut a, "x").await.unwrap(), "1");
        assert_eq!(Lock.read_async(&mut a, "x").await.unwrap(), "1", "again");
        assert_eq!(TryLock.read(&mut b, "x").unwrap(), "0");
        assert_eq!(Unlock.read(&mut a, "x").unwrap(), "1");
        assert_eq!(TryLock.read(&mut b, "x").unwrap(), "0", "still held once");
        assert_eq!(Unlock.read(&mut a, "x").unwrap(), "1");
        assert_eq!(Unlock.read(&mut a, "x").unwrap(), "0", "not held any more");
        assert_eq!(TryLock.read(&mut b, "x").unwrap(), "1");
        // A waits for B's lock, which B's hang-up frees.
        let locks = Locks::of(&a);
        let waiter = tokio::spawn(async move {
            let ok = Lock.read_async(&mut a, "x").await.unwrap();
            (ok, a)
        });
        tokio::task::yield_now().await;
        drop(b);
        let (ok, _a) = waiter.await.unwrap();
        assert_eq!(ok, "1");
        assert!(!locks.try_take("x", "someone-else"));
        assert!(Lock.read(&mut chan_on(&pbx, "SIP/c-3"), "").is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn lock_gives_up_after_three_seconds() {
        let pbx = crate::modules::test_pbx();
        let mut a = chan_on(&pbx, "SIP/a-1");
        let mut b = chan_on(&pbx, "SIP/b-2");
        assert_eq!(TryLock.read(&mut a, "y").unwrap(), "1");
        assert_eq!(Lock.read_async(&mut b, "y").await.unwrap(), "0");
    }

    #[tokio::test]
    async fn in_a_dialplan() {
        let pbx = pbx_with(
            "[t]\nexten => s,1,Set(GROUP()=trunk1)\n same => n,Set(GROUP(out)=x)\n\
             same => n,Set(C=${GROUP_COUNT(trunk1)})\n same => n,Set(L=${GROUP_LIST()})\n\
             same => n,Set(K=${LOCK(res)})\n same => n,Set(T=${TRYLOCK(res)})\n\
             same => n,Set(U=${UNLOCK(res)})\n",
        );
        let v = run(&pbx, "t", "s").await;
        assert_eq!(get(&v, "C"), Some("1"));
        assert_eq!(get(&v, "L"), Some("trunk1 x@out"));
        assert_eq!(get(&v, "K"), Some("1"));
        assert_eq!(get(&v, "T"), Some("1"), "the owner may take it again");
        assert_eq!(get(&v, "U"), Some("1"));
        // The channel is gone: so are its groups.
        let g = pbx.services.get::<Groups>().unwrap();
        assert_eq!(g.count("trunk1", ""), 0);
    }
}
