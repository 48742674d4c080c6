// optimizer_update: every rule in its variants (momentum, Nesterov, weight decay, AMSGrad, AdamW's
// decay), dense over the whole table and sparse over a list of rows.
#include <cmath>

#include "test_support.h"

namespace nne_test {

void test_optimizers(const nne::Kernels& kernels) {
  auto base = [] {
    nne::OptimizerScalars s{};
    s.lr = -0.05f; s.a = 0.9f; s.b = 0.999f; s.c = 0.3f; s.one_minus_a = 0.1f; s.one_minus_b = 0.001f;
    s.eps = 1e-8f; s.weight_decay = 0.0f; s.decay = 1.0f; s.first_step = false; s.nesterov = false;
    s.lr_double = 0.05; s.eps_double = 1e-10;
    return s;
  };
  for (int variant = 0; variant < 12; ++variant) {
    nne::OptimizerScalars s = base();
    switch (variant) {
      case 0: s.rule = nne::OptimizerRule::sgd; break;
      case 1: s.rule = nne::OptimizerRule::sgd; s.weight_decay = 0.01f; s.first_step = true; break;  // momentum, first step
      case 2: s.rule = nne::OptimizerRule::sgd; s.b = 0.7f; break;                                   // momentum
      case 3: s.rule = nne::OptimizerRule::sgd; s.nesterov = true; s.weight_decay = 0.02f; break;
      case 4: s.rule = nne::OptimizerRule::adagrad; break;
      case 5: s.rule = nne::OptimizerRule::adagrad; s.weight_decay = 0.1f; break;
      case 6: s.rule = nne::OptimizerRule::adam; break;
      case 7: s.rule = nne::OptimizerRule::adam; s.weight_decay = 0.01f; break;  // amsgrad below
      case 8: s.rule = nne::OptimizerRule::adam; s.decay = 0.9995f; break;       // AdamW
      case 9: s.rule = nne::OptimizerRule::sparse_adam; break;
      case 10: s.rule = nne::OptimizerRule::rowwise_adagrad; break;
      default: s.rule = nne::OptimizerRule::rowwise_adagrad; s.weight_decay = 0.05f; break;
    }
    const bool momentum = s.rule == nne::OptimizerRule::sgd && variant != 0;
    const bool amsgrad = variant == 7;
    for (int64_t dim : kDims) {
      const int64_t rows = 9;
      const bool rowwise = s.rule == nne::OptimizerRule::rowwise_adagrad;
      const int64_t state_size = rowwise ? rows : rows * dim;
      std::vector<float> weight = random_floats(rows * dim);
      std::vector<float> grad = random_floats(rows * dim);
      std::vector<float> s0 = random_floats(state_size), s1 = random_floats(state_size), s2 = random_floats(state_size);
      for (auto& x : s1) x = std::fabs(x);  // second moments are non-negative
      for (auto& x : s2) x = std::fabs(x);
      if (s.rule == nne::OptimizerRule::adagrad || rowwise) for (auto& x : s0) x = std::fabs(x);
      const bool uses0 = momentum || s.rule != nne::OptimizerRule::sgd;
      const bool uses1 = s.rule == nne::OptimizerRule::adam || s.rule == nne::OptimizerRule::sparse_adam;
      // Dense (rows null: the whole table), then sparse: rows 7, 2, 5 from compact gradient rows 0, 1, 2.
      const uint32_t touched[] = {7, 2, 5};
      for (const bool sparse : {false, true}) {
        const uint32_t* list = sparse ? touched : nullptr;
        const int64_t num_rows = sparse ? 3 : rows;
        auto w = weight, e0 = s0, e1 = s1, e2 = s2;
        auto rw = weight, r0 = s0, r1 = s1, r2 = s2;
        kernels.optimizer_update(s, w.data(), grad.data(), uses0 ? e0.data() : nullptr, uses1 ? e1.data() : nullptr,
                                 amsgrad ? e2.data() : nullptr, list, num_rows, dim);
        nne::reference::optimizer_update(s, rw.data(), grad.data(), uses0 ? r0.data() : nullptr,
                                         uses1 ? r1.data() : nullptr, amsgrad ? r2.data() : nullptr, list, num_rows, dim);
        CHECK(all_same(w, rw) && all_same(e0, r0) && all_same(e1, r1) && all_same(e2, r2),
              "optimizer %s variant %d dim %lld", sparse ? "sparse" : "dense", variant, static_cast<long long>(dim));
      }
    }
  }
}

}  // namespace nne_test
