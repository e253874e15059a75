// The book's model as it reads on paper (chapter 2). The book fits the same model through
// uncorrelated.stan, written for speed (chapter 3); tests/test_first_model.py checks that both
// give the same log density up to a constant.
data {
  int<lower=1> N;                        // rows: one per state and year
  int<lower=2> J;                        // states
  array[N] int<lower=1, upper=J> group;  // each row's state, 1 to J
  vector[N] x;                           // year index
  vector[N] y;                           // rainfall
  real prior_mu_alpha_mean;              // the prior settings (chapter 2, "Priors")
  real<lower=0> prior_mu_alpha_sd;
  real prior_mu_beta_mean;
  real<lower=0> prior_mu_beta_sd;
  real<lower=0> prior_sigma_alpha_sd;
  real<lower=0> prior_sigma_beta_sd;
  real<lower=0> prior_sigma_y_sd;
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
  mu_alpha ~ normal(prior_mu_alpha_mean, prior_mu_alpha_sd);  // priors
  mu_beta ~ normal(prior_mu_beta_mean, prior_mu_beta_sd);
  sigma_alpha ~ normal(0, prior_sigma_alpha_sd);
  sigma_beta ~ normal(0, prior_sigma_beta_sd);
  sigma_y ~ normal(0, prior_sigma_y_sd);
  alpha ~ normal(mu_alpha, sigma_alpha);                      // random effects
  beta ~ normal(mu_beta, sigma_beta);
  y ~ normal(alpha[group] + beta[group] .* x, sigma_y);        // likelihood
}
