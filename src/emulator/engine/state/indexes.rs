//! The workspace's derived indexes and how they are kept: the load every reservation
//! puts on its worker, each task's reservations, the idle order, the workers that could
//! be offered a task now, the pending-task index of every queue, and the checks (for
//! tests and restores) that each matches the records.

use super::*;

/// Whether one of a worker's channels is available and below its capacity.
pub fn channel_has_room(loads: &Loads, worker: &Worker, channel: &WorkerChannel) -> bool {
    channel.available
        && i64::from(loads.counts(&worker.sid, &channel.task_channel_sid).1)
            < channel.configured_capacity
}

impl Workspace {
    /// A copy of the records without the derived indexes (`pending`, `loads`, `by_task`,
    /// `idle` are left empty): what a snapshot needs, for less than a full clone.
    pub fn records(&self) -> Workspace {
        Workspace {
            sid: self.sid.clone(),
            friendly_name: self.friendly_name.clone(),
            event_callback_url: self.event_callback_url.clone(),
            events_filter: self.events_filter.clone(),
            default_activity_sid: self.default_activity_sid.clone(),
            timeout_activity_sid: self.timeout_activity_sid.clone(),
            multi_task_enabled: self.multi_task_enabled,
            prioritize_queue_order: self.prioritize_queue_order,
            created: self.created,
            updated: self.updated,
            activities: self.activities.clone(),
            channels: self.channels.clone(),
            queues: self.queues.clone(),
            workflows: self.workflows.clone(),
            workers: self.workers.clone(),
            tasks: self.tasks.clone(),
            reservations: self.reservations.clone(),
            events: self.events.clone(),
            event_values: self.event_values.clone(),
            pending: Default::default(),
            loads: Loads::default(),
            by_task: HashMap::new(),
            idle: BTreeSet::new(),
            offerable: HashMap::new(),
        }
    }

    /// Count a reservation as holding its worker's slot, with its current status (call
    /// again after a status change between pending, accepted and wrapping).
    pub fn activate(&mut self, reservation_sid: &str) {
        let Some(reservation) = self.reservations.get(reservation_sid) else {
            return;
        };
        let worker = reservation.worker_sid.clone();
        match self.tasks.get(&reservation.task_sid) {
            Some(task) => self.loads.add(reservation, &task.task_channel_sid),
            None => self.loads.remove(reservation_sid),
        }
        self.refresh_offer(&worker);
    }

    /// Stop counting a reservation as holding a slot.
    pub fn deactivate(&mut self, reservation_sid: &str) {
        self.loads.remove(reservation_sid);
        if let Some(worker) = self
            .reservations
            .get(reservation_sid)
            .map(|r| r.worker_sid.clone())
        {
            self.refresh_offer(&worker);
        }
    }

    /// Count a task's live reservations again (after its channel changed).
    pub fn recount_task(&mut self, task_sid: &str) {
        let live: Vec<String> = self
            .by_task
            .get(task_sid)
            .into_iter()
            .flatten()
            .filter(|sid| self.loads.holds(sid))
            .cloned()
            .collect();
        for sid in live {
            self.activate(&sid);
        }
    }

    /// Store a new reservation.
    pub fn add_reservation(&mut self, reservation: Reservation) {
        self.by_task
            .entry(reservation.task_sid.clone())
            .or_default()
            .push(reservation.sid.clone());
        self.reservations.insert(reservation);
    }

    /// A task's reservations, oldest first.
    pub fn task_reservations<'a>(
        &'a self,
        task_sid: &str,
    ) -> impl Iterator<Item = &'a Reservation> + 'a {
        self.by_task
            .get(task_sid)
            .into_iter()
            .flatten()
            .filter_map(|sid| self.reservations.get(sid))
    }

    /// Remove a task and its reservations.
    pub fn remove_task(&mut self, task_sid: &str) {
        self.unindex(task_sid);
        self.tasks.remove(task_sid);
        for sid in self.by_task.remove(task_sid).unwrap_or_default() {
            self.deactivate(&sid);
            self.reservations.remove(&sid);
        }
    }

    /// Store a new worker.
    pub fn add_worker(&mut self, worker: Worker) {
        let (sid, idle_since) = (worker.sid.clone(), worker.idle_since);
        self.workers.insert(worker);
        if let Some(position) = self.workers.position_of(&sid) {
            self.idle.insert((idle_since, position, sid.clone()));
        }
        self.refresh_offer(&sid);
    }

    /// Remove a worker.
    pub fn remove_worker(&mut self, worker_sid: &str) -> Option<Worker> {
        let position = self.workers.position_of(worker_sid)?;
        let worker = self.workers.remove(worker_sid)?;
        let key = (worker.idle_since, position, worker.sid.clone());
        self.idle.remove(&key);
        for set in self.offerable.values_mut() {
            set.remove(&key);
        }
        Some(worker)
    }

    /// Mark a worker idle since `when` (it moves to the back of the offer order).
    pub fn set_idle_since(&mut self, worker_sid: &str, when: Millis) {
        let Some(position) = self.workers.position_of(worker_sid) else {
            return;
        };
        let Some(worker) = self.workers.get_mut(worker_sid) else {
            return;
        };
        let before = std::mem::replace(&mut worker.idle_since, when);
        let old = (before, position, worker_sid.to_string());
        self.idle.remove(&old);
        for set in self.offerable.values_mut() {
            set.remove(&old);
        }
        self.idle.insert((when, position, worker_sid.to_string()));
        self.refresh_offer(worker_sid);
    }

    /// The task channels a worker could be offered a task of now (see
    /// [`Workspace::offerable`]).
    fn offer_channels(&self, worker: &Worker) -> Vec<String> {
        if !self
            .activities
            .get(&worker.activity_sid)
            .is_some_and(|a| a.available)
        {
            return Vec::new();
        }
        if !self.multi_task_enabled {
            // Single-tasking ignores channels and capacity (ROUTING.md §4.6 rule 4).
            if self.loads.busy(&worker.sid) != 0 {
                return Vec::new();
            }
            return self.channels.iter().map(|c| c.sid.clone()).collect();
        }
        worker
            .channels
            .iter()
            .filter(|c| channel_has_room(&self.loads, worker, c))
            .map(|c| c.task_channel_sid.clone())
            .collect()
    }

    /// Bring a worker's entries in [`Workspace::offerable`] up to date with its activity,
    /// channels, load and idle time.
    pub fn refresh_offer(&mut self, worker_sid: &str) {
        let Some(position) = self.workers.position_of(worker_sid) else {
            return;
        };
        let Some(worker) = self.workers.get(worker_sid) else {
            return;
        };
        let wanted = self.offer_channels(worker);
        let key = (worker.idle_since, position, worker.sid.clone());
        for (channel, set) in self.offerable.iter_mut() {
            if !wanted.contains(channel) {
                set.remove(&key);
            }
        }
        for channel in wanted {
            self.offerable
                .entry(channel)
                .or_default()
                .insert(key.clone());
        }
    }

    /// [`Workspace::refresh_offer`] for every worker (after a change that concerns them
    /// all: multitasking switched, a channel added or removed, a restore).
    pub fn refresh_offers(&mut self) {
        let sids: Vec<String> = self.workers.iter().map(|w| w.sid.clone()).collect();
        self.offerable
            .retain(|channel, _| self.channels.get(channel).is_some());
        for sid in sids {
            self.refresh_offer(&sid);
        }
    }

    /// Whether [`Workspace::offerable`] matches the records.
    fn offers_are_consistent(&self) -> bool {
        let mut expected: HashMap<String, BTreeSet<(Millis, u64, String)>> = HashMap::new();
        for worker in self.workers.iter() {
            let Some(position) = self.workers.position_of(&worker.sid) else {
                return false;
            };
            for channel in self.offer_channels(worker) {
                expected.entry(channel).or_default().insert((
                    worker.idle_since,
                    position,
                    worker.sid.clone(),
                ));
            }
        }
        let actual: HashMap<&String, &BTreeSet<(Millis, u64, String)>> = self
            .offerable
            .iter()
            .filter(|(_, set)| !set.is_empty())
            .collect();
        actual.len() == expected.len()
            && expected
                .iter()
                .all(|(channel, set)| actual.get(channel).is_some_and(|have| *have == set))
    }

    /// Every worker by (idle since, creation position), from the records: what
    /// [`Workspace::idle`] holds.
    pub fn idle_order(&self) -> BTreeSet<(Millis, u64, String)> {
        self.workers
            .iter()
            .filter_map(|w| {
                self.workers
                    .position_of(&w.sid)
                    .map(|position| (w.idle_since, position, w.sid.clone()))
            })
            .collect()
    }

    /// Whether the kept load, reservation and idle indexes match the records (for tests).
    pub fn loads_are_consistent(&self) -> bool {
        let idle = self.idle_order();
        let by_task = self.reservations.iter().all(|r| {
            self.by_task
                .get(&r.task_sid)
                .is_some_and(|sids| sids.contains(&r.sid))
        }) && self.by_task.values().map(Vec::len).sum::<usize>()
            == self.reservations.len();
        self.loads.same_as(&Loads::recount(self))
            && idle == self.idle
            && by_task
            && self.offers_are_consistent()
    }

    /// Bring a task's entry in the pending index up to date with the task (call after
    /// any change to its status, queue, priority or virtual start time, and before
    /// removing it).
    pub fn reindex(&mut self, task_sid: &str) {
        let Some(position) = self.tasks.position_of(task_sid) else {
            return;
        };
        let Some(task) = self.tasks.get(task_sid) else {
            return;
        };
        let wanted = match &task.task_queue_sid {
            Some(queue) if task.assignment_status == TaskStatus::Pending => Some((
                Lane(queue, &task.task_channel_sid),
                task.priority,
                task.virtual_start_time,
            )),
            _ => None,
        };
        let unchanged = match (&task.indexed, wanted) {
            (None, None) => true,
            (Some(old), Some((lane, priority, virtual_start_time))) => {
                lane == Lane(&old.queue, &old.channel)
                    && old.priority == priority
                    && old.virtual_start_time == virtual_start_time
                    && old.position == position
            }
            _ => false,
        };
        if unchanged {
            return;
        }
        let wanted = wanted.map(|(Lane(queue, channel), priority, start)| {
            (queue.to_string(), channel.to_string(), priority, start)
        });
        let old = self
            .tasks
            .get_mut(task_sid)
            .and_then(|task| task.indexed.take());
        if let Some(old) = old {
            if let Some(index) = self.pending.get_mut(&Lane(&old.queue, &old.channel)) {
                index
                    .fifo
                    .remove(&(Reverse(old.priority), old.virtual_start_time, old.position));
                index
                    .lifo
                    .remove(&(Reverse(old.virtual_start_time), Reverse(old.position)));
            }
        }
        let Some((queue, channel, priority, virtual_start_time)) = wanted else {
            return;
        };
        // The index's own key, so the task's entry shares its strings.
        let key: (Arc<str>, Arc<str>) = match self.pending.get_key_value(&Lane(&queue, &channel)) {
            Some((key, _)) => key.clone(),
            None => (queue.into(), channel.into()),
        };
        let index = self.pending.entry(key.clone()).or_default();
        index
            .fifo
            .insert((Reverse(priority), virtual_start_time, position));
        index
            .lifo
            .insert((Reverse(virtual_start_time), Reverse(position)));
        if let Some(task) = self.tasks.get_mut(task_sid) {
            task.indexed = Some(IndexKey {
                queue: key.0,
                channel: key.1,
                priority,
                virtual_start_time,
                position,
            });
        }
    }

    /// Take a task out of the index (before it is removed).
    pub fn unindex(&mut self, task_sid: &str) {
        if let Some(task) = self.tasks.get_mut(task_sid) {
            // Marking it not pending makes reindex drop the entry.
            let status = std::mem::replace(&mut task.assignment_status, TaskStatus::Canceled);
            self.reindex(task_sid);
            if let Some(task) = self.tasks.get_mut(task_sid) {
                task.assignment_status = status;
            }
        }
    }

    /// Whether the index holds exactly the pending tasks that are in a queue (for tests).
    pub fn index_is_consistent(&self) -> bool {
        let expected: BTreeSet<&str> = self
            .tasks
            .iter()
            .filter(|t| t.assignment_status == TaskStatus::Pending && t.task_queue_sid.is_some())
            .map(|t| t.sid.as_str())
            .collect();
        let sid = |position: u64| self.tasks.at(position).map_or("", |t| t.sid.as_str());
        let fifo: BTreeSet<&str> = self
            .pending
            .values()
            .flat_map(|i| i.fifo.iter().map(|e| sid(e.2)))
            .collect();
        let lifo: BTreeSet<&str> = self
            .pending
            .values()
            .flat_map(|i| i.lifo.iter().map(|e| sid(e.1 .0)))
            .collect();
        let entries: usize = self.pending.values().map(|i| i.fifo.len()).sum();
        expected == fifo && expected == lifo && entries == expected.len()
    }

    /// The activity named `sid`'s friendly name, if it exists.
    pub fn activity_name(&self, sid: &str) -> Option<&str> {
        self.activities.get(sid).map(|a| a.friendly_name.as_str())
    }
    /// The task channel with this SID or unique name.
    pub fn channel_by_ref(&self, reference: &str) -> Option<&TaskChannel> {
        self.channels
            .get(reference)
            .or_else(|| self.channels.iter().find(|c| c.unique_name == reference))
    }
}
