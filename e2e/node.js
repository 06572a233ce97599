// Starts `blyan-node --dev --tmp` on free local ports and connects @polkadot/api to it.
// The binary: $BLYAN_NODE, else $CARGO_TARGET_DIR/release/blyan-node, else
// ~/.cache/blyan/target/release/blyan-node.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ApiPromise, WsProvider, Keyring } from '@polkadot/api';
import { cryptoWaitReady } from '@polkadot/util-crypto';

export function nodeBinary() {
  return findBinary(process.env.BLYAN_NODE, 'blyan-node', 'cargo build --release -p blyan-node');
}

/**
 * The test binary with the cheating engine (`--features adversary`): $BLYAN_NODE_ADVERSARY, else
 * blyan-node-adversary beside the release binary (scripts/test.sh builds it).
 */
export function adversaryBinary() {
  return findBinary(process.env.BLYAN_NODE_ADVERSARY, 'blyan-node-adversary',
    'scripts/test.sh (cargo build --release -p blyan-node --features adversary, copied to blyan-node-adversary)');
}

function findBinary(env, name, how) {
  const candidates = [
    env,
    process.env.CARGO_TARGET_DIR && join(process.env.CARGO_TARGET_DIR, 'release', name),
    join(homedir(), '.cache', 'blyan', 'target', 'release', name),
  ].filter(Boolean);
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`${name} not found (tried ${candidates.join(', ')}); build it with ${how}`);
  return found;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Starts a dev node; resolves to { api, keyring, alice, bob, stop, logs, p2pPort }. */
export function startDevNode(extraArgs = []) {
  return startNode(['--dev', ...extraArgs]);
}

/**
 * Starts `blyan-node <chainArgs> --tmp` on free ports; same result as startDevNode, plus
 * `alive()`. `binary` picks another build (the adversary binary); `env` adds environment
 * variables.
 */
export async function startNode(chainArgs, { binary = nodeBinary(), env = {} } = {}) {
  await cryptoWaitReady();
  const [rpcPort, p2pPort] = [await freePort(), await freePort()];
  const args = [...chainArgs, '--tmp', '--rpc-port', String(rpcPort), '--port', String(p2pPort),
    '--no-prometheus', '--no-telemetry', '--rpc-max-request-size', '64', '--rpc-max-response-size', '64'];
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let logs = '';
  const keep = (d) => { logs = (logs + d.toString()).slice(-1_000_000); };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));

  const deadline = Date.now() + 120_000;
  let api;
  while (!api) {
    if (Date.now() > deadline) { child.kill('SIGKILL'); throw new Error(`node did not open RPC in 120 s:\n${logs.slice(-4000)}`); }
    if (child.exitCode !== null) throw new Error(`node exited with ${child.exitCode}:\n${logs.slice(-4000)}`);
    try {
      const provider = new WsProvider(`ws://127.0.0.1:${rpcPort}`, false);
      await provider.connect();
      await new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('connect timeout')), 2000);
        provider.on('connected', () => { clearTimeout(t); resolve(); });
        provider.on('error', () => { clearTimeout(t); reject(new Error('ws error')); });
      });
      api = await ApiPromise.create({ provider, throwOnConnect: true, noInitWarn: true });
    } catch {
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  const keyring = new Keyring({ type: 'sr25519' });
  const stop = async () => {
    await api.disconnect().catch(() => {});
    child.kill('SIGINT');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  const alive = () => child.exitCode === null && child.signalCode === null;
  return { api, keyring, alice: keyring.addFromUri('//Alice'), bob: keyring.addFromUri('//Bob'), stop, logs: () => logs, p2pPort, alive };
}

/**
 * Signs and sends `tx`, resolves when it is in a block with
 * { events, dispatchError (decoded { section, name } or null), blockHash }.
 */
export function submit(api, tx, signer) {
  return new Promise((resolve, reject) => {
    let unsub;
    tx.signAndSend(signer, ({ status, events, dispatchError }) => {
      if (status.isInBlock || status.isFinalized) {
        let err = null;
        if (dispatchError) {
          if (dispatchError.isModule) {
            const meta = api.registry.findMetaError(dispatchError.asModule);
            err = { section: meta.section, name: meta.name, docs: meta.docs.join(' ') };
          } else {
            err = { section: 'dispatch', name: dispatchError.toString() };
          }
        }
        if (unsub) unsub();
        resolve({ events: events.map(({ event }) => event), dispatchError: err, blockHash: status.isInBlock ? status.asInBlock : status.asFinalized });
      } else if (status.isInvalid || status.isDropped || status.isUsurped) {
        if (unsub) unsub();
        reject(new Error(`transaction ${status.type}`));
      }
    }).then((u) => { unsub = u; }).catch(reject);
  });
}

/** Sudo-wraps `call` and submits it as Alice; returns the inner dispatch result. */
export async function sudo(api, call, alice) {
  const res = await submit(api, api.tx.sudo.sudo(call), alice);
  const sudid = res.events.find((e) => e.section === 'sudo' && e.method === 'Sudid');
  let inner = null;
  if (sudid) {
    const r = sudid.data[0];
    if (r.isErr) {
      const e = r.asErr;
      if (e.isModule) {
        const meta = api.registry.findMetaError(e.asModule);
        inner = { section: meta.section, name: meta.name };
      } else {
        inner = { section: 'dispatch', name: e.toString() };
      }
    }
  }
  return { ...res, innerError: inner };
}
