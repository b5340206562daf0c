//! The libraries FUNCTION LOAD has loaded: what every thread may read
//! (FUNCTION LIST, STATS). Their Lua callbacks live in the script thread's
//! functions state (`engine::with_functions`).

use std::collections::{BTreeMap, HashMap};

/// A registered function, as FUNCTION LIST shows it.
pub struct FunctionInfo {
    pub name: Vec<u8>,
    pub description: Option<Vec<u8>>,
    pub flags: u32,
}

pub struct Library {
    pub name: Vec<u8>,
    /// The whole code given to FUNCTION LOAD, shebang line included.
    pub code: Vec<u8>,
    pub functions: Vec<FunctionInfo>,
}

#[derive(Default)]
pub struct Libraries {
    pub libs: BTreeMap<Vec<u8>, Library>,
    /// Function name -> its library's name.
    pub index: HashMap<Vec<u8>, Vec<u8>>,
}

impl Libraries {
    pub fn function(&self, name: &[u8]) -> Option<&FunctionInfo> {
        let lib = self.libs.get(self.index.get(name)?)?;
        lib.functions.iter().find(|f| f.name == name)
    }

    pub fn function_count(&self) -> usize {
        self.index.len()
    }

    /// Takes a library out, with its functions' names.
    pub fn unlink(&mut self, name: &[u8]) -> Option<Library> {
        let lib = self.libs.remove(name)?;
        for f in &lib.functions {
            self.index.remove(&f.name);
        }
        Some(lib)
    }

    pub fn link(&mut self, lib: Library) {
        for f in &lib.functions {
            self.index.insert(f.name.clone(), lib.name.clone());
        }
        self.libs.insert(lib.name.clone(), lib);
    }
}

/// Redis's `functionExtractLibMetaData`: the engine and the library name
/// of a `#!<engine> name=<name>` first line, and where the code after it
/// starts (its line feed kept, so line numbers stay the user's).
pub fn metadata(code: &[u8]) -> Result<(String, Vec<u8>, usize), String> {
    if !code.starts_with(b"#!") {
        return Err("Missing library metadata".into());
    }
    let Some(end) = memchr::memchr(b'\n', code) else {
        return Err("Invalid library metadata".into());
    };
    let line = String::from_utf8_lossy(&code[..end]);
    let mut parts = line.split_ascii_whitespace();
    let Some(engine) = parts.next() else {
        return Err("Invalid library metadata".into());
    };
    let mut name: Option<Vec<u8>> = None;
    for part in parts {
        if part.len() >= 5 && part[..5].eq_ignore_ascii_case("name=") {
            if name.is_some() {
                return Err(
                    "Invalid metadata value, name argument was given multiple times".into(),
                );
            }
            name = Some(part.as_bytes()[5..].to_vec());
            continue;
        }
        return Err(format!("Invalid metadata value given: {part}"));
    }
    let Some(name) = name else {
        return Err("Library name was not given".into());
    };
    Ok((engine[2..].to_string(), name, end))
}
