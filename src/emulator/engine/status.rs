//! What the engine knows about the spec's closed sets (the enums `scripts/gen_api.py`
//! writes into `api::resources`): which statuses are final, which hold a worker's slot,
//! and the one list of legal status transitions for tasks and for reservations.

use crate::api::resources::{QueueOrder, ReservationStatus, TaskOrder, TaskStatus};

impl TaskStatus {
    /// Completed or canceled: nothing happens to the task any more.
    pub fn is_terminal(self) -> bool {
        match self {
            TaskStatus::Completed | TaskStatus::Canceled => true,
            TaskStatus::Pending
            | TaskStatus::Reserved
            | TaskStatus::Assigned
            | TaskStatus::Wrapping => false,
        }
    }

    /// Pending or reserved: still routed (no reservation accepted yet).
    pub fn is_waiting(self) -> bool {
        match self {
            TaskStatus::Pending | TaskStatus::Reserved => true,
            TaskStatus::Assigned
            | TaskStatus::Wrapping
            | TaskStatus::Completed
            | TaskStatus::Canceled => false,
        }
    }

    /// Every step a task's status may take (ROUTING.md §5, WIRE.md §9): pending to
    /// reserved when a worker is offered it, back to pending when every offer ended,
    /// assigned when one is accepted, then wrapping and completed; only a task not yet
    /// assigned can be canceled.
    pub fn can_become(self, next: TaskStatus) -> bool {
        use TaskStatus::*;
        match self {
            Pending => matches!(next, Reserved | Canceled),
            Reserved => matches!(next, Pending | Assigned | Canceled),
            Assigned => matches!(next, Wrapping | Completed),
            Wrapping => matches!(next, Completed),
            Completed | Canceled => false,
        }
    }

    /// Whether a REST update may ask for this status (the others are the engine's to
    /// set; asking for the one a task already has changes nothing).
    pub fn requestable(self) -> bool {
        match self {
            TaskStatus::Canceled | TaskStatus::Wrapping | TaskStatus::Completed => true,
            TaskStatus::Pending | TaskStatus::Reserved | TaskStatus::Assigned => false,
        }
    }
}

impl ReservationStatus {
    /// Pending, accepted or wrapping: the reservation holds a slot of its worker.
    pub fn is_live(self) -> bool {
        match self {
            ReservationStatus::Pending
            | ReservationStatus::Accepted
            | ReservationStatus::Wrapping => true,
            ReservationStatus::Rejected
            | ReservationStatus::Timeout
            | ReservationStatus::Canceled
            | ReservationStatus::Rescinded
            | ReservationStatus::Completed => false,
        }
    }

    /// Accepted or wrapping: the worker has the task.
    pub fn is_held(self) -> bool {
        match self {
            ReservationStatus::Accepted | ReservationStatus::Wrapping => true,
            ReservationStatus::Pending
            | ReservationStatus::Rejected
            | ReservationStatus::Timeout
            | ReservationStatus::Canceled
            | ReservationStatus::Rescinded
            | ReservationStatus::Completed => false,
        }
    }

    /// Every step a reservation's status may take (ROUTING.md §3.5, §5): a pending one
    /// is accepted, rejected, times out, is canceled with its task or rescinded when
    /// another worker accepts; an accepted one follows its task into wrap-up and
    /// completion.
    pub fn can_become(self, next: ReservationStatus) -> bool {
        use ReservationStatus::*;
        match self {
            Pending => matches!(next, Accepted | Rejected | Timeout | Canceled | Rescinded),
            Accepted => matches!(next, Wrapping | Completed),
            Wrapping => matches!(next, Completed),
            Rejected | Timeout | Canceled | Rescinded | Completed => false,
        }
    }

    /// Whether a REST update may ask for `next` from here: accept or reject a pending
    /// reservation, wrap up or complete an accepted one (which carries the task along).
    pub fn requestable(self, next: ReservationStatus) -> bool {
        use ReservationStatus::*;
        self.can_become(next) && !matches!(next, Timeout | Canceled | Rescinded)
    }
}

impl TaskOrder {
    /// Newest first (priority ignored) rather than by priority, then oldest first.
    pub fn is_lifo(self) -> bool {
        match self {
            TaskOrder::Lifo => true,
            TaskOrder::Fifo => false,
        }
    }
}

impl QueueOrder {
    /// Between queues, the newest waiting task wins rather than the oldest.
    pub fn is_lifo(self) -> bool {
        match self {
            QueueOrder::Lifo => true,
            QueueOrder::Fifo => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wire_strings_round_trip_and_unknown_ones_list_the_values() {
        for status in TaskStatus::ALL {
            assert_eq!(status.as_str().parse::<TaskStatus>(), Ok(*status));
            assert_eq!(
                serde_json::to_string(status).ok(),
                Some(format!("\"{status}\""))
            );
        }
        for status in ReservationStatus::ALL {
            assert_eq!(status.as_str().parse::<ReservationStatus>(), Ok(*status));
        }
        assert_eq!("LIFO".parse::<TaskOrder>(), Ok(TaskOrder::Lifo));
        assert_eq!("FIFO".parse::<QueueOrder>(), Ok(QueueOrder::Fifo));
        let error = "lifo".parse::<TaskOrder>().err().map(|e| e.to_string());
        assert_eq!(
            error.as_deref(),
            Some("\"lifo\" is not a task order (expected one of: FIFO, LIFO)")
        );
        assert!("Pending".parse::<TaskStatus>().is_err());
    }

    #[test]
    fn final_statuses_go_nowhere_and_live_ones_somewhere() {
        for from in TaskStatus::ALL {
            let anywhere = TaskStatus::ALL.iter().any(|to| from.can_become(*to));
            assert_eq!(anywhere, !from.is_terminal(), "{from}");
            assert!(!from.can_become(*from), "{from}");
        }
        for from in ReservationStatus::ALL {
            let anywhere = ReservationStatus::ALL.iter().any(|to| from.can_become(*to));
            assert_eq!(anywhere, from.is_live(), "{from}");
        }
        // The REST API may cancel a task only before it is assigned.
        assert!(TaskStatus::Reserved.can_become(TaskStatus::Canceled));
        assert!(!TaskStatus::Assigned.can_become(TaskStatus::Canceled));
        assert!(ReservationStatus::Pending.requestable(ReservationStatus::Rejected));
        assert!(!ReservationStatus::Pending.requestable(ReservationStatus::Timeout));
        assert!(ReservationStatus::Wrapping.requestable(ReservationStatus::Completed));
    }
}
