#!/usr/bin/env python3
"""Sorts one thread's callgrind counts into categories, in thousands of
instructions per event, and draws them as stacked bars.

    callgrind_categories.py EVENTS OUT_PNG LABEL=CALLGRIND_FILE...

Each CALLGRIND_FILE is one thread's dump (valgrind --tool=callgrind
--separate-threads=yes --compress-strings=no --compress-pos=no, dumped with
callgrind_control -d after the events were posted and counters zeroed with
callgrind_control -z before). Each function's own (exclusive) instructions go
to the category its name falls in. Prints a table and writes OUT_PNG with
gnuplot.
"""
import collections
import os
import re
import subprocess
import sys
import tempfile

CATEGORIES = [
    'JSON parse and checks',
    'malloc and free',
    'Asio (coroutines, timers, reactor)',
    'Beast (HTTP)',
    'logging (fmt, spdlog)',
    'ocirelay: other (routing, handler, metrics)',
    'libc and libstdc++: other (memcpy, strings, locks)',
]
MALLOC = re.compile(r'(^|[^a-z])(_int_malloc|_int_free|malloc|free|cfree|realloc|memalign|'
                    r'_mid_memalign|malloc_consolidate|unlink_chunk|operator new|'
                    r'operator delete|tcache)')


def category(fn):
    if ('rapidjson' in fn or 'parse_json' in fn or 'is_utf8' in fn or 'repeated_name' in fn
            or 'ocirelay::event::' in fn):
        return CATEGORIES[0]
    if MALLOC.search(fn):
        return CATEGORIES[1]
    if 'boost::beast' in fn:
        return CATEGORIES[3]
    if 'boost::asio' in fn:
        return CATEGORIES[2]
    if 'fmt::' in fn or 'spdlog' in fn or 'ocirelay::log' in fn:
        return CATEGORIES[4]
    if 'ocirelay' in fn:
        return CATEGORIES[5]
    return CATEGORIES[6]


def own_costs(path):
    """Exclusive instructions per function name. A cost line right after
    calls= is the callee's inclusive cost and is skipped."""
    costs = collections.Counter()
    fn = None
    after_call = False
    with open(path) as f:
        for line in f:
            if line.startswith('fn='):
                fn = line[3:].rstrip('\n')
            elif line.startswith('calls='):
                after_call = True
            elif line[:1].isdigit() or line[:1] in '+-*':
                parts = line.split()
                if after_call:
                    after_call = False
                elif fn is not None and len(parts) >= 2:
                    costs[fn] += int(parts[1])
    return costs


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    events = int(sys.argv[1])
    out_png = sys.argv[2]
    builds = [arg.split('=', 1) for arg in sys.argv[3:]]
    table = {}
    for label, path in builds:
        sums = collections.Counter()
        for fn, cost in own_costs(path).items():
            sums[category(fn)] += cost
        table[label] = [sums[c] / events / 1000 for c in CATEGORIES]
    print('| category | ' + ' | '.join(label for label, _ in builds) + ' |')
    print('|---|' + '---|' * len(builds))
    for i, name in enumerate(CATEGORIES):
        print(f'| {name} | ' + ' | '.join(f'{table[l][i]:.1f}k' for l, _ in builds) + ' |')
    print('| **all** | ' + ' | '.join(f'**{sum(table[l]):.1f}k**' for l, _ in builds) + ' |')

    with tempfile.NamedTemporaryFile('w', suffix='.dat', delete=False) as data:
        data.write('build\t' + '\t'.join(f'"{c}"' for c in CATEGORIES) + '\n')
        for label, _ in builds:
            data.write(f'"{label}"\t' + '\t'.join(f'{v:.2f}' for v in table[label]) + '\n')
    top = max(sum(v) for v in table.values()) * 1.1
    script = f"""
set terminal pngcairo size 860,480 font "DejaVu Sans,10"
set output '{out_png}'
set title "Event loop, instructions per accepted event (callgrind)"
set style data histograms
set style histogram rowstacked
set style fill solid 0.85 border -1
set boxwidth 0.6
set ylabel "thousand instructions per event"
set yrange [0:{top:.0f}]
set key outside right center vertical reverse Left
set datafile separator "\\t"
set grid ytics
set lmargin 10
plot for [i=2:{len(CATEGORIES) + 1}] '{data.name}' using i:xtic(1) title columnheader(i)
"""
    try:
        subprocess.run(['gnuplot'], input=script, text=True, check=True)
    finally:
        os.unlink(data.name)


if __name__ == '__main__':
    main()
