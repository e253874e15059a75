// (x || g): a random intercept and a random slope per group, uncorrelated; Gaussian outcome.
//   y_i     ~ N(alpha[g_i] + beta[g_i] * x_i, sigma_y)
//   alpha_j ~ N(mu_alpha, sigma_alpha)
//   beta_j  ~ N(mu_beta, sigma_beta)
// Priors and switches arrive as data, so this one compiled program serves every prior (half-normal
// or uniform on the standard deviations), both parameterisations, three ways of writing the
// likelihood and the prior predictive check. The likelihood's functions, shared with correlated.stan,
// are in integrated_gaussian.stanfunctions.
functions {
  #include integrated_gaussian.stanfunctions
}
data {
  #include gaussian_data.stan
  int<lower=0, upper=1> uniform_sds; // 1: each sd ~ uniform(0, its prior_..._sd), as in the blog post's Part 2
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
  // per group: rows, sums of x, x^2, y, x * y
  tuple(vector[J], vector[J], vector[J], vector[J], vector[J]) sums = group_sums(J, group, x, y);
  real sum_yy = dot_self(y);
  int J_sampled = integrated ? 0 : J;  // group effects the sampler moves
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
      target += integrated_gaussian(mu_alpha, mu_beta, sigma_alpha, 0, sigma_beta, sigma_y, sums, sum_yy);
    } else if (by_row) {
      y ~ normal(alpha[group] + beta[group] .* x, sigma_y);
    } else {
      target += gaussian_from_sums(alpha, beta, sigma_y, sums, sum_yy);
    }
  }
}
