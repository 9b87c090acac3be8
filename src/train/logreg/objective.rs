//! The scaled L2-regularised logistic objective and its gradient.
//!
//! We minimise exactly what scikit-learn's `lbfgs` solver minimises (see
//! `sklearn/linear_model/_logistic.py`, `_linear_loss.py`):
//!
//! ```text
//! F(w, b) = (1/n) * sum_i loss_i(w, b) + 1/(2*C*n) * ||w||^2
//! ```
//!
//! i.e. `C * sum_i loss_i + 0.5 * ||w||^2` divided by `C * n`; the scaling
//! matters because the stopping tolerance is applied to this gradient. The
//! intercepts `b` are not penalised. Binary problems use the half binomial
//! (logistic) loss on one weight vector, class index 1 positive; multiclass
//! problems use the full (symmetric) multinomial loss, one vector per class.
//!
//! Parameter layout (`theta`): the `k * cols` weights row-major (class after
//! class), then the `k` intercepts.
//!
//! Determinism: rows are cut into fixed [`CHUNK_ROWS`]-row chunks whatever
//! the thread count; each chunk's partial loss and gradient are computed
//! sequentially and written to its own slot, and the slots are summed in
//! chunk order on the calling thread, so the result is bit-identical for any
//! number of threads.

/// Rows per chunk. Fixed (not derived from the thread count) so that the
/// floating point summation order never depends on parallelism.
pub(crate) const CHUNK_ROWS: usize = 4096;

/// Borrowed training problem: features, compact labels and its shape.
pub(crate) struct Problem<'a> {
    /// `rows * cols` finite features, row-major.
    pub x: &'a [f64],
    /// Compact class index per row, in `0..n_present` (binary: 0 or 1).
    pub y: &'a [u32],
    /// Number of rows.
    pub rows: usize,
    /// Number of feature columns.
    pub cols: usize,
    /// Weight vectors: 1 for binary, else the number of classes.
    pub k: usize,
    /// Inverse regularisation strength, scikit-learn's `C`.
    pub c: f64,
    /// Worker threads for the row pass (results do not depend on it).
    pub threads: usize,
}

impl Problem<'_> {
    /// Length of the parameter vector: weights plus intercepts.
    pub fn dim(&self) -> usize {
        self.k * (self.cols + 1)
    }

    /// Scaled objective value at `theta`, gradient written into `grad`.
    pub fn value_grad(&self, theta: &[f64], grad: &mut [f64]) -> f64 {
        let dim = self.dim();
        let stride = dim + 1;
        let n_chunks = self.rows.div_ceil(CHUNK_ROWS);
        let mut partials = vec![0.0; n_chunks * stride];
        self.fill_partials(theta, &mut partials, stride);
        grad.fill(0.0);
        let mut loss = 0.0;
        for part in partials.chunks_exact(stride) {
            loss += part[0];
            for (g, p) in grad.iter_mut().zip(&part[1..]) {
                *g += p;
            }
        }
        self.finish(theta, loss, grad)
    }

    /// Computes every chunk's `[loss, grad...]` slot, spreading contiguous
    /// runs of chunks over the worker threads.
    fn fill_partials(&self, theta: &[f64], partials: &mut [f64], stride: usize) {
        let n_chunks = partials.len() / stride;
        let threads = self.threads.clamp(1, n_chunks.max(1));
        if threads == 1 {
            self.run_chunks(theta, 0, partials, stride);
            return;
        }
        let per_thread = n_chunks.div_ceil(threads);
        std::thread::scope(|s| {
            for (t, slots) in partials.chunks_mut(per_thread * stride).enumerate() {
                s.spawn(move || self.run_chunks(theta, t * per_thread, slots, stride));
            }
        });
    }

    /// Fills consecutive chunk slots starting at chunk index `first`.
    fn run_chunks(&self, theta: &[f64], first: usize, slots: &mut [f64], stride: usize) {
        for (i, slot) in slots.chunks_exact_mut(stride).enumerate() {
            let start = (first + i) * CHUNK_ROWS;
            let end = (start + CHUNK_ROWS).min(self.rows);
            let (loss_slot, grad_slot) = slot.split_at_mut(1);
            loss_slot[0] = if self.k == 1 {
                self.binary_chunk(theta, start, end, grad_slot)
            } else {
                self.multinomial_chunk(theta, start, end, grad_slot)
            };
        }
    }

    /// Unscaled binomial loss sum and gradient over rows `start..end`.
    fn binary_chunk(&self, theta: &[f64], start: usize, end: usize, grad: &mut [f64]) -> f64 {
        let cols = self.cols;
        let (w, b) = (&theta[..cols], theta[cols]);
        let (gw, gb) = grad.split_at_mut(cols);
        let mut loss = 0.0;
        let mut gsum = 0.0;
        for r in start..end {
            let row = &self.x[r * cols..(r + 1) * cols];
            let z = b + dot(w, row);
            let y = f64::from(self.y[r]);
            let (l, p) = log1pexp_sigmoid(z);
            loss += l - y * z;
            let g = p - y;
            gsum += g;
            axpy(g, row, gw);
        }
        gb[0] = gsum;
        loss
    }

    /// Unscaled multinomial loss sum and gradient over rows `start..end`.
    fn multinomial_chunk(&self, theta: &[f64], start: usize, end: usize, grad: &mut [f64]) -> f64 {
        let (cols, k) = (self.cols, self.k);
        let (w, b) = theta.split_at(k * cols);
        let (gw, gb) = grad.split_at_mut(k * cols);
        let mut z = vec![0.0; k];
        let mut loss = 0.0;
        for r in start..end {
            let row = &self.x[r * cols..(r + 1) * cols];
            for (j, zj) in z.iter_mut().enumerate() {
                *zj = b[j] + dot(&w[j * cols..(j + 1) * cols], row);
            }
            let y = self.y[r] as usize;
            let zy = z.get(y).copied().unwrap_or(0.0);
            loss += softmax_in_place(&mut z) - zy;
            for (j, &pj) in z.iter().enumerate() {
                let g = if j == y { pj - 1.0 } else { pj };
                gb[j] += g;
                axpy(g, row, &mut gw[j * cols..(j + 1) * cols]);
            }
        }
        loss
    }

    /// Applies the `1/n` scaling and the L2 penalty (weights only).
    fn finish(&self, theta: &[f64], loss_sum: f64, grad: &mut [f64]) -> f64 {
        let n = self.rows as f64;
        let l2 = 1.0 / (self.c * n);
        let nw = self.k * self.cols;
        let mut pen = 0.0;
        for (g, t) in grad[..nw].iter_mut().zip(&theta[..nw]) {
            *g = *g / n + l2 * t;
            pen += t * t;
        }
        for g in &mut grad[nw..] {
            *g /= n;
        }
        loss_sum / n + 0.5 * l2 * pen
    }
}

/// `log(1 + exp(z))` and `sigmoid(z)` from one `exp`, stable for any `z`.
#[inline]
pub(crate) fn log1pexp_sigmoid(z: f64) -> (f64, f64) {
    let e = (-z.abs()).exp();
    let l = z.max(0.0) + e.ln_1p();
    let p = if z >= 0.0 {
        1.0 / (1.0 + e)
    } else {
        e / (1.0 + e)
    };
    (l, p)
}

/// Replaces raw scores by softmax probabilities (max-shifted, so no
/// overflow) and returns their log-sum-exp.
fn softmax_in_place(z: &mut [f64]) -> f64 {
    let max = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut sum = 0.0;
    for v in z.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    for v in z.iter_mut() {
        *v /= sum;
    }
    max + sum.ln()
}

/// Dot product with four independent accumulators (fixed order, so
/// deterministic) to let the compiler pipeline the multiply-adds.
#[inline]
pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0; 4];
    let split = n - n % 4;
    for (ca, cb) in a[..split].chunks_exact(4).zip(b[..split].chunks_exact(4)) {
        for i in 0..4 {
            acc[i] += ca[i] * cb[i];
        }
    }
    let mut tail = 0.0;
    for (x, y) in a[split..].iter().zip(&b[split..]) {
        tail += x * y;
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

/// `out += alpha * x`, elementwise.
#[inline]
fn axpy(alpha: f64, x: &[f64], out: &mut [f64]) {
    for (o, v) in out.iter_mut().zip(x) {
        *o += alpha * v;
    }
}
