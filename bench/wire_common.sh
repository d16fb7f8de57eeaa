# Shared by bench/run_wire_bench.sh and bench/run_tls_bench.sh (sourced, not run).

# write_wire_arrays ROOT K_UINT8 K_FLOAT32: ROOT/wire_uint8.npy and ROOT/wire_float32.npy,
# (K, 3, 224, 224) random arrays of those dtypes.
write_wire_arrays() {
  /usr/bin/python3 - "$1" "$2" "$3" <<'PY'
import sys
import numpy as np
root, k_uint8, k_float32 = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = np.random.default_rng(0)
np.save(f"{root}/wire_uint8.npy",
        rng.integers(0, 256, size=(k_uint8, 3, 224, 224), dtype=np.uint8))
np.save(f"{root}/wire_float32.npy",
        rng.random(size=(k_float32, 3, 224, 224), dtype=np.float32))
PY
}

# median_figures RESULTS: for every NAME_GBps=X line of RESULTS (one per round), one line
# NAME_GBps=MEDIAN. Loopback throughput on a shared 2-core machine swings by 2x between runs,
# so the tables report medians of interleaved rounds.
median_figures() {
  awk -F= '
    /_GBps=/ { count[$1]++; sample[$1, count[$1]] = $2 }
    END {
      for (key in count) {
        n = count[key]
        for (i = 1; i <= n; ++i) v[i] = sample[key, i]
        for (i = 2; i <= n; ++i) for (j = i; j > 1 && v[j - 1] > v[j]; --j) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
        printf "%s=%s\n", key, (n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2)
      }
    }' "$1"
}
