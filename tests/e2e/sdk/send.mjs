// send.mjs - sends events to a custos server through a real vendor SDK.
//
//   node send.mjs segment|rudder HOST_URL WRITE_KEY COUNT
//
// segment: @segment/analytics-node, new Analytics({writeKey, host, flushAt, flushInterval}),
//          posts JSON to HOST_URL/v1/batch (Basic auth, writeKey also in the body).
// rudder:  @rudderstack/rudder-sdk-node, new Analytics(writeKey, {dataPlaneUrl, ...}),
//          posts gzip-compressed JSON to HOST_URL/v1/batch (Basic auth).
//
// COUNT calls cycle through identify, track, page, group, track, alias. Every track carries
// the Chinese text "上海" and numbers in its properties. Each call gets its own userId
// (<sdk>-<run>-u<i>), so a test can match on userIds as well as messageIds.
//
// The Segment SDK makes its own messageIds (node-next-...): they are read back from the
// per-call callback's context. The Rudder SDK gives its callback no message, so its
// messageIds are set here (rudder-<uuid>), which its API allows.
//
// The script waits until every call's callback has fired (delivered or failed; at most
// about 25 s), then closes the client and prints one JSON object on stdout:
//   {"sdk":"segment","version":"3.1.0","path":"/v1/batch","count":N,"delivered":D,
//    "errors":["..."],"messages":[{"messageId","type","userId","event"?,"delivered"}...]}
// Everything the SDKs log goes to stderr. Exit status: 0 when every message was delivered
// (the server answered 2xx), 1 otherwise, 2 on bad usage.
import { createRequire } from 'node:module';
import { randomUUID } from 'node:crypto';

// Keep stdout for the result alone: the SDKs log through console.
const toStderr = (...a) => console.error(...a);
console.log = console.info = console.warn = console.debug = toStderr;

const require = createRequire(import.meta.url);
const [sdk, host, writeKey, countArg] = process.argv.slice(2);
const count = Number(countArg);
if (!['segment', 'rudder'].includes(sdk) || !host || !writeKey || !Number.isInteger(count) ||
    count < 1) {
  console.error('usage: node send.mjs segment|rudder HOST_URL WRITE_KEY COUNT');
  process.exit(2);
}

const run = `${sdk}-${Date.now().toString(36)}${process.pid.toString(36)}`;
const KINDS = ['identify', 'track', 'page', 'group', 'track', 'alias'];
const CITY = '上海';

// The call arguments for message i, the same shape for both SDKs.
function callFor(i) {
  const type = KINDS[i % KINDS.length];
  const userId = `${run}-u${i}`;
  switch (type) {
    case 'identify':
      return { type, userId, args: { userId, traits: { name: '张伟', city: CITY, age: 36 } } };
    case 'track':
      return {
        type, userId, event: 'Order Completed',
        args: {
          userId,
          event: 'Order Completed',
          properties: {
            city: CITY,
            store: `${CITY}浦东店 🚀`,
            total: 199.5,
            quantity: 3,
            index: i,
          },
        },
      };
    case 'page':
      return {
        type, userId, event: 'Product Detail',
        args: {
          userId,
          name: 'Product Detail',
          properties: { title: `${CITY} 小笼包`, url: 'https://shop.example.cn/p/1' },
        },
      };
    case 'group':
      return {
        type, userId,
        args: { userId, groupId: `${run}-g${i}`, traits: { name: `${CITY}分公司`, employees: 42 } },
      };
    default: // alias
      return { type, userId, args: { userId, previousId: `${run}-anon${i}` } };
  }
}

function pkgVersion(name) {
  try {
    return require(`${name}/package.json`).version;
  } catch {
    return 'unknown';
  }
}

const errors = [];
const noteError = (what, err) => {
  const text = `${what}: ${err && err.message ? err.message : String(err)}`;
  if (errors.length < 20) errors.push(text);
};

async function sendSegment() {
  const { Analytics } = require('@segment/analytics-node');
  const analytics = new Analytics({
    writeKey,
    host,
    path: '/v1/batch',
    flushAt: 20,
    flushInterval: 200,
    maxRetries: 3,
    httpRequestTimeout: 10000,
  });
  analytics.on('error', (e) => noteError('segment error event', e.reason ?? e));
  const messages = [];
  const done = [];
  for (let i = 0; i < count; i++) {
    const c = callFor(i);
    const m = { messageId: null, type: c.type, userId: c.userId, delivered: false };
    if (c.event) m.event = c.event;
    messages.push(m);
    done.push(new Promise((resolve) => {
      analytics[c.type](c.args, (err, ctx) => {
        m.messageId = ctx?.event?.messageId ?? null;
        if (err) noteError(`${c.type} ${c.userId}`, err);
        else m.delivered = true;
        resolve();
      });
    }));
  }
  await analytics.closeAndFlush({ timeout: 20000 });
  await Promise.race([Promise.all(done), new Promise((r) => setTimeout(r, 5000).unref())]);
  return { version: pkgVersion('@segment/analytics-node'), path: '/v1/batch', messages };
}

async function sendRudder() {
  const Analytics = require('@rudderstack/rudder-sdk-node');
  const client = new Analytics(writeKey, {
    dataPlaneUrl: host,
    flushAt: 20,
    flushInterval: 200,
    retryCount: 3,
    timeout: 10000, // per request, ms
    logLevel: 'error',
    // Without an errorHandler a failed flush rejects a promise nobody awaits.
    errorHandler: (err) => noteError('rudder flush', err),
  });
  const messages = [];
  const done = [];
  for (let i = 0; i < count; i++) {
    const c = callFor(i);
    const messageId = `rudder-${randomUUID()}`;
    const m = { messageId, type: c.type, userId: c.userId, delivered: false };
    if (c.event) m.event = c.event;
    messages.push(m);
    done.push(new Promise((resolve) => {
      client[c.type]({ ...c.args, messageId }, (err) => {
        if (err) noteError(`${c.type} ${c.userId}`, err);
        else m.delivered = true;
        resolve();
      });
    }));
  }
  // flush() sends at most flushAt messages a call: repeat until every callback fired.
  const all = Promise.all(done);
  let settled = false;
  all.then(() => { settled = true; });
  const deadline = Date.now() + 20000;
  while (!settled && Date.now() < deadline) {
    try {
      await client.flush();
    } catch (err) {
      noteError('rudder flush', err);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  clearTimeout(client.flushTimer);
  clearTimeout(client.timer);
  return { version: pkgVersion('@rudderstack/rudder-sdk-node'), path: client.path, messages };
}

const result = sdk === 'segment' ? await sendSegment() : await sendRudder();
const delivered = result.messages.filter((m) => m.delivered).length;
const line = `${JSON.stringify({
  sdk,
  version: result.version,
  path: result.path,
  count,
  delivered,
  errors,
  messages: result.messages,
})}\n`;
// Exit once it is written, even if a request the SDK gave up on still holds a socket.
process.stdout.write(line, () => process.exit(delivered === count ? 0 : 1));
