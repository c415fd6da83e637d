#include "app/backup/CatalogCheckpoints.h"

namespace e2kvm::backup {

using block::BitmapAction;
using block::BitmapActionKind;

namespace {

BitmapAction act(BitmapActionKind kind, const std::string& name, const std::string& source = {}) {
    BitmapAction a;
    a.kind = kind;
    a.name = name;
    a.source = source;
    return a;
}

} // namespace

std::optional<uint64_t> checkpointNumber(const std::string& prefix, const std::string& name) {
    if (prefix.empty() || name.rfind(prefix, 0) != 0)
        return std::nullopt;
    std::string rest = name.substr(prefix.size());
    if (rest.empty() || rest.size() > 18 || rest.find_first_not_of("0123456789") != rest.npos)
        return std::nullopt;
    return std::stoull(rest);
}

std::vector<BitmapAction> prepareCheckpoints(const block::BitmapCatalog& catalog,
                                             const SourcePlan& plan, const std::string& label,
                                             const NoteSink& note, bool& usable) {
    auto found = plan.base.empty() ? std::nullopt : catalog.find(plan.base);
    usable = found && !found->inconsistent;
    if (plan.incremental) {
        if (!catalog.storesBitmaps())
            note("taking a full point: " + label +
                 " cannot keep a checkpoint bitmap; use qcow2 for incremental points");
        else if (plan.base.empty())
            note("taking a full point: the directory has no earlier point of this disk");
        else if (!found)
            note("taking a full point: the checkpoint bitmap '" + plan.base + "' is missing from " +
                 label);
        else if (found->inconsistent)
            note("taking a full point: the checkpoint bitmap '" + plan.base + "' of " + label +
                 " is inconsistent (it was not saved when the image was last closed)");
    }
    std::vector<BitmapAction> actions;
    if (usable && !found->enabled)
        actions.push_back(act(BitmapActionKind::Enable, plan.base));
    auto baseNo = checkpointNumber(plan.checkpointPrefix, plan.base);
    for (const block::NamedBitmap& b : catalog.list()) {
        auto n = checkpointNumber(plan.checkpointPrefix, b.name);
        if (!n || b.name == plan.base)
            continue;
        if (usable && baseNo && *n > *baseNo && !b.inconsistent)
            actions.push_back(act(BitmapActionKind::Merge, plan.base, b.name));
        actions.push_back(act(BitmapActionKind::Remove, b.name));
    }
    return actions;
}

std::vector<BitmapAction> settleCheckpoints(const block::BitmapCatalog& catalog,
                                            const SourcePlan& plan, bool stored, bool nextAdded,
                                            bool baseFrozen) {
    std::vector<BitmapAction> actions;
    if (stored) {
        for (const block::NamedBitmap& b : catalog.list())
            if (checkpointNumber(plan.checkpointPrefix, b.name) && b.name != plan.next)
                actions.push_back(act(BitmapActionKind::Remove, b.name));
        return actions;
    }
    if (!nextAdded)
        return actions;
    if (baseFrozen) {
        actions.push_back(act(BitmapActionKind::Enable, plan.base));
        actions.push_back(act(BitmapActionKind::Merge, plan.base, plan.next));
    }
    actions.push_back(act(BitmapActionKind::Remove, plan.next));
    return actions;
}

} // namespace e2kvm::backup
