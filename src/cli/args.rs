//! Command-line flags, as Asterisk spells them: `-f -c -v… -C file -r -R -x cmd -V -h`,
//! combinable (`-cvvv`, `-rx "core show version"`, `-rvvv`).

use std::path::PathBuf;

pub const DEFAULT_CONFIG: &str = "/etc/ferrisk/ferrisk.conf";

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Args {
    pub foreground: bool,
    pub console: bool,
    pub verbose: u8,
    pub config: Option<PathBuf>,
    pub remote: bool,
    /// `-R`: remote console that reconnects (accepted; behaves like `-r`).
    pub reconnect: bool,
    pub execute: Option<String>,
    pub version: bool,
    pub help: bool,
}

impl Args {
    /// `-C file`, else the default `ferrisk.conf`; when that does not exist but an
    /// `asterisk.conf` sits beside it, that one (an Asterisk admin's directory as-is).
    pub fn config_path(&self) -> PathBuf {
        let p = self
            .config
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG));
        if !p.exists() && p.file_name().is_some_and(|n| n == "ferrisk.conf") {
            let alt = p.with_file_name("asterisk.conf");
            if alt.exists() {
                return alt;
            }
        }
        p
    }
    /// `-x` implies a remote connection, as in Asterisk.
    pub fn is_remote(&self) -> bool {
        self.remote || self.reconnect || self.execute.is_some()
    }
}

/// Parse the arguments after the program name.
pub fn parse<I, S>(args: I) -> Result<Args, String>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let mut a = Args::default();
    let mut it = args.into_iter().map(Into::into);
    while let Some(arg) = it.next() {
        let Some(flags) = arg.strip_prefix('-') else {
            return Err(format!("unexpected argument '{arg}'"));
        };
        if flags.is_empty() {
            return Err("unexpected argument '-'".into());
        }
        if flags == "-help" {
            a.help = true;
            continue;
        }
        if flags == "-version" {
            a.version = true;
            continue;
        }
        let chars: Vec<char> = flags.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            i += 1;
            match c {
                'f' | 'F' => a.foreground = true,
                'c' => {
                    a.console = true;
                    a.foreground = true;
                }
                'v' => a.verbose = a.verbose.saturating_add(1),
                'r' => a.remote = true,
                'R' => {
                    a.remote = true;
                    a.reconnect = true;
                }
                'V' => a.version = true,
                'h' => a.help = true,
                // Accepted for habit's sake; no effect yet.
                'd' | 'q' | 'n' | 'p' | 'T' | 't' | 'W' | 'g' | 'm' | 'i' | 'I' | 'X' => {}
                'C' | 'x' => {
                    // The value is the rest of this word, or the next argument.
                    let rest: String = chars[i..].iter().collect();
                    i = chars.len();
                    let val = if rest.is_empty() {
                        it.next()
                            .ok_or_else(|| format!("option -{c} requires an argument"))?
                    } else {
                        rest
                    };
                    if c == 'C' {
                        a.config = Some(PathBuf::from(val));
                    } else {
                        a.execute = Some(val);
                    }
                }
                'G' | 'U' | 'e' | 'L' | 'M' | 's' => {
                    let rest: String = chars[i..].iter().collect();
                    i = chars.len();
                    if rest.is_empty() {
                        it.next()
                            .ok_or_else(|| format!("option -{c} requires an argument"))?;
                    }
                }
                other => return Err(format!("unknown option -{other}")),
            }
        }
    }
    Ok(a)
}

pub fn usage() -> String {
    format!(
        "ferrisk {}, an Asterisk-compatible PBX\n\
Usage: ferrisk [OPTIONS]\n\
Valid Options:\n   \
-V              Display version number and exit\n   \
-C <configfile> Use an alternate configuration file (default {DEFAULT_CONFIG})\n   \
-c              Provide console CLI (implies -f)\n   \
-f              Do not fork\n   \
-h              This help screen\n   \
-r              Connect to ferrisk on this machine\n   \
-R              Same as -r, except attempt to reconnect if disconnected\n   \
-v              Increase verbosity (multiple v's = more verbose)\n   \
-x <cmd>        Execute command <cmd> (implies -r)\n",
        env!("CARGO_PKG_VERSION")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combined_flags() {
        let a = parse(["-cvvv"]).unwrap();
        assert!(a.console && a.foreground);
        assert_eq!(a.verbose, 3);
        let a = parse(["-rx", "core show version"]).unwrap();
        assert!(a.remote);
        assert_eq!(a.execute.as_deref(), Some("core show version"));
        assert!(a.is_remote());
        let a = parse(["-rvvv", "-C", "/tmp/x.conf"]).unwrap();
        assert!(a.remote && a.verbose == 3);
        assert_eq!(a.config_path(), PathBuf::from("/tmp/x.conf"));
        let a = parse(["-C/tmp/y.conf", "-x", "help"]).unwrap();
        assert_eq!(a.config_path(), PathBuf::from("/tmp/y.conf"));
        assert!(a.is_remote() && !a.remote);
        let a = parse(["-f", "-v", "-v"]).unwrap();
        assert!(a.foreground && !a.console && a.verbose == 2);
        assert_eq!(
            parse(Vec::<String>::new()).unwrap().config_path(),
            PathBuf::from(DEFAULT_CONFIG)
        );
    }

    #[test]
    fn errors() {
        assert!(parse(["-C"]).is_err());
        assert!(parse(["-z"]).is_err());
        assert!(parse(["stray"]).is_err());
        assert!(parse(["-V"]).unwrap().version);
    }
}
