//! The chain as the engine reads it: [`ChainView`] (implemented over the node's
//! [`crate::chain::ChainReader`], and by an in-memory chain in the tests), the payload store of
//! one block, the model accepted at a block, and datasets.

use std::collections::BTreeMap;

use blyan_engine_interface::{DatasetShare, Hash};
use blyan_moe::{
	data::Dataset,
	store::{ModelIndex, Payload, UnitStore},
	units::all_units,
};
use sp_core::H256;

/// Chain state as the engine needs it, at a given block.
pub trait ChainView: Send + Sync + 'static {
	/// Hash of the best block (checkpoints published after a claim are read there).
	fn best(&self) -> H256;
	/// Hash of canonical block `number`.
	fn hash_of(&self, number: u32) -> Result<H256, String>;
	/// Verified bytes of payload `root` at `at`.
	fn payload(&self, at: H256, root: &Hash) -> Result<Vec<u8>, String>;
	/// Length in bytes of payload `root` at `at` (without fetching it).
	fn payload_len(&self, at: H256, root: &Hash) -> Result<u64, String>;
	/// Payload root of unit `name`'s accepted block at `at`.
	fn accepted_payload(&self, at: H256, name: &str) -> Result<Option<Hash>, String>;
	/// The latest spec's engine config and validation dataset id at `at`.
	fn latest_spec(&self, at: H256) -> Result<(blyan_moe::Config, u32), String>;
	/// Dataset `id` at `at`.
	fn dataset(&self, at: H256, id: u32) -> Result<DatasetInfo, String>;
}

/// What the engine needs of a dataset record (Chain D).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatasetInfo {
	/// Name, as a PoDL manifest names it.
	pub name: String,
	/// blake3 Merkle root over the sample hashes.
	pub content_root: Hash,
	/// Payload root of the text in the content store.
	pub text: Hash,
}

impl<C> ChainView for crate::chain::ChainReader<C>
where
	C: sp_api::ProvideRuntimeApi<blyan_runtime::opaque::Block>
		+ sp_blockchain::HeaderBackend<blyan_runtime::opaque::Block>
		+ Send
		+ Sync
		+ 'static,
	C::Api: pallet_content_store::runtime_api::ContentStoreApi<blyan_runtime::opaque::Block>
		+ pallet_param_dag::runtime_api::ParamDagApi<blyan_runtime::opaque::Block>
		+ pallet_dataset::runtime_api::DatasetApi<blyan_runtime::opaque::Block>
		+ pallet_model_spec::runtime_api::ModelSpecApi<blyan_runtime::opaque::Block>,
{
	fn best(&self) -> H256 {
		crate::chain::ChainReader::best(self)
	}
	fn hash_of(&self, number: u32) -> Result<H256, String> {
		crate::chain::ChainReader::hash_of(self, number).map_err(|e| e.to_string())
	}
	fn payload(&self, at: H256, root: &Hash) -> Result<Vec<u8>, String> {
		crate::chain::ChainReader::payload(self, at, root).map_err(|e| e.to_string())
	}
	fn payload_len(&self, at: H256, root: &Hash) -> Result<u64, String> {
		crate::chain::ChainReader::payload_len(self, at, root).map_err(|e| e.to_string())
	}
	fn accepted_payload(&self, at: H256, name: &str) -> Result<Option<Hash>, String> {
		crate::chain::ChainReader::accepted_payload(self, at, name).map_err(|e| e.to_string())
	}
	fn latest_spec(&self, at: H256) -> Result<(blyan_moe::Config, u32), String> {
		let spec = crate::chain::ChainReader::latest_spec(self, at).map_err(|e| e.to_string())?;
		Ok((engine_config(&spec.config), spec.validation_dataset.0))
	}
	fn dataset(&self, at: H256, id: u32) -> Result<DatasetInfo, String> {
		let record = crate::chain::ChainReader::dataset(self, at, id).map_err(|e| e.to_string())?;
		Ok(DatasetInfo {
			name: String::from_utf8_lossy(&record.name).into_owned(),
			content_root: record.content_root,
			text: record.payload_root,
		})
	}
}

/// The engine config of an on-chain spec. The chain records the shape; the numerical
/// constants the chain does not record (RMSNorm ε, RoPE θ, auxiliary-loss coefficient) are
/// the engine's defaults (`blyan_moe::Config::tiny`).
pub fn engine_config(c: &pallet_model_spec::EngineConfig) -> blyan_moe::Config {
	blyan_moe::Config {
		vocab_size: c.vocab_size as usize,
		hidden_size: c.hidden_size as usize,
		num_hidden_layers: c.num_hidden_layers as usize,
		num_attention_heads: c.num_attention_heads as usize,
		max_position_embeddings: c.max_position_embeddings as usize,
		num_local_experts: c.num_local_experts as usize,
		num_experts_per_tok: c.num_experts_per_tok as usize,
		intermediate_size: c.intermediate_size as usize,
		..blyan_moe::Config::tiny()
	}
}

/// Payloads of the chain at one block, as the engine's [`UnitStore`]. Read-only: `put` fails.
pub struct ChainStore<'a> {
	/// The chain.
	pub chain: &'a dyn ChainView,
	/// The block read.
	pub at: H256,
}

impl UnitStore for ChainStore<'_> {
	fn fetch(&self, hash: &Hash) -> blyan_moe::Result<Payload> {
		self.chain.payload(self.at, hash).map(Payload::Owned).map_err(|e| {
			log::warn!(target: super::LOG_TARGET, "payload {}: {e}", hex::encode(hash));
			blyan_moe::Error::NotFound(*hash)
		})
	}
	fn put(&self, _bytes: &[u8]) -> blyan_moe::Result<Hash> {
		Err(blyan_moe::Error::InvalidManifest("the chain store is read-only".into()))
	}
}

/// The model accepted at `at`: every unit's `ParamIndex` payload root.
pub fn accepted_index(
	chain: &dyn ChainView,
	at: H256,
	cfg: &blyan_moe::Config,
) -> Result<ModelIndex, String> {
	let mut units = BTreeMap::new();
	for unit in all_units(cfg) {
		let name = unit.to_string();
		let root = chain
			.accepted_payload(at, &name)?
			.ok_or_else(|| format!("unit {name} has no accepted block at {at:?}"))?;
		units.insert(name, hex::encode(root));
	}
	Ok(ModelIndex { config: cfg.clone(), units })
}

/// The datasets `shares` at `at` as the engine trains and replays on them.
pub fn load_datasets(
	chain: &dyn ChainView,
	at: H256,
	shares: &[DatasetShare],
) -> Result<Vec<Dataset>, String> {
	let mut texts = Vec::with_capacity(shares.len());
	for s in shares {
		let info = chain.dataset(at, s.dataset)?;
		texts.push(dataset_text(chain, at, s.dataset, &info)?);
	}
	Ok(texts)
}

/// Dataset `id`'s published text at `at`, split into samples.
pub fn dataset_text(
	chain: &dyn ChainView,
	at: H256,
	id: u32,
	info: &DatasetInfo,
) -> Result<Dataset, String> {
	let text = chain.payload(at, &info.text)?;
	let text = String::from_utf8(text).map_err(|_| format!("dataset {id}: text is not UTF-8"))?;
	Dataset::from_text(&info.name, &text).map_err(|e| e.to_string())
}

/// A unit name from a job, as UTF-8.
pub fn unit_name(unit: &[u8]) -> Result<&str, String> {
	std::str::from_utf8(unit).map_err(|_| "unit name is not UTF-8".to_string())
}
