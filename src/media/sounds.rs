//! Finding and loading prompts the way Asterisk's `file.c` does.
//!
//! A sound is named without its extension (`vm-goodbye`, `digits/5`) or by absolute path.
//! Relative names are looked up under each sounds directory (ours, `<astdatadir>/sounds`,
//! then Debian's `/usr/share/asterisk/sounds` from `asterisk-core-sounds-en-wav`), trying
//! languages in Asterisk's order (`fileexists_core`):
//!
//! 1. the channel's language as given (`sounds/en_GB/x`),
//! 2. that language without its dialect (`sounds/en/x` for `en_GB`),
//! 3. no language (`sounds/x`),
//! 4. the default language `en` (unless already tried).
//!
//! In each place the formats ferrisk reads are tried, the channel's native codec first
//! (`.ulaw` for µ-law, `.alaw` for A-law, `.sln` for slin), then `.wav` (8 kHz 16-bit mono),
//! then the other raw formats.

use super::wav::{self, Encoding, WavError};
use crate::media::frame::NativeFormat;
use std::path::{Path, PathBuf};

/// Debian's sounds directory (`asterisk-core-sounds-en-wav`), searched after ours.
pub const SYSTEM_SOUNDS: &str = "/usr/share/asterisk/sounds";
/// The folder `asterisk-core-sounds-en-wav` installs the English prompts in.
pub const SYSTEM_EN_DIR: &str = "en_US_f_Allison";
/// Asterisk's `DEFAULT_LANGUAGE`.
pub const DEFAULT_LANGUAGE: &str = "en";

/// The file format of a found sound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SoundFormat {
    Wav,
    Raw(Encoding),
}

/// Extensions to try, best first, for a channel speaking `native`.
pub fn extensions_for(native: NativeFormat) -> &'static [&'static str] {
    match native {
        NativeFormat::Ulaw => &["ulaw", "pcm", "wav", "sln", "raw", "alaw"],
        NativeFormat::Alaw => &["alaw", "wav", "sln", "raw", "ulaw", "pcm"],
        NativeFormat::Slin => &["sln", "raw", "wav", "ulaw", "pcm", "alaw"],
    }
}

fn format_of(ext: &str) -> Option<SoundFormat> {
    if ext.eq_ignore_ascii_case("wav") {
        Some(SoundFormat::Wav)
    } else {
        Encoding::from_extension(ext).map(SoundFormat::Raw)
    }
}

/// The language folders to try for `lang`, in Asterisk's order (`None` = no language).
pub fn language_order(lang: &str) -> Vec<Option<String>> {
    let mut v: Vec<Option<String>> = Vec::new();
    let lang = lang.trim();
    if !lang.is_empty() {
        v.push(Some(lang.to_string()));
        if let Some((base, _)) = lang.split_once('_') {
            if !base.is_empty() {
                v.push(Some(base.to_string()));
            }
        }
    }
    v.push(None);
    if !v.iter().any(|l| l.as_deref() == Some(DEFAULT_LANGUAGE)) {
        v.push(Some(DEFAULT_LANGUAGE.to_string()));
    }
    v
}

/// Sounds directories searched, in order: `<astdatadir>/sounds`, then Debian's (looks at
/// the disk: call it on the blocking pool).
pub fn sound_dirs(astdatadir: &Path) -> Vec<PathBuf> {
    let ours = astdatadir.join("sounds");
    let mut v = vec![ours.clone()];
    let sys = PathBuf::from(SYSTEM_SOUNDS);
    if sys != ours {
        v.push(sys.clone());
    }
    // Debian's package installs into en_US_f_Allison/ and only the asterisk package adds the
    // `en` link to it: search it directly as the English set.
    let allison = sys.join(SYSTEM_EN_DIR);
    if allison.is_dir() {
        v.push(allison);
    }
    v
}

/// Candidate paths (without extension) for `name`, in search order.
fn bases(dirs: &[PathBuf], name: &str, lang: &str) -> Vec<PathBuf> {
    let p = Path::new(name);
    if p.is_absolute() {
        return vec![p.to_path_buf()];
    }
    let mut v = Vec::new();
    for d in dirs {
        for l in language_order(lang) {
            v.push(match l {
                Some(l) => d.join(l).join(name),
                None => d.join(name),
            });
        }
    }
    v
}

/// Find `name` (no extension, or an absolute path without extension) for a channel with
/// language `lang` and codec `native`. Returns the file and its format.
pub fn find(
    dirs: &[PathBuf],
    name: &str,
    lang: &str,
    native: NativeFormat,
) -> Option<(PathBuf, SoundFormat)> {
    let name = name.trim();
    if name.is_empty() || name.split('/').any(|c| c == "..") && !name.starts_with('/') {
        return None;
    }
    for base in bases(dirs, name, lang) {
        for ext in extensions_for(native) {
            let mut s = base.clone().into_os_string();
            s.push(".");
            s.push(ext);
            let path = PathBuf::from(s);
            if path.is_file() {
                if let Some(f) = format_of(ext) {
                    return Some((path, f));
                }
            }
        }
    }
    None
}

/// Whether a sound exists (Asterisk's `ast_fileexists`).
pub fn exists(dirs: &[PathBuf], name: &str, lang: &str) -> bool {
    find(dirs, name, lang, NativeFormat::Slin).is_some()
}

/// Read a found file as linear samples.
pub fn load(path: &Path, format: SoundFormat) -> Result<Vec<i16>, WavError> {
    match format {
        SoundFormat::Wav => wav::read_wav(path),
        SoundFormat::Raw(e) => wav::read_raw(path, e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_order_is_asterisks() {
        let s = |v: Vec<Option<String>>| {
            v.into_iter()
                .map(|l| l.unwrap_or_else(|| "-".into()))
                .collect::<Vec<_>>()
        };
        assert_eq!(s(language_order("en")), ["en", "-"]);
        assert_eq!(s(language_order("fr_CA")), ["fr_CA", "fr", "-", "en"]);
        assert_eq!(s(language_order("en_GB")), ["en_GB", "en", "-"]);
        assert_eq!(s(language_order("")), ["-", "en"]);
    }

    #[test]
    fn finds_by_language_and_native_format() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let sounds = dir.path().join("sounds");
        std::fs::create_dir_all(sounds.join("en/digits")).unwrap_or_else(|e| panic!("{e}"));
        std::fs::create_dir_all(sounds.join("fr")).unwrap_or_else(|e| panic!("{e}"));
        let put = |p: &str, b: &[u8]| {
            std::fs::write(sounds.join(p), b).unwrap_or_else(|e| panic!("{e}"));
        };
        put("en/digits/1.wav", &wav::wav_bytes(&[1, 2, 3]));
        put("en/digits/1.ulaw", &[0xff; 4]);
        put("fr/hello.sln", &[1, 0, 2, 0]);
        put("beep.wav", &wav::wav_bytes(&[5]));
        let dirs = vec![sounds.clone()];
        let (p, f) = find(&dirs, "digits/1", "en", NativeFormat::Ulaw).expect("found");
        assert_eq!(
            (p.extension().and_then(|e| e.to_str()), f),
            (Some("ulaw"), SoundFormat::Raw(Encoding::Ulaw))
        );
        let (p, f) = find(&dirs, "digits/1", "fr_CA", NativeFormat::Alaw).expect("en fallback");
        assert_eq!(p, sounds.join("en/digits/1.wav"));
        assert_eq!(load(&p, f).ok(), Some(vec![1, 2, 3]));
        let (p, _) = find(&dirs, "hello", "fr_CA", NativeFormat::Ulaw).expect("fr");
        assert_eq!(p, sounds.join("fr/hello.sln"));
        assert!(find(&dirs, "hello", "en", NativeFormat::Ulaw).is_none());
        let (p, _) = find(&dirs, "beep", "de", NativeFormat::Ulaw).expect("no language");
        assert_eq!(p, sounds.join("beep.wav"));
        let abs = sounds.join("beep");
        assert!(find(&dirs, &abs.to_string_lossy(), "en", NativeFormat::Ulaw).is_some());
        assert!(find(&dirs, "../sounds/beep", "en", NativeFormat::Ulaw).is_none());
        assert!(find(&dirs, "", "en", NativeFormat::Ulaw).is_none());
    }

    #[test]
    fn the_sample_config_finds_the_shipped_beep() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let settings = crate::config::settings::Settings::load(&root.join("etc/ferrisk.conf"))
            .unwrap_or_else(|e| panic!("etc/ferrisk.conf: {e:?}"));
        let dirs = sound_dirs(&settings.astdatadir);
        let (p, f) = find(&dirs, "beep", "en", NativeFormat::Ulaw).expect("sounds/beep.wav");
        assert_eq!(f, SoundFormat::Wav);
        let s = load(&p, f).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.len(), 2000, "0.25 s at 8 kHz");
        assert!(s.iter().any(|&x| x > 7000), "a loud tone");
    }
}
