// Statistics of feature sets shared by the training code's files (src/train/pca.cpp,
// src/train/frechet.cpp) and the tasks that judge generative models. Internal.
#pragma once

#include <cstdint>
#include <vector>

#include "nabla/tensor.hpp"

namespace nabla::train::internal {

// Eigenvalues and eigenvectors (the columns of `vectors`, row-major n x n) of the symmetric
// matrix `a` (row-major n x n, destroyed), by cyclic Jacobi rotations.
void symmetric_eigen(std::vector<double>& a, int64_t n, std::vector<double>& values,
                     std::vector<double>& vectors);
// The mean of the rows of x [N, D] (any numeric dtype, taken as f32) and their covariance (D x D,
// row-major, divided by N - 1), products by nabla's matmul in chunks of rows, summed in double.
void mean_and_covariance(const Tensor& x, std::vector<double>& mean,
                         std::vector<double>& covariance);

// The Fréchet distance between the Gaussians fitted to two sets of feature rows a [N, D] and
// b [M, D] (N, M >= 2): |mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2)), the formula of FID
// (Heusel et al., 2017) on whatever features are given. The trace of the matrix square root is
// taken as sum_i sqrt(lambda_i) over the eigenvalues of the symmetric S_a^(1/2) S_b S_a^(1/2)
// (which has the eigenvalues of S_a S_b), both square roots by symmetric eigendecomposition;
// eigenvalues below zero by rounding count as zero. Error naming the shapes when they differ.
double frechet_distance(const Tensor& a, const Tensor& b);

}  // namespace nabla::train::internal
