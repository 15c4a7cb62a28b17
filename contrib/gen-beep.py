#!/usr/bin/env python3
"""Write sounds/beep.wav: a 1 kHz sine, 0.25 s, 8 kHz 16-bit mono PCM (Record()'s beep).

Usage: contrib/gen-beep.py [output]   (default: sounds/beep.wav next to this script's parent)
"""
import math
import os
import struct
import sys
import wave

RATE = 8000
FREQ = 1000.0
SECONDS = 0.25
AMPLITUDE = 8000  # about -12 dBFS

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "sounds", "beep.wav")
n = int(RATE * SECONDS)
frames = b"".join(
    struct.pack("<h", int(round(AMPLITUDE * math.sin(2 * math.pi * FREQ * i / RATE))))
    for i in range(n))
with wave.open(out, "wb") as w:
    w.setnchannels(1)
    w.setsampwidth(2)
    w.setframerate(RATE)
    w.writeframes(frames)
