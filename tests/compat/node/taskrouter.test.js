'use strict';
// twilio-node against trctl emulator beyond the lifecycle (run by the node5 suite:
// `bash tests/compat/run.sh node5`): create, fetch, update, list and remove of every
// resource, paging (`list`, `each`, `page`, `limit`), filters, reservations by task and
// by worker, RejectPendingReservations, events with filters, every statistics
// endpoint, typed dates, numbers and booleans, and error codes (20404, 20001, 412).
// The library is the referee: what it cannot parse or page through is a wire error.

const assert = require('node:assert/strict');
const { test, before, after } = require('node:test');

const h = require('./harness');

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

function isDate(value) {
  return value instanceof Date && !Number.isNaN(value.getTime());
}

/** A workspace in the shape of TaskRouter's quickstart. */
async function quickstart(name = 'Node Workspace') {
  const tr = client.taskrouter.v1;
  const ws = await tr.workspaces.create({ friendlyName: name });
  const w = tr.workspaces(ws.sid);
  const activities = Object.fromEntries((await w.activities.list()).map((a) => [a.friendlyName, a]));
  const onBreak = await w.activities.create({ friendlyName: 'Break', available: false });
  const channel = await w.taskChannels.create({ friendlyName: 'Callback', uniqueName: 'callback' });
  const spanish = await w.taskQueues.create({ friendlyName: 'Spanish', targetWorkers: "languages HAS 'es'", taskOrder: 'FIFO' });
  const english = await w.taskQueues.create({ friendlyName: 'English', targetWorkers: "languages HAS 'en'" });
  const workflow = await w.workflows.create({
    friendlyName: 'Quickstart Workflow',
    configuration: h.workflowConfig(spanish.sid, english.sid),
    taskReservationTimeout: 30,
  });
  const alice = await w.workers.create({ friendlyName: 'Alice', attributes: JSON.stringify({ languages: ['en', 'es'] }) });
  const bob = await w.workers.create({
    friendlyName: 'Bob',
    attributes: JSON.stringify({ languages: ['en'] }),
    activitySid: activities.Unavailable.sid,
  });
  return { ws, w, activities, onBreak, channel, spanish, english, workflow, alice, bob };
}

const restError = (status, code) => (err) => err.status === status && err.code === code;

test('workspace: create, fetch, defaults, list with a filter, template', async () => {
  const tr = client.taskrouter.v1;
  const ws = await tr.workspaces.create({ friendlyName: 'Plain', eventCallbackUrl: 'http://127.0.0.1:9/cb' });
  assert.match(ws.sid, /^WS[0-9a-f]{32}$/);
  assert.equal(ws.accountSid, emulator.accountSid);
  assert.equal(ws.eventCallbackUrl, 'http://127.0.0.1:9/cb');
  assert.equal(ws.defaultActivityName, 'Offline');
  assert.equal(ws.multiTaskEnabled, true);
  assert.equal(ws.prioritizeQueueOrder, 'FIFO');
  assert.ok(isDate(ws.dateCreated) && isDate(ws.dateUpdated));
  assert.ok(ws.links.tasks.endsWith(`/v1/Workspaces/${ws.sid}/Tasks`));
  const fetched = await tr.workspaces(ws.sid).fetch();
  assert.equal(fetched.dateCreated.getTime(), ws.dateCreated.getTime());
  const channels = await tr.workspaces(ws.sid).taskChannels.list();
  assert.deepEqual(channels.map((c) => c.uniqueName), ['voice', 'sms', 'chat', 'video', 'default']);
  assert.deepEqual((await tr.workspaces.list({ friendlyName: 'Plain' })).map((x) => x.sid), [ws.sid]);

  const fifo = await tr.workspaces.create({ friendlyName: 'From template', template: 'FIFO' });
  const queues = await tr.workspaces(fifo.sid).taskQueues.list();
  assert.deepEqual(queues.map((q) => q.targetWorkers), ['1==1']);
  const [workflow] = await tr.workspaces(fifo.sid).workflows.list();
  assert.equal(JSON.parse(workflow.configuration).task_routing.default_filter.queue, queues[0].sid);
});

test('every resource: fetch with typed fields, list with filters', async () => {
  const q = await quickstart();
  const { w } = q;
  const activity = await w.activities(q.onBreak.sid).fetch();
  assert.equal(activity.available, false);
  assert.ok(isDate(activity.dateCreated));
  const channel = await w.taskChannels(q.channel.sid).fetch();
  assert.equal(channel.uniqueName, 'callback');
  assert.equal((await w.taskChannels('callback').fetch()).sid, q.channel.sid);
  const spanish = await w.taskQueues(q.spanish.sid).fetch();
  assert.equal(spanish.maxReservedWorkers, 1);
  assert.equal(spanish.taskOrder, 'FIFO');
  const workflow = await w.workflows(q.workflow.sid).fetch();
  assert.equal(workflow.taskReservationTimeout, 30);
  const alice = await w.workers(q.alice.sid).fetch();
  assert.equal(alice.available, false);
  assert.ok(isDate(alice.dateStatusChanged));

  assert.deepEqual((await w.taskQueues.list({ friendlyName: 'English' })).map((x) => x.sid), [q.english.sid]);
  assert.deepEqual((await w.workers.list({ activityName: 'Unavailable' })).map((x) => x.sid), [q.bob.sid]);
  assert.deepEqual((await w.workers.list({ taskQueueSid: q.spanish.sid })).map((x) => x.sid), [q.alice.sid]);
  assert.deepEqual((await w.workers.list({ targetWorkersExpression: "languages HAS 'es'" })).map((x) => x.sid), [q.alice.sid]);
  assert.deepEqual((await w.activities.list({ available: 'true' })).map((a) => a.friendlyName), ['Available']);
  assert.deepEqual((await w.taskQueues.list({ workerSid: q.bob.sid })).map((x) => x.sid), [q.english.sid]);

  const es = await w.tasks.create({ taskQueueSid: q.spanish.sid, attributes: JSON.stringify({ selected_language: 'es' }), priority: 5, timeout: 600 });
  const en = await w.tasks.create({ workflowSid: q.workflow.sid, attributes: JSON.stringify({ selected_language: 'en' }), taskChannel: 'callback' });
  const fetched = await w.tasks(es.sid).fetch();
  assert.equal(fetched.priority, 5);
  assert.equal(fetched.timeout, 600);
  assert.equal(fetched.taskQueueFriendlyName, 'Spanish');
  assert.equal(typeof fetched.age, 'number');
  assert.ok(isDate(fetched.taskQueueEnteredDate));
  assert.equal((await w.tasks(en.sid).fetch()).taskChannelUniqueName, 'callback');
  assert.deepEqual((await w.tasks.list({ assignmentStatus: ['pending'] })).map((t) => t.sid), [es.sid, en.sid]);
  assert.deepEqual((await w.tasks.list({ evaluateTaskAttributes: "selected_language == 'es'" })).map((t) => t.sid), [es.sid]);
  assert.deepEqual((await w.tasks.list({ workflowSid: q.workflow.sid })).map((t) => t.sid), [en.sid]);
});

test('paging: list, each, page with next and previous, limit', async () => {
  const q = await quickstart('Paging');
  const { w } = q;
  const created = [];
  for (let n = 0; n < 7; n += 1) {
    created.push((await w.tasks.create({ workflowSid: q.workflow.sid, attributes: JSON.stringify({ selected_language: 'en', n }) })).sid);
  }
  const before = proxy.seen.length;
  assert.deepEqual((await w.tasks.list({ pageSize: 2 })).map((t) => t.sid), created);
  const pages = proxy.seen.slice(before);
  assert.equal(pages.length, 4);
  // Every page after the first is a next_page_url the emulator handed out.
  for (const page of pages.slice(1)) {
    assert.ok(page.path.startsWith(`/v1/Workspaces/${q.ws.sid}/Tasks?`), page.path);
    assert.ok(page.path.includes('PageToken=') && page.path.includes('PageSize=2'), page.path);
  }
  assert.deepEqual((await w.tasks.list({ pageSize: 2, limit: 3 })).map((t) => t.sid), created.slice(0, 3));

  const seen = await new Promise((resolve, reject) => {
    const sids = [];
    w.tasks.each({ pageSize: 3, done: (err) => (err ? reject(err) : resolve(sids)) }, (task) => {
      sids.push(task.sid);
    });
  });
  assert.deepEqual(seen, created);

  let page = await w.tasks.page({ pageSize: 2 });
  const sizes = [];
  const walked = [];
  while (page) {
    sizes.push(page.instances.length);
    walked.push(...page.instances.map((t) => t.sid));
    page = await page.nextPage();
  }
  assert.deepEqual(sizes, [2, 2, 2, 1]);
  assert.deepEqual(walked, created);
  const second = await (await w.tasks.page({ pageSize: 3 })).nextPage();
  assert.deepEqual(second.instances.map((t) => t.sid), created.slice(3, 6));
  const back = await second.previousPage();
  assert.deepEqual(back.instances.map((t) => t.sid), created.slice(0, 3));
  assert.ok((await w.events.list({ pageSize: 2 })).length > 10);
});

test('updates of every kind', async () => {
  const q = await quickstart('Updates');
  const { w } = q;
  const worker = await w.workers(q.alice.sid).update({ friendlyName: 'Alice A.', attributes: JSON.stringify({ languages: ['es'] }) });
  assert.equal(worker.friendlyName, 'Alice A.');
  const task = await w.tasks.create({ workflowSid: q.workflow.sid, attributes: '{"selected_language":"en"}' });
  assert.equal((await w.tasks(task.sid).update({ priority: 42 })).priority, 42);
  const queue = await w.taskQueues(q.english.sid).update({ friendlyName: 'English (US)', maxReservedWorkers: 3 });
  assert.equal(queue.maxReservedWorkers, 3);
  const workflow = await w.workflows(q.workflow.sid).update({ friendlyName: 'Renamed', taskReservationTimeout: 60 });
  assert.equal(workflow.taskReservationTimeout, 60);
  assert.equal((await w.activities(q.onBreak.sid).update({ friendlyName: 'Coffee' })).friendlyName, 'Coffee');
  const channel = await w.taskChannels('callback').update({ friendlyName: 'Call me back', channelOptimizedRouting: true });
  assert.equal(channel.friendlyName, 'Call me back');
  assert.equal(channel.channelOptimizedRouting, true);
  assert.equal((await client.taskrouter.v1.workspaces(q.ws.sid).update({ friendlyName: 'Renamed WS' })).friendlyName, 'Renamed WS');

  const channels = await w.workers(q.alice.sid).workerChannels.list();
  const voice = channels.find((c) => c.taskChannelUniqueName === 'voice');
  assert.match(voice.sid, /^WC/);
  assert.equal(voice.configuredCapacity, 1);
  const updated = await w.workers(q.alice.sid).workerChannels(voice.sid).update({ capacity: 3, available: false });
  assert.equal(updated.configuredCapacity, 3);
  assert.equal(updated.available, false);
  assert.equal((await w.workers(q.alice.sid).workerChannels('voice').fetch()).configuredCapacity, 3);
});

test('reservations by task and by worker; reject with activity; RejectPendingReservations', async () => {
  const q = await quickstart('Reservations');
  const { w, activities } = q;
  await w.workers(q.alice.sid).update({ activitySid: activities.Available.sid });
  const task = await w.tasks.create({ workflowSid: q.workflow.sid, attributes: '{"selected_language":"en"}' });
  const [byTask] = await w.tasks(task.sid).reservations.list();
  assert.equal(byTask.workerSid, q.alice.sid);
  assert.equal((await w.tasks(task.sid).reservations(byTask.sid).fetch()).reservationStatus, 'pending');
  const [byWorker] = await w.workers(q.alice.sid).reservations.list();
  assert.equal(byWorker.sid, byTask.sid);
  assert.equal((await w.workers(q.alice.sid).reservations(byTask.sid).fetch()).taskSid, task.sid);

  await w.workers(q.bob.sid).update({ activitySid: activities.Available.sid });
  await w.workers(q.alice.sid).reservations(byTask.sid).update({ reservationStatus: 'rejected', workerActivitySid: activities.Offline.sid });
  const statuses = (await w.tasks(task.sid).reservations.list()).map((r) => [r.workerSid, r.reservationStatus]);
  assert.deepEqual(statuses, [[q.alice.sid, 'rejected'], [q.bob.sid, 'pending']]);
  assert.equal((await w.workers(q.alice.sid).fetch()).activityName, 'Offline');

  // Bob goes on break and drops what he was offered.
  const bob = await w.workers(q.bob.sid).update({ activitySid: q.onBreak.sid, rejectPendingReservations: true });
  assert.equal(bob.activityName, 'Break');
  const [toBob] = await w.workers(q.bob.sid).reservations.list();
  assert.equal(toBob.reservationStatus, 'rejected');
  assert.equal((await w.tasks(task.sid).fetch()).assignmentStatus, 'pending');
});

test('events: list, fetch, filters', async () => {
  const q = await quickstart('Events');
  const task = await q.w.tasks.create({ workflowSid: q.workflow.sid, attributes: '{"selected_language":"es"}' });
  const events = await q.w.events.list();
  assert.equal(events[0].eventType, 'workspace.created');
  const created = events.find((e) => e.eventType === 'task.created');
  assert.match(created.sid, /^EV/);
  assert.equal(created.resourceSid, task.sid);
  assert.ok(isDate(created.eventDate));
  assert.equal(typeof created.eventDateMs, 'number');
  assert.equal((await q.w.events(created.sid).fetch()).eventType, 'task.created');
  const onlyTask = await q.w.events.list({ taskSid: task.sid });
  assert.ok(onlyTask.length > 0 && onlyTask.every((e) => e.resourceSid === task.sid));
  const typed = await q.w.events.list({ eventType: 'worker.created', minutes: 10 });
  assert.deepEqual(typed.map((e) => e.resourceSid).sort(), [q.alice.sid, q.bob.sid].sort());
  const since = new Date(Date.now() - 3600 * 1000);
  assert.equal((await q.w.events.list({ startDate: since, taskSid: task.sid, eventType: 'task.created' })).length, 1);
});

test('every statistics endpoint', async () => {
  const q = await quickstart('Statistics');
  const { w } = q;
  for (const [language, queue] of [['es', q.spanish.sid], ['en', q.english.sid], ['en', q.english.sid]]) {
    await w.tasks.create({ workflowSid: q.workflow.sid, taskQueueSid: queue, attributes: JSON.stringify({ selected_language: language }) });
  }
  const stats = await w.statistics().fetch();
  assert.equal(stats.realtime.total_tasks, 3);
  assert.equal(stats.realtime.tasks_by_status.pending, 3);
  assert.equal(stats.cumulative.tasks_created, 3);
  assert.equal((await w.realTimeStatistics().fetch()).totalTasks, 3);
  const cumulative = await w.cumulativeStatistics().fetch();
  assert.equal(cumulative.tasksCreated, 3);
  assert.ok(isDate(cumulative.startTime) && isDate(cumulative.endTime));

  const queueStats = await w.taskQueues(q.english.sid).statistics().fetch();
  assert.equal(queueStats.realtime.total_tasks, 2);
  const queueRt = await w.taskQueues(q.spanish.sid).realTimeStatistics().fetch();
  assert.equal(queueRt.totalTasks, 1);
  assert.equal(queueRt.totalEligibleWorkers, 1);
  assert.equal(typeof (await w.taskQueues(q.spanish.sid).cumulativeStatistics().fetch()).tasksEntered, 'number');
  const all = await w.taskQueues.statistics.list();
  assert.deepEqual(all.map((s) => s.taskQueueSid).sort(), [q.spanish.sid, q.english.sid].sort());
  const bulk = await w.taskQueues.bulkRealTimeStatistics.create({ QueueSids: [q.spanish.sid, q.english.sid] });
  assert.equal(bulk.taskQueueResponseCount, 2);

  assert.equal((await w.workflows(q.workflow.sid).statistics().fetch()).realtime.total_tasks, 3);
  assert.equal((await w.workflows(q.workflow.sid).realTimeStatistics().fetch()).totalTasks, 3);
  assert.equal(typeof (await w.workflows(q.workflow.sid).cumulativeStatistics().fetch()).tasksEntered, 'number');
  assert.equal((await w.workers.statistics().fetch()).realtime.total_workers, 2);
  assert.equal((await w.workers.realTimeStatistics().fetch()).totalWorkers, 2);
  assert.ok(isDate((await w.workers.cumulativeStatistics().fetch()).startTime));
  assert.equal((await w.workers(q.alice.sid).statistics().fetch()).workerSid, q.alice.sid);
});

test('errors: 20404, 20001, 412 on If-Match, refused deletes; removes in order', async () => {
  const q = await quickstart('Errors');
  const { w } = q;
  const zeros = '0'.repeat(32);
  for (const call of [
    () => w.tasks(`WT${zeros}`).fetch(),
    () => w.workers(`WK${zeros}`).fetch(),
    () => w.taskQueues(`WQ${zeros}`).fetch(),
    () => w.workflows(`WW${zeros}`).fetch(),
    () => w.activities(`WA${zeros}`).fetch(),
    () => w.taskChannels('nosuch').fetch(),
    () => w.events(`EV${zeros}`).fetch(),
    () => w.tasks(`WT${zeros}`).remove(),
  ]) {
    await assert.rejects(call(), restError(404, 20404));
  }
  await assert.rejects(w.tasks.create({ workflowSid: q.workflow.sid, attributes: 'not-json' }), restError(400, 20001));
  await assert.rejects(w.taskQueues(q.spanish.sid).remove(), restError(400, 20001));

  const task = await w.tasks.create({ workflowSid: q.workflow.sid, attributes: '{"selected_language":"en"}' });
  await w.tasks(task.sid).update({ priority: 1 });
  await assert.rejects(w.tasks(task.sid).update({ priority: 2, ifMatch: '0' }), restError(412, 20412));
  assert.equal((await w.tasks(task.sid).update({ priority: 3, ifMatch: '1' })).priority, 3);
  await assert.rejects(w.tasks(task.sid).remove({ ifMatch: '0' }), restError(412, 20412));

  const canceled = await w.tasks(task.sid).update({ assignmentStatus: 'canceled', reason: 'no longer needed' });
  assert.equal(canceled.reason, 'no longer needed');
  assert.equal(await w.tasks(task.sid).remove({ ifMatch: '3' }), true);
  assert.equal(await w.workflows(q.workflow.sid).remove(), true);
  assert.equal(await w.taskQueues(q.spanish.sid).remove(), true);
  assert.equal(await w.workers(q.alice.sid).remove(), true);
  assert.equal(await w.activities(q.onBreak.sid).remove(), true);
  assert.equal(await w.taskChannels('callback').remove(), true);
  assert.equal(await client.taskrouter.v1.workspaces(q.ws.sid).remove(), true);
  await assert.rejects(client.taskrouter.v1.workspaces(q.ws.sid).fetch(), restError(404, 20404));
});
