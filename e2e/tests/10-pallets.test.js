// Every Blyan pallet from @polkadot/api, decoded from metadata alone (no custom types):
// successful and failing extrinsics, events, errors, storage, and the blyan_* RPC.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { blake3 } from '@noble/hashes/blake3';
import { u8aToHex, u8aConcat, hexToU8a } from '@polkadot/util';
import { startDevNode, submit, sudo } from '../node.js';
import { blyanRpc, merkleRoot, solvePow, reportCommitment } from './rpc-defs.js';

let n;
let api;
/** The dataset the dataset test submits and votes through; the pol test trains on it. */
let trainingDataset;
before(async () => {
  // Off-chain workers off: this file drives every extrinsic by hand (30-workers.test.js
  // covers the workers).
  n = await startDevNode(['--offchain-worker', 'never']);
  api = n.api;
  // Re-create the API with the custom RPC definitions (docs/rpc.md).
  const { ApiPromise } = await import('@polkadot/api');
  api = await ApiPromise.create({ provider: n.api._rpcCore.provider, rpc: blyanRpc, noInitWarn: true });
});
after(async () => { if (n) await n.stop(); });

test('metadata lists the Blyan pallets with their calls, errors and constants', () => {
  for (const p of ['contentStore', 'modelSpec', 'paramDag', 'dataset', 'pol']) {
    assert.ok(api.tx[p], `no calls for ${p}`);
    assert.ok(api.errors[p], `no errors for ${p}`);
    assert.ok(api.query[p], `no storage for ${p}`);
  }
  assert.equal(api.consts.contentStore.maxTileBytes.toNumber(), 4 * 1024 * 1024);
  assert.ok(api.errors.paramDag.UnknownDependency);
});

test('genesis holds the engine model: spec 0, accepted units, payloads served by RPC', async () => {
  const spec = (await api.query.modelSpec.specs(0)).unwrap();
  assert.equal(spec.config.numLocalExperts.toNumber(), 8);
  const order = await api.rpc.blyan.topologicalOrder(0, 1000);
  assert.equal(order.length, 37, 'backbone + 4 routers + 32 experts');
  const backbone = (await api.rpc.blyan.acceptedBlock('backbone')).unwrap();
  const block = (await api.query.paramDag.blocks(backbone)).unwrap();
  assert.equal(block.status.toString(), 'Accepted');
  const root = block.payloadHash;
  const bytes = await api.rpc.blyan.payload(u8aToHex(root));
  assert.equal(bytes.length, block.payloadSize.toNumber());
  const tiles = await api.rpc.blyan.manifest(u8aToHex(root));
  assert.equal(u8aToHex(merkleRoot(tiles.map((t) => t.toU8a()))), u8aToHex(root));
  const datasets = await api.rpc.blyan.approvedDatasets();
  assert.deepEqual(datasets.map(([id, tier]) => [id.toNumber(), tier.toNumber()]), [[0, 0]]);
  await assert.rejects(api.rpc.blyan.payload('0x' + '11'.repeat(32)), /4004|no payload/);
});

// Before the tests below accept made-up payloads into the model.
test('blyan_generate answers from the accepted model, deterministically per seed, and streams tokens', async () => {
  const a = (await api.rpc.blyan.generate('The ', 24, 0.8, 7)).toJSON();
  const b = (await api.rpc.blyan.generate('The ', 24, 0.8, 7)).toJSON();
  assert.equal(a.tokens, 24);
  assert.equal(a.text, b.text, 'same seed, same text');
  assert.ok(a.units.backbone && a.units['layer0.router'], JSON.stringify(a.units));
  const experts = Object.keys(a.units).filter((u) => u.includes('expert'));
  assert.ok(experts.length >= 2 && experts.length <= 32, experts.join(','));
  for (const [unit, hash] of Object.entries(a.units)) {
    const block = (await api.query.paramDag.blocks((await api.rpc.blyan.acceptedBlock(unit)).unwrap())).unwrap();
    assert.equal('0x' + hash, u8aToHex(block.payloadHash), `${unit} is the accepted payload`);
  }
  assert.ok(a.elapsedMs > 0);
  const greedy = (await api.rpc.blyan.generate('The ', 8, 0, 1)).toJSON();
  assert.equal(greedy.tokens, 8);
  await assert.rejects(api.rpc.blyan.generate('The ', 5000, 0.8, 1), /at most 2048/);
  await assert.rejects(api.rpc.blyan.generate('', 5, 0.8, 1), /empty/);

  // The subscription streams one message per byte, then the result.
  const provider = api._rpcCore.provider;
  const streamed = await new Promise((resolve, reject) => {
    const tokens = [];
    provider.subscribe('blyan_generated', 'blyan_subscribeGenerate', ['The ', 24, 0.8, 7], (err, msg) => {
      if (err) return reject(err);
      if (msg.token !== undefined) tokens.push(msg.token);
      else if (msg.done) resolve({ tokens, done: msg.done });
      else reject(new Error(JSON.stringify(msg)));
    }).catch(reject);
  });
  assert.equal(streamed.tokens.length, 24);
  assert.equal(streamed.done.text, a.text);
  assert.ok(streamed.done.firstByteMs > 0 && streamed.done.firstByteMs <= streamed.done.elapsedMs);
  await assert.rejects(api.rpc.blyan.generate('x'.repeat(5000), 4, 0, 1), /at most 4096/);
});

test('generation slots are bounded and an unsubscribed stream frees its slot at once', async () => {
  // --generate-concurrency 2 (the default): two long streams take both slots.
  const provider = api._rpcCore.provider;
  const open = () => new Promise((resolve, reject) => {
    let id;
    let streaming = false;
    const ready = () => { if (id !== undefined && streaming) resolve(id); };
    provider.subscribe('blyan_generated', 'blyan_subscribeGenerate', ['The ', 2048, 0.8, 3], (err, msg) => {
      if (err) return reject(err);
      if (msg.token !== undefined && !streaming) { streaming = true; ready(); }
    }).then((subId) => { id = subId; ready(); }, reject);
  });
  const ids = [await open(), await open()];
  // A third request, of either kind, is refused at once instead of queued.
  await assert.rejects(api.rpc.blyan.generate('The ', 4, 0, 1), /4101|busy/);
  await assert.rejects(
    new Promise((resolve, reject) => provider.subscribe('blyan_generated', 'blyan_subscribeGenerate', ['The ', 4, 0, 1], (err) => { if (err) reject(err); }).then(resolve, reject)),
    /4101|busy/,
  );
  // Unsubscribing stops both generations at their next byte (2 048 bytes would take seconds).
  for (const id of ids) await provider.unsubscribe('blyan_generated', 'blyan_unsubscribeGenerate', id);
  const deadline = Date.now() + 3_000;
  let ok;
  while (!ok) {
    try { ok = (await api.rpc.blyan.generate('The ', 4, 0, 1)).toJSON(); } catch (e) {
      if (!/4101|busy/.test(String(e)) || Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  assert.equal(ok.tokens, 4);
});

test('contentStore: publish a tile, reject a duplicate, commit a manifest, reject a wrong root', async () => {
  const bytes = new TextEncoder().encode('Blyan e2e tile: ' + Date.now());
  const hash = blake3(bytes);
  const ok = await submit(api, api.tx.contentStore.publishTile(u8aToHex(bytes)), n.alice);
  assert.equal(ok.dispatchError, null);
  assert.ok(ok.events.some((e) => e.section === 'contentStore' && e.method === 'TilePublished'));
  assert.ok((await api.query.contentStore.tiles(hash)).isSome);
  const dup = await submit(api, api.tx.contentStore.publishTile(u8aToHex(bytes)), n.alice);
  assert.equal(dup.dispatchError?.name, 'TileAlreadyPublished');
  const wrong = await submit(api, api.tx.contentStore.commitManifest([hash], u8aToHex(blake3(new Uint8Array([9])))), n.alice);
  assert.equal(wrong.dispatchError?.name, 'RootMismatch');
  const root = merkleRoot([hash]);
  const commit = await submit(api, api.tx.contentStore.commitManifest([hash], u8aToHex(root)), n.alice);
  assert.equal(commit.dispatchError, null);
  assert.ok(commit.events.some((e) => e.method === 'ManifestCommitted'));
  const served = await api.rpc.blyan.payload(u8aToHex(root));
  assert.equal(u8aToHex(served), u8aToHex(bytes));
});

test('modelSpec: root registers a spec; a bad config and a signed origin fail', async () => {
  const config = { vocabSize: 256, hiddenSize: 128, numHiddenLayers: 4, numAttentionHeads: 4, maxPositionEmbeddings: 128, numLocalExperts: 8, numExpertsPerTok: 2, intermediateSize: 256 };
  const routers = Array(4).fill('0x' + '22'.repeat(32));
  const call = (cfg, version) => api.tx.modelSpec.registerSpec(cfg, version, 1, [0, 1], '0x' + '33'.repeat(32), routers);
  const bad = await sudo(api, call({ ...config, numExpertsPerTok: 9 }, { major: 0, minor: 2, patch: 0 }), n.alice);
  assert.equal(bad.innerError?.name, 'InvalidConfig');
  const signed = await submit(api, call(config, { major: 0, minor: 2, patch: 0 }), n.bob);
  assert.equal(signed.dispatchError?.name, 'BadOrigin');
  const ok = await sudo(api, call(config, { major: 0, minor: 2, patch: 0 }), n.alice);
  assert.equal(ok.innerError, null);
  assert.ok(ok.events.some((e) => e.section === 'modelSpec' && e.method === 'SpecRegistered'));
  assert.equal((await api.query.modelSpec.latestSpec()).unwrap().toNumber(), 1);
});

test('paramDag: a proposal with an unknown dependency fails; a real one is proposed and accepted', async () => {
  const backbone = (await api.rpc.blyan.acceptedBlock('layer0.expert3')).unwrap();
  const parent = (await api.query.paramDag.blocks(backbone)).unwrap();
  const payload = parent.payloadHash.toU8a();
  const size = parent.payloadSize.toBigInt();
  const bad = await submit(api, api.tx.paramDag.proposeBlock(0, 'layer0.expert3', 0, 'Expert', ['0x' + '44'.repeat(32)], u8aToHex(payload), size, 0), n.alice);
  assert.equal(bad.dispatchError?.name, 'UnknownDependency');
  // Header without nonce: SCALE (spec, name, layer, type, deps, payload, size, miner).
  const header = api.createType('(u32, Bytes, u32, u8, Vec<[u8;32]>, [u8;32], u64, AccountId32)',
    [0, 'layer0.expert3', 0, 2, [backbone], payload, size, n.alice.address]).toU8a();
  const bits = api.consts.paramDag.powDifficulty.toNumber();
  const nonce = solvePow(header, bits);
  const ok = await submit(api, api.tx.paramDag.proposeBlock(0, 'layer0.expert3', 0, 'Expert', [backbone], u8aToHex(payload), size, nonce), n.alice);
  assert.equal(ok.dispatchError, null, JSON.stringify(ok.dispatchError));
  const proposed = ok.events.find((e) => e.section === 'paramDag' && e.method === 'BlockProposed');
  assert.ok(proposed);
  const id = proposed.data[0];
  assert.equal((await api.query.paramDag.blocks(id)).unwrap().status.toString(), 'Proposed');
  const again = await submit(api, api.tx.paramDag.proposeBlock(0, 'layer0.expert3', 0, 'Expert', [backbone], u8aToHex(payload), size, nonce), n.alice);
  assert.equal(again.dispatchError?.name, 'BlockAlreadyExists');
  const accepted = await sudo(api, api.tx.paramDag.acceptBlock(id), n.alice);
  assert.equal(accepted.innerError, null);
  assert.equal(u8aToHex((await api.rpc.blyan.acceptedBlock('layer0.expert3')).unwrap()), u8aToHex(id));
  assert.equal((await api.query.paramDag.blocks(backbone)).unwrap().status.toString(), 'Superseded');
});

test('dataset: submit with PoW, audit by root, vote by the authority; bad PoW, unpublished text and non-voter fail', async () => {
  const name = 'e2e-corpus';
  const root = blake3(new TextEncoder().encode('e2e dataset ' + Date.now()));
  // The dataset's text, published in the content store first.
  const text = new TextEncoder().encode('A fortune a day keeps the bugs away. ' + Date.now());
  const textTile = blake3(text);
  const textRoot = merkleRoot([textTile]);
  assert.equal((await submit(api, api.tx.contentStore.publishTile(u8aToHex(text)), n.bob)).dispatchError, null);
  assert.equal((await submit(api, api.tx.contentStore.commitManifest([textTile], u8aToHex(textRoot)), n.bob)).dispatchError, null);
  const powPayload = api.createType('(Bytes, u32, [u8;32])', [name, 1, root]).toU8a();
  const bits = api.consts.dataset.powDifficulty.toNumber();
  const nonce = solvePow(powPayload, bits);
  const args = (nonceArg, payload = textRoot) => [name, 1, 'CC0-1.0', 'file:///usr/share/games/fortunes', 1000, 10, u8aToHex(root), u8aToHex(payload), [], nonceArg];
  let badNonce = nonce + 1n;
  while (true) { // find a nonce that fails the PoW
    const le = new Uint8Array(8); new DataView(le.buffer).setBigUint64(0, badNonce, true);
    if (blake3(u8aConcat(powPayload, le))[0] !== 0) break;
    badNonce++;
  }
  const bad = await submit(api, api.tx.dataset.submitDataset(...args(badNonce)), n.bob);
  assert.equal(bad.dispatchError?.name, 'InvalidPow');
  const unpublished = await submit(api, api.tx.dataset.submitDataset(...args(nonce, blake3(new Uint8Array([1, 2, 3])))), n.bob);
  assert.equal(unpublished.dispatchError?.name, 'UnknownPayload');
  const ok = await submit(api, api.tx.dataset.submitDataset(...args(nonce)), n.bob);
  assert.equal(ok.dispatchError, null, JSON.stringify(ok.dispatchError));
  const id = ok.events.find((e) => e.section === 'dataset' && e.method === 'DatasetSubmitted').data[0];
  trainingDataset = id.toNumber();
  assert.equal(u8aToHex((await api.query.dataset.datasets(id)).unwrap().payloadRoot), u8aToHex(textRoot));
  const figures = { toxicityPermille: 5, duplicatePermille: 10, piiPermille: 0, englishPermille: 990, outOfRangePermille: 0, validationOverlap: 0 };
  const audit = await sudo(api, api.tx.dataset.reportAudit(id, figures), n.alice);
  assert.equal(audit.innerError, null);
  assert.ok((await api.query.dataset.datasets(id)).unwrap().stage.isCommunityVote);
  const nonVoter = await submit(api, api.tx.dataset.vote(id, true), n.bob);
  assert.equal(nonVoter.dispatchError?.name, 'NotVoter');
  const vote = await submit(api, api.tx.dataset.vote(id, true), n.alice);
  assert.equal(vote.dispatchError, null);
  const twice = await submit(api, api.tx.dataset.vote(id, true), n.alice);
  assert.equal(twice.dispatchError?.name, 'AlreadyVoted');
  const early = await submit(api, api.tx.dataset.finalizeVote(id), n.bob);
  assert.equal(early.dispatchError?.name, 'VoteWindowOpen');
});

test('pol: bad claims fail; a claim is challenged, committed and revealed by the validator and accepted', async () => {
  // A training dataset: the one the dataset test submitted, approved once its vote closes.
  let stage;
  for (;;) {
    stage = (await api.query.dataset.datasets(trainingDataset)).unwrap().stage;
    if (!stage.isCommunityVote) break;
    await new Promise((r) => setTimeout(r, 2000));
  }
  assert.ok(stage.isApproved, stage.toString());
  const unit = 'layer0.expert5';
  const parentId = (await api.rpc.blyan.acceptedBlock(unit)).unwrap();
  // The candidate payload: one tile committed by Bob.
  const bytes = new TextEncoder().encode('Blyan e2e candidate expert: ' + Date.now());
  const tile = blake3(bytes);
  const root = merkleRoot([tile]);
  assert.equal((await submit(api, api.tx.contentStore.publishTile(u8aToHex(bytes)), n.bob)).dispatchError, null);
  assert.equal((await submit(api, api.tx.contentStore.commitManifest([tile], u8aToHex(root)), n.bob)).dispatchError, null);
  // The child's header: the parent's spec, name, layer and type, depends_on [parent].
  const nonceOf = (who) => solvePow(api.createType('(u32, Bytes, u32, u8, Vec<[u8;32]>, [u8;32], u64, AccountId32)',
    [0, unit, 0, 2, [parentId], root, bytes.length, who.address]).toU8a(), api.consts.paramDag.powDifficulty.toNumber());
  const params = { seed: 1, steps: 300, checkpointEvery: 10, batchSize: 16, seqLen: 64 };
  // The base: the block whose model the candidate is evaluated in (the last one seen).
  const base = (await api.rpc.chain.getHeader()).number.toNumber() - 1;
  const update = (who = n.bob) => ({ parent: parentId, payloadRoot: u8aToHex(root), nonce: nonceOf(who) });
  const input = (datasets, p = params, who = n.bob) => ({
    units: [update(who)], base, manifestRoot: u8aToHex(root), datasets,
    params: p, claimedLoss: 4_900_000_000n, evalRoot: u8aToHex(root),
  });
  const all = [{ dataset: trainingDataset, ratioPpm: 1_000_000 }];
  const bond = api.consts.pol.minBond.toBigInt();
  const refused = async (tx, error) => assert.equal((await submit(api, tx, n.bob)).dispatchError?.name, error);
  await refused(api.tx.pol.submitClaim(input([{ dataset: trainingDataset, ratioPpm: 999_999 }]), bond), 'RatiosDoNotSum');
  await refused(api.tx.pol.submitClaim(input([{ dataset: 77, ratioPpm: 1_000_000 }]), bond), 'DatasetNotApproved');
  // The spec's validation set (dataset 0) is never training data.
  await refused(api.tx.pol.submitClaim(input([{ dataset: 0, ratioPpm: 1_000_000 }]), bond), 'ValidationDatasetNamed');
  // A resource bomb is refused by the chain before any validator sees it.
  await refused(api.tx.pol.submitClaim(input(all, { ...params, batchSize: 1 << 28 }), bond), 'BatchSizeOutOfRange');
  await refused(api.tx.pol.submitClaim(input(all, { ...params, checkpointEvery: 1 }), bond), 'TooManySegments');
  await refused(api.tx.pol.submitClaim(input(all), bond - 1n), 'BondTooLow');
  // Unit sets: none, one unit twice; a base block that is not in the past.
  await refused(api.tx.pol.submitClaim({ ...input(all), units: [] }, bond), 'NoUnits');
  await refused(api.tx.pol.submitClaim({ ...input(all), units: [update(), update()] }, bond), 'DuplicateUnit');
  await refused(api.tx.pol.submitClaim({ ...input(all), base: base + 1000 }, bond), 'BaseNotInPast');

  const ok = await submit(api, api.tx.pol.submitClaim(input(all), bond), n.bob);
  assert.equal(ok.dispatchError, null, JSON.stringify(ok.dispatchError));
  const submitted = ok.events.find((e) => e.section === 'pol' && e.method === 'ClaimSubmitted');
  const id = submitted.data[0].toNumber();
  const blocks = submitted.data[2];
  assert.equal(blocks.length, 1);
  const block = blocks[0];
  assert.equal((await api.query.pol.claims(id)).unwrap().stage.isAwaitingChallenge, true);
  const report = { parentLoss: 5_000_000_000n, candidateLoss: 4_900_000_000n, replay: 'Match', replayDigest: new Uint8Array(32).fill(7) };
  const salt = new Uint8Array(32).fill(42);
  const commitment = u8aToHex(reportCommitment(id, n.alice.publicKey, report, salt));
  const early = await submit(api, api.tx.pol.commitReport(id, commitment), n.alice);
  assert.equal(early.dispatchError?.name, 'ChallengeNotDrawn');
  // Two blocks later the challenge is drawn over the parameters' 30 segments.
  let claim;
  for (;;) {
    claim = (await api.query.pol.claims(id)).unwrap();
    if (claim.stage.isEvaluating) break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  assert.equal(claim.segments.length, api.consts.pol.replaySegments.toNumber());
  assert.ok(claim.segments.every((s) => s.toNumber() < 30));
  // The seed the validators draw the checked evaluation windows from is on chain.
  assert.notEqual(u8aToHex(claim.seed), u8aToHex(new Uint8Array(32)));
  const notValidator = await submit(api, api.tx.pol.commitReport(id, commitment), n.bob);
  assert.equal(notValidator.dispatchError?.name, 'NotValidator');
  const reveal = () => api.tx.pol.revealReport(id, { ...report, replayDigest: u8aToHex(report.replayDigest) }, u8aToHex(salt));
  // Alice is the only validator: her commitment completes the set and reveals start next block.
  const committed = await submit(api, api.tx.pol.commitReport(id, commitment), n.alice);
  assert.equal(committed.dispatchError, null, JSON.stringify(committed.dispatchError));
  assert.ok(committed.events.some((e) => e.section === 'pol' && e.method === 'CommitmentsComplete'));
  const decided = await submit(api, reveal(), n.alice);
  assert.equal(decided.dispatchError, null, JSON.stringify(decided.dispatchError));
  const accepted = decided.events.find((e) => e.section === 'pol' && e.method === 'ClaimAccepted');
  assert.ok(accepted, decided.events.map((e) => e.method).join(','));
  assert.equal(accepted.data[2].toNumber(), 20_000, 'improvement 2 % in ppm');
  assert.ok(decided.events.some((e) => e.section === 'pol' && e.method === 'DataContributorRewarded'));
  assert.equal(u8aToHex((await api.rpc.blyan.acceptedBlock(unit)).unwrap()), u8aToHex(block));
  assert.ok((await api.query.pol.claims(id)).unwrap().stage.isAccepted);
  const twice = await submit(api, reveal(), n.alice);
  assert.equal(twice.dispatchError?.name, 'AlreadyRevealed');

  // The validator cannot report on its own claim.
  const own = await submit(api, api.tx.pol.submitClaim({ ...input(all, params, n.alice), units: [{ parent: block, payloadRoot: u8aToHex(root), nonce: solvePow(
    api.createType('(u32, Bytes, u32, u8, Vec<[u8;32]>, [u8;32], u64, AccountId32)',
      [0, unit, 0, 2, [block], root, bytes.length, n.alice.address]).toU8a(), api.consts.paramDag.powDifficulty.toNumber()) }] }, bond), n.alice);
  assert.equal(own.dispatchError, null, JSON.stringify(own.dispatchError));
  const ownId = own.events.find((e) => e.section === 'pol' && e.method === 'ClaimSubmitted').data[0].toNumber();
  for (;;) {
    if ((await api.query.pol.claims(ownId)).unwrap().stage.isEvaluating) break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  const selfReport = await submit(api, api.tx.pol.commitReport(ownId, commitment), n.alice);
  assert.equal(selfReport.dispatchError?.name, 'OwnClaim');
});
