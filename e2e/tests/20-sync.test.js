// A second node that syncs the dev chain from genesis serves every payload byte-identical:
// the genesis units (computed by each node from the engine and the corpus) and a payload
// published in a block after genesis.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { blake3 } from '@noble/hashes/blake3';
import { u8aToHex } from '@polkadot/util';
import { ApiPromise } from '@polkadot/api';
import { startNode, submit } from '../node.js';
import { blyanRpc, merkleRoot } from './rpc-defs.js';

// Node 1's libp2p identity from this fixed key (12D3KooWEyopp… is the key 0x…01).
const NODE_KEY = '0000000000000000000000000000000000000000000000000000000000000001';
const PEER_ID = '12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp';

let a;
let b;
before(async () => {
  a = await startNode(['--dev', '--node-key', NODE_KEY]);
});
after(async () => {
  if (b) await b.stop();
  if (a) await a.stop();
});

async function waitFor(fn, ms, what) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`timed out: ${what}`);
}

test('a syncing node serves genesis and later payloads byte-identical', async () => {
  const apiA = await ApiPromise.create({ provider: a.api._rpcCore.provider, rpc: blyanRpc, noInitWarn: true });
  const bytes = new TextEncoder().encode('published after genesis ' + Date.now());
  const hash = blake3(bytes);
  const root = u8aToHex(merkleRoot([hash]));
  assert.equal((await submit(apiA, apiA.tx.contentStore.publishTile(u8aToHex(bytes)), a.alice)).dispatchError, null);
  const commit = await submit(apiA, apiA.tx.contentStore.commitManifest([hash], root), a.alice);
  assert.equal(commit.dispatchError, null);
  const included = (await apiA.rpc.chain.getHeader(commit.blockHash)).number.toNumber();

  b = await startNode(['--chain', 'dev', '--bootnodes', `/ip4/127.0.0.1/tcp/${a.p2pPort}/p2p/${PEER_ID}`]);
  const apiB = await ApiPromise.create({ provider: b.api._rpcCore.provider, rpc: blyanRpc, noInitWarn: true });
  assert.equal(apiB.genesisHash.toHex(), apiA.genesisHash.toHex(), 'both nodes build the same genesis');
  await waitFor(async () => (await apiB.rpc.chain.getHeader()).number.toNumber() >= included, 90_000, `node 2 syncing to #${included}`);

  const later = await apiB.rpc.blyan.payload(root);
  assert.equal(u8aToHex(later), u8aToHex(bytes));
  const order = await apiA.rpc.blyan.topologicalOrder(0, 1000);
  for (const id of order.slice(0, 6)) {
    const blk = (await apiA.query.paramDag.blocks(id)).unwrap();
    const [pa, pb] = await Promise.all([apiA.rpc.blyan.payload(blk.payloadHash.toHex()), apiB.rpc.blyan.payload(blk.payloadHash.toHex())]);
    assert.equal(u8aToHex(blake3(pb)), u8aToHex(blake3(pa)));
    assert.equal(pb.length, blk.payloadSize.toNumber());
  }
  await apiA.disconnect();
  await apiB.disconnect();
});
