//! go.mod: a parser for what provgraph sends (module path, go version,
//! requirements direct and indirect, after replace directives).

use std::collections::BTreeSet;

/// What a go.mod says, requirements as `path@version` after its replace
/// directives.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GoMod {
    /// The `module` path.
    pub module: Option<String>,
    /// The `go` directive.
    pub go_version: Option<String>,
    /// Direct requirements, `path@version`.
    pub requires: Vec<String>,
    /// Requirements marked `// indirect`, `path@version`.
    pub indirect: Vec<String>,
    /// Requirements replaced by a local directory, `path@version` as required.
    pub replaced_locally: Vec<String>,
}

/// Why a go.mod could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GoModError {
    /// The file is not UTF-8 text.
    #[error("not UTF-8 text")]
    NotText,
    /// A line that breaks the syntax, with its number (from 1).
    #[error("line {line}: {problem}")]
    Line { line: usize, problem: LineProblem },
    /// A `require (` (or other) block without its `)`.
    #[error("{verb} ( block is not closed")]
    Unclosed { verb: String },
}

/// What is wrong with one go.mod line.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LineProblem {
    /// A `"` without its closing `"`.
    #[error("unterminated quoted string")]
    UnterminatedQuoted,
    /// A `` ` `` without its closing `` ` ``.
    #[error("unterminated raw string")]
    UnterminatedRaw,
    /// `(` or `)` where no block opens or closes.
    #[error("unexpected {0:?}")]
    Unexpected(String),
    /// A directive with the wrong number of words: its usage.
    #[error("usage: {0}")]
    Usage(&'static str),
    /// `replace X => Y` where Y is neither versioned nor a directory.
    #[error("replacement {0} has no version and is not a directory path (./ ../ /)")]
    NoVersion(String),
    /// `replace X => ./dir v1`: a directory has no version.
    #[error("replacement directory {0} cannot have a version")]
    DirectoryWithVersion(String),
}

#[derive(Debug)]
struct Require {
    path: String,
    version: String,
    indirect: bool,
}

#[derive(Debug)]
struct Replace {
    old: String,
    old_version: Option<String>,
    new: ReplaceTarget,
}

#[derive(Debug)]
enum ReplaceTarget {
    Module(String, String),
    /// A local directory: the module keeps its required version.
    Directory,
}

/// Go's rule (modfile.IsDirectoryPath): a replacement is a directory when it
/// is a relative (`./`, `../`) or absolute path.
fn is_directory_path(path: &str) -> bool {
    path == "."
        || path == ".."
        || path.starts_with("./")
        || path.starts_with("../")
        || path.starts_with('/')
        || path.starts_with(".\\")
        || path.starts_with("..\\")
        || path.starts_with('\\')
        || (path.len() > 2
            && path.as_bytes()[1] == b':'
            && path.as_bytes()[0].is_ascii_alphabetic())
}

/// Splits one go.mod line into tokens and its `//` comment: words, quoted
/// strings (`"..."`, `` `...` ``), `(`, `)` and `=>`.
fn tokenize(line: &str) -> Result<(Vec<String>, Option<String>), LineProblem> {
    let mut tokens = Vec::new();
    let mut chars = line.char_indices().peekable();
    let mut word = String::new();
    let flush = |word: &mut String, tokens: &mut Vec<String>| {
        if !word.is_empty() {
            tokens.push(std::mem::take(word));
        }
    };
    while let Some((at, c)) = chars.next() {
        match c {
            '/' if line[at..].starts_with("//") => {
                flush(&mut word, &mut tokens);
                return Ok((tokens, Some(line[at + 2..].to_string())));
            }
            c if c.is_whitespace() => flush(&mut word, &mut tokens),
            '(' | ')' => {
                flush(&mut word, &mut tokens);
                tokens.push(c.to_string());
            }
            '=' if line[at..].starts_with("=>") => {
                flush(&mut word, &mut tokens);
                chars.next();
                tokens.push("=>".to_string());
            }
            '"' => {
                let mut value = String::new();
                let mut closed = false;
                while let Some((_, c)) = chars.next() {
                    match c {
                        '\\' => match chars.next() {
                            Some((_, escaped)) => value.push(escaped),
                            None => break,
                        },
                        '"' => {
                            closed = true;
                            break;
                        }
                        c => value.push(c),
                    }
                }
                if !closed {
                    return Err(LineProblem::UnterminatedQuoted);
                }
                word.push_str(&value);
            }
            '`' => {
                let mut value = String::new();
                let mut closed = false;
                for (_, c) in chars.by_ref() {
                    if c == '`' {
                        closed = true;
                        break;
                    }
                    value.push(c);
                }
                if !closed {
                    return Err(LineProblem::UnterminatedRaw);
                }
                word.push_str(&value);
            }
            c => word.push(c),
        }
    }
    flush(&mut word, &mut tokens);
    Ok((tokens, None))
}

/// Go's rule (modfile isIndirect): the comment is `indirect`, or starts with `indirect;`.
fn is_indirect(comment: Option<&str>) -> bool {
    let Some(comment) = comment else {
        return false;
    };
    let words: Vec<&str> = comment.split_whitespace().collect();
    (words.len() == 1 && words[0] == "indirect") || (words.len() > 1 && words[0] == "indirect;")
}

/// Parses a go.mod: `module`, `go`, `require` (blocks and single lines,
/// `// indirect`), `replace` (with or without a version on the left; a module
/// version or a local directory on the right); `exclude`, `retract`,
/// `toolchain`, `godebug`, `tool`, `ignore` and unknown directives are
/// skipped. Errors name the line.
pub fn parse_go_mod(text: &str) -> Result<GoMod, GoModError> {
    let mut module = None;
    let mut go_version = None;
    let mut requires: Vec<Require> = Vec::new();
    let mut replaces: Vec<Replace> = Vec::new();
    let mut block: Option<String> = None;
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let at = |problem: LineProblem| GoModError::Line {
            line: number,
            problem,
        };
        let (tokens, comment) = tokenize(line).map_err(at)?;
        if tokens.is_empty() {
            continue;
        }
        let (verb, args): (String, &[String]) = match &block {
            Some(verb) => {
                if tokens.len() == 1 && tokens[0] == ")" {
                    block = None;
                    continue;
                }
                (verb.clone(), &tokens[..])
            }
            None => {
                if tokens[0] == ")" || tokens[0] == "(" {
                    return Err(at(LineProblem::Unexpected(tokens[0].clone())));
                }
                if tokens.len() == 2 && tokens[1] == "(" {
                    block = Some(tokens[0].clone());
                    continue;
                }
                (tokens[0].clone(), &tokens[1..])
            }
        };
        match verb.as_str() {
            "module" => match args {
                [path] => module = Some(path.clone()),
                _ => return Err(at(LineProblem::Usage("module PATH"))),
            },
            "go" => match args {
                [version] => go_version = Some(version.clone()),
                _ => return Err(at(LineProblem::Usage("go 1.N"))),
            },
            "require" => match args {
                [path, version] => requires.push(Require {
                    path: path.clone(),
                    version: version.clone(),
                    indirect: is_indirect(comment.as_deref()),
                }),
                _ => return Err(at(LineProblem::Usage("require PATH VERSION"))),
            },
            "replace" => {
                let usage = || at(LineProblem::Usage("replace OLD [VERSION] => NEW [VERSION]"));
                let arrow = args.iter().position(|t| t == "=>").ok_or_else(usage)?;
                let (left, right) = (&args[..arrow], &args[arrow + 1..]);
                let (old, old_version) = match left {
                    [old] => (old.clone(), None),
                    [old, version] => (old.clone(), Some(version.clone())),
                    _ => return Err(usage()),
                };
                let new = match right {
                    [dir] if is_directory_path(dir) => ReplaceTarget::Directory,
                    [path] => return Err(at(LineProblem::NoVersion(path.clone()))),
                    [dir, _] if is_directory_path(dir) => {
                        return Err(at(LineProblem::DirectoryWithVersion(dir.clone())));
                    }
                    [path, version] => ReplaceTarget::Module(path.clone(), version.clone()),
                    _ => return Err(usage()),
                };
                replaces.push(Replace {
                    old,
                    old_version,
                    new,
                });
            }
            // Not requirements: skipped on purpose (exclude, retract,
            // toolchain, godebug, tool, ignore) like any directive Go may add.
            _ => {}
        }
    }
    if let Some(verb) = block {
        return Err(GoModError::Unclosed { verb });
    }
    let mut mod_file = GoMod {
        module,
        go_version,
        ..GoMod::default()
    };
    let mut seen = BTreeSet::new();
    for require in requires {
        // A replace naming the version wins over one for all versions.
        let replace = replaces
            .iter()
            .rev()
            .find(|r| r.old == require.path && r.old_version.as_deref() == Some(&require.version))
            .or_else(|| {
                replaces
                    .iter()
                    .rev()
                    .find(|r| r.old == require.path && r.old_version.is_none())
            });
        let original = format!("{}@{}", require.path, require.version);
        let key = match replace.map(|r| &r.new) {
            Some(ReplaceTarget::Module(path, version)) => format!("{path}@{version}"),
            Some(ReplaceTarget::Directory) => {
                mod_file.replaced_locally.push(original.clone());
                original
            }
            None => original,
        };
        if !seen.insert(key.clone()) {
            continue;
        }
        if require.indirect {
            mod_file.indirect.push(key);
        } else {
            mod_file.requires.push(key);
        }
    }
    Ok(mod_file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_mod_requires_blocks_single_lines_and_indirect() {
        let text = r#"
// The calculator.
module github.com/acme/calc // deprecated? no

go 1.22.1

toolchain go1.22.3

require github.com/spf13/cobra v1.8.0

require (
	golang.org/x/sync v0.7.0
	github.com/inconshreveable/mousetrap v1.1.0 // indirect
	github.com/spf13/pflag v1.0.5 // indirect; used by cobra
	gopkg.in/yaml.v3 v3.0.1 // not indirect
	"github.com/quoted/mod" v0.1.0
)

require github.com/single/indirect v0.2.0 // indirect

exclude github.com/spf13/cobra v1.7.0
exclude (
	golang.org/x/sync v0.6.0
)
retract [v0.1.0, v0.1.5]
retract (
	v0.0.1 // broken
)
godebug default=go1.21
"#;
        let go_mod = parse_go_mod(text).unwrap();
        assert_eq!(go_mod.module.as_deref(), Some("github.com/acme/calc"));
        assert_eq!(go_mod.go_version.as_deref(), Some("1.22.1"));
        assert_eq!(
            go_mod.requires,
            vec![
                "github.com/spf13/cobra@v1.8.0",
                "golang.org/x/sync@v0.7.0",
                "gopkg.in/yaml.v3@v3.0.1",
                "github.com/quoted/mod@v0.1.0",
            ]
        );
        assert_eq!(
            go_mod.indirect,
            vec![
                "github.com/inconshreveable/mousetrap@v1.1.0",
                "github.com/spf13/pflag@v1.0.5",
                "github.com/single/indirect@v0.2.0",
            ]
        );
        assert!(go_mod.replaced_locally.is_empty());
    }

    #[test]
    fn go_mod_replace_with_version_without_version_and_local_path() {
        let text = r#"module example.com/app
go 1.21
require (
	example.com/a v1.0.0
	example.com/b v1.2.0
	example.com/b2 v1.3.0
	example.com/c v0.3.0 // indirect
	example.com/d v0.4.0
)
replace example.com/a v1.0.0 => example.com/a-fork v1.0.1
replace example.com/a v0.9.0 => example.com/never v9.9.9
replace (
	example.com/b => example.com/b-fork v1.2.1
	example.com/b2 v1.3.0 => example.com/b2-exact v1.3.1
	example.com/b2 => example.com/b2-any v0.0.1
	example.com/c => ../c
)
replace example.com/d => /abs/d
"#;
        let go_mod = parse_go_mod(text).unwrap();
        assert_eq!(
            go_mod.requires,
            vec![
                "example.com/a-fork@v1.0.1",
                "example.com/b-fork@v1.2.1",
                "example.com/b2-exact@v1.3.1",
                "example.com/d@v0.4.0",
            ]
        );
        assert_eq!(go_mod.indirect, vec!["example.com/c@v0.3.0"]);
        assert_eq!(
            go_mod.replaced_locally,
            vec!["example.com/c@v0.3.0", "example.com/d@v0.4.0"]
        );
    }

    #[test]
    fn go_mod_errors_name_the_line() {
        let line = |line, problem| GoModError::Line { line, problem };
        let err = parse_go_mod("module a\nrequire example.com/x\n").unwrap_err();
        assert_eq!(err.to_string(), "line 2: usage: require PATH VERSION");
        assert_eq!(
            parse_go_mod("module a\nreplace x => y\n").unwrap_err(),
            line(2, LineProblem::NoVersion("y".into()))
        );
        let err = parse_go_mod("module a\nreplace x => y\n").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("line 2: replacement y has no version"),
            "{err}"
        );
        assert_eq!(
            parse_go_mod("module a\nreplace x => ./y v1.0.0\n").unwrap_err(),
            line(2, LineProblem::DirectoryWithVersion("./y".into()))
        );
        assert_eq!(
            parse_go_mod("module a\nreplace x v1 v2\n").unwrap_err(),
            line(
                2,
                LineProblem::Usage("replace OLD [VERSION] => NEW [VERSION]")
            )
        );
        let err = parse_go_mod("module a\nrequire (\n x v1.0.0\n").unwrap_err();
        assert_eq!(
            err,
            GoModError::Unclosed {
                verb: "require".into()
            }
        );
        assert_eq!(err.to_string(), "require ( block is not closed");
        assert_eq!(
            parse_go_mod("module \"a\n").unwrap_err(),
            line(1, LineProblem::UnterminatedQuoted)
        );
        assert_eq!(
            parse_go_mod("go 1.22\nmodule `a\n").unwrap_err(),
            line(2, LineProblem::UnterminatedRaw)
        );
        let err = parse_go_mod(")\n").unwrap_err();
        assert_eq!(err, line(1, LineProblem::Unexpected(")".into())));
        assert_eq!(err.to_string(), "line 1: unexpected \")\"");
    }

    #[test]
    fn go_mod_comments_only_and_empty() {
        let go_mod = parse_go_mod("// nothing here\n\n").unwrap();
        assert_eq!(go_mod, GoMod::default());
        // `//` inside a quoted path is not a comment.
        let go_mod = parse_go_mod("module \"example.com/a//b\" // c\n").unwrap();
        assert_eq!(go_mod.module.as_deref(), Some("example.com/a//b"));
    }
}
