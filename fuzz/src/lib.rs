//! # Fuzz harness of the Blyan pallets
//!
//! Drives every dispatchable of the Blyan pallets (content store, model specs, parameter DAG,
//! datasets, Proof-of-Learning) with arbitrary inputs of their bounded types against the real
//! runtime (`blyan-runtime`, native) in `TestExternalities`, advances blocks (running the
//! pallets' `on_initialize`), and after every call checks every pallet's `try_state`
//! invariants ([`check_invariants`]) plus the cross-pallet one that the content store's
//! reference counts equal the references the parameter DAG and the datasets hold.
//!
//! Inputs are random but not blind: a seeded generator ([`Fuzzer`]) mixes well-formed values
//! (known payload roots and tiles, solved proofs of work, accepted parents, approved datasets,
//! commitments it can open later) with malformed ones (unknown hashes, wrong sizes, ratios that
//! do not sum, parameters beyond the limits, the validation dataset, wrong origins), so that
//! calls reach the deep states (claims challenged, reports revealed, votes closed) and every
//! error path. The state starts afresh every `episode` calls.
//!
//! A panic anywhere (dispatch, hook, invariant check) is counted and reported with its call.
//! The documented command (docs/fuzz.md) runs 10^6 calls.

use std::{
	collections::BTreeMap,
	panic::{catch_unwind, AssertUnwindSafe},
};

use blyan_primitives::{
	audit::AuditFigures,
	merkle_root,
	pol::{report_commitment, DatasetShare, EvalReport, ReplayVerdict, TrainingParams, PPM},
	solve_pow, tile_hash, Hash,
};
use blyan_runtime::{
	AccountId, Balance, ContentStore, Dataset, ModelSpec, ParamDag, Pol, Runtime, RuntimeCall,
	RuntimeOrigin, System, UNITS,
};
use frame_support::{traits::Hooks, BoundedVec};
use pallet_param_dag::BlockType;
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use sp_keyring::Sr25519Keyring;
use sp_runtime::{traits::Dispatchable, BuildStorage};

/// Counts of one run.
#[derive(Clone, Debug, Default)]
pub struct Stats {
	/// Calls dispatched.
	pub calls: u64,
	/// Calls that succeeded.
	pub ok: u64,
	/// Calls that failed with an error (and changed nothing).
	pub failed: u64,
	/// Blocks advanced.
	pub blocks: u64,
	/// Panics (dispatch, hooks or invariant checks).
	pub panics: u64,
	/// Invariant violations.
	pub violations: u64,
	/// Per call name: `(succeeded, failed)`.
	pub per_call: BTreeMap<&'static str, (u64, u64)>,
	/// The first findings, for the report.
	pub findings: Vec<String>,
}

impl Stats {
	/// Adds the counts of `other` (another thread's run) to these.
	pub fn merge(&mut self, other: Stats) {
		self.calls += other.calls;
		self.ok += other.ok;
		self.failed += other.failed;
		self.blocks += other.blocks;
		self.panics += other.panics;
		self.violations += other.violations;
		for (name, (ok, failed)) in other.per_call {
			let e = self.per_call.entry(name).or_default();
			e.0 += ok;
			e.1 += failed;
		}
		self.findings.extend(other.findings);
	}
}

/// Every invariant: each pallet's `do_try_state`, and the content store's reference counts.
pub fn check_invariants() -> Result<(), String> {
	let err = |p: &str, e: sp_runtime::TryRuntimeError| format!("{p}: {e:?}");
	ContentStore::do_try_state().map_err(|e| err("content-store", e))?;
	ModelSpec::do_try_state().map_err(|e| err("model-spec", e))?;
	ParamDag::do_try_state().map_err(|e| err("param-dag", e))?;
	Dataset::do_try_state().map_err(|e| err("dataset", e))?;
	Pol::do_try_state().map_err(|e| err("pol", e))?;
	// Every reference a payload holds comes from a live DAG block or dataset, and every such
	// holder is counted (the fuzz state has no genesis pins).
	let mut held: BTreeMap<Hash, u32> = BTreeMap::new();
	for (_, b) in pallet_param_dag::Blocks::<Runtime>::iter() {
		use pallet_param_dag::BlockStatus::*;
		if matches!(b.status, Proposed | Accepted) {
			*held.entry(b.payload_hash).or_default() += 1;
		}
	}
	for (_, d) in pallet_dataset::Datasets::<Runtime>::iter() {
		if !matches!(d.stage, pallet_dataset::Stage::Rejected(_)) {
			*held.entry(d.payload_root).or_default() += 1;
		}
	}
	for (root, m) in pallet_content_store::Manifests::<Runtime>::iter() {
		let expected = held.remove(&root).unwrap_or(0);
		if m.refs != expected {
			return Err(format!("content refs of {root:02x?}: {} stored, {expected} held", m.refs));
		}
	}
	if let Some((root, _)) = held.into_iter().next() {
		return Err(format!("a reference to a payload that does not exist: {root:02x?}"));
	}
	Ok(())
}

fn account(k: Sr25519Keyring) -> AccountId {
	k.to_account_id()
}

/// The seeded input generator and what it knows of the current state.
pub struct Fuzzer {
	rng: ChaCha8Rng,
	validators: Vec<AccountId>,
	others: Vec<AccountId>,
	/// Committed reports the fuzzer can open: (claim, validator) → (report, salt).
	commitments: BTreeMap<(u64, AccountId), (EvalReport, Hash)>,
}

const UNITS_LAYERS: u32 = 2;
const UNITS_EXPERTS: u32 = 4;

impl Fuzzer {
	/// A generator seeded with `seed`.
	pub fn new(seed: u64) -> Self {
		Self {
			rng: ChaCha8Rng::seed_from_u64(seed),
			validators: [Sr25519Keyring::Alice, Sr25519Keyring::Bob, Sr25519Keyring::Charlie]
				.map(account)
				.to_vec(),
			others: [Sr25519Keyring::Dave, Sr25519Keyring::Eve, Sr25519Keyring::Ferdie]
				.map(account)
				.to_vec(),
			commitments: BTreeMap::new(),
		}
	}

	fn below(&mut self, n: u64) -> u64 {
		if n == 0 {
			0
		} else {
			self.rng.next_u64() % n
		}
	}

	fn chance(&mut self, percent: u64) -> bool {
		self.below(100) < percent
	}

	fn pick<T: Clone>(&mut self, items: &[T]) -> Option<T> {
		if items.is_empty() {
			return None;
		}
		Some(items[self.below(items.len() as u64) as usize].clone())
	}

	fn hash(&mut self) -> Hash {
		let mut h = [0u8; 32];
		self.rng.fill_bytes(&mut h);
		h
	}

	fn bytes(&mut self, max: u64) -> Vec<u8> {
		let len = 1 + self.below(max) as usize;
		let mut v = vec![0u8; len];
		self.rng.fill_bytes(&mut v);
		v
	}

	fn any_account(&mut self) -> AccountId {
		let all: Vec<AccountId> =
			self.validators.iter().chain(self.others.iter()).cloned().collect();
		if self.chance(5) {
			// An account that exists nowhere.
			return AccountId::new(self.hash());
		}
		self.pick(&all).expect("accounts exist")
	}

	fn signed(&mut self) -> (RuntimeOrigin, AccountId) {
		let who = self.any_account();
		(RuntimeOrigin::signed(who.clone()), who)
	}

	/// Root, or now and then a signed or an unsigned origin (which the privileged calls
	/// refuse).
	fn privileged(&mut self) -> RuntimeOrigin {
		match self.below(10) {
			0 => RuntimeOrigin::none(),
			1 | 2 => self.signed().0,
			_ => RuntimeOrigin::root(),
		}
	}

	fn known_tiles() -> Vec<Hash> {
		pallet_content_store::Tiles::<Runtime>::iter_keys().collect()
	}

	fn known_payloads() -> Vec<Hash> {
		pallet_content_store::Manifests::<Runtime>::iter_keys().collect()
	}

	fn payload_or_random(&mut self) -> Hash {
		let known = Self::known_payloads();
		if self.chance(85) {
			if let Some(p) = self.pick(&known) {
				return p;
			}
		}
		self.hash()
	}

	fn blocks() -> Vec<Hash> {
		pallet_param_dag::Blocks::<Runtime>::iter_keys().collect()
	}

	fn unit_name(&mut self) -> Vec<u8> {
		match self.below(12) {
			0 => b"backbone".to_vec(),
			1 => format!("layer{}.router", self.below(3)).into_bytes(),
			2 => self.bytes(40),
			3 => b"layer01.expert1".to_vec(),
			_ => format!("layer{}.expert{}", self.below(3), self.below(5)).into_bytes(),
		}
	}

	fn params(&mut self) -> TrainingParams {
		if self.chance(75) {
			let k = 1 + self.below(10) as u32;
			TrainingParams {
				seed: self.rng.next_u64(),
				steps: k * (1 + self.below(32) as u32),
				checkpoint_every: k,
				batch_size: 1 + self.below(32) as u32,
				seq_len: 1 + self.below(128) as u32,
			}
		} else {
			TrainingParams {
				seed: self.rng.next_u64(),
				steps: self.rng.next_u32(),
				checkpoint_every: self.rng.next_u32() % 5,
				batch_size: self.rng.next_u32(),
				seq_len: self.rng.next_u32(),
			}
		}
	}

	fn report(&mut self) -> EvalReport {
		// A handful of reports, so that identical ones are common.
		let replay = match self.below(5) {
			0 => ReplayVerdict::Mismatch,
			1 => ReplayVerdict::Unbound,
			2 => ReplayVerdict::Unavailable,
			_ => ReplayVerdict::Match,
		};
		let candidate =
			[4_900_000_000, 4_990_000_000, 5_100_000_000, u64::MAX][self.below(4) as usize];
		EvalReport {
			parent_loss: 5_000_000_000,
			candidate_loss: candidate,
			replay,
			replay_digest: [self.below(2) as u8; 32],
		}
	}

	/// One random call: its name, origin and call.
	pub fn call(&mut self) -> (&'static str, RuntimeOrigin, RuntimeCall) {
		use pallet_content_store::Call as Cs;
		use pallet_dataset::Call as Ds;
		use pallet_model_spec::Call as Ms;
		use pallet_param_dag::Call as Pd;
		use pallet_pol::Call as Pc;
		match self.below(100) {
			0..=7 => {
				let (o, _) = self.signed();
				let bytes = self.bytes(2048);
				(
					"content_store.publish_tile",
					o,
					RuntimeCall::ContentStore(Cs::publish_tile {
						bytes: BoundedVec::truncate_from(bytes),
					}),
				)
			},
			8..=14 => {
				let (o, _) = self.signed();
				let known = Self::known_tiles();
				let n = 1 + self.below(4) as usize;
				let tiles: Vec<Hash> = (0..n)
					.map(|_| {
						if self.chance(90) {
							self.pick(&known).unwrap_or([1; 32])
						} else {
							self.hash()
						}
					})
					.collect();
				let root = if self.chance(90) { merkle_root(&tiles) } else { self.hash() };
				(
					"content_store.commit_manifest",
					o,
					RuntimeCall::ContentStore(Cs::commit_manifest {
						tiles: BoundedVec::truncate_from(tiles),
						root,
					}),
				)
			},
			15..=16 => {
				let (o, _) = self.signed();
				let root = self.payload_or_random();
				("content_store.prune", o, RuntimeCall::ContentStore(Cs::prune { root }))
			},
			17..=18 => {
				let (o, _) = self.signed();
				let known = Self::known_tiles();
				let hash = self.pick(&known).unwrap_or([2; 32]);
				(
					"content_store.remove_tile",
					o,
					RuntimeCall::ContentStore(Cs::remove_tile { hash }),
				)
			},
			19..=20 => {
				let o = self.privileged();
				let latest = pallet_model_spec::LatestSpec::<Runtime>::get()
					.and_then(pallet_model_spec::Specs::<Runtime>::get);
				let (config, version, generation) = match latest {
					// Half the time a growth step of the latest spec, with the next version and
					// generation, so that `record_migration` has real pairs to record.
					Some(l) if self.chance(50) => {
						let mut c = l.config;
						match self.below(3) {
							0 => {
								c.num_local_experts =
									c.num_local_experts.saturating_add(1 + self.below(3) as u32)
							},
							1 => {
								c.intermediate_size = c
									.intermediate_size
									.saturating_add(16 * (1 + self.below(4) as u32))
							},
							_ => {
								c.num_hidden_layers =
									c.num_hidden_layers.saturating_add(1 + self.below(2) as u32)
							},
						}
						let v = pallet_model_spec::SemVer {
							patch: l.version.patch.saturating_add(1),
							..l.version
						};
						(c, v, l.generation.saturating_add(1))
					},
					_ => {
						let config = pallet_model_spec::EngineConfig {
							vocab_size: [256, 0, 300][self.below(3) as usize],
							hidden_size: 8 * (1 + self.below(20) as u32),
							num_hidden_layers: 1 + self.below(4) as u32,
							num_attention_heads: 1 + self.below(4) as u32,
							max_position_embeddings: 16 * (1 + self.below(8) as u32),
							num_local_experts: self.below(10) as u32,
							num_experts_per_tok: self.below(4) as u32,
							intermediate_size: 16 * self.below(20) as u32,
						};
						let version = pallet_model_spec::SemVer {
							major: self.below(3) as u16,
							minor: self.below(3) as u16,
							patch: self.below(3) as u16,
						};
						(config, version, self.below(4) as u32)
					},
				};
				let routers = (0..config.num_hidden_layers + self.below(2) as u32)
					.map(|_| self.hash())
					.collect();
				(
					"model_spec.register_spec",
					o,
					RuntimeCall::ModelSpec(Ms::register_spec {
						config,
						version,
						generation,
						validation_dataset: (self.below(3) as u32, 1),
						backbone: self.hash(),
						routers: BoundedVec::truncate_from(routers),
					}),
				)
			},
			21 => {
				let o = self.privileged();
				let next = pallet_model_spec::NextSpecId::<Runtime>::get();
				let (from, to) = if next >= 2 && self.chance(70) {
					// Two registered specs, `from` the one before `to` most of the time.
					let to = 1 + self.below(u64::from(next) - 1) as u32;
					let from =
						if self.chance(80) { to - 1 } else { self.below(u64::from(to)) as u32 };
					(from, to)
				} else {
					(self.below(3) as u32, self.below(3) as u32)
				};
				let specs = (
					pallet_model_spec::Specs::<Runtime>::get(from),
					pallet_model_spec::Specs::<Runtime>::get(to),
				);
				let kind = match specs {
					// The kind that describes the difference, when there is one.
					(Some(f), Some(t)) if self.chance(80) => growth(&f.config, &t.config),
					_ => None,
				};
				let kind = kind.unwrap_or_else(|| match self.below(3) {
					0 => {
						pallet_model_spec::MigrationKind::AddExperts { added: self.below(4) as u32 }
					},
					1 => pallet_model_spec::MigrationKind::WidenFfn {
						new_intermediate_size: 16 * self.below(40) as u32,
					},
					_ => {
						pallet_model_spec::MigrationKind::AddLayers { added: self.below(3) as u32 }
					},
				});
				(
					"model_spec.record_migration",
					o,
					RuntimeCall::ModelSpec(Ms::record_migration { from, to, kind }),
				)
			},
			22..=29 => {
				let (o, who) = self.signed();
				let name = self.unit_name();
				let layer = match blyan_primitives::UnitName::parse(&name) {
					Some(blyan_primitives::UnitName::Expert { layer, .. }) => layer,
					Some(blyan_primitives::UnitName::Router { layer }) => layer,
					_ => self.below(3) as u32,
				};
				let block_type =
					[BlockType::Expert, BlockType::Router, BlockType::Meta][self.below(3) as usize];
				let known = Self::blocks();
				let deps: Vec<Hash> = (0..self.below(3))
					.map(|_| {
						if self.chance(80) {
							self.pick(&known).unwrap_or([3; 32])
						} else {
							self.hash()
						}
					})
					.collect();
				let payload = self.payload_or_random();
				let size =
					match <ContentStore as blyan_primitives::ContentStore>::payload_len(&payload) {
						Some(len) if self.chance(90) => len,
						_ => self.below(10_000),
					};
				let spec = if self.chance(90) { 0 } else { self.below(5) as u32 };
				let name: pallet_param_dag::NameOf<Runtime> = BoundedVec::truncate_from(name);
				let deps: pallet_param_dag::DepsOf<Runtime> = BoundedVec::truncate_from(deps);
				let nonce = if self.chance(85) {
					let header = ParamDag::header_without_nonce(
						spec, &name, layer, block_type, &deps, &payload, size, &who,
					);
					solve_pow(&header, 8)
				} else {
					self.rng.next_u64()
				};
				(
					"param_dag.propose_block",
					o,
					RuntimeCall::ParamDag(Pd::propose_block {
						spec,
						expert_name: name,
						layer_id: layer,
						block_type,
						depends_on: deps,
						payload_hash: payload,
						payload_size: size,
						nonce,
					}),
				)
			},
			30..=33 => {
				let o = self.privileged();
				let known = Self::blocks();
				let id = if self.chance(90) {
					self.pick(&known).unwrap_or([4; 32])
				} else {
					self.hash()
				};
				if self.chance(50) {
					("param_dag.accept_block", o, RuntimeCall::ParamDag(Pd::accept_block { id }))
				} else {
					("param_dag.reject_block", o, RuntimeCall::ParamDag(Pd::reject_block { id }))
				}
			},
			34..=41 => {
				let (o, _) = self.signed();
				let name = BoundedVec::truncate_from(self.bytes(20));
				let version = 1 + self.below(3) as u32;
				let content_root = if self.chance(90) {
					self.hash()
				} else {
					pallet_dataset::ByRoot::<Runtime>::iter_keys().next().unwrap_or([5; 32])
				};
				let licence: &[u8] = match self.below(4) {
					0 => b"proprietary",
					1 => b"MIT",
					_ => b"CC-BY-4.0",
				};
				let payload_root = self.payload_or_random();
				let hashes: Vec<Hash> = (0..self.below(5)).map(|_| self.hash()).collect();
				let pow = Dataset::pow_payload(&name, version, &content_root);
				let nonce = if self.chance(85) { solve_pow(&pow, 8) } else { self.rng.next_u64() };
				(
					"dataset.submit_dataset",
					o,
					RuntimeCall::Dataset(Ds::submit_dataset {
						name,
						version,
						licence: BoundedVec::truncate_from(licence.to_vec()),
						source_uri: BoundedVec::truncate_from(b"file:///fuzz".to_vec()),
						total_bytes: self.below(3) * 1_000,
						samples: self.below(3) * 10,
						content_root,
						payload_root,
						sample_hashes: BoundedVec::truncate_from(hashes),
						nonce,
					}),
				)
			},
			42..=46 => {
				let o = if self.chance(50) {
					let v = self.pick(&self.validators.clone()).expect("validators");
					RuntimeOrigin::signed(v)
				} else {
					self.privileged()
				};
				let id = self.below(u64::from(pallet_dataset::NextDatasetId::<Runtime>::get()) + 2)
					as u32;
				let f = |x: u64| (x % 1_200) as u16;
				let report = if self.chance(70) {
					AuditFigures { english_permille: 1000, ..Default::default() }
				} else {
					AuditFigures {
						toxicity_permille: f(self.rng.next_u64()),
						duplicate_permille: f(self.rng.next_u64()),
						pii_permille: f(self.rng.next_u64()),
						english_permille: f(self.rng.next_u64()),
						out_of_range_permille: f(self.rng.next_u64()),
						validation_overlap: (self.below(3) as u32).saturating_sub(1),
					}
				};
				("dataset.report_audit", o, RuntimeCall::Dataset(Ds::report_audit { id, report }))
			},
			47..=51 => {
				let (o, _) = self.signed();
				let id = self.below(u64::from(pallet_dataset::NextDatasetId::<Runtime>::get()) + 2)
					as u32;
				let approve = self.chance(80);
				("dataset.vote", o, RuntimeCall::Dataset(Ds::vote { id, approve }))
			},
			52..=53 => {
				let (o, _) = self.signed();
				let id = self.below(u64::from(pallet_dataset::NextDatasetId::<Runtime>::get()) + 2)
					as u32;
				("dataset.finalize_vote", o, RuntimeCall::Dataset(Ds::finalize_vote { id }))
			},
			54..=65 => {
				let (o, who) = self.signed();
				// One to three units, sometimes the same one twice.
				let mut units = Vec::new();
				let most = if self.chance(70) { 1 } else { 3 };
				for _ in 0..1 + self.below(most) {
					let unit = format!("layer0.expert{}", self.below(u64::from(UNITS_EXPERTS)));
					let parent = if self.chance(85) {
						ParamDag::accepted(unit.as_bytes()).unwrap_or([6; 32])
					} else {
						self.pick(&Self::blocks()).unwrap_or([7; 32])
					};
					let payload_root = self.payload_or_random();
					let nonce = if self.chance(85) {
						ParamDag::child_nonce(&who, &parent, &payload_root).unwrap_or(0)
					} else {
						self.rng.next_u64()
					};
					units.push(pallet_pol::UnitUpdate { parent, payload_root, nonce });
				}
				let now = System::block_number();
				let base = if self.chance(90) {
					now.saturating_sub(1 + self.below(5) as u32)
				} else {
					now.saturating_add(self.below(3) as u32)
						.saturating_sub(1 + self.below(200) as u32)
				};
				let approved: Vec<u32> =
					Dataset::approved_datasets().into_iter().map(|(id, _)| id).collect();
				let n = 1 + self.below(3) as usize;
				let mut ids: Vec<u32> = (0..n).filter_map(|_| self.pick(&approved)).collect();
				ids.sort();
				ids.dedup();
				if self.chance(10) {
					ids.push(self.below(8) as u32);
				}
				let mut shares: Vec<DatasetShare> = ids
					.iter()
					.map(|d| DatasetShare { dataset: *d, ratio_ppm: PPM / ids.len().max(1) as u32 })
					.collect();
				if let Some(first) = shares.first_mut() {
					let sum: u32 = (PPM / ids.len().max(1) as u32) * ids.len() as u32;
					if self.chance(90) {
						first.ratio_ppm += PPM - sum;
					}
				}
				let min: Balance =
					<blyan_runtime::configs::MinClaimBond as frame_support::traits::Get<Balance>>::get();
				let bond =
					if self.chance(85) { min + self.below(2) as Balance * UNITS } else { min - 1 };
				let input = pallet_pol::ClaimInput {
					units: BoundedVec::truncate_from(units),
					base,
					manifest_root: self.payload_or_random(),
					datasets: BoundedVec::truncate_from(shares),
					params: self.params(),
					claimed_loss: [4_900_000_000, 4_990_000_000, 1][self.below(3) as usize],
					eval_root: self.payload_or_random(),
				};
				("pol.submit_claim", o, RuntimeCall::Pol(Pc::submit_claim { input, bond }))
			},
			66..=75 => {
				let claim = self.below(pallet_pol::NextClaimId::<Runtime>::get() + 1);
				let validators = self.validators.clone();
				let v = if self.chance(90) {
					self.pick(&validators).expect("validators")
				} else {
					self.any_account()
				};
				let commitment = if self.chance(80) {
					let report = self.report();
					let salt = self.hash();
					self.commitments.insert((claim, v.clone()), (report, salt));
					report_commitment(claim, &v, &report, &salt)
				} else {
					self.hash()
				};
				(
					"pol.commit_report",
					RuntimeOrigin::signed(v),
					RuntimeCall::Pol(Pc::commit_report { claim, commitment }),
				)
			},
			76..=87 => {
				let claim = self.below(pallet_pol::NextClaimId::<Runtime>::get() + 1);
				let validators = self.validators.clone();
				let v = self.pick(&validators).expect("validators");
				let own = self.commitments.get(&(claim, v.clone())).copied();
				let (report, salt) = match own {
					Some(x) if self.chance(85) => x,
					// Someone else's report and salt (a copier), or garbage.
					_ => {
						let other = self
							.commitments
							.iter()
							.find(|((c, _), _)| *c == claim)
							.map(|(_, x)| *x);
						other.unwrap_or_else(|| (self.report(), self.hash()))
					},
				};
				(
					"pol.reveal_report",
					RuntimeOrigin::signed(v),
					RuntimeCall::Pol(Pc::reveal_report { claim, report, salt }),
				)
			},
			_ => (
				// Now and then time passes beyond every retention period and window.
				if self.chance(1) { "blocks.past_retention" } else { "blocks" },
				RuntimeOrigin::none(),
				RuntimeCall::System(frame_system::Call::remark { remark: vec![] }),
			),
		}
	}
}

/// Moves to the next block: records a parent hash (the challenge seed) and runs the Blyan
/// pallets' `on_initialize`.
pub fn next_block(rng_hash: Hash) {
	let now = System::block_number();
	frame_system::BlockHash::<Runtime>::insert(now, sp_core::H256(rng_hash));
	System::reset_events();
	let next = now + 1;
	System::set_block_number(next);
	<Pol as Hooks<u32>>::on_initialize(next);
	<Dataset as Hooks<u32>>::on_initialize(next);
}

/// Lets time pass beyond the content store's `RetentionPeriod` (7 days of blocks), so that
/// `prune` and the other age rules are reached: runs blocks until no challenge, decision or
/// vote close is scheduled, then skips the empty blocks up to `RetentionPeriod + 1` blocks after
/// the start. With nothing scheduled the hooks of the skipped blocks would do nothing, so
/// skipping them is the same as running them. Returns the blocks run (not skipped).
pub fn pass_retention(rng_hash: Hash) -> u64 {
	let start = System::block_number();
	let target = start + blyan_runtime::configs::RetentionPeriod::get() + 1;
	let scheduled = || {
		pallet_pol::Challenges::<Runtime>::iter_keys().next().is_some()
			|| pallet_pol::Decisions::<Runtime>::iter_keys().next().is_some()
			|| pallet_dataset::Closing::<Runtime>::iter_keys().next().is_some()
	};
	let mut ran = 0;
	while System::block_number() < target && scheduled() {
		next_block(rng_hash);
		ran += 1;
	}
	if System::block_number() < target {
		System::set_block_number(target - 1);
		next_block(rng_hash);
		ran += 1;
	}
	ran
}

/// The growth step that turns `from` into `to`, if one does ([`MigrationKind::matches`]).
///
/// [`MigrationKind::matches`]: pallet_model_spec::MigrationKind::matches
fn growth(
	from: &pallet_model_spec::EngineConfig,
	to: &pallet_model_spec::EngineConfig,
) -> Option<pallet_model_spec::MigrationKind> {
	use pallet_model_spec::MigrationKind::*;
	[
		AddExperts { added: to.num_local_experts.wrapping_sub(from.num_local_experts) },
		WidenFfn { new_intermediate_size: to.intermediate_size },
		AddLayers { added: to.num_hidden_layers.wrapping_sub(from.num_hidden_layers) },
	]
	.into_iter()
	.find(|k| k.matches(from, to))
}

/// The state every episode starts from: three validators (Alice, Bob, Charlie as Aura
/// authorities), six funded accounts, a model spec, four accepted expert blocks, and the
/// validation set (dataset 0) plus two training datasets, approved through the real calls.
pub fn genesis() -> sp_io::TestExternalities {
	let validators = [Sr25519Keyring::Alice, Sr25519Keyring::Bob, Sr25519Keyring::Charlie];
	let mut t = frame_system::GenesisConfig::<Runtime>::default()
		.build_storage()
		.expect("genesis");
	pallet_balances::GenesisConfig::<Runtime> {
		balances: Sr25519Keyring::iter().map(|k| (k.to_account_id(), 1_000_000 * UNITS)).collect(),
		..Default::default()
	}
	.assimilate_storage(&mut t)
	.expect("balances");
	pallet_aura::GenesisConfig::<Runtime> {
		authorities: validators
			.iter()
			.map(|k| sp_consensus_aura::sr25519::AuthorityId::from(k.public()))
			.collect(),
	}
	.assimilate_storage(&mut t)
	.expect("aura");
	let mut ext = sp_io::TestExternalities::new(t);
	ext.execute_with(|| {
		System::set_block_number(1);
		let alice = RuntimeOrigin::signed(account(Sr25519Keyring::Alice));
		let ok = |r: sp_runtime::DispatchResultWithInfo<_>, what: &str| {
			if let Err(e) = r {
				panic!("fuzz genesis: {what}: {e:?}");
			}
		};
		let publish = |bytes: Vec<u8>| -> (Hash, u64) {
			let tile = tile_hash(&bytes);
			let len = bytes.len() as u64;
			ok(
				RuntimeCall::ContentStore(pallet_content_store::Call::publish_tile {
					bytes: BoundedVec::truncate_from(bytes),
				})
				.dispatch(alice.clone()),
				"publish",
			);
			let root = merkle_root(&[tile]);
			ok(
				RuntimeCall::ContentStore(pallet_content_store::Call::commit_manifest {
					tiles: BoundedVec::truncate_from(vec![tile]),
					root,
				})
				.dispatch(alice.clone()),
				"commit",
			);
			(root, len)
		};
		ok(
			RuntimeCall::ModelSpec(pallet_model_spec::Call::register_spec {
				config: pallet_model_spec::EngineConfig {
					vocab_size: 256,
					hidden_size: 32,
					num_hidden_layers: UNITS_LAYERS,
					num_attention_heads: 2,
					max_position_embeddings: 64,
					num_local_experts: UNITS_EXPERTS,
					num_experts_per_tok: 2,
					intermediate_size: 64,
				},
				version: pallet_model_spec::SemVer { major: 0, minor: 1, patch: 0 },
				generation: 0,
				validation_dataset: (0, 1),
				backbone: [0xbb; 32],
				routers: BoundedVec::truncate_from(vec![[0xcc; 32]; UNITS_LAYERS as usize]),
			})
			.dispatch(RuntimeOrigin::root()),
			"spec",
		);
		for e in 0..UNITS_EXPERTS {
			let (root, len) = publish(format!("genesis expert {e}").into_bytes());
			let name: pallet_param_dag::NameOf<Runtime> =
				BoundedVec::truncate_from(format!("layer0.expert{e}").into_bytes());
			let who = account(Sr25519Keyring::Alice);
			let header = ParamDag::header_without_nonce(
				0,
				&name,
				0,
				BlockType::Expert,
				&[],
				&root,
				len,
				&who,
			);
			let nonce = solve_pow(&header, 8);
			let id =
				ParamDag::block_id(0, &name, 0, BlockType::Expert, &[], &root, len, &who, nonce);
			ok(
				RuntimeCall::ParamDag(pallet_param_dag::Call::propose_block {
					spec: 0,
					expert_name: name,
					layer_id: 0,
					block_type: BlockType::Expert,
					depends_on: Default::default(),
					payload_hash: root,
					payload_size: len,
					nonce,
				})
				.dispatch(alice.clone()),
				"propose",
			);
			ok(
				RuntimeCall::ParamDag(pallet_param_dag::Call::accept_block { id })
					.dispatch(RuntimeOrigin::root()),
				"accept",
			);
		}
		for (i, name) in ["validation", "wisdom", "humor"].iter().enumerate() {
			let (text, _) = publish(format!("{name} text\n%\nmore {name}\n").into_bytes());
			let name: BoundedVec<u8, _> = BoundedVec::truncate_from(name.as_bytes().to_vec());
			let content_root = tile_hash(&[i as u8; 7]);
			let nonce = solve_pow(&Dataset::pow_payload(&name, 1, &content_root), 8);
			ok(
				RuntimeCall::Dataset(pallet_dataset::Call::submit_dataset {
					name,
					version: 1,
					licence: BoundedVec::truncate_from(b"CC0-1.0".to_vec()),
					source_uri: BoundedVec::truncate_from(b"file:///fuzz".to_vec()),
					total_bytes: 100,
					samples: 2,
					content_root,
					payload_root: text,
					sample_hashes: Default::default(),
					nonce,
				})
				.dispatch(alice.clone()),
				"dataset",
			);
			ok(
				RuntimeCall::Dataset(pallet_dataset::Call::report_audit {
					id: i as u32,
					report: AuditFigures { english_permille: 1000, ..Default::default() },
				})
				.dispatch(RuntimeOrigin::root()),
				"audit",
			);
			for v in validators {
				ok(
					RuntimeCall::Dataset(pallet_dataset::Call::vote {
						id: i as u32,
						approve: true,
					})
					.dispatch(RuntimeOrigin::signed(v.to_account_id())),
					"vote",
				);
			}
		}
		for _ in 0..=blyan_runtime::configs::VoteWindow::get() {
			next_block([9; 32]);
		}
		assert_eq!(Dataset::approved_datasets().len(), 3, "fuzz genesis: datasets approved");
		if let Err(e) = check_invariants() {
			panic!("fuzz genesis breaks an invariant: {e}");
		}
	});
	ext
}

/// Runs `calls` random calls from seed `seed`, starting afresh every `episode` calls;
/// `progress` sees the counts every 10 000 calls.
pub fn run(calls: u64, seed: u64, episode: u64, progress: &mut dyn FnMut(&Stats)) -> Stats {
	let mut stats = Stats::default();
	let mut fuzzer = Fuzzer::new(seed);
	let mut ext = genesis();
	let mut in_episode = 0u64;
	let note = |stats: &mut Stats, what: String| {
		if stats.findings.len() < 20 {
			stats.findings.push(what);
		}
	};
	while stats.calls < calls {
		if in_episode >= episode {
			ext = genesis();
			fuzzer.commitments.clear();
			in_episode = 0;
		}
		ext.execute_with(|| {
			let (name, origin, call) = fuzzer.call();
			stats.calls += 1;
			in_episode += 1;
			// Kept to describe a panic; formatting it for every call would dominate the run.
			let kept = call.clone();
			let outcome = if name == "blocks.past_retention" {
				let seed = fuzzer.hash();
				catch_unwind(AssertUnwindSafe(|| stats.blocks += pass_retention(seed)))
					.map(|_| true)
			} else if name == "blocks" {
				let blocks = 1 + fuzzer.below(3);
				let seeds: Vec<Hash> = (0..blocks).map(|_| fuzzer.hash()).collect();
				stats.blocks += blocks;
				catch_unwind(AssertUnwindSafe(|| {
					for h in seeds {
						next_block(h);
					}
				}))
				.map(|_| true)
			} else {
				catch_unwind(AssertUnwindSafe(|| call.dispatch(origin).is_ok()))
			};
			match outcome {
				Ok(ok) => {
					let e = stats.per_call.entry(name).or_default();
					if ok {
						stats.ok += 1;
						e.0 += 1;
					} else {
						stats.failed += 1;
						e.1 += 1;
					}
				},
				Err(_) => {
					stats.panics += 1;
					let described = format!("{kept:?}");
					let end = described.char_indices().nth(300).map_or(described.len(), |(i, _)| i);
					note(&mut stats, format!("panic in {name}: {}", &described[..end]));
				},
			}
			match catch_unwind(check_invariants) {
				Ok(Ok(())) => {},
				Ok(Err(e)) => {
					stats.violations += 1;
					note(&mut stats, format!("after {name}: {e}"));
					// Start afresh: a broken state only repeats the finding.
					in_episode = episode;
				},
				Err(_) => {
					stats.panics += 1;
					note(&mut stats, format!("panic in the invariant check after {name}"));
					in_episode = episode;
				},
			}
		});
		if stats.calls % 10_000 == 0 {
			progress(&stats);
		}
	}
	stats
}
