//! Chain specifications. Genesis state comes from the runtime's named presets; this module
//! only picks one and adds the chain's name, id, type and token properties.

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

/// `--dev`: Alice alone authors and finalises (the `development` preset).
pub fn development_chain_spec() -> Result<ChainSpec, String> {
    Ok(ChainSpec::builder(wasm_binary()?, None)
        .with_name("Blyan Development")
        .with_id("blyan_dev")
        .with_chain_type(ChainType::Development)
        .with_genesis_config_preset_name(sp_genesis_builder::DEV_RUNTIME_PRESET)
        .with_properties(properties())
        .build())
}

/// `--chain local`: Alice, Bob and Charlie author and finalise (the `local_testnet` preset).
pub fn local_chain_spec() -> Result<ChainSpec, String> {
    Ok(ChainSpec::builder(wasm_binary()?, None)
        .with_name("Blyan Local Testnet")
        .with_id("blyan_local")
        .with_chain_type(ChainType::Local)
        .with_genesis_config_preset_name(sp_genesis_builder::LOCAL_TESTNET_RUNTIME_PRESET)
        .with_properties(properties())
        .build())
}
