//! Input validation shared by handlers: emails, names, free text, tags.
//!
//! Owns: the rules for what text the API accepts. Must never: accept control characters in
//! names, unbounded lengths, or text that is not NFC-stable enough to compare (names are
//! trimmed; bidi overrides and other format characters are refused in names).

use crate::error::{ApiError, ApiResult};

/// Longest timeline text, in characters.
pub const MAX_TEXT_CHARS: usize = 4000;

fn bad_char(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{200B}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}')
}

/// A lowercased, syntactically plausible email address.
pub fn email(raw: &str) -> ApiResult<String> {
    let e = raw.trim().to_lowercase();
    let bad = || ApiError::invalid("invalid_email", "not a valid email address");
    if e.len() > 254 || e.chars().any(|c| c.is_whitespace() || bad_char(c)) {
        return Err(bad());
    }
    let (local, domain) = e.rsplit_once('@').ok_or_else(bad)?;
    if local.is_empty()
        || local.len() > 64
        || local.contains('@')
        || domain.len() < 3
        || !domain.contains('.')
        || domain.contains('@')
    {
        return Err(bad());
    }
    if domain.starts_with('.') || domain.ends_with('.') || domain.contains("..") {
        return Err(bad());
    }
    Ok(e)
}

/// A trimmed short text (names) of 1..=`max` characters without control or format
/// characters.
pub fn short_text(raw: &str, max: usize, field: &'static str) -> ApiResult<String> {
    let t = raw.trim();
    let n = t.chars().count();
    if n == 0 || n > max {
        return Err(ApiError::invalid(
            "invalid_field",
            format!("{field} must have 1 to {max} characters"),
        ));
    }
    if t.chars().any(bad_char) {
        return Err(ApiError::invalid(
            "invalid_field",
            format!("{field} contains control or format characters"),
        ));
    }
    Ok(t.to_owned())
}

/// A display name.
pub fn display_name(raw: &str) -> ApiResult<String> {
    short_text(raw, 64, "display_name")
}

/// Timeline text: 1..=MAX_TEXT_CHARS characters; newlines and tabs allowed, other controls not.
pub fn text(raw: &str) -> ApiResult<String> {
    let n = raw.chars().count();
    if raw.trim().is_empty() || n > MAX_TEXT_CHARS {
        return Err(ApiError::invalid(
            "invalid_field",
            format!("text must have 1 to {MAX_TEXT_CHARS} characters"),
        ));
    }
    if raw
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(ApiError::invalid(
            "invalid_field",
            "text contains control characters",
        ));
    }
    Ok(raw.to_owned())
}

/// A tag: 1..=64 letters, digits or `_`/`-` (any script), lowercased, without `#`.
pub fn tag(raw: &str) -> ApiResult<String> {
    let t = raw.trim().trim_start_matches('#').to_lowercase();
    let n = t.chars().count();
    if n == 0 || n > 64 || !t.chars().all(is_tag_char) {
        return Err(ApiError::invalid(
            "invalid_tag",
            "a tag has 1 to 64 letters, digits, '_' or '-'",
        ));
    }
    Ok(t)
}

fn is_tag_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '-'
}

/// The distinct `#tags` in a text, lowercased, at most 32.
pub fn tags_in(text: &str) -> Vec<String> {
    words_after(text, '#')
}

/// The distinct `@mentions` in a text, lowercased, at most 32.
pub fn mentions_in(text: &str) -> Vec<String> {
    words_after(text, '@')
}

fn words_after(text: &str, sigil: char) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut prev: Option<char> = None;
    for (i, c) in text.char_indices() {
        let boundary = prev.is_none_or(|p| !is_tag_char(p) && p != sigil);
        prev = Some(c);
        if c != sigil || !boundary {
            continue;
        }
        let rest = text.get(i + c.len_utf8()..).unwrap_or("");
        let word: String = rest
            .chars()
            .take_while(|c| is_tag_char(*c))
            .take(65)
            .collect();
        if !word.is_empty() && word.chars().count() <= 64 {
            let w = word.to_lowercase();
            if !out.contains(&w) && out.len() < 32 {
                out.push(w);
            }
        }
    }
    out
}

/// serde helper: distinguishes an absent field (`None`) from an explicit `null`
/// (`Some(None)`).
pub mod double_option {
    use serde::{Deserialize, Deserializer};

    /// Deserialises a present field, null or not.
    pub fn deserialize<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de>,
    {
        Option::<T>::deserialize(d).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_and_mentions_are_extracted_once_lowercased() {
        assert_eq!(
            tags_in("ship #Release today #release and #bug-42, not a#b"),
            vec!["release", "bug-42"]
        );
        assert_eq!(
            mentions_in("hi @Ana and @bob.; mail x@y.z"),
            vec!["ana", "bob"]
        );
        assert_eq!(tags_in("#日本語 #émoji"), vec!["日本語", "émoji"]);
        assert!(tags_in("# #").is_empty());
    }

    #[test]
    fn names_refuse_controls_and_bidi_overrides() {
        assert!(display_name("  Ana ").is_ok());
        assert!(display_name("a\u{202E}b").is_err());
        assert!(display_name("a\u{0000}").is_err());
        assert!(display_name("").is_err());
        assert!(display_name(&"x".repeat(65)).is_err());
        assert_eq!(display_name("👩‍👩‍👧").unwrap(), "👩‍👩‍👧");
    }

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(email(" Ana@Example.ORG ").unwrap(), "ana@example.org");
        for bad in [
            "", "a", "a@b", "@x.y", "a@@x.y", "a b@x.y", "a@x..y", "a@.x.y",
        ] {
            assert!(email(bad).is_err(), "{bad}");
        }
    }
}
