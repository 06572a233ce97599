//! Tests of the model-spec pallet.

use crate::{mock::*, *};
use blyan_primitives::{Hash, ModelSpecs};
use frame_support::{assert_noop, assert_ok, BoundedVec};
use sp_runtime::DispatchError;

fn cfg() -> EngineConfig {
	// The engine's `Config::test()`.
	EngineConfig {
		vocab_size: 256,
		hidden_size: 32,
		num_hidden_layers: 2,
		num_attention_heads: 2,
		max_position_embeddings: 64,
		num_local_experts: 4,
		num_experts_per_tok: 2,
		intermediate_size: 48,
	}
}

fn h(b: u8) -> Hash {
	[b; 32]
}

fn routers(n: u32) -> BoundedVec<Hash, MaxLayers> {
	(0..n).map(|i| h(100 + i as u8)).collect::<Vec<_>>().try_into().unwrap()
}

fn v(major: u16, minor: u16, patch: u16) -> SemVer {
	SemVer::new(major, minor, patch)
}

fn register(config: EngineConfig, version: SemVer, generation: u32) -> DispatchResultOf {
	SpecPallet::register_spec(
		RuntimeOrigin::root(),
		config,
		version,
		generation,
		(7, 1),
		h(1),
		routers(config.num_hidden_layers),
	)
}

type DispatchResultOf = frame_support::dispatch::DispatchResult;

#[test]
fn register_spec_works() {
	new_test_ext().execute_with(|| {
		assert_eq!(LatestSpec::<Test>::get(), None);
		assert_ok!(register(cfg(), v(1, 0, 0), 0));
		System::assert_last_event(
			Event::SpecRegistered { id: 0, version: v(1, 0, 0), generation: 0 }.into(),
		);
		let spec = Specs::<Test>::get(0).unwrap();
		assert_eq!(spec.config, cfg());
		assert_eq!(spec.version, v(1, 0, 0));
		assert_eq!(spec.validation_dataset, (7, 1));
		assert_eq!(spec.backbone, h(1));
		assert_eq!(spec.routers.to_vec(), vec![h(100), h(101)]);
		assert_eq!(spec.registered_at, 1);
		assert_eq!(NextSpecId::<Test>::get(), 1);
		assert_eq!(LatestSpec::<Test>::get(), Some(0));

		run_to_block(3);
		let mut wide = cfg();
		wide.intermediate_size = 96;
		assert_ok!(register(wide, v(1, 1, 0), 1));
		System::assert_last_event(
			Event::SpecRegistered { id: 1, version: v(1, 1, 0), generation: 1 }.into(),
		);
		assert_eq!(Specs::<Test>::get(1).unwrap().registered_at, 3);
		assert_eq!(NextSpecId::<Test>::get(), 2);
		assert_eq!(LatestSpec::<Test>::get(), Some(1));
		assert_eq!(SpecPallet::latest(), Some(1));
	});
}

#[test]
fn register_spec_fails_when_origin_is_not_spec_origin() {
	new_test_ext().execute_with(|| {
		assert_noop!(
			SpecPallet::register_spec(
				RuntimeOrigin::signed(1),
				cfg(),
				v(1, 0, 0),
				0,
				(7, 1),
				h(1),
				routers(2)
			),
			DispatchError::BadOrigin
		);
	});
}

#[test]
fn register_spec_fails_when_config_is_invalid() {
	new_test_ext().execute_with(|| {
		let bad: Vec<fn(&mut EngineConfig)> = vec![
			|c| c.vocab_size = 0,
			|c| c.hidden_size = 0,
			|c| c.intermediate_size = 0,
			|c| c.num_attention_heads = 0,
			|c| c.num_attention_heads = 3,  // 32 % 3 != 0
			|c| c.num_attention_heads = 32, // head size 1 is odd
			|c| c.max_position_embeddings = 1,
			|c| c.num_experts_per_tok = 0,
			|c| c.num_experts_per_tok = 5, // > 4 experts
			|c| c.num_local_experts = MaxExperts::get() + 1,
		];
		for (i, f) in bad.into_iter().enumerate() {
			let mut c = cfg();
			f(&mut c);
			assert_noop!(register(c, v(1, 0, 0), 0), Error::<Test>::InvalidConfig);
			assert!(c.check(MaxLayers::get(), MaxExperts::get()).is_err(), "case {i}");
		}
		// Zero layers: zero routers, still invalid.
		let mut c = cfg();
		c.num_hidden_layers = 0;
		assert_noop!(register(c, v(1, 0, 0), 0), Error::<Test>::InvalidConfig);
		// The maxima themselves are fine.
		let mut c = cfg();
		c.num_local_experts = MaxExperts::get();
		c.num_hidden_layers = MaxLayers::get();
		assert_ok!(register(c, v(1, 0, 0), 0));
	});
}

#[test]
fn register_spec_fails_when_layers_exceed_max_layers() {
	new_test_ext().execute_with(|| {
		// Routers are bounded by MaxLayers too, so widen the bound for the routers only:
		// the config check must still refuse layers > MaxLayers.
		let mut c = cfg();
		c.num_hidden_layers = MaxLayers::get() + 1;
		assert_eq!(c.check(MaxLayers::get(), MaxExperts::get()), Err(ConfigFault::TooManyLayers));
		assert_noop!(
			SpecPallet::register_spec(
				RuntimeOrigin::root(),
				c,
				v(1, 0, 0),
				0,
				(7, 1),
				h(1),
				routers(MaxLayers::get())
			),
			Error::<Test>::InvalidConfig
		);
	});
}

#[test]
fn register_spec_fails_when_router_count_mismatches_layers() {
	new_test_ext().execute_with(|| {
		for n in [1, 3] {
			assert_noop!(
				SpecPallet::register_spec(
					RuntimeOrigin::root(),
					cfg(),
					v(1, 0, 0),
					0,
					(7, 1),
					h(1),
					routers(n)
				),
				Error::<Test>::RouterCountMismatch
			);
		}
	});
}

#[test]
fn register_spec_fails_when_version_not_increasing() {
	new_test_ext().execute_with(|| {
		assert_ok!(register(cfg(), v(1, 2, 3), 0));
		for old in [v(1, 2, 3), v(1, 2, 2), v(1, 1, 9), v(0, 9, 9)] {
			// Even a higher generation does not excuse a version that does not grow.
			assert_noop!(register(cfg(), old, 5), Error::<Test>::VersionNotIncreasing);
		}
		assert_ok!(register(cfg(), v(1, 2, 4), 0));
		assert_ok!(register(cfg(), v(2, 0, 0), 0));
	});
}

#[test]
fn register_spec_fails_when_generation_decreases() {
	new_test_ext().execute_with(|| {
		assert_ok!(register(cfg(), v(1, 0, 0), 3));
		assert_noop!(register(cfg(), v(1, 1, 0), 2), Error::<Test>::GenerationDecreasing);
		assert_ok!(register(cfg(), v(1, 1, 0), 3));
	});
}

#[test]
fn register_spec_fails_when_spec_ids_are_exhausted() {
	new_test_ext().execute_with(|| {
		NextSpecId::<Test>::put(u32::MAX);
		assert_noop!(register(cfg(), v(1, 0, 0), 0), Error::<Test>::SpecIdsExhausted);
	});
}

fn two_specs(to: EngineConfig) {
	assert_ok!(register(cfg(), v(1, 0, 0), 0));
	assert_ok!(register(to, v(1, 1, 0), 1));
}

#[test]
fn record_migration_works() {
	new_test_ext().execute_with(|| {
		let mut more = cfg();
		more.num_local_experts = 6;
		two_specs(more);
		run_to_block(5);
		assert_ok!(SpecPallet::record_migration(
			RuntimeOrigin::root(),
			0,
			1,
			MigrationKind::AddExperts { added: 2 }
		));
		System::assert_last_event(Event::MigrationRecorded { from: 0, to: 1 }.into());
		assert_eq!(
			Migrations::<Test>::get(1),
			Some(Migration { from: 0, to: 1, kind: MigrationKind::AddExperts { added: 2 }, at: 5 })
		);
	});
}

#[test]
fn record_migration_accepts_each_kind() {
	new_test_ext().execute_with(|| {
		let base = cfg();
		let mut wide = base;
		wide.intermediate_size = 96;
		let mut deep = wide;
		deep.num_hidden_layers = 3;
		assert_ok!(register(base, v(1, 0, 0), 0));
		assert_ok!(register(wide, v(1, 1, 0), 1));
		assert_ok!(register(deep, v(1, 2, 0), 2));
		assert_ok!(SpecPallet::record_migration(
			RuntimeOrigin::root(),
			0,
			1,
			MigrationKind::WidenFfn { new_intermediate_size: 96 }
		));
		assert_ok!(SpecPallet::record_migration(
			RuntimeOrigin::root(),
			1,
			2,
			MigrationKind::AddLayers { added: 1 }
		));
		assert_eq!(Migrations::<Test>::get(2).map(|m| m.from), Some(1));
		assert_eq!(Specs::<Test>::get(2).unwrap().routers.len(), 3);
	});
}

#[test]
fn record_migration_fails_when_origin_is_not_spec_origin() {
	new_test_ext().execute_with(|| {
		let mut more = cfg();
		more.num_local_experts = 6;
		two_specs(more);
		assert_noop!(
			SpecPallet::record_migration(
				RuntimeOrigin::signed(1),
				0,
				1,
				MigrationKind::AddExperts { added: 2 }
			),
			DispatchError::BadOrigin
		);
	});
}

#[test]
fn record_migration_fails_when_spec_is_unknown() {
	new_test_ext().execute_with(|| {
		assert_ok!(register(cfg(), v(1, 0, 0), 0));
		let k = MigrationKind::AddExperts { added: 2 };
		assert_noop!(
			SpecPallet::record_migration(RuntimeOrigin::root(), 0, 1, k),
			Error::<Test>::UnknownSpec
		);
		assert_noop!(
			SpecPallet::record_migration(RuntimeOrigin::root(), 1, 0, k),
			Error::<Test>::UnknownSpec
		);
	});
}

#[test]
fn record_migration_fails_when_migrating_to_self() {
	new_test_ext().execute_with(|| {
		assert_ok!(register(cfg(), v(1, 0, 0), 0));
		assert_noop!(
			SpecPallet::record_migration(
				RuntimeOrigin::root(),
				0,
				0,
				MigrationKind::AddLayers { added: 1 }
			),
			Error::<Test>::MigrationToSelf
		);
	});
}

#[test]
fn record_migration_fails_when_not_forward() {
	new_test_ext().execute_with(|| {
		let mut fewer = cfg();
		fewer.num_local_experts = 2;
		// Spec 1 has fewer experts than spec 0: "1 → 0 adds 2 experts" matches the configs
		// but goes back in version.
		two_specs(fewer);
		assert_noop!(
			SpecPallet::record_migration(
				RuntimeOrigin::root(),
				1,
				0,
				MigrationKind::AddExperts { added: 2 }
			),
			Error::<Test>::MigrationNotForward
		);
	});
}

#[test]
fn record_migration_fails_when_kind_mismatches_configs() {
	new_test_ext().execute_with(|| {
		let mut more = cfg();
		more.num_local_experts = 6;
		two_specs(more);
		for kind in [
			MigrationKind::AddExperts { added: 1 },
			MigrationKind::AddExperts { added: 3 },
			MigrationKind::AddExperts { added: 0 },
			MigrationKind::AddExperts { added: u32::MAX },
			MigrationKind::WidenFfn { new_intermediate_size: 48 },
			MigrationKind::WidenFfn { new_intermediate_size: 96 },
			MigrationKind::AddLayers { added: 1 },
			MigrationKind::AddLayers { added: 0 },
		] {
			assert_noop!(
				SpecPallet::record_migration(RuntimeOrigin::root(), 0, 1, kind),
				Error::<Test>::MigrationMismatch
			);
		}
	});
}

#[test]
fn record_migration_fails_when_other_fields_change() {
	new_test_ext().execute_with(|| {
		let mut more = cfg();
		more.num_local_experts = 6;
		more.num_experts_per_tok = 3; // a second change rides along
		two_specs(more);
		assert_noop!(
			SpecPallet::record_migration(
				RuntimeOrigin::root(),
				0,
				1,
				MigrationKind::AddExperts { added: 2 }
			),
			Error::<Test>::MigrationMismatch
		);
	});
}

#[test]
fn record_migration_fails_when_already_recorded() {
	new_test_ext().execute_with(|| {
		let mut more = cfg();
		more.num_local_experts = 6;
		let mut most = cfg();
		most.num_local_experts = 8;
		assert_ok!(register(cfg(), v(1, 0, 0), 0));
		assert_ok!(register(more, v(1, 1, 0), 1));
		assert_ok!(register(most, v(1, 2, 0), 2));
		assert_ok!(SpecPallet::record_migration(
			RuntimeOrigin::root(),
			1,
			2,
			MigrationKind::AddExperts { added: 2 }
		));
		// A second record into spec 2, even from another spec that also fits, is refused.
		assert_noop!(
			SpecPallet::record_migration(
				RuntimeOrigin::root(),
				0,
				2,
				MigrationKind::AddExperts { added: 4 }
			),
			Error::<Test>::MigrationAlreadyRecorded
		);
	});
}

#[test]
fn model_specs_trait_reports_existing_specs() {
	new_test_ext().execute_with(|| {
		assert!(!<SpecPallet as ModelSpecs>::spec_exists(0));
		assert_ok!(register(cfg(), v(1, 0, 0), 0));
		assert!(<SpecPallet as ModelSpecs>::spec_exists(0));
		assert!(!<SpecPallet as ModelSpecs>::spec_exists(1));
	});
}

#[test]
fn spec_info_matches_stored_spec_encoding() {
	new_test_ext().execute_with(|| {
		assert_eq!(SpecPallet::spec_info(0), None);
		assert_ok!(register(cfg(), v(1, 0, 0), 0));
		let info = SpecPallet::spec_info(0).unwrap();
		assert_eq!(info.routers, vec![h(100), h(101)]);
		assert_eq!(info.registered_at, 1);
		// The runtime API type encodes exactly like the stored spec (block number is u64 in
		// the mock, so compare field by field for that one).
		let stored = Specs::<Test>::get(0).unwrap();
		assert_eq!(info.config, stored.config);
		assert_eq!(info.version, stored.version);
		assert_eq!(info.backbone, stored.backbone);
	});
}

#[test]
fn genesis_registers_initial_spec() {
	let routers = vec![h(100), h(101)];
	ext_with(Some((cfg(), v(0, 1, 0), 0, (3, 2), h(9), routers.clone()))).execute_with(|| {
		let spec = Specs::<Test>::get(0).unwrap();
		assert_eq!(spec.config, cfg());
		assert_eq!(spec.backbone, h(9));
		assert_eq!(spec.validation_dataset, (3, 2));
		assert_eq!(spec.routers.to_vec(), routers);
		assert_eq!(spec.registered_at, 0);
		assert_eq!(LatestSpec::<Test>::get(), Some(0));
		assert_eq!(NextSpecId::<Test>::get(), 1);
	});
}

#[test]
#[should_panic(expected = "genesis model spec must pass register_spec's checks")]
fn genesis_fails_when_initial_spec_is_invalid() {
	let mut c = cfg();
	c.num_experts_per_tok = 9;
	let _ = ext_with(Some((c, v(0, 1, 0), 0, (3, 2), h(9), vec![h(1), h(2)])));
}

#[test]
#[should_panic(expected = "more router hashes than MaxLayers")]
fn genesis_fails_when_routers_exceed_max_layers() {
	let _ = ext_with(Some((cfg(), v(0, 1, 0), 0, (3, 2), h(9), vec![h(1); 9])));
}

#[test]
fn integrity_test_passes() {
	use frame_support::traits::Hooks;
	new_test_ext().execute_with(|| {
		<SpecPallet as Hooks<u64>>::integrity_test();
	});
}
