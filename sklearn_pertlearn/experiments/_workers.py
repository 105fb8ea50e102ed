"""What every local worker process of a sweep runs first.

A module of its own, importing nothing heavy: a worker unpickles (imports)
its initializer before anything else, so that the initializer runs seconds
before the worker has imported torch for its first run.
"""

import os
import threading
import time

# Seconds between a worker's checks that the process that started it lives.
_PARENT_CHECK_INTERVAL = 0.2


def _end_with_parent(parent):
    """Worker initializer: end this worker process once ``parent`` has died.

    joblib's loky workers outlive a parent killed with SIGKILL: they wait for
    work that never comes, hold hundreds of MB each, and keep loky's helper
    processes alive with them. A daemon thread ends the worker as soon as it
    is orphaned (its parent is no longer ``parent``). In a thread of
    ``parent`` itself (joblib's threading backend) there is nothing to do.
    """
    if os.getpid() == parent:
        return

    def watch():
        while os.getppid() == parent:
            time.sleep(_PARENT_CHECK_INTERVAL)
        os._exit(1)

    threading.Thread(target=watch, name="pertlearn-parent-watch", daemon=True).start()
