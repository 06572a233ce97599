// The main job's driver (scripts/learn.sh): turns every Debian `fortunes` topic into a Chain D
// dataset on a running dev chain, votes the audited ones through, then follows the chain's
// own workers as they train, evaluate and accept expert updates.
//
//   node learn.js --ws ws://127.0.0.1:9944 --datasets DIR --out DIR [--accepted N] [--minutes M]
//                 [--for M]
//
// DIR holds `datasets.json` and the topic texts written by `blyan-node export-corpus`.
// Bob, Charlie, Dave and Eve create the datasets (and earn their PoDL rewards); Alice, the
// dev chain's only validator and voter, votes; Ferdie's key, which `--dev` inserts, trains. Writes OUT/learning.csv (validation nats/byte of every accepted
// version, genesis first, with the seconds since this script started) and OUT/generate.json (a
// `blyan_generate` answer), and exits 0 once N updates (default 1) are accepted, or 1 after M
// minutes (default 15). With `--for M` it follows the chain for exactly M minutes and exits 0
// (scripts/benchmarks/learning-efficiency.sh).
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ApiPromise, WsProvider, Keyring } from '@polkadot/api';
import { cryptoWaitReady } from '@polkadot/util-crypto';
import { blyanRpc } from './tests/rpc-defs.js';
import { sender, submitDatasets, approveDatasets } from './datasets.js';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1]]);
  return acc;
}, []));
const ws = args.ws ?? 'ws://127.0.0.1:9944';
const dir = args.datasets;
const out = args.out ?? '.';
const fixed = args.for !== undefined ? Number(args.for) : undefined;
const wanted = fixed !== undefined ? Infinity : Number(args.accepted ?? 1);
const minutes = fixed ?? Number(args.minutes ?? 15);
if (!dir) { console.error('usage: node learn.js --datasets DIR [--ws URL] [--out DIR] [--accepted N] [--minutes M]'); process.exit(2); }
mkdirSync(out, { recursive: true });

const started = Date.now();
const t = () => `[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s]`;
const log = (...m) => console.log(t(), ...m);
const NATS = 1e9;

await cryptoWaitReady();
// The provider reconnects until the node's RPC is up.
const api = await ApiPromise.create({ provider: new WsProvider(ws), rpc: blyanRpc, noInitWarn: true });
const keyring = new Keyring({ type: 'sr25519' });
const alice = keyring.addFromUri('//Alice');
// Dataset creators: a newbie may submit 20 datasets a day (seed §12.3), so the 43 topics are
// spread over four dev accounts.
const creators = ['//Bob', '//Charlie', '//Dave', '//Eve'].map((uri) => keyring.addFromUri(uri));

const send = sender(api, log);

// 1. Datasets: publish each topic's text, then submit it (creators in turn).
const list = JSON.parse(readFileSync(join(dir, 'datasets.json'), 'utf8')).datasets;
log(`publishing ${list.length} topics of Debian's fortunes as datasets`);
const ids = await submitDatasets(api, send, dir, list, creators);
log(`${ids.length} datasets submitted`);
if (ids.length === 0) { log('no dataset was accepted'); process.exit(1); }

// 2. The validator's worker audits them; Alice votes on those that pass.
try {
  const stages = await approveDatasets(api, send, ids, alice, minutes * 10, log);
  for (let i = 0; i < ids.length; i++) if (stages[i].isRejected) log(`  dataset ${ids[i]} rejected: ${stages[i].asRejected.toString()}`);
} catch (e) {
  log(e.message);
  process.exit(1);
}

// 3. Follow the trainer's claims and the validators' decisions.
const versions = [];
const reports = new Map();
let accepted = 0;
const csv = () => writeFileSync(join(out, 'learning.csv'),
  'version,block,unit,nats_per_byte,seconds\n' + versions.map((v, i) => `${i},${v.block},${v.unit},${(v.loss / NATS).toFixed(9)},${v.secs.toFixed(1)}`).join('\n') + '\n');
const secs = () => (Date.now() - started) / 1000;
log('datasets approved; the trainer worker trains, validators evaluate (events follow)');
await new Promise((resolve) => {
  api.query.system.events(async (events) => {
    const block = (await api.rpc.chain.getHeader()).number.toNumber();
    for (const { event: e } of events) {
      if (e.section !== 'pol') continue;
      const d = e.data;
      if (e.method === 'ClaimSubmitted') log(`#${block} claim ${d[0]} submitted by ${d[1].toString().slice(0, 8)}…, bond ${d[3].toBigInt() / 10n ** 12n} BLY`);
      if (e.method === 'ChallengeDrawn') log(`#${block} claim ${d[0]}: replay challenge on segments [${d[1].map((x) => x.toNumber())}]`);
      if (e.method === 'ReportCommitted') log(`#${block} claim ${d[0]}: validator committed its report`);
      if (e.method === 'ReportRevealed') {
        const r = d[2];
        reports.set(d[0].toNumber(), r);
        log(`#${block} claim ${d[0]}: validator reveals parent ${(r.parentLoss.toNumber() / NATS).toFixed(4)} -> candidate ${(r.candidateLoss.toNumber() / NATS).toFixed(4)} nats/byte, replay ${r.replay}`);
      }
      if (e.method === 'ClaimExpired') log(`#${block} claim ${d[0]} expired without a quorum, fee ${d[2].toBigInt() / 10n ** 12n} BLY`);
      if (e.method === 'ClaimRejected') log(`#${block} claim ${d[0]} rejected: ${d[2].toString()}, ${d[3].toBigInt() / 10n ** 12n} BLY slashed`);
      if (e.method === 'ClaimAccepted') {
        const id = d[0].toNumber();
        const claim = (await api.query.pol.claims(id)).unwrap();
        const r = reports.get(id);
        if (versions.length === 0 && r) versions.push({ block: 0, unit: 'genesis', loss: r.parentLoss.toNumber(), secs: 0 });
        const names = claim.blocks.map((b) => new TextDecoder().decode(b.unit.toU8a(true)));
        const unit = names.length === 1 ? names[0] : `${names.length} units`;
        if (r) versions.push({ block, unit, loss: r.candidateLoss.toNumber(), secs: secs() });
        accepted++;
        csv();
        log(`#${block} claim ${id} on ${unit} ACCEPTED (improvement ${(d[2].toNumber() / 1e4).toFixed(2)} %): validation ${(versions.at(-1).loss / NATS).toFixed(4)} nats/byte`);
        if (accepted >= wanted) resolve();
      }
    }
  });
  setInterval(() => {
    if (Date.now() - started <= minutes * 60_000) return;
    if (fixed !== undefined) { log(`${fixed} minutes: ${accepted} accepted update(s)`); csv(); resolve(); return; }
    log(`timed out with ${accepted} accepted update(s)`);
    process.exit(1);
  }, 5000);
});

// 4. The accepted model answers.
const genesis = versions[0]?.loss;
const last = versions.at(-1)?.loss;
log(`validation nats/byte: genesis ${(genesis / NATS).toFixed(4)} -> now ${(last / NATS).toFixed(4)}`);
if (fixed === undefined && !(last < genesis)) { log('the accepted model is not below genesis'); process.exit(1); }
const answer = (await api.rpc.blyan.generate('The ', 120, 0.8, 7)).toJSON();
writeFileSync(join(out, 'generate.json'), JSON.stringify(answer, null, 2));
log(`blyan_generate (${answer.tokens} bytes, ${answer.expertLoads} expert loads, ${answer.elapsedMs.toFixed(0)} ms): ${JSON.stringify(answer.text)}`);
await api.disconnect();
process.exit(0);
