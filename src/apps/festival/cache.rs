//! app_festival's waveform cache, file for file: `cachedir/<MD5 of the text>` (each byte
//! in upper-case hex without a leading zero, as app_festival writes the name), holding the
//! text's length (a native 32-bit integer), the text, then the server's reply as it came.
//! A file whose text differs (an MD5 collision, a truncated file) is not used. Files are
//! written whole (a temporary file renamed), so a crash never leaves half a reply.
//! Blocking file I/O: call from the blocking pool.

use md5::{Digest, Md5};
use std::path::{Path, PathBuf};

/// The cache file name for `text`.
pub fn file_name(text: &str) -> String {
    Md5::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:X}"))
        .collect()
}

fn path(dir: &Path, text: &str) -> PathBuf {
    dir.join(file_name(text))
}

/// The cached reply for `text`, if any.
pub fn read(dir: &Path, text: &str) -> Option<Vec<u8>> {
    let b = std::fs::read(path(dir, text)).ok()?;
    let len = i32::from_ne_bytes(b.get(..4)?.try_into().ok()?);
    let len = usize::try_from(len).ok()?;
    let stored = b.get(4..4 + len)?;
    if stored != text.as_bytes() {
        return None;
    }
    let reply = b[4 + len..].to_vec();
    (!reply.is_empty()).then_some(reply)
}

/// Keep `reply` for `text`.
pub fn write(dir: &Path, text: &str, reply: &[u8]) -> std::io::Result<()> {
    let len =
        i32::try_from(text.len()).map_err(|_| std::io::Error::other("text too long to cache"))?;
    let mut b = Vec::with_capacity(4 + text.len() + reply.len());
    b.extend_from_slice(&len.to_ne_bytes());
    b.extend_from_slice(text.as_bytes());
    b.extend_from_slice(reply);
    let dest = path(dir, text);
    let tmp = dir.join(format!(".{}.{}.tmp", file_name(text), std::process::id()));
    std::fs::write(&tmp, &b)?;
    std::fs::rename(&tmp, &dest).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_app_festivals() {
        // MD5("Hello World") = b10a8db164e0754105b7a99be72e3fe5: 0a is written "A".
        assert_eq!(file_name("Hello World"), "B1A8DB164E075415B7A99BE72E3FE5");
    }

    #[test]
    fn a_reply_round_trips_and_another_text_misses() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read(dir.path(), "hi"), None);
        write(dir.path(), "hi", b"WV\nabc").unwrap();
        assert_eq!(read(dir.path(), "hi").as_deref(), Some(&b"WV\nabc"[..]));
        // Same file name, other text inside (as after a collision): not used.
        std::fs::write(
            dir.path().join(file_name("other")),
            [&2i32.to_ne_bytes()[..], b"hi", b"WV\nx"].concat(),
        )
        .unwrap();
        assert_eq!(read(dir.path(), "other"), None);
        // Truncated: not used.
        std::fs::write(dir.path().join(file_name("t")), [1u8, 0]).unwrap();
        assert_eq!(read(dir.path(), "t"), None);
    }
}
