// tls.js — the npm Redis clients over TLS, logged in as an ACL user, as a
// service would run them; one JSON line per step for test_node_clients.py.
// usage: node tls.js TLS_PORT CA_FILE USER PASSWORD SEQUENCE
'use strict';
const fs = require('fs');
const { createClient } = require('redis');
const IORedis = require('ioredis');

const [port, caFile, username, password, name] =
  [Number(process.argv[2]), process.argv[3], process.argv[4], process.argv[5], process.argv[6]];
const ca = fs.readFileSync(caFile);
const out = (step, value) => console.log(JSON.stringify({ step, value }));
const failure = (e) => String((e && e.message) || e);

async function nodeRedis() {
  const c = createClient({ socket: { host: '127.0.0.1', port, tls: true, ca, reconnectStrategy: false },
                           username, password });
  c.on('error', () => {});
  await c.connect();
  out('redis:next', await c.sendCommand(['NEXT', name]));
  try {
    out('redis:denied', await c.sendCommand(['DROP', name]));
  } catch (e) {
    out('redis:denied', failure(e));
  }
  await c.quit();
}

async function ioRedis() {
  const c = new IORedis({ host: '127.0.0.1', port, username, password, tls: { ca },
                          lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  await c.connect();
  out('ioredis:next', await c.call('NEXT', name));
  c.disconnect();
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
