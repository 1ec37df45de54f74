'use strict';
// The TaskRouter lifecycle with twilio-node (whichever version NODE_PATH gives; run by
// `bash tests/compat/run.sh node5|node3.40|node3.84`): a workspace, queues, a workflow,
// workers and tasks; a task assigned by the REST API, one by the assignment callback's
// instruction; every assignment and event callback checked with `validateRequest`.
// EXPECT_BODY (`multipart` or `form`) says which encoding the library must have posted.

const assert = require('node:assert/strict');
const { test, before, after } = require('node:test');

const h = require('./harness');

const version = require('twilio/package.json').version;
let emulator;
let proxy;
let client;

before(async () => {
  emulator = await h.startEmulator();
  proxy = await h.startProxy(emulator.baseUrl);
  client = h.makeClient(proxy.url, emulator.accountSid, emulator.authToken);
});

after(() => {
  if (proxy) proxy.close();
  if (emulator) emulator.stop();
});

test(`twilio-node ${version}: version is the pinned one`, () => {
  assert.equal(version, process.env.EXPECT_VERSION);
});

test(`twilio-node ${version}: lifecycle through the REST API and the assignment callback`, async () => {
  const receiver = await h.startReceiver(emulator.authToken);
  try {
    const tr = client.taskrouter.v1;
    const ws = await tr.workspaces.create({ friendlyName: `Node ${version}`, eventCallbackUrl: receiver.eventsUrl });
    assert.match(ws.sid, /^WS[0-9a-f]{32}$/);
    assert.equal(ws.friendlyName, `Node ${version}`);
    const w = tr.workspaces(ws.sid);
    const activities = Object.fromEntries((await w.activities.list()).map((a) => [a.friendlyName, a]));
    assert.deepEqual(Object.keys(activities).sort(), ['Available', 'Offline', 'Unavailable']);
    assert.equal(activities.Available.available, true);

    // The default channel by unique name, as `taskChannels('voice')` asks for it.
    const voice = await w.taskChannels('voice').fetch();
    assert.equal(voice.uniqueName, 'voice');
    assert.match(voice.sid, /^TC/);

    const spanish = await w.taskQueues.create({ friendlyName: 'Spanish', targetWorkers: "languages HAS 'es'" });
    const english = await w.taskQueues.create({ friendlyName: 'English', targetWorkers: "languages HAS 'en'" });
    assert.equal(spanish.targetWorkers, "languages HAS 'es'");
    const workflow = await w.workflows.create({
      friendlyName: 'Quickstart',
      configuration: h.workflowConfig(spanish.sid, english.sid),
      assignmentCallbackUrl: receiver.assignmentUrl,
      taskReservationTimeout: 30,
    });
    assert.equal(workflow.assignmentCallbackUrl, receiver.assignmentUrl);
    assert.equal(JSON.parse(workflow.configuration).task_routing.filters.length, 2);
    const alice = await w.workers.create({ friendlyName: 'Alice', attributes: JSON.stringify({ languages: ['en', 'es'] }) });
    const bob = await w.workers.create({
      friendlyName: 'Bob',
      attributes: JSON.stringify({ languages: ['en'] }),
      activitySid: activities.Unavailable.sid,
    });
    assert.deepEqual(JSON.parse(alice.attributes), { languages: ['en', 'es'] });
    assert.equal(bob.activityName, 'Unavailable');
    assert.equal(alice.available, false);

    // 1. Accepted through the Reservations API.
    const first = await w.tasks.create({ workflowSid: workflow.sid, attributes: JSON.stringify({ selected_language: 'es' }) });
    assert.equal(first.assignmentStatus, 'pending');
    assert.equal(first.taskQueueSid, spanish.sid);
    await w.workers(alice.sid).update({ activitySid: activities.Available.sid });
    const call = (await h.waitFor('the first assignment callback', () => receiver.assignments[0]));
    assert.ok(call.valid, 'validateRequest accepts the emulator signature');
    assert.equal(call.params.TaskSid, first.sid);
    assert.equal(call.params.WorkerSid, alice.sid);
    assert.deepEqual(JSON.parse(call.params.TaskAttributes), { selected_language: 'es' });
    const [reservation] = await w.tasks(first.sid).reservations.list();
    assert.equal(reservation.reservationStatus, 'pending');
    const byWorker = await w.workers(alice.sid).reservations.list({ reservationStatus: 'pending' });
    assert.deepEqual(byWorker.map((r) => r.sid), [reservation.sid]);
    const accepted = await w.tasks(first.sid).reservations(reservation.sid).update({ reservationStatus: 'accepted' });
    assert.equal(accepted.reservationStatus, 'accepted');
    assert.equal((await w.tasks(first.sid).fetch()).assignmentStatus, 'assigned');

    // 2. Accepted by the assignment callback's instruction (a second slot for Alice).
    await w.workers(alice.sid).update({ activitySid: activities.Offline.sid });
    const channels = await w.workers(alice.sid).workerChannels.list();
    const generic = channels.find((c) => c.taskChannelUniqueName === 'default');
    await w.workers(alice.sid).workerChannels(generic.sid).update({ capacity: 2 });
    receiver.reply = { instruction: 'accept' };
    const second = await w.tasks.create({ workflowSid: workflow.sid, attributes: JSON.stringify({ selected_language: 'es' }) });
    await w.workers(alice.sid).update({ activitySid: activities.Available.sid });
    await h.waitFor('the second task to be assigned', async () => (await w.tasks(second.sid).fetch()).assignmentStatus === 'assigned');
    const acceptedByAlice = await w.workers(alice.sid).reservations.list({ reservationStatus: 'accepted' });
    assert.deepEqual(new Set(acceptedByAlice.map((r) => r.taskSid)), new Set([first.sid, second.sid]));
    assert.equal(receiver.assignments.length, 2);
    assert.ok(receiver.assignments.every((c) => c.valid));

    // 3. A rejection with an activity moves the task on to Bob.
    const third = await w.tasks.create({ workflowSid: workflow.sid, attributes: JSON.stringify({ selected_language: 'en' }) });
    receiver.reply = {};
    await w.workers(alice.sid).update({ activitySid: activities.Offline.sid });
    await w.workers(bob.sid).update({ activitySid: activities.Available.sid });
    const [offered] = await h.waitFor('a reservation for Bob', () => w.tasks(third.sid).reservations.list());
    assert.equal(offered.workerSid, bob.sid);
    const rejected = await w.workers(bob.sid).reservations(offered.sid).update({
      reservationStatus: 'rejected',
      workerActivitySid: activities.Unavailable.sid,
    });
    assert.equal(rejected.reservationStatus, 'rejected');
    assert.equal((await w.workers(bob.sid).fetch()).activityName, 'Unavailable');

    // The end of the tasks; events arrived, each correctly signed.
    for (const task of [first, second]) {
      const done = await w.tasks(task.sid).update({ assignmentStatus: 'completed', reason: 'done' });
      assert.equal(done.assignmentStatus, 'completed');
    }
    await w.tasks(third.sid).update({ assignmentStatus: 'canceled', reason: 'end of test' });
    const stats = await w.statistics().fetch();
    assert.equal(stats.cumulative.tasks_completed, 2);
    await h.waitFor('the task.completed events', () => receiver.events.filter((e) => e.params.EventType === 'task.completed').length === 2);
    assert.ok(receiver.events.length > 10, `${receiver.events.length} events`);
    assert.ok(receiver.events.every((e) => e.valid), 'validateRequest accepts every event callback');
    const types = new Set(receiver.events.map((e) => e.params.EventType));
    for (const type of ['task.created', 'reservation.created', 'reservation.accepted', 'reservation.rejected', 'task.completed', 'worker.activity.update']) {
      assert.ok(types.has(type), `an event ${type} arrived`);
    }
    const events = await w.events.list({ eventType: 'reservation.accepted' });
    assert.equal(events.length, 2);

    await w.tasks(first.sid).remove();
    await assert.rejects(w.tasks(first.sid).fetch(), (err) => err.status === 404 && err.code === 20404);
  } finally {
    receiver.close();
  }
});

test(`twilio-node ${version}: errors come back as RestExceptions with Twilio codes`, async () => {
  const tr = client.taskrouter.v1;
  await assert.rejects(tr.workspaces(`WS${'0'.repeat(32)}`).fetch(), (err) => err.status === 404 && err.code === 20404);
  const ws = await tr.workspaces.create({ friendlyName: 'Errors' });
  await assert.rejects(
    tr.workspaces(ws.sid).taskQueues.create({ friendlyName: 'Bad', targetWorkers: 'languages HAS' }),
    (err) => err.status === 400 && err.code === 20001,
  );
  const wrong = h.makeClient(proxy.url, emulator.accountSid, 'not-the-token');
  await assert.rejects(wrong.taskrouter.v1.workspaces(ws.sid).fetch(), (err) => err.status === 401 && err.code === 20003);
});

test(`twilio-node ${version}: the library posted ${process.env.EXPECT_BODY} bodies`, () => {
  const posts = proxy.seen.filter((r) => r.method === 'POST');
  assert.ok(posts.length > 20, `${posts.length} POSTs`);
  const want = process.env.EXPECT_BODY === 'multipart' ? /^multipart\/form-data; boundary=/ : /^application\/x-www-form-urlencoded/;
  for (const post of posts) assert.match(post.contentType, want, `${post.path}`);
});
