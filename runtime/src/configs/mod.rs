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
