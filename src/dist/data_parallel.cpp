#include "crunet/dist/data_parallel.h"

#include <vector>

#include "crunet/nn/layers.h"

namespace crunet::dist {
namespace {

void collect_batch_norms(nn::Module& module, std::vector<nn::BatchNorm2d*>& out,
                         std::vector<const nn::Module*>& seen) {
  for (const nn::Module* m : seen) {
    if (m == &module) return;
  }
  seen.push_back(&module);
  if (auto* bn = dynamic_cast<nn::BatchNorm2d*>(&module)) out.push_back(bn);
  for (const auto& [name, child] : module.named_children()) collect_batch_norms(*child, out, seen);
}

}  // namespace

void broadcast_module(ProcessGroup& group, nn::Module& module, int root) {
  if (group.world_size() == 1) return;
  for (const auto& [name, tensor] : module.state_dict()) group.broadcast(tensor, root);
}

void broadcast_buffers(ProcessGroup& group, nn::Module& module, int root) {
  if (group.world_size() == 1) return;
  for (const auto& [name, tensor] : module.named_buffers()) group.broadcast(tensor, root);
}

int enable_sync_batch_norm(nn::Module& module, const std::shared_ptr<ProcessGroup>& group) {
  if (!group) throw ValueError("enable_sync_batch_norm: no process group");
  if (group->world_size() == 1) return 0;
  std::vector<nn::BatchNorm2d*> layers;
  std::vector<const nn::Module*> seen;
  collect_batch_norms(module, layers, seen);
  if (layers.empty()) return 0;
  std::shared_ptr<ProcessGroup> channel = group->duplicate();
  const ops::CrossProcessSum sum = [channel](std::vector<double>& values) {
    channel->all_reduce(values, ReduceOp::Sum);
  };
  for (nn::BatchNorm2d* bn : layers) bn->set_cross_process_sum(sum);
  return static_cast<int>(layers.size());
}

}  // namespace crunet::dist
