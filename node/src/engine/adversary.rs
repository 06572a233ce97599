//! Test instruments for the end-to-end tests: hooks through which a node's engine can be
//! made to cheat, so that the tests can check that the chain rejects the cheat
//! (docs/pol.md, "Threats").
//!
//! The engine calls the hooks of an [`Adversary`] at fixed points. [`Honest`], the only
//! implementation a release build has, changes nothing. [`Cheat`], the cheating one, and the
//! hidden `--adversary` flag that selects it exist only in binaries built with
//! `--features adversary` (scripts/test.sh builds one for the e2e tests, beside the release
//! binary).

use blyan_engine_interface::TrainingParams;
use blyan_moe::{data::Dataset, store::UnitStore, train::Manifest};

/// A training run after training, before its manifest is stored: what a cheating trainer may
/// alter. (Only [`Cheat`] reads it; an honest build never does.)
#[cfg_attr(not(feature = "adversary"), allow(dead_code))]
pub struct TrainedRun<'a> {
	/// The manifest (naming what the job asked for).
	pub manifest: &'a mut Manifest,
	/// The run's store: the chain's payloads and the run's new ones; new payloads go here.
	pub store: &'a dyn UnitStore,
	/// The trained units.
	pub units: &'a std::collections::BTreeSet<blyan_moe::units::UnitId>,
	/// The datasets the job named, in order.
	pub named: &'a [Dataset],
	/// The mixing ratios the job named, ppm.
	pub ratios: &'a [u32],
	/// The batch seed the job named.
	pub seed: u64,
	/// The spec's validation text.
	pub validation: &'a [u8],
}

/// Hooks of a cheating engine. Every method's default does the honest thing.
pub trait Adversary: Send + Sync {
	/// The data, mixing ratios and seed the trainer actually trains on (the manifest is written
	/// afterwards from the job's own, see [`Adversary::tamper_run`]).
	fn training_data(
		&self,
		named: Vec<Dataset>,
		ratios: Vec<u32>,
		seed: u64,
	) -> Result<(Vec<Dataset>, Vec<u32>, u64), String> {
		Ok((named, ratios, seed))
	}

	/// Alters a finished run before its manifest is stored.
	fn tamper_run(&self, _run: &mut TrainedRun) -> Result<(), String> {
		Ok(())
	}

	/// The training parameters the trainer's claim states.
	fn claimed_params(&self, params: TrainingParams) -> TrainingParams {
		params
	}

	/// The validation loss the trainer's claim states, nano-nats per byte.
	fn claimed_loss(&self, loss: u64) -> u64 {
		loss
	}

	/// Alters the trainer's evaluation record before it is stored; returns whether it did
	/// (the claim then states the altered record's totals).
	fn tamper_record(&self, _record: &mut blyan_moe::eval::EvalRecord) -> bool {
		false
	}

	/// The losses a validator reports, nano-nats per byte.
	fn reported_losses(&self, parent: u64, candidate: u64) -> (u64, u64) {
		(parent, candidate)
	}

	/// Whether the trainer measures its run's losses. A cheat whose claim fails its replay
	/// whatever it claims may skip the evaluation and claim [`UNMEASURED_LOSSES`] (it saves the
	/// e2e tests' CPU; the claim is still sent, since the made-up gain is above δ).
	fn measures_losses(&self) -> bool {
		true
	}
}

/// `(parent, trained)` losses a trainer that does not measure claims: a 10 % gain, nano-nats
/// per byte.
pub const UNMEASURED_LOSSES: (u64, u64) = (5_000_000_000, 4_500_000_000);

/// The honest engine: every hook is the default.
pub struct Honest;

impl Adversary for Honest {}

#[cfg(feature = "adversary")]
pub use cheat::Cheat;

#[cfg(feature = "adversary")]
mod cheat {
	use super::*;
	use blyan_moe::{
		data::{ratios_ppm, Dataset, DatasetClaim},
		optim::AdamWParams,
		store::parse_hash,
		train::{train, TrainParams},
	};

	/// One way to cheat (`--adversary <kind>`).
	#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
	pub enum Cheat {
		/// The trainer claims a validation loss 10 % below what its payload has.
		InflateClaim,
		/// The trainer's manifest lists forged checkpoints: every checkpoint between the first
		/// and the last has one mantissa bit flipped, so no segment replays.
		ForgeCheckpoint,
		/// The trainer trains on other data than the datasets its manifest and claim name.
		MisnameDatasets,
		/// The trainer trains honestly, then tunes the result on the validation set and
		/// claims the tuned weights: the result is not the last checkpoint.
		UnboundResult,
		/// The trainer's claim states one segment (steps = K) while its manifest has many.
		UnderstateSegments,
		/// The trainer's manifest asks for batches of 2^28 rows of 2^20 bytes (its claim
		/// states the real parameters): a resource bomb for validators.
		BombManifest,
		/// The validator reports a candidate loss 1 % above what it measured.
		WrongLoss,
		/// The trainer's evaluation record states the candidate's loss 5 % lower than measured
		/// in every window, and its claim the record's total.
		UnderstateWindows,
	}

	impl Adversary for Cheat {
		fn training_data(
			&self,
			named: Vec<Dataset>,
			ratios: Vec<u32>,
			seed: u64,
		) -> Result<(Vec<Dataset>, Vec<u32>, u64), String> {
			if *self != Cheat::MisnameDatasets {
				return Ok((named, ratios, seed));
			}
			// Every named dataset but the first, or another batch seed when only one is
			// named.
			if named.len() > 1 {
				let rest = named[1..].to_vec();
				let ratios = ratios_ppm(&vec![1; rest.len()]).map_err(|e| e.to_string())?;
				Ok((rest, ratios, seed))
			} else {
				Ok((named, ratios, seed ^ 0x5eed))
			}
		}

		fn tamper_run(&self, run: &mut TrainedRun) -> Result<(), String> {
			let m = &mut *run.manifest;
			match self {
				Cheat::MisnameDatasets => {
					// The manifest names what was asked, not what was trained on.
					m.params.seed = run.seed;
					m.datasets = run
						.named
						.iter()
						.zip(run.ratios)
						.map(|(d, r)| DatasetClaim {
							name: d.name.clone(),
							content_root: hex::encode(d.content_root()),
							samples: d.samples.len() as u64,
							ratio_ppm: *r,
						})
						.collect();
				},
				Cheat::ForgeCheckpoint => {
					// Every checkpoint between the first and the last: the segments were "skipped",
					// and the last one still holds the claimed result.
					let last = m.checkpoints.len().saturating_sub(1);
					for c in m.checkpoints.iter_mut().take(last).skip(1) {
						let root = parse_hash("checkpoint", c).map_err(|e| e.to_string())?;
						let mut bytes = run.store.fetch(&root).map_err(|e| e.to_string())?.to_vec();
						// The lowest mantissa byte of the last f32 of the last tensor.
						let at = bytes.len().saturating_sub(4);
						bytes[at] ^= 1;
						*c = hex::encode(run.store.put(&bytes).map_err(|e| e.to_string())?);
					}
				},
				Cheat::UnboundResult => {
					// Ten more steps on the validation text from the trained model.
					let validation = String::from_utf8_lossy(run.validation).into_owned();
					let val =
						Dataset::from_text("validation", &validation).map_err(|e| e.to_string())?;
					let params = TrainParams {
						seed: 1,
						steps: 10,
						batch_size: m.params.batch_size,
						seq_len: m.params.seq_len,
						checkpoint_every: 10,
						validation_permille: 0,
						adamw: AdamWParams::with_lr(m.params.adamw.lr),
					};
					let tuned = train(
						&m.result_index(),
						run.store,
						run.units,
						&[val],
						&[blyan_moe::data::PPM],
						&params,
						&mut |_| Ok(()),
					)
					.map_err(|e| e.to_string())?;
					m.result.extend(tuned.manifest.result);
				},
				Cheat::BombManifest => {
					m.params.batch_size = 1 << 28;
					m.params.seq_len = 1 << 20;
				},
				_ => {},
			}
			Ok(())
		}

		fn claimed_params(&self, params: TrainingParams) -> TrainingParams {
			if *self == Cheat::UnderstateSegments {
				TrainingParams { steps: params.checkpoint_every, ..params }
			} else {
				params
			}
		}

		fn claimed_loss(&self, loss: u64) -> u64 {
			if *self == Cheat::InflateClaim {
				loss - loss / 10
			} else {
				loss
			}
		}

		fn reported_losses(&self, parent: u64, candidate: u64) -> (u64, u64) {
			if *self == Cheat::WrongLoss {
				(parent, candidate.saturating_add(candidate / 100))
			} else {
				(parent, candidate)
			}
		}

		fn measures_losses(&self) -> bool {
			// These claims fail their replay first; only the inflated claim and the lying record
			// replay and are evaluated by the validators, so they start from measured losses.
			matches!(self, Cheat::InflateClaim | Cheat::WrongLoss | Cheat::UnderstateWindows)
		}

		fn tamper_record(&self, record: &mut blyan_moe::eval::EvalRecord) -> bool {
			if *self != Cheat::UnderstateWindows {
				return false;
			}
			for (_, c) in record.windows.iter_mut() {
				*c -= *c / 20;
			}
			true
		}
	}
}
