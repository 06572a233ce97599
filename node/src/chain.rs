//! Native reads of Blyan's chain state through the runtime APIs, shared by the `blyan_*`
//! RPC and the engine service: verified payloads, accepted units, specs and datasets at a
//! given block.

use std::sync::Arc;

use blyan_primitives::{merkle_root, tile_hash, Hash};
use blyan_runtime::{opaque::Block, Runtime};
use codec::Decode;
use pallet_content_store::runtime_api::ContentStoreApi;
use pallet_dataset::runtime_api::DatasetApi;
use pallet_model_spec::runtime_api::ModelSpecApi;
use pallet_param_dag::runtime_api::ParamDagApi;
use sp_api::ProvideRuntimeApi;
use sp_blockchain::HeaderBackend;
use sp_core::H256;

/// Why a read failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainError {
	/// The payload, tile, block, spec or dataset does not exist.
	NotFound(String),
	/// Stored bytes do not hash to their key (a corrupt database).
	HashMismatch(String),
	/// The runtime API call failed or returned undecodable bytes.
	Runtime(String),
}

impl std::fmt::Display for ChainError {
	fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
		match self {
			ChainError::NotFound(m) => write!(f, "not found: {m}"),
			ChainError::HashMismatch(m) => write!(f, "hash mismatch: {m}"),
			ChainError::Runtime(m) => write!(f, "runtime API: {m}"),
		}
	}
}

impl std::error::Error for ChainError {}

fn runtime(e: impl std::fmt::Display) -> ChainError {
	ChainError::Runtime(e.to_string())
}

/// Reads chain state natively at chosen blocks.
pub struct ChainReader<C> {
	client: Arc<C>,
}

impl<C> Clone for ChainReader<C> {
	fn clone(&self) -> Self {
		Self { client: self.client.clone() }
	}
}

impl<C> ChainReader<C>
where
	C: ProvideRuntimeApi<Block> + HeaderBackend<Block> + Send + Sync + 'static,
	C::Api: ContentStoreApi<Block> + ParamDagApi<Block> + DatasetApi<Block> + ModelSpecApi<Block>,
{
	/// A reader over `client`.
	pub fn new(client: Arc<C>) -> Self {
		Self { client }
	}

	/// Hash of the best block.
	pub fn best(&self) -> H256 {
		self.client.info().best_hash
	}

	/// Hash of canonical block `number`.
	///
	/// Errors: [`ChainError::NotFound`] beyond the best block; [`ChainError::Runtime`] on a
	/// database error.
	pub fn hash_of(&self, number: u32) -> Result<H256, ChainError> {
		self.client
			.hash(number)
			.map_err(runtime)?
			.ok_or_else(|| ChainError::NotFound(format!("block #{number}")))
	}

	/// The ordered tile hashes of payload `root` at `at`.
	///
	/// Errors: [`ChainError::NotFound`]; [`ChainError::Runtime`].
	pub fn manifest(&self, at: H256, root: &Hash) -> Result<Vec<Hash>, ChainError> {
		self.client
			.runtime_api()
			.manifest(at, *root)
			.map_err(runtime)?
			.ok_or_else(|| ChainError::NotFound(format!("payload {}", H256(*root))))
	}

	/// The bytes of payload `root` at `at`: its tiles concatenated, each tile checked against
	/// its blake3 hash and the tile list against the Merkle root (docs/hashing.md).
	///
	/// Errors: [`ChainError::NotFound`]; [`ChainError::HashMismatch`]; [`ChainError::Runtime`].
	pub fn payload(&self, at: H256, root: &Hash) -> Result<Vec<u8>, ChainError> {
		let tiles = self.manifest(at, root)?;
		if merkle_root(&tiles) != *root {
			return Err(ChainError::HashMismatch(format!(
				"manifest of {} does not hash to it",
				H256(*root)
			)));
		}
		let api = self.client.runtime_api();
		let mut bytes = Vec::new();
		for t in tiles {
			let tile = api
				.tile(at, t)
				.map_err(runtime)?
				.ok_or_else(|| ChainError::NotFound(format!("tile {}", H256(t))))?;
			if tile_hash(&tile) != t {
				return Err(ChainError::HashMismatch(format!("tile {} is corrupt", H256(t))));
			}
			bytes.extend_from_slice(&tile);
		}
		Ok(bytes)
	}

	/// The length in bytes of committed payload `root` at `at`, without fetching it.
	///
	/// Errors: [`ChainError::NotFound`]; [`ChainError::Runtime`].
	pub fn payload_len(&self, at: H256, root: &Hash) -> Result<u64, ChainError> {
		self.client
			.runtime_api()
			.payload_len(at, *root)
			.map_err(runtime)?
			.ok_or_else(|| ChainError::NotFound(format!("payload {}", H256(*root))))
	}

	/// The payload root of unit `name`'s accepted block at `at` (`ParamIndex`).
	///
	/// Errors: [`ChainError::Runtime`].
	pub fn accepted_payload(&self, at: H256, name: &str) -> Result<Option<Hash>, ChainError> {
		self.client
			.runtime_api()
			.accepted_payload(at, name.as_bytes().to_vec())
			.map_err(runtime)
	}

	/// The latest model spec at `at`.
	///
	/// Errors: [`ChainError::NotFound`] when no spec is registered; [`ChainError::Runtime`].
	pub fn latest_spec(&self, at: H256) -> Result<pallet_model_spec::ModelSpecInfo, ChainError> {
		let api = self.client.runtime_api();
		let id = api
			.latest(at)
			.map_err(runtime)?
			.ok_or_else(|| ChainError::NotFound("model spec".into()))?;
		api.spec(at, id)
			.map_err(runtime)?
			.ok_or_else(|| ChainError::NotFound(format!("model spec {id}")))
	}

	/// Dataset `id`'s record at `at`.
	///
	/// Errors: [`ChainError::NotFound`]; [`ChainError::Runtime`] (also for undecodable bytes).
	pub fn dataset(
		&self,
		at: H256,
		id: u32,
	) -> Result<pallet_dataset::DatasetRecord<Runtime>, ChainError> {
		let bytes = self
			.client
			.runtime_api()
			.dataset(at, id)
			.map_err(runtime)?
			.ok_or_else(|| ChainError::NotFound(format!("dataset {id}")))?;
		pallet_dataset::DatasetRecord::<Runtime>::decode(&mut &bytes[..]).map_err(runtime)
	}
}
