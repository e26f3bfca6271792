//! Files mro writes open in NumPy, and files NumPy writes open in mro.

use mro_core::npy;

use crate::support::run_python;

#[test]
fn numpy_loads_a_datacube_written_by_mro() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("datacube.npy");
    let shape = [3usize, 5, 7, 4];
    let values: Vec<f32> = (0..shape.iter().product::<usize>())
        .map(|i| i as f32 * 0.25 - 3.0)
        .collect();
    let mut w = npy::NpyWriter::create(&path, &shape).unwrap();
    for frame in values.chunks(28) {
        w.write(frame).unwrap();
    }
    w.finish().unwrap();
    let Some(out) = run_python(
        "import sys, numpy as np\n\
         a = np.load(sys.argv[1])\n\
         ref = (np.arange(a.size, dtype=np.float64) * 0.25 - 3.0).astype(np.float32).reshape(3, 5, 7, 4)\n\
         assert a.dtype == np.float32 and a.flags['C_CONTIGUOUS'], a.dtype\n\
         assert a.shape == (3, 5, 7, 4), a.shape\n\
         assert np.array_equal(a, ref)\n\
         print(a.shape, a.dtype, float(a[2, 4, 6, 3]))",
        &[path.to_str().unwrap()],
    ) else {
        return;
    };
    assert_eq!(out.trim(), "(3, 5, 7, 4) float32 101.75");
}

#[test]
fn mro_reads_arrays_written_by_numpy() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let Some(_) = run_python(
        "import sys, numpy as np\n\
         d = sys.argv[1]\n\
         a = np.arange(2 * 3 * 4 * 5, dtype=np.float64).reshape(2, 3, 4, 5) / 8\n\
         np.save(d + '/f8.npy', a)\n\
         np.save(d + '/f4.npy', a.astype(np.float32))\n\
         np.save(d + '/u2.npy', (a * 8).astype(np.uint16))\n\
         np.save(d + '/u4be.npy', (a * 8).astype('>u4'))\n\
         np.save(d + '/fortran.npy', np.asfortranarray(a))\n\
         np.save(d + '/c8.npy', a.astype(np.complex64))",
        &[d],
    ) else {
        return;
    };
    for (name, scale) in [
        ("f8", 1.0 / 8.0),
        ("f4", 1.0 / 8.0),
        ("u2", 1.0),
        ("u4be", 1.0),
    ] {
        let a = npy::read_f32(&dir.path().join(format!("{name}.npy"))).unwrap();
        assert_eq!(a.shape(), &[2, 3, 4, 5], "{name}");
        for (i, v) in a.iter().enumerate() {
            assert_eq!(*v, i as f32 * scale as f32, "{name}[{i}]");
        }
    }
    let e = npy::read_f32(&dir.path().join("fortran.npy")).unwrap_err();
    assert!(e.to_string().contains("fortran_order"), "{e}");
    let e = npy::read_f32(&dir.path().join("c8.npy")).unwrap_err();
    assert!(e.to_string().contains("<c8"), "{e}");
}
