"""Writes a [sy, sx, 128, 128] float32 .npy datacube as an EMPAD .raw file (each frame: the 128
detector rows, then 2 metadata rows) with its acquisition XML, streaming one scan row at a time.

    python3 npy_to_empad.py CUBE.npy OUT_DIR     # OUT_DIR/scan_x{sx}_y{sy}.raw + acquisition.xml
"""
import os
import sys

import numpy as np

cube = np.load(sys.argv[1], mmap_mode="r")
sy, sx, dy, dx = cube.shape
assert (dy, dx) == (128, 128), cube.shape
out = sys.argv[2]
os.makedirs(out, exist_ok=True)
name = f"scan_x{sx}_y{sy}.raw"
meta_rows = np.full((sx, 2, 128), 7.0e9, dtype="<f4")
with open(os.path.join(out, name), "wb") as f:
    for y in range(sy):
        np.concatenate([np.asarray(cube[y], dtype="<f4"), meta_rows], axis=1).tofile(f)
with open(os.path.join(out, "acquisition.xml"), "w") as f:
    f.write(f'<?xml version="1.0"?>\n<root>\n  <raw_file filename="{name}"/>\n'
            f'  <scan_parameters mode="acquire">\n    <scan_resolution_x>{sx}</scan_resolution_x>\n'
            f'    <scan_resolution_y>{sy}</scan_resolution_y>\n  </scan_parameters>\n</root>\n')
