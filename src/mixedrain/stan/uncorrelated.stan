// (x || g): a random intercept and a random slope per group, uncorrelated; Gaussian outcome.
//   y_i     ~ N(alpha[g_i] + beta[g_i] * x_i, sigma_y)
//   alpha_j ~ N(mu_alpha, sigma_alpha)
//   beta_j  ~ N(mu_beta, sigma_beta)
// Priors and switches arrive as data, so this one compiled program serves every prior (half-normal
// or uniform on the standard deviations), both parameterisations, three ways of writing the
// likelihood and the prior predictive check.
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
  int<lower=0, upper=1> uniform_sds; // 1: each sd ~ uniform(0, its prior_..._sd), as in the seed's Part 2
  int<lower=0, upper=1> noncentered; // 1: the sampler moves (alpha - mu_alpha) / sigma_alpha, not alpha
  int<lower=0, upper=1> by_row;      // 1: likelihood row by row; 0: the same from per-group sums
  int<lower=0, upper=1> integrated;  // 1: alpha and beta integrated out of the likelihood (drawn afterwards, in NumPy)
  int<lower=0, upper=1> prior_only;  // 1: no likelihood, for the prior predictive check
}
transformed data {
  // A uniform prior is a bound and nothing else: a flat density up to it.
  real sigma_alpha_upper = uniform_sds ? prior_sigma_alpha_sd : positive_infinity();
  real sigma_beta_upper = uniform_sds ? prior_sigma_beta_sd : positive_infinity();
  real sigma_y_upper = uniform_sds ? prior_sigma_y_sd : positive_infinity();
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
  real<lower=0, upper=sigma_alpha_upper> sigma_alpha;
  real<lower=0, upper=sigma_beta_upper> sigma_beta;
  real<lower=0, upper=sigma_y_upper> sigma_y;
  vector<offset=(noncentered ? mu_alpha : 0.0), multiplier=(noncentered ? sigma_alpha : 1.0)>[J_sampled] alpha;
  vector<offset=(noncentered ? mu_beta : 0.0), multiplier=(noncentered ? sigma_beta : 1.0)>[J_sampled] beta;
}
model {
  mu_alpha ~ normal(prior_mu_alpha_mean, prior_mu_alpha_sd);
  mu_beta ~ normal(prior_mu_beta_mean, prior_mu_beta_sd);
  if (!uniform_sds) {
    sigma_alpha ~ normal(0, prior_sigma_alpha_sd);
    sigma_beta ~ normal(0, prior_sigma_beta_sd);
    sigma_y ~ normal(0, prior_sigma_y_sd);
  }
  alpha ~ normal(mu_alpha, sigma_alpha);
  beta ~ normal(mu_beta, sigma_beta);
  if (!prior_only) {
    if (integrated) {
      // A group's rows are jointly Gaussian once alpha_j and beta_j are integrated out. Their log
      // density is, up to a constant, -n_j log sigma_y - 0.5 log det M - 0.5 (r'r / sigma_y^2 - v' M^-1 v),
      // where r are the rows' residuals from the population line, X = [1, x], S = diag(sigma_alpha,
      // sigma_beta), M = I + S X'X S / sigma_y^2 (2 x 2) and v = S X'r / sigma_y^2: all from the
      // same per-group sums. (M and v are the precision and the scaled mean of the group's
      // standardised effects given its rows, which fit.py uses to draw alpha_j and beta_j.)
      real s2 = square(sigma_y);
      vector[J] r = sum_y - n * mu_alpha - sum_x * mu_beta;       // sum of residuals
      vector[J] xr = sum_xy - sum_x * mu_alpha - sum_xx * mu_beta; // sum of x * residual
      real rr = sum_yy - 2 * mu_alpha * sum(sum_y) - 2 * mu_beta * sum(sum_xy) + square(mu_alpha) * N
                + 2 * mu_alpha * mu_beta * sum(sum_x) + square(mu_beta) * sum(sum_xx);
      vector[J] m11 = 1 + n * square(sigma_alpha) / s2;
      vector[J] m12 = sum_x * (sigma_alpha * sigma_beta / s2);
      vector[J] m22 = 1 + sum_xx * square(sigma_beta) / s2;
      vector[J] det_m = m11 .* m22 - square(m12);
      vector[J] v1 = r * (sigma_alpha / s2);
      vector[J] v2 = xr * (sigma_beta / s2);
      target += -N * log(sigma_y) - 0.5 * sum(log(det_m))
                - 0.5 * (rr / s2 - sum((m22 .* square(v1) - 2 * m12 .* v1 .* v2 + m11 .* square(v2)) ./ det_m));
    } else if (by_row) {
      y ~ normal(alpha[group] + beta[group] .* x, sigma_y);
    } else {
      // sum over rows of (y - alpha - beta * x)^2, expanded group by group
      real squared_error = sum_yy
                           - 2 * dot_product(alpha, sum_y) - 2 * dot_product(beta, sum_xy)
                           + dot_product(n, square(alpha)) + 2 * dot_product(alpha .* beta, sum_x)
                           + dot_product(sum_xx, square(beta));
      target += -N * log(sigma_y) - 0.5 * squared_error / square(sigma_y);
    }
  }
}
