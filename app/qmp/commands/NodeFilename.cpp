#include "app/qmp/commands/NodeFilename.h"

#include "app/json/QdictOrder.h"
#include "app/qmp/commands/CommitFilter.h"

#include "block/NullImage.h"
#include "block/RawImage.h"
#include "block/qcow2/Qcow2Driver.h"

#include <map>
#include <optional>
#include <vector>

namespace e2kvm::qmp {

namespace {

std::string quoted(const std::string& s) {
    std::string out = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\')
            out += '\\';
        out += c;
    }
    return out + "\"";
}

// A JSON object as QEMU prints a QDict in a json: name: members in QDict iteration order (see
// app/json/QdictOrder), ", " and ": " between them.
std::string objectText(const std::map<std::string, std::string>& members) {
    json::Json::Object keys;
    std::vector<const std::string*> values;
    for (const auto& [key, value] : members) {
        keys.emplace_back(key, json::Json());
        values.push_back(&value);
    }
    std::string out = "{";
    for (size_t i : json::qdictMemberOrder(keys)) {
        if (out.size() > 1)
            out += ", ";
        out += quoted(keys[i].first) + ": " + *values[i];
    }
    return out + "}";
}

std::string hostFileOptions(const std::string& path) {
    return objectText({{"driver", quoted("file")}, {"filename", quoted(path)}});
}

bool backingOverridden(const block::qcow2::Qcow2Driver& q);

// QEMU's full_open_options of a node, as JSON text; nullopt where e2kvm cannot spell them.
std::optional<std::string> fullOpenOptions(const block::BlockDriver& image) {
    if (dynamic_cast<const block::NullImage*>(&image) && image.formatName() == "null-co")
        return objectText({{"driver", quoted("null-co")}});
    if (auto* raw = dynamic_cast<const block::RawImage*>(&image)) {
        if (raw->blkdebug())
            return std::nullopt;
        return objectText({{"driver", quoted("raw")}, {"file", hostFileOptions(image.filename())}});
    }
    auto* q = dynamic_cast<const block::qcow2::Qcow2Driver*>(&image);
    if (!q || q->blkdebug() || q->dataFilename() != q->filename())
        return std::nullopt;
    std::map<std::string, std::string> members{{"driver", quoted("qcow2")},
                                               {"file", hostFileOptions(q->filename())}};
    if (backingOverridden(*q)) {
        std::shared_ptr<block::BlockDriver> backing = q->backingImage();
        std::optional<std::string> b =
            backing ? fullOpenOptions(*backing) : std::optional<std::string>("null");
        if (!b)
            return std::nullopt;
        if (backing && CommitFilter::standsBetween(q, backing.get()))
            b = objectText({{"backing", *b}, {"driver", quoted("commit_top")}});
        members["backing"] = *b;
    }
    return objectText(members);
}

bool backingOverridden(const block::qcow2::Qcow2Driver& q) {
    std::string autoName = q.autoBackingFile();
    std::shared_ptr<block::BlockDriver> backing = q.backingImage();
    if (!backing)
        return !autoName.empty(); // a backing file the header names was left out
    if (CommitFilter::standsBetween(&q, backing.get()))
        return true; // the filter's name is a json: name of its own
    return autoName != refreshedFilename(*backing, backing->filename());
}

} // namespace

std::string refreshedFilename(const block::BlockDriver& image, const std::string& plain) {
    auto* q = dynamic_cast<const block::qcow2::Qcow2Driver*>(&image);
    if (!q || !backingOverridden(*q))
        return plain;
    std::optional<std::string> options = fullOpenOptions(image);
    return options ? "json:" + *options : plain;
}

} // namespace e2kvm::qmp
