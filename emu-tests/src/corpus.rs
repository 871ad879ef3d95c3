//! Scenarios: the built-in corpus (embedded with include_dir, so the `tether` binary carries it)
//! or a directory on disk. A scenario is a directory holding `scenario.json` and its sources.

use crate::manifest::Manifest;
use include_dir::{include_dir, Dir};
use std::path::{Path, PathBuf};

static CORPUS: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/scenarios");

#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("scenario `{scenario}`: {file} is missing")]
    Missing { scenario: String, file: String },
    #[error("scenario `{scenario}`: {file}: {message}")]
    Invalid {
        scenario: String,
        file: String,
        message: String,
    },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A scenario: its name (the directory name), manifest and files (paths relative to it).
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub manifest: Manifest,
    pub files: Vec<(String, Vec<u8>)>,
}

/// Every built-in scenario, sorted by name.
pub fn corpus() -> Result<Vec<Scenario>, ScenarioError> {
    let mut scenarios = Vec::new();
    for dir in CORPUS.dirs() {
        let name = dir
            .path()
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut files = Vec::new();
        collect_embedded(dir, dir.path(), &mut files);
        scenarios.push(Scenario::from_files(name, files)?);
    }
    scenarios.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(scenarios)
}

fn collect_embedded(dir: &Dir<'static>, root: &Path, out: &mut Vec<(String, Vec<u8>)>) {
    for file in dir.files() {
        let rel = file.path().strip_prefix(root).unwrap_or(file.path());
        out.push((rel.to_string_lossy().into_owned(), file.contents().to_vec()));
    }
    for sub in dir.dirs() {
        collect_embedded(sub, root, out);
    }
}

impl Scenario {
    /// Reads a scenario directory from disk.
    pub fn load(dir: &Path) -> Result<Scenario, ScenarioError> {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| dir.display().to_string());
        let mut files = Vec::new();
        read_tree(dir, dir, &mut files)?;
        Scenario::from_files(name, files)
    }

    fn from_files(name: String, files: Vec<(String, Vec<u8>)>) -> Result<Scenario, ScenarioError> {
        let manifest_bytes = files
            .iter()
            .find(|(f, _)| f == "scenario.json")
            .map(|(_, b)| b)
            .ok_or_else(|| ScenarioError::Missing {
                scenario: name.clone(),
                file: "scenario.json".into(),
            })?;
        let manifest: Manifest =
            serde_json::from_slice(manifest_bytes).map_err(|e| ScenarioError::Invalid {
                scenario: name.clone(),
                file: "scenario.json".into(),
                message: e.to_string(),
            })?;
        let scenario = Scenario {
            name,
            manifest,
            files,
        };
        scenario.validate()?;
        Ok(scenario)
    }

    fn validate(&self) -> Result<(), ScenarioError> {
        let invalid = |message: String| ScenarioError::Invalid {
            scenario: self.name.clone(),
            file: "scenario.json".into(),
            message,
        };
        let mut known: Vec<&str> = Vec::new();
        let modules = self
            .manifest
            .libraries
            .iter()
            .chain(self.manifest.program.as_ref());
        for module in modules {
            for need in &module.needs {
                if !known.contains(&need.as_str()) {
                    return Err(invalid(format!(
                        "`{}` needs `{need}`, which is not a library listed before it",
                        module.name
                    )));
                }
            }
            let sources = module
                .sources
                .iter()
                .chain(module.arch_sources.values().flatten());
            for source in sources {
                if self.file(source.file()).is_none() {
                    return Err(invalid(format!(
                        "`{}` lists the source `{}`, which is not in the scenario",
                        module.name,
                        source.file()
                    )));
                }
            }
            known.push(&module.name);
        }
        self.validate_executables()?;
        for compiler in &self.manifest.compilers {
            if compiler != "gcc" && compiler != "clang" {
                return Err(invalid(format!("unknown compiler `{compiler}`")));
            }
        }
        for arch in &self.manifest.arches {
            if arch != "x86_64" && arch != "arm" {
                return Err(invalid(format!("unknown architecture `{arch}`")));
            }
        }
        if let Some(file) = &self.manifest.expect.stdout_file {
            if self.file(file).is_none() {
                return Err(invalid(format!(
                    "expect.stdout_file `{file}` is not in the scenario"
                )));
            }
        }
        Ok(())
    }

    /// What only the program, or only a library, may say about being an executable.
    fn validate_executables(&self) -> Result<(), ScenarioError> {
        let invalid = |message: String| ScenarioError::Invalid {
            scenario: self.name.clone(),
            file: "scenario.json".into(),
            message,
        };
        for library in &self.manifest.libraries {
            if library.kind.is_some() {
                return Err(invalid(format!(
                    "`{}` has a `kind`, which only the program has",
                    library.name
                )));
            }
        }
        if self
            .manifest
            .program
            .as_ref()
            .is_some_and(|p| p.runs_directly)
        {
            return Err(invalid(
                "the program has `runs_directly`, which only libraries have".into(),
            ));
        }
        if let Some(library) = self.manifest.libraries_run_directly().next() {
            if !self.manifest.runs_program_in_process() {
                return Err(invalid(format!(
                    "`{}` runs directly, so the scenario needs a program and no `calls` \
                     (every backend runs both executables)",
                    library.name
                )));
            }
        }
        let kind = self.manifest.program_kind();
        if let Some(program) = &self.manifest.program {
            if kind.is_static() && !program.needs.is_empty() {
                return Err(invalid(format!(
                    "a {} program cannot need shared libraries",
                    kind.name()
                )));
            }
        }
        Ok(())
    }

    /// A file of the scenario by relative path.
    pub fn file(&self, name: &str) -> Option<&[u8]> {
        self.files
            .iter()
            .find(|(f, _)| f == name)
            .map(|(_, b)| b.as_slice())
    }

    /// Replaces (or adds) a file: used to derive variants, e.g. a deliberately wrong expectation.
    pub fn set_file(&mut self, name: &str, contents: Vec<u8>) {
        match self.files.iter_mut().find(|(f, _)| f == name) {
            Some(entry) => entry.1 = contents,
            None => self.files.push((name.to_string(), contents)),
        }
    }

    /// The expected output, from `expect.stdout` or `expect.stdout_file`.
    pub fn expected_stdout(&self) -> Option<String> {
        let expect = &self.manifest.expect;
        if let Some(text) = &expect.stdout {
            return Some(text.clone());
        }
        let file = expect.stdout_file.as_ref()?;
        self.file(file)
            .map(|bytes| String::from_utf8_lossy(bytes).into_owned())
    }

    /// Writes every file of the scenario under `dir`.
    pub fn write_to(&self, dir: &Path) -> std::io::Result<()> {
        for (name, contents) in &self.files {
            let path = dir.join(name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(path, contents)?;
        }
        Ok(())
    }

    /// Names of the scenario's libraries (what init/fini orders and bindings are filtered to).
    pub fn library_names(&self) -> Vec<&str> {
        self.manifest
            .libraries
            .iter()
            .map(|m| m.name.as_str())
            .collect()
    }

    /// Names of every object the scenario builds: its libraries and its program.
    pub fn object_names(&self) -> Vec<&str> {
        let mut names = self.library_names();
        if let Some(program) = &self.manifest.program {
            names.push(&program.name);
        }
        names
    }
}

fn read_tree(
    root: &Path,
    dir: &Path,
    out: &mut Vec<(String, Vec<u8>)>,
) -> Result<(), ScenarioError> {
    let read_error = |path: &Path, source| ScenarioError::Read {
        path: path.to_path_buf(),
        source,
    };
    let entries = std::fs::read_dir(dir).map_err(|e| read_error(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| read_error(dir, e))?;
        let path = entry.path();
        if path.is_dir() {
            read_tree(root, &path, out)?;
        } else {
            let bytes = std::fs::read(&path).map_err(|e| read_error(&path, e))?;
            let rel = path.strip_prefix(root).unwrap_or(&path);
            out.push((rel.to_string_lossy().into_owned(), bytes));
        }
    }
    Ok(())
}
