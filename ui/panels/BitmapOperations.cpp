#include "ui/panels/BitmapOperations.h"

#include "app/vmcore/NbdExportService.h"

#include <stdexcept>

namespace e2kvm::ui {

std::vector<block::BitmapAction> checkpointActions(const block::BitmapCatalog& catalog,
                                                   const std::string& name, uint64_t granularity,
                                                   std::vector<std::string>* disabled) {
    std::vector<block::BitmapAction> batch;
    for (const block::NamedBitmap& b : catalog.list()) {
        if (!b.enabled || b.inconsistent)
            continue; // an inconsistent bitmap records nothing; it can only be removed
        block::BitmapAction a;
        a.kind = block::BitmapActionKind::Disable;
        a.name = b.name;
        batch.push_back(a);
        if (disabled)
            disabled->push_back(b.name);
    }
    block::BitmapAction add;
    add.kind = block::BitmapActionKind::Add;
    add.name = name;
    add.granularity = granularity;
    add.persistent = catalog.storesBitmaps();
    batch.push_back(add);
    return batch;
}

void refuseIfExported(const vm::NbdExportService* exports, const std::string& nodeName,
                      const std::string& bitmap) {
    if (!exports)
        return;
    auto users = exports->exportsUsingBitmap(nodeName, bitmap);
    if (!users.empty())
        throw std::runtime_error("bitmap '" + bitmap + "' is published by export '" +
                                 users.front() + "'; stop the export first");
}

void applyBitmapAction(block::BitmapCatalog& catalog, const vm::NbdExportService* exports,
                       const std::string& nodeName, block::BitmapActionKind kind,
                       const std::string& name, const std::string& mergeSource) {
    refuseIfExported(exports, nodeName, name);
    block::BitmapAction a;
    a.kind = kind;
    a.name = name;
    a.source = mergeSource;
    catalog.apply(std::span<const block::BitmapAction>(&a, 1));
}

} // namespace e2kvm::ui
