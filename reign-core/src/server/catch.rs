//! A handler's panic, caught: it ends the server, not the runtime's worker.

use std::any::Any;
use std::future::{Future, poll_fn};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::pin;

/// Runs `fut`, turning a panic inside it into `Err(message)`.
///
/// `AssertUnwindSafe`: a server that panicked ends; its state is never handled again except
/// by `terminate`, as gen_server calls `terminate` after a crash. Nothing else observes it.
pub(crate) async fn catch<T>(fut: impl Future<Output = T>) -> Result<T, String> {
    let mut fut = pin!(fut);
    poll_fn(
        |cx| match catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(cx))) {
            Ok(poll) => poll.map(Ok),
            Err(payload) => std::task::Poll::Ready(Err(message(&*payload))),
        },
    )
    .await
}

/// A panic's message, as `std` prints it: the `&str` or `String` it was given.
pub(crate) fn message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a payload that is not a string".to_owned()
    }
}
