"""What the analysis reference generators share: the seeded generator ported from @traitlens/core, the
float conversion for JSON and the fixture writer. Imported by generate-*-references.py (run by hand with
Debian's /usr/bin/python3; the script's folder is on sys.path)."""
import json
import math
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPOSITORY = os.path.join(HERE, '..', '..')
STATS_FIXTURES = os.path.join(REPOSITORY, 'packages', 'analysis', 'src', 'stats', '__fixtures__')


class Mulberry32:
    """The generator of packages/core (createSeededRandom), bit for bit: mulberry32 and Box-Muller."""

    def __init__(self, seed):
        self.state = seed & 0xFFFFFFFF
        self.spare = None

    def next_float(self):
        self.state = (self.state + 0x6D2B79F5) & 0xFFFFFFFF
        t = self.state
        t = ((t ^ (t >> 15)) * (t | 1)) & 0xFFFFFFFF
        t = (t ^ ((t + (((t ^ (t >> 7)) * (t | 61)) & 0xFFFFFFFF)) & 0xFFFFFFFF)) & 0xFFFFFFFF
        return ((t ^ (t >> 14)) & 0xFFFFFFFF) / 4294967296

    def next_integer(self, bound):
        return int(math.floor(self.next_float() * bound))

    def next_gaussian(self):
        if self.spare is not None:
            value, self.spare = self.spare, None
            return value
        radius = math.sqrt(-2 * math.log(1 - self.next_float()))
        angle = 2 * math.pi * self.next_float()
        self.spare = radius * math.sin(angle)
        return radius * math.cos(angle)

    def shuffle(self, values):
        """Fisher-Yates from the end, as traitlens' shuffles draw."""
        for i in range(len(values) - 1, 0, -1):
            j = self.next_integer(i + 1)
            values[i], values[j] = values[j], values[i]


def floats(values):
    """Any array or sequence as a flat list of Python floats (JSON-ready)."""
    return [float(v) for v in np.asarray(values).ravel()]


def write_references(path, out):
    """Writes the fixture JSON (indent 1, trailing newline) and says where."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as handle:
        json.dump(out, handle, indent=1)
        handle.write('\n')
    print('wrote', os.path.relpath(path, REPOSITORY))
