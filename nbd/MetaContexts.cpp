#include "nbd/MetaContexts.h"

#include <algorithm>

namespace e2kvm::nbd {

namespace {

bool startsWith(const std::string& s, const char* prefix, std::string& rest) {
    std::string p(prefix);
    if (s.compare(0, p.size(), p) != 0)
        return false;
    rest = s.substr(p.size());
    return true;
}

} // namespace

std::vector<MetaContext> matchMetaContexts(const ExportConfig& exp,
                                           const std::vector<std::string>& queries, bool list) {
    bool base = false, depth = false;
    std::vector<bool> bitmaps(exp.bitmaps.size(), false);
    auto allBitmaps = [&] { std::fill(bitmaps.begin(), bitmaps.end(), true); };
    if (list && queries.empty()) {
        base = true;
        depth = exp.allocationDepth;
        allBitmaps();
    }
    for (const std::string& q : queries) {
        std::string rest;
        if (startsWith(q, "base:", rest)) {
            if (rest == "allocation" || (list && rest.empty()))
                base = true;
        } else if (startsWith(q, "qemu:", rest)) {
            std::string name;
            if (list && rest.empty()) {
                depth = exp.allocationDepth;
                allBitmaps();
            } else if (rest == "allocation-depth") {
                depth = exp.allocationDepth;
            } else if (startsWith(rest, "dirty-bitmap:", name)) {
                if (list && name.empty()) {
                    allBitmaps();
                } else {
                    for (size_t i = 0; i < exp.bitmaps.size(); ++i)
                        if (exp.bitmaps[i].name == name)
                            bitmaps[i] = true;
                }
            }
        }
    }
    std::vector<MetaContext> out;
    if (base)
        out.push_back({0, ContextKind::BaseAllocation, 0, "base:allocation"});
    if (depth)
        out.push_back({1, ContextKind::AllocationDepth, 0, "qemu:allocation-depth"});
    for (size_t i = 0; i < bitmaps.size(); ++i)
        if (bitmaps[i])
            out.push_back({uint32_t(2 + i), ContextKind::DirtyBitmap, i,
                           "qemu:dirty-bitmap:" + exp.bitmaps[i].name});
    return out;
}

} // namespace e2kvm::nbd
