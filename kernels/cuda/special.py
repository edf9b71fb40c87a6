"""The special functions of ``kernels/cpu/special.py`` as CUDA kernels, in place of its Numba loops.

Each kernel is its Numba loop in CUDA C, one thread per element, in double precision (the CPU wrappers
widen to float64 and narrow the result, and run unchanged around these loops): the same series,
asymptotic expansions, integrals and recurrences, the same switch points and the same edge values
(0, negative, inf, NaN), so results agree with the CPU kernels to rounding. ``cupyx.scipy.special``
is not used for these: its algorithms and edge values differ from PyTorch's in places (poles, signs of
zero, NaN for out-of-domain arguments), and one statement of each function is easier to keep right.
"""
import numpy as np

from ._raw import launch

SOURCE = r"""
#define INF_D __longlong_as_double(0x7ff0000000000000LL)  // NVRTC has no INFINITY / NAN
#define NAN_D __longlong_as_double(0x7ff8000000000000LL)
#define PI_D 3.141592653589793
#define SQRT2_D 1.4142135623730951
#define EULER_D 0.5772156649015329
#define BIG_D 17.0  // |x| above which Bessel J/Y switch from power series to Hankel's expansion

// ----- modified Bessel functions ------------------------------------------------------------------------
__device__ double bessel_i_scaled(double x, int nu) {  // exp(-|x|) I_nu(|x|), nu in {0, 1}
    if (x < 30.0) {
        double q = x * x / 4.0, term = nu == 0 ? 1.0 : x / 2.0, total = term;
        long long k = 1;
        while (term > 1e-17 * total) {
            term *= q / (double)(k * (k + nu));
            total += term;
            k += 1;
        }
        return total * exp(-x);
    }
    double mu = 4.0 * nu * nu, term = 1.0, total = 1.0;
    for (int k = 1; k < 60; ++k) {
        term *= ((2.0 * k - 1) * (2.0 * k - 1) - mu) / (8.0 * k * x);
        total += term;
        if (fabs(term) < 1e-17 * total) break;
    }
    return total / sqrt(2.0 * PI_D * x);
}

extern "C" __global__ void special_i0(long long total, const double* x, long long scaled, double* out) {
    GRID_STRIDE(i) {
        double v = fabs(x[i]);
        if (v != v) out[i] = NAN_D;
        else if (v == INF_D) out[i] = scaled ? 0.0 : INF_D;
        else {
            double s = bessel_i_scaled(v, 0);
            out[i] = scaled ? s : s * exp(v);
        }
    }
}

extern "C" __global__ void special_i1(long long total, const double* x, long long scaled, double* out) {
    GRID_STRIDE(i) {
        double v = x[i], a = fabs(v);
        if (v != v) out[i] = NAN_D;
        else if (a == INF_D) out[i] = copysign(scaled ? 0.0 : INF_D, v);
        else {
            double s = bessel_i_scaled(a, 1);
            out[i] = copysign(scaled ? s : s * exp(a), v);
        }
    }
}

// exp(x) K_nu(x), x > 0: trapezoidal rule on int_0^inf exp(-x (cosh t - 1)) cosh(nu t) dt; asymptotic past 60
__device__ double bessel_k_scaled(double x, double nu) {
    if (x > 60.0) {
        double mu = 4.0 * nu * nu, term = 1.0, total = 1.0;
        for (int k = 1; k < 60; ++k) {
            term *= (mu - (2.0 * k - 1) * (2.0 * k - 1)) / (8.0 * k * x);
            total += term;
            if (fabs(term) < 1e-17 * fabs(total)) break;
        }
        return total * sqrt(PI_D / (2.0 * x));
    }
    double h = 0.5 / sqrt(x);
    if (h > 0.25) h = 0.25;
    double t_max = acosh(1.0 + 45.0 / x) + 3.0 * h, total = 0.5, t = h;
    while (t < t_max) {
        double s = sinh(0.5 * t);
        total += exp(-2.0 * x * s * s) * cosh(nu * t);
        t += h;
    }
    return total * h;
}

extern "C" __global__ void special_k(long long total, const double* x, double nu, long long scaled,
                                     double* out) {
    GRID_STRIDE(i) {
        double v = x[i];
        if (v != v || v < 0.0) out[i] = NAN_D;
        else if (v == 0.0) out[i] = INF_D;
        else if (v == INF_D) out[i] = 0.0;
        else {
            double s = bessel_k_scaled(v, nu);
            out[i] = scaled ? s : s * exp(-v);
        }
    }
}

// ----- Bessel functions J0, J1, Y0, Y1 ------------------------------------------------------------------
__device__ void hankel_pq(double x, int nu, double* p, double* q) {
    double mu = 4.0 * nu * nu, term = 1.0;
    *p = 1.0;
    *q = 0.0;
    for (int k = 1; k < 80; ++k) {
        double ratio = (mu - (2.0 * k - 1) * (2.0 * k - 1)) / (8.0 * k * x);
        if (fabs(term * ratio) < 1e-17 || fabs(ratio) >= 1.0) break;  // converged, or past the smallest term
        term *= ratio;
        double sign = (k / 2) % 2 == 0 ? 1.0 : -1.0;
        if (k % 2 == 0) *p += sign * term;
        else *q += sign * term;
    }
}

__device__ double bessel_jy(double x, int nu, bool want_y) {  // x >= 0
    if (x > BIG_D) {
        double p, q;
        hankel_pq(x, nu, &p, &q);
        double c = cos(x), s = sin(x), cw, sw;
        // cos and sin of x - (nu/2 + 1/4) pi, expanded so large x keeps full precision
        if (nu == 0) { cw = (c + s) / SQRT2_D; sw = (s - c) / SQRT2_D; }
        else { cw = (s - c) / SQRT2_D; sw = -(s + c) / SQRT2_D; }
        double scale = sqrt(2.0 / (PI_D * x));
        return want_y ? scale * (p * sw + q * cw) : scale * (p * cw - q * sw);
    }
    double q4 = -x * x / 4.0, term = nu == 0 ? 1.0 : x / 2.0, j = term;
    long long k = 1;
    while (fabs(term) > 1e-17 * fabs(j) || k < 4) {
        term *= q4 / (double)(k * (k + nu));
        j += term;
        k += 1;
    }
    if (!want_y) return j;
    if (nu == 0) {
        double harmonic = 0.0, acc = 0.0;
        term = 1.0;
        for (long long m = 1; m < 200; ++m) {
            term *= q4 / (double)(m * m);
            harmonic += 1.0 / m;
            acc -= harmonic * term;
            if (fabs(term) * harmonic < 1e-17 * fabs(acc)) break;
        }
        return 2.0 / PI_D * ((log(x / 2.0) + EULER_D) * j + acc);
    }
    term = x / 2.0;
    double h_k = 0.0, h_k1 = 1.0, acc = (h_k + h_k1 - 2.0 * EULER_D) * term;
    for (long long m = 1; m < 200; ++m) {
        term *= q4 / (double)(m * (m + 1));
        h_k += 1.0 / m;
        h_k1 += 1.0 / (m + 1);
        double add = (h_k + h_k1 - 2.0 * EULER_D) * term;
        acc += add;
        if (fabs(add) < 1e-17 * fabs(acc)) break;
    }
    return 2.0 / PI_D * log(x / 2.0) * j - 2.0 / (PI_D * x) - acc / PI_D;
}

extern "C" __global__ void special_j(long long total, const double* x, long long nu, double* out) {
    GRID_STRIDE(i) {
        double v = x[i];
        if (v != v || fabs(v) == INF_D) out[i] = NAN_D;
        else if (nu == 0) out[i] = bessel_jy(fabs(v), 0, false);
        else if (v == 0.0) out[i] = v;
        else {
            double r = bessel_jy(fabs(v), 1, false);
            out[i] = v > 0.0 ? r : -r;
        }
    }
}

extern "C" __global__ void special_y(long long total, const double* x, long long nu, double* out) {
    GRID_STRIDE(i) {
        double v = x[i];
        if (v != v || v < 0.0 || v == INF_D) out[i] = NAN_D;
        else if (v == 0.0) out[i] = -INF_D;
        else out[i] = bessel_jy(v, (int)nu, true);
    }
}

extern "C" __global__ void special_spherical_j0(long long total, const double* x, double* out) {
    GRID_STRIDE(i) {
        double v = x[i];
        if (fabs(v) == INF_D) out[i] = 0.0;
        else if (fabs(v) < 1e-4) out[i] = 1.0 - v * v / 6.0;
        else out[i] = sin(v) / v;
    }
}

// ----- Airy Ai: K_{1/3} above 1, Maclaurin series on [-8, 1], the oscillating expansion below ---------
extern "C" __global__ void special_airy_ai(long long total, const double* x, double* out) {
    const double ai0 = 0.3550280538878172, dai0 = 0.2588194037928068;  // Ai(0), -Ai'(0)
    GRID_STRIDE(i) {
        double v = x[i];
        if (v != v || fabs(v) == INF_D) {
            out[i] = NAN_D;
        } else if (v > 1.0) {
            double zeta = 2.0 / 3.0 * v * sqrt(v);
            out[i] = sqrt(v / 3.0) / PI_D * bessel_k_scaled(zeta, 1.0 / 3.0) * exp(-zeta);
        } else if (v >= -8.0) {
            double cube = v * v * v, f = 1.0, g = v, fsum = f, gsum = g;
            for (long long m = 1; m < 200; ++m) {
                f *= cube / (double)((3 * m - 1) * (3 * m));
                g *= cube / (double)((3 * m) * (3 * m + 1));
                fsum += f;
                gsum += g;
                if (fabs(f) + fabs(g) < 1e-17 * (fabs(fsum) + fabs(gsum))) break;
            }
            out[i] = ai0 * fsum - dai0 * gsum;
        } else {
            double a = -v, zeta = 2.0 / 3.0 * a * sqrt(a), p = 1.0, q = 0.0, u = 1.0;
            for (long long m = 1; m < 80; ++m) {
                double ratio = (double)((6 * m - 5) * (6 * m - 3) * (6 * m - 1)) / ((2 * m - 1) * 216.0 * m * zeta);
                if (fabs(u * ratio) < 1e-17 || ratio >= 1.0) break;
                u *= ratio;
                double sign = (m / 2) % 2 == 0 ? 1.0 : -1.0;
                if (m % 2 == 0) p += sign * u;
                else q += sign * u;
            }
            double s = (sin(zeta) + cos(zeta)) / SQRT2_D, c = (cos(zeta) - sin(zeta)) / SQRT2_D;
            out[i] = (s * p - c * q) / (sqrt(PI_D) * pow(a, 0.25));
        }
    }
}

// ----- normal distribution and erfcx --------------------------------------------------------------------
__device__ double erfcx_scalar(double x) {
    if (x < 25.0) return exp(x * x) * erfc(x);
    double inv = 1.0 / (2.0 * x * x), term = 1.0, total = 1.0;  // erfc(x) e^{x^2} ~ 1/(x sqrt(pi)) * ...
    for (int k = 1; k < 20; ++k) {
        term *= -(2.0 * k - 1) * inv;
        total += term;
        if (fabs(term) < 1e-17) break;
    }
    return total / (x * sqrt(PI_D));
}

extern "C" __global__ void special_erfcx(long long total, const double* x, double* out) {
    GRID_STRIDE(i) {
        double v = x[i];
        out[i] = v != v ? NAN_D : (v == INF_D ? 0.0 : erfcx_scalar(v));
    }
}

__device__ double log_ndtr_scalar(double x) {
    if (x > 6.0) return -0.5 * erfc(x / SQRT2_D);  // log(1 - t) = -t to rounding for t < 1e-9
    if (x > -5.0) return log(0.5 * erfc(-x / SQRT2_D));
    return log(0.5 * erfcx_scalar(-x / SQRT2_D)) - 0.5 * x * x;
}

extern "C" __global__ void special_log_ndtr(long long total, const double* x, double* out) {
    GRID_STRIDE(i) {
        double v = x[i];
        if (v != v) out[i] = NAN_D;
        else if (v == -INF_D) out[i] = -INF_D;
        else out[i] = log_ndtr_scalar(v);
    }
}

extern "C" __global__ void special_ndtr(long long total, const double* x, double* out) {
    GRID_STRIDE(i) { out[i] = 0.5 * erfc(-x[i] / SQRT2_D); }
}

// the x < 0 with Phi(x) = p <= 1/2: Newton on log Phi, which is concave (monotone convergence)
__device__ double ndtri_lower(double p) {
    double t = sqrt(-2.0 * log(p));
    double x = -(t - (2.515517 + 0.802853 * t + 0.010328 * t * t) /
                 (1.0 + 1.432788 * t + 0.189269 * t * t + 0.001308 * t * t * t));
    double target = log(p);
    for (int k = 0; k < 100; ++k) {
        double step = (log_ndtr_scalar(x) - target) * erfcx_scalar(-x / SQRT2_D) / sqrt(2.0 / PI_D);
        x -= step;
        double scale = fabs(x) > 1e-300 ? fabs(x) : 1e-300;
        if (fabs(step) <= 1e-15 * scale) break;
    }
    return x;
}

extern "C" __global__ void special_ndtri(long long total, const double* p, double* out) {
    GRID_STRIDE(i) {
        double v = p[i];
        if (v != v || v < 0.0 || v > 1.0) out[i] = NAN_D;
        else if (v == 0.0) out[i] = -INF_D;
        else if (v == 1.0) out[i] = INF_D;
        else if (v == 0.5) out[i] = 0.0;
        else if (v < 0.5) out[i] = ndtri_lower(v);
        else out[i] = -ndtri_lower(1.0 - v);
    }
}

// ----- zeta and the incomplete gamma functions ----------------------------------------------------------
// Hurwitz zeta sum_k (q + k)^-s: direct terms until q + k >= 20, then Euler-Maclaurin with B_2j / (2j)!
extern "C" __global__ void special_zeta(long long total, const double* s, const double* q, double* out) {
    const double bern[10] = {1.0 / 12, -1.0 / 720, 1.0 / 30240, -1.0 / 1209600, 1.0 / 47900160,
                             -691.0 / 1307674368000, 1.0 / 74724249600, -3617.0 / 10670622842880000,
                             43867.0 / 5109094217170944000, -174611.0 / 802857662698291200000.0};
    GRID_STRIDE(i) {
        double x = s[i], v = q[i];
        if (x != x || v != v || x < 1.0) { out[i] = NAN_D; continue; }
        if (x == 1.0) { out[i] = INF_D; continue; }
        if (v <= 0.0) {
            if (v == floor(v)) { out[i] = INF_D; continue; }
            if (x != floor(x)) { out[i] = NAN_D; continue; }  // a negative base to a fractional power
        }
        double sum = 0.0;
        while (v < 20.0) {
            sum += pow(v, -x);
            v += 1.0;
        }
        sum += pow(v, 1.0 - x) / (x - 1.0) + 0.5 * pow(v, -x);
        double rising = x, power = pow(v, -x - 1.0);
        for (int m = 0; m < 10; ++m) {
            sum += bern[m] * rising * power;
            rising *= (x + 2 * m + 1) * (x + 2 * m + 2);
            power /= v * v;
        }
        out[i] = sum;
    }
}

__device__ double igamma_scalar(double a, double x, bool upper) {  // regularised P(a, x) or Q(a, x)
    if (a != a || x != x || a < 0.0 || x < 0.0 || (a == 0.0 && x == 0.0)) return NAN_D;
    if (a == 0.0) return upper ? 0.0 : 1.0;
    if (x == 0.0) return upper ? 1.0 : 0.0;
    if (x == INF_D) return upper ? 0.0 : 1.0;
    if (a == INF_D) return upper ? 1.0 : 0.0;
    double log_prefix = a * log(x) - x - lgamma(a);
    if (x < a + 1.0) {  // P = x^a e^-x / Gamma(a + 1) * sum_k x^k / ((a + 1)...(a + k))
        double term = 1.0 / a, sum = term, n = a;
        for (int k = 0; k < 10000; ++k) {
            n += 1.0;
            term *= x / n;
            sum += term;
            if (term < 1e-17 * sum) break;
        }
        double p = sum * exp(log_prefix);
        return upper ? 1.0 - p : p;
    }
    // Q by Lentz's evaluation of the continued fraction
    double tiny = 1e-300, b = x + 1.0 - a, c = 1.0 / tiny, d = 1.0 / b, f = d;
    for (long long k = 1; k < 10000; ++k) {
        double an = -k * (k - a);
        b += 2.0;
        d = an * d + b;
        if (fabs(d) < tiny) d = tiny;
        c = b + an / c;
        if (fabs(c) < tiny) c = tiny;
        d = 1.0 / d;
        double delta = d * c;
        f *= delta;
        if (fabs(delta - 1.0) < 1e-16) break;
    }
    double qv = f * exp(log_prefix);
    return upper ? qv : 1.0 - qv;
}

extern "C" __global__ void special_igamma(long long total, const double* a, const double* x, long long upper,
                                          double* out) {
    GRID_STRIDE(i) { out[i] = igamma_scalar(a[i], x[i], upper != 0); }
}

// ----- orthogonal polynomials by their three-term recurrences -------------------------------------------
__device__ double chebyshev(double x, long long n, long long kind) {  // kind 0..3: T, U, V, W
    if (n < 0) return 0.0;
    if (n == 0) return 1.0;
    if (kind == 0 && fabs(x) < 1.0 && n > 6) return cos(n * acos(x));
    double prev = 1.0, cur = kind == 0 ? x : kind == 1 ? 2.0 * x : kind == 2 ? 2.0 * x - 1.0 : 2.0 * x + 1.0;
    for (long long k = 1; k < n; ++k) {
        double next = 2.0 * x * cur - prev;
        prev = cur;
        cur = next;
    }
    return cur;
}

__device__ double orthogonal(double x, long long n, long long family) {  // Hermite H, He, Laguerre, Legendre
    if (n < 0) return 0.0;
    if (n == 0) return 1.0;
    double prev = 1.0, cur = family == 0 ? 2.0 * x : family == 2 ? 1.0 - x : x;
    for (long long k = 1; k < n; ++k) {
        double next;
        if (family == 0) next = 2.0 * x * cur - 2.0 * k * prev;
        else if (family == 1) next = x * cur - k * prev;
        else if (family == 2) next = ((2 * k + 1 - x) * cur - k * prev) / (k + 1);
        else next = ((2 * k + 1) * x * cur - k * prev) / (k + 1);
        prev = cur;
        cur = next;
    }
    return cur;
}

extern "C" __global__ void special_polynomial(long long total, const double* x, const double* n, long long family,
                                      long long shifted, double* out) {
    GRID_STRIDE(i) {
        double v = shifted ? 2.0 * x[i] - 1.0 : x[i], d = n[i];
        if (d != d) { out[i] = NAN_D; continue; }
        long long degree = fabs(d) < 1e9 ? (long long)d : (d < 0 ? -1 : 1000000000LL);
        out[i] = family < 4 ? chebyshev(v, degree, family) : orthogonal(v, degree, family - 4);
    }
}
"""


def _kernel(name, drop=None):
    """Replacement for a Numba loop ``(*inputs, *flags, out)``: CUDA kernel ``name`` over ``out``.

    ``drop`` is the position of an argument the kernel has compiled in (zeta's Bernoulli coefficients).
    """
    def run(*args):
        args = [a for i, a in enumerate(args) if i != drop]
        launch(SOURCE, name, np.float64, args[-1].size, *(int(a) if isinstance(a, bool) else a for a in args))
    run.__name__ = name
    return run


_NAMES = ("i0", "i1", "k", "j", "y", "spherical_j0", "airy_ai", "erfcx", "log_ndtr", "ndtr", "ndtri", "igamma",
          "polynomial")
LOOPS = {"kernels.cpu.special": {**{f"_{name}_loop": _kernel(f"special_{name}") for name in _NAMES},
                                 "_zeta_loop": _kernel("special_zeta", drop=2)}}
