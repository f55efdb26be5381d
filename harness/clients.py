"""Throughput under concurrent clients: run.py --clients 1,2,4 (harness.worker calls this after a
pass's single-client and batch measurements).

Per level N, the built plugin is forked into N client processes (processes, not threads: an
embedded engine such as Qdrant's does not scale with threads, and Python's GIL would cap the
others); a plugin whose engine cannot be forked says clients_by = "spawn" and is pickled into N
fresh processes instead (its __getstate__ / __setstate__ reopen what it stored on disk). Each
client calls plugin.after_fork() (to reopen a connection), waits at a barrier with
the others, then runs the pass's queries in a loop from its own offset: a warm-up of `warmup`
seconds whose answers are dropped, then a window of `seconds` in which every answer is kept, with
its query and latency (filter map included, as in single-query mode). A client starts no query
after the window ends, unless the machine starved it of every answer so far (then it answers
once). QPS of a level is every answer kept over the time from the window's start to the last
answer's end; the host computes recall from every one of those answers (harness.export), so an
engine that degrades under load shows it.
"""
import multiprocessing
import os
import time
import traceback

import numpy as np
from threadpoolctl import threadpool_limits

CLIENT_GRACE = 120  # seconds a client may take beyond warm-up and window before it counts as hung


class ClientError(RuntimeError):
    """A client process crashed, hung or raised: the pass fails with this reason."""


class Work:
    """What a client runs: the pass's queries, their filters and, for plugins that read it, what
    their filter maps are made from. Picklable, for clients started fresh (clients_by "spawn")."""

    def __init__(self, qp, uses_map):
        self.Q, self.k, self.filters = qp.Q, qp.k, qp.filters
        self.predicate = qp.predicate if uses_map else None
        self.operands = qp.operands


def _client(algo, work, start, warmup, seconds, barrier, conn):
    """One client process: never returns (os._exit), so no inherited finalizer runs here (an
    engine's atexit handler would stop the parent's server)."""
    try:
        algo.set_threads(1)
        algo.after_fork()
        nq, k = len(work.Q), work.k
        queries, answers, latencies, ends = [], [], [], []
        clock = time.perf_counter
        with threadpool_limits(limits=1):
            barrier.wait()
            window_start = clock() + warmup
            window_end = window_start + seconds
            i = start
            while True:
                t0 = clock()
                if t0 >= window_end and queries:  # (a client the machine starved still answers once)
                    break
                valid = work.predicate.filter_map(work.operands[i]) if work.predicate is not None else None
                ids = np.asarray(algo.filtered_query(work.Q[i], k, work.filters[i], valid))
                t1 = clock()
                if t0 >= window_start:
                    row = np.full(k, -1, dtype=np.int64)
                    if ids.size and ids.dtype.kind not in "iu":
                        raise TypeError(f"returned ids of type {ids.dtype}: ids must be integers")
                    ids = ids.astype(np.int64).reshape(-1)[:k]
                    row[:len(ids)] = ids
                    queries.append(i)
                    answers.append(row)
                    latencies.append(t1 - t0)
                    ends.append(t1 - window_start)
                i = (i + 1) % nq
        conn.send(("ok", np.asarray(queries, dtype=np.int32), np.asarray(answers, dtype=np.int64).reshape(-1, k),
                   np.asarray(latencies), max(ends, default=0.0)))
        conn.close()
        os._exit(0)
    except BaseException as e:  # noqa: B902 - whatever happens, the parent gets a reason
        try:
            conn.send(("error", f"{type(e).__name__}: {e}", traceback.format_exc()))
            conn.close()
        finally:
            os._exit(1)


def level(algo, qp, uses_map, clients, warmup, seconds):
    """One level: (summary dict, query indices, answers [A, k], latencies) of `clients` clients."""
    # A plugin whose engine cannot be forked (clients_by = "spawn") is pickled into fresh processes.
    context = multiprocessing.get_context("spawn" if getattr(algo, "clients_by", "fork") == "spawn" else "fork")
    barrier = context.Barrier(clients)
    nq = len(qp.Q)
    work = Work(qp, uses_map)
    pipes, processes = [], []
    for c in range(clients):
        receive, send = context.Pipe(duplex=False)
        p = context.Process(target=_client, args=(algo, work, c * nq // clients, warmup, seconds, barrier, send),
                            daemon=True)
        p.start()
        send.close()
        pipes.append(receive)
        processes.append(p)
    deadline = time.monotonic() + warmup + seconds + CLIENT_GRACE
    replies = []
    try:
        for c, (receive, p) in enumerate(zip(pipes, processes)):
            if not receive.poll(max(0.0, deadline - time.monotonic())):
                raise ClientError(f"client {c + 1} of {clients} gave no answer within {warmup + seconds + CLIENT_GRACE:.0f} s "
                                  f"(hung{'' if p.is_alive() else f', exit code {p.exitcode}'})")
            try:
                reply = receive.recv()
            except EOFError:
                p.join(5)
                raise ClientError(f"client {c + 1} of {clients} died (exit code {p.exitcode}) before answering") from None
            if reply[0] != "ok":
                raise ClientError(f"client {c + 1} of {clients} failed: {reply[1]}")
            replies.append(reply[1:])
    finally:
        for p in processes:
            if p.is_alive():
                p.join(5)
            if p.is_alive():
                p.kill()
                p.join()
    queries = np.concatenate([r[0] for r in replies])
    answers = np.concatenate([r[1] for r in replies])
    latencies = np.concatenate([r[2] for r in replies])
    window = max(r[3] for r in replies)
    if not len(answers) or window <= 0:
        raise ClientError(f"{clients} clients returned no answer within the {seconds:g} s window "
                          f"(a query takes longer than the window: raise --client-seconds)")
    summary = {"clients": clients, "seconds": window, "answers": len(answers), "qps": len(answers) / window,
               "latency_p50": float(np.percentile(latencies, 50)), "latency_p95": float(np.percentile(latencies, 95)),
               "latency_p99": float(np.percentile(latencies, 99))}
    return summary, queries, answers, latencies


def measure(algo, qp, uses_map, settings):
    """Every level of settings {"levels": [N, ...], "seconds": s, "warmup": s}: (attrs, arrays)
    for the result file: attrs["clients"] one summary per level; arrays clients_level,
    clients_queries (index into the pass's queries), clients_neighbors and clients_latency, one
    row per answer kept."""
    summaries, parts = [], []
    for clients in settings["levels"]:
        summary, queries, answers, latencies = level(algo, qp, uses_map, int(clients), float(settings["warmup"]),
                                                     float(settings["seconds"]))
        summaries.append(summary)
        parts.append((np.full(len(queries), clients, dtype=np.int32), queries, answers, latencies))
    arrays = {"clients_level": np.concatenate([p[0] for p in parts]),
              "clients_queries": np.concatenate([p[1] for p in parts]),
              "clients_neighbors": np.concatenate([p[2] for p in parts]),
              "clients_latency": np.concatenate([p[3] for p in parts])}
    return {"clients": summaries, "client_settings": settings}, arrays
