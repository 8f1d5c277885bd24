// clients.js — drives seqd with the npm Redis clients, as an application
// would, and prints one JSON line per step for test_node_clients.py.
// usage: node clients.js PORT PASSWORD SEQUENCE
'use strict';
const { createClient } = require('redis');
const IORedis = require('ioredis');

const [port, password, name] = [Number(process.argv[2]), process.argv[3], process.argv[4]];
const out = (step, value) => console.log(JSON.stringify({ step, value }));
const failure = (e) => String((e && e.message) || e);

async function nodeRedis() {
  const c = createClient({ socket: { host: '127.0.0.1', port, reconnectStrategy: false }, password });
  c.on('error', () => {});
  await c.connect();
  out('redis:create', await c.sendCommand(['CREATE', name, '1', '1000']));
  out('redis:next', await c.sendCommand(['NEXT', name]));
  await c.quit();
  const u = createClient({ socket: { host: '127.0.0.1', port, reconnectStrategy: false },
                           username: 'default', password });
  u.on('error', () => {});
  await u.connect();
  out('redis:next-username', await u.sendCommand(['NEXT', name]));
  await u.quit();
  const bad = createClient({ socket: { host: '127.0.0.1', port, reconnectStrategy: false },
                             password: 'wrong' });
  bad.on('error', () => {});
  try {
    await bad.connect();
    out('redis:wrong', await bad.sendCommand(['NEXT', name]));
  } catch (e) {
    out('redis:wrong', failure(e));
  }
  try { await bad.disconnect(); } catch (e) { /* already closed */ }
}

async function ioRedis() {
  const c = new IORedis({ host: '127.0.0.1', port, password, lazyConnect: true,
                          maxRetriesPerRequest: 0, retryStrategy: () => null });
  await c.connect();
  out('ioredis:next', await c.call('NEXT', name));
  c.disconnect();
  const u = new IORedis({ host: '127.0.0.1', port, username: 'default', password, lazyConnect: true,
                          maxRetriesPerRequest: 0, retryStrategy: () => null });
  await u.connect();
  out('ioredis:next-username', await u.call('NEXT', name));
  u.disconnect();
  const bad = new IORedis({ host: '127.0.0.1', port, password: 'wrong', lazyConnect: true,
                            maxRetriesPerRequest: 0, retryStrategy: () => null });
  const seen = [];
  bad.on('error', (e) => seen.push(failure(e)));
  try {
    await bad.connect();
    out('ioredis:wrong', await bad.call('NEXT', name));
  } catch (e) {
    out('ioredis:wrong', seen.concat([failure(e)]).join(' | '));
  }
  bad.disconnect();
}

(async () => {
  try {
    await nodeRedis();
    await ioRedis();
  } catch (e) {
    out('error', failure(e));
    process.exitCode = 1;
  }
})();
