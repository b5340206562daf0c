//! Freeing large values off the request path (UNLINK, FLUSHALL ASYNC):
//! the value is handed to one background thread that drops it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{channel, Sender};
use std::sync::{Mutex, OnceLock};

/// Values handed over and not yet dropped, and values dropped so far
/// (INFO's lazyfree_pending_objects and lazyfreed_objects).
pub static PENDING: AtomicU64 = AtomicU64::new(0);
pub static FREED: AtomicU64 = AtomicU64::new(0);

type Garbage = Box<dyn Send>;

static QUEUE: OnceLock<Mutex<Sender<Garbage>>> = OnceLock::new();

/// Values whose heap size is below this are freed inline: handing them
/// over would cost more than dropping them (Redis uses a similar cut-off).
pub const LAZYFREE_THRESHOLD: usize = 64 * 1024;

fn queue() -> &'static Mutex<Sender<Garbage>> {
    QUEUE.get_or_init(|| {
        let (tx, rx) = channel::<Garbage>();
        std::thread::Builder::new()
            .name("lazyfree".into())
            .spawn(move || {
                for garbage in rx {
                    drop(garbage);
                    PENDING.fetch_sub(1, Relaxed);
                    FREED.fetch_add(1, Relaxed);
                }
            })
            .expect("spawn lazyfree thread");
        Mutex::new(tx)
    })
}

/// `lazyfree-lazy-expire`, read where keys expire.
pub static LAZY_EXPIRE: AtomicBool = AtomicBool::new(false);

/// An expired entry's end: on the lazy-free thread when it is costly to
/// free and `lazyfree-lazy-expire` says so, here otherwise.
pub fn drop_expired(e: super::Entry) {
    if LAZY_EXPIRE.load(Relaxed) && e.value.costly_to_free() {
        free_later(e);
    }
}

/// Drops `v` on the lazy-free thread.
pub fn free_later<T: Send + 'static>(v: T) {
    let tx = queue().lock().unwrap_or_else(|e| e.into_inner()).clone();
    PENDING.fetch_add(1, Relaxed);
    if let Err(e) = tx.send(Box::new(v)) {
        PENDING.fetch_sub(1, Relaxed);
        drop(e.0);
    }
}
