//! A small, allocation-light L-BFGS minimiser with a strong-Wolfe line
//! search (Nocedal & Wright, algorithms 3.5/3.6, cubic interpolation).
//!
//! It mirrors the choices of SciPy's L-BFGS-B as scikit-learn calls it
//! (no bounds): memory 10, first step `1/||d||`, then unit steps, Armijo
//! constant 1e-3 and curvature constant 0.9, at most 50 evaluations per line
//! search, stop when `max|g| <= tol` or when the relative decrease of `f`
//! falls to `64 * eps`. Every operation is sequential and in a fixed order,
//! so the iterates are deterministic given a deterministic objective.

use std::collections::VecDeque;

/// Sufficient-decrease (Armijo) constant; SciPy's `ftol` for `dcsrch`.
const C1: f64 = 1e-3;
/// Curvature constant of the strong Wolfe condition; SciPy's `gtol`.
const C2: f64 = 0.9;
/// Relative-decrease stop, SciPy's `factr * eps` with scikit-learn's
/// `ftol = 64 * eps`.
const REL_DECREASE: f64 = 64.0 * f64::EPSILON;
/// Extrapolation factor while bracketing a step that is still too short.
const EXPAND: f64 = 4.0;

/// Solver knobs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Settings {
    /// Maximum number of accepted iterations.
    pub max_iter: usize,
    /// Stop when the gradient's max-norm is at or below this.
    pub tol: f64,
    /// Number of correction pairs kept.
    pub memory: usize,
    /// Objective evaluations allowed per line search.
    pub max_evals: usize,
}

/// Result of a minimisation.
#[derive(Debug)]
pub(crate) struct Outcome {
    /// Final point.
    pub theta: Vec<f64>,
    /// Accepted iterations.
    pub iterations: usize,
    /// True when a stopping criterion (gradient or relative decrease) held,
    /// false when `max_iter` ran out or the line search broke down.
    pub converged: bool,
}

/// One correction pair `(s, y)` with `rho = 1 / (s . y)`.
struct Pair {
    /// Step taken.
    s: Vec<f64>,
    /// Gradient change over that step.
    y: Vec<f64>,
    /// Reciprocal curvature.
    rho: f64,
}

/// Minimises `f` (which returns the value and writes the gradient) from
/// `theta`. A non-finite start value ends immediately, unconverged.
pub(crate) fn minimize<F>(mut f: F, theta: Vec<f64>, settings: &Settings) -> Outcome
where
    F: FnMut(&[f64], &mut [f64]) -> f64,
{
    let n = theta.len();
    let mut x = theta;
    let mut g = vec![0.0; n];
    let mut fx = f(&x, &mut g);
    let mut hist: VecDeque<Pair> = VecDeque::with_capacity(settings.memory);
    let (mut xt, mut gt, mut dir) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    let mut iterations = 0;
    if !fx.is_finite() {
        return Outcome {
            theta: x,
            iterations,
            converged: false,
        };
    }
    if max_abs(&g) <= settings.tol {
        return Outcome {
            theta: x,
            iterations,
            converged: true,
        };
    }
    while iterations < settings.max_iter {
        let d0 = direction(&g, &hist, &mut dir);
        let a0 = if hist.is_empty() {
            1.0 / norm2(&dir)
        } else {
            1.0
        };
        let mut search = Search {
            f: &mut f,
            x: &x,
            dir: &dir,
            xt: &mut xt,
            gt: &mut gt,
            f0: fx,
            d0,
            evals_left: settings.max_evals,
        };
        let Some(fnew) = search.run(a0) else {
            if hist.is_empty() {
                break;
            }
            // Curvature information misled the search: restart from steepest descent.
            hist.clear();
            continue;
        };
        remember(&mut hist, settings.memory, &x, &xt, &g, &gt);
        std::mem::swap(&mut x, &mut xt);
        std::mem::swap(&mut g, &mut gt);
        iterations += 1;
        let decrease = (fx - fnew) / fx.abs().max(fnew.abs()).max(1.0);
        fx = fnew;
        if max_abs(&g) <= settings.tol || decrease <= REL_DECREASE {
            return Outcome {
                theta: x,
                iterations,
                converged: true,
            };
        }
    }
    Outcome {
        theta: x,
        iterations,
        converged: false,
    }
}

/// Stores the pair for the step `x -> xt`, skipping it (as L-BFGS-B does)
/// when its curvature `s . y` is not safely positive, and dropping the
/// oldest pair beyond `memory`.
fn remember(
    hist: &mut VecDeque<Pair>,
    memory: usize,
    x: &[f64],
    xt: &[f64],
    g: &[f64],
    gt: &[f64],
) {
    let s: Vec<f64> = xt.iter().zip(x).map(|(a, b)| a - b).collect();
    let y: Vec<f64> = gt.iter().zip(g).map(|(a, b)| a - b).collect();
    let sy = dot(&s, &y);
    let positive = sy > f64::EPSILON * dot(&y, &y);
    if !positive || memory == 0 {
        return;
    }
    if hist.len() == memory {
        hist.pop_front();
    }
    hist.push_back(Pair {
        s,
        y,
        rho: 1.0 / sy,
    });
}

/// Two-loop recursion: writes `-H g` into `dir` and returns the directional
/// derivative `g . dir`. Falls back to steepest descent when the product is
/// not a descent direction (cannot happen with positive curvature pairs,
/// but is cheap insurance against rounding).
fn direction(g: &[f64], hist: &VecDeque<Pair>, dir: &mut [f64]) -> f64 {
    dir.iter_mut().zip(g).for_each(|(d, v)| *d = -v);
    let mut alphas = Vec::with_capacity(hist.len());
    for p in hist.iter().rev() {
        let a = p.rho * dot(&p.s, dir);
        axpy(-a, &p.y, dir);
        alphas.push(a);
    }
    if let Some(last) = hist.back() {
        let gamma = 1.0 / (last.rho * dot(&last.y, &last.y));
        dir.iter_mut().for_each(|d| *d *= gamma);
    }
    for (p, a) in hist.iter().zip(alphas.iter().rev()) {
        let b = p.rho * dot(&p.y, dir);
        axpy(a - b, &p.s, dir);
    }
    let d0 = dot(g, dir);
    if d0 < 0.0 && d0.is_finite() {
        return d0;
    }
    dir.iter_mut().zip(g).for_each(|(d, v)| *d = -v);
    -dot(g, g)
}

/// A trial step: its length, objective value and directional derivative.
#[derive(Clone, Copy, Debug)]
struct Trial {
    /// Step length along the search direction.
    a: f64,
    /// Objective value there.
    f: f64,
    /// Directional derivative there.
    d: f64,
}

impl Trial {
    /// Both value and slope are usable for interpolation.
    fn finite(&self) -> bool {
        self.f.is_finite() && self.d.is_finite()
    }
}

/// State of one line search along `dir` from `x`; the last evaluated point
/// is kept in `xt`/`gt`, and an accepted step is always the last evaluated.
struct Search<'a, F> {
    /// The objective.
    f: &'a mut F,
    /// Start point.
    x: &'a [f64],
    /// Search direction (a descent direction).
    dir: &'a [f64],
    /// Last trial point.
    xt: &'a mut [f64],
    /// Gradient at the last trial point.
    gt: &'a mut [f64],
    /// Value at the start.
    f0: f64,
    /// Directional derivative at the start (negative).
    d0: f64,
    /// Remaining objective evaluations.
    evals_left: usize,
}

impl<F: FnMut(&[f64], &mut [f64]) -> f64> Search<'_, F> {
    /// Evaluates the objective at step `a`, or `None` when out of budget.
    fn eval(&mut self, a: f64) -> Option<Trial> {
        self.evals_left = self.evals_left.checked_sub(1)?;
        for ((t, x), d) in self.xt.iter_mut().zip(self.x).zip(self.dir) {
            *t = x + a * d;
        }
        let f = (self.f)(self.xt, self.gt);
        Some(Trial {
            a,
            f,
            d: dot(self.gt, self.dir),
        })
    }

    /// Armijo condition fails (or the point is unusable).
    fn too_long(&self, t: &Trial) -> bool {
        !t.finite() || t.f > self.f0 + C1 * t.a * self.d0
    }

    /// Strong curvature condition holds.
    fn flat_enough(&self, t: &Trial) -> bool {
        t.d.abs() <= -C2 * self.d0
    }

    /// Finds a strong-Wolfe step starting from `a0`; returns its value (the
    /// point and gradient are in `xt`/`gt`), or `None` on failure.
    fn run(&mut self, a0: f64) -> Option<f64> {
        let mut prev = Trial {
            a: 0.0,
            f: self.f0,
            d: self.d0,
        };
        let mut a = a0;
        loop {
            let t = self.eval(a)?;
            if self.too_long(&t) || (prev.a > 0.0 && t.f >= prev.f) {
                return self.zoom(prev, t);
            }
            if self.flat_enough(&t) {
                return Some(t.f);
            }
            if t.d >= 0.0 {
                return self.zoom(t, prev);
            }
            prev = t;
            a *= EXPAND;
        }
    }

    /// Shrinks the bracket `[lo, hi]` (`lo` has the lower value and
    /// satisfies Armijo) until a strong-Wolfe point is found. If the budget
    /// runs out, settles for `lo` when it is a real decrease.
    fn zoom(&mut self, mut lo: Trial, mut hi: Trial) -> Option<f64> {
        loop {
            let a = interpolate(&lo, &hi);
            if a == lo.a || a == hi.a {
                return self.settle(lo);
            }
            let Some(t) = self.eval(a) else {
                return self.settle(lo);
            };
            if self.too_long(&t) || t.f >= lo.f {
                hi = t;
                continue;
            }
            if self.flat_enough(&t) {
                return Some(t.f);
            }
            if t.d * (hi.a - lo.a) >= 0.0 {
                hi = lo;
            }
            lo = t;
        }
    }

    /// Accepts `lo` (re-evaluating it so `xt`/`gt` hold it) when it lowers
    /// the objective; otherwise the search has failed.
    fn settle(&mut self, lo: Trial) -> Option<f64> {
        if lo.a > 0.0 && lo.f < self.f0 {
            self.evals_left = 1;
            return self.eval(lo.a).map(|t| t.f);
        }
        None
    }
}

/// Minimiser of the cubic through both ends' values and slopes, kept at
/// least 10% of the interval away from either end; bisection when the
/// cubic is unusable.
fn interpolate(lo: &Trial, hi: &Trial) -> f64 {
    let (min, max) = (lo.a.min(hi.a), lo.a.max(hi.a));
    let mid = 0.5 * (lo.a + hi.a);
    if !hi.finite() {
        return mid;
    }
    let d1 = lo.d + hi.d - 3.0 * (lo.f - hi.f) / (lo.a - hi.a);
    let d2 = (hi.a - lo.a).signum() * (d1 * d1 - lo.d * hi.d).sqrt();
    let a = hi.a - (hi.a - lo.a) * (hi.d + d2 - d1) / (hi.d - lo.d + 2.0 * d2);
    let margin = 0.1 * (max - min);
    if a.is_finite() && a >= min + margin && a <= max - margin {
        a
    } else {
        mid
    }
}

/// Largest absolute entry (the projected-gradient norm without bounds).
fn max_abs(v: &[f64]) -> f64 {
    v.iter().fold(0.0, |m, x| m.max(x.abs()))
}

/// Euclidean norm.
fn norm2(v: &[f64]) -> f64 {
    dot(v, v).sqrt()
}

/// Plain sequential dot product.
fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// `out += alpha * x`.
fn axpy(alpha: f64, x: &[f64], out: &mut [f64]) {
    out.iter_mut().zip(x).for_each(|(o, v)| *o += alpha * v);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rosenbrock's function is the classic hard case for line searches.
    #[test]
    fn minimises_rosenbrock() {
        let f = |x: &[f64], g: &mut [f64]| {
            let (a, b) = (x[0], x[1]);
            g[0] = -2.0 * (1.0 - a) - 400.0 * a * (b - a * a);
            g[1] = 200.0 * (b - a * a);
            (1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2)
        };
        let s = Settings {
            max_iter: 500,
            tol: 1e-8,
            memory: 10,
            max_evals: 50,
        };
        let out = minimize(f, vec![-1.2, 1.0], &s);
        assert!(out.converged);
        assert!((out.theta[0] - 1.0).abs() < 1e-6 && (out.theta[1] - 1.0).abs() < 1e-6);
    }
}
