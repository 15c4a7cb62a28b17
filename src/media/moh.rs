//! Music on hold: `musiconhold.conf` classes and a looping file player.
//!
//! Only `mode=files` is supported (Asterisk's `custom`/`mp3` modes run external programs).
//! A class lists a directory; every sound file in it (`.wav` 8 kHz 16-bit mono, `.sln`,
//! `.ulaw`, `.alaw`; one file per base name, WAV preferred) is played in turn, forever.
//! `sort=alpha` plays them in name order, `sort=random` (or the legacy `random=yes`) shuffles the
//! list once per listener and then starts from a random file. Without `sort` the order is the
//! directory's, which we make alphabetical so it is stable.
//!
//! Decoded files are cached per [`MohClasses`] (shared by every listener), so a thousand
//! callers on hold read each file once. Listing and decoding are file work: a player is made
//! and [`MohPlayer::preload`]ed on the blocking pool, after which it never reads a file.

use super::frame::{Audio, Clip};
use super::wav::{self, Encoding};
use crate::config::{is_true, ConfigFile};
use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Order the files of a class are played in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    #[default]
    Alpha,
    Random,
}

/// One `[class]` of musiconhold.conf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MohClass {
    pub name: String,
    pub mode: String,
    /// As written in the config.
    pub directory: String,
    /// Where the files are looked for.
    pub dir: PathBuf,
    pub sort: Sort,
}

/// Resolve a class directory as Asterisk does: relative to `astdatadir`. When that does not
/// exist, Debian's layout (`/usr/share/asterisk/<dir>`, where `asterisk-moh-opsound-wav`
/// installs) is tried.
pub fn resolve_dir(directory: &str, astdatadir: &Path) -> PathBuf {
    let p = Path::new(directory.trim());
    if p.is_absolute() {
        return p.to_path_buf();
    }
    let local = astdatadir.join(p);
    if local.is_dir() {
        return local;
    }
    let debian = Path::new("/usr/share/asterisk").join(p);
    if debian.is_dir() {
        return debian;
    }
    local
}

/// The classes of a parsed musiconhold.conf (`[general]` and templates are skipped).
/// Classes with another mode are kept (listed by the CLI) but play nothing.
pub fn parse(cf: &ConfigFile, astdatadir: &Path) -> Vec<MohClass> {
    let mut out: Vec<MohClass> = Vec::new();
    for s in &cf.sections {
        if s.is_template || s.name.eq_ignore_ascii_case("general") {
            continue;
        }
        let mut c = MohClass {
            name: s.name.clone(),
            mode: "files".into(),
            directory: String::new(),
            dir: PathBuf::new(),
            sort: Sort::Alpha,
        };
        for e in &s.entries {
            let v = e.value.trim();
            match e.key.to_ascii_lowercase().as_str() {
                "mode" => c.mode = v.to_ascii_lowercase(),
                "directory" => c.directory = v.to_string(),
                "sort" => {
                    c.sort = if v.eq_ignore_ascii_case("random") {
                        Sort::Random
                    } else {
                        Sort::Alpha
                    }
                }
                "random" if is_true(v) => c.sort = Sort::Random,
                _ => {}
            }
        }
        if c.directory.is_empty() {
            c.directory = "moh".into();
        }
        c.dir = resolve_dir(&c.directory, astdatadir);
        out.retain(|o| !o.name.eq_ignore_ascii_case(&c.name));
        out.push(c);
    }
    out
}

/// The class used when there is no musiconhold.conf: `[default]`, `mode=files`,
/// `directory=moh`.
pub fn builtin_default(astdatadir: &Path) -> MohClass {
    MohClass {
        name: "default".into(),
        mode: "files".into(),
        directory: "moh".into(),
        dir: resolve_dir("moh", astdatadir),
        sort: Sort::Alpha,
    }
}

fn playable(path: &Path) -> Option<u8> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    // Lower is preferred when one base name has several formats.
    match ext.as_str() {
        "wav" => Some(0),
        _ => Encoding::from_extension(&ext).map(|_| 1),
    }
}

/// The playable files of `dir`, one per base name, sorted by name.
pub fn list_files(dir: &Path) -> Vec<PathBuf> {
    let mut best: HashMap<PathBuf, (u8, PathBuf)> = HashMap::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    for e in rd.flatten() {
        let p = e.path();
        if !p.is_file() {
            continue;
        }
        let Some(rank) = playable(&p) else { continue };
        let base = p.with_extension("");
        match best.get(&base) {
            Some((r, _)) if *r <= rank => {}
            _ => {
                best.insert(base, (rank, p));
            }
        }
    }
    let mut v: Vec<PathBuf> = best.into_values().map(|(_, p)| p).collect();
    v.sort();
    v
}

/// Decode one sound file to 8 kHz linear samples.
pub fn read_file(path: &Path) -> Result<Vec<i16>, wav::WavError> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    if ext == "wav" {
        wav::parse_wav(&std::fs::read(path)?)
    } else {
        match Encoding::from_extension(&ext) {
            Some(enc) => wav::read_raw(path, enc),
            None => Err(wav::WavError::NotWave),
        }
    }
}

/// The configured classes plus the decoded-file cache.
#[derive(Default)]
pub struct MohClasses {
    classes: RwLock<Option<Arc<Vec<MohClass>>>>,
    cache: Mutex<HashMap<PathBuf, Arc<Clip>>>,
}

impl MohClasses {
    /// Replace the classes (load or reload); drops the file cache.
    pub fn set(&self, classes: Vec<MohClass>) {
        *self.classes.write() = Some(Arc::new(classes));
        self.cache.lock().clear();
    }

    /// The classes, or `None` before the first load.
    pub fn get(&self) -> Option<Arc<Vec<MohClass>>> {
        self.classes.read().clone()
    }

    pub fn class(&self, name: &str) -> Option<MohClass> {
        self.get()?
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
            .cloned()
    }

    /// A file's audio, decoded and encoded once (see [`Clip`]). Unreadable files give
    /// `None`.
    pub fn samples(&self, path: &Path) -> Option<Arc<Clip>> {
        if let Some(s) = self.cache.lock().get(path) {
            return Some(s.clone());
        }
        let s = Arc::new(Clip::new(read_file(path).ok()?));
        self.cache.lock().insert(path.to_path_buf(), s.clone());
        Some(s)
    }
}

/// Plays a class's files in a loop, one 20 ms frame at a time.
pub struct MohPlayer {
    files: Vec<PathBuf>,
    idx: usize,
    cur: Option<Arc<Clip>>,
    pos: usize,
    /// Every file's samples (`None`: unreadable), once [`MohPlayer::preload`] ran.
    loaded: Option<Vec<Option<Arc<Clip>>>>,
}

impl MohPlayer {
    /// `seed` drives the shuffle of `sort=random` classes (any value for alpha ones).
    pub fn new(class: &MohClass, seed: u64) -> MohPlayer {
        let mut files = list_files(&class.dir);
        let mut idx = 0;
        if class.sort == Sort::Random && files.len() > 1 {
            let mut x = seed | 1;
            let mut next = || {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x
            };
            for i in (1..files.len()).rev() {
                let j = (next() % (i as u64 + 1)) as usize;
                files.swap(i, j);
            }
            idx = (next() % files.len() as u64) as usize;
        }
        MohPlayer {
            files,
            idx,
            cur: None,
            pos: 0,
            loaded: None,
        }
    }

    /// Decode every file now (through `cache`), so that [`MohPlayer::next_frame`] never
    /// reads one: it keeps playing what was loaded, also after a reload empties the cache.
    pub fn preload(&mut self, cache: &MohClasses) {
        self.loaded = Some(self.files.iter().map(|f| cache.samples(f)).collect());
    }

    /// The files in playing order (first one first).
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// The next 160 samples (the last frame of a file is padded with silence); `None` when
    /// the class has no playable file.
    pub fn next_frame(&mut self, cache: &MohClasses) -> Option<Audio> {
        const N: usize = crate::media::frame::FRAME_SAMPLES;
        let mut tries = 0;
        loop {
            if let Some(cur) = &self.cur {
                if self.pos < cur.len() {
                    let end = (self.pos + N).min(cur.len());
                    // A slice of the shared clip; the last, short frame padded.
                    let f = Audio::shared(cur, self.pos).unwrap_or_else(|| {
                        let mut f = cur.samples()[self.pos..end].to_vec();
                        f.resize(N, 0);
                        f.into()
                    });
                    self.pos = end;
                    return Some(f);
                }
                self.cur = None;
                self.idx = (self.idx + 1) % self.files.len().max(1);
            }
            if self.files.is_empty() || tries > self.files.len() {
                return None;
            }
            tries += 1;
            let samples = match &self.loaded {
                Some(v) => v.get(self.idx).cloned().flatten(),
                None => cache.samples(&self.files[self.idx]),
            };
            match samples {
                Some(s) if !s.is_empty() => {
                    self.cur = Some(s);
                    self.pos = 0;
                }
                _ => self.idx = (self.idx + 1) % self.files.len(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, samples: &[i16]) {
        std::fs::write(dir.join(name), wav::wav_bytes(samples)).unwrap();
    }

    fn class_in(dir: &Path, sort: Sort) -> MohClass {
        MohClass {
            name: "t".into(),
            mode: "files".into(),
            directory: String::new(),
            dir: dir.to_path_buf(),
            sort,
        }
    }

    #[test]
    fn plays_files_in_name_order_and_loops() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "b.wav", &[2; 200]);
        write(d.path(), "a.wav", &[1; 160]);
        std::fs::write(d.path().join("notes.txt"), "x").unwrap();
        std::fs::write(d.path().join("a.ulaw"), [0xffu8; 10]).unwrap();
        let class = class_in(d.path(), Sort::Alpha);
        let cache = MohClasses::default();
        let mut p = MohPlayer::new(&class, 1);
        assert_eq!(p.files().len(), 2, "one file per base name, wav preferred");
        assert_eq!(p.next_frame(&cache).map(|a| a.to_vec()), Some(vec![1; 160]));
        assert_eq!(p.next_frame(&cache).map(|a| a.to_vec()), Some(vec![2; 160]));
        let mut tail = vec![2; 40];
        tail.resize(160, 0);
        assert_eq!(p.next_frame(&cache).map(|a| a.to_vec()), Some(tail));
        assert_eq!(
            p.next_frame(&cache).map(|a| a.to_vec()),
            Some(vec![1; 160]),
            "loops"
        );
    }

    #[test]
    fn a_preloaded_player_reads_no_file_any_more() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "a.wav", &[1; 160]);
        write(d.path(), "b.wav", &[2; 160]);
        std::fs::write(d.path().join("c.sln"), [0u8; 1]).unwrap();
        let class = class_in(d.path(), Sort::Alpha);
        let cache = MohClasses::default();
        let mut p = MohPlayer::new(&class, 1);
        p.preload(&cache);
        // The files go away and the cache is emptied (a reload): the music plays on.
        for f in ["a.wav", "b.wav", "c.sln"] {
            std::fs::remove_file(d.path().join(f)).unwrap();
        }
        cache.set(Vec::new());
        assert_eq!(p.next_frame(&cache).map(|a| a.to_vec()), Some(vec![1; 160]));
        assert_eq!(
            p.next_frame(&cache).map(|a| a.to_vec()),
            Some(vec![2; 160]),
            "c.sln is empty: skipped"
        );
        assert_eq!(p.next_frame(&cache).map(|a| a.to_vec()), Some(vec![1; 160]));
    }

    #[test]
    fn empty_or_missing_directory_plays_nothing() {
        let class = builtin_default(Path::new("/nonexistent"));
        let mut p = MohPlayer {
            files: Vec::new(),
            idx: 0,
            cur: None,
            pos: 0,
            loaded: None,
        };
        assert_eq!(p.next_frame(&MohClasses::default()), None);
        assert_eq!(class.name, "default");
    }

    #[test]
    fn random_order_is_a_permutation() {
        let d = tempfile::tempdir().unwrap();
        for i in 0..5 {
            write(d.path(), &format!("f{i}.wav"), &[i as i16; 160]);
        }
        let class = class_in(d.path(), Sort::Random);
        let p = MohPlayer::new(&class, 42);
        let mut f = p.files().to_vec();
        f.sort();
        assert_eq!(f, list_files(d.path()));
    }

    #[test]
    fn parses_classes_and_legacy_random() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("musiconhold.conf"),
            "[general]\n[default]\nmode=files\ndirectory=moh\n[jazz]\nmode=files\ndirectory=/srv/jazz\nrandom=yes\n[alpha]\ndirectory=x\nsort=alpha\n",
        )
        .unwrap();
        let cf = crate::config::load(d.path(), "musiconhold.conf", &Default::default()).unwrap();
        let c = parse(&cf, Path::new("/data"));
        assert_eq!(c.len(), 3);
        assert_eq!(c[0].name, "default");
        assert_eq!(c[1].dir, PathBuf::from("/srv/jazz"));
        assert_eq!(c[1].sort, Sort::Random);
        assert_eq!(c[2].sort, Sort::Alpha);
    }
}
