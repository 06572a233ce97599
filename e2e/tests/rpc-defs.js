// Custom RPC definitions (docs/rpc.md), the blake3 Merkle root (docs/hashing.md) and the
// light proof-of-work of datasets and DAG blocks.
import { blake3 } from '@noble/hashes/blake3';
import { u8aConcat } from '@polkadot/util';

export const blyanRpc = {
  blyan: {
    payload: { description: 'Payload bytes by root, verified', params: [{ name: 'root', type: 'H256' }], type: 'Bytes' },
    manifest: { description: 'Tile hashes of a payload', params: [{ name: 'root', type: 'H256' }], type: 'Vec<H256>' },
    acceptedBlock: { description: 'Accepted block of an expert name', params: [{ name: 'name', type: 'Text' }], type: 'Option<H256>' },
    topologicalOrder: { description: 'Accepted blocks, dependencies first', params: [{ name: 'start', type: 'u64' }, { name: 'max', type: 'u32' }], type: 'Vec<H256>' },
    approvedDatasets: { description: 'Approved datasets with tiers', params: [], type: 'Vec<(u32, u8)>' },
    generate: {
      description: 'Text from the accepted model: text, units used, timings',
      params: [{ name: 'prompt', type: 'Text' }, { name: 'maxNewTokens', type: 'u32' }, { name: 'temperature', type: 'f64' }, { name: 'seed', type: 'u64' }],
      type: 'Json',
    },
  },
};

/** RFC 6962-shaped blake3 Merkle root (docs/hashing.md). */
export function merkleRoot(items) {
  if (items.length === 0) return blake3(new Uint8Array());
  if (items.length === 1) return blake3(u8aConcat(new Uint8Array([0]), items[0]));
  let k = 1;
  while (k * 2 < items.length) k *= 2;
  return blake3(u8aConcat(new Uint8Array([1]), merkleRoot(items.slice(0, k)), merkleRoot(items.slice(k))));
}


/** Smallest nonce with `bits` leading zero bits of blake3(payload ‖ nonce_le). */
export function solvePow(payload, bits) {
  for (let nonce = 0n; ; nonce++) {
    const le = new Uint8Array(8);
    new DataView(le.buffer).setBigUint64(0, nonce, true);
    const h = blake3(u8aConcat(payload, le));
    let zeros = 0;
    for (const b of h) { if (b === 0) { zeros += 8; continue; } zeros += Math.clz32(b) - 24; break; }
    if (zeros >= bits) return nonce;
  }
}

const u64le = (x) => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(x), true);
  return b;
};

/** SCALE index of a `ReplayVerdict` name. */
export const VERDICTS = ['Match', 'Mismatch', 'Unbound', 'Unavailable'];

/**
 * The commitment a validator submits before revealing (blyan_primitives::pol::report_commitment):
 * blake3("blyan/pol/report-commitment/v1" ‖ SCALE(claim u64, validator AccountId32, report, salt)).
 * `report` is { parentLoss, candidateLoss, replay: 'Match'|…, replayDigest: Uint8Array(32) }.
 */
export function reportCommitment(claim, validator, report, salt) {
  const domain = new TextEncoder().encode('blyan/pol/report-commitment/v1');
  const verdict = VERDICTS.indexOf(report.replay);
  if (verdict < 0) throw new Error(`unknown verdict ${report.replay}`);
  return blake3(u8aConcat(domain, u64le(claim), validator, u64le(report.parentLoss), u64le(report.candidateLoss),
    new Uint8Array([verdict]), report.replayDigest, salt));
}

/** Resolves once the best block reaches `n`; rejects after `maxBlocks` without progress checks. */
export async function waitForBlock(api, n) {
  for (;;) {
    const best = (await api.rpc.chain.getHeader()).number.toNumber();
    if (best >= n) return best;
    await new Promise((r) => setTimeout(r, 1000));
  }
}
