// (x || g) with a Gamma outcome and a log link: a generalised linear mixed model.
//   y_i     ~ Gamma(shape phi, rate phi / mu_i),  log(mu_i) = alpha[g_i] + beta[g_i] * x_i
//   alpha_j ~ N(mu_alpha, sigma_alpha)
//   beta_j  ~ N(mu_beta, sigma_beta)
// so E[y_i] = mu_i and sd(y_i) = mu_i / sqrt(phi): the spread grows with the level, and y > 0.
// Priors and switches arrive as data, so one compiled program serves every prior,
// both parameterisations and the prior predictive check.
data {
  int<lower=1> N;                       // observations
  int<lower=2> J;                       // groups
  array[N] int<lower=1, upper=J> group; // group of each observation
  vector[N] x;                          // predictor
  vector<lower=0>[N] y;                 // outcome, positive
  real prior_mu_alpha_mean;             // the means and spreads of alpha and beta are on the log scale
  real<lower=0> prior_mu_alpha_sd;
  real prior_mu_beta_mean;
  real<lower=0> prior_mu_beta_sd;
  real<lower=0> prior_sigma_alpha_sd;
  real<lower=0> prior_sigma_beta_sd;
  real<lower=0> prior_phi_shape;     // phi ~ Gamma(shape, rate)
  real<lower=0> prior_phi_rate;
  int<lower=0, upper=1> noncentered; // 1: the sampler moves (alpha - mu_alpha) / sigma_alpha, not alpha
  int<lower=0, upper=1> prior_only;  // 1: no likelihood, for the prior predictive check
}
parameters {
  real mu_alpha;
  real mu_beta;
  real<lower=0> sigma_alpha;
  real<lower=0> sigma_beta;
  real<lower=0> phi;
  vector<offset=(noncentered ? mu_alpha : 0.0), multiplier=(noncentered ? sigma_alpha : 1.0)>[J] alpha;
  vector<offset=(noncentered ? mu_beta : 0.0), multiplier=(noncentered ? sigma_beta : 1.0)>[J] beta;
}
model {
  mu_alpha ~ normal(prior_mu_alpha_mean, prior_mu_alpha_sd);
  mu_beta ~ normal(prior_mu_beta_mean, prior_mu_beta_sd);
  sigma_alpha ~ normal(0, prior_sigma_alpha_sd);
  sigma_beta ~ normal(0, prior_sigma_beta_sd);
  phi ~ gamma(prior_phi_shape, prior_phi_rate);
  alpha ~ normal(mu_alpha, sigma_alpha);
  beta ~ normal(mu_beta, sigma_beta);
  if (!prior_only) {
    y ~ gamma(phi, phi * exp(-(alpha[group] + beta[group] .* x)));
  }
}
