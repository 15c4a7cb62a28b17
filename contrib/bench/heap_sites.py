#!/usr/bin/env python3
"""Sum a heaptrack profile's peak memory by the innermost ferrisk function that asked for it.

Usage: heap_sites.py PROFILE.zst [TOP]   (heaptrack_print must be installed)
Prints one line per site, biggest first: KiB at the peak, then function and source line as
heaptrack_print names them (the allocation may be made by a library that function called).
"""
import collections
import re
import subprocess
import sys
import tempfile


def main():
    profile = sys.argv[1]
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 25
    with tempfile.NamedTemporaryFile(suffix=".folded") as folded:
        subprocess.run(
            ["heaptrack_print", "-f", profile, "--print-peaks", "0", "--print-allocators", "0",
             "--print-temporary", "0", "--print-leaks", "0",
             "-F", folded.name, "--flamegraph-cost-type", "peak"],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        sites = collections.Counter()
        total = 0
        with open(folded.name, errors="replace") as f:
            for line in f:
                stack, _, cost = line.rstrip("\n").rpartition(" ")
                try:
                    cost = int(cost)
                except ValueError:
                    continue
                total += cost
                frames = stack.split(";")
                site = "(outside ferrisk)"
                for fr in reversed(frames):
                    if fr.startswith("ferrisk::"):
                        site = re.sub(r"::h[0-9a-f]{16}", "", fr)
                        break
                sites[site] += cost
    print(f"{total / 1024:10.0f} KiB  all sites (sum of each site's own peak)")
    for site, cost in sites.most_common(top):
        print(f"{cost / 1024:10.0f} KiB  {site}")


if __name__ == "__main__":
    main()
