// CPU kernels for one recurrent layer over a packed batch (hiddenstruct.nn.rnn_native).
//
// Built on first use with the system C++ compiler and called through ctypes; no Python or
// PyTorch headers, so it compiles in about a second. Matrices are row-major and contiguous.
// The matrix products go to the BLAS that PyTorch itself links (its exported Fortran
// sgemm_/dgemm_, handed over by hs_set_blas before any other call). The elementwise gate math is raw loops the compiler vectorizes; float32 uses a polynomial
// exp (relative error about 2e-7), float64 the C library's.
//
// Packed layout: step t holds sizes[t] rows (non-increasing), stored after steps 0..t-1.
// A layer's states are [B + N, H]: a zero block (the initial state), then each step's
// outputs; step t's previous state is the first sizes[t] rows of the block before its own.
// All layers' states share one wide buffer O [B + N, S] (S = the sum of the widths), layer l
// in columns [off_l, off_l + H_l); layer l > 0 reads a column range of O ending at off_l
// (the previous layer for a chain, all earlier layers for a DAG-wired stack), so strides
// ("ld", elements between rows) are explicit. Gate order and equations are PyTorch's
// (GRU r, z, n; LSTM i, f, g, o).

#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

namespace {

enum Kind { TANH = 0, RELU = 1, GRU = 2, LSTM = 3 };

typedef void (*sgemm_fn)(const char*, const char*, const int*, const int*, const int*,
                         const float*, const float*, const int*, const float*, const int*,
                         const float*, float*, const int*);
typedef void (*dgemm_fn)(const char*, const char*, const int*, const int*, const int*,
                         const double*, const double*, const int*, const double*, const int*,
                         const double*, double*, const int*);

sgemm_fn blas_sgemm = nullptr;
dgemm_fn blas_dgemm = nullptr;

// C[m, n] = alpha op(A) op(B) + beta C, row-major. Row-major C = A B is column-major
// C^T = B^T A^T, so the operands are swapped for Fortran BLAS.
template <typename T>
void gemm(bool ta, bool tb, int m, int n, int k, T alpha, const T* a, int lda, const T* b,
          int ldb, T beta, T* c, int ldc) {
  if (m <= 0 || n <= 0 || k <= 0) return;  // no k = 0 products arise here
  const char opa = ta ? 'T' : 'N', opb = tb ? 'T' : 'N';
  if constexpr (sizeof(T) == 4)
    blas_sgemm(&opb, &opa, &n, &m, &k, &alpha, b, &ldb, a, &lda, &beta, c, &ldc);
  else
    blas_dgemm(&opb, &opa, &n, &m, &k, &alpha, b, &ldb, a, &lda, &beta, c, &ldc);
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

// One layer's operands; rows are packed steps.
template <typename T>
struct Layer {
  const T* inp;        // input [N, in_size], row stride ld_in
  int64_t in_size, ld_in;
  T* states;           // [B + N, H], row stride ld (zero block first)
  int64_t H, ld;
  const T *w_ih, *w_hh, *b_ih, *b_hh;
  T *cells, *gates, *extra;  // LSTM cells [B + N, H]; gates [N, G H]; extra [N, H]
};

// Its gradients. dh (the outputs' gradient) is consumed; d_inp = beta d_inp + dx W_ih.
template <typename T>
struct LayerGrad {
  T* dh;
  int64_t ld;
  T* d_inp;  // null when the input's gradient is not wanted
  int64_t ld_inp;
  T beta;
  T *dw_ih, *dw_hh, *db_ih, *db_hh;
};

template <typename T>
void zero_block(const Steps& s, const Layer<T>& L) {
  for (int64_t i = 0; i < s.first(); ++i) std::memset(L.states + i * L.ld, 0, L.H * sizeof(T));
}

// out[N, width] (row stride ld_out) = inp W_ih^T + bias, for all steps at once.
template <typename T>
void project(const Steps& s, const Layer<T>& L, int64_t width, const T* bias, T* out,
             int64_t ld_out) {
  for (int64_t i = 0; i < s.rows; ++i) std::memcpy(out + i * ld_out, bias, width * sizeof(T));
  gemm<T>(false, true, s.rows, width, L.in_size, T(1), L.inp, L.ld_in, L.w_ih, L.in_size, T(1),
          out, ld_out);
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
  gemm<T>(true, false, width, L.in_size, s.rows, T(1), dx, width, L.inp, L.ld_in, T(0), G.dw_ih,
          L.in_size);
  gemm<T>(true, false, width, H, s.rows, T(1), dh, width, h_prev.get(), H, T(0), G.dw_hh, H);
  for (int64_t j = 0; j < width; ++j) G.db_ih[j] = G.db_hh[j] = 0;
  for (int64_t i = 0; i < s.rows; ++i) {
    const T *x = dx + i * width, *h = dh + i * width;
    for (int64_t j = 0; j < width; ++j) G.db_ih[j] += x[j];
    for (int64_t j = 0; j < width; ++j) G.db_hh[j] += h[j];
  }
  if (G.d_inp)
    gemm<T>(false, false, s.rows, L.in_size, width, T(1), dx, width, L.w_ih, L.in_size, G.beta,
            G.d_inp, G.ld_inp);
}

// dh of step t - 1's first b rows += d_t W_hh (d_t: step t's hidden-side gate gradients).
template <typename T>
void carry_product(const Steps& s, const Layer<T>& L, const LayerGrad<T>& G, int64_t t,
                   int64_t width, const T* d) {
  gemm<T>(false, false, s.sizes[t], L.H, width, T(1), d + s.starts[t] * width, width, L.w_hh,
          L.H, T(1), G.dh + s.starts[t - 1] * G.ld, G.ld);
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
    gemm<T>(false, true, s.sizes[t], H, H, T(1), L.states + s.prev_row(t) * L.ld, L.ld, L.w_hh,
            H, T(1), out, L.ld);
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
    if (t > 0) carry_product(s, L, G, t, H, d.get());
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
    gemm<T>(false, true, s.sizes[t], W, H, T(1), prev, L.ld, L.w_hh, H, T(0), gh.get(), W);
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
      if (t > 0) {
        T* c = G.dh + (s.starts[t - 1] + i) * G.ld;
        for (int64_t j = 0; j < H; ++j) c[j] += d[j] * g[H + j];
      }
    }
    if (t > 0) carry_product(s, L, G, t, W, dh.get());
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
  std::memset(L.cells, 0, s.first() * H * sizeof(T));
  project(s, L, W, bias.data(), L.gates, W);
  for (int64_t t = 0; t < s.count; ++t) {
    const int64_t row = s.starts[t];
    const T* h_prev = L.states + s.prev_row(t) * L.ld;
    const T* c_prev = L.cells + s.prev_row(t) * H;
    T *h_out = L.states + s.out_row(t) * L.ld, *c_out = L.cells + s.out_row(t) * H;
    gemm<T>(false, true, s.sizes[t], W, H, T(1), h_prev, L.ld, L.w_hh, H, T(1), L.gates + row * W,
            W);
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
      lstm_cell_backward(H, g, g + H, g + 2 * H, g + 3 * H, L.extra + (row + i) * H,
                         c_prev + i * H, G.dh + (row + i) * G.ld, dc_carry.data() + i * H, out,
                         out + H, out + 2 * H, out + 3 * H);
    }
    if (t > 0) carry_product(s, L, G, t, W, dg.get());
  }
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
    const int64_t gates_per = kind == GRU ? 3 : 4;
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

// Layer l's operands in a stack's saved buffer; layer l > 0 reads columns
// [in_begin[l], column[l]) of O.
template <typename T>
Layer<T> stack_layer(const Layout& at, const Steps& s, const int64_t* hidden,
                     const int64_t* in_begin, int64_t in_size, const void* const* weights,
                     T* saved, int64_t l) {
  const T* const* w = (const T* const*)weights + 4 * l;
  T* wide = saved + at.wide;
  Layer<T> L;
  if (l == 0) {
    L.inp = saved, L.in_size = in_size, L.ld_in = in_size;
  } else {
    L.inp = wide + s.first() * at.width + in_begin[l];
    L.in_size = at.column[l] - in_begin[l], L.ld_in = at.width;
  }
  L.states = wide + at.column[l], L.H = hidden[l], L.ld = at.width;
  L.w_ih = w[0], L.w_hh = w[1], L.b_ih = w[2], L.b_hh = w[3];
  L.cells = saved + at.cells[l], L.gates = saved + at.gates[l], L.extra = saved + at.extra[l];
  return L;
}

// Gathers the packed input from the padded one, runs every layer, and writes the final
// states (each sequence's last step) of columns [out_begin, S) of O into `final`.
template <typename T>
void stack_forward(int kind, int64_t layers, const int64_t* hidden, const int64_t* in_begin,
                   int64_t out_begin, int64_t in_size, const Steps& s, const int64_t* index,
                   const int64_t* rows, const T* x, const void* const* weights, T* saved,
                   T* final) {
  const int64_t batch = s.first();
  const Layout at(kind, layers, hidden, in_size, batch, s.rows);
  for (int64_t k = 0; k < s.rows; ++k)
    std::memcpy(saved + k * in_size, x + index[k] * in_size, in_size * sizeof(T));
  for (int64_t l = 0; l < layers; ++l) {
    const Layer<T> L = stack_layer(at, s, hidden, in_begin, in_size, weights, saved, l);
    if (kind == GRU)
      gru_forward(s, L);
    else if (kind == LSTM)
      lstm_forward(s, L);
    else
      simple_forward(s, kind == RELU, L);
  }
  const int64_t width = at.width - out_begin;
  const T* outputs = saved + at.wide + batch * at.width + out_begin;
  for (int64_t b = 0; b < batch; ++b)
    std::memcpy(final + b * width, outputs + rows[b] * at.width, width * sizeof(T));
}

// The backward of stack_forward from the gradient of `final`: weight gradients into
// grads (4 per layer) and, if dx is not null, the padded input's gradient [B T, F].
template <typename T>
void stack_backward(int kind, int64_t layers, const int64_t* hidden, const int64_t* in_begin,
                    int64_t out_begin, int64_t in_size, const Steps& s, const int64_t* index,
                    const int64_t* rows, int64_t padded_rows, const void* const* weights,
                    T* saved, const T* d_final, void* const* grads, T* dx) {
  const int64_t batch = s.first();
  const Layout at(kind, layers, hidden, in_size, batch, s.rows);
  const int64_t width = at.width - out_begin;
  std::vector<T> d_wide(s.rows * at.width, T(0));
  const auto d_packed = scratch<T>(dx ? s.rows * in_size : 0);
  for (int64_t b = 0; b < batch; ++b)
    std::memcpy(d_wide.data() + rows[b] * at.width + out_begin, d_final + b * width,
                width * sizeof(T));
  for (int64_t l = layers - 1; l >= 0; --l) {
    const Layer<T> L = stack_layer(at, s, hidden, in_begin, in_size, weights, saved, l);
    T* const* g = (T* const*)grads + 4 * l;
    LayerGrad<T> G{d_wide.data() + at.column[l], at.width, nullptr, in_size, T(0),
                   g[0], g[1], g[2], g[3]};
    if (l > 0)
      G.d_inp = d_wide.data() + in_begin[l], G.ld_inp = at.width, G.beta = T(1);
    else if (dx)
      G.d_inp = d_packed.get();
    if (kind == GRU)
      gru_backward(s, L, G);
    else if (kind == LSTM)
      lstm_backward(s, L, G);
    else
      simple_backward(s, kind == RELU, L, G);
  }
  if (dx) {
    std::memset(dx, 0, padded_rows * in_size * sizeof(T));
    for (int64_t k = 0; k < s.rows; ++k)
      std::memcpy(dx + index[k] * in_size, d_packed.get() + k * in_size, in_size * sizeof(T));
  }
}

}  // namespace

extern "C" {

// Bumped whenever an entry point's signature changes; the loader checks it.
int hs_abi_version() { return 4; }

void hs_set_blas(void* sgemm, void* dgemm) {
  blas_sgemm = (sgemm_fn)sgemm;
  blas_dgemm = (dgemm_fn)dgemm;
}

// How a padded batch [B, T] with lengths in [1, T] packs: sequences in order of decreasing
// length (ties keep batch order), step t holding the first sizes[t] of them. Writes
// sizes[0 .. max length), index[k] = the padded row (b * T + t) of packed row k, and
// rows[b] = the packed row of sequence b's last step. Returns the number of steps (the
// longest length), or -1 if a length is out of range.
int64_t hs_pack_plan(int64_t batch, int64_t steps, const int64_t* lengths, int64_t* sizes,
                     int64_t* index, int64_t* rows) {
  int64_t longest = 0;
  for (int64_t b = 0; b < batch; ++b) {
    if (lengths[b] < 1 || lengths[b] > steps) return -1;
    longest = lengths[b] > longest ? lengths[b] : longest;
  }
  std::vector<int64_t> order;
  order.reserve(batch);
  for (int64_t length = longest; length >= 1; --length)
    for (int64_t b = 0; b < batch; ++b)
      if (lengths[b] == length) order.push_back(b);
  int64_t k = 0;
  for (int64_t t = 0; t < longest; ++t) {
    int64_t running = 0;
    while (running < batch && lengths[order[running]] > t) ++running;
    sizes[t] = running;
    for (int64_t p = 0; p < running; ++p) {
      if (lengths[order[p]] == t + 1) rows[order[p]] = k + p;
      index[k + p] = order[p] * steps + t;
    }
    k += running;
  }
  return longest;
}

// Elements of the saved buffer of a stack (see Layout), in the run's dtype.
int64_t hs_stack_saved_size(int kind, int64_t layers, const int64_t* hidden, int64_t in_size,
                            int64_t batch, int64_t rows) {
  return Layout(kind, layers, hidden, in_size, batch, rows).total;
}

// The whole stack over a padded batch x [B T, F] packed by hs_pack_plan (steps, sizes, index,
// rows). Layer l has hidden[l] units and reads, for l > 0, columns [in_begin[l], off_l) of
// the layers' concatenated outputs (off_l = hidden[0] + ... + hidden[l - 1]); `weights`
// holds w_ih, w_hh, b_ih, b_hh per layer. Fills `saved` and writes the final states of the
// concatenated outputs' columns [out_begin, S) into `final` [B, S - out_begin].
// `double_precision` selects float64.
void hs_stack_forward(int double_precision, int kind, int64_t layers, const int64_t* hidden,
                      const int64_t* in_begin, int64_t out_begin, int64_t in_size,
                      int64_t steps, const int64_t* sizes, const int64_t* index,
                      const int64_t* rows, const void* x, const void* const* weights,
                      void* saved, void* final) {
  const Steps s(steps, sizes);
  if (double_precision)
    stack_forward<double>(kind, layers, hidden, in_begin, out_begin, in_size, s, index, rows,
                          (const double*)x, weights, (double*)saved, (double*)final);
  else
    stack_forward<float>(kind, layers, hidden, in_begin, out_begin, in_size, s, index, rows,
                         (const float*)x, weights, (float*)saved, (float*)final);
}

// Its backward: d_final in; the weight gradients (w_ih, w_hh, b_ih, b_hh per layer) and,
// unless dx is null, dx [padded_rows, F] out. `saved` is only read.
void hs_stack_backward(int double_precision, int kind, int64_t layers, const int64_t* hidden,
                       const int64_t* in_begin, int64_t out_begin, int64_t in_size,
                       int64_t steps, const int64_t* sizes, const int64_t* index,
                       const int64_t* rows, int64_t padded_rows, const void* const* weights,
                       void* saved, const void* d_final, void* const* grads, void* dx) {
  const Steps s(steps, sizes);
  if (double_precision)
    stack_backward<double>(kind, layers, hidden, in_begin, out_begin, in_size, s, index, rows,
                           padded_rows, weights, (double*)saved, (const double*)d_final, grads,
                           (double*)dx);
  else
    stack_backward<float>(kind, layers, hidden, in_begin, out_begin, in_size, s, index, rows,
                          padded_rows, weights, (float*)saved, (const float*)d_final, grads,
                          (float*)dx);
}

}  // extern "C"
