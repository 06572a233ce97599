// Adversaries on a local network (`--chain local`, twelve processes on loopback):
// - Alice and Bob: honest validators;
// - Charlie: a validator whose node runs no workers; this test signs as Charlie and cheats:
//   it commits a fabricated approval of every cheating claim (a minority trying to accept),
//   and copies Alice's commitment and then her reveal on the honest claim (a lazy copier);
// - seven cheating trainers on the test binary with the cheating engine (`--features adversary`):
//   forge-checkpoint, misname-datasets, inflate-claim (the three of issue #4), unbound-result
//   (the result is not the last checkpoint: tuned on the validation set), understate-segments
//   (the claim states one segment), bomb-manifest (the manifest asks for 2^28 × 2^20 batches),
//   understate-windows (its evaluation record states every window's loss 5 % low),
//   and two honest trainers on disjoint unit sets: one claims layer0's router and expert 0 in
//   one claim (the cheats train that expert alone), the other layer1's experts 0 and 1;
// - a thief (no node) that claims the honest trainer's payload and manifest as its own.
// Two fortunes topics become approved datasets through the workers' audit and Alice's vote.
// Every cheating claim must be rejected by the honest quorum and lose its whole bond, both
// honest claims (each over two units) must be accepted, their evaluation windows overlapping, Alice's and Bob's reports must be bitwise identical, the
// copier's reveal must be refused, and Charlie must be recorded as deviant on every claim.
// Waits are on chain state (blocks, windows, events), not on wall-clock deadlines.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { u8aToHex } from '@polkadot/util';
import { randomAsU8a } from '@polkadot/util-crypto';
import { ApiPromise } from '@polkadot/api';
import { startNode, nodeBinary, adversaryBinary, submit } from '../node.js';
import { blyanRpc, reportCommitment, solvePow } from './rpc-defs.js';
import { sender, submitDatasets, approveDatasets } from '../datasets.js';

const NODE_KEY = '0000000000000000000000000000000000000000000000000000000000000001';
const PEER_ID = '12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp';
const TOPICS = ['computers', 'science'];
/**
 * Trainers: name, engine cheat (none: honest), worker key, steps per run. The honest trainer
 * needs a real improvement above δ, so it trains 150 steps; the others are rejected whatever
 * their improvement (the inflated loss is judged before the improvement and before
 * `Superseded`), so 40 steps do, and all but the inflater skip measuring their loss.
 */
const TRAINERS = [
  ['forge', 'forge-checkpoint', '//Dave', 40],
  ['misname', 'misname-datasets', '//Eve', 40],
  ['inflate', 'inflate-claim', '//Ferdie', 40],
  ['unbound', 'unbound-result', '//Dave//stash', 40],
  ['understate', 'understate-segments', '//Eve//stash', 40],
  ['bomb', 'bomb-manifest', '//Ferdie//stash', 40],
  ['windows', 'understate-windows', '//Dave//windows', 40],
  ['honest', null, '//Alice//stash', 150],
  ['honest2', null, '//Charlie//stash', 150],
];
/** Each trainer's `--trainer-units`: the cheats and `honest` share layer0.expert0. */
const UNITS = { honest: 'layer0.router,layer0.expert0', honest2: 'layer1.expert0,layer1.expert1' };
/** How each claim must end. */
const EXPECTED = {
  forge: 'replayFailed:Mismatch',
  misname: 'replayFailed:Mismatch',
  inflate: 'claimedLossNotReproduced',
  unbound: 'replayFailed:Unbound',
  understate: 'replayFailed:Unbound',
  bomb: 'replayFailed:Unbound',
  windows: 'replayFailed:EvaluationMismatch',
  thief: 'replayFailed:Unbound',
  honest: 'accepted',
  honest2: 'accepted',
};
/** A claim stage as in EXPECTED. */
const describe = (s) => {
  if (s.accepted) return 'accepted';
  if (!s.rejected) return JSON.stringify(s);
  if (typeof s.rejected === 'string') return s.rejected;
  if (s.rejected.replayFailed) return `replayFailed:${s.rejected.replayFailed.verdict}`;
  return Object.keys(s.rejected)[0];
};
/** The test gives up when the chain passes this many blocks after the datasets are approved. */
const MAX_BLOCKS = 400;

const nodes = {};
let api;
let dir;
const t0 = Date.now();
/** Progress lines, with the seconds since the test file started (for CI logs). */
const log = (...m) => console.log('#', `[${Math.round((Date.now() - t0) / 1000)} s]`, ...m);

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'blyan-corpus-'));
  execFileSync(nodeBinary(), ['export-corpus', '--out', dir], { stdio: 'ignore' });
  const local = ['--chain', 'local'];
  nodes.alice = await startNode([...local, '--alice', '--node-key', NODE_KEY, '--no-trainer']);
  const peers = ['--bootnodes', `/ip4/127.0.0.1/tcp/${nodes.alice.p2pPort}/p2p/${PEER_ID}`, '--unsafe-force-node-key-generation'];
  nodes.bob = await startNode([...local, '--bob', ...peers, '--no-trainer']);
  nodes.charlie = await startNode([...local, '--charlie', ...peers, '--no-trainer', '--offchain-worker', 'never']);
  for (const [name, cheat, , steps] of TRAINERS) {
    // Not authorities: their off-chain workers (the trainer) run only when asked for.
    // The cheats compete with the first honest claim on one unit; the second is disjoint.
    const args = [...local, ...peers, '--offchain-worker', 'always', '--train-steps', String(steps),
      '--trainer-units', UNITS[name] ?? 'layer0.expert0', ...(cheat ? ['--adversary', cheat] : [])];
    // One engine thread each: nine trainers on two cores would otherwise spin against
    // each other (and against the validators).
    nodes[name] = await startNode(args, { binary: adversaryBinary(), env: { RAYON_NUM_THREADS: '1' } });
  }
  // Each trainer's worker key, inserted as an operator would (author_insertKey, localhost).
  for (const [name, , uri] of TRAINERS) {
    const key = nodes.alice.keyring.addFromUri(uri);
    await nodes[name].api.rpc.author.insertKey('blyn', uri, u8aToHex(key.publicKey));
  }
  api = await ApiPromise.create({ provider: nodes.alice.api._rpcCore.provider, rpc: blyanRpc, noInitWarn: true });
});

after(async () => {
  // Every node's log (its last 1 MB), for a failed run: $BLYAN_E2E_LOGS, else a temporary
  // directory named in the output.
  const logs = process.env.BLYAN_E2E_LOGS || mkdtempSync(join(tmpdir(), 'blyan-e2e-40-logs-'));
  mkdirSync(logs, { recursive: true });
  for (const [name, n] of Object.entries(nodes)) writeFileSync(join(logs, `${name}.log`), n.logs());
  log(`node logs in ${logs}`);
  await Promise.all(Object.values(nodes).filter((n) => !n.stopped).map((n) => n.stop()));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Hex of raw bytes or of a codec's SCALE. */
const hex = (x) => u8aToHex(x.toU8a ? x.toU8a() : x);
const best = async () => (await api.rpc.chain.getHeader()).number.toNumber();

test('cheating trainers, a colluding validator, a copier and a thief all fail; the honest claim is accepted', { timeout: 90 * 60_000 }, async () => {
  const k = nodes.alice.keyring;
  const [alice, bob, charlie] = ['//Alice', '//Bob', '//Charlie'].map((u) => k.addFromUri(u));
  const thief = k.addFromUri('//Bob//stash');
  const send = sender(api, log);
  // The lying-record trainer's key is no endowed dev account: Alice funds its bond.
  const windowsKey = k.addFromUri('//Dave//windows');
  await send(api.tx.balances.transferKeepAlive(windowsKey.address, 1_000n * 10n ** 12n), alice);
  const list = JSON.parse(readFileSync(join(dir, 'datasets.json'), 'utf8')).datasets.filter((d) => TOPICS.includes(d.name));
  const ids = await submitDatasets(api, send, dir, list, [bob]);
  assert.equal(ids.length, TOPICS.length);
  const stages = await approveDatasets(api, send, ids, alice, 120, log);
  assert.ok(stages.every((s) => s.isApproved), stages.map((s) => s.toString()).join(','));

  // Requests the chain refuses outright: a claim on the validation set, and a resource bomb.
  const someParent = (await api.rpc.blyan.acceptedBlock('layer0.expert0')).unwrap();
  const refused = {
    units: [{ parent: someParent, payloadRoot: someParent, nonce: 0 }], base: (await best()) - 1,
    manifestRoot: someParent, claimedLoss: 1n, evalRoot: someParent,
    datasets: [{ dataset: 0, ratioPpm: 1_000_000 }],
    params: { seed: 1, steps: 40, checkpointEvery: 10, batchSize: 16, seqLen: 64 },
  };
  const bond = api.consts.pol.minBond.toBigInt();
  assert.equal((await submit(api, api.tx.pol.submitClaim(refused, bond), thief)).dispatchError?.name, 'ValidationDatasetNamed');
  const bomb = { ...refused, datasets: [{ dataset: ids[0], ratioPpm: 1_000_000 }], params: { ...refused.params, batchSize: 1 << 28, seqLen: 1 << 20 } };
  assert.equal((await submit(api, api.tx.pol.submitClaim(bomb, bond), thief)).dispatchError?.name, 'BatchSizeOutOfRange');

  const trainerOf = new Map(TRAINERS.map(([name, , uri]) => [hex(k.addFromUri(uri).publicKey), name]));
  trainerOf.set(hex(thief.publicKey), 'thief');
  const claimOf = {};
  const nameOf = new Map();
  const charlieReports = new Map(); // claim → { report, salt, revealed }
  const copy = {}; // the honest claim's copy state
  const events = [];
  const started = await best();
  const limit = started + MAX_BLOCKS;
  const charlieSend = sender(api, log);

  const onEvent = async (event, phase, blockHash) => {
    const [id] = event.data;
    if (event.method === 'ClaimSubmitted') {
      const who = trainerOf.get(hex(event.data[1]));
      // Each trainer's first claim is the one under test; later ones (it trains again until
      // its node is stopped) are not.
      if (!who || claimOf[who] !== undefined) return;
      claimOf[who] = id.toNumber();
      nameOf.set(id.toNumber(), who);
      log(`${who} claimed: claim ${id}`);
      if (who === 'honest') {
        // The thief copies the honest claim's input, with its own PoW nonce.
        const claim = (await api.query.pol.claims(id)).unwrap();
        const input = claim.input;
        const units = [];
        for (const unit of input.units) {
          const parent = (await api.query.paramDag.blocks(unit.parent)).unwrap();
          const len = (await api.query.contentStore.manifests(unit.payloadRoot)).unwrap().len.toBigInt();
          const header = api.createType('(u32, Bytes, u32, u8, Vec<[u8;32]>, [u8;32], u64, AccountId32)',
            [parent.spec, parent.expertName, parent.layerId, parent.blockType.index, [unit.parent], unit.payloadRoot, len, thief.address]).toU8a();
          units.push({ ...unit.toJSON(), nonce: solvePow(header, api.consts.paramDag.powDifficulty.toNumber()) });
        }
        const stolen = { ...input.toJSON(), units };
        await send(api.tx.pol.submitClaim(stolen, bond), thief);
        log('thief copied the honest claim');
      }
    } else if (event.method === 'ChallengeDrawn') {
      const who = nameOf.get(id.toNumber());
      if (!who || who === 'honest') return;
      // The colluding validator approves every cheat: Match and 10 % better.
      const report = { parentLoss: 5_000_000_000n, candidateLoss: 4_500_000_000n, replay: 'Match', replayDigest: new Uint8Array(32).fill(0x11) };
      const salt = randomAsU8a(32);
      charlieReports.set(id.toNumber(), { report, salt, revealed: false });
      await charlieSend(api.tx.pol.commitReport(id, u8aToHex(reportCommitment(id.toNumber(), charlie.publicKey, report, salt))), charlie);
    } else if (event.method === 'ReportCommitted' && nameOf.get(id.toNumber()) === 'honest' && hex(event.data[1]) === hex(alice.publicKey) && !copy.committed) {
      // The copier commits Alice's commitment as its own.
      copy.committed = true;
      const c = (await api.query.pol.commitments(id, alice.address)).unwrap();
      await charlieSend(api.tx.pol.commitReport(id, c), charlie);
      log('charlie copied alice\'s commitment');
    } else if (event.method === 'ReportRevealed' && nameOf.get(id.toNumber()) === 'honest' && hex(event.data[1]) === hex(alice.publicKey) && !copy.revealed) {
      // …and then her report and salt, read from her reveal extrinsic.
      copy.revealed = true;
      // The event's phase names the extrinsic that emitted it.
      assert.ok(phase.isApplyExtrinsic, `alice's reveal event is an extrinsic's (${phase})`);
      const block = await api.rpc.chain.getBlock(blockHash);
      const xt = block.block.extrinsics[phase.asApplyExtrinsic.toNumber()];
      assert.equal(`${xt.method.section}.${xt.method.method}`, 'pol.revealReport', 'alice\'s reveal is in the block');
      const res = await submit(api, api.tx.pol.revealReport(id, xt.method.args[1], xt.method.args[2]), charlie);
      copy.error = res.dispatchError?.name;
      log(`charlie's copied reveal: ${copy.error}`);
    }
  };

  const unsub = await api.rpc.chain.subscribeNewHeads(async (header) => {
    const at = await api.at(header.hash);
    for (const { event, phase } of await at.query.system.events()) {
      if (event.section !== 'pol') continue;
      events.push({ block: header.number.toNumber(), event });
      log(`#${header.number} pol.${event.method}(${event.data.slice(0, 2).map(String).join(', ')})`);
      try { await onEvent(event, phase, header.hash); } catch (e) { log(`handler: ${e.message}`); }
    }
    // Charlie reveals its fabricated reports once the reveal window opens.
    for (const [id, r] of charlieReports) {
      if (r.revealed) continue;
      const claim = (await at.query.pol.claims(id)).unwrap();
      if (header.number.toNumber() > claim.commitUntil.toNumber()) {
        r.revealed = true;
        await charlieSend(api.tx.pol.revealReport(id, { ...r.report, replayDigest: u8aToHex(r.report.replayDigest) }, u8aToHex(r.salt)), charlie).catch((e) => log(e.message));
      }
    }
  });

  const decided = async (who) => {
    const id = claimOf[who];
    if (id === undefined) return false;
    const claim = (await api.query.pol.claims(id)).unwrap();
    return !claim.stage.isAwaitingChallenge && !claim.stage.isEvaluating;
  };
  const closed = async (who) => {
    const id = claimOf[who];
    if (id === undefined) return false;
    const claim = (await api.query.pol.claims(id)).unwrap();
    return !claim.stage.isAwaitingChallenge && !claim.stage.isEvaluating && (await best()) > claim.revealUntil.toNumber() + 1;
  };
  for (;;) {
    const done = await Promise.all(Object.keys(EXPECTED).map(closed));
    // A trainer whose claim is decided would train again: stop it to spare the CPU.
    for (const [name] of TRAINERS) {
      if (!nodes[name].stopped && await decided(name)) { nodes[name].stopped = true; await nodes[name].stop(); log(`${name}'s claim decided; node stopped`); }
    }
    if (done.every(Boolean)) break;
    const now = await best();
    if (now > limit) {
      unsub();
      assert.fail(`the chain passed block ${limit} with claims open: ${JSON.stringify(claimOf)}; events ` +
        events.map(({ block, event }) => `#${block} ${event.method}(${event.data[0]})`).join(', ') + `\nalice log:\n${nodes.alice.logs().slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 3000));
  }
  unsub();

  const deviationsOf = (id) => events.filter(({ event: e }) => e.method === 'ReportDeviated' && e.data[0].toNumber() === id)
    .map(({ event: e }) => [hex(e.data[1]), e.data[2].toString()]);
  for (const [who, expected] of Object.entries(EXPECTED)) {
    const id = claimOf[who];
    const claim = (await api.query.pol.claims(id)).unwrap();
    assert.equal(describe(claim.stage.toJSON()), expected, `${who}: ${claim.stage.toString()}`);
    if (expected !== 'accepted') {
      const rejection = events.find(({ event: e }) => e.method === 'ClaimRejected' && e.data[0].toNumber() === id).event;
      assert.equal(rejection.data[3].toBigInt(), claim.bond.toBigInt(), `${who} loses the whole bond`);
    }
    // The honest validators revealed the same report, bit for bit.
    const reports = new Map((await api.query.pol.reports(id)).map(([v, r]) => [hex(v), r]));
    const [ra, rb] = [alice, bob].map((x) => reports.get(hex(x.publicKey)));
    assert.ok(ra && rb, `${who}: alice and bob revealed`);
    assert.equal(hex(ra), hex(rb), `${who}: honest reports are bitwise identical`);
    // Charlie deviates on every claim: a fabricated approval, or a copied reveal never opened.
    const dev = deviationsOf(id);
    assert.deepEqual(dev.map(([v]) => v), [hex(charlie.publicKey)], `${who}: only charlie deviates (${JSON.stringify(dev)})`);
    assert.equal(dev[0][1], who === 'honest' ? 'NotRevealed' : 'DiffersFromQuorum', who);
  }
  assert.equal(copy.error, 'CommitmentMismatch', 'a copied commitment opens nothing');
  // Claims over unit sets, concurrently: each honest claim moved both of its units, and the
  // two were in evaluation at the same time (each submitted before the other was decided).
  const decidedAt = (id) => events.find(({ event: e }) => e.method === 'ClaimAccepted' && e.data[0].toNumber() === id).block;
  const window = [];
  for (const who of ['honest', 'honest2']) {
    const id = claimOf[who];
    const claim = (await api.query.pol.claims(id)).unwrap();
    assert.equal(claim.blocks.length, 2, `${who}: a claim over two units`);
    for (const b of claim.blocks) {
      const unit = new TextDecoder().decode(b.unit.toU8a(true));
      assert.equal(hex((await api.rpc.blyan.acceptedBlock(unit)).unwrap()), hex(b.block), `${who}: ${unit} moved`);
    }
    window.push([claim.submittedAt.toNumber(), decidedAt(id)]);
  }
  log(`honest claims in evaluation over blocks ${JSON.stringify(window)}`);
  assert.ok(window[0][0] <= window[1][1] && window[1][0] <= window[0][1], `overlapping windows ${JSON.stringify(window)}`);
  const honestTrainer = k.addFromUri('//Alice//stash');
  assert.equal((await api.query.pol.trainerTrust(honestTrainer.address)).consecutiveApprovals.toNumber(), 1);
  assert.equal((await api.query.pol.deviations(alice.address)).toNumber(), 0);
  assert.equal((await api.query.pol.deviations(bob.address)).toNumber(), 0);
  // The bomb was refused without allocating: the validators said why, and kept producing blocks.
  assert.ok(nodes.alice.alive() && nodes.bob.alive(), 'the validators survived the bomb');
  assert.match(nodes.alice.logs() + nodes.bob.logs(), /replay Unbound: the manifest's parameters are not the claim's/);
  const bombClaim = (await api.query.pol.claims(claimOf.bomb)).unwrap();
  assert.ok((await best()) > bombClaim.revealUntil.toNumber(), 'blocks kept coming');
});
