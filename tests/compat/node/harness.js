'use strict';
// Shared set-up of the Node compatibility suites: the emulator (the built `trctl`
// binary, `TRCTL_BIN`), a recording proxy in front of it, a twilio-node client whose
// only change is the host, and a callback receiver that checks every request with
// twilio-node's own `validateRequest`.
//
// The proxy forwards every request unchanged (Host header included, so the emulator's
// paging links point back at the proxy) and notes each request's method and
// Content-Type: the suites use it to show which body encoding the library really sent
// (twilio-node 3.40.0 posts multipart/form-data, later versions form-encoded bodies).

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');

const twilio = require('twilio');

const ROOT = path.resolve(__dirname, '..', '..', '..');
const TWILIO_HOST = 'https://taskrouter.twilio.com';
const STARTUP_TIMEOUT_MS = 30000;

function trctlBin() {
  const bin = process.env.TRCTL_BIN || 'target/debug/trctl';
  return path.isAbsolute(bin) ? bin : path.join(ROOT, bin);
}

/** Start `trctl emulator --port 0` in an empty directory with no TWILIO_/TRCTL_ variables. */
async function startEmulator() {
  const env = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('TWILIO_') && !key.startsWith('TRCTL_')) env[key] = value;
  }
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'trctl-node-compat-'));
  const child = spawn(trctlBin(), ['emulator', '--port', '0'], {
    cwd,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  const printed = await new Promise((resolve, reject) => {
    const found = {};
    const timer = setTimeout(() => reject(new Error(`the emulator printed no credentials within ${STARTUP_TIMEOUT_MS} ms`)), STARTUP_TIMEOUT_MS);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the emulator exited (${code}) before printing its base URL: ${stderr}`));
    });
    // The banner's KEY=value lines, read up to its last line.
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      if (line.startsWith('press Ctrl-C')) {
        clearTimeout(timer);
        if (found.TRCTL_BASE_URL && found.TWILIO_ACCOUNT_SID && found.TWILIO_AUTH_TOKEN) resolve(found);
        else reject(new Error(`the emulator's banner lacks its URL or credentials: ${JSON.stringify(Object.keys(found))}`));
        return;
      }
      const eq = line.indexOf('=');
      if (eq < 0) return;
      found[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
    });
  });
  child.removeAllListeners('exit');
  // Stopped at the end of the file's tests; also if this process is told to stop (the
  // runner's `timeout`), so no emulator outlives its suite.
  const kill = () => child.kill('SIGTERM');
  process.once('exit', kill);
  for (const signal of ['SIGTERM', 'SIGINT']) {
    process.once(signal, () => {
      kill();
      process.exit(1);
    });
  }
  return {
    baseUrl: printed.TRCTL_BASE_URL,
    accountSid: printed.TWILIO_ACCOUNT_SID,
    authToken: printed.TWILIO_AUTH_TOKEN,
    // The development API key pair (printed when the emulator runs with the development token).
    apiKey: printed.TWILIO_API_KEY,
    apiSecret: printed.TWILIO_API_SECRET,
    stop() {
      child.kill('SIGTERM');
      fs.rmSync(cwd, { recursive: true, force: true });
    },
  };
}

function listen(server) {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));
}

/** A proxy to `target` that records `{ method, path, contentType }` of each request. */
async function startProxy(target) {
  const upstream = new URL(target);
  const seen = [];
  const server = http.createServer((req, res) => {
    seen.push({ method: req.method, path: req.url, contentType: req.headers['content-type'] || '' });
    const forward = http.request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
      (reply) => {
        res.writeHead(reply.statusCode, reply.headers);
        reply.pipe(res);
      },
    );
    forward.on('error', (err) => {
      res.writeHead(502);
      res.end(String(err));
    });
    req.pipe(forward);
  });
  const port = await listen(server);
  return { url: `http://127.0.0.1:${port}`, seen, close: () => server.close() };
}

/** A twilio-node client whose TaskRouter requests go to `baseUrl` instead of Twilio. */
function makeClient(baseUrl, accountSid, authToken) {
  // 3.x before 3.4x does not export RequestClient from the package root.
  const RequestClient = twilio.RequestClient || require('twilio/lib/base/RequestClient');
  const inner = new RequestClient();
  const httpClient = {
    request(opts) {
      let uri = opts.uri;
      if (uri === TWILIO_HOST || uri.startsWith(`${TWILIO_HOST}/`)) uri = baseUrl + uri.slice(TWILIO_HOST.length);
      return inner.request({ ...opts, uri });
    },
  };
  return twilio(accountSid, authToken, { httpClient });
}

/**
 * Assignment and event callbacks on 127.0.0.1: each is checked with `validateRequest`;
 * assignment callbacks are answered with `reply` (JSON), events with 204.
 */
async function startReceiver(authToken) {
  const receiver = { reply: {}, assignments: [], events: [] };
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      const params = Object.fromEntries(new URLSearchParams(body));
      const url = `http://${req.headers.host}${req.url}`;
      const valid = twilio.validateRequest(authToken, req.headers['x-twilio-signature'] || '', url, params);
      if (req.url.startsWith('/events')) {
        receiver.events.push({ params, valid });
        res.writeHead(204);
        res.end();
        return;
      }
      receiver.assignments.push({ params, valid });
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(receiver.reply));
    });
  });
  const port = await listen(server);
  receiver.assignmentUrl = `http://127.0.0.1:${port}/assignment_callback`;
  receiver.eventsUrl = `http://127.0.0.1:${port}/events`;
  receiver.close = () => server.close();
  return receiver;
}

/** Poll `check` (sync or async) until it gives a truthy value, for at most `ms`. */
async function waitFor(what, check, ms = 5000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** The TaskRouter quickstart's workflow: route on `selected_language`. */
function workflowConfig(spanishQueue, englishQueue) {
  return JSON.stringify({
    task_routing: {
      filters: [
        { filter_friendly_name: 'Language - Spanish', expression: "selected_language=='es'", targets: [{ queue: spanishQueue }] },
        { filter_friendly_name: 'Language - English', expression: "selected_language=='en'", targets: [{ queue: englishQueue }] },
      ],
      default_filter: { queue: englishQueue },
    },
  });
}

module.exports = {
  twilio,
  trctlBin,
  startEmulator,
  startProxy,
  makeClient,
  startReceiver,
  waitFor,
  workflowConfig,
};
