//! The cardholder's name as the hosted page accepts it: letters of the Latin and Cyrillic
//! alphabets (Kazakh's Ә Ғ Қ Ң Ө Ұ Ү Һ І among them), with spaces, hyphens, apostrophes and
//! dots between them, up to 64 characters. form.js checks the same rule as the shopper types
//! (`holderValid`); the API's `name` stays free text, as ePay's is (docs/compatibility.md, issue 19).

/// Why a typed name is refused: each has its own message (i18n `empty_holder`, `bad_holder`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HolderProblem {
    Empty,
    NotLetters,
}

/// The longest name the form takes (its `maxlength`).
const MAX_CHARS: usize = 64;

/// The name, trimmed, if the page accepts it.
pub fn check(typed: &str) -> Result<&str, HolderProblem> {
    let name = typed.trim();
    let mut chars = name.chars();
    match chars.next() {
        None => Err(HolderProblem::Empty),
        Some(first) if letter(first) && name.chars().count() <= MAX_CHARS && chars.all(allowed) => Ok(name),
        Some(_) => Err(HolderProblem::NotLetters),
    }
}

/// A Latin letter (ASCII), or a letter of the Cyrillic block: Russian's and Kazakh's (Ә U+04D8,
/// Ғ U+0492, Қ U+049A, Ң U+04A2, Ө U+04E8, Ұ U+04B0, Ү U+04AE, Һ U+04BA, І U+0406) alike.
fn letter(c: char) -> bool {
    c.is_ascii_alphabetic() || (('\u{0400}'..='\u{04FF}').contains(&c) && c.is_alphabetic())
}

fn allowed(c: char) -> bool {
    letter(c) || matches!(c, ' ' | '-' | '\'' | '’' | '.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin_russian_and_kazakh_names_pass() {
        for name in [
            "ARMAN ALI",
            "Арман Әли",
            "Ғалым Құдайберген",
            "Нұрлан Үсенов",
            "Һәкім Іңкәр-Өмір",
            "O'Neil J. Smith",
            "Д’Артаньян",
        ] {
            assert_eq!(check(&format!("  {name} ")), Ok(name), "{name}");
        }
    }

    #[test]
    fn digits_symbols_other_scripts_and_empty_names_are_refused() {
        assert_eq!(check("   "), Err(HolderProblem::Empty));
        for name in
            ["ARMAN 1", "-ARMAN", ".Ali", "Arman@Ali", "Ἀλέξανδρος", "李雷", "Arman\u{0301}", "A".repeat(65).as_str()]
        {
            assert_eq!(check(name), Err(HolderProblem::NotLetters), "{name}");
        }
        assert!(check(&"Ә".repeat(64)).is_ok(), "64 characters, not bytes");
    }
}
