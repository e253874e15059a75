// (x | g): a random intercept and a random slope per group, correlated; Gaussian outcome.
//   y_i                ~ N(alpha[g_i] + beta[g_i] * x_i, sigma_y)
//   (alpha_j, beta_j)' ~ MVN((mu_alpha, mu_beta)', diag(tau) * Omega * diag(tau)),
//   tau = (sigma_alpha, sigma_beta)', Omega = L * L' with correlation rho.
// Three forms of one model, chosen by data:
//   centered:     the sampler moves the effects themselves, z[, j] = (alpha_j, beta_j)';
//   non-centered: as in the Stan User's Guide ("Multivariate priors for hierarchical models"),
//                 it moves z ~ N(0, 1), and the effects are mu + diag_pre_multiply(tau, L) * z;
//   integrated:   no z: the effects are integrated out of the likelihood, as in uncorrelated.stan.
data {
  int<lower=1> N;                       // observations
  int<lower=2> J;                       // groups
  array[N] int<lower=1, upper=J> group; // group of each observation
  vector[N] x;                          // predictor
  vector[N] y;                          // outcome
  real prior_mu_alpha_mean;
  real<lower=0> prior_mu_alpha_sd;
  real prior_mu_beta_mean;
  real<lower=0> prior_mu_beta_sd;
  real<lower=0> prior_sigma_alpha_sd;
  real<lower=0> prior_sigma_beta_sd;
  real<lower=0> prior_sigma_y_sd;
  real<lower=0> prior_lkj_eta;       // LKJ shape: 1 is uniform on rho, larger pulls rho towards 0
  int<lower=0, upper=1> noncentered; // 1: the sampler moves standardised effects z, not the effects
  int<lower=0, upper=1> integrated;  // 1: the effects integrated out of the likelihood (drawn afterwards, in NumPy)
  int<lower=0, upper=1> prior_only;  // 1: no likelihood, for the prior predictive check
}
transformed data {
  // A group's Gaussian likelihood depends on its rows only through these sums, so a
  // gradient costs O(J), not O(N) (Stan User's Guide, "Exploiting sufficient statistics").
  vector[J] n = rep_vector(0, J);
  vector[J] sum_x = rep_vector(0, J);
  vector[J] sum_xx = rep_vector(0, J);
  vector[J] sum_y = rep_vector(0, J);
  vector[J] sum_xy = rep_vector(0, J);
  real sum_yy = dot_self(y);
  int J_sampled = integrated ? 0 : J;  // group effects the sampler moves
  for (i in 1:N) {
    n[group[i]] += 1;
    sum_x[group[i]] += x[i];
    sum_xx[group[i]] += square(x[i]);
    sum_y[group[i]] += y[i];
    sum_xy[group[i]] += x[i] * y[i];
  }
}
parameters {
  real mu_alpha;
  real mu_beta;
  real<lower=0> sigma_alpha;
  real<lower=0> sigma_beta;
  real<lower=0> sigma_y;
  cholesky_factor_corr[2] L;
  matrix[2, J_sampled] z; // centered: the effects; non-centered: the effects standardised
}
transformed parameters {
  vector[J_sampled] alpha = z[1]';
  vector[J_sampled] beta = z[2]';
  if (noncentered) {
    matrix[2, J] deviation = diag_pre_multiply([sigma_alpha, sigma_beta]', L) * z;
    alpha = mu_alpha + deviation[1]';
    beta = mu_beta + deviation[2]';
  }
}
model {
  mu_alpha ~ normal(prior_mu_alpha_mean, prior_mu_alpha_sd);
  mu_beta ~ normal(prior_mu_beta_mean, prior_mu_beta_sd);
  sigma_alpha ~ normal(0, prior_sigma_alpha_sd);
  sigma_beta ~ normal(0, prior_sigma_beta_sd);
  sigma_y ~ normal(0, prior_sigma_y_sd);
  L ~ lkj_corr_cholesky(prior_lkj_eta);
  if (noncentered) {
    to_vector(z) ~ std_normal();
  } else {
    matrix[2, 2] scaled_L = diag_pre_multiply([sigma_alpha, sigma_beta]', L);
    for (j in 1:J_sampled) {
      z[, j] ~ multi_normal_cholesky([mu_alpha, mu_beta]', scaled_L);
    }
  }
  if (!prior_only && integrated) {
    // uncorrelated.stan's integrated likelihood, with the effects' scale S = diag(tau) * L = [a, 0; b, c]
    // in place of diag(sigma_alpha, sigma_beta): M = I + S'X'X S / sigma_y^2 and v = S'X'r / sigma_y^2.
    real s2 = square(sigma_y);
    real a = sigma_alpha;
    real b = sigma_beta * L[2, 1];
    real c = sigma_beta * L[2, 2];
    vector[J] r = sum_y - n * mu_alpha - sum_x * mu_beta;       // sum of residuals
    vector[J] xr = sum_xy - sum_x * mu_alpha - sum_xx * mu_beta; // sum of x * residual
    real rr = sum_yy - 2 * mu_alpha * sum(sum_y) - 2 * mu_beta * sum(sum_xy) + square(mu_alpha) * N
              + 2 * mu_alpha * mu_beta * sum(sum_x) + square(mu_beta) * sum(sum_xx);
    vector[J] m11 = 1 + (square(a) * n + 2 * a * b * sum_x + square(b) * sum_xx) / s2;
    vector[J] m12 = c * (a * sum_x + b * sum_xx) / s2;
    vector[J] m22 = 1 + square(c) * sum_xx / s2;
    vector[J] det_m = m11 .* m22 - square(m12);
    vector[J] v1 = (a * r + b * xr) / s2;
    vector[J] v2 = c * xr / s2;
    target += -N * log(sigma_y) - 0.5 * sum(log(det_m))
              - 0.5 * (rr / s2 - sum((m22 .* square(v1) - 2 * m12 .* v1 .* v2 + m11 .* square(v2)) ./ det_m));
  } else if (!prior_only) {
    // sum over rows of (y - alpha - beta * x)^2, expanded group by group
    real squared_error = sum_yy
                         - 2 * dot_product(alpha, sum_y) - 2 * dot_product(beta, sum_xy)
                         + dot_product(n, square(alpha)) + 2 * dot_product(alpha .* beta, sum_x)
                         + dot_product(sum_xx, square(beta));
    target += -N * log(sigma_y) - 0.5 * squared_error / square(sigma_y);
  }
}
generated quantities {
  real rho = L[2, 1]; // correlation of a group's intercept and slope
}
