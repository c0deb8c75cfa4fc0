#!/usr/bin/env python3
"""Sorts a relay's perf samples into categories, per thread, in CPU
microseconds per event (for bench/profile.sh).

    profile_categories.py LABEL SCRIPT CPU_US_PER_EVENT

SCRIPT is `perf script -F tid,ip,sym,dso` of one run; each sample counts for
its share of the run's measured CPU per event. Prints one line per (thread,
category): LABEL, thread, category, microseconds. The main thread (lowest
thread ID) runs the event loop; the busiest other thread is the storage
worker. SQLite is libsqlite3 or, in builds that link it in, told from the
relay's C++ by its C function names (no "::").
"""
import collections
import re
import sys

NETWORK = re.compile(r'tcp|inet|ip_|skb|sock|net_|__dev|napi|loopback|netif|nf_|sk_|neigh')
DISK = re.compile(r'ext4|jbd2|blk|bio|virtio|filemap|folio|iomap|page_cache|vring|mpage|'
                  r'writeback|fdatasync|file_write|generic_perform|copy_folio|iowrite|ioread|'
                  r'submit|xa_|lru')
MALLOC = re.compile(r'malloc|free|_int_|unlink_chunk|tcache|consolidate|realloc|calloc')


def category(sym, dso):
    if 'kallsyms' in dso:
        if NETWORK.search(sym):
            return 'kernel: network'
        if DISK.search(sym):
            return 'kernel: files and disk'
        return 'kernel: other (system calls, scheduling)'
    if 'libc' in dso:
        return 'malloc and free' if MALLOC.search(sym) else 'libc: other (memcpy, locks)'
    if 'libssl' in dso or 'libcrypto' in dso:
        return 'OpenSSL'
    if 'sqlite' in dso:
        return 'SQLite'
    if 'ocirelayd' in dso and '::' not in sym and '<' not in sym and \
            not sym.startswith(('operator', 'void ', '_Z', 'std', 'boost')):
        return 'SQLite'
    if re.search(r'rapidjson|ocirelay::event::', sym):
        return 'JSON parse and checks'
    if 'beast' in sym:
        return 'Beast (HTTP)'
    if 'asio' in sym:
        return 'Asio (coroutines, timers, reactor)'
    if 'spdlog' in sym or 'fmt::' in sym:
        return 'logging'
    if 'ocirelay' in dso:
        return 'ocirelay: other'
    return 'other'


def main():
    label, path, cpu = sys.argv[1], sys.argv[2], float(sys.argv[3])
    samples = []
    for line in open(path, errors='replace'):
        m = re.match(r'\s*(\d+)\s+[0-9a-f]+\s+(.*?)\s+\((.*)\)\s*$', line)
        if m:
            samples.append(m.groups())
    if not samples:
        sys.exit(f'{path}: no samples')
    per_thread = collections.Counter(tid for tid, _, _ in samples)
    event_loop = min(per_thread, key=int)
    storage = max((t for t in per_thread if t != event_loop), key=per_thread.get, default=None)
    counts = collections.defaultdict(collections.Counter)
    for tid, sym, dso in samples:
        thread = 'event loop' if tid == event_loop else 'storage' if tid == storage else 'other'
        counts[thread][category(sym, dso)] += 1
    for thread, by_category in counts.items():
        for name, n in sorted(by_category.items()):
            print(f'{label}\t{thread}\t{name}\t{cpu * n / len(samples):.3f}')


main()
