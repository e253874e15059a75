// Logistic growth of orange trees, each tree with its own final size:
//   circumference_i ~ N(asym_tree[j[i]] / (1 + exp((xmid - age_i) / scal)), sigma),
//   asym_tree[j] ~ N(asym, sd_asym),
// the model of lme4's
//   nlmer(circumference ~ SSlogis(age, Asym, xmid, scal) ~ Asym | Tree, Orange).
// The priors' settings arrive as data, so trying other priors needs no new
// compile, and so do the rows to predict.
functions {
  // R's SSlogis: Asym / (1 + exp((xmid - input) / scal)).
  vector logistic_growth(vector age, vector asym, real xmid, real scal) {
    return asym ./ (1 + exp((xmid - age) / scal));
  }
}
data {
  int<lower=1> N;                         // measurements
  int<lower=1> J;                         // trees
  array[N] int<lower=1, upper=J> tree;    // the tree of each measurement
  vector[N] age;                          // days since 31 December 1968
  vector[N] circumference;                // trunk circumference, mm
  real prior_asym_mean;
  real<lower=0> prior_asym_sd;
  real prior_xmid_mean;
  real<lower=0> prior_xmid_sd;
  real prior_scal_mean;
  real<lower=0> prior_scal_sd;
  real<lower=0> prior_sd_asym_scale;
  real<lower=0> prior_sigma_scale;
  int<lower=0> N_new;                     // rows to predict
  vector[N_new] age_new;
  array[N_new] int<lower=1, upper=J + 1> tree_new; // J + 1: a tree not in the data
}
parameters {
  real<lower=0> asym;      // the typical tree's final circumference, mm
  real xmid;               // the age at which a tree reaches half of it, days
  real<lower=0> scal;      // how slowly it gets there, days
  real<lower=0> sd_asym;   // how much the trees' final circumferences differ, mm
  vector[J] asym_tree;     // each tree's final circumference, mm
  real<lower=0> sigma;     // the scatter of the measurements about a tree's curve, mm
}
model {
  asym ~ normal(prior_asym_mean, prior_asym_sd);
  xmid ~ normal(prior_xmid_mean, prior_xmid_sd);
  scal ~ normal(prior_scal_mean, prior_scal_sd);
  sd_asym ~ normal(0, prior_sd_asym_scale);
  sigma ~ normal(0, prior_sigma_scale);
  asym_tree ~ normal(asym, sd_asym);
  circumference ~ normal(logistic_growth(age, asym_tree[tree], xmid, scal), sigma);
}
generated quantities {
  vector[N] log_lik;                     // each measurement's log density, for PSIS-LOO
  array[N] real circumference_rep;       // a replicated data set, for predictive checks
  array[N_new] real circumference_new;   // predictions for the new rows
  {
    vector[N] mu = logistic_growth(age, asym_tree[tree], xmid, scal);
    for (i in 1:N) {
      log_lik[i] = normal_lpdf(circumference[i] | mu[i], sigma);
    }
    circumference_rep = normal_rng(mu, sigma);
    // One new tree per draw, its final size drawn from the population of trees.
    vector[J + 1] asym_all = append_row(asym_tree, normal_rng(asym, sd_asym));
    circumference_new = normal_rng(logistic_growth(age_new, asym_all[tree_new], xmid, scal), sigma);
  }
}
