//! The source's structure, checked: every stage imports only stages below it (data → model →
//! run → infer / train → metrics → cv → report → cli, with the shared helpers at the bottom), and no
//! two source files import each other, directly or around a loop. Test modules are left out:
//! tests may reach anywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level modules by layer: a module may import only from lower layers (and within itself).
const LAYERS: &[(&str, usize)] = &[
    ("error", 0),
    ("util", 1),
    ("data", 2),
    ("plot", 3),
    ("kernels", 3),
    ("backend", 4),
    ("model", 5),
    ("run", 6),
    ("infer", 7),
    ("train", 8),
    ("metrics", 9),
    ("cv", 10),
    ("report", 11),
    ("bench", 11),
    ("cli", 12),
];

type Module = Vec<String>;

fn module_of(src: &Path, file: &Path) -> Module {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Module = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The source without comments and without inline `#[cfg(test)] mod x { … }` blocks.
fn code_of(text: &str) -> String {
    let no_comments: String = text
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = String::new();
    let mut rest = no_comments.as_str();
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let after = &rest[at + "#[cfg(test)]".len()..];
        let trimmed = after.trim_start();
        let is_block = (trimmed.starts_with("mod ") || trimmed.starts_with("pub(crate) mod "))
            && trimmed.split(';').next().is_some_and(|h| h.contains('{'));
        if !is_block {
            rest = after;
            continue;
        }
        let open = after.find('{').unwrap();
        let mut depth = 0;
        let mut end = after.len();
        for (i, c) in after[open..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = open + i + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// Child modules declared with `mod x;` (with their `#[path]` file, if any) and which are tests.
fn declared_children(code: &str, raw: &str) -> Vec<(String, Option<String>, bool)> {
    let mut out = Vec::new();
    let lines: Vec<&str> = raw.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim();
        let t = t
            .strip_prefix("pub(crate) ")
            .or_else(|| t.strip_prefix("pub "))
            .unwrap_or(t);
        let Some(name) = t.strip_prefix("mod ").and_then(|r| r.strip_suffix(';')) else {
            continue;
        };
        let attrs: Vec<&str> = lines[..i]
            .iter()
            .rev()
            .take_while(|l| l.trim().starts_with("#["))
            .map(|l| l.trim())
            .collect();
        let is_test = attrs.iter().any(|a| *a == "#[cfg(test)]");
        let path = attrs
            .iter()
            .find_map(|a| {
                a.strip_prefix("#[path = \"")
                    .and_then(|r| r.strip_suffix("\"]"))
            })
            .map(str::to_string);
        let _ = code;
        out.push((name.trim().to_string(), path, is_test));
    }
    out
}

/// Every path the code names with `crate::`, `super::`, `self::` or a child module, as module
/// paths from the crate root (items included; resolved to files later).
fn named_paths(code: &str, me: &Module, children: &BTreeSet<String>) -> Vec<Module> {
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut i = 0;
    while i < bytes.len() {
        if !ident(bytes[i]) || (i > 0 && (ident(bytes[i - 1]) || bytes[i - 1] == b':')) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && ident(bytes[i]) {
            i += 1;
        }
        let first = &code[start..i];
        let base: Option<Module> = match first {
            "crate" => Some(vec![]),
            "self" => Some(me.clone()),
            "super" => Some(me[..me.len().saturating_sub(1)].to_vec()),
            c if children.contains(c) => Some(vec![]),
            _ => None,
        };
        let Some(mut base) = base else { continue };
        if children.contains(first) {
            base = me.clone();
            base.push(first.to_string());
        }
        // Follow `::seg::seg` and `::{a, b::c}` (a bare name, e.g. a variable, names nothing).
        if !code[i..].starts_with("::") {
            continue;
        }
        let mut segs = base;
        loop {
            if !code[i..].starts_with("::") {
                break;
            }
            i += 2;
            if code[i..].starts_with('{') {
                let close = code[i..].find('}').map_or(code.len(), |c| i + c);
                for part in code[i + 1..close].split(',') {
                    let mut p = segs.clone();
                    let part = part.trim();
                    if part.is_empty() || part == "self" {
                        continue;
                    }
                    p.extend(
                        part.split(" as ")
                            .next()
                            .unwrap()
                            .split("::")
                            .map(|s| s.trim().to_string()),
                    );
                    out.push(p);
                }
                i = close;
                segs.clear();
                break;
            }
            let s = i;
            while i < bytes.len() && ident(bytes[i]) {
                i += 1;
            }
            let seg = &code[s..i];
            if seg == "super" {
                segs.pop();
            } else if !seg.is_empty() {
                segs.push(seg.to_string());
            }
        }
        if !segs.is_empty() {
            out.push(segs);
        }
    }
    out
}

struct Crate {
    /// Module path → file, for every non-test module.
    files: BTreeMap<Module, PathBuf>,
    /// `#[path]` children: declared module path → the module path of the file it names.
    aliases: BTreeMap<Module, Module>,
    edges: BTreeMap<Module, BTreeSet<Module>>,
}

fn load() -> Crate {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut paths = Vec::new();
    rust_files(&src, &mut paths);
    let mut files = BTreeMap::new();
    let mut aliases = BTreeMap::new();
    let mut tests = BTreeSet::new();
    let mut texts = BTreeMap::new();
    for p in &paths {
        let m = module_of(&src, p);
        let raw = std::fs::read_to_string(p).unwrap();
        let code = code_of(&raw);
        for (name, path, is_test) in declared_children(&code, &raw) {
            let mut declared = m.clone();
            declared.push(name);
            let target = match path {
                Some(rel) => module_of(&src, &p.parent().unwrap().join(rel)),
                None => declared.clone(),
            };
            if target != declared {
                aliases.insert(declared.clone(), target.clone());
            }
            if is_test {
                tests.insert(target);
            }
        }
        files.insert(m.clone(), p.clone());
        texts.insert(m, (raw, code));
    }
    // A test module's own children are tests too.
    files.retain(|m, _| !tests.iter().any(|t| m.starts_with(t)));
    let mut krate = Crate {
        files,
        aliases,
        edges: BTreeMap::new(),
    };
    for (m, (raw, code)) in &texts {
        if !krate.files.contains_key(m) {
            continue;
        }
        let children: BTreeSet<String> = declared_children(code, raw)
            .into_iter()
            .map(|c| c.0)
            .collect();
        let mut targets = BTreeSet::new();
        for path in named_paths(code, m, &children) {
            if let Some(t) = krate.resolve(&path)
                && &t != m
                && !t.is_empty()
            {
                targets.insert(t);
            }
        }
        krate.edges.insert(m.clone(), targets);
    }
    krate
}

impl Crate {
    /// The file (as a module path) that a path names: its longest prefix that is a module.
    fn resolve(&self, path: &Module) -> Option<Module> {
        (0..=path.len()).rev().find_map(|n| {
            let p = path[..n].to_vec();
            self.aliases
                .get(&p)
                .cloned()
                .or_else(|| self.files.contains_key(&p).then_some(p))
        })
    }
}

fn layer(m: &Module) -> Option<usize> {
    let top = m.first()?;
    LAYERS.iter().find(|(n, _)| n == top).map(|(_, l)| *l)
}

#[test]
fn stages_import_only_downward() {
    let krate = load();
    let mut wrong = Vec::new();
    for (from, targets) in &krate.edges {
        for to in targets {
            if from.first() == to.first() {
                continue;
            }
            match (layer(from), layer(to)) {
                (Some(a), Some(b)) if b < a => {}
                (Some(_), Some(_)) => wrong.push(format!("{} -> {}", from.join("/"), to.join("/"))),
                _ => {}
            }
        }
    }
    assert!(
        krate.files.len() > 100 && krate.edges.values().map(BTreeSet::len).sum::<usize>() > 300,
        "the import graph was not read ({} files)",
        krate.files.len()
    );
    assert!(
        wrong.is_empty(),
        "imports running up or sideways:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn no_file_imports_itself_around_a_loop() {
    let krate = load();
    // Depth-first search for a back edge; report the loop it closes.
    let mut state: BTreeMap<&Module, u8> = BTreeMap::new();
    let mut loops = Vec::new();
    fn visit<'a>(
        m: &'a Module,
        krate: &'a Crate,
        state: &mut BTreeMap<&'a Module, u8>,
        stack: &mut Vec<&'a Module>,
        loops: &mut Vec<String>,
    ) {
        state.insert(m, 1);
        stack.push(m);
        for t in krate.edges.get(m).into_iter().flatten() {
            match state.get(t) {
                Some(1) => {
                    let at = stack.iter().position(|s| *s == t).unwrap();
                    let names: Vec<String> = stack[at..].iter().map(|s| s.join("/")).collect();
                    loops.push(format!("{} -> {}", names.join(" -> "), t.join("/")));
                }
                Some(_) => {}
                None => visit(t, krate, state, stack, loops),
            }
        }
        stack.pop();
        state.insert(m, 2);
    }
    for m in krate.files.keys() {
        if !state.contains_key(m) {
            visit(m, &krate, &mut state, &mut Vec::new(), &mut loops);
        }
    }
    assert!(loops.is_empty(), "import loops:\n{}", loops.join("\n"));
}
