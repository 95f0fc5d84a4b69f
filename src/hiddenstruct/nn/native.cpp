// CPU kernels of hiddenstruct (hiddenstruct.nn.native): whole recurrent stacks over a
// packed batch (hiddenstruct.nn.rnn_native) and chains of CSR layers (hiddenstruct.nn.sparse).
//
// Built on first use with the system C++ compiler and called through ctypes; no Python or
// PyTorch headers, so it compiles in about two seconds. Matrices are row-major and contiguous.
// The matrix products go to the BLAS that PyTorch itself links (its exported Fortran
// sgemm_/dgemm_, handed over by hs_set_blas before any other call; hs_check_blas verifies
// them). Integer arguments are passed as zero-padded 64-bit slots, which a 32-bit (LP64)
// BLAS and a 64-bit (ILP64) one read alike on a little-endian machine. The elementwise gate
// math is raw loops the compiler vectorizes; float32 uses a polynomial exp (relative error
// about 2e-7), float64 the C library's.
//
// Packed layout: step t holds sizes[t] rows (non-increasing), stored after steps 0..t-1.
// A layer's states are [B + N, H]: a block of B rows holding the initial state, then each
// step's outputs; step t's previous state is the first sizes[t] rows of the block before its own.
// All layers' states share one wide buffer O [B + N, S] (S = the sum of the widths), layer l
// in columns [off_l, off_l + H_l); layer l > 0 reads a column range of O ending at off_l
// (the previous layer for a chain, all earlier layers for a DAG-wired stack), so strides
// ("ld", elements between rows) are explicit. Gate order and equations are PyTorch's
// (GRU r, z, n; LSTM i, f, g, o).

#include <algorithm>
#include <cmath>
#include <cstdint>
#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define HS_AVX2 1
#endif
#include <cstring>
#include <memory>
#include <vector>

namespace {

enum Kind { TANH = 0, RELU = 1, GRU = 2, LSTM = 3 };
inline int64_t gates_of(int kind) { return kind == GRU ? 3 : (kind == LSTM ? 4 : 1); }

typedef const int64_t* I;  // a BLAS integer argument (see the top of the file)
typedef void (*sgemm_fn)(const char*, const char*, I, I, I, const float*, const float*, I,
                         const float*, I, const float*, float*, I);
typedef void (*dgemm_fn)(const char*, const char*, I, I, I, const double*, const double*, I,
                         const double*, I, const double*, double*, I);

sgemm_fn blas_sgemm = nullptr;
dgemm_fn blas_dgemm = nullptr;

// C[m, n] = alpha op(A) op(B) + beta C, row-major. Row-major C = A B is column-major
// C^T = B^T A^T, so the operands are swapped for Fortran BLAS.
template <typename T>
void gemm(bool ta, bool tb, int m, int n, int k, T alpha, const T* a, int lda, const T* b,
          int ldb, T beta, T* c, int ldc) {
  if (m <= 0 || n <= 0 || k <= 0) return;  // no k = 0 products arise here
  const char opa = ta ? 'T' : 'N', opb = tb ? 'T' : 'N';
  const int64_t M = m, N = n, K = k, LDA = lda, LDB = ldb, LDC = ldc;
  if constexpr (sizeof(T) == 4)
    blas_sgemm(&opb, &opa, &N, &M, &K, &alpha, b, &LDB, a, &LDA, &beta, c, &LDC);
  else
    blas_dgemm(&opb, &opa, &N, &M, &K, &alpha, b, &LDB, a, &LDA, &beta, c, &LDC);
}

// exp for float32 without a library call, so that loops over it vectorize: e^x = 2^n e^r
// with n = round(x / ln 2), r = x - n ln 2 (ln 2 split in two for exactness) and a degree-6
// Taylor-like minimax polynomial on |r| <= ln 2 / 2. Inputs are clamped to the normal range.
inline float exp_poly(float x) {
  x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
  const float n = std::floor(x * 1.44269504088896341f + 0.5f);
  float r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const int32_t bits = ((int32_t)n + 127) << 23;
  return p * __builtin_bit_cast(float, bits);
}

inline float sigmoid(float x) { return 1.0f / (1.0f + exp_poly(-x)); }
inline double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
inline float tanh_of(float x) { return 2.0f / (1.0f + exp_poly(-2.0f * x)) - 1.0f; }
inline double tanh_of(double x) { return std::tanh(x); }

// A scratch array whose every element is written before it is read (no zeroing).
template <typename T>
std::unique_ptr<T[]> scratch(int64_t n) {
  return std::unique_ptr<T[]>(new T[n > 0 ? n : 1]);
}

// Per-step geometry of a packed batch.
struct Steps {
  int64_t count;
  const int64_t* sizes;
  std::vector<int64_t> starts;  // first row of each step
  int64_t rows;                 // N
  Steps(int64_t count_, const int64_t* sizes_) : count(count_), sizes(sizes_), starts(count_) {
    int64_t at = 0;
    for (int64_t t = 0; t < count; ++t) {
      starts[t] = at;
      at += sizes[t];
    }
    rows = at;
  }
  int64_t first() const { return count > 0 ? sizes[0] : 0; }
  // Row of `states` where step t's previous state starts (the zero block for t = 0).
  int64_t prev_row(int64_t t) const { return t == 0 ? 0 : first() + starts[t - 1]; }
  int64_t out_row(int64_t t) const { return first() + starts[t]; }
};

template <typename T>
struct Sparse;

// One layer's operands; rows are packed steps.
template <typename T>
struct Layer {
  const T* inp;        // input [N, in_size], row stride ld_in
  int64_t in_size, ld_in;
  T* states;           // [B + N, H], row stride ld (zero block first)
  int64_t H, ld;
  const T *w_ih, *w_hh, *b_ih, *b_hh;
  T *cells, *gates, *extra;  // LSTM cells [B + N, H]; gates [N, G H]; extra [N, H]
  const T *h0, *c0;          // initial states (packed order, [B, H]) or null for zeros
  const Sparse<T>* sp_ih = nullptr;  // W_ih / W_hh restricted to their structure, or null:
  const Sparse<T>* sp_hh = nullptr;  // dense products (see the sparse products)
  const int64_t* hh_blocks = nullptr;  // W_hh's diagonal blocks, or null (see block_grads)
};

// Its gradients. dh (the outputs' gradient, [N, H] with B rows for the initial state before
// it) is consumed; d_inp = beta d_inp + dx W_ih. With `initial`, step 0 also carries its
// gradient into the initial state's rows. LSTM: dc_final (user order, row stride ld_c) enters
// at each sequence's last step (ends[k] = the sequence whose last step is packed row k, or
// -1); dc0 (packed order, [B, H]) receives the initial cell state's gradient.
template <typename T>
struct LayerGrad {
  T* dh;
  int64_t ld;
  T* d_inp;  // null when the input's gradient is not wanted
  int64_t ld_inp;
  T beta;
  T *dw_ih, *dw_hh, *db_ih, *db_hh;
  bool initial;
  const T* dc_final;
  int64_t ld_c;
  const int64_t* ends;
  T* dc0;
};

// Where step t's carried gradient goes: the rows of its previous state in dh.
template <typename T>
T* carry_target(const Steps& s, const LayerGrad<T>& G, int64_t t) {
  return G.dh + (s.prev_row(t) - s.first()) * G.ld;
}

// The initial state block: h0 (packed order, [B, H]) or zeros; LSTM cells likewise.
template <typename T>
void zero_block(const Steps& s, const Layer<T>& L) {
  for (int64_t i = 0; i < s.first(); ++i) {
    T* row = L.states + i * L.ld;
    if (L.h0)
      std::memcpy(row, L.h0 + i * L.H, L.H * sizeof(T));
    else
      std::memset(row, 0, L.H * sizeof(T));
  }
  if (L.cells && L.c0)
    std::memcpy(L.cells, L.c0, s.first() * L.H * sizeof(T));
  else if (L.cells)
    std::memset(L.cells, 0, s.first() * L.H * sizeof(T));
}

// ---- sparse products --------------------------------------------------------------------
// With a structure (rnn_native's masks), a weight is read only at the structure's entries
// and its gradient is written only there (zeros elsewhere): a product costs the entries
// times the rows, not the weight's full size. Rows go in tiles of LANES<T> (256 bytes: the
// eight AVX2 registers of csr_row): a tile's used columns are gathered column-major, so each
// entry is one vector multiply-add over the tile.

template <typename T>
constexpr int64_t LANES = 256 / sizeof(T);

template <typename T>
void csr_row(const int64_t* rp, const int32_t* ci, const T* w, T bias, const T* a,
             int64_t batch, T* o);  // one CSR row over `batch` columns (CSR chains, below)

// A weight [rows, cols] (row-major) restricted to a CSR structure (row pointers rp [rows + 1],
// columns ci); `used` lists the columns the structure touches, `col` each entry's place there.
template <typename T>
struct Sparse {
  const int64_t* rp;
  const int32_t* ci;
  int64_t rows, cols;
  std::vector<T> value;
  std::vector<int32_t> col, used;
  Sparse(const int64_t* rp_, const int32_t* ci_, int64_t rows_, int64_t cols_, const T* w)
      : rp(rp_), ci(ci_), rows(rows_), cols(cols_), value(rp_[rows_]), col(rp_[rows_]) {
    std::vector<int32_t> compact(cols, -1);
    for (int64_t j = 0; j < rows; ++j)
      for (int64_t p = rp[j]; p < rp[j + 1]; ++p) {
        const int32_t c = ci[p];
        if (compact[c] < 0) compact[c] = int32_t(used.size()), used.push_back(c);
        col[p] = compact[c];
        value[p] = w[j * cols + c];
      }
  }
  int64_t width() const { return int64_t(used.size()); }
  // tile[c LANES<T> + i] = x[r0 + i, used[c]] (zero beyond `count` rows)
  void gather(const T* x, int64_t ld, int64_t r0, int64_t count, T* tile) const {
    if (count < LANES<T>) std::fill(tile, tile + width() * LANES<T>, T(0));
    for (int64_t i = 0; i < count; ++i) {
      const T* row = x + (r0 + i) * ld;
      for (int64_t c = 0; c < width(); ++c) tile[c * LANES<T> + i] = row[used[c]];
    }
  }
  // tile[j LANES<T> + i] = d[r0 + i, j] for all rows j of the weight (zero beyond `count`)
  void gather_rows(const T* d, int64_t ld, int64_t r0, int64_t count, T* tile) const {
    if (count < LANES<T>) std::fill(tile, tile + rows * LANES<T>, T(0));
    for (int64_t i = 0; i < count; ++i)
      for (int64_t j = 0; j < rows; ++j) tile[j * LANES<T> + i] = d[(r0 + i) * ld + j];
  }
};

// out[n, rows] (row stride ld_out) += x[n, cols] W^T, or = bias + x W^T when bias is given.
template <typename T>
void sparse_mm(const Sparse<T>& S, int64_t n, const T* x, int64_t ld_x, T* out, int64_t ld_out,
               const T* bias = nullptr) {
  const auto tile = scratch<T>(S.width() * LANES<T>);
  const auto acc = scratch<T>(S.rows * LANES<T>);
  for (int64_t r0 = 0; r0 < n; r0 += LANES<T>) {
    const int64_t count = std::min(LANES<T>, n - r0);
    S.gather(x, ld_x, r0, count, tile.get());
    for (int64_t j = 0; j < S.rows; ++j)
      csr_row(S.rp + j, S.col.data(), S.value.data(), T(0), tile.get(), LANES<T>,
              acc.get() + j * LANES<T>);
    for (int64_t i = 0; i < count; ++i) {
      T* o = out + (r0 + i) * ld_out;
      if (bias)
        for (int64_t j = 0; j < S.rows; ++j) o[j] = bias[j] + acc[j * LANES<T> + i];
      else
        for (int64_t j = 0; j < S.rows; ++j) o[j] += acc[j * LANES<T> + i];
    }
  }
}

// Over n rows of d [n, rows] (row stride ld_d): if dw, dw [rows, cols] = d^T x at the
// structure's entries (zeros elsewhere; x [n, cols], row stride ld_x); if dx,
// dx [n, cols] (row stride ld_dx) += d W, or = d W when !add.
template <typename T>
void sparse_grads(const Sparse<T>& S, int64_t n, const T* d, int64_t ld_d, const T* x,
                  int64_t ld_x, T* dw, T* dx, int64_t ld_dx, bool add) {
  const int64_t used = S.width();
  const auto tile = scratch<T>(dw ? used * LANES<T> : 0);
  const auto d_tile = scratch<T>(S.rows * LANES<T>);
  const auto d_x = scratch<T>(dx ? used * LANES<T> : 0);
  std::vector<T> per_lane(dw ? S.value.size() * LANES<T> : 0, T(0));
  for (int64_t r0 = 0; r0 < n; r0 += LANES<T>) {
    const int64_t count = std::min(LANES<T>, n - r0);
    if (dw) S.gather(x, ld_x, r0, count, tile.get());
    S.gather_rows(d, ld_d, r0, count, d_tile.get());
    if (dx) std::fill(d_x.get(), d_x.get() + used * LANES<T>, T(0));
    for (int64_t j = 0; j < S.rows; ++j) {
      const T* g = d_tile.get() + j * LANES<T>;
      for (int64_t p = S.rp[j]; p < S.rp[j + 1]; ++p) {
        if (dw) {
          const T* v = tile.get() + S.col[p] * LANES<T>;
          T* a = per_lane.data() + p * LANES<T>;
          for (int64_t i = 0; i < LANES<T>; ++i) a[i] += g[i] * v[i];
        }
        if (dx) {
          T* o = d_x.get() + S.col[p] * LANES<T>;
          const T w = S.value[p];
          for (int64_t i = 0; i < LANES<T>; ++i) o[i] += w * g[i];
        }
      }
    }
    for (int64_t i = 0; dx && i < count; ++i) {
      T* o = dx + (r0 + i) * ld_dx;
      if (!add) std::memset(o, 0, S.cols * sizeof(T));
      for (int64_t c = 0; c < used; ++c) o[S.used[c]] += d_x[c * LANES<T> + i];
    }
  }
  if (!dw) return;
  std::memset(dw, 0, S.rows * S.cols * sizeof(T));
  for (int64_t j = 0; j < S.rows; ++j)
    for (int64_t p = S.rp[j]; p < S.rp[j + 1]; ++p) {
      T sum = T(0);
      for (int64_t i = 0; i < LANES<T>; ++i) sum += per_lane[p * LANES<T> + i];
      dw[j * S.cols + S.ci[p]] = sum;
    }
}

// Step t's recurrent product: out[sizes[t], width] (row stride ld_out) = beta out + h_prev
// W_hh^T (beta 0 or 1).
template <typename T>
void recur(const Steps& s, const Layer<T>& L, int64_t t, int64_t width, T beta, T* out,
           int64_t ld_out) {
  const T* prev = L.states + s.prev_row(t) * L.ld;
  if (!L.sp_hh) {
    gemm<T>(false, true, s.sizes[t], width, L.H, T(1), prev, L.ld, L.w_hh, L.H, beta, out,
            ld_out);
    return;
  }
  if (beta == T(0))
    for (int64_t i = 0; i < s.sizes[t]; ++i) std::memset(out + i * ld_out, 0, width * sizeof(T));
  sparse_mm(*L.sp_hh, s.sizes[t], prev, L.ld, out, ld_out);
}

// out[N, width] (row stride ld_out) = inp W_ih^T + bias, for all steps at once.
template <typename T>
void project(const Steps& s, const Layer<T>& L, int64_t width, const T* bias, T* out,
             int64_t ld_out) {
  if (L.sp_ih) {
    sparse_mm(*L.sp_ih, s.rows, L.inp, L.ld_in, out, ld_out, bias);
    return;
  }
  for (int64_t i = 0; i < s.rows; ++i) std::memcpy(out + i * ld_out, bias, width * sizeof(T));
  gemm<T>(false, true, s.rows, width, L.in_size, T(1), L.inp, L.ld_in, L.w_ih, L.in_size, T(1),
          out, ld_out);
}

// dW_hh [G H, H] = dh^T h_prev when W_hh lies in diagonal blocks: blocks = {n, b_0 = 0, b_1,
// ..., b_n = H}, unit i of block k in [b_k, b_k+1) connects (in every gate) only to units of
// block k. Only the blocks' entries are computed (one product per block and gate, of the
// block's width: about n times fewer operations than the whole product), zeros elsewhere.
template <typename T>
void block_grads(const int64_t* blocks, int64_t gates, int64_t rows, int64_t H, const T* dh,
                 int64_t width, const T* h_prev, T* dw) {
  std::memset(dw, 0, width * H * sizeof(T));
  for (int64_t k = 0; k < blocks[0]; ++k) {
    const int64_t begin = blocks[1 + k], size = blocks[2 + k] - begin;
    if (size == 0) continue;
    for (int64_t g = 0; g < gates; ++g)
      gemm<T>(true, false, size, size, rows, T(1), dh + g * H + begin, width, h_prev + begin, H,
              T(0), dw + (g * H + begin) * H + begin, H);
  }
}

// Weight, bias and input gradients from the gate gradients of all steps (dx input side,
// dh hidden side, both [N, width]): dW_ih = dx^T inp, dW_hh = dh^T h_prev, db = column sums,
// d_inp = beta d_inp + dx W_ih.
template <typename T>
void weight_grads(const Steps& s, const Layer<T>& L, const LayerGrad<T>& G, int64_t width,
                  const T* dx, const T* dh) {
  const int64_t H = L.H;
  const auto h_prev = scratch<T>(s.rows * H);
  for (int64_t t = 0; t < s.count; ++t)
    for (int64_t i = 0; i < s.sizes[t]; ++i)
      std::memcpy(h_prev.get() + (s.starts[t] + i) * H, L.states + (s.prev_row(t) + i) * L.ld,
                  H * sizeof(T));
  if (L.sp_ih)
    sparse_grads(*L.sp_ih, s.rows, dx, width, L.inp, L.ld_in, G.dw_ih, G.d_inp, G.ld_inp,
                 G.beta != T(0));
  else
    gemm<T>(true, false, width, L.in_size, s.rows, T(1), dx, width, L.inp, L.ld_in, T(0),
            G.dw_ih, L.in_size);
  if (L.sp_hh)
    sparse_grads<T>(*L.sp_hh, s.rows, dh, width, h_prev.get(), H, G.dw_hh, nullptr, 0, false);
  else if (L.hh_blocks)
    block_grads<T>(L.hh_blocks, width / H, s.rows, H, dh, width, h_prev.get(), G.dw_hh);
  else
    gemm<T>(true, false, width, H, s.rows, T(1), dh, width, h_prev.get(), H, T(0), G.dw_hh, H);
  for (int64_t j = 0; j < width; ++j) G.db_ih[j] = G.db_hh[j] = 0;
  for (int64_t i = 0; i < s.rows; ++i) {
    const T *x = dx + i * width, *h = dh + i * width;
    for (int64_t j = 0; j < width; ++j) G.db_ih[j] += x[j];
    for (int64_t j = 0; j < width; ++j) G.db_hh[j] += h[j];
  }
  if (G.d_inp && !L.sp_ih)
    gemm<T>(false, false, s.rows, L.in_size, width, T(1), dx, width, L.w_ih, L.in_size, G.beta,
            G.d_inp, G.ld_inp);
}

// dh of step t - 1's first b rows += d_t W_hh (d_t: step t's hidden-side gate gradients).
template <typename T>
void carry_product(const Steps& s, const Layer<T>& L, const LayerGrad<T>& G, int64_t t,
                   int64_t width, const T* d) {
  if (L.sp_hh)
    sparse_grads<T>(*L.sp_hh, s.sizes[t], d + s.starts[t] * width, width, nullptr, 0, nullptr,
                    carry_target(s, G, t), G.ld, true);
  else
    gemm<T>(false, false, s.sizes[t], L.H, width, T(1), d + s.starts[t] * width, width,
            L.w_hh, L.H, T(1), carry_target(s, G, t), G.ld);
}

// ---- tanh / ReLU ------------------------------------------------------------------------

template <typename T>
void simple_forward(const Steps& s, bool relu, const Layer<T>& L) {
  const int64_t H = L.H;
  std::vector<T> bias(H);
  for (int64_t j = 0; j < H; ++j) bias[j] = L.b_ih[j] + L.b_hh[j];
  zero_block(s, L);
  project(s, L, H, bias.data(), L.states + s.first() * L.ld, L.ld);
  for (int64_t t = 0; t < s.count; ++t) {
    T* out = L.states + s.out_row(t) * L.ld;
    recur(s, L, t, H, T(1), out, L.ld);
    for (int64_t i = 0; i < s.sizes[t]; ++i) {
      T* o = out + i * L.ld;
      if (relu) {
        for (int64_t j = 0; j < H; ++j) o[j] = o[j] > T(0) ? o[j] : T(0);
      } else {
        for (int64_t j = 0; j < H; ++j) o[j] = tanh_of(o[j]);
      }
    }
  }
}

template <typename T>
void simple_backward(const Steps& s, bool relu, const Layer<T>& L, const LayerGrad<T>& G) {
  const int64_t H = L.H;
  const auto d = scratch<T>(s.rows * H);
  for (int64_t t = s.count - 1; t >= 0; --t) {
    for (int64_t i = 0; i < s.sizes[t]; ++i) {
      const int64_t row = s.starts[t] + i;
      const T* h = L.states + (s.out_row(t) + i) * L.ld;
      const T* dh = G.dh + row * G.ld;
      T* dt = d.get() + row * H;
      if (relu) {
        for (int64_t j = 0; j < H; ++j) dt[j] = h[j] > T(0) ? dh[j] : T(0);
      } else {
        for (int64_t j = 0; j < H; ++j) dt[j] = dh[j] * (T(1) - h[j] * h[j]);
      }
    }
    if (t > 0 || G.initial) carry_product(s, L, G, t, H, d.get());
  }
  weight_grads(s, L, G, H, d.get(), d.get());
}

// ---- GRU --------------------------------------------------------------------------------
// Saved: gates [N, 3H] = (r, z, n) and extra = hn [N, H] = h_prev W_hn^T + b_hn.

// One row of a GRU step: the r, z, n columns hold input projections on entry and the
// activations on exit; a_* are the hidden projections h_prev W^T (no bias).
template <typename T>
inline void gru_cell(int64_t H, T* __restrict r_io, T* __restrict z_io, T* __restrict n_io,
                     const T* __restrict a_r, const T* __restrict a_z, const T* __restrict a_n,
                     const T* __restrict b_hn, const T* __restrict hp, T* __restrict hn,
                     T* __restrict out) {
  for (int64_t j = 0; j < H; ++j) {
    const T r = sigmoid(r_io[j] + a_r[j]);
    const T z = sigmoid(z_io[j] + a_z[j]);
    const T h_n = a_n[j] + b_hn[j];
    const T n = tanh_of(n_io[j] + r * h_n);
    r_io[j] = r;
    z_io[j] = z;
    n_io[j] = n;
    hn[j] = h_n;
    out[j] = n + z * (hp[j] - n);
  }
}

// One row of a GRU step's backward: the input-side (x_*) and hidden-side (h_*) gate
// gradients, which differ only in n (before and after the product with r).
template <typename T>
inline void gru_cell_backward(int64_t H, const T* __restrict r, const T* __restrict z,
                              const T* __restrict n, const T* __restrict hn,
                              const T* __restrict hp, const T* __restrict d, T* __restrict x_r,
                              T* __restrict x_z, T* __restrict x_n, T* __restrict h_r,
                              T* __restrict h_z, T* __restrict h_n) {
  for (int64_t j = 0; j < H; ++j) {
    const T dn = d[j] * (T(1) - z[j]) * (T(1) - n[j] * n[j]);
    const T dz = d[j] * (hp[j] - n[j]) * z[j] * (T(1) - z[j]);
    const T dr = dn * hn[j] * r[j] * (T(1) - r[j]);
    x_r[j] = h_r[j] = dr;
    x_z[j] = h_z[j] = dz;
    x_n[j] = dn;
    h_n[j] = dn * r[j];
  }
}

template <typename T>
void gru_forward(const Steps& s, const Layer<T>& L) {
  const int64_t H = L.H, W = 3 * H;
  std::vector<T> bias(L.b_ih, L.b_ih + W);
  for (int64_t j = 0; j < 2 * H; ++j) bias[j] += L.b_hh[j];
  zero_block(s, L);
  project(s, L, W, bias.data(), L.gates, W);
  const auto gh = scratch<T>(s.first() * W);
  const T* b_hn = L.b_hh + 2 * H;
  for (int64_t t = 0; t < s.count; ++t) {
    const int64_t row = s.starts[t];
    const T* prev = L.states + s.prev_row(t) * L.ld;
    T* out = L.states + s.out_row(t) * L.ld;
    recur(s, L, t, W, T(0), gh.get(), W);
    for (int64_t i = 0; i < s.sizes[t]; ++i) {
      T* g = L.gates + (row + i) * W;
      const T* a = gh.get() + i * W;
      gru_cell(H, g, g + H, g + 2 * H, a, a + H, a + 2 * H, b_hn, prev + i * L.ld,
               L.extra + (row + i) * H, out + i * L.ld);
    }
  }
}

template <typename T>
void gru_backward(const Steps& s, const Layer<T>& L, const LayerGrad<T>& G) {
  const int64_t H = L.H, W = 3 * H;
  // input- and hidden-side gate gradients
  const auto dx = scratch<T>(s.rows * W), dh = scratch<T>(s.rows * W);
  for (int64_t t = s.count - 1; t >= 0; --t) {
    const int64_t row = s.starts[t];
    const T* prev = L.states + s.prev_row(t) * L.ld;
    for (int64_t i = 0; i < s.sizes[t]; ++i) {
      const T* g = L.gates + (row + i) * W;
      const T* d = G.dh + (row + i) * G.ld;
      T *x = dx.get() + (row + i) * W, *h = dh.get() + (row + i) * W;
      gru_cell_backward(H, g, g + H, g + 2 * H, L.extra + (row + i) * H, prev + i * L.ld, d, x,
                        x + H, x + 2 * H, h, h + H, h + 2 * H);
      if (t > 0 || G.initial) {
        T* c = carry_target(s, G, t) + i * G.ld;
        for (int64_t j = 0; j < H; ++j) c[j] += d[j] * g[H + j];
      }
    }
    if (t > 0 || G.initial) carry_product(s, L, G, t, W, dh.get());
  }
  weight_grads(s, L, G, W, dx.get(), dh.get());
}

// ---- LSTM -------------------------------------------------------------------------------
// Saved: cells [B + N, H] (contiguous, laid out as states), gates [N, 4H] = (i, f, g, o)
// after their activations, and extra = tanh(c) [N, H].

// One row of an LSTM step: the gate columns hold pre-activations on entry and the
// activations on exit.
template <typename T>
inline void lstm_cell(int64_t H, T* __restrict i_io, T* __restrict f_io, T* __restrict g_io,
                      T* __restrict o_io, const T* __restrict cp, T* __restrict c,
                      T* __restrict tc, T* __restrict h) {
  for (int64_t j = 0; j < H; ++j) {
    const T in = sigmoid(i_io[j]), f = sigmoid(f_io[j]);
    const T g = tanh_of(g_io[j]), o = sigmoid(o_io[j]);
    const T cell = f * cp[j] + in * g;
    const T tcell = tanh_of(cell);
    i_io[j] = in;
    f_io[j] = f;
    g_io[j] = g;
    o_io[j] = o;
    c[j] = cell;
    tc[j] = tcell;
    h[j] = o * tcell;
  }
}

// One row of an LSTM step's backward: gate gradients, and the cell gradient carried to
// the previous step (read from and written back to `carry`).
template <typename T>
inline void lstm_cell_backward(int64_t H, const T* __restrict in, const T* __restrict f,
                               const T* __restrict g, const T* __restrict o,
                               const T* __restrict tc, const T* __restrict cp,
                               const T* __restrict d, T* __restrict carry, T* __restrict d_i,
                               T* __restrict d_f, T* __restrict d_g, T* __restrict d_o) {
  for (int64_t j = 0; j < H; ++j) {
    const T dc = carry[j] + d[j] * o[j] * (T(1) - tc[j] * tc[j]);
    d_i[j] = dc * g[j] * in[j] * (T(1) - in[j]);
    d_f[j] = dc * cp[j] * f[j] * (T(1) - f[j]);
    d_g[j] = dc * in[j] * (T(1) - g[j] * g[j]);
    d_o[j] = d[j] * tc[j] * o[j] * (T(1) - o[j]);
    carry[j] = dc * f[j];
  }
}

template <typename T>
void lstm_forward(const Steps& s, const Layer<T>& L) {
  const int64_t H = L.H, W = 4 * H;
  std::vector<T> bias(W);
  for (int64_t j = 0; j < W; ++j) bias[j] = L.b_ih[j] + L.b_hh[j];
  zero_block(s, L);
  project(s, L, W, bias.data(), L.gates, W);
  for (int64_t t = 0; t < s.count; ++t) {
    const int64_t row = s.starts[t];
    const T* c_prev = L.cells + s.prev_row(t) * H;
    T *h_out = L.states + s.out_row(t) * L.ld, *c_out = L.cells + s.out_row(t) * H;
    recur(s, L, t, W, T(1), L.gates + row * W, W);
    for (int64_t i = 0; i < s.sizes[t]; ++i) {
      T* g = L.gates + (row + i) * W;
      lstm_cell(H, g, g + H, g + 2 * H, g + 3 * H, c_prev + i * H, c_out + i * H,
                L.extra + (row + i) * H, h_out + i * L.ld);
    }
  }
}

template <typename T>
void lstm_backward(const Steps& s, const Layer<T>& L, const LayerGrad<T>& G) {
  const int64_t H = L.H, W = 4 * H;
  const auto dg = scratch<T>(s.rows * W);
  // dc carried from step t + 1 to step t; rows at or past sizes[t + 1] stay zero, because
  // sizes only grow as t goes down and each step writes only its own rows.
  std::vector<T> dc_carry(s.first() * H, T(0));
  for (int64_t t = s.count - 1; t >= 0; --t) {
    const int64_t row = s.starts[t];
    const T* c_prev = L.cells + s.prev_row(t) * H;
    for (int64_t i = 0; i < s.sizes[t]; ++i) {
      const T* g = L.gates + (row + i) * W;
      T* out = dg.get() + (row + i) * W;
      if (G.dc_final && G.ends[row + i] >= 0) {
        const T* add = G.dc_final + G.ends[row + i] * G.ld_c;
        for (int64_t j = 0; j < H; ++j) dc_carry[i * H + j] += add[j];
      }
      lstm_cell_backward(H, g, g + H, g + 2 * H, g + 3 * H, L.extra + (row + i) * H,
                         c_prev + i * H, G.dh + (row + i) * G.ld, dc_carry.data() + i * H, out,
                         out + H, out + 2 * H, out + 3 * H);
    }
    if (t > 0 || G.initial) carry_product(s, L, G, t, W, dg.get());
  }
  if (G.dc0)
    std::memcpy(G.dc0, dc_carry.data(), s.first() * H * sizeof(T));
  weight_grads(s, L, G, W, dg.get(), dg.get());
}

// ---- whole stacks -----------------------------------------------------------------------

// Where a stack's tensors lie in its one saved buffer: the packed input [N, F], the wide
// state buffer O [B + N, S], then per layer cells (LSTM, [B + N, H]), gates [N, G H] and
// extra [N, H] (GRU / LSTM).
struct Layout {
  int64_t total = 0, width = 0, wide = 0;  // width = S; wide = offset of O
  std::vector<int64_t> column, cells, gates, extra;
  Layout(int kind, int64_t layers, const int64_t* hidden, int64_t in_size, int64_t batch,
         int64_t rows) {
    for (int64_t l = 0; l < layers; ++l) {
      column.push_back(width);
      width += hidden[l];
    }
    wide = rows * in_size;
    total = wide + (batch + rows) * width;
    const int64_t gates_per = gates_of(kind);
    for (int64_t l = 0; l < layers; ++l) {
      const int64_t H = hidden[l];
      cells.push_back(total);
      if (kind == LSTM) total += (batch + rows) * H;
      gates.push_back(total);
      if (kind == GRU || kind == LSTM) total += rows * gates_per * H;
      extra.push_back(total);
      if (kind == GRU || kind == LSTM) total += rows * H;
    }
  }
};

// A stack's geometry and its optional operands. Layer l has hidden[l] units and reads, for
// l > 0, columns [in_begin[l], column[l]) of O; final states are columns [out_begin, S).
// h0 / c0: per layer the initial states [B, H_l] in the caller's batch order (null: zeros).
// structure: per layer the CSR row pointers (int64) and columns (int32) of W_ih, then of
// W_hh, both null for a dense weight, then W_hh's diagonal blocks (see block_grads) or null;
// or null for all dense (see the sparse products).
// order[i]: the caller's row of packed row i of step 0 (sequences by decreasing length).
constexpr int64_t STRUCTURE_POINTERS = 5;  // per layer, see Stack

struct Stack {
  int kind;
  int64_t layers;
  const int64_t *hidden, *in_begin;
  int64_t out_begin, in_size;
  const void* const* h0;
  const void* const* c0;
  const void* const* structure;
  std::vector<int64_t> order;
};

// Layer l's operands in a stack's saved buffer.
template <typename T>
Layer<T> stack_layer(const Layout& at, const Steps& s, const Stack& k, const void* const* weights,
                     T* saved, const std::vector<T>& initial, int64_t l) {
  const T* const* w = (const T* const*)weights + 4 * l;
  T* wide = saved + at.wide;
  Layer<T> L;
  if (l == 0) {
    L.inp = saved, L.in_size = k.in_size, L.ld_in = k.in_size;
  } else {
    L.inp = wide + s.first() * at.width + k.in_begin[l];
    L.in_size = at.column[l] - k.in_begin[l], L.ld_in = at.width;
  }
  L.states = wide + at.column[l], L.H = k.hidden[l], L.ld = at.width;
  L.w_ih = w[0], L.w_hh = w[1], L.b_ih = w[2], L.b_hh = w[3];
  L.cells = k.kind == LSTM ? saved + at.cells[l] : nullptr;
  L.gates = saved + at.gates[l], L.extra = saved + at.extra[l];
  const int64_t block = s.first() * at.width;  // initial = packed h0 block, then c0 block
  L.h0 = k.h0 ? initial.data() + s.first() * at.column[l] : nullptr;
  L.c0 = k.c0 ? initial.data() + block + s.first() * at.column[l] : nullptr;
  return L;
}

// Layer l's weights restricted to the stack's structure (L's sp_ih / sp_hh point here).
template <typename T>
struct LayerSparse {
  std::unique_ptr<Sparse<T>> ih, hh;
  LayerSparse(const Stack& k, int64_t l, Layer<T>& L) {
    const void* const* at = k.structure ? k.structure + STRUCTURE_POINTERS * l : nullptr;
    const int64_t rows = gates_of(k.kind) * L.H;
    if (at && at[0])
      ih.reset(new Sparse<T>((const int64_t*)at[0], (const int32_t*)at[1], rows, L.in_size,
                             L.w_ih));
    if (at && at[2])
      hh.reset(new Sparse<T>((const int64_t*)at[2], (const int32_t*)at[3], rows, L.H, L.w_hh));
    L.sp_ih = ih.get(), L.sp_hh = hh.get();
    L.hh_blocks = at && !at[2] ? (const int64_t*)at[4] : nullptr;
  }
};

// The initial states of all layers in packed order: [h0 of every layer, c0 of every layer].
template <typename T>
std::vector<T> packed_initial(const Layout& at, const Steps& s, const Stack& k) {
  const int64_t batch = s.first();
  std::vector<T> out((k.h0 ? batch * at.width : 0) + (k.c0 ? batch * at.width : 0));
  for (int which = 0; which < 2; ++which) {
    const void* const* given = which == 0 ? k.h0 : k.c0;
    if (!given) continue;
    T* base = out.data() + (which == 1 ? batch * at.width : 0);
    for (int64_t l = 0; l < k.layers; ++l) {
      const int64_t H = k.hidden[l];
      for (int64_t i = 0; i < batch; ++i)
        std::memcpy(base + batch * at.column[l] + i * H, (const T*)given[l] + k.order[i] * H,
                    H * sizeof(T));
    }
  }
  return out;
}

// Gathers the packed input from the padded one, runs every layer, and writes the final
// states (each sequence's last step) of columns [out_begin, S) of O into `final`, their
// cells into final_c (LSTM, unless null) and, unless null, the last layer's output at every
// step into `outputs` [B T, H_last] (zero at padded steps).
template <typename T>
void stack_forward(const Stack& k, const Steps& s, const int64_t* index, const int64_t* rows,
                   int64_t padded_rows, const T* x, const void* const* weights, T* saved,
                   T* final, T* final_c, T* outputs) {
  const int64_t batch = s.first(), in_size = k.in_size;
  const Layout at(k.kind, k.layers, k.hidden, in_size, batch, s.rows);
  for (int64_t r = 0; r < s.rows; ++r)
    std::memcpy(saved + r * in_size, x + index[r] * in_size, in_size * sizeof(T));
  const std::vector<T> initial = packed_initial<T>(at, s, k);
  for (int64_t l = 0; l < k.layers; ++l) {
    Layer<T> L = stack_layer(at, s, k, weights, saved, initial, l);
    const LayerSparse<T> sparse(k, l, L);
    if (k.kind == GRU)
      gru_forward(s, L);
    else if (k.kind == LSTM)
      lstm_forward(s, L);
    else
      simple_forward(s, k.kind == RELU, L);
  }
  const int64_t width = at.width - k.out_begin;
  const T* wide = saved + at.wide + batch * at.width;  // packed row r's outputs: wide + r S
  for (int64_t b = 0; b < batch; ++b)
    std::memcpy(final + b * width, wide + rows[b] * at.width + k.out_begin, width * sizeof(T));
  for (int64_t l = 0; final_c && l < k.layers; ++l) {
    if (at.column[l] < k.out_begin) continue;
    const int64_t H = k.hidden[l];
    const T* cells = saved + at.cells[l] + batch * H;
    for (int64_t b = 0; b < batch; ++b)
      std::memcpy(final_c + b * width + at.column[l] - k.out_begin, cells + rows[b] * H,
                  H * sizeof(T));
  }
  if (outputs) {
    const int64_t H = k.hidden[k.layers - 1], col = at.column[k.layers - 1];
    std::memset(outputs, 0, padded_rows * H * sizeof(T));
    for (int64_t r = 0; r < s.rows; ++r)
      std::memcpy(outputs + index[r] * H, wide + r * at.width + col, H * sizeof(T));
  }
}

// Gradients flowing into a stack: of `final` and final_c [B, S - out_begin] and of `outputs`
// [B T, H_last] (each may be null); and where the initial states' gradients go (dh0, dc0:
// per layer [B, H_l] in the caller's order, or null).
template <typename T>
struct StackGrad {
  const T *d_final, *d_final_c, *d_outputs;
  void* const* dh0;
  void* const* dc0;
};

// The backward of stack_forward: weight gradients into grads (4 per layer) and, if dx is
// not null, the padded input's gradient [B T, F].
template <typename T>
void stack_backward(const Stack& k, const Steps& s, const int64_t* index, const int64_t* rows,
                    int64_t padded_rows, const void* const* weights, T* saved,
                    const StackGrad<T>& D, void* const* grads, T* dx) {
  const int64_t batch = s.first(), in_size = k.in_size;
  const Layout at(k.kind, k.layers, k.hidden, in_size, batch, s.rows);
  const int64_t width = at.width - k.out_begin, S = at.width;
  std::vector<T> d_wide((batch + s.rows) * S, T(0));  // initial-state rows, then packed rows
  T* d_rows = d_wide.data() + batch * S;
  const auto d_packed = scratch<T>(dx ? s.rows * in_size : 0);
  for (int64_t b = 0; D.d_final && b < batch; ++b)
    std::memcpy(d_rows + rows[b] * S + k.out_begin, D.d_final + b * width, width * sizeof(T));
  if (D.d_outputs) {
    const int64_t H = k.hidden[k.layers - 1], col = at.column[k.layers - 1];
    for (int64_t r = 0; r < s.rows; ++r) {
      T* to = d_rows + r * S + col;
      const T* from = D.d_outputs + index[r] * H;
      for (int64_t j = 0; j < H; ++j) to[j] += from[j];
    }
  }
  std::vector<int64_t> ends(D.d_final_c ? s.rows : 0, -1);
  for (int64_t b = 0; D.d_final_c && b < batch; ++b) ends[rows[b]] = b;
  const std::vector<T> initial = packed_initial<T>(at, s, k);
  std::vector<T> dc0(D.dc0 ? batch * k.hidden[0] : 0);
  for (int64_t l = k.layers - 1; l >= 0; --l) {
    Layer<T> L = stack_layer(at, s, k, weights, saved, initial, l);
    const LayerSparse<T> sparse(k, l, L);
    T* const* g = (T* const*)grads + 4 * l;
    const T* dc_final = D.d_final_c && at.column[l] >= k.out_begin
                            ? D.d_final_c + at.column[l] - k.out_begin
                            : nullptr;
    dc0.resize(D.dc0 ? batch * L.H : 0);
    LayerGrad<T> G{d_rows + at.column[l], S, nullptr, in_size, T(0), g[0], g[1], g[2], g[3],
                   D.dh0 != nullptr, dc_final, width, ends.data(),
                   D.dc0 ? dc0.data() : nullptr};
    if (l > 0)
      G.d_inp = d_rows + k.in_begin[l], G.ld_inp = S, G.beta = T(1);
    else if (dx)
      G.d_inp = d_packed.get();
    if (k.kind == GRU)
      gru_backward(s, L, G);
    else if (k.kind == LSTM)
      lstm_backward(s, L, G);
    else
      simple_backward(s, k.kind == RELU, L, G);
    for (int64_t i = 0; i < batch; ++i) {
      if (D.dh0)
        std::memcpy((T*)D.dh0[l] + k.order[i] * L.H, d_wide.data() + i * S + at.column[l],
                    L.H * sizeof(T));
      if (D.dc0)
        std::memcpy((T*)D.dc0[l] + k.order[i] * L.H, dc0.data() + i * L.H, L.H * sizeof(T));
    }
  }
  if (dx) {
    std::memset(dx, 0, padded_rows * in_size * sizeof(T));
    for (int64_t r = 0; r < s.rows; ++r)
      std::memcpy(dx + index[r] * in_size, d_packed.get() + r * in_size, in_size * sizeof(T));
  }
}

// ---- CSR chains (sparse inference) -------------------------------------------------------

enum Activation { IDENTITY = 0, RELU_ACT = 1, TANH_ACT = 2, SIGMOID_ACT = 3 };

template <typename T>
void activate(int activation, T* v, int64_t n) {
  for (int64_t i = 0; activation != IDENTITY && i < n; ++i)
    v[i] = activation == RELU_ACT ? (v[i] > T(0) ? v[i] : T(0))
                                  : (activation == TANH_ACT ? tanh_of(v[i]) : sigmoid(v[i]));
}

// y [cols, rows] = x [rows, cols] transposed, in tiles so that both sides stay in cache
// (float with AVX2: 8 x 8 blocks in registers).
template <typename T>
void transpose_tile(const T* x, int64_t rows, int64_t cols, T* y, int64_t r0, int64_t r1,
                    int64_t c0, int64_t c1) {
  for (int64_t c = c0; c < c1; ++c)
    for (int64_t r = r0; r < r1; ++r) y[c * rows + r] = x[r * cols + c];
}

template <typename T>
void transpose(const T* x, int64_t rows, int64_t cols, T* y) {
  const int64_t tile = 16;
  for (int64_t r0 = 0; r0 < rows; r0 += tile)
    for (int64_t c0 = 0; c0 < cols; c0 += tile)
      transpose_tile(x, rows, cols, y, r0, r0 + tile < rows ? r0 + tile : rows, c0,
                     c0 + tile < cols ? c0 + tile : cols);
}

#ifdef HS_AVX2
template <>
void transpose<float>(const float* x, int64_t rows, int64_t cols, float* y) {
  const int64_t r8 = rows / 8 * 8, c8 = cols / 8 * 8;
  for (int64_t r = 0; r < r8; r += 8)
    for (int64_t c = 0; c < c8; c += 8) {
      __m256 v[8], t[8];
      for (int i = 0; i < 8; ++i) v[i] = _mm256_loadu_ps(x + (r + i) * cols + c);
      for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(v[i], v[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(v[i], v[i + 1]);
      }
      for (int i = 0; i < 8; i += 4) {
        v[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
        v[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
        v[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        v[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
      }
      for (int i = 0; i < 4; ++i) {
        t[i] = _mm256_permute2f128_ps(v[i], v[i + 4], 0x20);
        t[i + 4] = _mm256_permute2f128_ps(v[i], v[i + 4], 0x31);
      }
      for (int i = 0; i < 8; ++i) _mm256_storeu_ps(y + (c + i) * rows + r, t[i]);
    }
  transpose_tile(x, rows, cols, y, 0, r8, c8, cols);     // right edge
  transpose_tile(x, rows, cols, y, r8, rows, 0, cols);   // bottom edge
}
#endif

// One CSR row over `width` samples: o[i] = bias + sum_e w[e] a[ci[e] batch + i], the terms
// added in stored order (so every path below gives the same bits).
template <typename T>
inline void csr_row_plain(const int64_t* rp, const int32_t* ci, const T* w, T bias,
                          const T* a, int64_t batch, int64_t width, T* __restrict o) {
  for (int64_t i = 0; i < width; ++i) o[i] = bias;
  for (int64_t e = rp[0]; e < rp[1]; ++e) {
    const T v = w[e];
    const T* __restrict in = a + ci[e] * batch;
    for (int64_t i = 0; i < width; ++i) o[i] += v * in[i];
  }
}

#ifdef HS_AVX2
// The same row with its NV x lanes outputs held in registers across the row's weights
// (the plain loop above re-loads and re-stores them for every weight).
template <typename T> struct Lanes;
template <> struct Lanes<float> {
  typedef __m256 V;
  static constexpr int n = 8;
  static V set(float x) { return _mm256_set1_ps(x); }
  static V load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
};
template <> struct Lanes<double> {
  typedef __m256d V;
  static constexpr int n = 4;
  static V set(double x) { return _mm256_set1_pd(x); }
  static V load(const double* p) { return _mm256_loadu_pd(p); }
  static void store(double* p, V v) { _mm256_storeu_pd(p, v); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }
};

template <typename T, int NV>
inline void csr_row_lanes(const int64_t* rp, const int32_t* ci, const T* w, T bias, const T* a,
                          int64_t batch, T* o) {
  typedef Lanes<T> L;
  typename L::V acc[NV];
#pragma GCC unroll 8
  for (int j = 0; j < NV; ++j) acc[j] = L::set(bias);
  for (int64_t e = rp[0]; e < rp[1]; ++e) {
    const typename L::V v = L::set(w[e]);
    const T* in = a + ci[e] * batch;
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) acc[j] = L::fma(v, L::load(in + L::n * j), acc[j]);
  }
#pragma GCC unroll 8
  for (int j = 0; j < NV; ++j) L::store(o + L::n * j, acc[j]);
}
#endif

template <typename T>
void csr_row(const int64_t* rp, const int32_t* ci, const T* w, T bias, const T* a,
             int64_t batch, T* o) {
  int64_t i = 0;
#ifdef HS_AVX2
  const int64_t n = Lanes<T>::n;
  for (; i + 8 * n <= batch; i += 8 * n) csr_row_lanes<T, 8>(rp, ci, w, bias, a + i, batch, o + i);
  for (; i + n <= batch; i += n) csr_row_lanes<T, 1>(rp, ci, w, bias, a + i, batch, o + i);
#endif
  if (i < batch) csr_row_plain(rp, ci, w, bias, a + i, batch, batch - i, o + i);
}

// h <- act(W h + b) layer after layer (no activation after the last), activations kept
// feature-major [F, B] so each stored weight scales one contiguous row of B values.
template <typename T>
void csr_chain(int activation, int64_t layers, const int64_t* sizes, const void* const* crow,
               const void* const* col, const void* const* values, const void* const* bias,
               int64_t batch, const T* x, T* out) {
  int64_t widest = 0;
  for (int64_t l = 0; l <= layers; ++l) widest = sizes[l] > widest ? sizes[l] : widest;
  // Per-thread scratch kept between calls: at batch 1 a fresh allocation (and, past the
  // allocator's mmap threshold, its page faults) would cost more than the arithmetic.
  thread_local std::vector<T> a, b;
  if ((int64_t)a.size() < widest * batch) a.resize(widest * batch), b.resize(widest * batch);
  transpose(x, batch, sizes[0], a.data());
  for (int64_t l = 0; l < layers; ++l) {
    const int64_t* rp = (const int64_t*)crow[l];
    const int32_t* ci = (const int32_t*)col[l];
    const T* w = (const T*)values[l];
    const T* bl = (const T*)bias[l];
    for (int64_t r = 0; batch == 1 && r < sizes[l + 1]; ++r) {  // one sample: dot products
      T sum = bl[r];
      for (int64_t e = rp[r]; e < rp[r + 1]; ++e) sum += w[e] * a[ci[e]];
      b[r] = sum;
    }
    for (int64_t r = 0; batch > 1 && r < sizes[l + 1]; ++r)
      csr_row(rp + r, ci, w, bl[r], a.data(), batch, b.data() + r * batch);
    if (l + 1 < layers) activate(activation, b.data(), sizes[l + 1] * batch);
    a.swap(b);
  }
  transpose(a.data(), sizes[layers], batch, out);
}

}  // namespace

extern "C" {

// Bumped whenever an entry point's signature changes; the loader checks it.
int hs_abi_version() { return 7; }

void hs_set_blas(void* sgemm, void* dgemm) {
  blas_sgemm = (sgemm_fn)sgemm;
  blas_dgemm = (dgemm_fn)dgemm;
}

// 1 when both BLAS products (all four transpose cases) match plain loops on a small
// problem, else 0: a BLAS that reads its arguments differently fails here, not later.
int hs_check_blas() {
  bool ok = blas_sgemm && blas_dgemm;
  for (int ta = 0; ok && ta < 2; ++ta)
    for (int tb = 0; ok && tb < 2; ++tb) {
      const int m = 3, n = 2, k = 5;
      double a[15], b[10], c[6], want[6];
      float af[15], bf[10], cf[6];
      for (int i = 0; i < 15; ++i) af[i] = float(a[i] = 0.25 * (i % 7) - 0.5);
      for (int i = 0; i < 10; ++i) bf[i] = float(b[i] = 0.5 * (i % 3) - 0.75);
      for (int i = 0; i < m; ++i)
        for (int j = 0; j < n; ++j) {
          double sum = 1.0;  // beta = 1 on c = 1
          for (int p = 0; p < k; ++p)
            sum += (ta ? a[p * m + i] : a[i * k + p]) * (tb ? b[j * k + p] : b[p * n + j]);
          want[i * n + j] = sum;
        }
      for (int i = 0; i < 6; ++i) c[i] = cf[i] = 1;
      gemm<double>(ta, tb, m, n, k, 1.0, a, ta ? m : k, b, tb ? k : n, 1.0, c, n);
      gemm<float>(ta, tb, m, n, k, 1.0f, af, ta ? m : k, bf, tb ? k : n, 1.0f, cf, n);
      for (int i = 0; i < 6; ++i)
        ok = ok && std::fabs(c[i] - want[i]) < 1e-12 && std::fabs(cf[i] - want[i]) < 1e-5;
    }
  return ok ? 1 : 0;
}

// Elements of the saved buffer of a stack (see Layout), in the run's dtype.
int64_t hs_stack_saved_size(int kind, int64_t layers, const int64_t* hidden, int64_t in_size,
                            int64_t batch, int64_t rows) {
  return Layout(kind, layers, hidden, in_size, batch, rows).total;
}

// A stack's shape, as both entry points take it: mode `kind`, layers, hidden sizes, input
// columns, the first final column, the input width, the padded length T, and the packing
// (rnn_native.pack_plan): the steps, their batch sizes, the padded row b T + t of every
// packed row (sequences by decreasing length) and the packed row of each sequence's end;
// last, the weights' structure (see Stack; null: all dense).
#define HS_STACK_ARGS                                                                         \
  int double_precision, int kind, int64_t layers, const int64_t *hidden,                      \
      const int64_t *in_begin, int64_t out_begin, int64_t in_size, int64_t padded_steps,      \
      int64_t steps, const int64_t *sizes, const int64_t *index, const int64_t *rows,         \
      const void *const *structure

static Stack make_stack(int kind, int64_t layers, const int64_t* hidden, const int64_t* in_begin,
                        int64_t out_begin, int64_t in_size, int64_t padded_steps,
                        const Steps& s, const int64_t* index, const void* const* h0,
                        const void* const* c0, const void* const* structure) {
  Stack k{kind, layers, hidden, in_begin, out_begin, in_size, h0, c0, structure, {}};
  for (int64_t i = 0; i < s.first(); ++i) k.order.push_back(index[i] / padded_steps);
  return k;
}

// The whole stack over a padded batch x [B T, F]; `weights` holds w_ih, w_hh, b_ih, b_hh
// per layer, h0 / c0 the initial states per layer (or null). Fills `saved` and writes the
// final states [B, S - out_begin], final cells (LSTM; may be null) and the last layer's
// outputs [B T, H_last] (may be null). `double_precision` selects float64.
void hs_stack_forward(HS_STACK_ARGS, const void* x, const void* const* weights,
                      const void* const* h0, const void* const* c0, void* saved, void* final,
                      void* final_c, void* outputs) {
  const Steps s(steps, sizes);
  const Stack k = make_stack(kind, layers, hidden, in_begin, out_begin, in_size, padded_steps,
                             s, index, h0, c0, structure);
  const int64_t padded_rows = s.first() * padded_steps;
  if (double_precision)
    stack_forward<double>(k, s, index, rows, padded_rows, (const double*)x, weights,
                          (double*)saved, (double*)final, (double*)final_c, (double*)outputs);
  else
    stack_forward<float>(k, s, index, rows, padded_rows, (const float*)x, weights,
                         (float*)saved, (float*)final, (float*)final_c, (float*)outputs);
}

// Its backward from the gradients of final, final_c and outputs (each may be null): the
// weight gradients (4 per layer), dx [B T, F], dh0 and dc0 (each may be null). `saved` is
// only read.
void hs_stack_backward(HS_STACK_ARGS, const void* const* weights, void* saved,
                       const void* d_final,
                       const void* d_final_c, const void* d_outputs, void* const* grads,
                       void* dx, void* const* dh0, void* const* dc0) {
  const Steps s(steps, sizes);
  const Stack k = make_stack(kind, layers, hidden, in_begin, out_begin, in_size, padded_steps,
                             s, index, nullptr, nullptr,  // saved holds the initial states
                             structure);
  const int64_t padded_rows = s.first() * padded_steps;
  if (double_precision) {
    const StackGrad<double> D{(const double*)d_final, (const double*)d_final_c,
                              (const double*)d_outputs, dh0, dc0};
    stack_backward<double>(k, s, index, rows, padded_rows, weights, (double*)saved, D, grads,
                           (double*)dx);
  } else {
    const StackGrad<float> D{(const float*)d_final, (const float*)d_final_c,
                             (const float*)d_outputs, dh0, dc0};
    stack_backward<float>(k, s, index, rows, padded_rows, weights, (float*)saved, D, grads,
                          (float*)dx);
  }
}

// A chain of CSR layers (row pointers int64, columns int32) over x [B, sizes[0]]; writes
// out [B, sizes[layers]]. `activation`: 0 identity, 1 ReLU, 2 tanh, 3 sigmoid.
void hs_csr_chain(int double_precision, int activation, int64_t layers, const int64_t* sizes,
                  const void* const* crow, const void* const* col, const void* const* values,
                  const void* const* bias, int64_t batch, const void* x, void* out) {
  if (double_precision)
    csr_chain<double>(activation, layers, sizes, crow, col, values, bias, batch,
                      (const double*)x, (double*)out);
  else
    csr_chain<float>(activation, layers, sizes, crow, col, values, bias, batch,
                     (const float*)x, (float*)out);
}

}  // extern "C"
