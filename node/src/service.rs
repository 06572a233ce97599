//! The node service: [`new_partial`] builds the client, backend, import queue and
//! transaction pool (all that chain-touching subcommands need); [`new_full`] adds the network,
//! off-chain workers, RPC, Aura authoring and GRANDPA finality.

use std::{sync::Arc, time::Duration};

use blyan_runtime::{apis::RuntimeApi, opaque::Block};
use futures::FutureExt;
use sc_client_api::{Backend, BlockBackend};
use sc_consensus_aura::{ImportQueueParams, SlotProportion, StartAuraParams};
use sc_consensus_grandpa::SharedVoterState;
use sc_service::{error::Error as ServiceError, Configuration, TaskManager, WarpSyncConfig};
use sc_telemetry::{Telemetry, TelemetryWorker};
use sc_transaction_pool_api::OffchainTransactionPoolFactory;
use sp_consensus_aura::{
	inherents::InherentDataProvider as SlotInherent,
	sr25519::{AuthorityId as AuraId, AuthorityPair as AuraPair},
};
use sp_keystore::Keystore;

/// Host functions the runtime may call. Blyan's native host functions join this tuple.
pub type HostFunctions = (sp_io::SubstrateHostFunctions, blyan_engine_interface::HostFunctions);

/// The full client: the runtime executed as Wasm.
pub type FullClient =
	sc_service::TFullClient<Block, RuntimeApi, sc_executor::WasmExecutor<HostFunctions>>;
type FullBackend = sc_service::TFullBackend<Block>;
type FullSelectChain = sc_consensus::LongestChain<FullBackend, Block>;

/// Blocks between two GRANDPA justifications that are imported and stored.
const GRANDPA_JUSTIFICATION_PERIOD: u32 = 512;

/// Interval at which GRANDPA gossips votes.
const GRANDPA_GOSSIP_DURATION: Duration = Duration::from_millis(333);

/// Largest block the author builds: 16 MiB, the runtime's `MAX_BLOCK_LENGTH`.
///
/// The default (4 MiB + 512 bytes) would never include a 4 MiB payload tile together with its
/// call envelope.
const BLOCK_SIZE_LIMIT: usize = blyan_runtime::configs::MAX_BLOCK_LENGTH as usize;

/// Share of the slot the author spends building a block.
const BLOCK_PROPOSAL_SLOT_PORTION: f32 = 2f32 / 3f32;

/// The parts of the service that subcommands need.
pub type Service = sc_service::PartialComponents<
	FullClient,
	FullBackend,
	FullSelectChain,
	sc_consensus::DefaultImportQueue<Block>,
	sc_transaction_pool::TransactionPoolHandle<Block, FullClient>,
	(
		sc_consensus_grandpa::GrandpaBlockImport<FullBackend, Block, FullClient, FullSelectChain>,
		sc_consensus_grandpa::LinkHalf<Block, FullClient, FullSelectChain>,
		Option<Telemetry>,
	),
>;

/// Builds the client, backend (ParityDB unless `--database` says otherwise), keystore,
/// transaction pool and the Aura import queue behind the GRANDPA block import.
pub fn new_partial(config: &Configuration) -> Result<Service, ServiceError> {
	let telemetry = config
		.telemetry_endpoints
		.clone()
		.filter(|x| !x.is_empty())
		.map(|endpoints| -> Result<_, sc_telemetry::Error> {
			let worker = TelemetryWorker::new(16)?;
			let telemetry = worker.handle().new_telemetry(endpoints);
			Ok((worker, telemetry))
		})
		.transpose()?;

	let executor = sc_service::new_wasm_executor::<HostFunctions>(&config.executor);
	let (client, backend, keystore_container, task_manager) =
		sc_service::new_full_parts::<Block, RuntimeApi, _>(
			config,
			telemetry.as_ref().map(|(_, telemetry)| telemetry.handle()),
			executor,
			Vec::new(),
		)?;
	let client = Arc::new(client);

	let telemetry = telemetry.map(|(worker, telemetry)| {
		task_manager.spawn_handle().spawn("telemetry", None, worker.run());
		telemetry
	});

	let select_chain = sc_consensus::LongestChain::new(backend.clone());

	let transaction_pool = Arc::from(
		sc_transaction_pool::Builder::new(
			task_manager.spawn_essential_handle(),
			client.clone(),
			config.role.is_authority().into(),
		)
		.with_options(config.transaction_pool.clone())
		.with_prometheus(config.prometheus_registry())
		.build(),
	);

	let (grandpa_block_import, grandpa_link) = sc_consensus_grandpa::block_import(
		client.clone(),
		GRANDPA_JUSTIFICATION_PERIOD,
		&client,
		select_chain.clone(),
		telemetry.as_ref().map(|x| x.handle()),
	)?;

	let cidp_client = client.clone();
	let import_queue =
		sc_consensus_aura::import_queue::<AuraPair, _, _, _, _, _>(ImportQueueParams {
			block_import: grandpa_block_import.clone(),
			justification_import: Some(Box::new(grandpa_block_import.clone())),
			client: client.clone(),
			create_inherent_data_providers: move |parent_hash, _| {
				let cidp_client = cidp_client.clone();
				async move {
					let slot_duration = sc_consensus_aura::standalone::slot_duration_at(
						&*cidp_client,
						parent_hash,
					)?;
					let timestamp = sp_timestamp::InherentDataProvider::from_system_time();
					let slot =
						SlotInherent::from_timestamp_and_slot_duration(*timestamp, slot_duration);
					Ok((slot, timestamp))
				}
			},
			spawner: &task_manager.spawn_essential_handle(),
			registry: config.prometheus_registry(),
			check_for_equivocation: Default::default(),
			telemetry: telemetry.as_ref().map(|x| x.handle()),
			compatibility_mode: Default::default(),
		})?;

	Ok(sc_service::PartialComponents {
		client,
		backend,
		task_manager,
		import_queue,
		keystore_container,
		select_chain,
		transaction_pool,
		other: (grandpa_block_import, grandpa_link, telemetry),
	})
}

/// What the node's off-chain workers may do.
#[derive(Clone)]
pub struct WorkerOptions {
	/// Native engine threads (`--engine-threads`).
	pub engine_threads: usize,
	/// Budget of every engine job (`--engine-memory-mib`, `--engine-job-seconds`).
	pub budget: crate::engine::Budget,
	/// Whether the trainer worker runs (not `--no-trainer`).
	pub trainer: bool,
	/// Steps per training run (`--train-steps`), if not the runtime's default.
	pub train_steps: Option<u32>,
	/// The trainer's unit selection (`--trainer-units`, `pallet_trainer::select_units`).
	pub trainer_units: String,
	/// The engine's hooks: honest unless an e2e test's `--adversary` asked for a cheat.
	pub adversary: Arc<dyn crate::engine::Adversary>,
	/// Generations the RPC runs at once (`--generate-concurrency`); `None` when
	/// `--no-generate-rpc` removes the generation methods.
	pub generate_concurrency: Option<usize>,
}

/// Secret URI of the dev chain's trainer key (`blyn`), inserted with `--dev`: a validator
/// may not report on its own claims, so the dev chain's one validator (Alice) cannot be its
/// trainer. Ferdie is endowed at genesis; `scripts/learn.sh` leaves his account to the
/// trainer.
pub const DEV_TRAINER_SEED: &str = "//Ferdie";

/// Builds and starts the full node: network, off-chain workers (with the engine service on
/// `workers.engine_threads` native threads, the trainer on unless `workers.trainer` is
/// false), RPC, and, on authorities, Aura authoring and the GRANDPA voter.
pub fn new_full<
	N: sc_network::NetworkBackend<Block, <Block as sp_runtime::traits::Block>::Hash>,
>(
	config: Configuration,
	workers: WorkerOptions,
) -> Result<TaskManager, ServiceError> {
	let sc_service::PartialComponents {
		client,
		backend,
		mut task_manager,
		import_queue,
		keystore_container,
		select_chain,
		transaction_pool,
		other: (block_import, grandpa_link, mut telemetry),
	} = new_partial(&config)?;

	// Blyan addresses (SS58 prefix 4242, unregistered) in RPC parameters, such as
	// `system_accountNextIndex` from polkadot.js, parse only with the prefix as the process
	// default. Set only now, after the genesis state was built: the runtime's genesis builder
	// parses the chain spec's addresses with the standard prefix.
	sp_core::crypto::set_default_ss58_version(sp_core::crypto::Ss58AddressFormat::custom(
		blyan_runtime::SS58_PREFIX,
	));

	let mut net_config = sc_network::config::FullNetworkConfiguration::<
		Block,
		<Block as sp_runtime::traits::Block>::Hash,
		N,
	>::new(&config.network, config.prometheus_registry().cloned());
	let metrics = N::register_notification_metrics(config.prometheus_registry());

	let peer_store_handle = net_config.peer_store_handle();
	let grandpa_protocol_name = sc_consensus_grandpa::protocol_standard_name(
		&client.block_hash(0).ok().flatten().expect("Genesis block exists; qed"),
		&config.chain_spec,
	);
	let (grandpa_protocol_config, grandpa_notification_service) =
		sc_consensus_grandpa::grandpa_peers_set_config::<_, N>(
			grandpa_protocol_name.clone(),
			metrics.clone(),
			peer_store_handle,
		);
	net_config.add_notification_protocol(grandpa_protocol_config);

	let warp_sync = Arc::new(sc_consensus_grandpa::warp_proof::NetworkProvider::new(
		backend.clone(),
		grandpa_link.shared_authority_set().clone(),
		Vec::default(),
	));

	let (network, system_rpc_tx, tx_handler_controller, sync_service, _bitswap) =
		sc_service::build_network(sc_service::BuildNetworkParams {
			config: &config,
			net_config,
			client: client.clone(),
			transaction_pool: transaction_pool.clone(),
			spawn_handle: task_manager.spawn_handle(),
			spawn_essential_handle: task_manager.spawn_essential_handle(),
			import_queue,
			block_announce_validator_builder: None,
			warp_sync_config: Some(WarpSyncConfig::WithProvider(warp_sync)),
			block_relay: None,
			metrics,
			gap_sync_body_policy: None,
		})?;

	// The Blyan worker key (`blyn`, pallet_pol::crypto) of the dev accounts: `--dev`,
	// `--alice`, `--bob`, ... derive it from the same seed as their Aura and GRANDPA keys, so
	// off-chain workers sign as the validator account.
	if let Some(seed) = config.dev_key_seed.as_deref() {
		keystore_container
			.keystore()
			.sr25519_generate_new(pallet_pol::crypto::KEY_TYPE, Some(seed))
			.map_err(|e| ServiceError::Other(format!("inserting the Blyan worker key: {e}")))?;
		if config.chain_spec.chain_type() == sc_chain_spec::ChainType::Development {
			keystore_container
				.keystore()
				.sr25519_generate_new(pallet_pol::crypto::KEY_TYPE, Some(DEV_TRAINER_SEED))
				.map_err(|e| ServiceError::Other(format!("inserting the trainer key: {e}")))?;
		}
	}

	// Inference for `blyan_generate`; the engine service shares it when it runs.
	let mut inference = None;
	if config.offchain_worker.enabled {
		// The trainer worker reads its switch from the off-chain database
		// (pallet_trainer::ENABLED_KEY, persistent storage); written at every start.
		if let Some(mut db) = backend.offchain_storage() {
			use codec::Encode;
			use sp_core::offchain::OffchainStorage;
			db.set(
				sp_core::offchain::STORAGE_PREFIX,
				pallet_trainer::ENABLED_KEY,
				&workers.trainer.encode(),
			);
			db.set(
				sp_core::offchain::STORAGE_PREFIX,
				pallet_trainer::STEPS_KEY,
				&workers.train_steps.unwrap_or(0).encode(),
			);
			db.set(
				sp_core::offchain::STORAGE_PREFIX,
				pallet_trainer::UNITS_KEY,
				&workers.trainer_units.as_bytes().to_vec().encode(),
			);
		}
		log::info!(
			"Blyan workers: engine on {} thread(s), trainer {}",
			workers.engine_threads,
			if workers.trainer { "on (--no-trainer switches it off)" } else { "off" }
		);
		// The engine answers `blyan_engine` host calls of off-chain workers only: the
		// extension is handed to them and to nothing else (block import never sees it).
		let engine = crate::engine::EngineService::start_with(
			Arc::new(crate::chain::ChainReader::new(client.clone())),
			crate::engine::Options {
				threads: workers.engine_threads,
				budget: workers.budget,
				dir: Some(config.base_path.config_dir(config.chain_spec.id()).join("blyan/engine")),
				adversary: workers.adversary.clone(),
			},
		);
		inference = Some(engine.inference());
		let offchain_workers =
			sc_offchain::OffchainWorkers::new(sc_offchain::OffchainWorkerOptions {
				runtime_api_provider: client.clone(),
				is_validator: config.role.is_authority(),
				keystore: Some(keystore_container.keystore()),
				offchain_db: backend.offchain_storage(),
				transaction_pool: Some(OffchainTransactionPoolFactory::new(
					transaction_pool.clone(),
				)),
				network_provider: Arc::new(network.clone()),
				enable_http_requests: true,
				custom_extensions: move |_| {
					vec![Box::new(blyan_engine_interface::EngineExt::new(engine.clone())) as Box<_>]
				},
			})?;
		task_manager.spawn_handle().spawn(
			"offchain-workers-runner",
			"offchain-worker",
			offchain_workers.run(client.clone(), task_manager.spawn_handle()).boxed(),
		);
	}

	let role = config.role;
	let force_authoring = config.force_authoring;
	let backoff_authoring_blocks: Option<()> = None;
	let name = config.network.node_name.clone();
	let enable_grandpa = !config.disable_grandpa;
	let prometheus_registry = config.prometheus_registry().cloned();

	let rpc_extensions_builder = {
		let client = client.clone();
		let pool = transaction_pool.clone();
		let inference = inference.unwrap_or_else(|| {
			crate::engine::Inference::new(Arc::new(crate::chain::ChainReader::new(client.clone())))
		});
		// One set of slots for every RPC connection.
		let generate_slots = workers.generate_concurrency.map(crate::blyan_rpc::Slots::new);

		Box::new(move |_| {
			let deps = crate::rpc::FullDeps {
				client: client.clone(),
				pool: pool.clone(),
				inference: inference.clone(),
				generate_slots: generate_slots.clone(),
			};
			crate::rpc::create_full(deps).map_err(Into::into)
		})
	};

	let _rpc_handlers = sc_service::spawn_tasks(sc_service::SpawnTasksParams {
		network: Arc::new(network.clone()),
		client: client.clone(),
		keystore: keystore_container.keystore(),
		task_manager: &mut task_manager,
		transaction_pool: transaction_pool.clone(),
		rpc_builder: rpc_extensions_builder,
		backend,
		system_rpc_tx,
		tx_handler_controller,
		sync_service: sync_service.clone(),
		config,
		telemetry: telemetry.as_mut(),
		tracing_execute_block: None,
	})?;

	if role.is_authority() {
		let mut proposer_factory = sc_basic_authorship::ProposerFactory::new(
			task_manager.spawn_handle(),
			client.clone(),
			transaction_pool.clone(),
			prometheus_registry.as_ref(),
			telemetry.as_ref().map(|x| x.handle()),
		);
		proposer_factory.set_default_block_size_limit(BLOCK_SIZE_LIMIT);

		let slot_duration = sc_consensus_aura::slot_duration::<AuraId, _, _>(&*client)?;

		let aura = sc_consensus_aura::start_aura::<AuraPair, _, _, _, _, _, _, _, _, _, _>(
			StartAuraParams {
				slot_duration,
				client,
				select_chain,
				block_import,
				proposer_factory,
				create_inherent_data_providers: move |_, ()| async move {
					let timestamp = sp_timestamp::InherentDataProvider::from_system_time();
					let slot =
						SlotInherent::from_timestamp_and_slot_duration(*timestamp, slot_duration);
					Ok((slot, timestamp))
				},
				force_authoring,
				backoff_authoring_blocks,
				keystore: keystore_container.keystore(),
				sync_oracle: sync_service.clone(),
				justification_sync_link: sync_service.clone(),
				block_proposal_slot_portion: SlotProportion::new(BLOCK_PROPOSAL_SLOT_PORTION),
				max_block_proposal_slot_portion: None,
				telemetry: telemetry.as_ref().map(|x| x.handle()),
				compatibility_mode: Default::default(),
			},
		)?;

		// Authoring is essential: if it stops, the service stops.
		task_manager
			.spawn_essential_handle()
			.spawn_blocking("aura", Some("block-authoring"), aura);
	}

	if enable_grandpa {
		// Only authorities vote, so only they need the keystore.
		let keystore = if role.is_authority() { Some(keystore_container.keystore()) } else { None };

		let grandpa_config = sc_consensus_grandpa::Config {
			gossip_duration: GRANDPA_GOSSIP_DURATION,
			justification_generation_period: GRANDPA_JUSTIFICATION_PERIOD,
			name: Some(name),
			observer_enabled: false,
			keystore,
			local_role: role,
			telemetry: telemetry.as_ref().map(|x| x.handle()),
			protocol_name: grandpa_protocol_name,
		};

		// Every node runs the full voter; non-authorities only follow the votes.
		let grandpa_params = sc_consensus_grandpa::GrandpaParams {
			config: grandpa_config,
			link: grandpa_link,
			network,
			sync: Arc::new(sync_service),
			notification_service: grandpa_notification_service,
			voting_rule: sc_consensus_grandpa::VotingRulesBuilder::default().build(),
			prometheus_registry,
			shared_voter_state: SharedVoterState::empty(),
			telemetry: telemetry.as_ref().map(|x| x.handle()),
			offchain_tx_pool_factory: OffchainTransactionPoolFactory::new(transaction_pool),
		};

		// Finality is essential: if the voter stops, the service stops.
		task_manager.spawn_essential_handle().spawn_blocking(
			"grandpa-voter",
			None,
			sc_consensus_grandpa::run_grandpa_voter(grandpa_params)?,
		);
	}

	Ok(task_manager)
}
