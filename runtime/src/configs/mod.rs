//! One `Config` impl per pallet, with the parameters it uses beside it.
//!
//! `frame_system` takes its defaults from
//! [`SolochainDefaultConfig`](struct@frame_system::config_preludes::SolochainDefaultConfig)
//! through `derive_impl`, so only the deviations are written (and documented) here. The other
//! pallets ship only test defaults, so their impls are complete.

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
    /// Community-vote window for a dataset, in blocks (100 blocks; 10 with `fast-runtime`).
    pub const VoteWindow: BlockNumber = if cfg!(feature = "fast-runtime") { 10 } else { 100 };
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
    /// Root until the Proof-of-Learning gate (issue #4) decides acceptance.
    type AcceptOrigin = frame_system::EnsureRoot<AccountId>;
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

impl pallet_dataset::Config for Runtime {
    type VoterSet = AuraVoters;
    type AuditOrigin = frame_system::EnsureRoot<AccountId>;
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
        use frame_support::traits::fungible::Mutate;
        let who: AccountId = frame_benchmarking::account("payload", 0, 0);
        let _ = Balances::set_balance(&who, 1_000_000 * crate::UNITS);
        let bytes = alloc::vec![7u8; 1024];
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
        (root, 1024)
    }
}
