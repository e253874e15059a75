// The data both Gaussian programs read, included in the data block of uncorrelated.stan and
// correlated.stan (not a program of its own): the rows, and the settings of the five priors they share.
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
