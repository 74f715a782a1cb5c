//! Common/Template hot path: finding `{{ name }}` and `[name]` placeholders.
//!
//! The grammar is the one `pyagent.template_core.PLACEHOLDER` writes as a regex:
//! `\{\{[ \t\n\r\f\v]*(NAME)[ \t\n\r\f\v]*\}\}|\[(NAME)\]` with `NAME` an ASCII identifier.
//! Placeholders are matched leftmost first and never overlap, as `re.finditer` does. The
//! two alternatives start with different characters and no part of either can extend into
//! the next, so a direct scanner gives the same matches as a backtracking regex; a regex
//! engine would add a dependency and compile time for nothing.
//!
//! The scanner works on `char`s and reports `char` offsets, because the binding slices the
//! original Python string by code point (a template may even hold lone surrogates).

/// One placeholder: `text[start..end]` as written, `text[name_start..name_end]` its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placeholder {
    pub start: usize,
    pub end: usize,
    pub name_start: usize,
    pub name_end: usize,
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\u{0c}' | '\u{0b}')
}

/// End of the ASCII identifier starting at `at`, or None if none starts there.
fn name_end(text: &[char], at: usize) -> Option<usize> {
    match text.get(at) {
        Some(c) if c.is_ascii_alphabetic() || *c == '_' => {}
        _ => return None,
    }
    let tail = text[at + 1..]
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric() || **c == '_')
        .count();
    Some(at + 1 + tail)
}

fn skip_space(text: &[char], mut at: usize) -> usize {
    while text.get(at).is_some_and(|&c| is_space(c)) {
        at += 1;
    }
    at
}

/// The placeholder starting exactly at `start`, if one does.
fn placeholder_at(text: &[char], start: usize) -> Option<Placeholder> {
    match text.get(start) {
        Some('{') if text.get(start + 1) == Some(&'{') => {
            let name_start = skip_space(text, start + 2);
            let name_end = name_end(text, name_start)?;
            let close = skip_space(text, name_end);
            (text.get(close) == Some(&'}') && text.get(close + 1) == Some(&'}')).then_some(
                Placeholder {
                    start,
                    end: close + 2,
                    name_start,
                    name_end,
                },
            )
        }
        Some('[') => {
            let name_end = name_end(text, start + 1)?;
            (text.get(name_end) == Some(&']')).then_some(Placeholder {
                start,
                end: name_end + 1,
                name_start: start + 1,
                name_end,
            })
        }
        _ => None,
    }
}

/// Every placeholder of `text`, left to right, non-overlapping.
pub fn placeholders(text: &[char]) -> Vec<Placeholder> {
    let mut found = Vec::new();
    let mut at = 0;
    while at < text.len() {
        match placeholder_at(text, at) {
            Some(placeholder) => {
                at = placeholder.end;
                found.push(placeholder);
            }
            None => at += 1,
        }
    }
    found
}

/// Renders `text` with `lookup(name)` for each placeholder; `None` leaves it as written.
/// The pure-Rust form of the substitution, for tests and Rust callers.
pub fn render<'a>(text: &str, mut lookup: impl FnMut(&str) -> Option<&'a str>) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut end = 0;
    for p in placeholders(&chars) {
        out.extend(&chars[end..p.start]);
        let name: String = chars[p.name_start..p.name_end].iter().collect();
        match lookup(&name) {
            Some(value) => out.push_str(value),
            None => out.extend(&chars[p.start..p.end]),
        }
        end = p.end;
    }
    out.extend(&chars[end..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(text: &str) -> Vec<String> {
        let chars: Vec<char> = text.chars().collect();
        placeholders(&chars)
            .iter()
            .map(|p| chars[p.start..p.end].iter().collect())
            .collect()
    }

    fn vars(name: &str) -> Option<&'static str> {
        match name {
            "a" => Some("1"),
            "who" => Some("{{ a }} [a]"),
            _ => None,
        }
    }

    #[test]
    fn both_forms_with_optional_space_in_braces() {
        assert_eq!(
            names("{{a}} {{ a }} {{\t_b9 \n}} [c] [ c] {{ a b }} {{1}} [é]"),
            vec!["{{a}}", "{{ a }}", "{{\t_b9 \n}}", "[c]"]
        );
    }

    #[test]
    fn leftmost_non_overlapping_like_re() {
        assert_eq!(names("{{{a}}}"), vec!["{{a}}"]);
        assert_eq!(names("[[a]]"), vec!["[a]"]);
        assert_eq!(names("{{ [a] }}"), vec!["[a]"]);
        assert_eq!(
            names("[a][b]{{c}}{{d}}"),
            vec!["[a]", "[b]", "{{c}}", "{{d}}"]
        );
        assert!(names("{{ a }").is_empty() && names("{ {a}}").is_empty() && names("").is_empty());
    }

    #[test]
    fn values_are_not_rescanned_and_missing_names_stay() {
        assert_eq!(render("x={{ a }}, [who]!", vars), "x=1, {{ a }} [a]!");
        assert_eq!(
            render("{{ gone }} [gone] ünï", vars),
            "{{ gone }} [gone] ünï"
        );
    }
}
