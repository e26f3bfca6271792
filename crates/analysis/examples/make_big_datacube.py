import numpy as np, json, sys
S = 128; D = 128; out = sys.argv[1]
rng = np.random.default_rng(2018)
cy, cx = 63.7, 64.2
dk = 0.16
y, x = np.mgrid[0:D, 0:D]
kx = (x - cx) * dk; ky = (y - cy) * dk
k = np.hypot(kx, ky); phi = np.arctan2(ky, kx)
base = (50*np.exp(-k/1.5) + 20*np.exp(-(k-4)**2/(2*0.5**2)) + 2).astype(np.float32)
ring = np.exp(-(k-4)**2/(2*0.2**2))
cl = [(rng.uniform(0,S), rng.uniform(0,S), rng.choice([2,4,6,8,10]), rng.uniform(0,2*np.pi)) for _ in range(300)]
mods = {}
arr = np.lib.format.open_memmap(out, mode='w+', dtype=np.float32, shape=(S,S,D,D))
for iy in range(S):
    rows = np.broadcast_to(base, (S, D, D)).copy()
    for (py, px, n, r0) in cl:
        if abs(iy - py) > 6: continue
        key = (n, r0)
        if key not in mods: mods[key] = (40*ring*(1+np.cos(n*phi + r0))/2).astype(np.float32)
        w = np.exp(-((iy-py)**2 + (np.arange(S)-px)**2)/(2*2.0**2)).astype(np.float32)
        sel = w > 0.01
        rows[sel] += w[sel, None, None] * mods[key]
    arr[iy] = rng.poisson(rows * 20).astype(np.float32)
arr.flush()
json.dump({"schema":"mro.meta/1","calibration":{"k_pixel_per_nm":dk,"scan_step_nm":0.32,"center_px":[cy,cx],"voltage_kv":300.0,"semiangle_mrad":1.15,"thickness_nm":20.0}}, open(out.replace('.npy','_meta.json'),'w'))
