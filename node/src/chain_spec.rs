//! Chain specifications. Genesis state comes from the runtime's named presets; this module
//! picks one, merges in Blyan's genesis content (the engine's seeded model and the
//! validation set, computed natively: see [`crate::genesis`]), and adds the chain's name,
//! id, type and token properties.

use blyan_runtime::{SS58_PREFIX, TOKEN_DECIMALS, TOKEN_SYMBOL, WASM_BINARY};
use sc_service::{ChainType, Properties};

/// Blyan chain specification (no extensions).
pub type ChainSpec = sc_service::GenericChainSpec;

/// Token properties shown by wallets: symbol BLY, 12 decimals, SS58 prefix 4242.
fn properties() -> Properties {
	let mut properties = Properties::new();
	properties.insert("tokenSymbol".into(), TOKEN_SYMBOL.into());
	properties.insert("tokenDecimals".into(), TOKEN_DECIMALS.into());
	properties.insert("ss58Format".into(), SS58_PREFIX.into());
	properties
}

/// The runtime Wasm, or an error when the runtime was built without it.
fn wasm_binary() -> Result<&'static [u8], String> {
	WASM_BINARY.ok_or_else(|| {
		"Development wasm not available: build the runtime without SKIP_WASM_BUILD".to_string()
	})
}

/// Builds a chain spec from the runtime preset `preset` with Blyan's genesis content: the
/// small part (spec, DAG, dataset records) is merged into the preset and built by the
/// runtime; the payload bytes are built natively into content-store storage and added to the
/// raw spec, because the runtime's genesis builder cannot allocate them.
fn with_content(
	builder: sc_chain_spec::ChainSpecBuilder<Option<()>>,
	wasm: &[u8],
	preset: &str,
) -> Result<ChainSpec, String> {
	use sp_runtime::BuildStorage;
	let owner = sp_keyring::Sr25519Keyring::Alice.to_account_id();
	let content = crate::genesis::genesis_content(owner)?;
	let caller = sc_chain_spec::GenesisConfigBuilderRuntimeCaller::<()>::new(wasm);
	let mut genesis = caller.get_named_preset(Some(&preset.to_string()))?;
	sc_chain_spec::json_merge(&mut genesis, content.patch);
	let spec = builder.with_genesis_config_patch(genesis).build();
	let mut raw: serde_json::Value =
		serde_json::from_str(&spec.as_json(true)?).map_err(|e| format!("raw chain spec: {e}"))?;
	let storage = content.content.build_storage()?;
	let top = raw
		.pointer_mut("/genesis/raw/top")
		.and_then(|t| t.as_object_mut())
		.ok_or("raw chain spec has no genesis.raw.top")?;
	for (k, v) in storage.top {
		top.insert(format!("0x{}", hex::encode(k)), format!("0x{}", hex::encode(v)).into());
	}
	ChainSpec::from_json_bytes(serde_json::to_vec(&raw).map_err(|e| e.to_string())?)
}

/// `--dev`: Alice alone authors and finalises (the `development` preset + genesis content).
pub fn development_chain_spec() -> Result<ChainSpec, String> {
	let wasm = wasm_binary()?;
	let builder = ChainSpec::builder(wasm, None)
		.with_name("Blyan Development")
		.with_id("blyan_dev")
		.with_chain_type(ChainType::Development)
		.with_properties(properties());
	with_content(builder, wasm, sp_genesis_builder::DEV_RUNTIME_PRESET)
}

/// `--chain local`: Alice, Bob and Charlie author and finalise (the `local_testnet` preset
/// + genesis content).
pub fn local_chain_spec() -> Result<ChainSpec, String> {
	let wasm = wasm_binary()?;
	let builder = ChainSpec::builder(wasm, None)
		.with_name("Blyan Local Testnet")
		.with_id("blyan_local")
		.with_chain_type(ChainType::Local)
		.with_properties(properties());
	with_content(builder, wasm, sp_genesis_builder::LOCAL_TESTNET_RUNTIME_PRESET)
}
