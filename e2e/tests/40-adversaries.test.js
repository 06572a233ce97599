// Adversaries on a local network (`--chain local`, six processes on loopback):
// - Alice and Bob: honest validators;
// - Charlie: a validator whose engine reports a candidate loss 1 % too high (--adversary
//   wrong-loss);
// - Dave, Eve, Ferdie: trainers that cheat — a forged checkpoint, datasets named but not
//   trained on, a claimed loss its payload does not have (--adversary forge-checkpoint,
//   misname-datasets, inflate-claim).
// Two topics of Debian's fortunes become approved datasets through the workers' audit and
// Alice's vote; then every cheating trainer's claim must be rejected and slashed, the honest
// reports for each claim must be bitwise identical, and Charlie must be recorded as deviant.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { u8aToHex } from '@polkadot/util';
import { ApiPromise } from '@polkadot/api';
import { startNode, nodeBinary } from '../node.js';
import { blyanRpc } from './rpc-defs.js';
import { sender, submitDatasets, approveDatasets } from '../datasets.js';

const NODE_KEY = '0000000000000000000000000000000000000000000000000000000000000001';
const PEER_ID = '12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp';
const TOPICS = ['computers', 'science'];

const nodes = {};
let api;
let dir;
const seen = [];
const log = (...m) => console.log('#', ...m);

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'blyan-corpus-'));
  execFileSync(nodeBinary(), ['export-corpus', '--out', dir], { stdio: 'ignore' });
  nodes.alice = await startNode(['--chain', 'local', '--alice', '--node-key', NODE_KEY, '--no-trainer']);
  const peers = ['--bootnodes', `/ip4/127.0.0.1/tcp/${nodes.alice.p2pPort}/p2p/${PEER_ID}`, '--unsafe-force-node-key-generation'];
  nodes.bob = await startNode(['--chain', 'local', '--bob', ...peers, '--no-trainer']);
  nodes.charlie = await startNode(['--chain', 'local', '--charlie', ...peers, '--no-trainer', '--adversary', 'wrong-loss']);
  nodes.dave = await startNode(['--chain', 'local', '--dave', ...peers, '--adversary', 'forge-checkpoint']);
  nodes.eve = await startNode(['--chain', 'local', '--eve', ...peers, '--adversary', 'misname-datasets']);
  nodes.ferdie = await startNode(['--chain', 'local', '--ferdie', ...peers, '--adversary', 'inflate-claim']);
  api = await ApiPromise.create({ provider: nodes.alice.api._rpcCore.provider, rpc: blyanRpc, noInitWarn: true });
  await api.rpc.chain.subscribeNewHeads(async (header) => {
    const events = await (await api.at(header.hash)).query.system.events();
    for (const { event } of events) if (event.section === 'pol') seen.push({ block: header.number.toNumber(), event });
  });
});

after(async () => {
  await Promise.all(Object.values(nodes).filter((n) => !n.stopped).map((n) => n.stop()));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const hex = (x) => u8aToHex(x.toU8a());

test('cheating trainers are rejected and slashed; honest reports agree bit for bit; a wrong validator is deviant', { timeout: 40 * 60_000 }, async () => {
  const k = nodes.alice.keyring;
  const [alice, bob, charlie, dave, eve, ferdie] = ['Alice', 'Bob', 'Charlie', 'Dave', 'Eve', 'Ferdie'].map((n) => k.addFromUri(`//${n}`));
  const send = sender(api, log);
  const list = JSON.parse(readFileSync(join(dir, 'datasets.json'), 'utf8')).datasets.filter((d) => TOPICS.includes(d.name));
  assert.equal(list.length, TOPICS.length);
  const ids = await submitDatasets(api, send, dir, list, [bob]);
  assert.equal(ids.length, TOPICS.length);
  const stages = await approveDatasets(api, send, ids, alice, Date.now() + 10 * 60_000, log);
  assert.ok(stages.every((s) => s.isApproved), stages.map((s) => s.toString()).join(','));

  // Each cheating trainer claims once; wait for the three rejections and Charlie's deviations.
  const who = new Map([[u8aToHex(dave.publicKey), 'dave'], [u8aToHex(eve.publicKey), 'eve'], [u8aToHex(ferdie.publicKey), 'ferdie']]);
  const claimOf = {};
  const deadline = Date.now() + 25 * 60_000;
  for (;;) {
    for (const { event: e } of seen) {
      if (e.method === 'ClaimSubmitted') {
        const t = who.get(hex(e.data[1]));
        if (t && claimOf[t] === undefined) { claimOf[t] = e.data[0].toNumber(); log(`${t} claimed: ${claimOf[t]}`); }
      }
    }
    const rejected = (id) => seen.some(({ event: e }) => e.method === 'ClaimRejected' && e.data[0].toNumber() === id);
    const deviant = (id) => seen.some(({ event: e }) => e.method === 'ReportDeviated' && e.data[0].toNumber() === id);
    // A trainer whose claim is decided would train again: stop it to spare the CPU.
    for (const [t, id] of Object.entries(claimOf)) {
      if (rejected(id) && !nodes[t].stopped) { nodes[t].stopped = true; await nodes[t].stop(); log(`${t}'s claim decided; node stopped`); }
    }
    const ids_ = Object.values(claimOf);
    if (ids_.length === 3 && ids_.every((id) => rejected(id) && deviant(id))) break;
    if (Date.now() > deadline) {
      assert.fail(`timed out; claims ${JSON.stringify(claimOf)}; events ${seen.map(({ block, event }) => `#${block} ${event.method}`).join(', ')}\n` +
        `dave log:\n${nodes.dave.logs().slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 3000));
  }

  const bond = api.consts.pol.minBond.toBigInt();
  const expected = { dave: 'ReplayMismatch', eve: 'ReplayMismatch', ferdie: 'ClaimedLossNotReproduced' };
  for (const [t, id] of Object.entries(claimOf)) {
    const rejection = seen.find(({ event: e }) => e.method === 'ClaimRejected' && e.data[0].toNumber() === id).event;
    const reason = rejection.data[2];
    assert.equal(reason.type, expected[t], `${t}: ${reason.toString()}`);
    assert.equal(rejection.data[3].toBigInt(), bond / 2n, `${t} loses half the bond`);

    const reports = new Map((await api.query.pol.reports(id)).map(([v, r]) => [hex(v), r]));
    const [ra, rb, rc] = [alice, bob, charlie].map((x) => reports.get(u8aToHex(x.publicKey)));
    assert.ok(ra && rb && rc, `${t}: all three validators reported`);
    assert.equal(hex(ra), hex(rb), `${t}: honest reports are bitwise identical`);
    assert.notEqual(hex(rc), hex(ra), `${t}: Charlie's wrong loss differs`);
    assert.equal(rc.candidateLoss.toBigInt(), ra.candidateLoss.toBigInt() + ra.candidateLoss.toBigInt() / 100n);
    const deviants = seen.filter(({ event: e }) => e.method === 'ReportDeviated' && e.data[0].toNumber() === id)
      .map(({ event: e }) => hex(e.data[1]));
    assert.deepEqual(deviants, [u8aToHex(charlie.publicKey)], `${t}: only Charlie deviates`);
  }
  assert.ok((await api.query.pol.deviations(charlie.address)).toNumber() >= 3);
  assert.equal((await api.query.pol.deviations(alice.address)).toNumber(), 0);
  // The forged and misnamed runs fail their replay; the inflated claim replays but its loss
  // is not reproduced.
  const replayOf = async (id) => (await api.query.pol.reports(id))[0][1].replay.toString();
  assert.equal(await replayOf(claimOf.dave), 'Mismatch');
  assert.equal(await replayOf(claimOf.eve), 'Mismatch');
  assert.equal(await replayOf(claimOf.ferdie), 'Match');
});
