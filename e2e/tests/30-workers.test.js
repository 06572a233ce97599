// The off-chain workers of a dev node (Alice is the only validator), with nothing driven by
// hand but the creator's and the trainer's extrinsics:
// - the auditor's worker runs the L0 pre-filter of a new dataset on the node's engine and
//   reports it signed, which opens the community vote;
// - the validator's worker evaluates and replays a claim on the engine and reports it signed;
//   a trainer that claims an improvement its payload does not have (it re-submits the parent's
//   own payload, with a manifest that replays nothing) is rejected and slashed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { blake3 } from '@noble/hashes/blake3';
import { u8aToHex } from '@polkadot/util';
import { startDevNode, submit } from '../node.js';
import { blyanRpc, merkleRoot, solvePow } from './rpc-defs.js';

let n;
let api;
/** Every pol and dataset event since the start, with its block number. */
const seen = [];
before(async () => {
  n = await startDevNode();
  const { ApiPromise } = await import('@polkadot/api');
  api = await ApiPromise.create({ provider: n.api._rpcCore.provider, rpc: blyanRpc, noInitWarn: true });
  await api.rpc.chain.subscribeNewHeads(async (header) => {
    const events = await (await api.at(header.hash)).query.system.events();
    for (const { event } of events) {
      if (event.section === 'pol' || event.section === 'dataset') seen.push({ block: header.number.toNumber(), event });
    }
  });
});
after(async () => { if (n) await n.stop(); });

/** Waits up to `seconds` for an event matching `pred`; fails with the node's last log lines. */
async function waitEvent(pred, seconds, what) {
  for (let i = 0; i < seconds; i++) {
    const hit = seen.find(({ event }) => pred(event));
    if (hit) return hit.event;
    await new Promise((r) => setTimeout(r, 1000));
  }
  assert.fail(`no ${what} within ${seconds} s; node log tail:\n${n.logs().slice(-3000)}`);
}

/** Publishes `bytes` as a one-tile payload (Bob); returns its root. */
async function publish(bytes) {
  const tile = blake3(bytes);
  const root = merkleRoot([tile]);
  assert.equal((await submit(api, api.tx.contentStore.publishTile(u8aToHex(bytes)), n.bob)).dispatchError, null);
  assert.equal((await submit(api, api.tx.contentStore.commitManifest([tile], u8aToHex(root)), n.bob)).dispatchError, null);
  return root;
}

test('the validator\'s worker audits a new dataset and its signed report opens the vote', async () => {
  const lines = ['Never trust a computer you cannot throw out a window.', 'A penny saved is a penny earned.',
    'The early bird gets the worm, but the second mouse gets the cheese.', 'You will be successful in your work.'];
  const text = new TextEncoder().encode(lines.join('\n%\n') + '\n');
  const textRoot = await publish(text);
  const name = 'e2e-workers';
  const root = blake3(text);
  const powPayload = api.createType('(Bytes, u32, [u8;32])', [name, 1, root]).toU8a();
  const nonce = solvePow(powPayload, api.consts.dataset.powDifficulty.toNumber());
  const ok = await submit(api, api.tx.dataset.submitDataset(name, 1, 'CC0-1.0', 'file:///e2e', text.length, lines.length,
    u8aToHex(root), u8aToHex(textRoot), [], nonce), n.bob);
  assert.equal(ok.dispatchError, null, JSON.stringify(ok.dispatchError));
  const id = ok.events.find((e) => e.section === 'dataset' && e.method === 'DatasetSubmitted').data[0].toNumber();

  const reported = await waitEvent((e) => e.method === 'AuditReported' && e.data[0].toNumber() === id, 90, 'audit report');
  assert.equal(reported.data[1].isTrue, true, 'the clean dataset passes the L0 filter');
  const record = (await api.query.dataset.datasets(id)).unwrap();
  assert.ok(record.stage.isCommunityVote, record.stage.toString());
  const quality = record.quality.unwrap();
  assert.equal(quality.piiPermille.toNumber(), 0);
  assert.equal(quality.toxicityPermille.toNumber(), 0);
  assert.equal(quality.englishPermille.toNumber(), 1000);
});

test('the validator\'s worker evaluates a claim without improvement and it is rejected and slashed', async () => {
  const unit = 'layer1.expert2';
  const parentId = (await api.rpc.blyan.acceptedBlock(unit)).unwrap();
  const parent = (await api.query.paramDag.blocks(parentId)).unwrap();
  // The "update" is the parent's own payload; the manifest is no manifest at all.
  const payload = parent.payloadHash.toU8a();
  const manifest = await publish(new TextEncoder().encode('not a PoDL manifest ' + Date.now()));
  const header = api.createType('(u32, Bytes, u32, u8, Vec<[u8;32]>, [u8;32], u64, AccountId32)',
    [0, unit, 1, 2, [parentId], payload, parent.payloadSize.toBigInt(), n.bob.address]).toU8a();
  const nonce = solvePow(header, api.consts.paramDag.powDifficulty.toNumber());
  const bond = api.consts.pol.minBond.toBigInt();
  const input = {
    parent: parentId, payloadRoot: u8aToHex(payload), manifestRoot: u8aToHex(manifest),
    datasets: [{ dataset: 0, ratioPpm: 1_000_000 }], segments: 8, claimedLoss: 3_000_000_000n, nonce,
  };
  const ok = await submit(api, api.tx.pol.submitClaim(input, bond), n.bob);
  assert.equal(ok.dispatchError, null, JSON.stringify(ok.dispatchError));
  const id = ok.events.find((e) => e.section === 'pol' && e.method === 'ClaimSubmitted').data[0].toNumber();

  const report = await waitEvent((e) => e.method === 'ReportSubmitted' && e.data[0].toNumber() === id, 300, 'report from the worker');
  assert.equal(u8aToHex(report.data[1].toU8a()), u8aToHex(n.alice.publicKey), 'signed by the validator\'s worker key');
  const r = report.data[2];
  assert.ok(r.parentLoss.toBigInt() > 0n, 'a measured loss');
  assert.equal(r.candidateLoss.toBigInt(), r.parentLoss.toBigInt(), 'the same payload has the same loss');
  assert.equal(r.replay.toString(), 'Unavailable');

  const rejected = await waitEvent((e) => e.method === 'ClaimRejected' && e.data[0].toNumber() === id, 30, 'rejection');
  assert.equal(rejected.data[2].toString(), 'ReplayMismatch');
  assert.equal(rejected.data[3].toBigInt(), bond / 2n, 'half the bond slashed');
  assert.equal(u8aToHex((await api.rpc.blyan.acceptedBlock(unit)).unwrap()), u8aToHex(parentId), 'ParamIndex unchanged');
});
