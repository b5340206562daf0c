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
    /// Function name (see `key`) -> its library's name.
    pub index: HashMap<Vec<u8>, Vec<u8>>,
}

/// Function names are case-insensitive (Redis's functions dictionary
/// compares them so): the key they are found by.
pub fn key(name: &[u8]) -> Vec<u8> {
    name.to_ascii_lowercase()
}

impl Libraries {
    pub fn function(&self, name: &[u8]) -> Option<&FunctionInfo> {
        let lib = self.libs.get(self.index.get(&key(name))?)?;
        lib.functions
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name))
    }

    pub fn has_function(&self, name: &[u8]) -> bool {
        self.index.contains_key(&key(name))
    }

    pub fn function_count(&self) -> usize {
        self.index.len()
    }

    /// Takes a library out, with its functions' names.
    pub fn unlink(&mut self, name: &[u8]) -> Option<Library> {
        let lib = self.libs.remove(name)?;
        for f in &lib.functions {
            self.index.remove(&key(&f.name));
        }
        Some(lib)
    }

    pub fn link(&mut self, lib: Library) {
        for f in &lib.functions {
            self.index.insert(key(&f.name), lib.name.clone());
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
    // Split as Redis's sdssplitargs: `name="foo"` names foo.
    let Some(parts) = resp::parse::split_line(&code[..end]) else {
        return Err("Invalid library metadata".into());
    };
    let mut parts = parts.into_iter();
    let Some(engine) = parts.next() else {
        return Err("Invalid library metadata".into());
    };
    let mut name: Option<Vec<u8>> = None;
    for part in parts {
        if part.len() >= 5 && part[..5].eq_ignore_ascii_case(b"name=") {
            if name.is_some() {
                return Err(
                    "Invalid metadata value, name argument was given multiple times".into(),
                );
            }
            name = Some(part[5..].to_vec());
            continue;
        }
        return Err(format!(
            "Invalid metadata value given: {}",
            String::from_utf8_lossy(&part)
        ));
    }
    let Some(name) = name else {
        return Err("Library name was not given".into());
    };
    Ok((
        String::from_utf8_lossy(&engine[2..]).into_owned(),
        name,
        end,
    ))
}
