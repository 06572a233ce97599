//! Units: the model cut into the pieces that become Chain B blocks.
//!
//! There is one unit per expert (`layer{l}.expert{e}`), one router unit per layer
//! (`layer{l}.router`) and one `backbone` unit (embeddings, attention, norms, LM head).
//! A unit's payload is a safetensors file of its F32 tensors (full model names, no
//! metadata); its hash is the payload root of [`blyan_primitives::payload_root`]: blake3
//! Merkle root over its 4 MiB tiles (`docs/hashing.md`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use blyan_primitives::{payload_root, tile_hash, tiles, Hash};
use candle_core::{DType, Device, Tensor};
use safetensors::{tensor::TensorView, Dtype, SafeTensors};

use crate::model::{tensor_layout, TensorSpec};
use crate::{Config, Error, Result};

/// Identifies one unit of a model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum UnitId {
	/// Embeddings, attention, norms and LM head.
	Backbone,
	/// The router (gate) of one MoE layer.
	Router {
		/// Layer index.
		layer: usize,
	},
	/// One expert of one MoE layer.
	Expert {
		/// Layer index.
		layer: usize,
		/// Expert index within the layer.
		expert: usize,
	},
}

impl From<UnitId> for blyan_primitives::UnitName {
	fn from(u: UnitId) -> Self {
		match u {
			UnitId::Backbone => Self::Backbone,
			UnitId::Router { layer } => Self::Router { layer: layer as u32 },
			UnitId::Expert { layer, expert } => {
				Self::Expert { layer: layer as u32, expert: expert as u32 }
			},
		}
	}
}

impl From<blyan_primitives::UnitName> for UnitId {
	fn from(u: blyan_primitives::UnitName) -> Self {
		use blyan_primitives::UnitName as N;
		match u {
			N::Backbone => UnitId::Backbone,
			N::Router { layer } => UnitId::Router { layer: layer as usize },
			N::Expert { layer, expert } => {
				UnitId::Expert { layer: layer as usize, expert: expert as usize }
			},
		}
	}
}

impl fmt::Display for UnitId {
	/// The unit's name (`blyan_primitives::UnitName`).
	fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
		fmt::Display::fmt(&blyan_primitives::UnitName::from(*self), f)
	}
}

impl FromStr for UnitId {
	type Err = Error;

	/// Parses a unit name (`backbone`, `layer{l}.router`, `layer{l}.expert{e}`; the grammar of
	/// `blyan_primitives::UnitName`, so `layer01.expert1` is refused here as on chain).
	///
	/// Errors: [`Error::UnknownUnit`] for anything else.
	fn from_str(s: &str) -> Result<Self> {
		blyan_primitives::UnitName::parse(s.as_bytes())
			.map(UnitId::from)
			.ok_or_else(|| Error::UnknownUnit(s.to_string()))
	}
}

impl UnitId {
	/// Whether the config has this unit.
	pub fn exists_in(&self, cfg: &Config) -> bool {
		match *self {
			UnitId::Backbone => true,
			UnitId::Router { layer } => layer < cfg.num_hidden_layers,
			UnitId::Expert { layer, expert } => {
				layer < cfg.num_hidden_layers && expert < cfg.num_local_experts
			},
		}
	}

	/// Parses a unit name and checks that `cfg` has it.
	///
	/// Errors: [`Error::UnknownUnit`].
	pub fn parse_in(s: &str, cfg: &Config) -> Result<Self> {
		let id: UnitId = s.parse()?;
		if id.exists_in(cfg) {
			Ok(id)
		} else {
			Err(Error::UnknownUnit(s.to_string()))
		}
	}
}

/// Every unit of `cfg`, in canonical order: backbone, then per layer the router and its
/// experts.
pub fn all_units(cfg: &Config) -> Vec<UnitId> {
	let mut out = vec![UnitId::Backbone];
	for layer in 0..cfg.num_hidden_layers {
		out.push(UnitId::Router { layer });
		out.extend((0..cfg.num_local_experts).map(|expert| UnitId::Expert { layer, expert }));
	}
	out
}

/// The tensors of one unit, sorted by name.
pub fn unit_layout(cfg: &Config, unit: UnitId) -> Vec<TensorSpec> {
	tensor_layout(cfg).into_iter().filter(|s| s.unit == unit).collect()
}

/// Little-endian bytes of an F32 tensor.
pub(crate) fn f32_bytes(t: &Tensor) -> Result<Vec<u8>> {
	let v: Vec<f32> = t.flatten_all()?.to_vec1()?;
	Ok(v.iter().flat_map(|x| x.to_le_bytes()).collect())
}

/// Serialises named F32 tensors as safetensors (sorted by name, optional metadata).
/// The bytes depend only on the names, shapes and values.
pub(crate) fn encode_tensors<'a>(
	tensors: impl IntoIterator<Item = (&'a str, &'a Tensor)>,
	metadata: Option<std::collections::HashMap<String, String>>,
) -> Result<Vec<u8>> {
	let owned: Vec<(&str, Vec<usize>, Vec<u8>)> = tensors
		.into_iter()
		.map(|(n, t)| Ok((n, t.dims().to_vec(), f32_bytes(t)?)))
		.collect::<Result<_>>()?;
	let views = owned
		.iter()
		.map(|(n, shape, bytes)| {
			TensorView::new(Dtype::F32, shape.clone(), bytes)
				.map(|v| (n.to_string(), v))
				.map_err(|e| Error::CorruptPayload { what: n.to_string(), reason: e.to_string() })
		})
		.collect::<Result<Vec<_>>>()?;
	safetensors::serialize(views, metadata)
		.map_err(|e| Error::CorruptPayload { what: "serialize".into(), reason: e.to_string() })
}

/// Encodes one unit of `weights` (names as in [`crate::model::tensor_layout`]) to its
/// safetensors payload.
///
/// Errors: [`Error::WrongTensors`] when `weights` lacks one of the unit's tensors.
pub fn encode_unit(
	cfg: &Config,
	unit: UnitId,
	weights: &BTreeMap<String, Tensor>,
) -> Result<Vec<u8>> {
	let layout = unit_layout(cfg, unit);
	let mut items = Vec::with_capacity(layout.len());
	for spec in &layout {
		let t = weights.get(&spec.name).ok_or_else(|| Error::WrongTensors {
			unit,
			reason: format!("missing {}", spec.name),
		})?;
		items.push((spec.name.as_str(), t));
	}
	encode_tensors(items, None)
}

/// Verifies a unit payload against its hash and layout, then builds its tensors.
///
/// Checks, in order: payload root equals `expected` ([`Error::HashMismatch`]); the bytes
/// parse as safetensors ([`Error::CorruptPayload`]: corrupt or truncated); the tensor names
/// are exactly the unit's ([`Error::WrongTensors`]); every dtype is F32
/// ([`Error::WrongDtype`]) and every shape matches the config ([`Error::WrongShape`]).
/// The bytes may be memory-mapped; building the CPU tensors copies them once.
pub fn decode_unit(
	cfg: &Config,
	unit: UnitId,
	bytes: &[u8],
	expected: &Hash,
) -> Result<BTreeMap<String, Tensor>> {
	let actual = payload_root(bytes);
	if &actual != expected {
		return Err(Error::HashMismatch { what: unit.to_string(), expected: *expected, actual });
	}
	decode_unit_unverified(cfg, unit, bytes)
}

/// [`decode_unit`] without the hash check, for payloads whose hash was just computed.
pub(crate) fn decode_unit_unverified(
	cfg: &Config,
	unit: UnitId,
	bytes: &[u8],
) -> Result<BTreeMap<String, Tensor>> {
	let st = SafeTensors::deserialize(bytes)
		.map_err(|e| Error::CorruptPayload { what: unit.to_string(), reason: e.to_string() })?;
	let layout = unit_layout(cfg, unit);
	let want: BTreeSet<&str> = layout.iter().map(|s| s.name.as_str()).collect();
	let have_names = st.names();
	let have: BTreeSet<&str> = have_names.iter().map(|s| &s[..]).collect();
	if want != have {
		let missing: Vec<_> = want.difference(&have).collect();
		let extra: Vec<_> = have.difference(&want).collect();
		return Err(Error::WrongTensors {
			unit,
			reason: format!("missing {missing:?}, unexpected {extra:?}"),
		});
	}
	let mut out = BTreeMap::new();
	for spec in layout {
		let view = st.tensor(&spec.name).map_err(|e| Error::CorruptPayload {
			what: spec.name.clone(),
			reason: e.to_string(),
		})?;
		if view.dtype() != Dtype::F32 {
			return Err(Error::WrongDtype {
				name: spec.name,
				actual: format!("{:?}", view.dtype()),
			});
		}
		if view.shape() != spec.shape.as_slice() {
			return Err(Error::WrongShape {
				name: spec.name,
				expected: spec.shape,
				actual: view.shape().to_vec(),
			});
		}
		let t = Tensor::from_raw_buffer(view.data(), DType::F32, view.shape(), &Device::Cpu)?;
		out.insert(spec.name, t);
	}
	Ok(out)
}

/// What `inspect` shows of a payload: its safetensors header, tiles and payload root.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PayloadInfo {
	/// Size in bytes.
	pub bytes: usize,
	/// `(name, dtype, shape)` of every tensor, sorted by name.
	pub tensors: Vec<(String, String, Vec<usize>)>,
	/// blake3 hash (hex) and length of every 4 MiB tile, in order.
	pub tiles: Vec<(String, usize)>,
	/// Payload root (hex): the unit hash.
	pub root: String,
}

/// Reads a payload's header, tiles and root without building tensors.
///
/// Errors: [`Error::CorruptPayload`] when the header does not parse.
pub fn inspect_payload(bytes: &[u8]) -> Result<PayloadInfo> {
	let st = SafeTensors::deserialize(bytes)
		.map_err(|e| Error::CorruptPayload { what: "payload".into(), reason: e.to_string() })?;
	let mut tensors: Vec<_> = st
		.tensors()
		.into_iter()
		.map(|(n, v)| (n, format!("{:?}", v.dtype()), v.shape().to_vec()))
		.collect();
	tensors.sort();
	Ok(PayloadInfo {
		bytes: bytes.len(),
		tensors,
		tiles: tiles(bytes).map(|t| (hex::encode(tile_hash(t)), t.len())).collect(),
		root: hex::encode(payload_root(bytes)),
	})
}
