//! One `Config` impl per pallet, with the parameters it uses beside it.
//!
//! `frame_system` takes its defaults from
//! [`SolochainDefaultConfig`](struct@frame_system::config_preludes::SolochainDefaultConfig)
//! through `derive_impl`, so only the deviations are written (and documented) here. The other
//! pallets ship only test defaults, so their impls are complete.

mod offchain;

use frame_support::{
	derive_impl,
	dispatch::DispatchClass,
	parameter_types,
	traits::{ConstBool, ConstU128, ConstU32, ConstU64, ConstU8, VariantCountOf},
	weights::{
		constants::{ParityDbWeight, WEIGHT_REF_TIME_PER_SECOND},
		IdentityFee, Weight,
	},
};
use frame_system::limits::{BlockLength, BlockWeights};
use pallet_transaction_payment::{ConstFeeMultiplier, FungibleAdapter, Multiplier};
use sp_consensus_aura::sr25519::AuthorityId as AuraId;
use sp_runtime::{traits::One, Perbill};
use sp_version::RuntimeVersion;

use super::{
	AccountId, Aura, Balance, Balances, Block, BlockNumber, Hash, Nonce, PalletInfo, Runtime,
	RuntimeCall, RuntimeEvent, RuntimeFreezeReason, RuntimeHoldReason, RuntimeOrigin, RuntimeTask,
	System, EXISTENTIAL_DEPOSIT, SLOT_DURATION, SS58_PREFIX, VERSION,
};

/// Share of the block (weight and length) that normal transactions may fill; the rest is
/// kept for operational and mandatory extrinsics.
const NORMAL_DISPATCH_RATIO: Perbill = Perbill::from_percent(75);

/// Maximum encoded block size: 16 MiB.
///
/// A payload tile is at most 4 MiB; with the 75 % normal share a normal extrinsic may be up
/// to 12 MiB, so a tile plus its call envelope always fits. The node's block author uses the
/// same limit (`BLOCK_SIZE_LIMIT` in `blyan-node`'s `service.rs`).
pub const MAX_BLOCK_LENGTH: u32 = 16 * 1024 * 1024;

/// Authorities per set (Aura and GRANDPA).
pub const MAX_AUTHORITIES: u32 = 32;

parameter_types! {
	/// Number of recent block hashes kept in state (for mortal transactions).
	pub const BlockHashCount: BlockNumber = 2400;
	/// The runtime version, exposed as a constant.
	pub const Version: RuntimeVersion = VERSION;
	/// 2 seconds of compute per block (a third of the 6 s block time).
	pub RuntimeBlockWeights: BlockWeights = BlockWeights::with_sensible_defaults(
		Weight::from_parts(2u64 * WEIGHT_REF_TIME_PER_SECOND, u64::MAX),
		NORMAL_DISPATCH_RATIO,
	);
	/// 16 MiB blocks, 75 % for normal transactions (see [`MAX_BLOCK_LENGTH`]).
	pub RuntimeBlockLength: BlockLength = BlockLength::builder()
		.max_length(MAX_BLOCK_LENGTH)
		.modify_max_length_for_class(DispatchClass::Normal, |max| {
			*max = NORMAL_DISPATCH_RATIO * *max
		})
		.build();
	/// SS58 prefix of Blyan addresses.
	pub const SS58Prefix: u16 = SS58_PREFIX;
}

#[derive_impl(frame_system::config_preludes::SolochainDefaultConfig)]
impl frame_system::Config for Runtime {
	/// The block type of this runtime.
	type Block = Block;
	/// 2 s of compute per block.
	type BlockWeights = RuntimeBlockWeights;
	/// 16 MiB blocks so that 4 MiB payload tiles fit.
	type BlockLength = RuntimeBlockLength;
	/// Accounts are 32-byte public keys of [`MultiSignature`](sp_runtime::MultiSignature).
	type AccountId = AccountId;
	/// Transaction counter type.
	type Nonce = Nonce;
	/// Block and trie hash type.
	type Hash = Hash;
	/// Number of block hashes kept (mortal transactions reference one of them).
	type BlockHashCount = BlockHashCount;
	/// Weights of database reads and writes, measured for ParityDB (the node's only database).
	type DbWeight = ParityDbWeight;
	/// The runtime version.
	type Version = Version;
	/// Balances store their data in the system account.
	type AccountData = pallet_balances::AccountData<Balance>;
	/// SS58 prefix 4242.
	type SS58Prefix = SS58Prefix;
	/// Maximum number of consumer references on an account.
	type MaxConsumers = ConstU32<16>;
}

impl pallet_timestamp::Config for Runtime {
	/// Milliseconds since the Unix epoch.
	type Moment = u64;
	/// Aura checks every timestamp against the current slot.
	type OnTimestampSet = Aura;
	/// Half a slot, so that `MinimumPeriodTimesTwo` gives Aura exactly [`SLOT_DURATION`].
	type MinimumPeriod = ConstU64<{ SLOT_DURATION / 2 }>;
	type WeightInfo = ();
}

impl pallet_aura::Config for Runtime {
	type AuthorityId = AuraId;
	type DisabledValidators = ();
	type MaxAuthorities = ConstU32<MAX_AUTHORITIES>;
	/// One block per slot.
	type AllowMultipleBlocksPerSlot = ConstBool<false>;
	/// Equals [`SLOT_DURATION`].
	type SlotDuration = pallet_aura::MinimumPeriodTimesTwo<Runtime>;
}

impl pallet_grandpa::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type WeightInfo = ();
	type MaxAuthorities = ConstU32<MAX_AUTHORITIES>;
	/// No nominators until staking exists.
	type MaxNominators = ConstU32<0>;
	/// No historical sessions are kept, so equivocation proofs cannot be checked yet.
	type MaxSetIdSessionEntries = ConstU64<0>;
	/// Equivocation reporting is off until validators bond (pallet-offences); `Void` makes a
	/// key-ownership proof impossible to construct.
	type KeyOwnerProof = sp_core::Void;
	type EquivocationReportSystem = ();
}

impl pallet_balances::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type RuntimeHoldReason = RuntimeHoldReason;
	type RuntimeFreezeReason = RuntimeFreezeReason;
	type WeightInfo = pallet_balances::weights::SubstrateWeight<Runtime>;
	/// Balances in planck (10^-12 BLY).
	type Balance = Balance;
	/// Dust of reaped accounts is burnt.
	type DustRemoval = ();
	/// 0.001 BLY.
	type ExistentialDeposit = ConstU128<EXISTENTIAL_DEPOSIT>;
	type AccountStore = System;
	type ReserveIdentifier = [u8; 8];
	type FreezeIdentifier = RuntimeFreezeReason;
	type MaxLocks = ConstU32<50>;
	type MaxReserves = ConstU32<50>;
	type MaxFreezes = VariantCountOf<RuntimeFreezeReason>;
	type DoneSlashHandler = ();
}

parameter_types! {
	/// The fee multiplier stays at one until a congestion policy is chosen.
	pub FeeMultiplier: Multiplier = Multiplier::one();
}

impl pallet_transaction_payment::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	/// Fees are withdrawn in BLY and burnt.
	type OnChargeTransaction = FungibleAdapter<Balances, ()>;
	/// One planck per unit of weight.
	type WeightToFee = IdentityFee<Balance>;
	/// One planck per byte.
	type LengthToFee = IdentityFee<Balance>;
	type FeeMultiplierUpdate = ConstFeeMultiplier<FeeMultiplier>;
	/// Operational transactions pay a five-fold tip-equivalent priority.
	type OperationalFeeMultiplier = ConstU8<5>;
	type WeightInfo = pallet_transaction_payment::weights::SubstrateWeight<Runtime>;
}

impl pallet_sudo::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type RuntimeCall = RuntimeCall;
	type WeightInfo = pallet_sudo::weights::SubstrateWeight<Runtime>;
}

// ---------------------------------------------------------------------------------------
// Blyan pallets
// ---------------------------------------------------------------------------------------

/// Blocks per day at the configured block time.
pub const DAYS: BlockNumber = (24 * 60 * 60 * 1000 / SLOT_DURATION) as BlockNumber;

parameter_types! {
	/// Deposit held per published tile, on top of the per-byte part: 0.001 BLY.
	pub const TileDepositBase: Balance = crate::MILLI_UNITS;
	/// Deposit held per tile byte: 1 micro-BLY (a full 4 MiB tile holds ≈ 4.2 BLY).
	pub const TileDepositPerByte: Balance = crate::MICRO_UNITS;
	/// Blocks an unreferenced payload is kept before anyone may prune it: 7 days.
	pub const RetentionPeriod: BlockNumber = 7 * DAYS;
	/// Community-vote window for a dataset, in blocks: 20 (2 minutes, so the dev chain's main
	/// job approves its datasets quickly); 10 with `fast-runtime`.
	pub const VoteWindow: BlockNumber = if cfg!(feature = "fast-runtime") { 10 } else { 20 };
	/// Blocks per dataset-quota day.
	pub const DayLength: BlockNumber = DAYS;
}

impl pallet_content_store::Config for Runtime {
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type MaxTileBytes = ConstU32<{ blyan_primitives::MAX_TILE_BYTES as u32 }>;
	/// 64 tiles: payloads up to 256 MiB.
	type MaxTilesPerManifest = ConstU32<64>;
	type TileDepositBase = TileDepositBase;
	type TileDepositPerByte = TileDepositPerByte;
	type RetentionPeriod = RetentionPeriod;
	type WeightInfo = pallet_content_store::weights::SubstrateWeight<Runtime>;
}

impl pallet_model_spec::Config for Runtime {
	type SpecOrigin = frame_system::EnsureRoot<AccountId>;
	type MaxLayers = ConstU32<64>;
	type MaxExperts = ConstU32<256>;
	type WeightInfo = pallet_model_spec::weights::SubstrateWeight<Runtime>;
}

impl pallet_param_dag::Config for Runtime {
	type Specs = crate::ModelSpec;
	type Content = crate::ContentStore;
	/// Root, for governance's own blocks (a migration's new units). The candidates of
	/// Proof-of-Learning claims are decided by their quorum only (`Claimed`).
	type AcceptOrigin = frame_system::EnsureRoot<AccountId>;
	type Claimed = PolClaimed;
	type MaxDependencies = ConstU32<16>;
	type MaxNameLen = ConstU32<32>;
	/// 8 leading zero bits: ~256 hashes per proposal.
	type PowDifficulty = ConstU32<8>;
	type WeightInfo = pallet_param_dag::weights::SubstrateWeight<Runtime>;
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = BlyanBenchmarkHelper;
}

/// Dataset voters: the current Aura authorities (SPEC: "one account one vote among bonded
/// validators and registered nodes"; bonding comes with the validator-economics work).
pub struct AuraVoters;

impl frame_support::traits::Contains<AccountId> for AuraVoters {
	fn contains(who: &AccountId) -> bool {
		pallet_aura::Authorities::<Runtime>::get()
			.iter()
			.any(|a| AsRef::<[u8]>::as_ref(a) == AsRef::<[u8]>::as_ref(who))
	}
}

/// The Aura authorities' accounts, sorted, for `EnsureSignedBy`.
impl frame_support::traits::SortedMembers<AccountId> for AuraVoters {
	fn sorted_members() -> alloc::vec::Vec<AccountId> {
		let mut members: alloc::vec::Vec<AccountId> = pallet_aura::Authorities::<Runtime>::get()
			.iter()
			.map(|a| {
				let mut raw = [0u8; 32];
				raw.copy_from_slice(AsRef::<[u8]>::as_ref(a));
				AccountId::new(raw)
			})
			.collect();
		members.sort();
		members
	}

	fn contains(who: &AccountId) -> bool {
		<Self as frame_support::traits::Contains<AccountId>>::contains(who)
	}
}

impl pallet_dataset::Config for Runtime {
	type AuthorityId = pallet_pol::crypto::WorkerAuthId;
	/// Validators' workers run the L0 audit.
	type Auditors = AuraVoters;
	type VoterSet = AuraVoters;
	type Content = crate::ContentStore;
	/// A validator's worker (signed), or root.
	type AuditOrigin = frame_support::traits::EitherOfDiverse<
		frame_system::EnsureRoot<AccountId>,
		frame_system::EnsureSignedBy<AuraVoters, AccountId>,
	>;
	type MaxNameLen = ConstU32<64>;
	type MaxLicenceLen = ConstU32<32>;
	type MaxUriLen = ConstU32<256>;
	type MaxSampleHashes = ConstU32<1024>;
	type VoteWindow = VoteWindow;
	/// One vote decides on a one-validator dev chain; raise with the validator set.
	type Quorum = ConstU32<1>;
	type DayLength = DayLength;
	type NewbieDailyQuota = ConstU32<20>;
	type TrustedDailyQuota = ConstU32<200>;
	/// 8 leading zero bits: ~256 hashes per submission.
	type PowDifficulty = ConstU32<8>;
	type MaxClosingPerBlock = ConstU32<16>;
	type WeightInfo = pallet_dataset::weights::SubstrateWeight<Runtime>;
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = AuraVoters;
}

#[cfg(feature = "runtime-benchmarks")]
impl pallet_dataset::BenchmarkHelper<AccountId> for AuraVoters {
	fn payload(n: u32) -> blyan_primitives::Hash {
		use codec::Encode;
		bench_payload("dataset-text", n, (n, [0x54u8; 1020]).encode())
	}

	fn make_voter(who: &AccountId) {
		let raw: [u8; 32] = *AsRef::<[u8; 32]>::as_ref(who);
		let key = AuraId::from(sp_core::sr25519::Public::from_raw(raw));
		pallet_aura::Authorities::<Runtime>::mutate(|a| {
			if !a.contains(&key) {
				let _ = a.try_push(key);
			}
		});
	}
}

/// Most segments a claim may have: the deterrence inequality is sized for it.
pub const MAX_CLAIM_SEGMENTS: u32 = 32;
/// Most steps a claim may have.
pub const MAX_CLAIM_STEPS: u32 = 4_096;
/// Most datasets a claim may name.
pub const MAX_CLAIM_DATASETS: u32 = 64;
/// Most units a claim may update.
pub const MAX_CLAIM_UNITS: u32 = 64;

parameter_types! {
	/// Smallest claim bond: 200 BLY. With the whole bond slashed, r = 1 of at most 32
	/// segments replayed and one in 32 evaluation windows recomputed, forging any number of
	/// segments or windows loses money in expectation: the slash must exceed (32 − 1) / 1 = 31
	/// times the 6 BLY a passing claim can earn, 186 BLY (docs/pol.md, "Deterrence"; checked by
	/// pallet-pol's `integrity_test`).
	pub const MinClaimBond: Balance = 200 * crate::UNITS;
	/// Reward of an accepted claim's trainer: 5 BLY (seed §23 base reward).
	pub const TrainerReward: Balance = 5 * crate::UNITS;
	/// Reward shared by an accepted claim's dataset creators by mixing ratio: 1 BLY.
	pub const DataReward: Balance = crate::UNITS;
	/// The whole bond is burnt when a claim fails through the trainer's fault.
	pub const ClaimSlashFraction: Perbill = Perbill::from_percent(100);
	/// Share of the bond burnt when a claim expires without a quorum: 5 %.
	pub const ClaimExpiryFee: Perbill = Perbill::from_percent(5);
	/// Blocks from a claim's inclusion to its challenge draw.
	pub const ChallengeDelay: BlockNumber = 2;
	/// Blocks validators have to replay, evaluate and commit after the challenge: 60 (6 min
	/// at 6 s blocks, 2 min with fast-runtime). A replay plus an evaluation of the dev model
	/// takes under a minute on two idle cores, three times that on a loaded machine.
	pub const CommitWindow: BlockNumber = 60;
	/// Blocks after the commit window in which validators reveal: 10.
	pub const RevealWindow: BlockNumber = 10;
	/// What a claim may ask of a validator (issue #9, "Manifest parameters are unbounded").
	pub const ClaimManifestLimits: blyan_primitives::pol::ManifestLimits =
		blyan_primitives::pol::ManifestLimits {
			max_steps: MAX_CLAIM_STEPS,
			max_segments: MAX_CLAIM_SEGMENTS,
			max_batch_size: 64,
			max_seq_len: 128,
			max_tokens_per_step: 4_096,
			max_manifest_bytes: blyan_primitives::pol::ManifestLimits::manifest_bytes_for(
				MAX_CLAIM_STEPS,
				MAX_CLAIM_SEGMENTS,
				MAX_CLAIM_DATASETS,
			),
		};
}

impl pallet_pol::Config for Runtime {
	type AuthorityId = pallet_pol::crypto::WorkerAuthId;
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type Dag = PolDag;
	type Datasets = PolDatasets;
	type Validators = AuraVoters;
	type MinBond = MinClaimBond;
	type TrainerReward = TrainerReward;
	type DataReward = DataReward;
	type SlashFraction = ClaimSlashFraction;
	type ExpiryFee = ClaimExpiryFee;
	/// δ = 0.5 % (SPEC "Proof-of-Learning").
	type MinImprovement = ConstU32<5_000>;
	/// The claimed loss must be within 1 % of the measured one.
	type ClaimTolerance = ConstU32<10_000>;
	/// Honest reports are bitwise identical (docs/engine.md); 1 ppm absorbs nothing else.
	type DeviationTolerance = ConstU32<1>;
	type ChallengeDelay = ChallengeDelay;
	type CommitWindow = CommitWindow;
	type RevealWindow = RevealWindow;
	/// One segment per claim (the PoL reference uses Q = 2, Jia et al. 2021): it halves the
	/// replay, 10 of the dev trainer's 300 steps, and the 200 BLY bond keeps forging a losing
	/// bet (see `MinClaimBond`; docs/pol.md "Verification cost").
	type ReplaySegments = ConstU32<1>;
	type ManifestLimits = ClaimManifestLimits;
	type MaxDatasets = ConstU32<MAX_CLAIM_DATASETS>;
	/// As pallet-param-dag's `MaxNameLen`.
	type MaxUnitNameLen = ConstU32<32>;
	/// 64 units: the whole dev model (37 units) in one claim.
	type MaxUnitsPerClaim = ConstU32<MAX_CLAIM_UNITS>;
	/// A claim's base block may be up to 100 blocks old (10 min at 6 s blocks, 200 s with
	/// fast-runtime): time for the trainer to evaluate its candidate in the current model,
	/// publish it and claim (docs/pol.md, "What a candidate is evaluated against").
	type MaxBaseAge = ConstU32<100>;
	/// At most one report per Aura authority.
	type MaxValidators = ConstU32<MAX_AUTHORITIES>;
	type MaxClaimsPerBlock = ConstU32<16>;
	type DayLength = DayLength;
	type NewbieDailyClaims = ConstU32<20>;
	type TrustedDailyClaims = ConstU32<200>;
	type WeightInfo = pallet_pol::weights::SubstrateWeight<Runtime>;
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = BlyanBenchmarkHelper;
}

/// The candidate blocks of Proof-of-Learning claims, which only their claim's decision moves.
pub struct PolClaimed;

impl frame_support::traits::Contains<blyan_primitives::Hash> for PolClaimed {
	fn contains(block: &blyan_primitives::Hash) -> bool {
		pallet_pol::ClaimOfBlock::<Runtime>::contains_key(block)
	}
}

/// The parameter DAG as the Proof-of-Learning pallet sees it.
pub struct PolDag;

impl pallet_pol::ParamDag<AccountId> for PolDag {
	fn unit_of(block: &blyan_primitives::Hash) -> Option<alloc::vec::Vec<u8>> {
		crate::ParamDag::name_of(block)
	}
	fn accepted(unit: &[u8]) -> Option<blyan_primitives::Hash> {
		crate::ParamDag::accepted(unit)
	}
	fn propose_child(
		miner: &AccountId,
		parent: &blyan_primitives::Hash,
		payload_root: &blyan_primitives::Hash,
		nonce: u64,
	) -> Result<blyan_primitives::Hash, sp_runtime::DispatchError> {
		crate::ParamDag::do_propose_child(miner.clone(), *parent, *payload_root, nonce)
	}
	fn accept(block: &blyan_primitives::Hash) -> Result<(), sp_runtime::DispatchError> {
		crate::ParamDag::do_accept_block(*block).map(|_| ())
	}
	fn reject(block: &blyan_primitives::Hash) -> Result<(), sp_runtime::DispatchError> {
		crate::ParamDag::do_reject_block(*block)
	}
	fn is_proposed(block: &blyan_primitives::Hash) -> bool {
		pallet_param_dag::Blocks::<Runtime>::get(block)
			.is_some_and(|b| b.status == pallet_param_dag::BlockStatus::Proposed)
	}
	fn solve_child_nonce(
		miner: &AccountId,
		parent: &blyan_primitives::Hash,
		payload_root: &blyan_primitives::Hash,
	) -> Option<u64> {
		crate::ParamDag::child_nonce(miner, parent, payload_root)
	}
}

/// Approved datasets as the Proof-of-Learning pallet sees them.
pub struct PolDatasets;

impl pallet_pol::Datasets<AccountId> for PolDatasets {
	fn approved_creator(id: blyan_primitives::DatasetId) -> Option<AccountId> {
		pallet_dataset::Datasets::<Runtime>::get(id)
			.filter(|d| matches!(d.stage, pallet_dataset::Stage::Approved(_)))
			.map(|d| d.creator)
	}
	fn validation_dataset() -> Option<blyan_primitives::DatasetId> {
		latest_spec().map(|s| s.validation_dataset.0)
	}
}

impl pallet_pol::Validators<AccountId> for AuraVoters {
	fn is_validator(who: &AccountId) -> bool {
		<Self as frame_support::traits::Contains<AccountId>>::contains(who)
	}
	fn count() -> u32 {
		pallet_aura::Authorities::<Runtime>::get().len() as u32
	}
}

/// Creates the spec and payload the parameter-DAG benchmarks build on.
#[cfg(feature = "runtime-benchmarks")]
pub struct BlyanBenchmarkHelper;

#[cfg(feature = "runtime-benchmarks")]
impl pallet_param_dag::BenchmarkHelper for BlyanBenchmarkHelper {
	fn spec() -> blyan_primitives::SpecId {
		if let Some(id) = pallet_model_spec::LatestSpec::<Runtime>::get() {
			return id;
		}
		let config = pallet_model_spec::EngineConfig {
			vocab_size: 256,
			hidden_size: 128,
			num_hidden_layers: 4,
			num_attention_heads: 4,
			max_position_embeddings: 128,
			num_local_experts: 8,
			num_experts_per_tok: 2,
			intermediate_size: 256,
		};
		let _ = pallet_model_spec::Pallet::<Runtime>::register_spec(
			frame_system::RawOrigin::Root.into(),
			config,
			pallet_model_spec::SemVer { major: 0, minor: 1, patch: 0 },
			0,
			(0, 1),
			[0u8; 32],
			alloc::vec![[0u8; 32]; 4].try_into().unwrap_or_default(),
		);
		pallet_model_spec::LatestSpec::<Runtime>::get().unwrap_or_default()
	}

	fn payload() -> (blyan_primitives::Hash, u64) {
		(bench_payload("payload", 0, alloc::vec![7u8; 1024]), 1024)
	}
}

/// Benchmark-only: the smallest nonce whose parameter-DAG block id meets the runtime's PoW
/// difficulty (`pallet_param_dag::Config::PowDifficulty`).
#[cfg(feature = "runtime-benchmarks")]
fn bench_nonce(id: impl Fn(u64) -> blyan_primitives::Hash) -> u64 {
	use frame_support::traits::Get;
	let bits = <Runtime as pallet_param_dag::Config>::PowDifficulty::get();
	(0u64..)
		.find(|n| blyan_primitives::leading_zero_bits(&id(*n)) >= bits)
		.unwrap_or_default()
}

/// Benchmark-only: publishes `bytes` (at most one tile) as a committed content-store payload
/// from a funded account `account(name, i, 0)`; returns its root.
#[cfg(feature = "runtime-benchmarks")]
fn bench_payload(name: &'static str, i: u32, bytes: alloc::vec::Vec<u8>) -> blyan_primitives::Hash {
	use frame_support::traits::fungible::Mutate;
	let who: AccountId = frame_benchmarking::account(name, i, 0);
	let _ = Balances::set_balance(&who, 1_000_000 * crate::UNITS);
	let tile = blyan_primitives::tile_hash(&bytes);
	let root = blyan_primitives::merkle_root(&[tile]);
	let _ = crate::ContentStore::publish_tile(
		frame_system::RawOrigin::Signed(who.clone()).into(),
		bytes.try_into().unwrap_or_default(),
	);
	let _ = crate::ContentStore::commit_manifest(
		frame_system::RawOrigin::Signed(who).into(),
		alloc::vec![tile].try_into().unwrap_or_default(),
		root,
	);
	root
}

#[cfg(feature = "runtime-benchmarks")]
impl pallet_pol::BenchmarkHelper<AccountId> for BlyanBenchmarkHelper {
	fn parent_and_payload(i: u32) -> (blyan_primitives::Hash, blyan_primitives::Hash) {
		use codec::Encode;
		use pallet_param_dag::BenchmarkHelper as _;
		let spec = Self::spec();
		let who: AccountId = frame_benchmarking::account("pol-payload", i, 0);
		// Two distinct payloads: the parent's and the child's.
		let roots =
			[0u32, 1].map(|k| bench_payload("pol-payload", i, (i, k, [7u8; 1016]).encode()));
		// The parent: an accepted expert block of layer (i / 8), expert (i % 8).
		let name = alloc::format!("layer{}.expert{}", i / 8, i % 8).into_bytes();
		let name: pallet_param_dag::NameOf<Runtime> = name.try_into().unwrap_or_default();
		let size = <crate::ContentStore as blyan_primitives::ContentStore>::payload_len(&roots[0])
			.unwrap_or_default();
		let nonce = bench_nonce(|nonce| {
			crate::ParamDag::block_id(
				spec,
				&name,
				i / 8,
				pallet_param_dag::BlockType::Expert,
				&[],
				&roots[0],
				size,
				&who,
				nonce,
			)
		});
		let parent = crate::ParamDag::do_propose_block(
			who,
			spec,
			name,
			i / 8,
			pallet_param_dag::BlockType::Expert,
			Default::default(),
			roots[0],
			size,
			nonce,
		)
		.unwrap_or_default();
		let _ = crate::ParamDag::do_accept_block(parent);
		(parent, roots[1])
	}

	fn solve_nonce(
		miner: &AccountId,
		parent: &blyan_primitives::Hash,
		payload: &blyan_primitives::Hash,
	) -> u64 {
		crate::ParamDag::child_nonce(miner, parent, payload).unwrap_or_default()
	}

	fn approved_dataset(creator: &AccountId, n: u32) -> blyan_primitives::DatasetId {
		// Far above the genesis datasets, so never the validation set.
		let n = n.saturating_add(1_000_000);
		pallet_dataset::Datasets::<Runtime>::insert(
			n,
			pallet_dataset::DatasetRecord::<Runtime> {
				creator: creator.clone(),
				name: Default::default(),
				version: 1,
				licence: Default::default(),
				source_uri: Default::default(),
				total_bytes: 0,
				samples: 0,
				content_root: [0u8; 32],
				payload_root: [0u8; 32],
				sample_hashes: Default::default(),
				stage: pallet_dataset::Stage::Approved(pallet_dataset::Tier::Gold),
				submitted_at: 0,
				quality: None,
				ayes: 1,
				nays: 0,
			},
		);
		n
	}

	/// Benchmark-only: when the authority set is full (the dev preset's Alice plus
	/// `MaxValidators − 1` benchmark accounts), drops the oldest authority to make room, so
	/// `MaxValidators` benchmark validators fit.
	fn make_validator(who: &AccountId) {
		pallet_aura::Authorities::<Runtime>::mutate(|a| {
			if a.len() as u32 >= MAX_AUTHORITIES {
				a.remove(0);
			}
		});
		<AuraVoters as pallet_dataset::BenchmarkHelper<AccountId>>::make_voter(who);
	}
}

/// The latest model spec, if any.
fn latest_spec() -> Option<pallet_model_spec::ModelSpecInfo> {
	crate::ModelSpec::latest().and_then(crate::ModelSpec::spec_info)
}

/// What the trainer's worker trains on and which units it updates.
pub struct TrainerInputs;

impl pallet_trainer::TrainingData for TrainerInputs {
	/// Approved datasets except the latest spec's validation set, weighted by tier.
	fn approved() -> alloc::vec::Vec<(blyan_primitives::DatasetId, u32)> {
		let validation = latest_spec().map(|s| s.validation_dataset.0);
		crate::Dataset::approved_datasets()
			.into_iter()
			.filter(|(id, _)| Some(*id) != validation)
			.map(|(id, tier)| (id, tier.mixing_weight_permille()))
			.collect()
	}
}

impl pallet_trainer::TrainableUnits for TrainerInputs {
	/// Every unit of the latest spec in canonical order (`blyan_primitives::UnitName::all`),
	/// with its accepted block's payload size.
	fn units() -> alloc::vec::Vec<(alloc::vec::Vec<u8>, u64)> {
		let Some(spec) = latest_spec() else { return alloc::vec::Vec::new() };
		blyan_primitives::UnitName::all(
			spec.config.num_hidden_layers,
			spec.config.num_local_experts,
		)
		.iter()
		.map(|u| {
			let name = u.to_bytes();
			let size = crate::ParamDag::accepted(&name)
				.and_then(pallet_param_dag::Blocks::<Runtime>::get)
				.map_or(0, |b| b.payload_size);
			(name, size)
		})
		.collect()
	}
}

impl pallet_trainer::Config for Runtime {
	type Data = TrainerInputs;
	type Units = TrainerInputs;
	/// 300 steps of 16 × 64 bytes per claim, over the schedule's group of units (the backbone
	/// with a router and an expert first, then experts; docs/pol.md "The trainer's schedule").
	type Steps = ConstU32<300>;
	/// 2 MiB of unit payloads per claim: on the dev model the backbone with a router and an
	/// expert, or five experts (pallet_trainer::schedule). Its three challenged checkpoints
	/// (≈ 6 MiB each) fit the default 20 MiB transaction pool and two blocks.
	type MaxClaimPayloadBytes = ConstU64<{ 2 * 1024 * 1024 }>;
	/// K = 10: 30 segments; a validator replays r = 2 of them, 20 steps.
	type CheckpointEvery = ConstU32<10>;
	/// 16 rows …
	type BatchSize = ConstU32<16>;
	/// … of 64 bytes (docs/engine.md, "Learning on real text").
	type SeqLen = ConstU32<64>;
}
