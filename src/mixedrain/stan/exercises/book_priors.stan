// Solution to chapter 3's exercise "Part 2's program with the
// book's priors": Part 2's program, edited into the catalogue's
// "centered" model. The priors arrive as data under the catalogue's
// names, so program_data("centered", prepared) feeds this program.
data {
  int<lower=1> N;
  int<lower=1> J;
  array[N] int<lower=1, upper=J> group; // was: county
  vector[N] x;                          // was: year
  vector[N] y;                          // was: rainfall
  real prior_mu_alpha_mean;
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
  real<lower=0> sigma_alpha; // was: <lower=0, upper=100>
  real<lower=0> sigma_beta;
  real<lower=0> sigma_y;
  vector[J] alpha;
  vector[J] beta;
}
model {
  // Local: used here, not saved with every draw
  // (it was a transformed parameter).
  vector[N] predicted_rainfall = alpha[group] + beta[group] .* x;
  mu_alpha ~ normal(prior_mu_alpha_mean, prior_mu_alpha_sd);
  mu_beta ~ normal(prior_mu_beta_mean, prior_mu_beta_sd);
  // normal(0, s) on a parameter declared <lower=0> is a half-normal.
  sigma_alpha ~ normal(0, prior_sigma_alpha_sd);
  sigma_beta ~ normal(0, prior_sigma_beta_sd);
  sigma_y ~ normal(0, prior_sigma_y_sd);
  alpha ~ normal(mu_alpha, sigma_alpha);
  beta ~ normal(mu_beta, sigma_beta);
  y ~ normal(predicted_rainfall, sigma_y);
}
