//! Loading a translator: the bytes are checked against ABI v2 (module
//! shape, imports, exports and their signatures, the `fhgate.meta`
//! section), compiled once with Cranelift and turned into an
//! `InstancePre` from which every instance of it is made.
//!
//! Only WebAssembly binaries and WAT text are accepted: the host never
//! deserializes precompiled native code, so nothing from outside runs
//! without passing the validator and the compiler.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use wasmparser::{Parser, Payload};
use wasmtime::{ExternType, InstancePre, Module, ValType};

use super::engine::Runtime;
use super::host::{HostState, IMPORTS, IMPORT_MODULE};
use super::meta::{self, Metadata};

/// Why a translator was refused. Every variant names the item at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadError {
    /// The file could not be read.
    Io(String),
    /// Not a core WebAssembly module or WAT text (e.g. native code, a component).
    NotWasm(String),
    /// The module does not parse or validate.
    Invalid(String),
    /// `fhgate.meta` is missing, repeated or malformed.
    Meta(String),
    /// An import outside the ABI (`module.name`).
    ForbiddenImport {
        /// Import module.
        module: String,
        /// Import name.
        name: String,
        /// What it is (func, memory, …).
        kind: String,
    },
    /// An ABI import with another signature.
    ImportSignature {
        /// Import name.
        name: String,
        /// The module's signature.
        found: String,
        /// The ABI's.
        want: String,
    },
    /// A required export is missing.
    MissingExport(&'static str),
    /// An ABI export of the wrong kind or signature.
    ExportSignature {
        /// Export name.
        name: String,
        /// The module's type.
        found: String,
        /// The ABI's.
        want: String,
    },
    /// Cranelift could not compile it, or the linker refused it.
    Compile(String),
    /// Instantiation or init failed (see [`super::instance::InstanceError`]).
    Instance(String),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Io(e) => write!(f, "cannot read the module: {e}"),
            LoadError::NotWasm(e) => write!(f, "not a WebAssembly module: {e}"),
            LoadError::Invalid(e) => write!(f, "invalid WebAssembly: {e}"),
            LoadError::Meta(e) => write!(f, "metadata: {e}"),
            LoadError::ForbiddenImport { module, name, kind } => {
                write!(f, "forbidden import `{module}.{name}` ({kind}): ABI v2 allows only the {IMPORT_MODULE} functions log, counter_define, counter_add, now_ns, config_read and effect")
            }
            LoadError::ImportSignature { name, found, want } => {
                write!(f, "import `{IMPORT_MODULE}.{name}` has signature {found}, ABI v2 wants {want}")
            }
            LoadError::MissingExport(n) => write!(f, "missing export `{n}` required by ABI v2"),
            LoadError::ExportSignature { name, found, want } => write!(f, "export `{name}` has signature {found}, ABI v2 wants {want}"),
            LoadError::Compile(e) => write!(f, "does not compile: {e}"),
            LoadError::Instance(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for LoadError {}

/// The exports of ABI v2: name, params, results, required.
const EXPORTS: &[(&str, &[ValType], &[ValType], bool)] = {
    use wasmtime::ValType::I32;
    &[
        ("fhgate_abi_version", &[], &[I32], true),
        ("fhgate_io", &[], &[I32], true),
        ("fhgate_init", &[I32, I32], &[I32], true),
        ("fhgate_process", &[I32], &[I32], true),
        ("fhgate_unload", &[], &[], false),
    ]
};

fn sig(params: &[ValType], results: &[ValType]) -> String {
    let list = |v: &[ValType]| v.iter().map(|t| t.to_string()).collect::<Vec<_>>().join(" ");
    let mut s = String::from("(func");
    if !params.is_empty() {
        s += &format!(" (param {})", list(params));
    }
    if !results.is_empty() {
        s += &format!(" (result {})", list(results));
    }
    s + ")"
}

fn extern_desc(t: &ExternType) -> String {
    match t {
        ExternType::Func(f) => sig(&f.params().collect::<Vec<_>>(), &f.results().collect::<Vec<_>>()),
        ExternType::Memory(_) => "a memory".into(),
        ExternType::Table(_) => "a table".into(),
        ExternType::Global(_) => "a global".into(),
        ExternType::Tag(_) => "a tag".into(),
    }
}

fn same(a: impl ExactSizeIterator<Item = ValType>, b: &[ValType]) -> bool {
    a.len() == b.len() && a.zip(b).all(|(x, y)| ValType::eq(&x, y))
}

/// A loaded, validated and compiled translator.
pub struct TranslatorModule {
    runtime: Arc<Runtime>,
    meta: Metadata,
    pre: InstancePre<HostState>,
    imports: Vec<String>,
    has_unload: bool,
    source: String,
    wasm_len: usize,
}

impl fmt::Debug for TranslatorModule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TranslatorModule").field("source", &self.source).field("meta", &self.meta).finish()
    }
}

/// Turns WAT text into a binary; refuses anything that is neither.
fn to_binary(bytes: &[u8]) -> Result<std::borrow::Cow<'_, [u8]>, LoadError> {
    if let Some(header) = bytes.get(..8).filter(|h| h.starts_with(b"\0asm")) {
        return match header[4..8] {
            [1, 0, 0, 0] => Ok(bytes.into()),
            [_, _, 1, 0] => Err(LoadError::NotWasm("this is a WebAssembly component; ABI v2 wants a core module".into())),
            _ => Err(LoadError::NotWasm("unknown WebAssembly binary version".into())),
        };
    }
    if bytes.starts_with(b"\x7fELF") || bytes.starts_with(b"\xcf\xfa\xed\xfe") || bytes.starts_with(b"MZ") {
        return Err(LoadError::NotWasm("native code; precompiled modules are never accepted, give the .wasm".into()));
    }
    let text = std::str::from_utf8(bytes).map_err(|_| LoadError::NotWasm("neither a .wasm binary nor WAT text".into()))?;
    wat::parse_str(text).map(Into::into).map_err(|e| LoadError::Invalid(format!("WAT: {e}")))
}

impl TranslatorModule {
    /// Loads a `.wasm` or `.wat` file.
    pub fn load_file(rt: &Arc<Runtime>, path: &Path) -> Result<Arc<TranslatorModule>, LoadError> {
        let bytes = std::fs::read(path).map_err(|e| LoadError::Io(format!("{}: {e}", path.display())))?;
        Self::load(rt, &bytes, &path.display().to_string())
    }

    /// Loads a module from its bytes (binary or WAT); `source` names it in messages.
    pub fn load(rt: &Arc<Runtime>, bytes: &[u8], source: &str) -> Result<Arc<TranslatorModule>, LoadError> {
        let wasm = to_binary(bytes)?;
        // Before compiling: the metadata and the import list.
        let (mut meta_text, mut meta_sections) = (None, 0);
        let mut import_names = Vec::new();
        for payload in Parser::new(0).parse_all(&wasm) {
            match payload.map_err(|e| LoadError::Invalid(e.to_string()))? {
                Payload::CustomSection(c) if c.name() == meta::SECTION => {
                    meta_sections += 1;
                    meta_text = Some(c.data().to_vec());
                }
                Payload::ImportSection(r) => {
                    for imp in r.into_imports() {
                        let imp = imp.map_err(|e| LoadError::Invalid(e.to_string()))?;
                        let kind = match imp.ty {
                            wasmparser::TypeRef::Func(_) | wasmparser::TypeRef::FuncExact(_) => "func",
                            wasmparser::TypeRef::Memory(_) => "memory",
                            wasmparser::TypeRef::Table(_) => "table",
                            wasmparser::TypeRef::Global(_) => "global",
                            wasmparser::TypeRef::Tag(_) => "tag",
                        };
                        let known = imp.module == IMPORT_MODULE && kind == "func" && IMPORTS.iter().any(|i| i.0 == imp.name);
                        if !known {
                            return Err(LoadError::ForbiddenImport { module: imp.module.into(), name: imp.name.into(), kind: kind.into() });
                        }
                        import_names.push(imp.name.to_string());
                    }
                }
                _ => {}
            }
        }
        if meta_sections > 1 {
            return Err(LoadError::Meta(format!("{meta_sections} {} sections; ABI v2 wants one", meta::SECTION)));
        }
        let meta_text = meta_text.ok_or_else(|| LoadError::Meta(format!("no {} custom section (name, version, planes, ...)", meta::SECTION)))?;
        let meta = Metadata::parse(&meta_text).map_err(LoadError::Meta)?;
        let module = Module::from_binary(rt.engine(), &wasm).map_err(|e| LoadError::Invalid(format!("{e:#}")))?;
        for imp in module.imports() {
            // Only fhgate functions got past the scan above.
            let want = IMPORTS.iter().find(|i| i.0 == imp.name()).map(|i| (i.1, i.2));
            if let (ExternType::Func(f), Some((p, r))) = (imp.ty(), want) {
                if !same(f.params(), p) || !same(f.results(), r) {
                    return Err(LoadError::ImportSignature { name: imp.name().into(), found: extern_desc(&imp.ty()), want: sig(p, r) });
                }
            }
        }
        match module.get_export("memory") {
            Some(ExternType::Memory(m)) if !m.is_64() && !m.is_shared() => {}
            Some(t) => return Err(LoadError::ExportSignature { name: "memory".into(), found: extern_desc(&t), want: "a 32-bit unshared memory".into() }),
            None => return Err(LoadError::MissingExport("memory")),
        }
        let mut has_unload = false;
        for &(name, p, r, required) in EXPORTS {
            match module.get_export(name) {
                Some(ExternType::Func(f)) if same(f.params(), p) && same(f.results(), r) => has_unload |= name == "fhgate_unload",
                Some(t) => return Err(LoadError::ExportSignature { name: name.into(), found: extern_desc(&t), want: sig(p, r) }),
                None if required => return Err(LoadError::MissingExport(name)),
                None => {}
            }
        }
        let pre = rt.linker().instantiate_pre(&module).map_err(|e| LoadError::Compile(format!("{e:#}")))?;
        Ok(Arc::new(TranslatorModule {
            runtime: rt.clone(),
            meta,
            pre,
            imports: import_names,
            has_unload,
            source: source.to_string(),
            wasm_len: wasm.len(),
        }))
    }

    /// Its metadata.
    pub fn meta(&self) -> &Metadata {
        &self.meta
    }

    /// The `fhgate` functions it imports.
    pub fn imports(&self) -> &[String] {
        &self.imports
    }

    /// Whether it exports `fhgate_unload`.
    pub fn has_unload(&self) -> bool {
        self.has_unload
    }

    /// Where it was loaded from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Size of the wasm binary.
    pub fn wasm_len(&self) -> usize {
        self.wasm_len
    }

    /// The runtime it was compiled for.
    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }

    pub(crate) fn pre(&self) -> &InstancePre<HostState> {
        &self.pre
    }
}
