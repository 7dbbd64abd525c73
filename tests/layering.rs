//! The house's dependency rule (STYLE.md): `io/` never imports the
//! translator host. Packet buffers live in `packet.rs` so that it need
//! not. This reads the sources, since the compiler has no such check.

use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`, recursively.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let p = e.expect("directory entry").path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Byte offsets of `word` as a whole identifier in `code`.
fn word_at(code: &str, word: &str) -> Vec<usize> {
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let b = code.as_bytes();
    code.match_indices(word)
        .map(|(i, _)| i)
        .filter(|&i| (i == 0 || !ident(b[i - 1])) && b.get(i + word.len()).is_none_or(|&c| !ident(c)))
        .collect()
}

#[test]
fn io_imports_nothing_from_translate() {
    let io = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/io");
    let mut files = Vec::new();
    sources(&io, &mut files);
    assert!(files.len() >= 5, "expected the io/ backends under {}, found {files:?}", io.display());
    let mut hits = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        for (n, line) in text.lines().enumerate() {
            // Comments may name the translator host; code may not.
            let code = line.split("//").next().unwrap_or("");
            if !word_at(code, "translate").is_empty() {
                hits.push(format!("{}:{}: {}", f.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(hits.is_empty(), "io/ must not import translate/ (use crate::packet):\n{}", hits.join("\n"));
}

#[test]
fn the_check_sees_an_import() {
    // The matcher itself: a path through `translate` is found, other words are not.
    assert_eq!(word_at("use crate::translate::PacketBuf;", "translate"), vec![11]);
    assert_eq!(word_at("use crate::{translate, packet};", "translate"), vec![12]);
    assert!(word_at("let translated = translate_all;", "translate").is_empty());
}
