// Solution to chapter 6's exercise "The Student-t model in your own
// Stan program": (Days | Subject) with a Student-t likelihood,
//   y_i ~ student_t(nu, alpha[g_i] + beta[g_i] * x_i, sigma_y),
// the effects non-centered as in correlated.stan, and the
// catalogue's "correlated" priors as data, plus a prior on nu.
data {
  int<lower=1> N;
  int<lower=2> J;
  array[N] int<lower=1, upper=J> group;
  vector[N] x;
  vector[N] y;
  real prior_mu_alpha_mean;
  real<lower=0> prior_mu_alpha_sd;
  real prior_mu_beta_mean;
  real<lower=0> prior_mu_beta_sd;
  real<lower=0> prior_sigma_alpha_sd;
  real<lower=0> prior_sigma_beta_sd;
  real<lower=0> prior_sigma_y_sd;
  real<lower=0> prior_lkj_eta;
}
parameters {
  real mu_alpha;
  real mu_beta;
  real<lower=0> sigma_alpha;
  real<lower=0> sigma_beta;
  real<lower=0> sigma_y; // the t's scale, not its sd
  real<lower=1> nu;      // small: heavy tails; large: near normal
  cholesky_factor_corr[2] L;
  matrix[2, J] z;        // standard normal, a column per group
}
transformed parameters {
  vector[J] alpha;
  vector[J] beta;
  {
    matrix[2, J] deviation
      = diag_pre_multiply([sigma_alpha, sigma_beta]', L) * z;
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
  nu ~ gamma(2, 0.1); // as fit_formula's student_t (brms's default)
  to_vector(z) ~ std_normal();
  y ~ student_t(nu, alpha[group] + beta[group] .* x, sigma_y);
}
generated quantities {
  real rho = L[2, 1];
  vector[N] log_lik; // each row's log density, for az.loo
  for (i in 1:N) {
    log_lik[i] = student_t_lpdf(y[i] | nu,
                   alpha[group[i]] + beta[group[i]] * x[i], sigma_y);
  }
}
