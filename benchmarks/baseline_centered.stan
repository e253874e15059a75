// Uncorrelated random intercept and random slope, centered parameterisation.
// The seed's model: y_i = alpha_j[i] + beta_j[i] * x_i + e_i.
// Priors arrive as data so one compiled program serves every prior and the
// prior predictive check (prior_only = 1 drops the likelihood).
data {
  int<lower=1> N;                       // observations
  int<lower=2> J;                       // groups (states)
  array[N] int<lower=1, upper=J> group; // group of each observation
  vector[N] x;                          // predictor (year index, maybe centred)
  vector[N] y;                          // outcome (average rainfall)
  real prior_mu_alpha_mean;
  real<lower=0> prior_mu_alpha_sd;
  real prior_mu_beta_mean;
  real<lower=0> prior_mu_beta_sd;
  real<lower=0> prior_sigma_alpha_sd;
  real<lower=0> prior_sigma_beta_sd;
  real<lower=0> prior_sigma_y_sd;
  int<lower=0, upper=1> prior_only;
}
parameters {
  real mu_alpha;
  real mu_beta;
  real<lower=0> sigma_alpha;
  real<lower=0> sigma_beta;
  real<lower=0> sigma_y;
  vector[J] alpha;
  vector[J] beta;
}
model {
  mu_alpha ~ normal(prior_mu_alpha_mean, prior_mu_alpha_sd);
  mu_beta ~ normal(prior_mu_beta_mean, prior_mu_beta_sd);
  sigma_alpha ~ normal(0, prior_sigma_alpha_sd);
  sigma_beta ~ normal(0, prior_sigma_beta_sd);
  sigma_y ~ normal(0, prior_sigma_y_sd);
  alpha ~ normal(mu_alpha, sigma_alpha);
  beta ~ normal(mu_beta, sigma_beta);
  if (!prior_only) {
    y ~ normal(alpha[group] + beta[group] .* x, sigma_y);
  }
}
generated quantities {
  // Replicated data for posterior (or prior) predictive checks.
  array[N] real y_rep = normal_rng(alpha[group] + beta[group] .* x, sigma_y);
}
