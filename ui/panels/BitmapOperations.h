#pragma once
// BitmapOperations: the bitmap changes the bitmaps panel offers, as BitmapCatalog action
// batches (applied all-or-nothing), with the checks the panel makes first (a bitmap published
// by an NBD export must not change under its clients).
#include "block/bitmap/BitmapCatalog.h"

#include <string>
#include <vector>

namespace e2kvm::vm {
class NbdExportService;
}

namespace e2kvm::ui {

// New checkpoint, as `e2kvm-img checkpoint` does it: add `name` enabled and disable every other
// enabled, consistent bitmap, in one batch. `disabled` receives the names it disables.
std::vector<block::BitmapAction> checkpointActions(const block::BitmapCatalog& catalog,
                                                   const std::string& name, uint64_t granularity,
                                                   std::vector<std::string>* disabled = nullptr);

// Throws std::runtime_error ("bitmap 'b' is published by export 'e'; stop the export first")
// if an export of node `nodeName` publishes `bitmap`. `exports` may be null.
void refuseIfExported(const vm::NbdExportService* exports, const std::string& nodeName,
                      const std::string& bitmap);

// Applies one action to one bitmap (Remove, Clear, Enable, Disable) or Merge source→target,
// after the export check.
void applyBitmapAction(block::BitmapCatalog& catalog, const vm::NbdExportService* exports,
                       const std::string& nodeName, block::BitmapActionKind kind,
                       const std::string& name, const std::string& mergeSource = {});

} // namespace e2kvm::ui
