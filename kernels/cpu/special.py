"""Special-function kernels (``torch.special``): Numba loops in float64 over flattened inputs.

Each function is evaluated with a power series where it converges without much cancellation, and an
asymptotic expansion or a rapidly converging integral elsewhere; the switch points keep float64 results
to ~1e-13 relative (absolute near the zeros of oscillating functions).
"""
import math

import numpy as np

from ._numba import jit
from .elementwise import float64_map as _unary


_EULER = 0.5772156649015329  # Euler-Mascheroni constant
_SQRT2 = 1.4142135623730951
_BIG = 17.0  # |x| above which Bessel J/Y switch from power series to Hankel's asymptotic expansion


# ----- modified Bessel functions I0, I1 ------------------------------------------------------------------
@jit
def _bessel_i_scaled(x, nu):
    """exp(-|x|) * I_nu(|x|) for nu in {0, 1}."""
    if x < 30.0:
        q = x * x / 4.0
        term = 1.0 if nu == 0 else x / 2.0
        total = term
        k = 1
        while term > 1e-17 * total:
            term *= q / (k * (k + nu))
            total += term
            k += 1
        return total * math.exp(-x)
    # I_nu(x) ~ e^x / sqrt(2 pi x) * sum_k prod_j ((2j-1)^2 - 4nu^2) / (k! (8x)^k)
    mu = 4.0 * nu * nu
    term = 1.0
    total = 1.0
    for k in range(1, 60):
        term *= ((2 * k - 1) ** 2 - mu) / (8.0 * k * x)
        total += term
        if abs(term) < 1e-17 * total:
            break
    return total / math.sqrt(2.0 * math.pi * x)


@jit
def _i0_loop(x, scaled, out):
    for i in range(x.size):
        v = abs(x[i])
        if math.isnan(v):
            out[i] = math.nan
        elif v == math.inf:
            out[i] = 0.0 if scaled else math.inf
        else:
            s = _bessel_i_scaled(v, 0)
            out[i] = s if scaled else s * math.exp(v)


@jit
def _i1_loop(x, scaled, out):
    for i in range(x.size):
        v = x[i]
        a = abs(v)
        if math.isnan(v):
            out[i] = math.nan
        elif a == math.inf:
            out[i] = math.copysign(0.0 if scaled else math.inf, v)
        else:
            s = _bessel_i_scaled(a, 1)
            out[i] = math.copysign(s if scaled else s * math.exp(a), v)


# ----- modified Bessel functions K_nu -------------------------------------------------------------------
@jit
def _bessel_k_scaled(x, nu):
    """exp(x) * K_nu(x) for x > 0: trapezoidal rule on int_0^inf exp(-x (cosh t - 1)) cosh(nu t) dt.

    The integrand is analytic and decays double-exponentially, so the trapezoidal rule converges
    geometrically in 1/h; beyond x = 60 the asymptotic series is already exact to rounding.
    """
    if x > 60.0:
        mu = 4.0 * nu * nu
        term = 1.0
        total = 1.0
        for k in range(1, 60):
            term *= (mu - (2 * k - 1) ** 2) / (8.0 * k * x)
            total += term
            if abs(term) < 1e-17 * abs(total):
                break
        return total * math.sqrt(math.pi / (2.0 * x))
    h = min(0.25, 0.5 / math.sqrt(x))
    t_max = math.acosh(1.0 + 45.0 / x) + 3.0 * h
    total = 0.5
    t = h
    while t < t_max:
        s = math.sinh(0.5 * t)
        total += math.exp(-2.0 * x * s * s) * math.cosh(nu * t)
        t += h
    return total * h


@jit
def _k_loop(x, nu, scaled, out):
    for i in range(x.size):
        v = x[i]
        if math.isnan(v) or v < 0.0:
            out[i] = math.nan
        elif v == 0.0:
            out[i] = math.inf
        elif v == math.inf:
            out[i] = 0.0
        else:
            k = _bessel_k_scaled(v, nu)
            out[i] = k if scaled else k * math.exp(-v)


# ----- Bessel functions J0, J1, Y0, Y1 ------------------------------------------------------------------
@jit
def _hankel_pq(x, nu):
    """Hankel's asymptotic P and Q series for order ``nu`` at large ``x``."""
    mu = 4.0 * nu * nu
    p = 1.0
    q = 0.0
    term = 1.0
    for k in range(1, 80):
        ratio = (mu - (2 * k - 1) ** 2) / (8.0 * k * x)
        if abs(term * ratio) < 1e-17 or abs(ratio) >= 1.0:
            break  # converged, or past the smallest term of the divergent series
        term *= ratio
        sign = 1.0 if (k // 2) % 2 == 0 else -1.0
        if k % 2 == 0:
            p += sign * term
        else:
            q += sign * term
    return p, q


@jit
def _bessel_jy(x, nu, want_y):
    """J_nu(x) or Y_nu(x) for x >= 0, nu in {0, 1}."""
    if x > _BIG:
        p, q = _hankel_pq(x, nu)
        c = math.cos(x)
        s = math.sin(x)
        # cos and sin of x - (nu/2 + 1/4) pi, expanded so large x keeps full precision
        if nu == 0:
            cw, sw = (c + s) / _SQRT2, (s - c) / _SQRT2
        else:
            cw, sw = (s - c) / _SQRT2, -(s + c) / _SQRT2
        scale = math.sqrt(2.0 / (math.pi * x))
        return scale * (p * sw + q * cw) if want_y else scale * (p * cw - q * sw)
    q4 = -x * x / 4.0
    term = 1.0 if nu == 0 else x / 2.0
    j = term
    k = 1
    while abs(term) > 1e-17 * abs(j) or k < 4:
        term *= q4 / (k * (k + nu))
        j += term
        k += 1
    if not want_y:
        return j
    # Y_nu from its series: (2/pi) ln(x/2) J_nu plus a harmonic-number-weighted sum
    if nu == 0:
        term = 1.0
        harmonic = 0.0
        acc = 0.0
        for k in range(1, 200):
            term *= q4 / (k * k)
            harmonic += 1.0 / k
            acc -= harmonic * term
            if abs(term) * harmonic < 1e-17 * abs(acc):
                break
        return 2.0 / math.pi * ((math.log(x / 2.0) + _EULER) * j + acc)
    term = x / 2.0
    h_k, h_k1 = 0.0, 1.0  # H_k and H_{k+1}
    acc = (h_k + h_k1 - 2.0 * _EULER) * term
    for k in range(1, 200):
        term *= q4 / (k * (k + 1))
        h_k += 1.0 / k
        h_k1 += 1.0 / (k + 1)
        add = (h_k + h_k1 - 2.0 * _EULER) * term
        acc += add
        if abs(add) < 1e-17 * abs(acc):
            break
    return 2.0 / math.pi * math.log(x / 2.0) * j - 2.0 / (math.pi * x) - acc / math.pi


@jit
def _j_loop(x, nu, out):
    for i in range(x.size):
        v = x[i]
        if math.isnan(v) or abs(v) == math.inf:
            out[i] = math.nan
        elif nu == 0:
            out[i] = _bessel_jy(abs(v), 0, False)
        elif v == 0.0:
            out[i] = v
        else:
            j = _bessel_jy(abs(v), 1, False)
            out[i] = j if v > 0.0 else -j


@jit
def _y_loop(x, nu, out):
    for i in range(x.size):
        v = x[i]
        if math.isnan(v) or v < 0.0 or v == math.inf:
            out[i] = math.nan
        elif v == 0.0:
            out[i] = -math.inf
        else:
            out[i] = _bessel_jy(v, nu, True)


@jit
def _spherical_j0_loop(x, out):
    for i in range(x.size):
        v = x[i]
        if abs(v) == math.inf:
            out[i] = 0.0
        elif abs(v) < 1e-4:
            out[i] = 1.0 - v * v / 6.0
        else:
            out[i] = math.sin(v) / v


# ----- Airy Ai ------------------------------------------------------------------------------------------
@jit
def _airy_ai_loop(x, out):
    ai0 = 0.3550280538878172  # Ai(0)
    dai0 = 0.2588194037928068  # -Ai'(0)
    for i in range(x.size):
        v = x[i]
        if math.isnan(v) or abs(v) == math.inf:
            out[i] = math.nan
        elif v > 1.0:
            # Ai(x) = sqrt(x/3) K_{1/3}(zeta) / pi with zeta = 2/3 x^(3/2)
            zeta = 2.0 / 3.0 * v * math.sqrt(v)
            out[i] = math.sqrt(v / 3.0) / math.pi * _bessel_k_scaled(zeta, 1.0 / 3.0) * math.exp(-zeta)
        elif v >= -8.0:
            cube = v * v * v
            f = 1.0
            g = v
            fsum = f
            gsum = g
            k = 1
            while k < 200:
                f *= cube / ((3 * k - 1) * (3 * k))
                g *= cube / ((3 * k) * (3 * k + 1))
                fsum += f
                gsum += g
                if abs(f) + abs(g) < 1e-17 * (abs(fsum) + abs(gsum)):
                    break
                k += 1
            out[i] = ai0 * fsum - dai0 * gsum
        else:
            a = -v
            zeta = 2.0 / 3.0 * a * math.sqrt(a)
            p = 1.0
            q = 0.0
            u = 1.0
            for k in range(1, 80):
                ratio = (6 * k - 5) * (6 * k - 3) * (6 * k - 1) / ((2 * k - 1) * 216.0 * k * zeta)
                if abs(u * ratio) < 1e-17 or ratio >= 1.0:
                    break
                u *= ratio
                sign = 1.0 if (k // 2) % 2 == 0 else -1.0
                if k % 2 == 0:
                    p += sign * u
                else:
                    q += sign * u
            # sin and cos of zeta + pi/4
            s = (math.sin(zeta) + math.cos(zeta)) / _SQRT2
            c = (math.cos(zeta) - math.sin(zeta)) / _SQRT2
            out[i] = (s * p - c * q) / (math.sqrt(math.pi) * a ** 0.25)


# ----- normal distribution and erfcx --------------------------------------------------------------------
@jit
def _erfcx_scalar(x):
    if x < 25.0:
        return math.exp(x * x) * math.erfc(x)
    # erfc(x) e^{x^2} ~ 1/(x sqrt(pi)) * sum_k (-1)^k (2k-1)!! / (2x^2)^k
    inv = 1.0 / (2.0 * x * x)
    term = 1.0
    total = 1.0
    for k in range(1, 20):
        term *= -(2 * k - 1) * inv
        total += term
        if abs(term) < 1e-17:
            break
    return total / (x * math.sqrt(math.pi))


@jit
def _erfcx_loop(x, out):
    for i in range(x.size):
        v = x[i]
        out[i] = math.nan if math.isnan(v) else (0.0 if v == math.inf else _erfcx_scalar(v))


@jit
def _log_ndtr_scalar(x):
    if x > 6.0:
        return -0.5 * math.erfc(x / _SQRT2)  # log(1 - t) = -t to rounding for t < 1e-9
    if x > -5.0:
        return math.log(0.5 * math.erfc(-x / _SQRT2))
    return math.log(0.5 * _erfcx_scalar(-x / _SQRT2)) - 0.5 * x * x


@jit
def _log_ndtr_loop(x, out):
    for i in range(x.size):
        v = x[i]
        if math.isnan(v):
            out[i] = math.nan
        elif v == -math.inf:
            out[i] = -math.inf
        else:
            out[i] = _log_ndtr_scalar(v)


@jit
def _ndtr_loop(x, out):
    for i in range(x.size):
        out[i] = 0.5 * math.erfc(-x[i] / _SQRT2)


@jit
def _ndtri_lower(p):
    """The x < 0 with Phi(x) = p for p <= 1/2: Newton on log Phi, which is concave (monotone convergence)."""
    t = math.sqrt(-2.0 * math.log(p))
    x = -(t - (2.515517 + 0.802853 * t + 0.010328 * t * t) /
          (1.0 + 1.432788 * t + 0.189269 * t * t + 0.001308 * t * t * t))
    target = math.log(p)
    for _ in range(100):
        # d/dx log Phi(x) = phi(x) / Phi(x) = sqrt(2/pi) / erfcx(-x/sqrt2)
        step = (_log_ndtr_scalar(x) - target) * _erfcx_scalar(-x / _SQRT2) / math.sqrt(2.0 / math.pi)
        x -= step
        if abs(step) <= 1e-15 * max(abs(x), 1e-300):
            break
    return x


@jit
def _ndtri_loop(p, out):
    for i in range(p.size):
        v = p[i]
        if math.isnan(v) or v < 0.0 or v > 1.0:
            out[i] = math.nan
        elif v == 0.0:
            out[i] = -math.inf
        elif v == 1.0:
            out[i] = math.inf
        elif v == 0.5:
            out[i] = 0.0
        elif v < 0.5:
            out[i] = _ndtri_lower(v)
        else:
            out[i] = -_ndtri_lower(1.0 - v)


# ----- zeta and the incomplete gamma functions ----------------------------------------------------------
_ZETA_B = np.array([1.0 / 12, -1.0 / 720, 1.0 / 30240, -1.0 / 1209600, 1.0 / 47900160,
                    -691.0 / 1307674368000, 1.0 / 74724249600, -3617.0 / 10670622842880000,
                    43867.0 / 5109094217170944000, -174611.0 / 802857662698291200000])


@jit
def _zeta_loop(s, q, bern, out):
    """Hurwitz zeta sum_k (q + k)^-s: direct terms until q + k >= 20, then Euler-Maclaurin."""
    for i in range(s.size):
        x = s[i]
        v = q[i]
        if math.isnan(x) or math.isnan(v) or x < 1.0:
            out[i] = math.nan
            continue
        if x == 1.0:
            out[i] = math.inf
            continue
        if v <= 0.0:
            if v == math.floor(v):
                out[i] = math.inf
                continue
            if x != math.floor(x):
                out[i] = math.nan  # a negative base to a fractional power
                continue
        total = 0.0
        while v < 20.0:
            total += v ** -x
            v += 1.0
        total += v ** (1.0 - x) / (x - 1.0) + 0.5 * v ** -x
        rising = x
        power = v ** (-x - 1.0)
        for j in range(bern.size):
            total += bern[j] * rising * power
            rising *= (x + 2 * j + 1) * (x + 2 * j + 2)
            power /= v * v
        out[i] = total


@jit
def _igamma_scalar(a, x, upper):
    """Regularised lower (upper=False) or upper incomplete gamma P(a, x) / Q(a, x)."""
    if math.isnan(a) or math.isnan(x) or a < 0.0 or x < 0.0 or (a == 0.0 and x == 0.0):
        return math.nan
    if a == 0.0:
        return 0.0 if upper else 1.0
    if x == 0.0:
        return 1.0 if upper else 0.0
    if x == math.inf:
        return 0.0 if upper else 1.0
    if a == math.inf:
        return 1.0 if upper else 0.0
    log_prefix = a * math.log(x) - x - math.lgamma(a)
    if x < a + 1.0:
        # P = x^a e^-x / Gamma(a + 1) * sum_k x^k / ((a + 1)...(a + k))
        term = 1.0 / a
        total = term
        n = a
        for _ in range(10000):
            n += 1.0
            term *= x / n
            total += term
            if term < 1e-17 * total:
                break
        p = total * math.exp(log_prefix)
        return 1.0 - p if upper else p
    # Q by Lentz's evaluation of the continued fraction 1/(x+1-a- 1(1-a)/(x+3-a- 2(2-a)/(x+5-a- ...)))
    tiny = 1e-300
    b = x + 1.0 - a
    c = 1.0 / tiny
    d = 1.0 / b
    f = d
    for k in range(1, 10000):
        an = -k * (k - a)
        b += 2.0
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1.0 / d
        delta = d * c
        f *= delta
        if abs(delta - 1.0) < 1e-16:
            break
    q = f * math.exp(log_prefix)
    return q if upper else 1.0 - q


@jit
def _igamma_loop(a, x, upper, out):
    for i in range(a.size):
        out[i] = _igamma_scalar(a[i], x[i], upper)


# ----- orthogonal polynomials ---------------------------------------------------------------------------
@jit
def _chebyshev_scalar(x, n, kind):
    """Chebyshev polynomials of the first to fourth kind (kind 0..3: T, U, V, W) by their recurrence."""
    if n < 0:
        return 0.0
    if n == 0:
        return 1.0
    if kind == 0 and abs(x) < 1.0 and n > 6:
        return math.cos(n * math.acos(x))
    first = (x, 2.0 * x, 2.0 * x - 1.0, 2.0 * x + 1.0)[kind]
    prev, cur = 1.0, first
    for _ in range(1, n):
        prev, cur = cur, 2.0 * x * cur - prev
    return cur


@jit
def _poly_scalar(x, n, family):
    """Hermite (physicists' 0, probabilists' 1), Laguerre (2) and Legendre (3) polynomials of degree n."""
    if n < 0:
        return 0.0
    if n == 0:
        return 1.0
    if family == 0:
        prev, cur = 1.0, 2.0 * x
        for k in range(1, n):
            prev, cur = cur, 2.0 * x * cur - 2.0 * k * prev
    elif family == 1:
        prev, cur = 1.0, x
        for k in range(1, n):
            prev, cur = cur, x * cur - k * prev
    elif family == 2:
        prev, cur = 1.0, 1.0 - x
        for k in range(1, n):
            prev, cur = cur, ((2 * k + 1 - x) * cur - k * prev) / (k + 1)
    else:
        prev, cur = 1.0, x
        for k in range(1, n):
            prev, cur = cur, ((2 * k + 1) * x * cur - k * prev) / (k + 1)
    return cur


@jit
def _polynomial_loop(x, n, family, shifted, out):
    for i in range(x.size):
        v = x[i]
        if shifted:
            v = 2.0 * v - 1.0
        if math.isnan(n[i]):
            out[i] = math.nan
            continue
        degree = int(n[i]) if abs(n[i]) < 1e9 else (-1 if n[i] < 0 else 10 ** 9)
        if family < 4:
            out[i] = _chebyshev_scalar(v, degree, family)
        else:
            out[i] = _poly_scalar(v, degree, family - 4)


# ----- kernel wrappers ----------------------------------------------------------------------------------
def _result_dtype(*arrays):
    return np.result_type(*(a.dtype for a in arrays))


def _binary(loop, *extra):
    """Kernel: ``loop(flat_a, flat_b, *extra, out)`` over the broadcast of the two float64 inputs."""
    def kernel(a, b):
        dtype = _result_dtype(a, b)
        shape = np.broadcast_shapes(a.shape, b.shape)
        a64 = np.broadcast_to(a, shape).astype(np.float64).reshape(-1)  # astype copies: contiguous, writeable
        b64 = np.broadcast_to(b, shape).astype(np.float64).reshape(-1)
        out = np.empty(a64.size, dtype=np.float64)
        loop(a64, b64, *extra, out)
        return out.reshape(shape).astype(dtype, copy=False)
    return kernel


def _entr(x):
    out = -x * np.log(np.where(x > 0, x, 1))
    out = np.where(x < 0, -np.inf, out)
    return np.where(np.isnan(x), x, out).astype(x.dtype, copy=False)


def _xlog1py(x, y):
    out = x * np.log1p(y)
    return np.where((x == 0) & ~np.isnan(y), np.zeros((), out.dtype), out)


def _ndtr_grad_factor(x):
    """phi(x): the standard normal density, used by the derivatives of ndtr and ndtri."""
    return np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


def _frexp(x):
    mantissa, exponent = np.frexp(x)
    return mantissa, exponent.astype(np.int32)


_POLYNOMIALS = {"chebyshev_polynomial_t": (0, False), "chebyshev_polynomial_u": (1, False),
                "chebyshev_polynomial_v": (2, False), "chebyshev_polynomial_w": (3, False),
                "shifted_chebyshev_polynomial_t": (0, True), "shifted_chebyshev_polynomial_u": (1, True),
                "shifted_chebyshev_polynomial_v": (2, True), "shifted_chebyshev_polynomial_w": (3, True),
                "hermite_polynomial_h": (4, False), "hermite_polynomial_he": (5, False),
                "laguerre_polynomial_l": (6, False), "legendre_polynomial_p": (7, False)}

KERNELS = {
    "special_i0": _unary(_i0_loop, False), "special_i0e": _unary(_i0_loop, True),
    "special_i1": _unary(_i1_loop, False), "special_i1e": _unary(_i1_loop, True),
    "special_k0": _unary(_k_loop, 0.0, False), "special_k1": _unary(_k_loop, 1.0, False),
    "special_k0e": _unary(_k_loop, 0.0, True), "special_k1e": _unary(_k_loop, 1.0, True),
    "special_j0": _unary(_j_loop, 0), "special_j1": _unary(_j_loop, 1),
    "special_y0": _unary(_y_loop, 0), "special_y1": _unary(_y_loop, 1),
    "special_spherical_j0": _unary(_spherical_j0_loop), "special_airy_ai": _unary(_airy_ai_loop),
    "special_ndtr": _unary(_ndtr_loop), "special_log_ndtr": _unary(_log_ndtr_loop),
    "special_ndtri": _unary(_ndtri_loop), "special_erfcx": _unary(_erfcx_loop),
    "special_normal_pdf": _ndtr_grad_factor,
    "special_entr": _entr, "special_xlog1py": _xlog1py,
    "special_zeta": _binary(_zeta_loop, _ZETA_B),
    "special_igamma": _binary(_igamma_loop, False), "special_igammac": _binary(_igamma_loop, True),
    "special_frexp": _frexp,
}
KERNELS.update({"special_" + name: _binary(_polynomial_loop, family, shifted)
                for name, (family, shifted) in _POLYNOMIALS.items()})
