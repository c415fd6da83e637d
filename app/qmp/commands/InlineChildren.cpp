// Named inline children of blockdev-add made into nodes (see InlineChildren.h).
#include "app/qmp/commands/InlineChildren.h"

#include <set>

namespace e2kvm::qmp {

namespace {

// The members that are BlockdevRefs a node can be given inline.
bool isChildKey(const std::string& key) {
    static const std::set<std::string> children = {"file", "image",   "test",
                                                   "raw",  "backing", "target"};
    return children.count(key) != 0;
}

// A named child is added whole (its own named children with it); an unnamed one stays
// inline with its named descendants hoisted.
void hoist(Json& node, const std::function<void(const Json&)>& add,
           std::vector<std::string>& added) {
    const Json* readOnly = node.find("read-only");
    const bool parentReadOnly = readOnly && readOnly->isBool() && readOnly->asBool();
    for (auto& [key, child] : node.asObject()) {
        if (!isChildKey(key) || !child.isObject())
            continue;
        const Json* name = child.find("node-name");
        if (!name || !name->isString()) {
            hoist(child, add, added);
            continue;
        }
        if (!child.find("driver") && key == "file")
            child.set("driver", "file");
        if (parentReadOnly && !child.find("read-only"))
            child.set("read-only", true);
        const std::string nodeName = name->asString();
        add(child);
        added.push_back(nodeName);
        child = Json(nodeName);
    }
}

} // namespace

HoistedChildren hoistNamedChildren(const Json& options, const std::function<void(const Json&)>& add,
                                   const std::function<void(const std::string&)>& remove) {
    HoistedChildren result{options, {}};
    if (!result.options.isObject())
        return result;
    try {
        hoist(result.options, add, result.added);
    } catch (...) {
        for (auto it = result.added.rbegin(); it != result.added.rend(); ++it) {
            try {
                remove(*it);
            } catch (...) {
            }
        }
        throw;
    }
    return result;
}

} // namespace e2kvm::qmp
