"""The fused training step of a one-hidden-layer net, as CUDA C: three kernels per step.

One step of ``scores = W2^T relu(W1b Xt1) + b2``, softmax cross-entropy, its gradient and the
update, in the packed layout of :mod:`portable_net.network` (W1b = [W1^T | b1] (H, D1),
W2^T (K, H), b2 (K, 1); Xt1 = [X^T; 1] (D1, N), onehot (K, N), all C-contiguous):

``pn_forward``   one thread per EX examples: their H hidden units, K scores, softmax, and
                 ``dscores = scale (p - onehot)`` (K, N); the example's loss when asked.
                 The activations are recomputed, never stored: only K values per example
                 reach memory.
``pn_backward``  one thread per (hidden unit j, chunk of examples): the chunk's share of
                 dW2^T[:, j] and dW1b[j, :], recomputing the unit's pre-activation from Xt1;
                 thread j = H sums db2. Partial sums go to ``partial`` (C, H + 1, K + D1).
``pn_update``    one thread per parameter entry: sums its C partials in a fixed order (the
                 result does not depend on scheduling) and applies SGD's update as
                 :mod:`portable_net.optim` composes it for the step with the rate folded in
                 (``l2_term``, ``velocity_step``, ``descend``), in place, in the same order
                 of roundings.

No atomics, no ``__syncthreads``, grid-stride loops only: any order of threads gives the same
numbers, which is what lets the same source run serially on the CPU in the tests
(:func:`cpu_source`). The shapes (D1, H, K) and the float type are compile-time constants.
"""

from __future__ import annotations

# argument lists, in launch order; "T" is the float type
SIGNATURES: dict[str, list[tuple[str, str]]] = {
    "pn_forward": [
        ("const T*", "W1b"),
        ("const T*", "W2"),
        ("const T*", "b2"),
        ("const T*", "Xt1"),
        ("const T*", "onehot"),
        ("T", "scale"),
        ("int", "n"),
        ("int", "need_loss"),
        ("T*", "dscores"),
        ("T*", "loss"),
    ],
    "pn_backward": [
        ("const T*", "W1b"),
        ("const T*", "W2"),
        ("const T*", "Xt1"),
        ("const T*", "dscores"),
        ("int", "n"),
        ("int", "chunk"),
        ("int", "n_chunks"),
        ("T*", "partial"),
    ],
    "pn_update": [
        ("T*", "W1b"),
        ("T*", "W2"),
        ("T*", "b2"),
        ("T*", "vW1b"),
        ("T*", "vW2"),
        ("T*", "vb2"),
        ("const T*", "partial"),
        ("int", "n_chunks"),
        ("int", "use_momentum"),
        ("T", "momentum"),
        ("int", "decays"),
        ("T", "lr_reg"),
    ],
}

_BODY = r"""
extern "C" __global__ void pn_forward(ARGS_pn_forward)
{
    // thread: EX examples, i = base + threadIdx.x + e blockDim.x (coalesced); reads Xt1[:, i],
    // onehot[:, i]; writes dscores[:, i], loss[i]. Each parameter read serves EX examples.
    const size_t N = (size_t)n;
    const size_t tile = (size_t)blockDim.x * EX;
    for (size_t base = (size_t)blockIdx.x * tile; base < N; base += tile * gridDim.x) {
        T x[EX][D1];
        T s[EX][K];
        for (int e = 0; e < EX; ++e) {
            const size_t i = base + threadIdx.x + (size_t)e * blockDim.x;
            for (int d = 0; d < D1; ++d) x[e][d] = i < N ? Xt1[d * N + i] : (T)0;
            for (int k = 0; k < K; ++k) s[e][k] = (T)0;
        }
        for (int j = 0; j < H; ++j) {
            T a[D1];
            T w[K];
            for (int d = 0; d < D1; ++d) a[d] = W1b[j * D1 + d];
            for (int k = 0; k < K; ++k) w[k] = W2[k * H + j];
            for (int e = 0; e < EX; ++e) {
                T z = (T)0;  // pre-activation of unit j
                for (int d = 0; d < D1; ++d) z += a[d] * x[e][d];
                if (z > (T)0) {
                    for (int k = 0; k < K; ++k) s[e][k] += w[k] * z;
                }
            }
        }
        for (int e = 0; e < EX; ++e) {
            const size_t i = base + threadIdx.x + (size_t)e * blockDim.x;
            if (i >= N) continue;
            T* se = s[e];
            T m = se[0] + b2[0];
            for (int k = 0; k < K; ++k) {
                se[k] += b2[k];
                m = se[k] > m ? se[k] : m;
            }
            T sum = (T)0;
            T ex[K];
            for (int k = 0; k < K; ++k) {
                se[k] -= m;  // shifted scores, <= 0
                ex[k] = PN_EXP(se[k]);
                sum += ex[k];
            }
            T picked = (T)0;
            for (int k = 0; k < K; ++k) {
                const T y = onehot[k * N + i];
                picked += y * se[k];
                dscores[k * N + i] = (ex[k] / sum - y) * scale;
            }
            if (need_loss) loss[i] = PN_LOG(sum) - picked;
        }
    }
}

extern "C" __global__ void pn_backward(ARGS_pn_backward)
{
    // thread: (chunk c, unit j), j == H sums db2; writes partial[c, j, :]
    const size_t N = (size_t)n;
    const size_t total = (size_t)n_chunks * (H + 1);
    for (size_t t = (size_t)blockIdx.x * blockDim.x + threadIdx.x; t < total;
         t += (size_t)blockDim.x * gridDim.x) {
        const int j = (int)(t % (H + 1));
        const size_t c = t / (H + 1);
        const size_t start = c * (size_t)chunk;
        const size_t stop = start + (size_t)chunk < N ? start + (size_t)chunk : N;
        T gw[K];  // dW2^T[:, j] (or db2 for j == H)
        T ga[D1];  // dW1b[j, :]
        for (int k = 0; k < K; ++k) gw[k] = (T)0;
        for (int d = 0; d < D1; ++d) ga[d] = (T)0;
        if (j < H) {
            T a[D1];
            T w[K];
            for (int d = 0; d < D1; ++d) a[d] = W1b[j * D1 + d];
            for (int k = 0; k < K; ++k) w[k] = W2[k * H + j];
            for (size_t i = start; i < stop; ++i) {
                T x[D1];
                T z = (T)0;
                for (int d = 0; d < D1; ++d) {
                    x[d] = Xt1[d * N + i];
                    z += a[d] * x[d];
                }
                if (z > (T)0) {
                    T dh = (T)0;  // d loss / d pre-activation of unit j, example i
                    for (int k = 0; k < K; ++k) {
                        const T g = dscores[k * N + i];
                        gw[k] += g * z;
                        dh += w[k] * g;
                    }
                    for (int d = 0; d < D1; ++d) ga[d] += dh * x[d];
                }
            }
        } else {
            for (size_t i = start; i < stop; ++i) {
                for (int k = 0; k < K; ++k) gw[k] += dscores[k * N + i];
            }
        }
        T* out = partial + t * (K + D1);
        for (int k = 0; k < K; ++k) out[k] = gw[k];
        for (int d = 0; d < D1; ++d) out[K + d] = ga[d];
    }
}

extern "C" __global__ void pn_update(ARGS_pn_update)
{
    // thread: one entry of W1b (H*D1), then W2^T (K*H), then b2 (K)
    const size_t total = (size_t)H * D1 + (size_t)K * H + K;
    const size_t stride = (size_t)(H + 1) * (K + D1);
    for (size_t e = (size_t)blockIdx.x * blockDim.x + threadIdx.x; e < total;
         e += (size_t)blockDim.x * gridDim.x) {
        T* p;
        T* v;
        size_t offset;  // of this entry's value in partial[0]
        bool weight;
        if (e < (size_t)H * D1) {
            const int j = (int)(e / D1), d = (int)(e % D1);
            p = W1b + e;
            v = vW1b + e;
            offset = (size_t)j * (K + D1) + K + d;
            weight = d < D1 - 1;  // W1b's last column is b1
        } else if (e < (size_t)H * D1 + (size_t)K * H) {
            const size_t f = e - (size_t)H * D1;
            const int k = (int)(f / H), j = (int)(f % H);
            p = W2 + f;
            v = vW2 + f;
            offset = (size_t)j * (K + D1) + k;
            weight = true;
        } else {
            const int k = (int)(e - (size_t)H * D1 - (size_t)K * H);
            p = b2 + k;
            v = vb2 + k;
            offset = (size_t)H * (K + D1) + k;
            weight = false;
        }
        T g = (T)0;
        for (int c = 0; c < n_chunks; ++c) g += partial[c * stride + offset];
        // the step lr (dW + reg W): g is lr dW, the rate folded in (optim.pieces.l2_term)
        if (decays && weight) g += lr_reg * *p;
        if (use_momentum) {
            // v = mu v - step; p += v (optim.pieces.velocity_step)
            T vel = *v * momentum;
            vel -= g;
            *v = vel;
            *p += vel;
        } else {
            *p -= g;  // p -= step (optim.pieces.descend)
        }
    }
}
"""

_TYPES = {
    "float32": ("float", "expf", "logf"),
    "float64": ("double", "exp", "log"),
}


def _args(name: str) -> str:
    return ", ".join(f"{ctype} {arg}" for ctype, arg in SIGNATURES[name])


def source(dtype: str, d1: int, h: int, k: int, ex: int = 1) -> str:
    """CUDA C of the three kernels for float type ``dtype``, shapes (D1, H, K), and ``ex``
    examples per forward thread."""
    ctype, exp, log = _TYPES[dtype]
    head = (
        f"typedef {ctype} T;\n"
        f"#define PN_EXP {exp}\n#define PN_LOG {log}\n"
        f"constexpr int D1 = {int(d1)};\nconstexpr int H = {int(h)};\nconstexpr int K = {int(k)};\n"
        f"constexpr int EX = {int(ex)};\n"
    )
    body = _BODY
    for name in SIGNATURES:
        body = body.replace(f"ARGS_{name}", _args(name))
    return head + body


_CPU_SHIM = r"""
#include <cmath>
#include <cstddef>
struct pn_dim3 { unsigned int x, y, z; };
static pn_dim3 threadIdx, blockIdx, blockDim, gridDim;
#define __global__
#define __restrict__
"""


def cpu_source(dtype: str, d1: int, h: int, k: int, ex: int = 1) -> str:
    """The same kernels as C++ for the host, each behind ``cpu_<name>(grid, block, args...)``
    that runs every (block, thread) of the launch in turn: a serial emulation for the tests,
    valid because the kernels' threads never communicate."""
    wrappers = []
    for name, sig in SIGNATURES.items():
        names = ", ".join(arg for _, arg in sig)
        wrappers.append(
            f'extern "C" void cpu_{name}(unsigned int grid, unsigned int block, {_args(name)})\n'
            "{\n"
            "    gridDim = {grid, 1, 1}; blockDim = {block, 1, 1};\n"
            "    for (unsigned int b = 0; b < grid; ++b)\n"
            "        for (unsigned int t = 0; t < block; ++t) {\n"
            "            blockIdx = {b, 0, 0}; threadIdx = {t, 0, 0};\n"
            f"            {name}({names});\n"
            "        }\n"
            "}\n"
        )
    return _CPU_SHIM + source(dtype, d1, h, k, ex) + "\n".join(wrappers)
