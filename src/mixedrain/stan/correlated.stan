// (x | g): a random intercept and a random slope per group, correlated; Gaussian outcome.
//   y_i                ~ N(alpha[g_i] + beta[g_i] * x_i, sigma_y)
//   (alpha_j, beta_j)' ~ MVN((mu_alpha, mu_beta)', diag(tau) * Omega * diag(tau)),
//   tau = (sigma_alpha, sigma_beta)', Omega = L * L' with correlation rho.
// Three forms of one model, chosen by data:
//   centered:     the sampler moves the effects themselves, z[, j] = (alpha_j, beta_j)';
//   non-centered: as in the Stan User's Guide ("Multivariate priors for hierarchical models"),
//                 it moves z ~ N(0, 1), and the effects are mu + diag_pre_multiply(tau, L) * z;
//   integrated:   no z: the effects are integrated out of the likelihood, as in uncorrelated.stan.
functions {
  #include integrated_gaussian.stanfunctions
}
data {
  #include gaussian_data.stan
  real<lower=0> prior_lkj_eta;       // LKJ shape: 1 is uniform on rho, larger pulls rho towards 0
  int<lower=0, upper=1> noncentered; // 1: the sampler moves standardised effects z, not the effects
  int<lower=0, upper=1> integrated;  // 1: the effects integrated out of the likelihood (drawn afterwards, in NumPy)
  int<lower=0, upper=1> prior_only;  // 1: no likelihood, for the prior predictive check
}
transformed data {
  int J_sampled = integrated ? 0 : J;  // columns of z: group effects the sampler moves
  // per group: rows, sums of x, x^2, y, x * y
  tuple(vector[J], vector[J], vector[J], vector[J], vector[J]) sums = group_sums(J, group, x, y);
  real sum_yy = dot_self(y);
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
    // the effects' scale S = diag(sigma_alpha, sigma_beta) * L = [a, 0; b, c]
    target += integrated_gaussian(mu_alpha, mu_beta, sigma_alpha, sigma_beta * L[2, 1], sigma_beta * L[2, 2],
                                  sigma_y, sums, sum_yy);
  } else if (!prior_only) {
    target += gaussian_from_sums(alpha, beta, sigma_y, sums, sum_yy);
  }
}
generated quantities {
  real rho = L[2, 1]; // correlation of a group's intercept and slope
}
