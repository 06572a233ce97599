// The dev chain: metadata, block production and finality, balances from metadata alone.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDevNode, submit } from '../node.js';

let n;
// --no-generate-rpc: this node serves no inference (10-pallets.test.js tests the methods).
before(async () => { n = await startDevNode(['--no-generate-rpc']); });
after(async () => { if (n) await n.stop(); });

test('metadata describes every Blyan pallet', async () => {
  const pallets = n.api.runtimeMetadata.asLatest.pallets.map((p) => p.name.toString());
  for (const name of ['System', 'Balances', 'Aura', 'Grandpa', 'Sudo']) {
    assert.ok(pallets.includes(name), `${name} missing from ${pallets}`);
  }
  const props = await n.api.rpc.system.properties();
  assert.equal(props.tokenSymbol.unwrap()[0].toString(), 'BLY');
});

test('blocks are produced and finalised', async () => {
  const waitFor = async (fn, ms) => {
    const end = Date.now() + ms;
    while (Date.now() < end) { if (await fn()) return true; await new Promise((r) => setTimeout(r, 500)); }
    return false;
  };
  assert.ok(await waitFor(async () => (await n.api.rpc.chain.getHeader()).number.toNumber() >= 2, 60_000), 'no block #2');
  assert.ok(await waitFor(async () => {
    const f = await n.api.rpc.chain.getFinalizedHead();
    return (await n.api.rpc.chain.getHeader(f)).number.toNumber() >= 1;
  }, 60_000), 'nothing finalised');
});

test('balances transfer works and an oversized one fails with a decoded error', async () => {
  const before = (await n.api.query.system.account(n.bob.address)).data.free.toBigInt();
  const ok = await submit(n.api, n.api.tx.balances.transferKeepAlive(n.bob.address, 1_000_000_000_000n), n.alice);
  assert.equal(ok.dispatchError, null);
  assert.ok(ok.events.some((e) => e.section === 'balances' && e.method === 'Transfer'));
  const afterBal = (await n.api.query.system.account(n.bob.address)).data.free.toBigInt();
  assert.equal(afterBal - before, 1_000_000_000_000n);
  const bad = await submit(n.api, n.api.tx.balances.transferKeepAlive(n.alice.address, 10n ** 30n), n.bob);
  assert.ok(bad.dispatchError, 'expected a dispatch error');
  assert.ok(['FundsUnavailable', 'InsufficientBalance'].includes(bad.dispatchError.name) || bad.dispatchError.section === 'dispatch', JSON.stringify(bad.dispatchError));
});

test('--dev inserts Alice\'s Blyan worker key (key type blyn) and no other', async () => {
  const { u8aToHex } = await import('@polkadot/util');
  const alice = u8aToHex(n.alice.publicKey);
  assert.equal((await n.api.rpc.author.hasKey(alice, 'blyn')).isTrue, true, 'Alice blyn key');
  assert.equal((await n.api.rpc.author.hasKey(alice, 'aura')).isTrue, true, 'Alice aura key');
  assert.equal((await n.api.rpc.author.hasKey(u8aToHex(n.bob.publicKey), 'blyn')).isTrue, false, 'no Bob key');
});

test('--no-generate-rpc removes blyan_generate and its subscription, and nothing else', async () => {
  const { methods } = (await n.api.rpc.rpc.methods()).toJSON();
  for (const m of ['blyan_generate', 'blyan_subscribeGenerate', 'blyan_unsubscribeGenerate']) {
    assert.ok(!methods.includes(m), `${m} is still served`);
  }
  for (const m of ['blyan_payload', 'blyan_acceptedBlock', 'system_health']) {
    assert.ok(methods.includes(m), `${m} is missing`);
  }
  const provider = n.api._rpcCore.provider;
  await assert.rejects(provider.send('blyan_generate', ['The ', 4, 0, 1]), /not found/i);
});
