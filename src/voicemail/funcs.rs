//! Voicemail functions: `VM_INFO()`, `MAILBOX_EXISTS()` and `VMCOUNT()` (app_voicemail,
//! app_vmcount / func_vmcount).

use crate::pbx::func::{Func, FuncError};
use crate::pbx::module::{Family, ModuleContext, ModuleInfo};
use crate::pbx::Channel;
use crate::voicemail::box_id;
use crate::voicemail::store::{BoxId, Folder};
use std::sync::Arc;

/// `func_vmcount.so` (VMCOUNT); VM_INFO and MAILBOX_EXISTS belong to `app_voicemail.so`.
pub static FUNC_VMCOUNT: Family = Family {
    info: ModuleInfo::new(
        "func_vmcount.so",
        "Indicator for whether a voice mailbox has messages in a given folder.",
    ),
    register: register_func_vmcount,
};

fn register_func_vmcount(ctx: &ModuleContext) {
    ctx.register_func(Arc::new(VmCount));
}

fn args(a: &str) -> Vec<String> {
    crate::apps::args::split(a, ',')
}

/// [`count`] without blocking a worker (the store lists the folder on the blocking pool).
async fn count_async(chan: &Channel, mb: &BoxId, folder: &str) -> u32 {
    let Some(f) = folder_of(chan, folder) else {
        return 0;
    };
    crate::voicemail::of(&chan.pbx)
        .store()
        .count(mb, f)
        .await
        .unwrap_or(0)
}

/// The folder called `folder` (default INBOX); `None` (with a warning) for an unknown one.
fn folder_of(chan: &Channel, folder: &str) -> Option<Folder> {
    if folder.trim().is_empty() {
        return Some(Folder::Inbox);
    }
    let f = Folder::from_name(folder);
    if f.is_none() {
        chan.pbx.warning(&format!(
            "app_voicemail.c: Invalid folder '{}'",
            folder.trim()
        ));
    }
    f
}

/// Messages in `folder` (name, default INBOX) of `mb`; 0 for an unknown folder or mailbox.
fn count(chan: &Channel, mb: &BoxId, folder: &str) -> u32 {
    let Some(f) = folder_of(chan, folder) else {
        return 0;
    };
    crate::voicemail::of(&chan.pbx)
        .store()
        .count_now(mb, f)
        .unwrap_or(0)
}

pub struct VmInfo;

#[async_trait::async_trait]
impl Func for VmInfo {
    fn name(&self) -> &'static str {
        "VM_INFO"
    }
    fn synopsis(&self) -> &'static str {
        "Returns the selected attribute from a mailbox."
    }
    fn syntax(&self) -> &'static str {
        "VM_INFO(mailbox[@context],attribute[,folder])"
    }
    fn description(&self) -> &'static str {
        "Returns the selected attribute from the specified mailbox (context default when omitted). Attributes: count — messages in folder (default INBOX); email; exists — 1 or 0; fullname; language; locale; pager; password; tz. The folder is one of INBOX, Old, Work, Family, Friends, Cust1–Cust5, Deleted, Urgent."
    }
    fn read(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        let v = args(a);
        let spec = v.first().map(|s| s.trim()).unwrap_or("");
        let attr = v
            .get(1)
            .map(|s| s.trim().to_ascii_lowercase())
            .unwrap_or_default();
        if spec.is_empty() || attr.is_empty() {
            return Err(FuncError::Usage(
                "VM_INFO requires an argument (<mailbox>[@<context>],attribute[,folder])".into(),
            ));
        }
        let mb = crate::voicemail::of(&chan.pbx).mailbox(spec);
        if attr == "exists" {
            return Ok(if mb.is_some() { "1" } else { "0" }.into());
        }
        let Some(mb) = mb else {
            return Ok(String::new());
        };
        let cfg = crate::voicemail::of(&chan.pbx).config();
        let text = |o: Option<&str>| o.unwrap_or("").to_string();
        Ok(match attr.as_str() {
            "count" => count(
                chan,
                &box_id(&mb),
                v.get(2).map(|s| s.as_str()).unwrap_or(""),
            )
            .to_string(),
            "email" => text(mb.email.as_deref()),
            "fullname" => mb.fullname.clone(),
            "language" => text(cfg.opt(&mb, "language")),
            "locale" => text(cfg.opt(&mb, "locale")),
            "pager" => text(mb.pager.as_deref()),
            "password" => mb.password.clone(),
            "tz" => text(cfg.opt(&mb, "tz")),
            other => {
                return Err(FuncError::Usage(format!(
                    "Unknown attribute '{other}' for VM_INFO"
                )))
            }
        })
    }
    fn is_async(&self) -> bool {
        true
    }
    async fn read_async(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        let v = args(a);
        let attr = v.get(1).map(|s| s.trim().to_ascii_lowercase());
        if attr.as_deref() != Some("count") {
            return self.read(chan, a);
        }
        let spec = v.first().map(|s| s.trim()).unwrap_or("");
        let Some(mb) = crate::voicemail::of(&chan.pbx).mailbox(spec) else {
            return self.read(chan, a);
        };
        let folder = v.get(2).map(|s| s.as_str()).unwrap_or("");
        Ok(count_async(chan, &box_id(&mb), folder).await.to_string())
    }
}
pub struct MailboxExists;

impl Func for MailboxExists {
    fn name(&self) -> &'static str {
        "MAILBOX_EXISTS"
    }
    fn synopsis(&self) -> &'static str {
        "Tell if a mailbox is configured."
    }
    fn syntax(&self) -> &'static str {
        "MAILBOX_EXISTS(mailbox[@context])"
    }
    fn description(&self) -> &'static str {
        "Returns 1 if the specified mailbox exists in voicemail.conf (context default when omitted), 0 otherwise. Asterisk deprecates it in favour of VM_INFO(mailbox,exists)."
    }
    fn read(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        let spec = a.trim();
        if spec.is_empty() {
            return Err(FuncError::Usage(
                "MAILBOX_EXISTS requires an argument (<mailbox>[@<context>])".into(),
            ));
        }
        Ok(if crate::voicemail::of(&chan.pbx).mailbox(spec).is_some() {
            "1"
        } else {
            "0"
        }
        .into())
    }
}

pub struct VmCount;

#[async_trait::async_trait]
impl Func for VmCount {
    fn name(&self) -> &'static str {
        "VMCOUNT"
    }
    fn synopsis(&self) -> &'static str {
        "Count the voicemails in a specified mailbox or mailboxes."
    }
    fn syntax(&self) -> &'static str {
        "VMCOUNT(vmbox[@context][&vmbox2[@context2]...][,folder])"
    }
    fn description(&self) -> &'static str {
        "Counts the messages in the folder (default INBOX) of the mailboxes given (context default when omitted), summed over all of them."
    }
    fn read(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        let v = args(a);
        let boxes = v.first().map(|s| s.trim()).unwrap_or("");
        if boxes.is_empty() {
            return Err(FuncError::Usage(
                "VMCOUNT requires an argument (vmbox[@context][,folder])".into(),
            ));
        }
        let folder = v.get(1).map(|s| s.as_str()).unwrap_or("");
        let total: u32 = boxes
            .split('&')
            .filter(|s| !s.trim().is_empty())
            .map(|s| count(chan, &BoxId::parse(s), folder))
            .sum();
        Ok(total.to_string())
    }
    fn is_async(&self) -> bool {
        true
    }
    async fn read_async(&self, chan: &mut Channel, a: &str) -> Result<String, FuncError> {
        let v = args(a);
        let boxes = v.first().map(|s| s.trim()).unwrap_or("");
        if boxes.is_empty() {
            return self.read(chan, a);
        }
        let folder = v.get(1).map(|s| s.as_str()).unwrap_or("");
        let mut total = 0u32;
        for b in boxes.split('&').filter(|s| !s.trim().is_empty()) {
            total += count_async(chan, &BoxId::parse(b), folder).await;
        }
        Ok(total.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pbx::channel::NullTech;
    use crate::pbx::Pbx;
    use crate::voicemail::config::parse_voicemail_conf;
    use crate::voicemail::metadata::MessageInfo;
    use crate::voicemail::store::{FileStore, MessageStore};

    #[tokio::test]
    async fn info_count_exists() {
        let t = tempfile::tempdir().unwrap();
        let mut settings =
            crate::config::settings::Settings::defaults_for(std::path::Path::new("/x/f.conf"));
        settings.astspooldir = t.path().to_path_buf();
        let db = crate::astdb::AstDb::open_in_memory().unwrap();
        let pbx = Pbx::new(settings, db);
        crate::modules::load_for_tests(&pbx);
        let cf = crate::config::load_str(
            t.path(),
            "voicemail.conf",
            "[default]\n100 => 1234,Leif Madsen,leif@example.com,pager@example.com,tz=central\n",
            &Default::default(),
        )
        .unwrap();
        crate::voicemail::of(&pbx).set_config(parse_voicemail_conf(&cf).unwrap().0);
        let st = FileStore::new(t.path().join("voicemail"));
        let mb = BoxId::parse("100");
        st.ensure(&mb).await.unwrap();
        for _ in 0..2 {
            let r = st.scratch_dir(&mb).join("r.wav");
            std::fs::write(&r, b"x").unwrap();
            st.deliver(&mb, Folder::Inbox, &r, &MessageInfo::default(), 100)
                .await
                .unwrap();
        }
        let mut chan = Channel::new(&pbx, "Local/x-1".into(), Arc::new(NullTech));
        let r = |c: &mut Channel, f: &dyn Func, a: &str| f.read(c, a).unwrap();
        assert_eq!(r(&mut chan, &VmInfo, "100,count"), "2");
        // In dialplan arguments they wait for the store instead of listing on the worker.
        assert!(VmInfo.is_async() && VmCount.is_async());
        assert_eq!(
            VmInfo.read_async(&mut chan, "100,count").await.unwrap(),
            "2"
        );
        assert_eq!(
            VmInfo.read_async(&mut chan, "100,fullname").await.unwrap(),
            "Leif Madsen"
        );
        assert_eq!(VmCount.read_async(&mut chan, "100&100").await.unwrap(), "4");
        assert_eq!(r(&mut chan, &VmInfo, "100@default,count,Old"), "0");
        assert_eq!(r(&mut chan, &VmInfo, "100,fullname"), "Leif Madsen");
        assert_eq!(r(&mut chan, &VmInfo, "100,email"), "leif@example.com");
        assert_eq!(r(&mut chan, &VmInfo, "100,tz"), "central");
        assert_eq!(r(&mut chan, &VmInfo, "100,password"), "1234");
        assert_eq!(r(&mut chan, &VmInfo, "100,exists"), "1");
        assert_eq!(r(&mut chan, &VmInfo, "999,exists"), "0");
        assert!(VmInfo.read(&mut chan, "100,bogus").is_err());
        assert_eq!(r(&mut chan, &MailboxExists, "100@default"), "1");
        assert_eq!(r(&mut chan, &MailboxExists, "100@other"), "0");
        assert_eq!(r(&mut chan, &VmCount, "100"), "2");
        assert_eq!(r(&mut chan, &VmCount, "100&100@default,INBOX"), "4");
        chan.destroy();
    }
}
