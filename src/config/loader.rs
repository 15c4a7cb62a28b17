//! The shared Asterisk `.conf` file loader.
//!
//! Every configuration file of ferrisk (`extensions.conf`, `sip.conf`, ...) is read by this
//! module, which follows Asterisk's `main/config.c` behaviour:
//!
//! - the pest grammar `grammar/conf.pest` removes comments (`;`, nested `;-- --;` blocks that may
//!   span lines, `\;` as a literal `;`) and reads each logical line as a `[section]` header, a
//!   `#include`/`#tryinclude`/`#exec` directive or a `key = value` / `key => value` entry;
//! - this code expands includes (relative to the config directory, quoted, `<...>`, globs),
//!   detects include loops, runs `#exec` when `execincludes` allows it, applies template
//!   inheritance (`[name](!)`, `[name](tpl1,tpl2)`) and `[name](+)` additions.
//!
//! Included files continue the section open at the `#include`, and a section opened inside an
//! included file stays open after it. Every error carries the file, line and column of the
//! problem and says what was expected.

use super::{ConfigError, ConfigFile, Entry, LoadOptions, Location, Op, Section};
use pest::error::{ErrorVariant, InputLocation};
use pest::iterators::Pair;
use pest::Parser;
use pest_derive::Parser;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Parser)]
#[grammar = "../grammar/conf.pest"]
struct ConfParser;

/// How deep includes and `#exec` may nest (a guard against runaway `#exec` scripts; real
/// include loops are reported as loops before this is reached).
const MAX_INCLUDE_DEPTH: usize = 64;

/// Load `name` from config directory `dir` (includes are relative to `dir`).
pub fn load(dir: &Path, name: &str, opts: &LoadOptions) -> Result<ConfigFile, ConfigError> {
    let path = super::clean_path(&dir.join(name));
    let text = std::fs::read_to_string(&path)
        .map_err(|e| ConfigError::new(format!("{}: cannot read: {e}", path.display())))?;
    load_impl(dir, &path.display().to_string(), path, &text, opts)
}

/// Load from a string; `file` is the name used in errors, includes resolve against `dir`.
pub fn load_str(
    dir: &Path,
    file: &str,
    text: &str,
    opts: &LoadOptions,
) -> Result<ConfigFile, ConfigError> {
    load_impl(dir, file, dir.join(file), text, opts)
}

fn load_impl(
    dir: &Path,
    file: &str,
    path: PathBuf,
    text: &str,
    opts: &LoadOptions,
) -> Result<ConfigFile, ConfigError> {
    let mut loader = Loader {
        dir: dir.to_path_buf(),
        opts,
        sections: Vec::new(),
        current: None,
        stack: Vec::new(),
    };
    // Only a file that exists can be included again; `load_str` text may have no file.
    let canonical = path.canonicalize().ok();
    loader.read_text(Arc::from(file), canonical, text)?;
    Ok(ConfigFile {
        path,
        sections: loader.sections,
    })
}

/// Byte offset to line/column translation for one source text.
struct Source<'a> {
    name: Arc<str>,
    text: &'a str,
    line_starts: Vec<usize>,
}

impl<'a> Source<'a> {
    fn new(name: Arc<str>, text: &'a str) -> Self {
        let mut line_starts = vec![0];
        let bytes = text.as_bytes();
        for (i, &b) in bytes.iter().enumerate() {
            // "\n", "\r\n" and a lone "\r" all end a line, as in the grammar.
            if b == b'\n' || (b == b'\r' && bytes.get(i + 1) != Some(&b'\n')) {
                line_starts.push(i + 1);
            }
        }
        Source {
            name,
            text,
            line_starts,
        }
    }

    fn loc(&self, offset: usize) -> Location {
        let line = self.line_starts.partition_point(|&s| s <= offset).max(1);
        let start = self.line_starts[line - 1];
        let col = self
            .text
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count())
            + 1;
        Location::new(
            self.name.clone(),
            u32::try_from(line).unwrap_or(u32::MAX),
            u32::try_from(col).unwrap_or(u32::MAX),
        )
    }
}

/// One logical line: the text left after comments are removed, with a map from offsets in
/// that text back to offsets in the source file.
#[derive(Default)]
struct Logical {
    text: String,
    /// (offset in `text`, offset in the source) at the start of each piece.
    map: Vec<(usize, usize)>,
}

impl Logical {
    fn push(&mut self, s: &str, source_offset: usize) {
        self.map.push((self.text.len(), source_offset));
        self.text.push_str(s);
    }

    fn source_offset(&self, offset: usize) -> usize {
        let i = self.map.partition_point(|&(l, _)| l <= offset);
        match i.checked_sub(1).and_then(|i| self.map.get(i)) {
            Some(&(l, s)) => s + (offset - l),
            None => 0,
        }
    }

    fn clear(&mut self) {
        self.text.clear();
        self.map.clear();
    }
}

struct Loader<'o> {
    dir: PathBuf,
    opts: &'o LoadOptions,
    sections: Vec<Section>,
    /// Index in `sections` of the section entries go to.
    current: Option<usize>,
    /// Files being read, outermost first: (display name, canonical path if it is a file).
    stack: Vec<(Arc<str>, Option<PathBuf>)>,
}

impl Loader<'_> {
    /// Read one file's text (the top file, an included file or `#exec` output).
    fn read_text(
        &mut self,
        name: Arc<str>,
        canonical: Option<PathBuf>,
        text: &str,
    ) -> Result<(), ConfigError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let src = Source::new(name.clone(), text);
        let mut pairs = ConfParser::parse(Rule::file, text).map_err(|e| {
            let offset = match e.location {
                InputLocation::Pos(p) => p,
                InputLocation::Span((p, _)) => p,
            };
            ConfigError::at(&src.loc(offset), "cannot read this file's line structure")
        })?;
        let file = pairs.next().map(Pair::into_inner);
        self.stack.push((name, canonical));
        let mut logical = Logical::default();
        for line in file.into_iter().flatten() {
            if line.as_rule() != Rule::line {
                continue;
            }
            for piece in line.into_inner() {
                match piece.as_rule() {
                    Rule::text => logical.push(piece.as_str(), piece.as_span().start()),
                    // `\;` -> `;`, located at the `;`.
                    Rule::escaped_semi => logical.push(";", piece.as_span().start() + 1),
                    Rule::block_comment => {
                        let s = piece.as_str();
                        if !s.ends_with("--;") {
                            tracing::warn!(
                                "{}: unterminated ;-- block comment runs to the end of the file",
                                src.loc(piece.as_span().start())
                            );
                        }
                        // A block comment spanning lines ends the logical line before it;
                        // what follows it is a line of its own (Asterisk does the same).
                        if s.contains(['\n', '\r']) {
                            self.logical_line(&src, &logical)?;
                            logical.clear();
                        }
                    }
                    _ => {}
                }
            }
            self.logical_line(&src, &logical)?;
            logical.clear();
        }
        self.stack.pop();
        Ok(())
    }

    fn logical_line(&mut self, src: &Source, line: &Logical) -> Result<(), ConfigError> {
        if line.text.trim().is_empty() {
            return Ok(());
        }
        let loc_at = |offset: usize| src.loc(line.source_offset(offset));
        let stmt = ConfParser::parse(Rule::stmt, &line.text)
            .map_err(|e| stmt_error(&e, &loc_at))?
            .next()
            .and_then(|p| p.into_inner().next());
        let Some(stmt) = stmt else {
            return Ok(());
        };
        let loc = loc_at(stmt.as_span().start());
        match stmt.as_rule() {
            Rule::header => self.header(stmt, loc, &loc_at),
            Rule::directive => self.directive(stmt, loc, &loc_at),
            Rule::entry => self.entry(stmt, loc),
            _ => Ok(()),
        }
    }

    /// `[name]`, `[name](!)`, `[name](tpl,...)`, `[name](+)`.
    fn header(
        &mut self,
        header: Pair<Rule>,
        loc: Location,
        loc_at: &dyn Fn(usize) -> Location,
    ) -> Result<(), ConfigError> {
        let mut name = String::new();
        let mut is_template = false;
        let mut add = false;
        let mut templates: Vec<(String, Location)> = Vec::new();
        for part in header.into_inner() {
            match part.as_rule() {
                Rule::section_name => name = part.as_str().to_string(),
                Rule::header_opts => {
                    for opt in part.into_inner() {
                        match opt.as_rule() {
                            Rule::template_flag => is_template = true,
                            Rule::add_flag => add = true,
                            Rule::template_name => templates.push((
                                opt.as_str().trim().to_string(),
                                loc_at(opt.as_span().start()),
                            )),
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }

        let idx = if add {
            let found = self
                .sections
                .iter()
                .position(|s| s.name.eq_ignore_ascii_case(&name));
            match found {
                Some(i) => i,
                None => {
                    return Err(ConfigError::at(
                        &loc,
                        format!(
                            "[{name}](+) adds to an earlier section, but there is no \
                             earlier [{name}]: expected a [{name}] header before this one"
                        ),
                    ))
                }
            }
        } else {
            self.sections.push(Section {
                name: name.clone(),
                loc: loc.clone(),
                is_template: false,
                templates: Vec::new(),
                entries: Vec::new(),
            });
            self.sections.len() - 1
        };

        for (tpl, tpl_loc) in templates {
            // Asterisk looks the template up by name among all categories read so far.
            let Some(t) = self
                .sections
                .iter()
                .take(idx)
                .chain(self.sections.iter().skip(idx + 1))
                .find(|s| s.name.eq_ignore_ascii_case(&tpl))
            else {
                return Err(ConfigError::at(
                    &tpl_loc,
                    format!(
                        "[{name}] inherits from '{tpl}', but there is no earlier section or \
                         template of that name: expected a [{tpl}](!) template above"
                    ),
                ));
            };
            let inherited = t.entries.clone();
            let section = &mut self.sections[idx];
            section.entries.extend(inherited);
            section.templates.push(tpl);
        }
        if is_template {
            self.sections[idx].is_template = true;
        }
        self.current = Some(idx);
        Ok(())
    }

    /// `key = value`, `key => value`, `key += value`.
    fn entry(&mut self, entry: Pair<Rule>, loc: Location) -> Result<(), ConfigError> {
        let mut key = "";
        let mut op = "=";
        let mut value = "";
        for part in entry.into_inner() {
            match part.as_rule() {
                Rule::key => key = part.as_str().trim(),
                Rule::op => op = part.as_str(),
                Rule::value => value = part.as_str().trim(),
                _ => {}
            }
        }
        if key.is_empty() {
            return Err(ConfigError::at(
                &loc,
                format!("expected a key before `{op}`"),
            ));
        }
        let Some(idx) = self.current else {
            return Err(ConfigError::at(
                &loc,
                format!("expected a [section] header before `{key} {op} ...`"),
            ));
        };
        let section = &mut self.sections[idx];
        if op == "+=" {
            // Asterisk appends to the last variable of that exact name in the section, or
            // sets a new one if there is none.
            if let Some(prev) = section.entries.iter_mut().rev().find(|e| e.key == key) {
                prev.value.push_str(value);
                return Ok(());
            }
        }
        section.entries.push(Entry {
            key: key.to_string(),
            value: value.to_string(),
            op: if op == "=>" { Op::Arrow } else { Op::Assign },
            loc,
        });
        Ok(())
    }

    /// `#include`, `#tryinclude`, `#exec`.
    fn directive(
        &mut self,
        directive: Pair<Rule>,
        loc: Location,
        loc_at: &dyn Fn(usize) -> Location,
    ) -> Result<(), ConfigError> {
        let mut name = "";
        let mut arg: Option<(&str, Location)> = None;
        for part in directive.into_inner() {
            match part.as_rule() {
                Rule::directive_name => name = part.as_str(),
                Rule::directive_arg => {
                    arg = Some((part.as_str().trim(), loc_at(part.as_span().start())))
                }
                _ => {}
            }
        }
        let kind = name.to_ascii_lowercase();
        if !matches!(kind.as_str(), "include" | "tryinclude" | "exec") {
            return Err(ConfigError::at(
                &loc,
                format!("unknown directive `#{name}`: expected #include, #tryinclude or #exec"),
            ));
        }
        let Some((arg, arg_loc)) = arg.filter(|(a, _)| !a.is_empty()) else {
            let what = if kind == "exec" {
                "a command"
            } else {
                "a file name"
            };
            return Err(ConfigError::at(
                &loc,
                format!("expected {what} after `#{name}`"),
            ));
        };
        let arg = dequote(arg);
        if self.stack.len() >= MAX_INCLUDE_DEPTH {
            return Err(ConfigError::at(
                &loc,
                format!("includes nest deeper than {MAX_INCLUDE_DEPTH} levels"),
            ));
        }
        match kind.as_str() {
            "exec" => self.exec(arg, &loc),
            _ => self.include(arg, &arg_loc, kind == "tryinclude"),
        }
    }

    fn include(&mut self, arg: &str, loc: &Location, try_only: bool) -> Result<(), ConfigError> {
        let path = super::clean_path(&if Path::new(arg).is_absolute() {
            PathBuf::from(arg)
        } else {
            self.dir.join(arg)
        });
        let files: Vec<PathBuf> = if arg.contains(['*', '?', '[']) {
            // Only the include argument is a pattern; the config directory is taken literally.
            let pattern = if Path::new(arg).is_absolute() {
                arg.to_string()
            } else {
                let dir = glob::Pattern::escape(&self.dir.to_string_lossy());
                format!("{}/{arg}", dir.trim_end_matches('/'))
            };
            let paths = glob::glob(&pattern)
                .map_err(|e| ConfigError::at(loc, format!("bad file pattern '{arg}': {e}")))?;
            let mut files: Vec<PathBuf> = paths
                .filter_map(Result::ok)
                .map(|f| super::clean_path(&f))
                .collect();
            files.sort();
            if files.is_empty() && !try_only {
                return Err(ConfigError::at(
                    loc,
                    format!(
                        "#include {arg}: no file matches {}: expected at least one \
                         (use #tryinclude if none is fine)",
                        path.display()
                    ),
                ));
            }
            files
        } else {
            vec![path]
        };

        for file in files {
            let text = match std::fs::read_to_string(&file) {
                Ok(t) => t,
                Err(e) if try_only && e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => {
                    return Err(ConfigError::at(
                        loc,
                        format!(
                            "cannot include {}: {e}: expected a readable file \
                             (#tryinclude ignores a missing one)",
                            file.display()
                        ),
                    ))
                }
            };
            let canonical = file.canonicalize().ok();
            if let Some(c) = &canonical {
                if self.stack.iter().any(|(_, p)| p.as_ref() == Some(c)) {
                    let chain: Vec<&str> = self.stack.iter().map(|(n, _)| &**n).collect();
                    return Err(ConfigError::at(
                        loc,
                        format!(
                            "include loop: {} is already being read ({} -> {})",
                            file.display(),
                            chain.join(" -> "),
                            file.display()
                        ),
                    ));
                }
            }
            let name: Arc<str> = Arc::from(file.display().to_string());
            self.read_text(name, canonical, &text)?;
        }
        Ok(())
    }

    fn exec(&mut self, cmd: &str, loc: &Location) -> Result<(), ConfigError> {
        if !self.opts.exec_includes {
            return Err(ConfigError::at(
                loc,
                "#exec is disabled: it needs `execincludes = yes` in [options] of ferrisk.conf",
            ));
        }
        let out = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(cmd)
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| ConfigError::at(loc, format!("#exec {cmd}: cannot run: {e}")))?;
        if !out.status.success() {
            // Asterisk reads whatever the command printed regardless of its exit status.
            tracing::warn!("{loc}: #exec {cmd}: {}", out.status);
        }
        if !out.stderr.is_empty() {
            tracing::warn!(
                "{loc}: #exec {cmd}: {}",
                String::from_utf8_lossy(&out.stderr).trim_end()
            );
        }
        let text = String::from_utf8(out.stdout).map_err(|_| {
            ConfigError::at(
                loc,
                format!("#exec {cmd}: output is not UTF-8 text: expected config lines"),
            )
        })?;
        self.read_text(Arc::from(format!("#exec {cmd}")), None, &text)
    }
}

/// Strip one pair of surrounding `"..."` or `<...>`, as Asterisk does for directive arguments.
fn dequote(arg: &str) -> &str {
    for (open, close) in [('"', '"'), ('<', '>')] {
        if let Some(inner) = arg
            .strip_prefix(open)
            .and_then(|rest| rest.strip_suffix(close))
        {
            return inner.trim();
        }
    }
    arg
}

/// Turn a pest error on a logical line into a located "expected ..." message.
fn stmt_error(e: &pest::error::Error<Rule>, loc_at: &dyn Fn(usize) -> Location) -> ConfigError {
    let offset = match e.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((p, _)) => p,
    };
    let msg = match &e.variant {
        ErrorVariant::ParsingError { positives, .. } if !positives.is_empty() => {
            let mut wanted: Vec<&str> = positives.iter().map(describe).collect();
            wanted.dedup();
            format!("expected {}", wanted.join(" or "))
        }
        ErrorVariant::ParsingError { .. } => "unexpected text".to_string(),
        ErrorVariant::CustomError { message } => message.clone(),
    };
    ConfigError::at(&loc_at(offset), msg)
}

fn describe(rule: &Rule) -> &'static str {
    match rule {
        Rule::header => "a [section] header",
        Rule::directive => "a #include/#tryinclude/#exec directive",
        Rule::entry | Rule::key => "a `key = value` line",
        Rule::section_name => "a section name",
        Rule::close_bracket => "`]` to close the section header",
        Rule::header_opts => "`(` with section options",
        Rule::template_flag | Rule::add_flag | Rule::template_name => "`!`, `+` or a template name",
        Rule::close_paren => "`,` or `)` to close the section options",
        Rule::op => "`=` or `=>` after the key",
        Rule::directive_name => "a directive name after `#`",
        Rule::EOI => "end of line",
        _ => "valid config text",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn opts() -> LoadOptions {
        LoadOptions::default()
    }

    fn parse(text: &str) -> ConfigFile {
        match load_str(Path::new("/nonexistent"), "t.conf", text, &opts()) {
            Ok(c) => c,
            Err(e) => panic!("unexpected error: {e}"),
        }
    }

    fn parse_err(text: &str) -> ConfigError {
        match load_str(Path::new("/nonexistent"), "t.conf", text, &opts()) {
            Ok(c) => panic!("expected an error, got {c:?}"),
            Err(e) => e,
        }
    }

    fn loc_of(e: &ConfigError) -> (String, u32, u32) {
        let l = e.loc.as_ref().expect("error has a location");
        (l.file.to_string(), l.line, l.col)
    }

    fn kv(s: &Section) -> Vec<(String, String)> {
        s.entries
            .iter()
            .map(|e| (e.key.clone(), e.value.clone()))
            .collect()
    }

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn sections_and_entries() {
        let c = parse(
            "; comment\n\n[general]\nfoo = bar\n  spaced   =   value with spaces  \n\
             [default]\nexten => 1,1,Set(A=b)\nexten=>2,1,Dial(SIP/x,,tT)\n",
        );
        assert_eq!(c.sections.len(), 2);
        let g = &c.sections[0];
        assert_eq!(g.name, "general");
        assert_eq!(
            kv(g),
            pairs(&[("foo", "bar"), ("spaced", "value with spaces")])
        );
        assert_eq!(g.entries[0].op, Op::Assign);
        assert_eq!((g.loc.line, g.loc.col), (3, 1));
        assert_eq!((g.entries[1].loc.line, g.entries[1].loc.col), (5, 3));
        let d = &c.sections[1];
        assert_eq!(
            kv(d),
            pairs(&[("exten", "1,1,Set(A=b)"), ("exten", "2,1,Dial(SIP/x,,tT)")])
        );
        assert!(d.entries.iter().all(|e| e.op == Op::Arrow));
        assert_eq!(c.path, Path::new("/nonexistent/t.conf"));
    }

    #[test]
    fn values_keep_odd_characters() {
        let c = parse("[s]\na = x=>y [z] \"q\" <a> (p) #h\nb==c\nc =\n");
        assert_eq!(
            kv(&c.sections[0]),
            pairs(&[("a", "x=>y [z] \"q\" <a> (p) #h"), ("b", "=c"), ("c", "")])
        );
    }

    #[test]
    fn duplicate_sections_stay_separate() {
        let c = parse("[a]\nx=1\n[b]\n[a]\nx=2\n");
        let names: Vec<&str> = c.sections.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "a"]);
        assert_eq!(c.section("a").and_then(|s| s.get("x")), Some("1"));
        assert_eq!(c.sections[2].get("X"), Some("2"));
    }

    #[test]
    fn templates_and_inheritance_order() {
        let c = parse("[t1](!)\na=1\nb=1\n[t2](!,t1)\nb=2\nc=2\n[real](t1,t2)\nc=3\nd=3\n");
        let t2 = &c.sections[1];
        assert!(t2.is_template);
        assert_eq!(t2.templates, ["t1"]);
        assert_eq!(
            kv(t2),
            pairs(&[("a", "1"), ("b", "1"), ("b", "2"), ("c", "2")])
        );
        let real = c.section("real").expect("real");
        assert!(!real.is_template);
        assert_eq!(real.templates, ["t1", "t2"]);
        assert_eq!(
            kv(real),
            pairs(&[
                ("a", "1"),
                ("b", "1"),
                ("a", "1"),
                ("b", "1"),
                ("b", "2"),
                ("c", "2"),
                ("c", "3"),
                ("d", "3"),
            ])
        );
        assert_eq!(real.get("b"), Some("2"));
        assert_eq!(real.get("c"), Some("3"));
        // Templates are skipped by ConfigFile::section.
        assert!(c.section("t1").is_none());
    }

    #[test]
    fn inheriting_from_unknown_template_is_an_error() {
        let e = parse_err("[a]\nx=1\n[b](a, nope)\n");
        assert_eq!(loc_of(&e), ("t.conf".into(), 3, 8));
        assert!(e.msg.contains("nope"), "{e}");
    }

    #[test]
    fn add_to_existing_section() {
        let c = parse("[a]\nx=1\n[b]\ny=1\n[a](+)\nz=2\n");
        assert_eq!(c.sections.len(), 2);
        assert_eq!(kv(&c.sections[0]), pairs(&[("x", "1"), ("z", "2")]));
        let e = parse_err("[a]\nx=1\n\n[b](+)\n");
        assert_eq!((e.loc.as_ref().map(|l| (l.line, l.col))), Some((4, 1)));
        assert!(e.msg.contains("[b]"), "{e}");
    }

    #[test]
    fn append_operator() {
        let c = parse("[a]\nx=1\nx+=,2\ny+=3\n");
        assert_eq!(kv(&c.sections[0]), pairs(&[("x", "1,2"), ("y", "3")]));
    }

    #[test]
    fn comments_and_escaped_semicolons() {
        let c = parse(
            "[s] ; header comment\na = b ; trailing\nc = x\\;y\\;z ; real comment\n;---- not a block\nd=e\n",
        );
        assert_eq!(
            kv(&c.sections[0]),
            pairs(&[("a", "b"), ("c", "x;y;z"), ("d", "e")])
        );
    }

    #[test]
    fn block_comments() {
        let c = parse(
            "[s]\n\
             ;-- a block comment\n\
             x = not seen\n\
             ;-- nested --; still comment\n\
             --;\n\
             a = 1 ;-- inline --; ; then a line comment\n\
             b ;-- in the middle --; = 2\n\
             c = 3 ;-- starts here\n\
             y = hidden\n\
             ends here --; d = 4\n",
        );
        assert_eq!(
            kv(&c.sections[0]),
            pairs(&[("a", "1"), ("b", "2"), ("c", "3"), ("d", "4")])
        );
        let d = &c.sections[0].entries[3];
        assert_eq!((d.loc.line, d.loc.col), (10, 15));
    }

    #[test]
    fn entry_before_section_is_an_error() {
        let e = parse_err("; hi\n  foo = bar\n[s]\n");
        assert_eq!(loc_of(&e), ("t.conf".into(), 2, 3));
        assert!(e.msg.contains("expected a [section] header"), "{e}");
    }

    #[test]
    fn malformed_lines_are_errors() {
        let e = parse_err("[s]\nthis line has no equals\n");
        assert_eq!(e.loc.as_ref().map(|l| (l.line, l.col)), Some((2, 24)));
        assert!(e.msg.contains("`=`"), "{e}");

        let e = parse_err("[s]\n[unclosed\n");
        assert_eq!(e.loc.as_ref().map(|l| (l.line, l.col)), Some((2, 10)));
        assert!(e.msg.contains("`]`"), "{e}");

        let e = parse_err("[s] junk\n");
        assert_eq!(e.loc.as_ref().map(|l| (l.line, l.col)), Some((1, 5)));
        assert!(e.msg.contains("end of line"), "{e}");

        let e = parse_err("[s](!\n");
        assert_eq!(e.loc.as_ref().map(|l| (l.line, l.col)), Some((1, 6)));
        assert!(e.msg.contains("`)`"), "{e}");

        let e = parse_err("[]\n");
        assert!(e.msg.contains("section name"), "{e}");

        let e = parse_err("[s]\n = value\n");
        assert_eq!(e.loc.as_ref().map(|l| (l.line, l.col)), Some((2, 2)));

        let e = parse_err("[s]\n#frobnicate x\n");
        assert!(e.msg.contains("unknown directive"), "{e}");

        let e = parse_err("[s]\n#include\n");
        assert!(e.msg.contains("expected a file name"), "{e}");
    }

    #[test]
    fn paths_in_messages_are_clean() {
        assert_eq!(
            super::super::clean_path(Path::new("etc/./extensions.conf")),
            PathBuf::from("etc/extensions.conf")
        );
        assert_eq!(
            super::super::clean_path(Path::new("/a/etc/../etc/./x.conf")),
            PathBuf::from("/a/etc/x.conf")
        );
        assert_eq!(
            super::super::clean_path(Path::new("../var/./lib")),
            PathBuf::from("../var/lib")
        );
        assert_eq!(
            super::super::clean_path(Path::new("/..")),
            PathBuf::from("/")
        );
        let tmp = tempfile::tempdir().expect("tmp");
        let d = tmp.path();
        fs::write(d.join("main.conf"), "#include ./inc/../bad.conf\n").expect("write");
        fs::create_dir(d.join("inc")).expect("mkdir");
        fs::write(d.join("bad.conf"), "[open\n").expect("write");
        let err = load(&d.join("."), "./main.conf", &LoadOptions::default())
            .expect_err("bad.conf is broken");
        let text = err.to_string();
        assert!(
            text.starts_with(&format!("{}:1:", d.join("bad.conf").display())),
            "{text}"
        );
        assert!(!text.contains("/./") && !text.contains("/../"), "{text}");
    }

    #[test]
    fn error_display_has_file_line_col() {
        let e = parse_err("[s]\nbad\n");
        assert_eq!(
            e.to_string(),
            "t.conf:2:4: expected `=` or `=>` after the key"
        );
    }

    #[test]
    fn includes_relative_quoted_and_angle() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        fs::write(d.join("a.conf"), "a = 1\n[from_a]\nx = 1\n").expect("write");
        fs::write(d.join("b.conf"), "b = 2\n").expect("write");
        fs::write(d.join("c.conf"), "c = 3\n").expect("write");
        fs::write(
            d.join("main.conf"),
            "[top]\n#include a.conf\ny = 2\n#include \"b.conf\"\n#INCLUDE <c.conf>\n",
        )
        .expect("write");
        let c = load(d, "main.conf", &opts()).expect("load");
        assert_eq!(c.sections.len(), 2);
        // The included file continues [top] ...
        assert_eq!(kv(&c.sections[0]), pairs(&[("a", "1")]));
        assert_eq!(
            &*c.sections[0].entries[0].loc.file,
            d.join("a.conf").to_str().unwrap()
        );
        // ... and [from_a] opened there stays open afterwards.
        assert_eq!(
            kv(&c.sections[1]),
            pairs(&[("x", "1"), ("y", "2"), ("b", "2"), ("c", "3")])
        );
    }

    #[test]
    fn include_absolute_and_glob_sorted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        fs::create_dir(d.join("conf.d")).expect("mkdir");
        fs::write(d.join("conf.d/20-b.conf"), "[b]\nv=b\n").expect("write");
        fs::write(d.join("conf.d/10-a.conf"), "[a]\nv=a\n").expect("write");
        fs::write(d.join("conf.d/30-c.conf"), "[c]\nv=c\n").expect("write");
        fs::write(d.join("conf.d/ignored.txt"), "junk\n").expect("write");
        let abs = d.join("abs.conf");
        fs::write(&abs, "[abs]\n").expect("write");
        let text = format!("#include conf.d/*.conf\n#include {}\n", abs.display());
        let c = load_str(d, "main.conf", &text, &opts()).expect("load");
        let names: Vec<&str> = c.sections.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c", "abs"]);

        let e = load_str(d, "main.conf", "#include none.d/*.conf\n", &opts()).unwrap_err();
        assert_eq!(e.loc.as_ref().map(|l| l.line), Some(1));
        let c = load_str(d, "main.conf", "#tryinclude none.d/*.conf\n", &opts()).expect("load");
        assert!(c.sections.is_empty());
    }

    #[test]
    fn glob_in_a_directory_with_pattern_characters() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let d = tmp.path().join("etc[1]");
        fs::create_dir_all(d.join("inc")).expect("mkdir");
        fs::write(d.join("inc/x.conf"), "[x]\n").expect("write");
        let c = load_str(
            &d,
            "m.conf",
            "#include inc/*.conf ; trailing comment\n",
            &opts(),
        )
        .expect("load");
        assert_eq!(c.sections.len(), 1);
        assert_eq!(c.sections[0].name, "x");
    }

    #[test]
    fn missing_include_is_an_error_tryinclude_is_not() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let text = "[s]\na=1\n#tryinclude missing.conf\nb=2\n  #include \"missing.conf\"\n";
        let e = load_str(d, "main.conf", text, &opts()).unwrap_err();
        let main = "main.conf".to_string();
        assert_eq!(loc_of(&e), (main, 5, 12));
        assert!(e.msg.contains("missing.conf"), "{e}");

        let c = load_str(
            d,
            "main.conf",
            "[s]\n#tryinclude missing.conf\nb=2\n",
            &opts(),
        )
        .expect("load");
        assert_eq!(kv(&c.sections[0]), pairs(&[("b", "2")]));
    }

    #[test]
    fn include_loop_is_detected() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        fs::write(d.join("a.conf"), "[a]\n#include b.conf\n").expect("write");
        fs::write(d.join("b.conf"), "x=1\n#include a.conf\n").expect("write");
        let e = load(d, "a.conf", &opts()).unwrap_err();
        let b = d.join("b.conf").display().to_string();
        assert_eq!(loc_of(&e), (b, 2, 10));
        assert!(e.msg.contains("include loop"), "{e}");

        fs::write(d.join("self.conf"), "[s]\n#include self.conf\n").expect("write");
        let e = load(d, "self.conf", &opts()).unwrap_err();
        assert!(e.msg.contains("include loop"), "{e}");

        // Including the same file twice in a row is not a loop.
        fs::write(d.join("x.conf"), "x=1\n").expect("write");
        fs::write(
            d.join("twice.conf"),
            "[s]\n#include x.conf\n#include x.conf\n",
        )
        .expect("write");
        let c = load(d, "twice.conf", &opts()).expect("load");
        assert_eq!(c.sections[0].entries.len(), 2);
    }

    #[test]
    fn error_inside_included_file_is_located_there() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        fs::write(d.join("inc.conf"), "; first\nok = 1\n   [broken\n").expect("write");
        let e = load_str(d, "main.conf", "[s]\n#include inc.conf\n", &opts()).unwrap_err();
        let inc = d.join("inc.conf").display().to_string();
        assert_eq!(loc_of(&e), (inc, 3, 11));
        assert!(e.msg.contains("`]`"), "{e}");
    }

    #[test]
    fn exec_refused_without_execincludes() {
        let e = parse_err("[s]\n#exec echo a=1\n");
        assert_eq!(loc_of(&e), ("t.conf".into(), 2, 1));
        assert!(e.msg.contains("execincludes = yes"), "{e}");
        assert!(e.msg.contains("ferrisk.conf"), "{e}");
    }

    #[test]
    fn exec_allowed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let o = LoadOptions {
            exec_includes: true,
        };
        let text = "[s]\n#exec \"printf 'a = 1\\n[t]\\nb => 2\\n'\"\nc = 3\n";
        let c = load_str(dir.path(), "main.conf", text, &o).expect("load");
        assert_eq!(kv(&c.sections[0]), pairs(&[("a", "1")]));
        assert_eq!(kv(&c.sections[1]), pairs(&[("b", "2"), ("c", "3")]));
        assert_eq!(
            &*c.sections[1].entries[0].loc.file,
            "#exec printf 'a = 1\\n[t]\\nb => 2\\n'"
        );
    }

    #[test]
    fn crlf_and_unterminated_block_comment() {
        let c = parse("[s]\r\na = 1\r\nb = 2 ;-- never closed\r\nc = 3\r\n");
        assert_eq!(kv(&c.sections[0]), pairs(&[("a", "1"), ("b", "2")]));
    }

    #[test]
    fn all_sample_files_load() {
        let dir = Path::new("/work/shared/data/asterisk-samples");
        let mut samples: Vec<PathBuf> = fs::read_dir(dir)
            .expect("samples dir")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "sample"))
            .collect();
        samples.sort();
        assert!(samples.len() >= 8, "found {samples:?}");
        for p in samples {
            let name = p.file_name().and_then(|n| n.to_str()).expect("name");
            let c = load(dir, name, &opts()).unwrap_or_else(|e| panic!("{name}: {e}"));
            // The samples have no `(+)` headers: every `[` line is one section.
            let text = fs::read_to_string(&p).expect("read sample");
            let headers = text.lines().filter(|l| l.starts_with('[')).count();
            assert_eq!(c.sections.len(), headers, "{name}");
        }
    }
}
