"""Workflows across synthesis models: starting runs (runs.py), one item's life in a worker (items.py,
storing.py, progress.py), serial runs (serial.py), recovery (recovery.py), and the one module that
sends messages to the workers (queue.py). Callers import the names from `synthesis.services`."""

from synthesis.services.items import (
    MAX_ATTEMPTS,
    TRANSIENT_ERRORS,
    ItemStopped,
    claim_item,
    execute_item,
    fail_item,
    is_dead_local_process,
    record_provenance,
    worker_name,
)
from synthesis.services.progress import (
    refresh_progress,
)
from synthesis.services.queue import (
    PROCESS_ITEM,
    PROCESS_SERIAL_RUN,
    send_item,
    send_serial_run,
)
from synthesis.services.recovery import (
    DETERMINISTIC_CRASH_SIGNALS,
    fail_abandoned_in_process_runs,
    record_worker_crash,
    requeue_stale_items,
)
from synthesis.services.runs import (
    ITEM_BUILDERS,
    cancel_run,
    import_sentences,
    retry_failed,
    run_items_here,
    start_run,
)
from synthesis.services.serial import (
    MachineBusy,
    run_serial,
    wait_until_idle,
)
from synthesis.services.storing import (
    STORERS,
    MediaStorageError,
    store_iteration,
    store_sample,
    store_transcript,
)

__all__ = [
    "DETERMINISTIC_CRASH_SIGNALS",
    "ITEM_BUILDERS",
    "ItemStopped",
    "MAX_ATTEMPTS",
    "MachineBusy",
    "MediaStorageError",
    "PROCESS_ITEM",
    "PROCESS_SERIAL_RUN",
    "STORERS",
    "TRANSIENT_ERRORS",
    "cancel_run",
    "claim_item",
    "execute_item",
    "fail_abandoned_in_process_runs",
    "fail_item",
    "import_sentences",
    "is_dead_local_process",
    "record_provenance",
    "record_worker_crash",
    "refresh_progress",
    "requeue_stale_items",
    "retry_failed",
    "run_items_here",
    "run_serial",
    "send_item",
    "send_serial_run",
    "start_run",
    "store_iteration",
    "store_sample",
    "store_transcript",
    "wait_until_idle",
    "worker_name",
]
