//! `logger rotate`: archive a closed log file by `rotatestrategy` (Asterisk's
//! `rotate_file`) and run `exec_after_rotate`. Called on the writer thread only.

use super::config::RotateStrategy;
use std::path::{Path, PathBuf};

/// Compressed archives Asterisk's `rotate` strategy also moves along.
const SUFFIXES: [&str; 4] = ["", ".gz", ".bz2", ".Z"];

fn with_suffix(p: &Path, s: &str) -> PathBuf {
    let mut o = p.as_os_str().to_owned();
    o.push(s);
    PathBuf::from(o)
}

/// Archive `file` (already closed). Returns the name `${filename}` stands for in
/// `exec_after_rotate`, as Asterisk documents it: the new archive for `sequential` and
/// `timestamp`, the original name for `rotate` and `none`. Errors are messages.
pub fn rotate_file(file: &Path, strategy: RotateStrategy, epoch: u64) -> Result<PathBuf, String> {
    let rename = |from: &Path, to: &Path| {
        std::fs::rename(from, to).map_err(|e| {
            format!(
                "Unable to rename file '{}' to '{}': {e}",
                from.display(),
                to.display()
            )
        })
    };
    match strategy {
        RotateStrategy::None => Ok(file.to_path_buf()),
        RotateStrategy::Sequential => {
            let mut x = 0u32;
            let new = loop {
                let n = with_suffix(file, &format!(".{x}"));
                if !n.exists() {
                    break n;
                }
                x += 1;
            };
            rename(file, &new)?;
            Ok(new)
        }
        RotateStrategy::Timestamp => {
            let new = with_suffix(file, &format!(".{epoch}"));
            rename(file, &new)?;
            Ok(new)
        }
        RotateStrategy::Rotate => {
            let exists = |x: u32| {
                SUFFIXES
                    .iter()
                    .map(|s| with_suffix(file, &format!(".{x}{s}")))
                    .find(|p| p.exists())
            };
            let mut free = 0u32;
            while exists(free).is_some() {
                free += 1;
            }
            let mut res = Ok(());
            for y in (1..=free).rev() {
                if let Some(old) = exists(y - 1) {
                    let sfx = SUFFIXES
                        .iter()
                        .find(|s| with_suffix(file, &format!(".{}{s}", y - 1)) == old)
                        .copied()
                        .unwrap_or("");
                    let new = with_suffix(file, &format!(".{y}{sfx}"));
                    if let Err(e) = rename(&old, &new) {
                        res = Err(e);
                    }
                }
            }
            rename(file, &with_suffix(file, ".0"))?;
            res.map(|()| file.to_path_buf())
        }
    }
}

/// `exec_after_rotate` with `${filename}` replaced.
pub fn substitute(cmd: &str, filename: &Path) -> String {
    cmd.replace("${filename}", &filename.display().to_string())
}

/// Run `cmd` with `sh -c`, waited for by a thread of its own (the writer goes on).
pub fn run_after(cmd: String) {
    let spawned = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(&cmd)
        .stdin(std::process::Stdio::null())
        .spawn();
    match spawned {
        Ok(mut child) => {
            let _ = std::thread::Builder::new()
                .name("exec-after-rotate".into())
                .spawn(move || {
                    let _ = child.wait();
                });
        }
        Err(e) => eprintln!("logger: error executing '{cmd}': {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn strategies() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("messages");
        let write = |t: &str| std::fs::write(&f, t).unwrap();
        let read = |n: &str| std::fs::read_to_string(d.path().join(n)).unwrap();

        write("a");
        let n = rotate_file(&f, RotateStrategy::Sequential, 0).unwrap();
        assert_eq!(n, d.path().join("messages.0"));
        write("b");
        rotate_file(&f, RotateStrategy::Sequential, 0).unwrap();
        assert_eq!(names(d.path()), ["messages.0", "messages.1"]);
        assert_eq!(
            (read("messages.0"), read("messages.1")),
            ("a".into(), "b".into())
        );

        // rotate: the newest is .0, the oldest the highest; .gz archives move along.
        std::fs::rename(d.path().join("messages.1"), d.path().join("messages.1.gz")).unwrap();
        write("c");
        let n = rotate_file(&f, RotateStrategy::Rotate, 0).unwrap();
        assert_eq!(n, f);
        assert_eq!(
            names(d.path()),
            ["messages.0", "messages.1", "messages.2.gz"]
        );
        assert_eq!(
            (read("messages.0"), read("messages.1")),
            ("c".into(), "a".into())
        );

        write("d");
        let n = rotate_file(&f, RotateStrategy::Timestamp, 1765000000).unwrap();
        assert_eq!(n, d.path().join("messages.1765000000"));
        assert_eq!(read("messages.1765000000"), "d");

        write("e");
        assert_eq!(rotate_file(&f, RotateStrategy::None, 0).unwrap(), f);
        assert_eq!(read("messages"), "e");

        assert_eq!(
            substitute("gzip -9 ${filename}.2", &f),
            format!("gzip -9 {}.2", f.display())
        );
    }
}
