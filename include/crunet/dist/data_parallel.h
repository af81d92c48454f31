#pragma once
// Making a module data-parallel: the same starting point on every process, and SyncBN.
#include <memory>

#include "crunet/dist/process_group.h"
#include "crunet/nn/module.h"

namespace crunet::dist {

// Copies root's parameters and buffers (BN running statistics included) to every process, in
// state-dict order: every process then starts from root's weights.
void broadcast_module(ProcessGroup& group, nn::Module& module, int root = 0);
// Only the buffers: per-process BN statistics become root's (before validation and checkpoints).
void broadcast_buffers(ProcessGroup& group, nn::Module& module, int root = 0);

// Makes every BatchNorm2d in the module normalise with the global batch's statistics over the
// group's processes (SyncBN, ops::sync_batch_norm); its collectives go over a duplicate of the
// group. Returns how many layers were switched; with a group of one, none (plain BN is the same).
int enable_sync_batch_norm(nn::Module& module, const std::shared_ptr<ProcessGroup>& group);

}  // namespace crunet::dist
