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
