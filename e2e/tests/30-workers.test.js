// The off-chain workers of a dev node (Alice is the only validator), with nothing driven by
// hand but the creator's and the trainer's extrinsics:
// - the auditor's worker runs the L0 pre-filter of a new dataset on the node's engine and
//   reports it signed, which opens the community vote;
// - the validator's worker replays a claim on the engine, commits its report and reveals it,
//   signed; a trainer whose "manifest" is not a manifest at all (it re-submits the parent's own
//   payload) is rejected as `Unbound` and loses its whole bond.
// The trainer worker is off (--no-trainer): the adversary test covers trainers.
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
  n = await startDevNode(['--no-trainer']);
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

/**
 * Waits for an event matching `pred` for at most `blocks` blocks (chain time, not wall time);
 * fails with the node's last log lines.
 */
async function waitEvent(pred, blocks, what) {
  const start = (await api.rpc.chain.getHeader()).number.toNumber();
  for (;;) {
    const hit = seen.find(({ event }) => pred(event));
    if (hit) return hit.event;
    const best = (await api.rpc.chain.getHeader()).number.toNumber();
    if (best > start + blocks) assert.fail(`no ${what} within ${blocks} blocks; node log tail:\n${n.logs().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** The dataset the audit test approves, for the claim test. */
let approved;

/** Publishes `bytes` as a one-tile payload (Bob); returns its root. */
async function publish(bytes) {
  const tile = blake3(bytes);
  const root = merkleRoot([tile]);
  assert.equal((await submit(api, api.tx.contentStore.publishTile(u8aToHex(bytes)), n.bob)).dispatchError, null);
  assert.equal((await submit(api, api.tx.contentStore.commitManifest([tile], u8aToHex(root)), n.bob)).dispatchError, null);
  return root;
}

test('the validator\'s worker audits a new dataset and its signed report opens the vote', async () => {
  // Original sentences: a well-known fortune would be in the validation set and be rejected.
  const stamp = Date.now();
  const lines = [`Blyan e2e sample one, written at ${stamp}, is plain English text.`, `The second sample of run ${stamp} is about validators.`,
    `A third sample: the workers audit this dataset (${stamp}).`, `And the fourth one closes the e2e dataset of ${stamp}.`];
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

  const reported = await waitEvent((e) => e.method === 'AuditReported' && e.data[0].toNumber() === id, 20, 'audit report');
  assert.equal(reported.data[1].isTrue, true, 'the clean dataset passes the L0 filter');
  const record = (await api.query.dataset.datasets(id)).unwrap();
  assert.ok(record.stage.isCommunityVote, record.stage.toString());
  const quality = record.quality.unwrap();
  assert.equal(quality.piiPermille.toNumber(), 0);
  assert.equal(quality.toxicityPermille.toNumber(), 0);
  assert.equal(quality.englishPermille.toNumber(), 1000);
  assert.equal(quality.validationOverlap.toNumber(), 0);
  // Alice votes it through, for the claim below.
  assert.equal((await submit(api, api.tx.dataset.vote(id, true), n.alice)).dispatchError, null);
  await waitEvent((e) => e.method === 'DatasetApproved' && e.data[0].toNumber() === id, 40, 'approval');
  approved = id;
});

test('the auditor rejects a dataset that copies validation samples', async () => {
  // The genesis validation set is a held-out share of fortunes; copy two of its samples.
  const spec = (await api.query.modelSpec.specs(0)).unwrap();
  const validation = (await api.query.dataset.datasets(spec.validationDataset[0])).unwrap();
  const text = new TextDecoder().decode((await api.rpc.blyan.payload(validation.payloadRoot)).toU8a(true));
  const samples = text.split(/\n%\n/).filter((x) => x.trim().length > 20 && /^[\x20-\x7e\n\t]+$/.test(x)).slice(0, 2);
  assert.equal(samples.length, 2);
  const leak = new TextEncoder().encode([samples[0].toUpperCase(), 'An original sentence of this dataset, long enough.', samples[1]].join('\n%\n') + '\n');
  const textRoot = await publish(leak);
  const name = 'e2e-leak';
  const root = blake3(leak);
  const nonce = solvePow(api.createType('(Bytes, u32, [u8;32])', [name, 1, root]).toU8a(), api.consts.dataset.powDifficulty.toNumber());
  const ok = await submit(api, api.tx.dataset.submitDataset(name, 1, 'CC0-1.0', 'file:///e2e', leak.length, 3,
    u8aToHex(root), u8aToHex(textRoot), [], nonce), n.bob);
  assert.equal(ok.dispatchError, null, JSON.stringify(ok.dispatchError));
  const id = ok.events.find((e) => e.section === 'dataset' && e.method === 'DatasetSubmitted').data[0].toNumber();
  const rejected = await waitEvent((e) => e.method === 'DatasetRejected' && e.data[0].toNumber() === id, 20, 'rejection');
  assert.equal(rejected.data[1].toString(), JSON.stringify({ autoAudit: 'SharesValidationSamples' }));
  const record = (await api.query.dataset.datasets(id)).unwrap();
  assert.equal(record.quality.unwrap().validationOverlap.toNumber(), 2);
});

test('the validator\'s worker commits and reveals a report on a claim whose manifest is no manifest; it is rejected and slashed', async () => {
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
    units: [{ parent: parentId, payloadRoot: u8aToHex(payload), nonce }],
    base: (await api.rpc.chain.getHeader()).number.toNumber() - 1,
    manifestRoot: u8aToHex(manifest),
    datasets: [{ dataset: approved, ratioPpm: 1_000_000 }],
    params: { seed: 1, steps: 80, checkpointEvery: 10, batchSize: 16, seqLen: 64 },
    claimedLoss: 3_000_000_000n,
    evalRoot: u8aToHex(manifest),
  };
  const before = (await api.query.system.account(n.bob.address)).data;
  const ok = await submit(api, api.tx.pol.submitClaim(input, bond), n.bob);
  assert.equal(ok.dispatchError, null, JSON.stringify(ok.dispatchError));
  const id = ok.events.find((e) => e.section === 'pol' && e.method === 'ClaimSubmitted').data[0].toNumber();

  const committed = await waitEvent((e) => e.method === 'ReportCommitted' && e.data[0].toNumber() === id, 60, 'commitment from the worker');
  assert.equal(u8aToHex(committed.data[1].toU8a()), u8aToHex(n.alice.publicKey), 'signed by the validator\'s worker key');
  const revealed = await waitEvent((e) => e.method === 'ReportRevealed' && e.data[0].toNumber() === id, 20, 'reveal');
  const r = revealed.data[2];
  assert.equal(r.replay.toString(), 'Unbound', 'a manifest that is not JSON is not bound to the claim');
  assert.equal(r.parentLoss.toBigInt(), 0n, 'a claim that does not replay is not evaluated');

  const rejected = await waitEvent((e) => e.method === 'ClaimRejected' && e.data[0].toNumber() === id, 5, 'rejection');
  assert.equal(rejected.data[2].toString(), JSON.stringify({ replayFailed: { verdict: 'Unbound' } }));
  assert.equal(rejected.data[3].toBigInt(), bond, 'the whole bond is slashed');
  const after = (await api.query.system.account(n.bob.address)).data;
  assert.ok(after.free.toBigInt() <= before.free.toBigInt() - bond, 'the bond is gone');
  assert.equal(u8aToHex((await api.rpc.blyan.acceptedBlock(unit)).unwrap()), u8aToHex(parentId), 'ParamIndex unchanged');
});
