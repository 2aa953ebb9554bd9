//! The requests JavaScript has taken from the queue and not answered yet, each under a ticket.
//!
//! JavaScript holds a ticket (slot and generation, two numbers), not a native object: making a
//! wrapped native object and its finalizer per request was most of what the crossing cost
//! (docs/node.md). A slot's generation changes whenever its request leaves, so a stale ticket
//! (answered twice, or swept after its request timed out) finds nothing instead of another
//! request.
//!
//! Hand-written rather than the `slab` crate: the generation check and the sweep of requests
//! nobody waits for any more are the whole point, and `slab` has neither.

use armature_core::PendingRequest;

/// Where one taken request is: its slot and the slot's generation when it was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ticket {
    pub slot: u32,
    pub generation: u32,
}

struct Slot {
    generation: u32,
    pending: Option<PendingRequest>,
}

/// Below this many slots nothing is swept: a few idle slots cost nothing.
const SWEEP_FLOOR: usize = 1024;

/// Taken, unanswered requests by ticket. Only the JavaScript thread touches it.
pub(crate) struct TakenRequests {
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// Sweep when every slot is in use and there are at least this many.
    next_sweep: usize,
}

impl TakenRequests {
    pub fn new() -> Self {
        Self { slots: Vec::new(), free: Vec::new(), next_sweep: SWEEP_FLOOR }
    }

    /// Keeps `pending` until it is answered; the ticket finds it again.
    pub fn insert(&mut self, pending: PendingRequest) -> (Ticket, &PendingRequest) {
        if self.free.is_empty() && self.slots.len() >= self.next_sweep {
            self.sweep();
        }
        let index = match self.free.pop() {
            Some(slot) => slot as usize,
            None => {
                self.slots.push(Slot { generation: 0, pending: None });
                self.slots.len() - 1
            }
        };
        // A free slot or the one just pushed: always in range.
        let entry = &mut self.slots[index];
        // More than u32::MAX requests in flight cannot happen: the queue and memory stop far
        // below; saturating keeps the arithmetic total all the same.
        let ticket = Ticket { slot: u32::try_from(index).unwrap_or(u32::MAX), generation: entry.generation };
        (ticket, entry.pending.insert(pending))
    }

    /// The request under `ticket`, if it is still there.
    pub fn get(&self, ticket: Ticket) -> Option<&PendingRequest> {
        let entry = self.slots.get(ticket.slot as usize)?;
        if entry.generation != ticket.generation {
            return None;
        }
        entry.pending.as_ref()
    }

    /// Takes the request under `ticket` out, freeing its slot.
    pub fn remove(&mut self, ticket: Ticket) -> Option<PendingRequest> {
        let entry = self.slots.get_mut(ticket.slot as usize)?;
        if entry.generation != ticket.generation {
            return None;
        }
        let pending = entry.pending.take()?;
        entry.generation = entry.generation.wrapping_add(1);
        self.free.push(ticket.slot);
        Some(pending)
    }

    /// Frees the slots of requests nobody waits for any more (they timed out with 504, or their
    /// client left), whose handlers may never answer: a handler that forgets its request must
    /// not keep it forever. Amortized: the next sweep waits until twice as many slots are live.
    fn sweep(&mut self) {
        for (slot, entry) in self.slots.iter_mut().enumerate() {
            if entry.pending.as_ref().is_some_and(|pending| !pending.responder.is_waiting()) {
                entry.pending = None;
                entry.generation = entry.generation.wrapping_add(1);
                self.free.push(u32::try_from(slot).unwrap_or(u32::MAX));
            }
        }
        let live = self.slots.len() - self.free.len();
        self.next_sweep = (live * 2).max(SWEEP_FLOOR);
    }
}
