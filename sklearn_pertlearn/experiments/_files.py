"""Files that hold: locks that end with their process, folders checked first.

A lock here is the operating system's lock on an open file (``flock`` on
POSIX, ``msvcrt.locking`` on Windows). The system releases it when its
process ends, however it ends, so that a sweep killed with SIGKILL never
leaves a lock that stops the next one. Nothing here imports torch.
"""

import os
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows
    import msvcrt

    def _try_lock(fd):
        # The first byte; Windows lets a byte past the end of a file be locked.
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)

else:

    def _try_lock(fd):
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


class _Lock:
    """An exclusive lock on the file ``path``, held until released or the process ends.

    The holder writes its process id into the file, and removes the file on
    release.

    Parameters
    ----------
    path : path-like
        The lock file, created if missing.
    """

    def __init__(self, path):
        self.path = Path(path)
        self._fd = None

    def acquire(self):
        """Take the lock unless another process holds it; return whether it was taken."""
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                _try_lock(fd)
            except OSError:
                os.close(fd)
                return False
            # The holder before us removes the file on release: a lock on a
            # file no longer at the path would not stop the next process.
            try:
                current = os.stat(self.path)
            except FileNotFoundError:
                current = None
            if current is not None and os.path.samestat(os.fstat(fd), current):
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return True

    def owner(self):
        """The process id the holder wrote, or None if it cannot be read."""
        try:
            text = self.path.read_text().strip()
        except OSError:
            return None
        return int(text) if text.isdigit() else None

    def release(self):
        """Release the lock and remove its file."""
        fd, self._fd = self._fd, None
        if os.name == "nt":
            # Windows cannot remove an open file; another process may have
            # opened it meanwhile, and then the file stays.
            os.close(fd)
            try:
                self.path.unlink(missing_ok=True)
            except PermissionError:
                pass
        else:
            # Removed while still locked, so that a process that opened it
            # meanwhile finds it gone and locks the next one (see acquire).
            self.path.unlink(missing_ok=True)
            os.close(fd)


def _check_folder(path, what):
    """Refuse ``path`` before any work if its folder does not exist.

    Parameters
    ----------
    path : path-like
        A file to be written.
    what : str
        What the file is, for the message, such as ``"results file"``.
    """
    folder = Path(path).parent
    if not folder.is_dir():
        raise FileNotFoundError(
            f"The folder {str(folder)!r} of the {what} {str(path)!r} does not exist; "
            "create it, or choose a path in a folder that exists."
        )
