//! Content-addressed storage of payloads, model indexes, and the byte-bounded LRU cache
//! that selective inference fetches experts through.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use blyan_primitives::{payload_root, Hash};
use candle_core::Tensor;
use serde::{Deserialize, Serialize};

use crate::model::{var_builder, Expert, ExpertSource};
use crate::units::{all_units, decode_unit, encode_unit, UnitId};
use crate::{Config, Error, Result};

/// Payload bytes, memory-mapped from a file or owned.
pub enum Payload {
	/// A read-only mapping of a store file (safetensors' zero-copy path).
	Mapped(memmap2::Mmap),
	/// Bytes in memory.
	Owned(Vec<u8>),
}

impl Deref for Payload {
	type Target = [u8];
	fn deref(&self) -> &[u8] {
		match self {
			Payload::Mapped(m) => m,
			Payload::Owned(v) => v,
		}
	}
}

/// A store of payloads keyed by their payload root (content hash → bytes).
///
/// The node implements it over the chain's content store; [`DirStore`] and [`MemStore`]
/// serve the CLI and tests. `fetch` returns the bytes as stored: callers verify them
/// against the hash before use ([`crate::units::decode_unit`] does).
pub trait UnitStore: Send + Sync {
	/// The payload whose root is `hash`.
	///
	/// Errors: [`Error::NotFound`]; [`Error::Io`].
	fn fetch(&self, hash: &Hash) -> Result<Payload>;
	/// Stores `bytes` and returns its payload root.
	///
	/// Errors: [`Error::Io`].
	fn put(&self, bytes: &[u8]) -> Result<Hash>;
}

/// A folder of payload files named `<hex root>.safetensors`, read by memory mapping.
pub struct DirStore {
	root: PathBuf,
}

impl DirStore {
	/// Opens (and creates) the folder.
	///
	/// Errors: [`Error::Io`].
	pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
		let root = root.into();
		std::fs::create_dir_all(&root).map_err(|e| Error::io(&root, e))?;
		Ok(Self { root })
	}

	/// Path of the payload file for `hash`.
	pub fn path_of(&self, hash: &Hash) -> PathBuf {
		self.root.join(format!("{}.safetensors", hex::encode(hash)))
	}
}

impl UnitStore for DirStore {
	fn fetch(&self, hash: &Hash) -> Result<Payload> {
		let path = self.path_of(hash);
		let file = match std::fs::File::open(&path) {
			Ok(f) => f,
			Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
				return Err(Error::NotFound(*hash))
			},
			Err(e) => return Err(Error::io(&path, e)),
		};
		let len = file.metadata().map_err(|e| Error::io(&path, e))?.len();
		if len == 0 {
			return Ok(Payload::Owned(Vec::new()));
		}
		// SAFETY: store files are written once under their content hash (to a temporary name,
		// then renamed) and never modified in place; readers verify the hash after mapping.
		let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| Error::io(&path, e))?;
		Ok(Payload::Mapped(map))
	}

	fn put(&self, bytes: &[u8]) -> Result<Hash> {
		let hash = payload_root(bytes);
		let path = self.path_of(&hash);
		if path.exists() {
			return Ok(hash);
		}
		let tmp = self.root.join(format!(".{}.{}.tmp", hex::encode(hash), std::process::id()));
		std::fs::write(&tmp, bytes).map_err(|e| Error::io(&tmp, e))?;
		std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))?;
		Ok(hash)
	}
}

/// An in-memory store.
#[derive(Default)]
pub struct MemStore {
	map: Mutex<HashMap<Hash, Vec<u8>>>,
}

impl MemStore {
	/// Replaces the bytes stored under `hash` without re-hashing: lets tests plant corrupt
	/// payloads.
	pub fn insert_raw(&self, hash: Hash, bytes: Vec<u8>) {
		self.map.lock().unwrap_or_else(|p| p.into_inner()).insert(hash, bytes);
	}
}

impl UnitStore for MemStore {
	fn fetch(&self, hash: &Hash) -> Result<Payload> {
		let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
		map.get(hash).map(|b| Payload::Owned(b.clone())).ok_or(Error::NotFound(*hash))
	}

	fn put(&self, bytes: &[u8]) -> Result<Hash> {
		let hash = payload_root(bytes);
		self.map.lock().unwrap_or_else(|p| p.into_inner()).insert(hash, bytes.to_vec());
		Ok(hash)
	}
}

/// A model as the chain sees it: the config and the hash of every unit (`model.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelIndex {
	/// Engine config.
	pub config: Config,
	/// Unit name (`backbone`, `layer0.router`, `layer0.expert3`, ...) → payload root (hex).
	pub units: BTreeMap<String, String>,
}

/// Parses a 64-digit hex hash.
///
/// Errors: [`Error::InvalidManifest`] naming `what`.
pub fn parse_hash(what: &str, s: &str) -> Result<Hash> {
	let bytes = hex::decode(s).map_err(|e| Error::InvalidManifest(format!("{what}: {e}")))?;
	bytes
		.try_into()
		.map_err(|_| Error::InvalidManifest(format!("{what}: a hash has 32 bytes")))
}

impl ModelIndex {
	/// Hash of `unit`.
	///
	/// Errors: [`Error::UnknownUnit`] when the index lacks it; [`Error::InvalidManifest`] for bad hex.
	pub fn hash_of(&self, unit: UnitId) -> Result<Hash> {
		let name = unit.to_string();
		let hex = self.units.get(&name).ok_or_else(|| Error::UnknownUnit(name.clone()))?;
		parse_hash(&name, hex)
	}

	/// Encodes every unit of `weights`, puts it in `store` and returns the index.
	///
	/// Errors: [`Error::WrongTensors`] when a tensor is missing; store errors.
	pub fn save_weights(
		cfg: &Config,
		weights: &BTreeMap<String, Tensor>,
		store: &dyn UnitStore,
	) -> Result<Self> {
		let mut units = BTreeMap::new();
		for unit in all_units(cfg) {
			let bytes = encode_unit(cfg, unit, weights)?;
			units.insert(unit.to_string(), hex::encode(store.put(&bytes)?));
		}
		Ok(Self { config: cfg.clone(), units })
	}

	/// Fetches, verifies and decodes the units in `which` (all units when `None`).
	///
	/// Errors: [`Error::NotFound`], [`Error::HashMismatch`] and the decode errors of
	/// [`decode_unit`].
	pub fn load_weights(
		&self,
		store: &dyn UnitStore,
		which: Option<&BTreeSet<UnitId>>,
	) -> Result<BTreeMap<String, Tensor>> {
		self.config.validate()?;
		let mut out = BTreeMap::new();
		for unit in all_units(&self.config) {
			if which.is_some_and(|w| !w.contains(&unit)) {
				continue;
			}
			let hash = self.hash_of(unit)?;
			let payload = store.fetch(&hash)?;
			out.extend(decode_unit(&self.config, unit, &payload, &hash)?);
		}
		Ok(out)
	}

	/// Reads `model.json`.
	///
	/// Errors: [`Error::Io`], [`Error::Json`], [`Error::InvalidConfig`].
	pub fn read(path: &Path) -> Result<Self> {
		let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
		let idx: Self = serde_json::from_str(&text)
			.map_err(|e| Error::Json { what: path.display().to_string(), source: e })?;
		idx.config.validate()?;
		Ok(idx)
	}

	/// Writes `model.json` (pretty JSON).
	///
	/// Errors: [`Error::Io`].
	pub fn write(&self, path: &Path) -> Result<()> {
		write_json(path, self)
	}
}

/// Writes any serialisable value as pretty JSON.
pub(crate) fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
	let text = serde_json::to_string_pretty(value)
		.map_err(|e| Error::Json { what: path.display().to_string(), source: e })?;
	if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
		std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
	}
	std::fs::write(path, text + "\n").map_err(|e| Error::io(path, e))
}

/// An LRU cache of decoded experts keyed by unit hash, bounded by their bytes.
pub struct ExpertCache {
	lru: lru::LruCache<Hash, Expert>,
	bytes: usize,
	cap_bytes: usize,
	/// Payload fetches since creation (cache misses).
	pub loads: u64,
}

impl ExpertCache {
	/// A cache holding at most `cap_bytes` bytes of expert weights (at least one expert is
	/// always kept, even if larger).
	pub fn new(cap_bytes: usize) -> Self {
		Self { lru: lru::LruCache::unbounded(), bytes: 0, cap_bytes, loads: 0 }
	}

	/// Bytes of expert weights held now.
	pub fn bytes(&self) -> usize {
		self.bytes
	}

	/// Number of experts held now.
	pub fn len(&self) -> usize {
		self.lru.len()
	}

	/// Whether the cache is empty.
	pub fn is_empty(&self) -> bool {
		self.lru.is_empty()
	}

	/// The expert `unit` with payload root `hash`, from the cache or fetched from `store`,
	/// verified and decoded; evicts least recently used experts beyond the byte cap.
	///
	/// Errors: as [`decode_unit`] and [`UnitStore::fetch`].
	pub fn get(
		&mut self,
		cfg: &Config,
		unit: UnitId,
		hash: &Hash,
		store: &dyn UnitStore,
	) -> Result<Expert> {
		if let Some(e) = self.lru.get(hash) {
			return Ok(e.clone());
		}
		let payload = store.fetch(hash)?;
		let weights = decode_unit(cfg, unit, &payload, hash)?;
		let UnitId::Expert { layer, expert } = unit else {
			return Err(Error::UnknownUnit(unit.to_string()));
		};
		let vb = var_builder(&weights);
		let e =
			Expert::new(cfg, vb.pp(format!("layers.{layer}.block_sparse_moe.experts.{expert}")))?;
		self.loads += 1;
		self.bytes += e.byte_len();
		self.lru.put(*hash, e.clone());
		while self.bytes > self.cap_bytes && self.lru.len() > 1 {
			if let Some((_, old)) = self.lru.pop_lru() {
				self.bytes = self.bytes.saturating_sub(old.byte_len());
			}
		}
		Ok(e)
	}
}

/// Experts fetched lazily from a store through an [`ExpertCache`] that concurrent requests
/// may share (locked for each fetch only); records which unit hashes served the request and
/// how many of its fetches missed the cache.
pub struct LazyExperts<'a> {
	index: &'a ModelIndex,
	store: &'a dyn UnitStore,
	cache: &'a std::sync::Mutex<ExpertCache>,
	/// Units used so far, with their hashes.
	pub used: BTreeMap<UnitId, Hash>,
	/// Payload fetches of this request (cache misses).
	pub loads: u64,
}

impl<'a> LazyExperts<'a> {
	/// Fetches experts of `index` from `store` through `cache`.
	pub fn new(
		index: &'a ModelIndex,
		store: &'a dyn UnitStore,
		cache: &'a std::sync::Mutex<ExpertCache>,
	) -> Self {
		Self { index, store, cache, used: BTreeMap::new(), loads: 0 }
	}
}

impl ExpertSource for LazyExperts<'_> {
	fn expert(&mut self, layer: usize, expert: usize) -> Result<Expert> {
		let unit = UnitId::Expert { layer, expert };
		let hash = self.index.hash_of(unit)?;
		// A panic elsewhere while the lock was held leaves a consistent LRU: keep using it.
		let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
		let before = cache.loads;
		let e = cache.get(&self.index.config, unit, &hash, self.store)?;
		self.loads += cache.loads - before;
		drop(cache);
		self.used.insert(unit, hash);
		Ok(e)
	}
}
