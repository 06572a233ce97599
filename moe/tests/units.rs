//! Units: encoding, hashing, tiling, verified loading and typed errors for bad payloads.

mod common;

use std::collections::HashMap;

use blyan_moe::model::init_weights;
use blyan_moe::store::{DirStore, Payload, UnitStore};
use blyan_moe::units::{all_units, decode_unit, encode_unit, inspect_payload, unit_layout, UnitId};
use blyan_moe::{Config, Error};
use blyan_primitives::{merkle_root, payload_root, tile_hash, MAX_TILE_BYTES};
use safetensors::{tensor::TensorView, Dtype};

const EXPERT: UnitId = UnitId::Expert { layer: 1, expert: 2 };

fn expert_payload(cfg: &Config) -> Vec<u8> {
	encode_unit(cfg, EXPERT, &init_weights(cfg, 1).unwrap()).unwrap()
}

#[test]
fn unit_names_round_trip_and_cover_the_model() {
	let cfg = Config::test();
	let units = all_units(&cfg);
	assert_eq!(units.len(), 1 + cfg.num_hidden_layers * (1 + cfg.num_local_experts));
	for u in &units {
		assert_eq!(&UnitId::parse_in(&u.to_string(), &cfg).unwrap(), u);
	}
	assert_eq!(EXPERT.to_string(), "layer1.expert2");
	assert!(matches!(UnitId::parse_in("layer9.expert0", &cfg), Err(Error::UnknownUnit(_))));
	assert!(matches!(UnitId::parse_in("layer0.experts", &cfg), Err(Error::UnknownUnit(_))));
	// Every tensor belongs to exactly one unit.
	let total: usize = units.iter().map(|u| unit_layout(&cfg, *u).len()).sum();
	assert_eq!(total, init_weights(&cfg, 0).unwrap().len());
}

#[test]
fn decode_unit_round_trips_and_verifies_the_hash() {
	let cfg = Config::test();
	let weights = init_weights(&cfg, 1).unwrap();
	let bytes = expert_payload(&cfg);
	let hash = payload_root(&bytes);
	assert_eq!(hash, merkle_root(&[tile_hash(&bytes)]), "a small unit is one tile");
	let decoded = decode_unit(&cfg, EXPERT, &bytes, &hash).unwrap();
	assert_eq!(decoded.len(), 3);
	for (name, t) in &decoded {
		let orig: Vec<f32> = weights[name].flatten_all().unwrap().to_vec1().unwrap();
		assert_eq!(t.flatten_all().unwrap().to_vec1::<f32>().unwrap(), orig, "{name}");
	}
	// Encoding is canonical: same weights, same bytes.
	assert_eq!(expert_payload(&cfg), bytes);
}

#[test]
fn decode_unit_fails_when_a_byte_is_flipped() {
	let cfg = Config::test();
	let bytes = expert_payload(&cfg);
	let hash = payload_root(&bytes);
	let mut bad = bytes.clone();
	let last = bad.len() - 1;
	bad[last] ^= 1;
	assert!(matches!(decode_unit(&cfg, EXPERT, &bad, &hash), Err(Error::HashMismatch { .. })));
}

#[test]
fn decode_unit_fails_on_corrupt_and_truncated_payloads() {
	let cfg = Config::test();
	let bytes = expert_payload(&cfg);
	// Truncated: hash matches what was received, but the data is cut short.
	let truncated = &bytes[..bytes.len() - 10];
	let r = decode_unit(&cfg, EXPERT, truncated, &payload_root(truncated));
	assert!(matches!(r, Err(Error::CorruptPayload { .. })), "{r:?}");
	// Corrupt header.
	let mut corrupt = bytes.clone();
	corrupt[8..16].copy_from_slice(b"garbage!");
	let r = decode_unit(&cfg, EXPERT, &corrupt, &payload_root(&corrupt));
	assert!(matches!(r, Err(Error::CorruptPayload { .. })), "{r:?}");
	// Not safetensors at all.
	let junk = b"hello".to_vec();
	assert!(matches!(
		decode_unit(&cfg, EXPERT, &junk, &payload_root(&junk)),
		Err(Error::CorruptPayload { .. })
	));
}

#[test]
fn decode_unit_fails_on_wrong_shape() {
	let cfg = Config::test();
	let mut wider = cfg.clone();
	wider.intermediate_size += 8;
	let bytes = expert_payload(&wider);
	let r = decode_unit(&cfg, EXPERT, &bytes, &payload_root(&bytes));
	assert!(matches!(r, Err(Error::WrongShape { .. })), "{r:?}");
}

#[test]
fn decode_unit_fails_on_wrong_dtype_and_wrong_tensors() {
	let cfg = Config::test();
	let layout = unit_layout(&cfg, EXPERT);
	// Same names and shapes, F64 data.
	let data: Vec<Vec<u8>> = layout
		.iter()
		.map(|s| vec![0u8; s.shape.iter().product::<usize>() * 8])
		.collect();
	let views: Vec<(String, TensorView)> = layout
		.iter()
		.zip(&data)
		.map(|(s, d)| (s.name.clone(), TensorView::new(Dtype::F64, s.shape.clone(), d).unwrap()))
		.collect();
	let bytes = safetensors::serialize(views, None::<HashMap<String, String>>).unwrap();
	let r = decode_unit(&cfg, EXPERT, &bytes, &payload_root(&bytes));
	assert!(matches!(r, Err(Error::WrongDtype { .. })), "{r:?}");
	// Another expert's payload under this unit's name.
	let other =
		encode_unit(&cfg, UnitId::Expert { layer: 0, expert: 0 }, &init_weights(&cfg, 1).unwrap())
			.unwrap();
	let r = decode_unit(&cfg, EXPERT, &other, &payload_root(&other));
	assert!(matches!(r, Err(Error::WrongTensors { .. })), "{r:?}");
}

#[test]
fn large_units_are_cut_into_four_mebibyte_tiles() {
	// d_model 256, expert hidden 1536: 3 * 256 * 1536 * 4 bytes = 4.5 MiB -> 2 tiles.
	let cfg = Config {
		hidden_size: 256,
		intermediate_size: 1536,
		num_hidden_layers: 2,
		num_local_experts: 4,
		..Config::test()
	};
	let bytes = expert_payload(&cfg);
	assert!(bytes.len() > MAX_TILE_BYTES);
	let info = inspect_payload(&bytes).unwrap();
	assert_eq!(info.tiles.len(), 2);
	assert_eq!(info.tiles[0].1, MAX_TILE_BYTES);
	let expected =
		merkle_root(&[tile_hash(&bytes[..MAX_TILE_BYTES]), tile_hash(&bytes[MAX_TILE_BYTES..])]);
	assert_eq!(info.root, hex::encode(expected));
	assert_eq!(info.tensors.len(), 3);
	assert!(decode_unit(&cfg, EXPERT, &bytes, &expected).is_ok());
}

#[test]
fn dir_store_maps_payloads_and_reports_missing_ones() {
	let dir = tempfile::tempdir().unwrap();
	let store = DirStore::open(dir.path()).unwrap();
	let cfg = Config::test();
	let bytes = expert_payload(&cfg);
	let hash = store.put(&bytes).unwrap();
	assert_eq!(hash, payload_root(&bytes));
	let got = store.fetch(&hash).unwrap();
	assert!(matches!(got, Payload::Mapped(_)), "store files are memory-mapped");
	assert_eq!(&got[..], &bytes[..]);
	assert!(decode_unit(&cfg, EXPERT, &got, &hash).is_ok());
	assert!(matches!(store.fetch(&[9u8; 32]), Err(Error::NotFound(_))));
}

#[test]
fn unit_names_are_the_chains_names_with_one_spelling() {
	use blyan_moe::units::{all_units, UnitId};
	for u in all_units(&blyan_moe::Config::test()) {
		let name = u.to_string();
		assert_eq!(blyan_primitives::UnitName::parse(name.as_bytes()).map(UnitId::from), Some(u));
		assert_eq!(name.parse::<UnitId>().unwrap(), u);
	}
	for bad in ["layer01.expert1", "layer1.expert01", "layer+1.router", "Backbone"] {
		assert!(bad.parse::<UnitId>().is_err(), "{bad}");
	}
}
