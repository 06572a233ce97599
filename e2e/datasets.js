// Turning exported corpus topics (`blyan-node export-corpus`) into approved Chain D datasets
// on a running chain: shared by the main job's driver (learn.js) and the e2e tests.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { blake3 } from '@noble/hashes/blake3';
import { u8aToHex } from '@polkadot/util';
import { merkleRoot, solvePow } from './tests/rpc-defs.js';

const TILE = 4 * 1024 * 1024;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * A sender that keeps each account's nonce locally, so many transactions go out at once.
 * `send(tx, who)` resolves once the pool took the transaction and rejects if it refused;
 * the nonce is then read afresh (validators' workers sign with the same accounts).
 */
export function sender(api, log = () => {}) {
  const nonces = new Map();
  return async function send(tx, who) {
    if (!nonces.has(who.address)) nonces.set(who.address, (await api.rpc.system.accountNextIndex(u8aToHex(who.publicKey))).toNumber());
    const nonce = nonces.get(who.address);
    nonces.set(who.address, nonce + 1);
    try {
      const unsub = await tx.signAndSend(who, { nonce }, ({ status, dispatchError }) => {
        if (status.isInBlock && dispatchError) {
          const m = dispatchError.isModule ? api.registry.findMetaError(dispatchError.asModule) : null;
          log(`  ! ${tx.method.section}.${tx.method.method} failed: ${m ? m.name : dispatchError.toString()}`);
        }
      });
      setTimeout(() => unsub(), 300_000);
    } catch (e) {
      nonces.delete(who.address);
      throw e;
    }
  };
}

/**
 * Publishes the texts of `list` (entries of `datasets.json` in `dir`) and submits them as
 * datasets, creator `creators[i % n]` for entry i (a newbie may submit 20 a day). Resolves
 * to the new dataset ids once the submissions are in blocks.
 */
export async function submitDatasets(api, send, dir, list, creators, licence = 'LicenseRef-public-domain') {
  const first = (await api.query.dataset.nextDatasetId()).toNumber();
  const bits = api.consts.dataset.powDifficulty.toNumber();
  for (const [i, d] of list.entries()) {
    const who = creators[i % creators.length];
    const text = readFileSync(join(dir, d.file));
    const tiles = [];
    for (let o = 0; o < text.length; o += TILE) tiles.push(text.subarray(o, o + TILE));
    const hashes = tiles.map((x) => blake3(x));
    for (const x of tiles) await send(api.tx.contentStore.publishTile(u8aToHex(x)), who);
    d.payloadRoot = u8aToHex(merkleRoot(hashes));
    await send(api.tx.contentStore.commitManifest(hashes.map(u8aToHex), d.payloadRoot), who);
  }
  for (const [i, d] of list.entries()) {
    const pow = api.createType('(Bytes, u32, [u8;32])', [d.name, 1, d.contentRoot]).toU8a();
    await send(api.tx.dataset.submitDataset(d.name, 1, licence, `file:///usr/share/games/fortunes/${d.name}`,
      d.totalBytes, d.samples, d.contentRoot, d.payloadRoot, d.sampleHashes, solvePow(pow, bits)), creators[i % creators.length]);
  }
  // Wait on the chain, not the clock: at most 20 blocks for the submissions to land.
  const until = (await api.rpc.chain.getHeader()).number.toNumber() + 20;
  let ids = [];
  for (;;) {
    await sleep(2000);
    const next = (await api.query.dataset.nextDatasetId()).toNumber();
    ids = Array.from({ length: next - first }, (_, k) => first + k);
    if (ids.length === list.length) break;
    if ((await api.rpc.chain.getHeader()).number.toNumber() > until) break;
  }
  return ids;
}

/**
 * Waits for the validators' workers to audit datasets `ids`, votes aye on each that passes
 * (as `voter`), and waits until every one is approved or rejected, for at most `maxBlocks`
 * blocks (chain time, so a slow machine is not failed by a clock). Resolves to the stages;
 * `log` sees progress lines.
 */
export async function approveDatasets(api, send, ids, voter, maxBlocks, log = () => {}) {
  const until = (await api.rpc.chain.getHeader()).number.toNumber() + maxBlocks;
  const voted = new Set();
  let last = '';
  for (;;) {
    const stages = await Promise.all(ids.map(async (id) => (await api.query.dataset.datasets(id)).unwrapOr(null)?.stage));
    for (let i = 0; i < ids.length; i++) {
      if (!stages[i]?.isCommunityVote || voted.has(ids[i])) continue;
      try {
        await send(api.tx.dataset.vote(ids[i], true), voter);
        voted.add(ids[i]);
      } catch (e) {
        log(`  vote on ${ids[i]} not taken yet (${e.message.slice(0, 60)}); retrying`);
        break;
      }
    }
    const count = (p) => stages.filter((s) => s && p(s)).length;
    const line = `datasets: ${count((s) => s.isAutoAudit)} in audit, ${count((s) => s.isCommunityVote)} in vote, ${count((s) => s.isApproved)} approved, ${count((s) => s.isRejected)} rejected`;
    if (line !== last) { log(line); last = line; }
    if (stages.every((s) => s && (s.isApproved || s.isRejected))) return stages;
    if ((await api.rpc.chain.getHeader()).number.toNumber() > until) throw new Error(`not settled within ${maxBlocks} blocks: ${line}`);
    await sleep(3000);
  }
}
