//! Argument splitting as Asterisk's `ast_app_separate_args` does it: split on a delimiter
//! outside `()`, `[]`, `{}` nesting and double quotes; quotes and backslash escapes are
//! removed from the result.

/// Split `data` on `delim` with Asterisk's standard rules.
pub fn split(data: &str, delim: char) -> Vec<String> {
    separate(data, delim, true)
}

/// Split without removing quotes or backslashes (`ast_app_separate_args` with raw mode,
/// used where the pieces are substituted or parsed again).
pub fn split_raw(data: &str, delim: char) -> Vec<String> {
    separate(data, delim, false)
}

fn separate(data: &str, delim: char, remove_chars: bool) -> Vec<String> {
    let mut out = Vec::new();
    if data.is_empty() {
        return out;
    }
    let mut cur = String::new();
    let mut depth: i32 = 0;
    let mut quoted = false;
    let mut escaped = false;
    for c in data.chars() {
        if escaped {
            cur.push(c);
            escaped = false;
            continue;
        }
        match c {
            '\\' => {
                escaped = true;
                if !remove_chars {
                    cur.push(c);
                }
            }
            '"' => {
                quoted = !quoted;
                if !remove_chars {
                    cur.push(c);
                }
            }
            '(' | '[' | '{' if !quoted => {
                depth += 1;
                cur.push(c);
            }
            ')' | ']' | '}' if !quoted => {
                depth = (depth - 1).max(0);
                cur.push(c);
            }
            c if c == delim && depth == 0 && !quoted => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out
}

/// Nth argument (0-based), empty string when absent.
pub fn nth(args: &[String], n: usize) -> &str {
    args.get(n).map(|s| s.as_str()).unwrap_or("")
}

/// Parse Asterisk option letters: `tr` and `M(macro^args)`, `U(sub)`, `L(x:y:z)`.
/// Returns letter → optional parenthesised argument.
pub fn options(s: &str) -> std::collections::BTreeMap<char, Option<String>> {
    let mut out = std::collections::BTreeMap::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        if i < chars.len() && chars[i] == '(' {
            let mut depth = 1;
            let start = i + 1;
            let mut j = start;
            while j < chars.len() {
                match chars[j] {
                    '(' => depth += 1,
                    ')' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            let arg: String = chars[start..j.min(chars.len())].iter().collect();
            out.insert(c, Some(arg));
            i = j + 1;
        } else {
            out.insert(c, None);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_respecting_nesting_and_quotes() {
        assert_eq!(split("a,b,c", ','), vec!["a", "b", "c"]);
        assert_eq!(split("a,(b,c),d", ','), vec!["a", "(b,c)", "d"]);
        assert_eq!(split("\"a,b\",c", ','), vec!["a,b", "c"]);
        assert_eq!(split("a\\,b,c", ','), vec!["a,b", "c"]);
        assert_eq!(split("", ','), Vec::<String>::new());
        assert_eq!(split("a,", ','), vec!["a", ""]);
    }

    #[test]
    fn option_letters() {
        let o = options("tM(check^1)gU(sub^a^b)");
        assert_eq!(o.get(&'t'), Some(&None));
        assert_eq!(o.get(&'M'), Some(&Some("check^1".to_string())));
        assert_eq!(o.get(&'U'), Some(&Some("sub^a^b".to_string())));
        assert!(o.contains_key(&'g'));
    }
}
