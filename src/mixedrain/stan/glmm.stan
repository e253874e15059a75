// The general mixed model behind lme4 formulas (mixedrain.glmm), compiled once: everything is data.
//   g(E[y_i]) = eta_i = offset_i + X_i beta + sum over grouping terms t of Z_t,i b_t[level_t,i]
//   b_t[j] ~ MVN(0, S_t S_t'),  S_t = diag(tau_t) L_t  (K_t effects per level, J_t levels)
// family 1 gaussian (identity link, sd sigma), 2 binomial (logit), 3 poisson (log), 4 gamma (log, shape phi),
// 5 student_t (identity link, scale sigma, degrees of freedom nu >= nu_lower).
// Term t has its own K_t columns of Z and J_t levels; ragged pieces are stored one after another in flat
// arrays (Z's columns, tau, the effects z, the correlations' cpc), each term's slice found
// from the sizes by the same running sums in Python. A correlated term (lme4's `|`, K_t > 1) gets an LKJ
// correlation; an uncorrelated one (`||`, or K_t = 1) independent SDs, L_t = I.
// The correlation is built from its K(K-1)/2 canonical partial correlations (cpc), as Stan builds a
// cholesky_factor_corr; giving the cpc at level j independent Beta(eta + (K - 1 - j)/2) priors on (-1, 1)
// makes the correlation matrix exactly LKJ(eta) (Lewandowski, Kurowicka and Joe 2009), for any K_t.
// Three forms, chosen by data: non-centered (the sampler moves z ~ N(0, 1), b = S z; the default),
// centered per term (it moves b itself: better for levels with many rows), or, for a Gaussian outcome
// with one grouping term, integrated: the effects are integrated out of the likelihood exactly
// and drawn afterwards in NumPy, from per-group sums precomputed here.
functions {
  // Cholesky factor of a K x K correlation matrix from its canonical partial correlations, row by row:
  // row i holds cpc (i,1), (i,2), ..., (i,i-1); the (i,j) one is the partial correlation given 1..j-1.
  matrix cholesky_from_cpc(vector cpc, int K) {
    matrix[K, K] L = rep_matrix(0, K, K);
    int position = 1;
    L[1, 1] = 1;
    for (i in 2:K) {
      real remaining = 1;  // 1 - the sum of squares so far in row i
      for (j in 1:(i - 1)) {
        L[i, j] = cpc[position] * sqrt(remaining);
        remaining -= square(L[i, j]);
        position += 1;
      }
      L[i, i] = sqrt(remaining);
    }
    return L;
  }
}
data {
  int<lower=1> N;                           // rows
  int<lower=1, upper=5> family;             // 1 gaussian, 2 binomial, 3 poisson, 4 gamma, 5 student_t
  int<lower=0> P;                           // fixed-effect columns
  matrix[N, P] X;
  vector[N] offset_;                        // (offset is a Stan keyword)
  vector[(family == 1 || family >= 4) ? N : 0] y_real;    // gaussian, gamma, student_t
  array[(family == 2 || family == 3) ? N : 0] int<lower=0> y_int;  // binomial successes, poisson counts
  array[family == 2 ? N : 0] int<lower=0> trials;          // binomial trials
  int<lower=0> T;                           // grouping terms
  array[T] int<lower=1> K;                  // columns of each term
  array[T] int<lower=1> J;                  // levels of each term
  array[T] int<lower=0, upper=1> correlated;
  matrix[N, sum(K)] Z;                      // the terms' columns, side by side
  array[T, N] int<lower=1> level;           // each row's level in each term
  vector[P] prior_fixed_mean;
  vector<lower=0>[P] prior_fixed_sd;
  vector<lower=0>[sum(K)] prior_sd_scale;   // half-normal scale of each SD
  vector<lower=0>[T] prior_lkj_eta;
  real<lower=0> prior_sigma_sd;             // gaussian, student_t: sigma ~ N+(0, prior_sigma_sd)
  real<lower=0> prior_phi_shape;            // gamma: phi ~ Gamma(shape, rate)
  real<lower=0> prior_phi_rate;
  real<lower=0> prior_nu_shape;             // student_t: nu ~ Gamma(shape, rate), truncated below at nu_lower
  real<lower=0> prior_nu_rate;
  real<lower=0> nu_lower;
  array[T] int<lower=0, upper=1> centered;  // 1: the sampler moves term t's effects themselves, not z
  int<lower=0, upper=1> integrated;         // 1: effects integrated out (gaussian, T = 1 only)
  int<lower=0, upper=1> prior_only;         // 1: no likelihood, for a prior predictive check
}
transformed data {
  int K_total = sum(K);
  array[T] int column_start;                // first column of term t in Z, tau and prior_sd_scale
  array[T] int effect_start;                // first of term t's K_t * J_t standardised effects in z
  array[T] int cpc_start;                   // first of term t's K_t (K_t - 1) / 2 partial correlations
  array[T] int cpc_size;
  int n_effects = 0;
  int n_cpc = 0;
  {
    int column = 1;
    for (t in 1:T) {
      column_start[t] = column;
      effect_start[t] = n_effects + 1;
      cpc_start[t] = n_cpc + 1;
      cpc_size[t] = correlated[t] ? (K[t] * (K[t] - 1)) %/% 2 : 0;
      column += K[t];
      n_effects += K[t] * J[t];
      n_cpc += cpc_size[t];
    }
  }
  vector[n_cpc] cpc_shape;                  // Beta(cpc_shape, cpc_shape) for (cpc + 1) / 2
  for (t in 1:T) {
    int position = cpc_start[t];
    for (i in 2:K[t]) {
      for (j in 1:(i - 1)) {
        if (correlated[t]) {
          cpc_shape[position] = prior_lkj_eta[t] + (K[t] - 1 - j) / 2.0;
          position += 1;
        }
      }
    }
  }
  array[K_total] int all_ones;              // an intercept column: its product with the effects is skipped
  for (k in 1:K_total) {
    all_ones[k] = min(col(Z, k)) == 1 && max(col(Z, k)) == 1;
  }
  int has_sigma = family == 1 || family == 5;
  int has_phi = family == 4;
  int has_nu = family == 5;
  int n_sampled = integrated ? 0 : n_effects;
  // The integrated form's sufficient statistics, per level j of the one term (Stan User's Guide,
  // "Exploiting sufficient statistics"): with r = y - offset, Z_j'Z_j, Z_j'X_j, Z_j'r_j, X'X, X'r, r'r.
  int K1 = integrated ? K[1] : 0;
  int J1 = integrated ? J[1] : 0;
  array[J1] matrix[K1, K1] ZtZ;
  matrix[J1 * K1, P] ZtX = rep_matrix(0, J1 * K1, P);   // level j's K1 rows one block after another
  vector[J1 * K1] Ztr = rep_vector(0, J1 * K1);
  matrix[integrated ? P : 0, integrated ? P : 0] XtX;
  vector[integrated ? P : 0] Xtr;
  real rtr = 0;
  vector[K1 == 1 ? J1 : 0] ztz_scalar;      // Z_j'Z_j when it is 1 x 1
  // When it is 2 x 2, its three entries as vectors over the levels, and where each level's two
  // entries of Z_j'r and Z_j'X sit (first, second): the closed form of correlated.stan, vectorised.
  int J2 = K1 == 2 ? J1 : 0;
  vector[J2] ztz_11;
  vector[J2] ztz_12;
  vector[J2] ztz_22;
  array[J2] int first_entry;
  array[J2] int second_entry;
  if (integrated) {
    vector[N] r = y_real - offset_;
    for (j in 1:J1) {
      ZtZ[j] = rep_matrix(0, K1, K1);
    }
    for (i in 1:N) {
      int j = level[1, i];
      row_vector[K1] z_i = Z[i, 1:K1];
      ZtZ[j] += z_i' * z_i;
      ZtX[((j - 1) * K1 + 1):(j * K1)] += z_i' * X[i];
      Ztr[((j - 1) * K1 + 1):(j * K1)] += z_i' * r[i];
    }
    XtX = crossprod(X);
    Xtr = X' * r;
    rtr = dot_self(r);
    if (K1 == 1) {
      for (j in 1:J1) {
        ztz_scalar[j] = ZtZ[j, 1, 1];
      }
    }
    for (j in 1:J2) {
      ztz_11[j] = ZtZ[j, 1, 1];
      ztz_12[j] = ZtZ[j, 1, 2];
      ztz_22[j] = ZtZ[j, 2, 2];
      first_entry[j] = 2 * j - 1;
      second_entry[j] = 2 * j;
    }
  }
}
parameters {
  vector[P] beta;                           // fixed effects
  vector<lower=0>[K_total] tau;             // SDs of the group effects, term after term
  vector<lower=-1, upper=1>[n_cpc] cpc;     // canonical partial correlations of the correlated terms
  vector<lower=0>[has_sigma] sigma;
  vector<lower=0>[has_phi] phi;
  vector<lower=nu_lower>[has_nu] nu;        // student_t: small, heavy tails; large, close to normal
  vector[n_sampled] z;                      // group effects, term after term, level by level: standardised
                                            // (non-centered) or the effects themselves (centered)
}
model {
  beta ~ normal(prior_fixed_mean, prior_fixed_sd);
  tau ~ normal(0, prior_sd_scale);
  target += beta_lpdf(0.5 * (cpc + 1) | cpc_shape, cpc_shape);
  sigma ~ normal(0, prior_sigma_sd);
  phi ~ gamma(prior_phi_shape, prior_phi_rate);
  nu ~ gamma(prior_nu_shape, prior_nu_rate);  // the truncation's constant is data: left out
  if (!integrated) {
    vector[N] eta = offset_;
    if (P > 0) {
      eta += X * beta;
    }
    for (t in 1:T) {
      int first = column_start[t];
      matrix[K[t], K[t]] S = diag_matrix(tau[first:(first + K[t] - 1)]);
      if (cpc_size[t] > 0) {
        S = diag_pre_multiply(tau[first:(first + K[t] - 1)],
                              cholesky_from_cpc(segment(cpc, cpc_start[t], cpc_size[t]), K[t]));
      }
      matrix[K[t], J[t]] sampled = to_matrix(segment(z, effect_start[t], K[t] * J[t]), K[t], J[t]);
      matrix[K[t], J[t]] b;  // the effects, level j in column j
      if (centered[t]) {
        // The sampler moves the effects themselves; b_j ~ N(0, S S') as S^-1 b_j ~ N(0, I), with the Jacobian.
        b = sampled;
        to_vector(mdivide_left_tri_low(S, sampled)) ~ std_normal();
        target += -J[t] * sum(log(diagonal(S)));
      } else {
        b = S * sampled;
        to_vector(sampled) ~ std_normal();
      }
      if (!prior_only) {
        for (k in 1:K[t]) {
          if (all_ones[first + k - 1]) {
            eta += b[k, level[t]]';
          } else {
            eta += col(Z, first + k - 1) .* b[k, level[t]]';
          }
        }
      }
    }
    if (prior_only) {
      // no likelihood
    } else if (family == 1) {
      y_real ~ normal(eta, sigma[1]);
    } else if (family == 2) {
      y_int ~ binomial_logit(trials, eta);
    } else if (family == 3) {
      y_int ~ poisson_log(eta);
    } else if (family == 4) {
      y_real ~ gamma(phi[1], phi[1] * exp(-eta));
    } else {
      y_real ~ student_t(nu[1], eta, sigma[1]);
    }
  } else if (!prior_only) {
    // Per level j, y_j ~ N(X_j beta + offset_j, Z_j S S' Z_j' + sigma^2 I). By Woodbury, with
    // M_j = I + S'Z_j'Z_j S / sigma^2 and v_j = S'(Z_j'r_j - Z_j'X_j beta) / sigma^2, the log density is
    // -N log sigma - 1/2 sum_j log det M_j - 1/2 (|r - X beta|^2 / sigma^2 - sum_j v_j' M_j^-1 v_j) + const.
    real s2 = square(sigma[1]);
    real rr = rtr - 2 * dot_product(beta, Xtr) + quad_form(XtX, beta);
    vector[J1 * K1] Zres = Ztr - ZtX * beta;
    real log_det = 0;
    real quadratic = 0;
    if (K1 == 1) {
      // One effect per level (a random intercept, or one slope): scalars, vectorised over the levels.
      vector[J1] m = 1 + square(tau[1]) * ztz_scalar / s2;
      log_det = sum(log(m));
      quadratic = square(tau[1] / s2) * sum(square(Zres) ./ m);
    } else if (K1 == 2) {
      // Two effects per level, S = [a, 0; b, c]: M_j and v_j written out (as in correlated.stan).
      real a = tau[1];
      real b = correlated[1] ? tau[2] * cpc[1] : 0;
      real c = correlated[1] ? tau[2] * sqrt(1 - square(cpc[1])) : tau[2];
      vector[J1] r1 = Zres[first_entry];
      vector[J1] r2 = Zres[second_entry];
      vector[J1] m11 = 1 + (square(a) * ztz_11 + 2 * a * b * ztz_12 + square(b) * ztz_22) / s2;
      vector[J1] m12 = c * (a * ztz_12 + b * ztz_22) / s2;
      vector[J1] m22 = 1 + square(c) * ztz_22 / s2;
      vector[J1] det_m = m11 .* m22 - square(m12);
      vector[J1] v1 = (a * r1 + b * r2) / s2;
      vector[J1] v2 = c * r2 / s2;
      log_det = sum(log(det_m));
      quadratic = sum((m22 .* square(v1) - 2 * m12 .* v1 .* v2 + m11 .* square(v2)) ./ det_m);
    } else {
      matrix[K1, K1] S = correlated[1] ? diag_pre_multiply(tau, cholesky_from_cpc(cpc, K1))
                                       : diag_matrix(tau);
      for (j in 1:J1) {
        matrix[K1, K1] chol_M = cholesky_decompose(add_diag(quad_form(ZtZ[j], S) / s2, 1));
        vector[K1] u = mdivide_left_tri_low(chol_M, S' * Zres[((j - 1) * K1 + 1):(j * K1)] / s2);
        log_det += 2 * sum(log(diagonal(chol_M)));
        quadratic += dot_self(u);
      }
    }
    target += -N * log(sigma[1]) - 0.5 * log_det - 0.5 * (rr / s2 - quadratic);
  }
}
