#include "Qcow2Overlap.h"
#include "block/OnOffValue.h"

#include "block/BlockError.h"

namespace e2kvm::block::qcow2 {

namespace {

struct StructureOption {
    Qcow2Metadata bit;
    const char* key; // after "overlap-check."
    const char* name;
};

constexpr StructureOption kStructures[kMetaCount] = {
    {kMetaMainHeader, "main-header", "qcow2_header"},
    {kMetaActiveL1, "active-l1", "active L1 table"},
    {kMetaActiveL2, "active-l2", "active L2 table"},
    {kMetaRefcountTable, "refcount-table", "refcount table"},
    {kMetaRefcountBlock, "refcount-block", "refcount block"},
    {kMetaSnapshotTable, "snapshot-table", "snapshot table"},
    {kMetaInactiveL1, "inactive-l1", "inactive L1 table"},
    {kMetaInactiveL2, "inactive-l2", "inactive L2 table"},
    {kMetaBitmapDirectory, "bitmap-directory", "bitmap directory"},
};

// (QEMU names the option 'overlap-check' also when the value came as overlap-check.template.)
unsigned templateChecks(const std::string& name) {
    if (name == "none")
        return kOverlapNone;
    if (name == "constant")
        return kOverlapConstant;
    if (name == "cached")
        return kOverlapCached;
    if (name == "all")
        return kOverlapAll;
    throw BlockError(EINVAL, "Unsupported value '" + name +
                                 "' for qcow2 option 'overlap-check'. Allowed are any of the "
                                 "following: none, constant, cached, all");
}

bool switchValue(const std::string& key, const std::string& value) {
    if (auto on = onOffValue(value))
        return *on;
    throw BlockError(EINVAL, "Parameter '" + key + "' expects 'on' or 'off'");
}

} // namespace

const char* metadataName(Qcow2Metadata structure) {
    for (const auto& s : kStructures)
        if (s.bit == structure)
            return s.name;
    return "metadata";
}

unsigned overlapChecksFromOptions(const DriverOptions& options) {
    auto plain = options.find("overlap-check");
    auto templ = options.find("overlap-check.template");
    if (plain != options.end() && templ != options.end() && plain->second != templ->second)
        throw BlockError(EINVAL, "Conflicting values for qcow2 options 'overlap-check' ('" +
                                     plain->second + "') and 'overlap-check.template' ('" +
                                     templ->second + "')");
    unsigned checks = kOverlapCached;
    if (plain != options.end())
        checks = templateChecks(plain->second);
    else if (templ != options.end())
        checks = templateChecks(templ->second);
    for (const auto& s : kStructures) {
        const std::string key = std::string("overlap-check.") + s.key;
        if (auto it = options.find(key); it != options.end())
            checks = switchValue(key, it->second) ? checks | s.bit : checks & ~unsigned(s.bit);
    }
    return checks;
}

} // namespace e2kvm::block::qcow2
