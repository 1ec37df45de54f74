'use strict';
// Access Tokens: trctl's against twilio-node's `AccessToken` with a `TaskRouterGrant`
// (run by the node5 suite). `trctl token worker` must write the library's header and
// claims (apart from the times and the `jti` that carries one), and `trctl token verify`
// must accept the library's token. The emulator runs with its development credentials,
// whose API key pair it prints in its banner.

const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { test, before, after } = require('node:test');

const h = require('./harness');

const { AccessToken } = h.twilio.jwt;
const { TaskRouterGrant } = AccessToken;

let emulator;
let workspace;
let worker;

before(async () => {
  emulator = await h.startEmulator();
  assert.match(emulator.apiKey, /^SK[0-9a-f]{32}$/);
  assert.ok(emulator.apiSecret);
  const client = h.makeClient(emulator.baseUrl, emulator.accountSid, emulator.authToken);
  const tr = client.taskrouter.v1;
  workspace = (await tr.workspaces.create({ friendlyName: 'Node Token' })).sid;
  worker = (await tr.workspaces(workspace).workers.create({ friendlyName: 'Alice' })).sid;
});

after(() => {
  if (emulator) emulator.stop();
});

/** Run trctl with only the emulator's URL and API key (and the account SID unless told not to). */
function trctl(args, { input, account = true } = {}) {
  const env = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('TWILIO_') && !key.startsWith('TRCTL_')) env[key] = value;
  }
  env.TRCTL_BASE_URL = emulator.baseUrl;
  env.TWILIO_API_KEY = emulator.apiKey;
  env.TWILIO_API_SECRET = emulator.apiSecret;
  if (account) env.TWILIO_ACCOUNT_SID = emulator.accountSid;
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'trctl-node-token-'));
  try {
    return spawnSync(h.trctlBin(), args, { cwd, env, input, encoding: 'utf8', timeout: 60000 });
  } finally {
    fs.rmSync(cwd, { recursive: true, force: true });
  }
}

function libraryToken({ secret = emulator.apiSecret, ttl = 3600, grant = true } = {}) {
  const token = new AccessToken(emulator.accountSid, emulator.apiKey, secret, { identity: 'Alice', ttl });
  if (grant) token.addGrant(new TaskRouterGrant({ workspaceSid: workspace, workerSid: worker, role: 'worker' }));
  return token.toJwt();
}

function decode(token) {
  const [header, claims] = token.split('.').slice(0, 2).map((part) => JSON.parse(Buffer.from(part, 'base64url').toString()));
  return { header, claims };
}

test('trctl token worker writes what twilio-node writes', () => {
  const minted = trctl(['token', 'worker', 'Alice', '--workspace', workspace], { account: false });
  assert.equal(minted.status, 0, minted.stderr);
  const ours = decode(minted.stdout.trim());
  const theirs = decode(libraryToken());
  assert.deepEqual(ours.header, { typ: 'JWT', alg: 'HS256', cty: 'twilio-fpa;v=1' });
  assert.deepEqual(theirs.header, ours.header);
  // twilio-node writes iat (and nbf only when asked), twilio-python nbf: trctl writes both.
  assert.deepEqual(Object.keys(ours.claims).sort(), [...Object.keys(theirs.claims), 'nbf'].sort());
  const times = new Set(['iat', 'nbf', 'exp', 'jti']);
  const rest = (claims) => Object.fromEntries(Object.entries(claims).filter(([key]) => !times.has(key)));
  assert.deepEqual(rest(ours.claims), rest(theirs.claims));
  for (const { claims } of [ours, theirs]) {
    assert.equal(claims.jti, `${emulator.apiKey}-${claims.iat}`);
    assert.equal(claims.exp - claims.iat, 3600);
  }
  assert.deepEqual(ours.claims.grants, {
    identity: 'Alice',
    task_router: { workspace_sid: workspace, worker_sid: worker, role: 'worker' },
  });
});

test('trctl token verify accepts twilio-node tokens and refuses bad ones', () => {
  const checked = trctl(['token', 'verify', '-'], { input: libraryToken() });
  assert.equal(checked.status, 0, checked.stderr);
  const claims = JSON.parse(checked.stdout);
  assert.equal(claims.issuer, emulator.apiKey);
  assert.equal(claims.account_sid, emulator.accountSid);
  assert.equal(claims.workspace_sid, workspace);
  assert.equal(claims.worker_sid, worker);
  assert.equal(claims.role, 'worker');
  assert.equal(claims.identity, 'Alice');
  assert.equal(claims.not_before, null);
  assert.equal(claims.expires_at - claims.issued_at, 3600);

  const bad = {
    signature: libraryToken({ secret: 'another-secret-thirty-two-bytes-long' }),
    'TaskRouter grant': libraryToken({ grant: false }),
    '24 hours': libraryToken({ ttl: 24 * 3600 + 60 }),
  };
  for (const [reason, token] of Object.entries(bad)) {
    const refused = trctl(['token', 'verify', token]);
    assert.equal(refused.status, 4, `${reason}: ${refused.stderr}`);
    assert.ok(refused.stderr.includes(reason), `${reason}: ${refused.stderr}`);
    assert.equal(refused.stdout, '');
  }
});
