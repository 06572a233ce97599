//! Test runtime for the trainer's worker: the real content store and Proof-of-Learning
//! pallets, the shared in-memory parameter DAG (`blyan_test_support::dag`), and the shared
//! fake engine answering every training job with fixed outputs.

use crate as pallet_trainer;
use blyan_engine_interface::{Hash, Job, JobOutput, JobStatus};
use blyan_primitives::{pol::ManifestLimits, DatasetId};
use blyan_test_support::{dag, FakeEngine};
use frame_support::{
	derive_impl, parameter_types,
	traits::{ConstU32, ConstU64},
};
use sp_runtime::{BuildStorage, Perbill};

type Block = frame_system::mocking::MockBlock<Test>;

frame_support::construct_runtime!(
	pub enum Test {
		System: frame_system,
		Balances: pallet_balances,
		ContentStore: pallet_content_store,
		Pol: pallet_pol,
		Trainer: pallet_trainer,
	}
);

#[derive_impl(frame_system::config_preludes::TestDefaultConfig)]
impl frame_system::Config for Test {
	type Block = Block;
	type AccountData = pallet_balances::AccountData<u64>;
}

#[derive_impl(pallet_balances::config_preludes::TestDefaultConfig)]
impl pallet_balances::Config for Test {
	type AccountStore = System;
	type RuntimeHoldReason = RuntimeHoldReason;
}

impl pallet_content_store::Config for Test {
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type MaxTileBytes = ConstU32<1024>;
	type MaxTilesPerManifest = ConstU32<8>;
	type TileDepositBase = ConstU64<1>;
	type TileDepositPerByte = ConstU64<0>;
	type RetentionPeriod = ConstU64<1000>;
	type WeightInfo = ();
}

blyan_test_support::impl_offchain_signing!(Test);

/// The trainer's account.
pub const TRAINER: u64 = 1;
/// Creators of datasets 1 and 2.
pub const CREATORS: [u64; 2] = [20, 21];
/// The experts of the mock model.
pub const UNITS: [&[u8]; 2] = [b"layer0.expert0", b"layer0.expert1"];

/// The shared mock DAG over the real content store.
pub struct MockDag;
blyan_test_support::impl_mock_param_dag!(MockDag, |p| {
	<ContentStore as blyan_primitives::ContentStore>::has_payload(p)
});

pub struct MockDatasets;
impl pallet_pol::Datasets<u64> for MockDatasets {
	fn approved_creator(id: DatasetId) -> Option<u64> {
		[1u32, 2].iter().position(|d| *d == id).map(|i| CREATORS[i])
	}
	fn validation_dataset() -> Option<DatasetId> {
		Some(0)
	}
}

pub struct MockValidators;
impl pallet_pol::Validators<u64> for MockValidators {
	fn is_validator(who: &u64) -> bool {
		(10..=12).contains(who)
	}
	fn count() -> u32 {
		3
	}
}

parameter_types! {
	pub const SlashFraction: Perbill = Perbill::from_percent(100);
	pub const ExpiryFee: Perbill = Perbill::from_percent(5);
	pub const Limits: ManifestLimits = ManifestLimits {
		max_steps: 1_000,
		max_segments: 32,
		max_batch_size: 16,
		max_seq_len: 64,
		max_tokens_per_step: 1_024,
		max_manifest_bytes: 100_000,
	};
	/// Both mock units fit one claim unless a test lowers it.
	pub static MaxClaimPayloadBytes: u64 = 2 * UNIT_BYTES;
	/// Datasets 1 (Gold) and 2 (Silver).
	pub static Approved: Vec<(DatasetId, u32)> = vec![(1, 1000), (2, 700)];
}

impl pallet_pol::Config for Test {
	type AuthorityId = blyan_test_support::TestAuthId;
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type Dag = MockDag;
	type Datasets = MockDatasets;
	type Validators = MockValidators;
	type MinBond = ConstU64<2_000>;
	type TrainerReward = ConstU64<50>;
	type DataReward = ConstU64<10>;
	type SlashFraction = SlashFraction;
	type ExpiryFee = ExpiryFee;
	type MinImprovement = ConstU32<5_000>;
	type ClaimTolerance = ConstU32<10_000>;
	type DeviationTolerance = ConstU32<1>;
	type ChallengeDelay = ConstU64<2>;
	type CommitWindow = ConstU64<10>;
	type RevealWindow = ConstU64<4>;
	type ReplaySegments = ConstU32<2>;
	type ManifestLimits = Limits;
	type MaxDatasets = ConstU32<4>;
	type MaxUnitNameLen = ConstU32<32>;
	type MaxUnitsPerClaim = ConstU32<4>;
	type MaxBaseAge = ConstU64<30>;
	type MaxValidators = ConstU32<8>;
	type MaxClaimsPerBlock = ConstU32<4>;
	type DayLength = ConstU64<1000>;
	type NewbieDailyClaims = ConstU32<5>;
	type TrustedDailyClaims = ConstU32<50>;
	type WeightInfo = ();
}

pub struct Inputs;
impl crate::TrainingData for Inputs {
	fn approved() -> Vec<(DatasetId, u32)> {
		Approved::get()
	}
}
impl crate::TrainableUnits for Inputs {
	fn units() -> Vec<(Vec<u8>, u64)> {
		UNITS.iter().map(|u| (u.to_vec(), UNIT_BYTES)).collect()
	}
}

impl pallet_trainer::Config for Test {
	type Data = Inputs;
	type Units = Inputs;
	type MaxClaimPayloadBytes = MaxClaimPayloadBytes;
	type Steps = ConstU32<40>;
	type CheckpointEvery = ConstU32<10>;
	type BatchSize = ConstU32<16>;
	type SeqLen = ConstU32<64>;
}

/// The payload size the mock reports for each unit, bytes.
pub const UNIT_BYTES: u64 = 1_000;

/// Parent loss the fake engine reports, nano-nats per byte.
pub const PARENT_LOSS: u64 = 5_000_000_000;

/// The fake run's payloads in the engine: one per unit of [`UNITS`], the manifest, and
/// `[ckpt0..=ckpt4]`.
pub struct FakeRun {
	pub units: Vec<Hash>,
	pub manifest: Hash,
	pub record: Hash,
	/// The evaluation record made again by `EvaluateClaim`.
	pub record_again: Hash,
	pub checkpoints: Vec<Hash>,
}

/// Makes `engine` answer every `Train` job with a finished run of trained loss `loss` whose
/// payloads it holds (one tile each; each unit of [`UNITS`] has its own payload), and every
/// `EvaluateClaim` job with the parent loss and `loss`; any other job fails.
pub fn finish_training(engine: &FakeEngine, loss: u64) -> FakeRun {
	let run = FakeRun {
		units: UNITS
			.iter()
			.map(|u| engine.add_output([b"fake bytes of ".as_slice(), u].concat()))
			.collect(),
		manifest: engine.add_output(b"fake manifest bytes".to_vec()),
		record: engine.add_output(b"fake evaluation record".to_vec()),
		record_again: engine.add_output(b"fake evaluation record, again".to_vec()),
		checkpoints: (0..5)
			.map(|i| engine.add_output(format!("fake ckpt{i} bytes").into_bytes()))
			.collect(),
	};
	let (roots, manifest, checkpoints) = (run.units.clone(), run.manifest, run.checkpoints.clone());
	let (record, record_again) = (run.record, run.record_again);
	engine.answer(move |job| match job {
		Job::Train { params, units, .. } => JobStatus::Done(JobOutput::Trained {
			payloads: units
				.iter()
				.map(|u| {
					let i = UNITS.iter().position(|n| *n == &u[..]).expect("a mock unit");
					(u.clone(), roots[i])
				})
				.collect(),
			manifest,
			params: *params,
			parent_loss: PARENT_LOSS,
			loss,
			record,
			checkpoints: checkpoints.clone(),
		}),
		Job::EvaluateClaim { .. } => JobStatus::Done(JobOutput::Losses {
			parent: PARENT_LOSS,
			candidate: loss,
			record: record_again,
			verdict: blyan_engine_interface::ReplayVerdict::Match,
		}),
		_ => JobStatus::Failed(b"not a trainer job".to_vec()),
	});
	run
}

/// Externalities: funded trainer and validators, genesis blocks of both units, block 1.
pub fn new_test_ext() -> sp_io::TestExternalities {
	Approved::reset();
	MaxClaimPayloadBytes::reset();
	let mut t = frame_system::GenesisConfig::<Test>::default().build_storage().unwrap();
	pallet_balances::GenesisConfig::<Test> {
		balances: vec![(TRAINER, 100_000), (10, 10), (11, 10), (12, 10)],
		..Default::default()
	}
	.assimilate_storage(&mut t)
	.unwrap();
	let mut ext = sp_io::TestExternalities::new(t);
	ext.execute_with(|| {
		System::set_block_number(1);
		for u in UNITS {
			dag::genesis_block(u);
		}
	});
	ext
}
