"""python -m harness.reaper: stops run.py's current worker when run.py dies, however it dies.

run.py starts this watcher in a session of its own and tells it, on its stdin, what runs now:
`pgid N` (a local worker's process group), `container ID`, or `clear`. When its stdin reaches
end of file, run.py is gone (it finished, or was killed, even by SIGKILL, which no handler in
run.py can catch): whatever was last announced is killed, a container also removed.
"""
import os
import signal
import sys


def stop(kind, ident):
    if kind == "pgid":
        try:
            os.killpg(int(ident), signal.SIGKILL)
        except (ProcessLookupError, PermissionError, ValueError):
            pass
    elif kind == "container":
        try:
            import docker
            docker.from_env(timeout=60).containers.get(ident).remove(force=True)
        except Exception:
            pass  # already gone; the next run.py removes labelled leftovers anyway


def main():
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for run.py; this one waits for its end
    current = None
    for line in sys.stdin:
        words = line.split()
        current = None if words == ["clear"] else (words[0], words[1]) if len(words) == 2 else current
    if current:
        stop(*current)
    return 0


if __name__ == "__main__":
    sys.exit(main())
