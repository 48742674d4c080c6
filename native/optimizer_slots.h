// The scalars of one optimizer update, by their position in the Float64Array that the binding's
// optimizerUpdate takes (what each means: kernels.h OptimizerScalars). Listed once here; the
// TypeScript side names them once too (src/backend.ts OPTIMIZER_SCALARS). The addon reports this
// list at load (optimizerScalarSlots) and test/kernel-lists.test.ts compares the two, so a slot
// added on one side only fails a test.
#pragma once

namespace nne {

#define NNE_OPTIMIZER_SLOTS(X) \
  X(rule)                      \
  X(lr)                        \
  X(a)                         \
  X(b)                         \
  X(c)                         \
  X(oneMinusA)                 \
  X(oneMinusB)                 \
  X(eps)                       \
  X(weightDecay)               \
  X(decay)                     \
  X(firstStep)                 \
  X(nesterov)

#define NNE_SLOT_ENUMERATOR(name) name,
enum class OptimizerSlot : int { NNE_OPTIMIZER_SLOTS(NNE_SLOT_ENUMERATOR) count };
#undef NNE_SLOT_ENUMERATOR

constexpr int kOptimizerSlotCount = static_cast<int>(OptimizerSlot::count);

#define NNE_SLOT_NAME(name) #name,
constexpr const char* kOptimizerSlotNames[kOptimizerSlotCount] = {NNE_OPTIMIZER_SLOTS(NNE_SLOT_NAME)};
#undef NNE_SLOT_NAME

}  // namespace nne
